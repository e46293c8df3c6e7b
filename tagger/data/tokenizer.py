"""The tokenizer interface: words or raw text to pieces, first-piece alignment and windows, as TF ops.

Two implementations share it (ARCHITECTURE.md, "Tokenizers"): `WordPieceTokenizer` (a BERT
`vocab.txt`) and `SentencePieceTokenizer` (an XLM-R style `.model` proto). Each provides

  words_to_pieces(words [batch, (words)])  -> flat pieces of pre-tokenised words

and this base class does the rest the same way for both: raw text is cut into words by the
toolkit's one word rule (`words.py`), then tokenised word by word, so a sentence tagged as raw text
gets exactly the tags of its words tagged as gold tokens; pieces then become model windows. One implementation
serves training, the SavedModel and the TFLite graph, so a deployed model sees exactly the features
it was trained on. Only dense ops with TFLite builtins are used here.

Windowing: a sentence with more than `max_seq_length - 2` pieces is cut into overlapping windows.
Each window *owns* a contiguous run of `stride` pieces and sees `context` extra pieces on each
side; only owned first pieces are labelled, so every word gets exactly one label position and no
word is ever lost, however long the sentence.
"""
from __future__ import annotations

import tensorflow as tf

from tagger.data.words import WordSplitter
from tagger.errors import UserError

# These methods build plain dataflow (no tensor-dependent Python control flow), so autograph
# has nothing to convert; converting tf.Module methods re-reads their source and can lose `self`.
no_autograph = tf.autograph.experimental.do_not_convert

MODEL_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


def model_inputs(features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The three BERT inputs out of a feature dict, plus `input_word_embeddings` when the caller
    looked the words up itself (the int8 table of the TFLite export, models/int8_table.py)."""
    inputs = {name: features[name] for name in MODEL_INPUTS}
    if "input_word_embeddings" in features:
        inputs["input_word_embeddings"] = features["input_word_embeddings"]
    return inputs


def word_level(values: tf.Tensor, label_mask: tf.Tensor) -> tf.Tensor:
    """Per-position values `[windows, length, ...]` to per-word `[words, ...]`, in word order."""
    return tf.boolean_mask(values, label_mask)


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


def boundary_sums(values: tf.Tensor, row_splits: tf.Tensor) -> tf.Tensor:
    """Per-row sums of `values` for rows given by `row_splits`, via one cumsum."""
    cumulative = tf.concat([[0], tf.math.cumsum(tf.cast(values, tf.int32))], axis=0)
    return tf.gather(cumulative, row_splits[1:]) - tf.gather(cumulative, row_splits[:-1])


class PieceTokenizer(tf.Module):
    """Shared part of both tokenizers: piece alignment of words and the windows."""

    kind = ""  # "wordpiece" | "sentencepiece", as written to tagger_config.json

    def __init__(self, vocab_size: int, special_ids: dict[str, int], max_seq_length: int = 128,
                 context: int | None = None, name: str | None = None):
        super().__init__(name=name)
        span = max_seq_length - 2
        context = span // 8 if context is None else context
        if span < 2 or span - 2 * context < 1:
            raise UserError(f"max_seq_length={max_seq_length} leaves no room for windows with context {context}")
        self.vocab_size = vocab_size
        self.max_seq_length = max_seq_length
        self.context = context
        self.stride = span - 2 * context
        self.pad_id, self.unk_id = special_ids["pad"], special_ids["unk"]
        self.cls_id, self.sep_id = special_ids["cls"], special_ids["sep"]
        self.casing_feature = False
        self.lower_case = False
        self._splitter = WordSplitter()

    def settings(self) -> dict:
        """The `tokenizer` entry of tagger_config.json (ARCHITECTURE.md, "Model directory")."""
        return {"kind": self.kind, "max_seq_length": self.max_seq_length, "context": self.context}

    # -- words -> pieces ---------------------------------------------------

    def words_to_pieces(self, words: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        raise NotImplementedError

    @no_autograph
    def text_to_pieces(self, sentences: tf.Tensor) -> dict[str, tf.Tensor]:
        """Raw sentences `[batch]` to flat pieces of the toolkit's words, with their byte offsets."""
        words, starts, ends = self._splitter.split(sentences)
        result = self.words_to_pieces(words)
        result["word_starts"] = starts.flat_values
        result["word_ends"] = ends.flat_values
        return result

    def _align_words(self, values: tf.Tensor, raw_counts: tf.Tensor, word_splits: tf.Tensor
                     ) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """Flat pieces `values` of words with `raw_counts` pieces each, in sentences `word_splits`.

        A word that yields no piece (whitespace, control characters) becomes the unknown piece,
        so it still gets a label position. Also returns each piece's word index.
        """
        values = tf.cast(values, tf.int32)
        raw_counts = tf.cast(raw_counts, tf.int32)
        counts = tf.maximum(raw_counts, 1)
        piece_word = segment_ids(counts)
        within_word = tf.range(tf.shape(piece_word)[0]) - tf.gather(
            tf.math.cumsum(counts, exclusive=True), piece_word)
        source = tf.where(tf.gather(raw_counts, piece_word) > 0,
                          tf.gather(tf.math.cumsum(raw_counts, exclusive=True), piece_word) + within_word,
                          tf.shape(values)[0])
        word_splits = tf.cast(word_splits, tf.int32)
        return {
            "piece_ids": tf.gather(tf.concat([values, [self.unk_id]], 0), source),
            "is_word_start": tf.equal(within_word, 0),
            "sentence_piece_counts": boundary_sums(counts, word_splits),
            "num_words": word_splits[1:] - word_splits[:-1],
        }, piece_word

    # -- pieces -> windows -------------------------------------------------

    @no_autograph
    def build_windows(self, piece_ids: tf.Tensor, is_word_start: tf.Tensor,
                      sentence_piece_counts: tf.Tensor, piece_type_ids: tf.Tensor | None = None
                      ) -> dict[str, tf.Tensor]:
        """Cuts every sentence into `[CLS] pieces [SEP]` windows.

        Returns BERT inputs `[windows, length]` (length = longest window, so a
        short batch pays for its own length only), `label_mask` (owned first
        pieces), `position_piece` (flat piece index, -1 for specials and
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

    def _windows(self, pieces: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        windows = self.build_windows(pieces["piece_ids"], pieces["is_word_start"],
                                     pieces["sentence_piece_counts"], pieces.get("piece_type_ids"))
        return {**pieces, **windows}

    @no_autograph
    def encode_words(self, words: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """Words `[batch, (words)]` to windows plus `num_words` and flat pieces."""
        return self._windows(self.words_to_pieces(words))

    @no_autograph
    def encode_text(self, sentences: tf.Tensor) -> dict[str, tf.Tensor]:
        """Raw sentences `[batch]` to windows plus words' byte offsets."""
        return self._windows(self.text_to_pieces(sentences))
