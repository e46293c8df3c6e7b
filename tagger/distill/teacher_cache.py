"""Top-k teacher logits cached in TFRecord shards, for repeated epochs over one transfer set.

Running the teacher costs most of a distillation step. When the student goes over
the same transfer windows several times, the teacher's outputs can be computed
once. The UFeats label space has thousands of classes, so only the `k` largest
logits per wordpiece are stored (values and class ids). The soft loss then uses
the teacher's distribution renormalised over those k classes: pick k so that they
hold nearly all of the tempered (T) distribution's mass.

Two layouts, one per distillation level:
- per piece: one tf.train.Example per window of the shared tokenizer, with the teacher's top-k at
  every position;
- per word: one Example per sentence, holding its words and the teacher's top-k at each word's
  first piece. The student tokenizes the words when the cache is read, so one cache serves any
  student vocabulary.

A cache directory holds `shard-NNNNN.tfrecord` files and `cache.json`, written last, so a
half-written cache is never used. While it is written, `progress.json` counts the shards already
closed: a killed run keeps them and resumes after them (the transfer stream is seeded, so it gives
the same windows again), instead of running the teacher over everything from the start.
"""
from __future__ import annotations

import glob
import json
import math
import os
import shutil

import numpy as np
import tensorflow as tf

from tagger.data import pipeline, word_transfer
from tagger.models.tagger import write_json_atomic

INFO_FILE = "cache.json"
PROGRESS_FILE = "progress.json"
WINDOW_FEATURES = ("input_word_ids", "input_mask", "input_type_ids", "piece_mask")


def values_key(task: str) -> str:
    return f"teacher_top_values_{task}"


def ids_key(task: str) -> str:
    return f"teacher_top_ids_{task}"


def read_info(directory: str, name: str = INFO_FILE) -> dict | None:
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _ints(values: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values.reshape(-1)))


def _top_k_features(outputs: dict[str, np.ndarray], rows: slice, tasks: list[str]) -> dict:
    feature = {}
    for task in tasks:
        feature[values_key(task)] = tf.train.Feature(
            float_list=tf.train.FloatList(value=outputs[values_key(task)][rows].reshape(-1)))
        feature[ids_key(task)] = _ints(outputs[ids_key(task)][rows])
    return feature


