"""WordPiece tokenisation, first-wordpiece alignment and windowing, as TF ops.

One implementation serves training, the SavedModel and the TFLite graph, so
the deployed model sees exactly the features it was trained on. It uses only
dense ops with TFLite builtins (gather, cumsum, scatter_nd, where, range) on
top of tensorflow-text's FastBertTokenizer.

Windowing: a sentence with more than `max_seq_length - 2` wordpieces is cut
into overlapping windows. Each window *owns* a contiguous run of `stride`
pieces and sees `context` extra pieces on each side; only owned first
wordpieces are labelled, so every word gets exactly one label position and
no word is ever lost, however long the sentence.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")

# These methods build plain dataflow (no tensor-dependent Python control flow), so autograph
# has nothing to convert; converting tf.Module methods re-reads their source and can lose `self`.
no_autograph = tf.autograph.experimental.do_not_convert


def load_vocab(path: str) -> list[str]:
    """Reads a BERT `vocab.txt` (one token per line) and checks its special tokens."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: vocabulary is not valid UTF-8") from None
    vocab = text.split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    vocab = [token.rstrip("\r") for token in vocab]
    seen: dict[str, int] = {}
    for line, token in enumerate(vocab, start=1):
        if token in seen:
            raise ValueError(f"{path}:{line}: token {token!r} repeats line {seen[token]}")
        seen[token] = line
    missing = [token for token in SPECIAL_TOKENS if token not in seen]
    if missing:
        raise ValueError(f"{path}: vocabulary lacks special token(s) {missing}")
    return vocab


def guess_lower_case(vocab: list[str]) -> bool:
    """Uncased BERT vocabularies hold no upper-case tokens (special tokens aside)."""
    return not any(token.lower() != token for token in vocab if token not in SPECIAL_TOKENS
                   and not (token.startswith("[") and token.endswith("]")))


def segment_ids(counts: tf.Tensor) -> tf.Tensor:
    """[sum(counts)] segment index of each element; every count must be >= 1.

    `tf.repeat(tf.range(n), counts)` written with TFLite builtins.
    """
    counts = tf.cast(counts, tf.int32)
    total = tf.reduce_sum(counts)
    starts = tf.math.cumsum(counts, exclusive=True)
    later_starts = starts[1:]
    marks = tf.scatter_nd(later_starts[:, tf.newaxis], tf.ones_like(later_starts), [total])
    return tf.math.cumsum(marks)


def row_ids(row_splits: tf.Tensor) -> tf.Tensor:
    """[row_splits[-1]] row index of each element; rows may be empty.

    `RaggedTensor.value_rowids()` written with TFLite builtins (duplicate scatter indices add up).
    """
    row_splits = tf.cast(row_splits, tf.int32)
    total = row_splits[-1]
    inner = row_splits[1:-1]
    marks = tf.scatter_nd(inner[:, tf.newaxis], tf.ones_like(inner), [total + 1])
    return tf.math.cumsum(marks)[:total]


def _first_values(ragged: tf.RaggedTensor) -> tf.Tensor:
    """First value of each row of a 2-D ragged tensor, -1 for an empty row."""
    values = tf.concat([tf.cast(ragged.flat_values, tf.int32), [-1]], 0)
    lengths = tf.cast(ragged.row_lengths(), tf.int32)
    starts = tf.cast(ragged.row_splits[:-1], tf.int32)
    return tf.gather(values, tf.where(lengths > 0, starts, tf.shape(values)[0] - 1))


def _boundary_sums(values: tf.Tensor, row_splits: tf.Tensor) -> tf.Tensor:
    """Per-row sums of `values` for rows given by `row_splits`, via one cumsum."""
    cumulative = tf.concat([[0], tf.math.cumsum(tf.cast(values, tf.int32))], axis=0)
    return tf.gather(cumulative, row_splits[1:]) - tf.gather(cumulative, row_splits[:-1])


