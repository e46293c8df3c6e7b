"""The toolkit's one rule for cutting raw text into words, as TF ops that TFLite runs.

BERT's pre-tokenisation: words end at whitespace, and every punctuation character and every CJK
ideograph is a word of its own. It is what the WordPiece path has always done to raw text; the
SentencePiece path and the distillation transfer text use this module, so every model in the
toolkit sees the same words in the same text. Offsets are bytes into the input string.
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_text as tf_text


class WordSplitter(tf.Module):
    """Raw sentences `[batch]` to word byte offsets `[batch, (words)]` and the words themselves."""

    def __init__(self, name: str | None = None):
        super().__init__(name=name)
        # A wordpiece tokenizer whose vocabulary knows no word maps every pre-tokenised word to one
        # unknown token spanning it: its offsets are exactly BERT's word boundaries.
        self._pretokenizer = tf_text.FastWordpieceTokenizer(
            vocab=["[UNK]", "a"], token_out_type=tf.int32, unknown_token="[UNK]",
            no_pretokenization=False, support_detokenization=False)
        self._cutter = tf_text.ByteSplitter()

    @tf.autograph.experimental.do_not_convert
    def offsets(self, sentences: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
        """(starts, ends): int32 ragged `[batch, (words)]` byte offsets of each word."""
        _, starts, ends = self._pretokenizer.tokenize_with_offsets(sentences)
        return tf.cast(starts, tf.int32), tf.cast(ends, tf.int32)

    @tf.autograph.experimental.do_not_convert
    def split(self, sentences: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.RaggedTensor]:
        """(words `[batch, (words)]` strings, starts, ends)."""
        starts, ends = self.offsets(sentences)
        words = self._cutter.split_by_offsets(sentences, starts, ends)
        return tf.RaggedTensor.from_row_splits(words.flat_values, tf.cast(words.row_splits, tf.int32),
                                               validate=False), starts, ends


def split_words(sentences: list[str]) -> list[list[str]]:
    """Python convenience: the same rule on a list of strings."""
    if not sentences:
        return []
    words, _, _ = WordSplitter().split(tf.constant(sentences, dtype=tf.string))
    return [[w.decode("utf-8", "replace") for w in row] for row in words.to_list()]
