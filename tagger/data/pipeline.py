"""tf.data pipelines: labelled windows (mixed treebanks) and streamed unlabeled text.

Elements are dicts of 1-D int32 tensors, one per window: `input_word_ids`,
`input_mask`, `input_type_ids` (the casing bit for uncased vocabs), `piece_mask` (real wordpieces, not [CLS]/[SEP]/padding) and a
`<task>` label row per task (-1 where no loss applies: non-first wordpieces,
positions another window owns, and tasks the sentence's corpus lacks).
Batches are padded to their own longest window, after bucketing by length.
"""
from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from tagger.data import corpus
from tagger.data.corpus import Sentence
from tagger.data.labels import IGNORE_ID, label_ids
from tagger.data.tokenizer import PieceTokenizer
import tensorflow_datasets as tfds

BUCKET_BOUNDARIES = (16, 32, 64, 128, 256)
MIN_UNLABELED_CHARS = 10  # Tsai et al. App. A.1: drop sentences under 10 characters


def encode_labeled(tokenizer: PieceTokenizer, sentences: list[Sentence],
                   label_lists: dict[str, list[str]], chunk_size: int = 512,
                   word_features: dict[str, np.ndarray] | None = None) -> dict[str, tf.RaggedTensor]:
    """Tokenises once, eagerly: `{feature: RaggedTensor[windows, (length)]}` plus `window_sentence`.

    `word_features` (name -> `[words of all sentences, ...]`, in word order) are placed at each
    word's owned first piece, where its labels are, and are 0 at every other piece.
    """
    rows: dict[str, list[np.ndarray]] = {}
    window_sentence = []
    word_offset = 0
    for begin in range(0, len(sentences), chunk_size):
        chunk = sentences[begin:begin + chunk_size]
        words = tf.ragged.constant([s.words for s in chunk], dtype=tf.string, row_splits_dtype=tf.int32)
        features = tokenizer.encode_words(words)
        piece_word = np.cumsum(features["is_word_start"].numpy()) - 1
        position_piece = features["position_piece"].numpy()
        label_mask = features["label_mask"].numpy()
        lengths = features["input_mask"].numpy().sum(axis=1)
        columns = {
            "input_word_ids": features["input_word_ids"].numpy(),
            "input_mask": features["input_mask"].numpy(),
            "input_type_ids": features["input_type_ids"].numpy(),
            "piece_mask": (position_piece >= 0).astype(np.int32),
        }
        safe_piece = np.maximum(position_piece, 0)
        for task, labels in label_lists.items():
            word_labels = np.concatenate([
                label_ids(s.tags[task], labels) if task in s.tags else [IGNORE_ID] * len(s.words)
                for s in chunk] + [[IGNORE_ID]]).astype(np.int32)
            position_word = piece_word[safe_piece] if piece_word.size else np.zeros_like(safe_piece)
            columns[task] = np.where(label_mask, word_labels[position_word], IGNORE_ID).astype(np.int32)
        chunk_words = sum(len(s.words) for s in chunk)
        for name, values in (word_features or {}).items():
            placed = np.zeros(label_mask.shape + values.shape[1:], values.dtype)
            placed[label_mask.astype(bool)] = values[word_offset:word_offset + chunk_words]
            columns[name] = placed
        word_offset += chunk_words
        for name, matrix in columns.items():
            rows.setdefault(name, []).extend(row[:n] for row, n in zip(matrix, lengths))
        window_sentence.extend(begin + features["window_sentence"].numpy())
    # from_row_lengths on one flat array: tf.ragged.constant walks Python lists, minutes at 100k windows
    ragged = {name: tf.RaggedTensor.from_row_lengths(
        _int32_unless_float(np.concatenate(value)) if value else np.zeros([0], np.int32),
        np.array([len(row) for row in value], dtype=np.int64)) for name, value in rows.items()}
    ragged["window_sentence"] = tf.constant(np.array(window_sentence, dtype=np.int32))
    return ragged


def _int32_unless_float(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float32 if np.issubdtype(values.dtype, np.floating) else np.int32)


