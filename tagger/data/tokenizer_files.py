"""Which tokenizer a file or directory holds, and building it: the one place that picks between
WordPiece and SentencePiece (ARCHITECTURE.md, "Tokenizers").

A tokenizer file is a BERT `vocab.txt` (WordPiece), a SentencePiece `.model` proto, or a Hugging
Face `tokenizer.json` with a Unigram model (rebuilt as a proto). A model directory keeps its own
copy as `vocab.txt` or `sentencepiece.model`, named in tagger_config.json.
"""
from __future__ import annotations

import os

from tagger.data.sentencepiece import SentencePieceTokenizer, piece_list, read_model_proto
from tagger.data.spm_proto import proto_from_tokenizer_json
from tagger.data.tokenizer import PieceTokenizer
from tagger.data.wordpiece import WordPieceTokenizer, load_vocab
from tagger.errors import UserError

# Looked for in this order in a checkpoint directory.
TOKENIZER_FILES = ("vocab.txt", "sentencepiece.model", "sentencepiece.bpe.model", "spiece.model", "tokenizer.json")


def kind_of(path: str) -> str:
    """'wordpiece' or 'sentencepiece', from the file name."""
    name = os.path.basename(path)
    if name.endswith(".model") or name == "tokenizer.json" or name.endswith(".json"):
        return "sentencepiece"
    return "wordpiece"


def find_tokenizer_file(directory: str) -> str | None:
    """The tokenizer file a checkpoint directory ships, if any."""
    for name in TOKENIZER_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def read_sentencepiece(path: str) -> bytes:
    """A model proto from a `.model` file or a `tokenizer.json`."""
    if path.endswith(".json"):
        return proto_from_tokenizer_json(path)
    return read_model_proto(path)


def size_of(path: str) -> int:
    """Number of tokens or pieces in a tokenizer file."""
    if kind_of(path) == "wordpiece":
        return len(load_vocab(path))
    return len(piece_list(read_sentencepiece(path)))


def check_fits(path: str, vocab_size: int, source: str) -> None:
    """A tokenizer must not produce ids the embedding table lacks. WordPiece tables match their
    vocab exactly; SentencePiece checkpoints may pad theirs (multilingual-e5: 250,037 rows for
    250,002 pieces)."""
    size = size_of(path)
    fits = size == vocab_size if kind_of(path) == "wordpiece" else size <= vocab_size
    if not fits:
        raise UserError(f"{path} has {size} tokens but {source} embeds {vocab_size}: "
                         "vocabulary and checkpoint do not belong together")


def build_tokenizer(path: str, *, lower_case: bool | None = None, max_seq_length: int = 128,
                    context: int | None = None, casing_feature: bool | None = None) -> PieceTokenizer:
    """The tokenizer for a file; `lower_case`/`casing_feature` apply to WordPiece only."""
    if kind_of(path) == "sentencepiece":
        return SentencePieceTokenizer(read_sentencepiece(path), max_seq_length=max_seq_length, context=context)
    return WordPieceTokenizer(load_vocab(path), lower_case=lower_case, max_seq_length=max_seq_length,
                              context=context, casing_feature=casing_feature)


def write_into(model_dir: str, tokenizer: PieceTokenizer, source_path: str) -> None:
    """Copies the tokenizer into MODEL_DIR under the name its settings give."""
    settings = tokenizer.settings()
    if isinstance(tokenizer, SentencePieceTokenizer):
        target = os.path.join(model_dir, settings["model_file"])
        data = tokenizer.model_proto
    else:
        target = os.path.join(model_dir, settings["vocab_file"])
        if os.path.abspath(source_path) == os.path.abspath(target):
            return
        with open(source_path, "rb") as f:
            data = f.read()
    with open(target, "wb") as f:
        f.write(data)


def path_in(model_dir: str, settings: dict) -> str:
    """The tokenizer file a model directory's config (`tokenizer` entry) names."""
    kind = settings.get("kind", "wordpiece")
    name = settings.get("model_file") if kind == "sentencepiece" else settings.get("vocab_file", "vocab.txt")
    return os.path.join(model_dir, name or "")


def tokenizer_from_settings(model_dir: str, settings: dict, vocab_size: int) -> PieceTokenizer:
    """Rebuilds a model directory's tokenizer from the `tokenizer` entry of its config."""
    kind = settings.get("kind", "wordpiece")
    path = path_in(model_dir, settings)
    if os.path.basename(path) == "" or not os.path.isfile(path):
        raise UserError(f"{path}: the {kind} tokenizer file of this model directory is missing; "
                         "copy it back from the directory it was trained from")
    check_fits(path, vocab_size, f"the encoder in {model_dir}")
    return build_tokenizer(path, lower_case=settings.get("lower_case"), max_seq_length=settings["max_seq_length"],
                           context=settings.get("context"), casing_feature=settings.get("casing_feature", False))
