"""SentencePiece model protos from a Hugging Face `tokenizer.json` (XLM-R Unigram convention).

Many SentencePiece checkpoints on disk ship only `tokenizer.json`. The proto rebuilt here from its
pieces, scores and precompiled normaliser charsmap tokenises exactly like the Hugging Face
tokenizer, and it is what tensorflow-text's in-graph `FastSentencepieceTokenizer` reads.
"""
from __future__ import annotations

import base64
import json

from sentencepiece import sentencepiece_model_pb2 as spm_pb2

# XLM-R's fixed special ids; the toolkit's windows need all four.
XLMR_SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}


class TokenizerJsonError(ValueError):
    """A tokenizer.json the toolkit cannot turn into a SentencePiece model."""


def _precompiled_charsmap(normalizer: dict | None) -> bytes | None:
    """The base64 charsmap of a `Precompiled` normaliser, alone or inside a `Sequence`."""
    if not normalizer:
        return None
    if normalizer.get("type") == "Precompiled":
        return base64.b64decode(normalizer["precompiled_charsmap"])
    for inner in normalizer.get("normalizers", []):
        found = _precompiled_charsmap(inner)
        if found is not None:
            return found
    return None


def proto_from_tokenizer_json(path: str) -> bytes:
    """Serialized `ModelProto` for the Unigram model in a Hugging Face `tokenizer.json`."""
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TokenizerJsonError(f"{path}: not a readable tokenizer.json ({e})") from None
    model = spec.get("model") or {}
    if model.get("type") != "Unigram":
        raise TokenizerJsonError(f"{path}: model type {model.get('type')!r}; only SentencePiece Unigram "
                                 "(XLM-R style) tokenizers are supported")
    pieces = model.get("vocab") or []
    for name, index in XLMR_SPECIALS.items():
        if index >= len(pieces) or pieces[index][0] != name:
            raise TokenizerJsonError(f"{path}: piece {index} should be {name!r} (XLM-R convention: "
                                     "<s>=0, <pad>=1, </s>=2, <unk>=3)")
    specials = {token["content"] for token in spec.get("added_tokens", []) if token.get("special")}
    proto = spm_pb2.ModelProto()
    for index, (piece, score) in enumerate(pieces):
        entry = proto.pieces.add()
        entry.piece, entry.score = piece, float(score)
        if index == XLMR_SPECIALS["<unk>"]:
            entry.type = spm_pb2.ModelProto.SentencePiece.UNKNOWN
        elif piece in XLMR_SPECIALS:
            entry.type = spm_pb2.ModelProto.SentencePiece.CONTROL
        elif piece in specials:
            entry.type = spm_pb2.ModelProto.SentencePiece.USER_DEFINED
    proto.trainer_spec.model_type = spm_pb2.TrainerSpec.UNIGRAM
    proto.trainer_spec.vocab_size = len(pieces)
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id = XLMR_SPECIALS["<unk>"], XLMR_SPECIALS["<s>"]
    proto.trainer_spec.eos_id, proto.trainer_spec.pad_id = XLMR_SPECIALS["</s>"], XLMR_SPECIALS["<pad>"]
    charsmap = _precompiled_charsmap(spec.get("normalizer"))
    normalizer = proto.normalizer_spec
    normalizer.name = "nmt_nfkc" if charsmap is not None else "identity"
    if charsmap is not None:
        normalizer.precompiled_charsmap = charsmap
    normalizer.add_dummy_prefix = True
    normalizer.remove_extra_whitespaces = True
    normalizer.escape_whitespaces = True
    return proto.SerializeToString()