def _pad_value(name: str, pad_id: int) -> int:
    """[PAD] for word ids, IGNORE_ID for label rows, 0 for masks and cached teacher outputs."""
    if name == "input_word_ids":
        return pad_id
    if name in ("input_mask", "input_type_ids", "piece_mask") or name.startswith("teacher_"):
        return 0
    return IGNORE_ID


def _pad_values(element_spec: dict, pad_id: int) -> dict:
    return {name: tf.constant(_pad_value(name, pad_id), dtype=spec.dtype) for name, spec in element_spec.items()}


def bucket_batches(dataset: tf.data.Dataset, batch_size: int, pad_id: int, drop_remainder: bool) -> tf.data.Dataset:
    """Batches windows of similar length together, padded to the batch's own longest."""
    spec = {name: s for name, s in dataset.element_spec.items()}
    return dataset.bucket_by_sequence_length(
        element_length_func=lambda element: tf.shape(element["input_word_ids"])[0],
        bucket_boundaries=list(BUCKET_BOUNDARIES),
        bucket_batch_sizes=[batch_size] * (len(BUCKET_BOUNDARIES) + 1),
        padded_shapes={name: [None] + s.shape[1:].as_list() for name, s in spec.items()},
        padding_values=_pad_values(spec, pad_id),
        drop_remainder=drop_remainder)


def window_treebanks(encoded: dict[str, tf.RaggedTensor], sentences: list[Sentence]) -> np.ndarray:
    """`int [windows]`: the index (in sorted name order) of each window's treebank."""
    names = sorted({s.treebank for s in sentences})
    of_sentence = np.array([names.index(s.treebank) for s in sentences], dtype=np.int64)
    return of_sentence[encoded["window_sentence"].numpy()] if of_sentence.size else of_sentence


def treebank_probabilities(window_counts: np.ndarray, alpha: float) -> np.ndarray:
    """Each treebank drawn with probability ∝ its windows ** alpha.

    1 keeps the data's own mix; 0 draws every treebank equally; between, small treebanks are
    drawn more often than their size alone would (the exponent smoothing of multilingual
    BERT's and XLM's pretraining), so a step budget reaches their rare labels sooner.
    """
    weights = np.asarray(window_counts, dtype=np.float64) ** alpha
    return weights / weights.sum()


def samples_treebanks(treebanks: np.ndarray | None, alpha: float) -> bool:
    """Whether `alpha` changes anything: it must differ from 1, and there must be two treebanks."""
    return treebanks is not None and alpha != 1.0 and len(np.unique(treebanks)) > 1


def _treebank_sampled_indices(indices: np.ndarray, treebanks: np.ndarray, alpha: float, seed: int,
                              shuffle_buffer: int) -> tf.data.Dataset:
    """Endless window indices: a treebank by `treebank_probabilities`, then its next shuffled window."""
    present = np.unique(treebanks)
    counts = np.array([np.sum(treebanks == t) for t in present])
    streams = [tf.data.Dataset.from_tensor_slices(indices[treebanks == t]).shuffle(
        min(int(n), shuffle_buffer), seed=seed + 1 + int(t), reshuffle_each_iteration=True).repeat()
        for t, n in zip(present, counts)]
    return tf.data.Dataset.sample_from_datasets(
        streams, weights=treebank_probabilities(counts, alpha).tolist(), seed=seed)


