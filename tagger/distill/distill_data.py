"""What the distillation stages read: transfer batches (per piece, or per word for a student with its
own vocabulary), labelled batches, the teacher's cached top-k and the dev batches, each as a
function of the tf.distribute input context."""
from __future__ import annotations

import dataclasses
from typing import Callable

import tensorflow as tf

from tagger.data import pipeline, word_transfer


@dataclasses.dataclass
class DistillData:
    """Batches for each loss, as functions of the tf.distribute input context.

    Transfer batches are per-piece windows of the shared tokenizer, or at word level
    `word_transfer.encode_pair` batches (both models' windows of the same words).
    """
    unlabeled_fn: Callable[[int, tf.distribute.InputContext], tf.data.Dataset]    # (batch, ctx) -> dataset
    labeled_fn: Callable[[int, tf.distribute.InputContext], tf.data.Dataset]
    dev_batches: tf.data.Dataset | None                                          # labelled dev windows
    soft_fn: Callable[[int, tf.distribute.InputContext], tf.data.Dataset] | None = None  # cached teacher top-k
    cache_source_fn: Callable[[int, tf.distribute.InputContext], tf.data.Dataset] | None = None  # what the cache runs
    dev_words: tf.data.Dataset | None = None                                     # word level: dev words, both models

    def dev_for(self, kind: str) -> tf.data.Dataset | None:
        """The dev batches of a stage's loss: transfer-style batches for the unlabeled losses at word level."""
        return self.dev_words if kind != "labels" and self.dev_words is not None else self.dev_batches


def make_data(tokenizer, train_encoded: dict, dev_encoded: dict | None, unlabeled: Callable, seed: int,
              eval_batch_size: int = 64, word_replacement: float = 0.0,
              replacement_words: list[str] | None = None, teacher_tokenizer=None,
              dev_words: list[list[str]] | None = None) -> DistillData:
    """Wires pipelines: `unlabeled(context) -> tf.data lines` is sharded per input pipeline.

    `tokenizer` is the student's. With `teacher_tokenizer` the transfer batches are word-level
    (`word_transfer`), and `dev_words` (the dev sentences' words) give the unlabeled losses' dev batches.
    """
    def piece_batches(batch_size, context):
        per_replica = context.get_per_replica_batch_size(batch_size) if context else batch_size
        return pipeline.unlabeled_dataset(tokenizer, unlabeled(context), per_replica, seed=seed,
                                          word_replacement=word_replacement, replacement_words=replacement_words)

    def word_batches(batch_size, context, keep_words=False):
        per_replica = context.get_per_replica_batch_size(batch_size) if context else batch_size
        return word_transfer.transfer_batches(tokenizer, teacher_tokenizer, unlabeled(context), per_replica,
                                              seed=seed, word_replacement=word_replacement,
                                              replacement_words=replacement_words, keep_words=keep_words)

    def labeled_fn(batch_size, context):
        return pipeline.labeled_dataset(train_encoded, batch_size, training=True, seed=seed,
                                        pad_id=tokenizer.pad_id, input_context=context)

    dev = pipeline.labeled_dataset(dev_encoded, eval_batch_size, training=False, pad_id=tokenizer.pad_id) \
        if dev_encoded is not None else None
    if teacher_tokenizer is None:
        return DistillData(piece_batches, labeled_fn, dev, cache_source_fn=piece_batches)
    words = None
    if dev_words:
        flat = tf.constant([word for sentence in dev_words for word in sentence], tf.string)
        lengths = tf.constant([len(sentence) for sentence in dev_words], tf.int64)
        rows = tf.data.Dataset.from_tensor_slices(tf.RaggedTensor.from_row_lengths(flat, lengths))
        words = word_transfer.sentence_batches(rows, eval_batch_size, drop_remainder=False).map(
            word_transfer.encode_pair(tokenizer, teacher_tokenizer))
    return DistillData(word_batches, labeled_fn, dev, dev_words=words,
                       cache_source_fn=lambda batch_size, context: word_batches(batch_size, context, keep_words=True))
