"""SentencePiece tokenisation (an XLM-R style `.model` proto) behind the tokenizer interface.

Words are tokenised one by one with tensorflow-text's `FastSentencepieceTokenizer`, each with
SentencePiece's dummy prefix, as a pre-tokenised word is. Raw text is first cut into words with
the toolkit's one word rule (`words.py`), so the same text gives the same words under either
tokenizer. A lone "▁" that opens a word with more pieces is dropped: it carries no content, and
the word's label then sits on its first real piece (and sequences get shorter).
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_text as tf_text
from sentencepiece import sentencepiece_model_pb2 as spm_pb2

from tagger.data.tokenizer import PieceTokenizer, boundary_sums, no_autograph, row_ids
from tagger.errors import UserError

SPACE = "\u2581"


def read_model_proto(path: str) -> bytes:
    """The bytes of a SentencePiece model file, checked to parse and to have the four specials."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UserError(f"{path}: cannot read the SentencePiece model ({e.strerror})") from None
    special_ids(data, path)
    return data


def special_ids(model_proto: bytes, source: str = "SentencePiece model") -> dict[str, int]:
    """pad / unk / cls (<s>) / sep (</s>) ids of a model proto; all four must exist."""
    try:
        proto = spm_pb2.ModelProto.FromString(model_proto)
    except Exception:  # protobuf raises its own DecodeError type
        raise UserError(f"{source}: not a SentencePiece model proto (damaged or another format)") from None
    if not proto.pieces:
        raise UserError(f"{source}: SentencePiece model holds no pieces")
    spec = proto.trainer_spec
    ids = {"pad": spec.pad_id, "unk": spec.unk_id, "cls": spec.bos_id, "sep": spec.eos_id}
    missing = [name for name, index in ids.items() if not 0 <= index < len(proto.pieces)]
    if missing:
        raise UserError(f"{source}: SentencePiece model has no {'/'.join(missing)} piece; the toolkit needs "
                         "<pad>, <unk>, <s> and </s> (train with --pad_id, --unk_id, --bos_id, --eos_id)")
    return ids


def piece_list(model_proto: bytes) -> list[str]:
    return [piece.piece for piece in spm_pb2.ModelProto.FromString(model_proto).pieces]


class SentencePieceTokenizer(PieceTokenizer):
    """FastSentencepieceTokenizer plus first-piece alignment and windows."""

    kind = "sentencepiece"

    def __init__(self, model_proto: bytes, max_seq_length: int = 128, context: int | None = None,
                 name: str | None = None):
        pieces = piece_list(model_proto)
        super().__init__(len(pieces), special_ids(model_proto), max_seq_length, context, name=name)
        self.model_proto = model_proto
        self._sentencepiece = tf_text.FastSentencepieceTokenizer(model_proto)
        self.space_id = pieces.index(SPACE) if SPACE in pieces else -1

    def settings(self) -> dict:
        return {**super().settings(), "model_file": "sentencepiece.model"}

    @no_autograph
    def words_to_pieces(self, words: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """Pre-tokenised words `[batch, (words)]` to flat pieces."""
        pieces = self._sentencepiece.tokenize(words.flat_values)  # [N, (P)]
        values = tf.cast(pieces.flat_values, tf.int32)
        splits = tf.cast(pieces.row_splits, tf.int32)
        piece_row = row_ids(splits)
        first = tf.equal(tf.range(tf.shape(values)[0]), tf.gather(splits, piece_row))
        row_length = splits[1:] - splits[:-1]
        lone_space = first & tf.equal(values, self.space_id) & (tf.gather(row_length, piece_row) > 1)
        keep = tf.logical_not(lone_space)
        result, _ = self._align_words(tf.boolean_mask(values, keep), boundary_sums(keep, splits),
                                      words.row_splits)
        result["piece_type_ids"] = tf.zeros_like(result["piece_ids"])
        return result