def _window_examples(batch: dict, outputs: dict[str, np.ndarray], tasks: list[str]):
    """One Example per window of a per-piece batch, cut to the window's length."""
    windows = {name: batch[name].numpy() for name in WINDOW_FEATURES}
    for row, length in enumerate(windows["input_mask"].sum(axis=1)):
        feature = {name: _ints(windows[name][row][:length]) for name in WINDOW_FEATURES}
        feature.update(_top_k_features({name: value[row] for name, value in outputs.items()},
                                       slice(0, length), tasks))
        yield tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _sentence_examples(batch: dict, outputs: dict[str, np.ndarray], tasks: list[str]):
    """One Example per sentence of a word-level batch: its words and their rows of top-k."""
    start = 0
    for words in batch["words"].numpy():
        feature = {"words": tf.train.Feature(bytes_list=tf.train.BytesList(value=list(words)))}
        feature.update(_top_k_features(outputs, slice(start, start + len(words)), tasks))
        start += len(words)
        yield tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_cache(teacher, batches: tf.data.Dataset, directory: str, top_k: int, num_windows: int,
                windows_per_shard: int = 20000, source: str = "", log=print, level: str = "piece") -> dict:
    """Runs the frozen teacher over the first `num_windows` windows (sentences, at word `level`) of
    `batches` and stores its top-k.

    `batches` are per-piece windows, or at word level `word_transfer.sentence_batches` of words
    with the teacher's features (`encode_pair(student, teacher)` applied, `words` kept).
    `source` names what made the teacher and `batches` (paths, flags): a finished cache is reused
    only when it and the settings match; an unfinished one with the same settings is resumed after
    its closed shards; anything else in `directory` is rebuilt.
    """
    tasks = list(teacher.tasks)
    wanted = {"top_k": top_k, "num_windows": num_windows, "tasks": tasks, "source": source, "level": level}
    info = read_info(directory)
    if info is not None and {key: info.get(key, "piece") if key == "level" else info.get(key)
                             for key in wanted} == wanted:
        return info
    k_per_task = {task: min(top_k, int(teacher.heads[task].units)) for task in tasks}
    progress = {**wanted, "k_per_task": k_per_task, "windows_per_shard": windows_per_shard}
    kept = _kept_shards(directory, progress)
    if kept:
        log(f"[teacher cache] resuming after the {kept} finished shard(s) in {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
    words = level == "word"

    @tf.function(reduce_retracing=True)
    def teacher_top_k(batch):
        logits = teacher(word_transfer.teacher_inputs(batch) if words else batch, training=False,
                         rows=(lambda v: word_transfer.per_word(v, batch, teacher=True)) if words else None)
        out = {}
        for task in tasks:
            top = tf.math.top_k(tf.cast(logits[task], tf.float32), k=k_per_task[task])
            out[values_key(task)], out[ids_key(task)] = top.values, top.indices
        return out

    examples = _sentence_examples if words else _window_examples
    written, seen, writer = kept * windows_per_shard, 0, None
    for batch in batches:
        rows = int(batch["words" if words else "input_mask"].shape[0])
        if seen + rows <= written:  # wholly inside the kept shards: no teacher call
            seen += rows
            continue
        outputs = {name: value.numpy() for name, value in teacher_top_k(
            {name: value for name, value in batch.items() if name != "words"}).items()}
        for example in examples(batch, outputs, tasks):
            seen += 1
            if seen <= written:
                continue
            if written == num_windows:
                break
            if written % windows_per_shard == 0:  # next shard
                if writer is not None:
                    writer.close()
                    write_json_atomic(os.path.join(directory, PROGRESS_FILE),
                                      {**progress, "shards_done": written // windows_per_shard})
                shard = written // windows_per_shard
                writer = tf.io.TFRecordWriter(os.path.join(directory, f"shard-{shard:05d}.tfrecord"))
                log(f"[teacher cache] {written}/{num_windows} {'sentences' if words else 'windows'}")
            writer.write(example)
            written += 1
        if written == num_windows:
            break
    if writer is not None:
        writer.close()
    shards = math.ceil(written / windows_per_shard)
    info = {**wanted, "k_per_task": k_per_task, "windows": written, "shards": shards}
    write_json_atomic(os.path.join(directory, INFO_FILE), info)
    if os.path.exists(os.path.join(directory, PROGRESS_FILE)):
        os.remove(os.path.join(directory, PROGRESS_FILE))
    log(f"[teacher cache] {written} {'sentences' if words else 'windows'}, top-{top_k}, in {shards} shard(s) "
        f"under {directory}")
    return info


def _kept_shards(directory: str, progress: dict) -> int:
    """How many closed shards of an unfinished cache with the same settings can be kept; the rest
    (a shard cut mid-write, anything else) is removed."""
    done = read_info(directory, PROGRESS_FILE)
    if done is None or {key: done.get(key) for key in progress} != progress:
        return 0
    kept = done["shards_done"]
    names = [f"shard-{shard:05d}.tfrecord" for shard in range(kept)]
    if not all(os.path.exists(os.path.join(directory, name)) for name in names):
        return 0
    for name in set(os.listdir(directory)) - set(names) - {PROGRESS_FILE}:
        path = os.path.join(directory, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    return kept


def cached_dataset(directory: str, batch_size: int, *, seed: int = 0, pad_id: int = 0,
                   shuffle_buffer: int = 20000, input_context: tf.distribute.InputContext | None = None,
                   student_tokenizer=None) -> tf.data.Dataset:
    """The cached windows, shuffled and repeated, bucketed like the streamed transfer text.

    A word-level cache gives `encode_pair(student_tokenizer, None)` batches whose top-k rows are
    flat over the batch's words, in the order of the student's `word_mask`.
    """
    info = read_info(directory)
    if info is None:
        raise FileNotFoundError(f"{directory}: no finished teacher cache ({INFO_FILE} missing)")
    words = info.get("level", "piece") == "word"
    files = sorted(glob.glob(os.path.join(glob.escape(directory), "shard-*.tfrecord")))
    records = tf.data.TFRecordDataset(files)
    if input_context is not None and input_context.num_input_pipelines > 1:
        records = records.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    row_features = ("words",) if words else WINDOW_FEATURES
    spec = {name: tf.io.RaggedFeature(tf.string if name == "words" else tf.int64) for name in row_features}
    for task in info["tasks"]:
        spec[values_key(task)] = tf.io.RaggedFeature(tf.float32)
        spec[ids_key(task)] = tf.io.RaggedFeature(tf.int64)
    k_per_task = info["k_per_task"]

    def parse(record):
        example = tf.io.parse_single_example(record, spec)
        row = {name: example[name] if name == "words" else tf.cast(example[name], tf.int32) for name in row_features}
        for task in info["tasks"]:
            row[values_key(task)] = tf.reshape(example[values_key(task)], [-1, k_per_task[task]])
            row[ids_key(task)] = tf.reshape(tf.cast(example[ids_key(task)], tf.int32), [-1, k_per_task[task]])
        return row

    rows = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat().map(parse)
    if not words:
        return pipeline.bucket_batches(rows, batch_size, pad_id, drop_remainder=True).prefetch(2)
    top_k = {name: 0 for task in info["tasks"] for name in (values_key(task), ids_key(task))}
    batches = word_transfer.sentence_batches(rows, batch_size, extra_padding=top_k)
    return batches.map(word_transfer.encode_pair(student_tokenizer, None)).prefetch(2)


def prepare(teacher, batches_fn, directory: str, top_k: int, num_windows: int, batch_size: int, source: str,
            seed: int, pad_id: int, student_tokenizer=None):
    """Writes (or reuses) the cache over the first windows of `batches_fn(batch_size, None)`; returns
    the `(batch_size, input_context) -> dataset` the soft stage then reads instead of the live teacher.

    With `student_tokenizer`, the cache is word-level: `batches_fn` gives `encode_pair` batches with
    their `words`, and the student tokenizes the cached words.
    """
    level = "word" if student_tokenizer is not None else "piece"
    write_cache(teacher, batches_fn(batch_size, None), directory, top_k, num_windows, source=source, level=level)
    return lambda size, context: cached_dataset(directory, size, seed=seed, pad_id=pad_id, input_context=context,
                                                student_tokenizer=student_tokenizer)