def labeled_dataset(encoded: dict[str, tf.RaggedTensor], batch_size: int, *, training: bool,
                    seed: int = 0, pad_id: int = 0, shuffle_buffer: int = 100000,
                    input_context: tf.distribute.InputContext | None = None,
                    treebanks: np.ndarray | None = None, treebank_alpha: float = 1.0) -> tf.data.Dataset:
    """Training: shuffled (all treebanks mixed), repeated, bucketed. Eval: one ordered pass.

    Window indices are shuffled, not windows, so the iterator checkpoint holds ints, not data.
    With `treebanks` (`window_treebanks`) and `treebank_alpha` < 1, training draws treebanks
    by `treebank_probabilities` instead of in proportion to their size. One treebank keeps the
    plain shuffle, so single-treebank runs do not depend on the exponent.
    """
    tensors = {name: value for name, value in encoded.items() if name != "window_sentence"}
    num_windows = int(encoded["input_word_ids"].nrows())
    indices = tf.data.Dataset.range(num_windows)
    shard = (0, 1)
    if input_context is not None and input_context.num_input_pipelines > 1:
        shard = (input_context.input_pipeline_id, input_context.num_input_pipelines)
        indices = indices.shard(shard[1], shard[0])
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    if training and samples_treebanks(treebanks, treebank_alpha):
        mine = np.arange(num_windows, dtype=np.int64)[shard[0]::shard[1]]
        indices = _treebank_sampled_indices(mine, treebanks[mine], treebank_alpha, seed, shuffle_buffer)
    elif training:
        indices = indices.shuffle(min(num_windows, shuffle_buffer), seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = indices.map(lambda index: {name: value[index] for name, value in tensors.items()})
    if not training:
        return dataset.padded_batch(batch_size, padding_values=_pad_values(dataset.element_spec, pad_id))
    return bucket_batches(dataset, batch_size, pad_id, drop_remainder=True).prefetch(2)


# -- unlabeled text, streamed -------------------------------------------------

def _text_files_dataset(files: list[str]) -> tf.data.Dataset:
    gzipped = {f.endswith(".gz") for f in files}
    if len(gzipped) > 1:
        raise corpus.DataError(",".join(files[:3]), None, "mixes .gz and plain text files; give them separately")
    compression = "GZIP" if gzipped == {True} else ""
    # Round robin over every file: a multilingual transfer set (one file per language) mixes all
    # its languages from the first batch, instead of a few languages at a time.
    return tf.data.Dataset.from_tensor_slices(files).interleave(
        lambda path: tf.data.TextLineDataset(path, compression_type=compression),
        cycle_length=max(len(files), 1), block_length=1)


def _tfrecord_dataset(files: list[str], feature: str = "text") -> tf.data.Dataset:
    parse = lambda record: tf.io.parse_single_example(
        record, {feature: tf.io.FixedLenFeature([], tf.string)})[feature]
    return tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, cycle_length=max(len(files), 1), block_length=1).map(parse)


def _tfds_text(spec: str, data_dir: str | None) -> tf.data.Dataset:
    """`NAME[/CONFIG][:SPLIT]` of a prepared TFDS dataset; its `text` feature, one line each."""
    name, _, split = spec.partition(":")
    dataset = tfds.load(name, split=split or "train", data_dir=data_dir, download=False, shuffle_files=False)
    return dataset.map(lambda example: example["text"]).flat_map(
        lambda text: tf.data.Dataset.from_tensor_slices(tf.strings.split(text, "\n")))


def text_lines(patterns: str, *, data_dir: str | None = None, num_shards: int = 1,
               shard_index: int = 0) -> tf.data.Dataset:
    """Lines from text globs (`.txt`, `.txt.gz`), TFRecord shards (`.tfrecord*`) or `tfds:NAME`.

    Shards are split between input pipelines (workers) by file when there are
    enough files, else by line, so no sentence is read twice per epoch.
    """
    if patterns.startswith("tfds:"):
        return _tfds_text(patterns[len("tfds:"):], data_dir).shard(num_shards, shard_index)
    files = corpus.expand_globs(patterns)
    by_file = len(files) >= num_shards
    if by_file and num_shards > 1:
        files = files[shard_index::num_shards]
    is_tfrecord = [".tfrecord" in os.path.basename(f) for f in files]
    if any(is_tfrecord) and not all(is_tfrecord):
        raise corpus.DataError(patterns, None, "mixes TFRecord shards and text files; give them separately")
    lines = _tfrecord_dataset(files) if all(is_tfrecord) else _text_files_dataset(files)
    if not by_file and num_shards > 1:
        lines = lines.shard(num_shards, shard_index)
    return lines