class WordPieceTokenizer(tf.Module):
    """FastBertTokenizer plus first-wordpiece alignment and windows for a BERT vocab."""

    def __init__(self, vocab: list[str], lower_case: bool | None = None, max_seq_length: int = 128,
                 context: int | None = None, casing_feature: bool | None = None, name: str | None = None):
        super().__init__(name=name)
        if lower_case is None:
            lower_case = guess_lower_case(vocab)
        span = max_seq_length - 2
        context = span // 8 if context is None else context
        if span < 2 or span - 2 * context < 1:
            raise ValueError(f"max_seq_length={max_seq_length} leaves no room for windows with context {context}")
        self.vocab_size = len(vocab)
        self.lower_case = lower_case
        self.max_seq_length = max_seq_length
        self.context = context
        self.stride = span - 2 * context
        index = {token: i for i, token in enumerate(vocab)}
        self.pad_id, self.unk_id, self.cls_id, self.sep_id = (index[t] for t in SPECIAL_TOKENS)
        # FastBertTokenizer's two stages, kept apart so raw-text offsets can be mapped back with
        # flat gathers (its own tokenize_with_offsets uses a ragged gather, i.e. RaggedRange,
        # which TFLite lacks). tokenize() = normalize + wordpiece, exactly as FastBertTokenizer.
        self._normalizer = tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=lower_case)
        self._wordpiece = tf_text.FastWordpieceTokenizer(vocab=vocab, token_out_type=tf.int32,
                                                         unknown_token="[UNK]")
        self._is_continuation = tf.constant(np.array([t.startswith("##") for t in vocab]))
        # Uncased vocabularies lose capitalisation (PROPN vs NOUN). With the casing feature, pieces of
        # a word whose cased tokenisation differs from its lower-cased one get token type 1, through
        # BERT's own segment embedding: no new input, and TFLite-friendly (a second normaliser pass).
        self.casing_feature = lower_case if casing_feature is None else casing_feature
        self._cased_normalizer = tf_text.FastBertNormalizer(lower_case_nfd_strip_accents=False) \
            if self.casing_feature else None

    # -- words -> pieces ---------------------------------------------------

    @no_autograph
    def words_to_pieces(self, words: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """Pre-tokenised words `[batch, (words)]` to flat pieces.

        A word that yields no wordpiece (whitespace, control characters) becomes
        `[UNK]`, so it still gets a label position.
        """
        pieces = self._wordpiece.tokenize(self._normalizer.normalize(words.flat_values))  # [N, (P)]
        raw_counts = tf.cast(pieces.row_lengths(), tf.int32)
        counts = tf.maximum(raw_counts, 1)
        piece_word = segment_ids(counts)
        within_word = tf.range(tf.shape(piece_word)[0]) - tf.gather(
            tf.math.cumsum(counts, exclusive=True), piece_word)
        values = tf.cast(pieces.flat_values, tf.int32)
        source = tf.where(tf.gather(raw_counts, piece_word) > 0,
                          tf.gather(tf.math.cumsum(raw_counts, exclusive=True), piece_word) + within_word,
                          tf.shape(values)[0])
        piece_ids = tf.gather(tf.concat([values, [self.unk_id]], 0), source)
        sentence_splits = tf.cast(words.row_splits, tf.int32)
        if self.casing_feature:
            cased = self._wordpiece.tokenize(self._cased_normalizer.normalize(words.flat_values))
            word_is_cased = tf.not_equal(_first_values(cased), _first_values(pieces))
            piece_type_ids = tf.cast(tf.gather(word_is_cased, piece_word), tf.int32)
        else:
            piece_type_ids = tf.zeros_like(piece_ids)
        return {
            "piece_ids": piece_ids,
            "piece_type_ids": piece_type_ids,
            "is_word_start": tf.equal(within_word, 0),
            "sentence_piece_counts": _boundary_sums(counts, sentence_splits),
            "num_words": tf.cast(words.row_lengths(), tf.int32),
        }

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
            "num_words": _boundary_sums(is_word_start, splits),
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
        cased_counts = _boundary_sums(cased_starts, cased_splits)
        cased_offsets = tf.math.cumsum(cased_counts, exclusive=True)
        word_counts = _boundary_sums(is_word_start, splits)
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

    # -- pieces -> windows -------------------------------------------------

    @no_autograph
    def build_windows(self, piece_ids: tf.Tensor, is_word_start: tf.Tensor,
                      sentence_piece_counts: tf.Tensor, piece_type_ids: tf.Tensor | None = None
                      ) -> dict[str, tf.Tensor]:
        """Cuts every sentence into `[CLS] pieces [SEP]` windows.

        Returns BERT inputs `[windows, length]` (length = longest window, so a
        short batch pays for its own length only), `label_mask` (owned first
        wordpieces), `position_piece` (flat piece index, -1 for specials and
        padding) and `window_sentence`.
        """
        span = self.max_seq_length - 2
        counts = tf.cast(sentence_piece_counts, tf.int32)
        at_least_one = tf.maximum(counts, 1)
        owned_size = tf.where(counts <= span, at_least_one, self.stride)
        windows_per_sentence = (at_least_one + owned_size - 1) // owned_size
        window_sentence = segment_ids(windows_per_sentence)
        window_rank = tf.range(tf.shape(window_sentence)[0]) - tf.gather(
            tf.math.cumsum(windows_per_sentence, exclusive=True), window_sentence)

        count = tf.gather(counts, window_sentence)
        owned = tf.gather(owned_size, window_sentence)
        own_start = window_rank * owned
        own_end = tf.minimum(own_start + owned, count)
        start = tf.where(count <= span, 0,
                         tf.clip_by_value(own_start - self.context, 0, tf.maximum(count - span, 0)))
        length = tf.minimum(count - start, span)

        column = tf.range(tf.reduce_max(tf.concat([length, [0]], 0)))[tf.newaxis, :]
        local = start[:, tf.newaxis] + column
        valid = column < length[:, tf.newaxis]
        first_piece = tf.gather(tf.math.cumsum(counts, exclusive=True), window_sentence)
        total = tf.shape(piece_ids)[0]
        flat_index = tf.where(valid, first_piece[:, tf.newaxis] + local, total)
        ids = tf.gather(tf.concat([piece_ids, [self.pad_id]], 0), flat_index)
        type_ids = tf.zeros_like(ids) if piece_type_ids is None else \
            tf.gather(tf.concat([piece_type_ids, [0]], 0), flat_index)
        owned_here = valid & (local >= own_start[:, tf.newaxis]) & (local < own_end[:, tf.newaxis])
        label_mask = owned_here & tf.gather(tf.concat([is_word_start, [False]], 0), flat_index)

        num_windows = tf.shape(window_sentence)[0]
        edge = tf.fill([num_windows, 1], self.pad_id)
        ids = tf.concat([tf.fill([num_windows, 1], self.cls_id), ids, edge], axis=1)
        position = tf.range(tf.shape(ids)[1])[tf.newaxis, :]
        ids = tf.where(position == length[:, tf.newaxis] + 1, self.sep_id, ids)
        no_label = tf.zeros([num_windows, 1], tf.bool)
        no_piece = tf.fill([num_windows, 1], -1)
        no_type = tf.zeros([num_windows, 1], tf.int32)
        return {
            "input_word_ids": ids,
            "input_mask": tf.cast(position < length[:, tf.newaxis] + 2, tf.int32),
            "input_type_ids": tf.concat([no_type, type_ids, no_type], axis=1),
            "label_mask": tf.concat([no_label, label_mask, no_label], axis=1),
            "position_piece": tf.concat([no_piece, tf.where(valid, flat_index, -1), no_piece], axis=1),
            "window_sentence": window_sentence,
        }

    @no_autograph
    def encode_words(self, words: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """Words `[batch, (words)]` to windows plus `num_words` and flat pieces."""
        pieces = self.words_to_pieces(words)
        windows = self.build_windows(pieces["piece_ids"], pieces["is_word_start"],
                                     pieces["sentence_piece_counts"], pieces["piece_type_ids"])
        return {**pieces, **windows}

    @no_autograph
    def encode_text(self, sentences: tf.Tensor) -> dict[str, tf.Tensor]:
        """Raw sentences `[batch]` to windows plus words' byte offsets."""
        pieces = self.text_to_pieces(sentences)
        windows = self.build_windows(pieces["piece_ids"], pieces["is_word_start"],
                                     pieces["sentence_piece_counts"], pieces["piece_type_ids"])
        return {**pieces, **windows}


MODEL_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


def model_inputs(features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The three BERT inputs out of a feature dict."""
    return {name: features[name] for name in MODEL_INPUTS}


def word_level(values: tf.Tensor, label_mask: tf.Tensor) -> tf.Tensor:
    """Per-position values `[windows, length, ...]` to per-word `[words, ...]`, in word order."""
    return tf.boolean_mask(values, label_mask)
