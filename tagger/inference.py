"""Tagging words with an in-memory tagger: one traced graph from words to label ids.

Used by evaluation, `tagger.predict` on checkpoints, `export.verify` and the
SavedModel exporter, so they all decode exactly the same way.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from tagger.data.tokenizer import PieceTokenizer, model_inputs, word_level
from tagger.runtime.batching import tag_in_batches

WORDS_SPEC = tf.RaggedTensorSpec([None, None], tf.string, ragged_rank=1, row_splits_dtype=tf.int32)


def word_logits(model, features: dict) -> dict[str, tf.Tensor]:
    """Per-word logits `[words, labels]` for each task, in word order. The heads run only on each
    word's first piece: a 6,899-class UFeats head on every (padded) piece costs about as much as
    the whole MiniBERT encoder."""
    mask = features["label_mask"]
    return model(model_inputs(features), training=False, rows=lambda sequence: word_level(sequence, mask))


def ragged_words(sentences: list[list[str]]) -> tf.RaggedTensor:
    """Sentences of words as the `[sentences, (words)]` strings of `WORDS_SPEC`."""
    return tf.RaggedTensor.from_row_lengths(
        tf.constant([w for s in sentences for w in s], dtype=tf.string, shape=[sum(map(len, sentences))]),
        tf.constant([len(s) for s in sentences], dtype=tf.int32))


def per_sentence(values: dict[str, np.ndarray], sentences: list[list[str]]) -> list[dict[str, np.ndarray]]:
    """Per-word outputs of a batch, `{name: [words, ...]}`, cut into one dict per sentence."""
    rows, start = [], 0
    for sentence in sentences:
        rows.append({name: value[start:start + len(sentence)] for name, value in values.items()})
        start += len(sentence)
    return rows


class WordTagger:
    """Tags pre-tokenised sentences; returns label strings (and 2nd-best, for the code-mixed rule)."""

    def __init__(self, model, tokenizer: PieceTokenizer, label_lists: dict[str, list[str]],
                 batch_size: int = 64):
        self.model, self.tokenizer, self.label_lists = model, tokenizer, label_lists
        self.batch_size = batch_size

        @tf.function(input_signature=[WORDS_SPEC])
        def top2(words):
            features = tokenizer.encode_words(words)
            logits = word_logits(model, features)
            return {task: tf.math.top_k(value, k=min(2, value.shape[-1])).indices for task, value in logits.items()}

        self._top2 = top2

    def tag_ids(self, sentences: list[list[str]]) -> list[dict[str, np.ndarray]]:
        """`[{task: int array [words, 2]}]` per sentence: best and second-best label ids."""
        def run(batch):
            return per_sentence({task: v.numpy() for task, v in self._top2(ragged_words(batch)).items()}, batch)
        return tag_in_batches(sentences, self.batch_size, run)

    def tag(self, sentences: list[list[str]], x_to_second_best: bool = False) -> list[dict[str, list[str]]]:
        """Label strings per task per word. `x_to_second_best`: Tsai §4.5 code-mixed rule for UPOS."""
        tagged = []
        for ids in self.tag_ids(sentences):
            sentence_tags = {}
            for task, top in ids.items():
                labels = self.label_lists[task]
                best = [labels[row[0]] for row in top]
                if x_to_second_best and task == "upos" and top.shape[1] > 1:
                    best = [labels[row[1]] if tag == "X" else tag for tag, row in zip(best, top)]
                sentence_tags[task] = best
            tagged.append(sentence_tags)
        return tagged
