"""WordPiece tokenisation (a BERT `vocab.txt`) behind the tokenizer interface of `tokenizer.py`.

FastBertNormalizer + FastWordpieceTokenizer from tensorflow-text on each word, and the optional
casing bit for uncased vocabularies. Raw text reaches it already cut into words (`tokenizer.py`).
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_text as tf_text

from tagger.data.tokenizer import PieceTokenizer, no_autograph
from tagger.errors import UserError

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")

def load_vocab(path: str) -> list[str]:
    """Reads a BERT `vocab.txt` (one token per line) and checks its special tokens."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: vocabulary is not valid UTF-8") from None
    vocab = text.split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    vocab = [token.rstrip("\r") for token in vocab]
    seen: dict[str, int] = {}
    for line, token in enumerate(vocab, start=1):
        if token in seen:
            raise UserError(f"{path}:{line}: token {token!r} repeats line {seen[token]}")
        seen[token] = line
    missing = [token for token in SPECIAL_TOKENS if token not in seen]
    if missing:
        raise UserError(f"{path}: vocabulary lacks special token(s) {missing}")
    return vocab


def guess_lower_case(vocab: list[str]) -> bool:
    """Uncased BERT vocabularies hold no upper-case tokens (special tokens aside)."""
    return not any(token.lower() != token for token in vocab if token not in SPECIAL_TOKENS
                   and not (token.startswith("[") and token.endswith("]")))


def _first_values(ragged: tf.RaggedTensor) -> tf.Tensor:
    """First value of each row of a 2-D ragged tensor, -1 for an empty row."""
    values = tf.concat([tf.cast(ragged.flat_values, tf.int32), [-1]], 0)
    lengths = tf.cast(ragged.row_lengths(), tf.int32)
    starts = tf.cast(ragged.row_splits[:-1], tf.int32)
    return tf.gather(values, tf.where(lengths > 0, starts, tf.shape(values)[0] - 1))


class WordPieceTokenizer(PieceTokenizer):
    """FastBertTokenizer plus first-wordpiece alignment and windows for a BERT vocab."""

    kind = "wordpiece"

    def __init__(self, vocab: list[str], lower_case: bool | None = None, max_seq_length: int = 128,
                 context: int | None = None, casing_feature: bool | None = None, name: str | None = None):
        index = {token: i for i, token in enumerate(vocab)}
        specials = dict(zip(("pad", "unk", "cls", "sep"), (index[t] for t in SPECIAL_TOKENS)))
        super().__init__(len(vocab), specials, max_seq_length, context, name=name)
        self.lower_case = guess_lower_case(vocab) if lower_case is None else lower_case
        # FastBertTokenizer's two stages, kept apart so raw-text offsets can be mapped back with
        # flat gathers (its own tokenize_with_offsets uses a ragged gather, i.e. RaggedRange,
        # which TFLite lacks). tokenize() = normalize + wordpiece, exactly as FastBertTokenizer.
        self._normalizer = tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=self.lower_case)
        self._wordpiece = tf_text.FastWordpieceTokenizer(vocab=vocab, token_out_type=tf.int32,
                                                         unknown_token="[UNK]")
        # Uncased vocabularies lose capitalisation (PROPN vs NOUN). With the casing feature, pieces of
        # a word whose cased tokenisation differs from its lower-cased one get token type 1, through
        # BERT's own segment embedding: no new input, and TFLite-friendly (a second normaliser pass).
        self.casing_feature = self.lower_case if casing_feature is None else casing_feature
        self._cased_normalizer = tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=False) \
            if self.casing_feature else None

    def settings(self) -> dict:
        return {**super().settings(), "vocab_file": "vocab.txt", "lower_case": self.lower_case,
                "casing_feature": self.casing_feature}

    # -- words -> pieces ---------------------------------------------------

    @no_autograph
    def words_to_pieces(self, words: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """Pre-tokenised words `[batch, (words)]` to flat pieces."""
        pieces = self._wordpiece.tokenize(self._normalizer.normalize(words.flat_values))  # [N, (P)]
        result, piece_word = self._align_words(pieces.flat_values, pieces.row_lengths(), words.row_splits)
        if self.casing_feature:
            cased = self._wordpiece.tokenize(self._cased_normalizer.normalize(words.flat_values))
            word_is_cased = tf.not_equal(_first_values(cased), _first_values(pieces))
            result["piece_type_ids"] = tf.cast(tf.gather(word_is_cased, piece_word), tf.int32)
        else:
            result["piece_type_ids"] = tf.zeros_like(result["piece_ids"])
        return result