def long_enough(line: tf.Tensor) -> tf.Tensor:
    return tf.strings.length(tf.strings.strip(line), unit="UTF8_CHAR") >= MIN_UNLABELED_CHARS


def replace_words(lines: tf.Tensor, probability: float, seed: tf.Tensor, pool: tf.Tensor | None = None) -> tf.Tensor:
    """Replaces each whitespace word of a batch of lines, with `probability`, by a word drawn from `pool`.

    Augments a small transfer set (Tang et al. 2019; TinyBERT, Jiao et al. 2020): the teacher
    labels the new contexts, so the student sees words in more contexts than the corpus holds. The default
    pool is the batch's distinct words (mostly content words); `vocab_words` instead reaches
    words the corpus never shows. `seed` is a stateless seed of shape [2], so a resumed
    pipeline repeats the same draws.
    """
    words = tf.strings.split(lines)
    flat = words.flat_values
    if pool is None:
        pool, _ = tf.unique(flat)
    choose_seed, pick_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    replace = tf.random.stateless_uniform(tf.shape(flat), choose_seed) < probability
    picks = tf.random.stateless_uniform(tf.shape(flat), pick_seed, maxval=tf.maximum(tf.size(pool), 1),
                                        dtype=tf.int32)
    replaced = tf.where(replace, tf.gather(pool, picks), flat)
    return tf.strings.reduce_join(words.with_flat_values(replaced), axis=1, separator=" ")


def vocab_words(vocab: list[str]) -> list[str]:
    """The whole-word entries of a WordPiece vocab (no `##` pieces, no `[SPECIAL]` tokens, no bare punctuation)."""
    return [t for t in vocab if not t.startswith("##") and not (t.startswith("[") and t.endswith("]"))
            and any(c.isalnum() for c in t)]


def line_batches(lines: tf.data.Dataset, *, seed: int = 0, shuffle_buffer: int = 10000, lines_per_call: int = 64,
                 word_replacement: float = 0.0, replacement_words: list[str] | None = None,
                 repeat: bool = True) -> tf.data.Dataset:
    """Transfer lines, long enough, shuffled and repeated, in batches of `lines_per_call` [lines].

    `word_replacement` > 0 augments each batch with `replace_words`, drawing from
    `replacement_words` when given, else from the batch's own words.
    """
    lines = lines.filter(long_enough)
    if repeat:
        lines = lines.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    batches = lines.batch(lines_per_call)
    if word_replacement > 0:
        pool = tf.constant(replacement_words, tf.string) if replacement_words else None
        batches = batches.enumerate().map(lambda index, batch: replace_words(
            batch, word_replacement, tf.stack([tf.constant(seed, tf.int64), index]), pool))
    return batches


def unlabeled_dataset(tokenizer: PieceTokenizer, lines: tf.data.Dataset, batch_size: int, *,
                      seed: int = 0, shuffle_buffer: int = 10000, lines_per_call: int = 64,
                      word_replacement: float = 0.0, replacement_words: list[str] | None = None) -> tf.data.Dataset:
    """Streams windows of raw text for per-piece distillation; nothing is loaded into memory whole."""
    def windows(batch_of_lines):
        features = tokenizer.encode_text(batch_of_lines)
        return {"input_word_ids": features["input_word_ids"], "input_mask": features["input_mask"],
                "input_type_ids": features["input_type_ids"],
                "piece_mask": tf.cast(features["position_piece"] >= 0, tf.int32)}

    def trim(window):
        length = tf.reduce_sum(window["input_mask"])
        return {name: value[:length] for name, value in window.items()}

    batches = line_batches(lines, seed=seed, shuffle_buffer=shuffle_buffer, lines_per_call=lines_per_call,
                           word_replacement=word_replacement, replacement_words=replacement_words)
    dataset = batches.map(windows).unbatch().map(trim)
    return bucket_batches(dataset, batch_size, tokenizer.pad_id, drop_remainder=True).prefetch(2)


def sentences_as_text(sentences: list[Sentence]) -> list[str]:
    """Labelled training text as raw lines, to mix into the transfer set."""
    return [" ".join(s.words) for s in sentences]
