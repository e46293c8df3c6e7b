"""WordPiece tokenisation (a BERT `vocab.txt`) behind the tokenizer interface of `tokenizer.py`.

FastBertNormalizer + FastWordpieceTokenizer from tensorflow-text, with raw-text offsets mapped back
through flat gathers, and the optional casing bit for uncased vocabularies.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from tagger.data.tokenizer import PieceTokenizer, boundary_sums, no_autograph, row_ids
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
        self._is_continuation = tf.constant(np.array([t.startswith("##") for t in vocab]))
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

    @no_autograph
    def text_to_pieces(self, sentences: tf.Tensor) -> dict[str, tf.Tensor]:
        """Raw sentences `[batch]` to flat pieces, with BERT's word split.

        FastBertTokenizer splits on whitespace, punctuation and CJK characters;
        a piece that is not a `##` continuation starts a new word. Byte offsets
        of each word into its sentence come along so callers can cut the words.
        """
        normalized, offsets = self._normalizer.normalize_with_offsets(sentences)
        pieces, starts, ends = self._wordpiece.tokenize_with_offsets(normalized)
        piece_ids = tf.cast(pieces.flat_values, tf.int32)
        splits = tf.cast(pieces.row_splits, tf.int32)
        # Offsets into the normalised text -> offsets into the input sentence.
        offset_base = tf.gather(tf.cast(offsets.row_splits, tf.int32), row_ids(splits))
        input_offsets = tf.cast(offsets.flat_values, tf.int32)
        starts = tf.gather(input_offsets, offset_base + tf.cast(starts.flat_values, tf.int32))
        ends = tf.gather(input_offsets, offset_base + tf.cast(ends.flat_values, tf.int32))
        # A piece that starts at the same input offset as the one before it comes from one input
        # character that normalisation expanded (uncased NFKD: "…" -> "..."): it continues that
        # word, so no word is empty when cut from the input and the cased split (used for the
        # casing bit) has the same words.
        piece_index = tf.range(tf.shape(piece_ids)[0])
        first_in_sentence = tf.equal(piece_index, tf.gather(splits, row_ids(splits)))
        previous_start = tf.gather(tf.concat([[-1], starts], axis=0), piece_index)
        is_word_start = tf.logical_and(tf.logical_not(tf.gather(self._is_continuation, piece_ids)),
                                       tf.logical_or(first_in_sentence, starts > previous_start))
        # A word ends where the next starts, or at the last piece. Gathered over a range, not
        # sliced and padded with [True]: a batch without any piece (only empty or blank
        # sentences) must yield no word end, or the boolean_mask below fails on the length.
        is_word_end = tf.gather(tf.concat([is_word_start, [True]], axis=0), piece_index + 1)
        piece_type_ids = self._text_casing(sentences, piece_ids, is_word_start, splits) if self.casing_feature \
            else tf.zeros_like(piece_ids)
        return {
            "piece_ids": piece_ids,
            "piece_type_ids": piece_type_ids,
            "is_word_start": is_word_start,
            "sentence_piece_counts": splits[1:] - splits[:-1],
            "num_words": boundary_sums(is_word_start, splits),
            "word_starts": tf.boolean_mask(starts, is_word_start),
            "word_ends": tf.boolean_mask(ends, is_word_end),
        }

    def _text_casing(self, sentences, piece_ids, is_word_start, splits) -> tf.Tensor:
        """Per-piece casing bit for raw text: word k of a sentence in the cased and the
        lower-cased tokenisation are compared by their first piece (word splits agree, since
        lower-casing changes neither whitespace nor punctuation; any excess word counts as 0)."""
        cased = self._wordpiece.tokenize(self._cased_normalizer.normalize(sentences))
        cased_ids = tf.cast(cased.flat_values, tf.int32)
        cased_starts = tf.logical_not(tf.gather(self._is_continuation, cased_ids))
        cased_splits = tf.cast(cased.row_splits, tf.int32)
        cased_firsts = tf.concat([tf.boolean_mask(cased_ids, cased_starts), [-1]], 0)
        cased_counts = boundary_sums(cased_starts, cased_splits)
        cased_offsets = tf.math.cumsum(cased_counts, exclusive=True)
        word_counts = boundary_sums(is_word_start, splits)
        piece_sentence = row_ids(splits)
        piece_word = tf.math.cumsum(tf.cast(is_word_start, tf.int32)) - 1
        within = piece_word - tf.gather(tf.math.cumsum(word_counts, exclusive=True), piece_sentence)
        valid = within < tf.gather(cased_counts, piece_sentence)
        cased_index = tf.where(valid, tf.gather(cased_offsets, piece_sentence) + within,
                               tf.shape(cased_firsts)[0] - 1)
        uncased_firsts = tf.boolean_mask(piece_ids, is_word_start)
        differs = tf.not_equal(tf.gather(cased_firsts, cased_index),
                               tf.gather(tf.concat([uncased_firsts, [-1]], 0), tf.maximum(piece_word, 0)))
        return tf.cast(valid & differs, tf.int32)
