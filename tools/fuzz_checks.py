"""The per-input property checks of the surfaces tools/fuzz.py drives (tools/fuzz_surfaces.py lists them).

A surface's `check_batch(items)` returns one `(outcome, detail)` per item: `ok`, `rejected: …`
(a bad file refused with a `DataError` that names the file and line), or `mismatch` with what was
wrong. An exception escaping it is a crash; the fuzzer then re-runs the batch item by item.
"""
from __future__ import annotations

import dataclasses
import os
import random
import re
from typing import Callable

import numpy as np
import tensorflow as tf

from tagger.data.corpus import DataError
from tagger.data.words import WordSplitter
from tagger.runtime.tflite import TFLiteTagger

WORDS_SPEC = tf.RaggedTensorSpec([None, None], tf.string, ragged_rank=1, row_splits_dtype=tf.int32)
SPLITTER = WordSplitter()


@dataclasses.dataclass
class Surface:
    name: str
    generate: Callable[[random.Random], object]
    check_batch: Callable[[list], list[tuple[str, str]]]
    batch_size: int = 128

    def word_count(self, item) -> int:
        return len(item) if isinstance(item, list) else 0


def reference_words(texts: list[bytes]) -> list[list[bytes]]:
    """The toolkit's word rule on raw bytes: what every raw-text surface must tag, word for word."""
    words, _, _ = SPLITTER.split(tf.constant(texts, tf.string, shape=[len(texts)]))
    return words.to_list()


def per_sentence_labels(features: dict, sentences: int) -> np.ndarray:
    """Label positions per sentence, summed over its windows."""
    window_sentence = features["window_sentence"].numpy()
    per_window = features["label_mask"].numpy().sum(axis=1)
    return np.bincount(window_sentence, weights=per_window, minlength=sentences).astype(int)


# -- readers --------------------------------------------------------------------------------

def rejection_kind(problem: str) -> str:
    """A DataError's problem without the values it quotes or counts: 'unknown UPOS tag '…''."""
    return re.sub(r"\d+", "N", re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", problem))[:60]


def reader_check(reader, scratch: str, name: str):
    path = os.path.join(scratch, name)

    def check(items: list[bytes]):
        results = []
        for content in items:
            with open(path, "wb") as f:
                f.write(content)
            lines = content.count(b"\n") + 1
            try:
                sentences = reader(path)
            except DataError as e:
                if e.path != path or e.line is None or not 1 <= e.line <= lines:
                    results.append(("mismatch", f"DataError without a good file:line: {e}"))
                else:
                    results.append(("rejected: " + rejection_kind(e.problem), ""))
                continue
            bad = [s for s in sentences if not s.words or any(len(t) != len(s.words) for t in s.tags.values())]
            results.append(("mismatch", f"malformed sentence {bad[0]}") if bad else ("ok", ""))
        return results
    return check


# -- tokenizers -----------------------------------------------------------------------------

def encode_words_check(tokenizer):
    encode = tf.function(tokenizer.encode_words, input_signature=[WORDS_SPEC])

    def check(items: list[list[str]]):
        flat = [w.encode("utf-8", "surrogatepass") for s in items for w in s]
        ragged = tf.RaggedTensor.from_row_lengths(tf.constant(flat, tf.string, shape=[len(flat)]),
                                                  tf.constant([len(s) for s in items], tf.int32))
        labels = per_sentence_labels(encode(ragged), len(items))
        return [("ok", "") if n == len(s) else ("mismatch", f"{n} label positions for {len(s)} words")
                for n, s in zip(labels, items)]
    return check


def encode_text_check(tokenizer):
    encode = tf.function(tokenizer.encode_text, input_signature=[tf.TensorSpec([None], tf.string)])

    def check(items: list[bytes]):
        features = encode(tf.constant(items, tf.string, shape=[len(items)]))
        labels = per_sentence_labels(features, len(items))
        num_words = features["num_words"].numpy()
        results = []
        for text, n, labelled, expected in zip(items, num_words, labels, reference_words(items)):
            if n != len(expected) or labelled != n:
                results.append(("mismatch", f"{n} words, {labelled} label positions, word rule {len(expected)}"))
            else:
                results.append(("ok", ""))
        return results
    return check


# -- exported models ------------------------------------------------------------------------

def tag_count_problem(row_tags: dict, n: int, labels: dict) -> str:
    for task, tags in row_tags.items():
        if len(tags) < n or any(t not in labels[task] for t in tags[:n]):
            return f"{task}: {list(tags[:n])[:8]} is not {n} valid tags"
    return ""


def serving_default_check(saved_model, labels):
    signature = saved_model.loaded.signatures["serving_default"]

    def check(items: list[bytes]):
        out = {k: v.numpy() for k, v in signature(sentences=tf.constant(items, tf.string)).items()}
        results = []
        for i, expected in enumerate(reference_words(items)):
            n = int(out["num_words"][i])
            tags = {task: [t.decode() for t in out[task][i]] for task in labels}
            problem = (f"{n} words, word rule {len(expected)}" if n != len(expected)
                       else "words differ" if list(out["words"][i][:n]) != expected
                       else tag_count_problem(tags, n, labels))
            results.append(("mismatch", problem) if problem else ("ok", ""))
        return results
    return check


def tag_words_check(saved_model, labels):
    def check(items: list[list[str]]):
        results = []
        for words, row in zip(items, saved_model.tag_words(items)):
            problem = (f"{len(row['words'])} words out for {len(words)} in" if row["words"] != words
                       else tag_count_problem({task: row[task] for task in labels}, len(words), labels))
            results.append(("mismatch", problem) if problem else ("ok", ""))
        return results
    return check


def random_ids(vocab_size: int, max_length: int):
    def generate(rng: random.Random) -> list[int]:
        length = rng.randint(0, max_length - 2)
        return [rng.choice([rng.randrange(vocab_size), 0, 1, 2, 3, vocab_size - 1]) for _ in range(length)]
    return generate


def tag_ids_check(saved_model, tokenizer, labels):
    signature = saved_model.loaded.signatures["tag_ids"]

    def check(items: list[list[int]]):
        width = max(len(ids) for ids in items) + 2
        ids = np.full([len(items), width], tokenizer.pad_id, np.int32)
        mask = np.zeros_like(ids)
        for i, pieces in enumerate(items):
            row = [tokenizer.cls_id] + pieces + [tokenizer.sep_id]
            ids[i, :len(row)], mask[i, :len(row)] = row, 1
        out = signature(input_word_ids=tf.constant(ids), input_mask=tf.constant(mask),
                        input_type_ids=tf.zeros_like(ids))
        results = []
        for i in range(len(items)):
            bad = [task for task in labels if out[f"{task}_logits"].shape[:2] != (len(items), width)
                   or not np.all(np.isfinite(out[f"{task}_logits"][i].numpy()))]
            results.append(("mismatch", f"bad logits for {bad}") if bad else ("ok", ""))
        return results
    return check


def tflite_check(path: str, labels: dict):
    tagger = TFLiteTagger(path)

    def check(items: list[bytes]):
        out = tagger.run(items)
        results = []
        for i, expected in enumerate(reference_words(items)):
            n = int(out["num_words"][i])
            ids = {task: out[f"{task}_ids"][i][:n] for task in labels}
            problem = (f"{n} words, word rule {len(expected)}" if n != len(expected) else
                       next((f"{task}: ids {list(v[:8])} out of range" for task, v in ids.items()
                             if np.any(v < 0) or np.any(v >= len(labels[task]))), ""))
            results.append(("mismatch", problem) if problem else ("ok", ""))
        return results
    return check
