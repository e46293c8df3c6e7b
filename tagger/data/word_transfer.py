"""Transfer text for word-level distillation: batches of whole sentences, each tokenised by the
student's and by the teacher's own tokenizer.

Word-level losses compare teacher and student at the first piece of each word, where labels live,
so the two models may tokenize differently. Lines are cut into words once, by the toolkit's word
rule (`words.py`, the serving graph's), and each model tokenizes those words. Either tokenizer gives
every word exactly one owned first piece (`label_mask`, however it windows a long sentence), so
`word_level(outputs, word_mask)` of the two models line up word for word.

A batch (`encode_pair`) holds `batch_size` sentences of similar word count:
  input_word_ids, input_mask, input_type_ids, word_mask    [windows, length], the student's
  teacher_input_word_ids, ..., teacher_word_mask           [teacher windows, teacher length]
"""
from __future__ import annotations

import tensorflow as tf

from tagger.data.pipeline import line_batches
from tagger.data.tokenizer import PieceTokenizer, word_level
from tagger.data.words import WordSplitter

TEACHER_PREFIX = "teacher_"
WORD_BUCKETS = (8, 16, 32, 64)


def line_words(lines: tf.data.Dataset, *, seed: int = 0, shuffle_buffer: int = 10000, lines_per_call: int = 64,
               word_replacement: float = 0.0, replacement_words: list[str] | None = None,
               repeat: bool = True) -> tf.data.Dataset:
    """Lines to their words (`[words]` strings, one element per line), shuffled and repeated.

    Lines under 10 characters or without a word are skipped, as in the per-piece stream (Tsai et
    al. App. A.1); `word_replacement` augments as `pipeline.replace_words` does.
    """
    batches = line_batches(lines, seed=seed, shuffle_buffer=shuffle_buffer, lines_per_call=lines_per_call,
                           word_replacement=word_replacement, replacement_words=replacement_words, repeat=repeat)
    splitter = WordSplitter()
    words = batches.map(lambda batch: splitter.split(batch)[0]).unbatch()
    return words.filter(lambda row: tf.size(row) > 0)


def sentence_batches(words: tf.data.Dataset, batch_size: int, drop_remainder: bool = True,
                     extra_padding: dict | None = None) -> tf.data.Dataset:
    """Word rows (plus optional per-word features) to batches of similar word count.

    Elements are dicts with `words` `[n]` and, optionally, features `[n, ...]` named in
    `extra_padding` (name -> padding value). Batches carry `words` as a RaggedTensor `[batch,
    (words)]` and the features flat over the batch's words, `[words in batch, ...]`.
    """
    if not isinstance(words.element_spec, dict):
        words = words.map(lambda row: {"words": row})
    extra_padding = extra_padding or {}
    words = words.map(lambda element: {**element, "num_words": tf.size(element["words"])})
    spec = words.element_spec
    padding = {name: tf.constant(extra_padding.get(name, b"" if s.dtype == tf.string else 0), s.dtype)
               for name, s in spec.items()}
    batched = words.bucket_by_sequence_length(
        element_length_func=lambda element: element["num_words"],
        bucket_boundaries=list(WORD_BUCKETS), bucket_batch_sizes=[batch_size] * (len(WORD_BUCKETS) + 1),
        padded_shapes={name: [None] + s.shape[1:].as_list() if s.shape.rank else [] for name, s in spec.items()},
        padding_values=padding, drop_remainder=drop_remainder)

    def unpad(batch):
        mask = tf.sequence_mask(batch["num_words"])
        out = {"words": tf.RaggedTensor.from_tensor(batch["words"], lengths=batch["num_words"])}
        for name in extra_padding:
            out[name] = tf.boolean_mask(batch[name], mask)
        return out
    return batched.map(unpad)


def model_features(features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The BERT inputs of `encode_words` output plus `word_mask` (each word's owned first piece)."""
    return {"input_word_ids": features["input_word_ids"], "input_mask": features["input_mask"],
            "input_type_ids": features["input_type_ids"],
            "word_mask": tf.cast(features["label_mask"], tf.int32)}


def encode_pair(student: PieceTokenizer, teacher: PieceTokenizer | None, keep_words: bool = False):
    """`batch -> features`: the student's windows of the batch's words, and the teacher's when given.

    Other keys pass through (cached teacher outputs, already flat per word); so does `words`
    with `keep_words`.
    """
    def encode(batch):
        words = batch["words"]
        out = {name: value for name, value in batch.items() if keep_words or name != "words"}
        out.update(model_features(student.encode_words(words)))
        if teacher is not None:
            out.update({TEACHER_PREFIX + name: value
                        for name, value in model_features(teacher.encode_words(words)).items()})
        return out
    return encode


def teacher_inputs(batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The teacher's BERT inputs out of an `encode_pair` batch."""
    return {name: batch[TEACHER_PREFIX + name] for name in ("input_word_ids", "input_mask", "input_type_ids")}


def per_word(values: tf.Tensor, batch: dict[str, tf.Tensor], teacher: bool = False) -> tf.Tensor:
    """Per-position outputs `[windows, length, ...]` of one model to `[words in batch, ...]`."""
    return word_level(values, tf.cast(batch[(TEACHER_PREFIX if teacher else "") + "word_mask"], tf.bool))


def transfer_batches(student: PieceTokenizer, teacher: PieceTokenizer | None, lines: tf.data.Dataset,
                     batch_size: int, *, seed: int = 0, word_replacement: float = 0.0,
                     replacement_words: list[str] | None = None, keep_words: bool = False,
                     repeat: bool = True) -> tf.data.Dataset:
    """The streamed transfer set as `encode_pair` batches (repeated without end unless `repeat` is False)."""
    words = line_words(lines, seed=seed, word_replacement=word_replacement, replacement_words=replacement_words,
                       repeat=repeat)
    return sentence_batches(words, batch_size, drop_remainder=repeat).map(
        encode_pair(student, teacher, keep_words)).prefetch(2)
