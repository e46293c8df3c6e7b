"""Top-k teacher logits cached in TFRecord shards, for repeated epochs over one transfer set.

Running the teacher costs most of a distillation step. When the student goes over
the same transfer windows several times, the teacher's outputs can be computed
once. The UFeats label space has thousands of classes, so only the `k` largest
logits per wordpiece are stored (values and class ids). The soft loss then uses
the teacher's distribution renormalised over those k classes: pick k so that they
hold nearly all of the tempered (T) distribution's mass.

A cache directory holds `shard-NNNNN.tfrecord` files (one tf.train.Example per
window) and `cache.json`, written last, so a half-written cache is never used.
"""
from __future__ import annotations

import glob
import json
import math
import os
import shutil

import numpy as np
import tensorflow as tf

from tagger.data import pipeline
from tagger.models.tagger import write_json_atomic

INFO_FILE = "cache.json"
WINDOW_FEATURES = ("input_word_ids", "input_mask", "input_type_ids", "piece_mask")


def values_key(task: str) -> str:
    return f"teacher_top_values_{task}"


def ids_key(task: str) -> str:
    return f"teacher_top_ids_{task}"


def read_info(directory: str) -> dict | None:
    path = os.path.join(directory, INFO_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _example(window: dict[str, np.ndarray], length: int, tasks: list[str]) -> bytes:
    ints = lambda values: tf.train.Feature(int64_list=tf.train.Int64List(value=values.reshape(-1)))
    feature = {name: ints(window[name][:length]) for name in WINDOW_FEATURES}
    for task in tasks:
        feature[values_key(task)] = tf.train.Feature(
            float_list=tf.train.FloatList(value=window[values_key(task)][:length].reshape(-1)))
        feature[ids_key(task)] = ints(window[ids_key(task)][:length])
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_cache(teacher, batches: tf.data.Dataset, directory: str, top_k: int, num_windows: int,
                windows_per_shard: int = 20000, source: str = "", log=print) -> dict:
    """Runs the frozen teacher over the first `num_windows` windows of `batches` and stores its top-k.

    `source` names what made the teacher and `batches` (paths, flags): a finished cache is reused
    only when it and the settings match; anything else in `directory` is rebuilt.
    """
    tasks = list(teacher.tasks)
    wanted = {"top_k": top_k, "num_windows": num_windows, "tasks": tasks, "source": source}
    info = read_info(directory)
    if info is not None and {key: info.get(key) for key in wanted} == wanted:
        return info
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    k_per_task = {task: min(top_k, int(teacher.heads[task].units)) for task in tasks}

    @tf.function(reduce_retracing=True)
    def teacher_top_k(batch):
        logits = teacher(batch, training=False)
        out = {}
        for task in tasks:
            top = tf.math.top_k(tf.cast(logits[task], tf.float32), k=k_per_task[task])
            out[values_key(task)], out[ids_key(task)] = top.values, top.indices
        return out

    written, writer = 0, None
    for batch in batches:
        outputs = {name: value.numpy() for name, value in teacher_top_k(batch).items()}
        outputs.update({name: batch[name].numpy() for name in WINDOW_FEATURES})
        for row, length in enumerate(outputs["input_mask"].sum(axis=1)[:num_windows - written]):
            if written % windows_per_shard == 0:  # next shard
                if writer is not None:
                    writer.close()
                shard = written // windows_per_shard
                writer = tf.io.TFRecordWriter(os.path.join(directory, f"shard-{shard:05d}.tfrecord"))
                log(f"[teacher cache] {written}/{num_windows} windows")
            writer.write(_example({name: value[row] for name, value in outputs.items()}, int(length), tasks))
            written += 1
        if written == num_windows:
            break
    if writer is not None:
        writer.close()
    shards = math.ceil(written / windows_per_shard)
    info = {**wanted, "k_per_task": k_per_task, "windows": written, "shards": shards}
    write_json_atomic(os.path.join(directory, INFO_FILE), info)
    log(f"[teacher cache] {written} windows, top-{top_k}, in {shards} shard(s) under {directory}")
    return info


def cached_dataset(directory: str, batch_size: int, *, seed: int = 0, pad_id: int = 0,
                   shuffle_buffer: int = 20000,
                   input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """The cached windows, shuffled and repeated, bucketed like the streamed transfer text."""
    info = read_info(directory)
    if info is None:
        raise FileNotFoundError(f"{directory}: no finished teacher cache ({INFO_FILE} missing)")
    files = sorted(glob.glob(os.path.join(glob.escape(directory), "shard-*.tfrecord")))
    records = tf.data.TFRecordDataset(files)
    if input_context is not None and input_context.num_input_pipelines > 1:
        records = records.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    spec = {name: tf.io.RaggedFeature(tf.int64) for name in WINDOW_FEATURES}
    for task in info["tasks"]:
        spec[values_key(task)] = tf.io.RaggedFeature(tf.float32)
        spec[ids_key(task)] = tf.io.RaggedFeature(tf.int64)
    k_per_task = info["k_per_task"]

    def parse(record):
        example = tf.io.parse_single_example(record, spec)
        window = {name: tf.cast(example[name], tf.int32) for name in WINDOW_FEATURES}
        for task in info["tasks"]:
            window[values_key(task)] = tf.reshape(example[values_key(task)], [-1, k_per_task[task]])
            window[ids_key(task)] = tf.reshape(tf.cast(example[ids_key(task)], tf.int32), [-1, k_per_task[task]])
        return window

    windows = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat().map(parse)
    return pipeline.bucket_batches(windows, batch_size, pad_id, drop_remainder=True).prefetch(2)


def prepare(teacher, unlabeled_fn, directory: str, top_k: int, num_windows: int, batch_size: int, source: str,
            seed: int, pad_id: int):
    """Writes (or reuses) the cache over the first windows of `unlabeled_fn`; returns the
    `(batch_size, input_context) -> dataset` the soft stage then reads instead of the live teacher."""
    write_cache(teacher, unlabeled_fn(batch_size, None), directory, top_k, num_windows, source=source)
    return lambda size, context: cached_dataset(directory, size, seed=seed, pad_id=pad_id, input_context=context)
