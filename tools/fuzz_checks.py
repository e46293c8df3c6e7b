"""The surfaces tools/fuzz.py drives, each with its generator and its per-input property check.

A surface's `check_batch(items)` returns one `(outcome, detail)` per item: `ok`, `rejected: …`
(a bad file refused with a `DataError` that names the file and line), or `mismatch` with what was
wrong. An exception escaping it is a crash; the fuzzer then re-runs the batch item by item.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import random
import re
from typing import Callable

import numpy as np
import tensorflow as tf

from export.saved_model import export_saved_model
from export.tflite import export_tflite
from tagger.data.corpus import DataError, read_conllu, read_two_column
from tagger.data.sentence import NER_TAGS, UPOS_TAGS
from tagger.data.words import WordSplitter
from tagger.models.tagger import load_model_dir
from tagger.predict import predict
from tagger.runtime.saved_model import SavedModelTagger, latest_saved_model
from tagger.runtime.tflite import TFLiteTagger
from tools import fuzz_inputs as gen
from tools import tiny_models

WORDS_SPEC = tf.RaggedTensorSpec([None, None], tf.string, ragged_rank=1, row_splits_dtype=tf.int32)
SPLITTER = WordSplitter()
FORBIDDEN_IN_FORM = re.compile("[\t\n\r]")
BOM = "\ufeff".encode("utf-8")


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


# -- tagger.predict -------------------------------------------------------------------------

def conllu_blocks(path: str) -> list[list[list[str]]]:
    """Output CoNLL-U as sentences of token rows; raises if it is not UTF-8 or holds a CR."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")  # strict: the output must be valid UTF-8
    if "\r" in text:  # a text-mode reader (universal newlines) would cut the line there
        raise ValueError("output holds a carriage return")
    blocks = [block for block in text.split("\n\n") if block.strip()]
    return [[line.split("\t") for line in block.split("\n") if line and not line.startswith("#")]
            for block in blocks]


def token_problem(rows: list[list[str]], words: list[str]) -> str:
    if [row[1] for row in rows if "-" not in row[0] and "." not in row[0]] != words:
        return f"{len(rows)} token rows for {len(words)} words"
    for row in rows:
        if len(row) != 10 or row[3] not in UPOS_TAGS or not row[5]:
            return f"bad row {row}"
    return ""


def predict_text_check(model: str, scratch: str):
    path, output = os.path.join(scratch, "input.txt"), os.path.join(scratch, "output.conllu")

    def check(items: list[bytes]):
        valid = [i for i, text in enumerate(items) if _is_utf8(text)]
        results: list = [None] * len(items)
        if valid:
            with open(path, "wb") as f:
                f.write(b"".join(items[i] + b"\n" for i in valid))
            quietly(predict, model, path, output, input_format="text")
            blocks = conllu_blocks(output)
            lines = [items[i] for i in valid]
            if lines[0].startswith(BOM):  # a byte-order mark opening the file is no text
                lines[0] = lines[0][len(BOM):]
            expected = reference_words(lines)
            if len(blocks) != len(valid):
                raise ValueError(f"{len(blocks)} sentences out for {len(valid)} lines")
            for i, block, words in zip(valid, blocks, expected):
                problem = token_problem(block, [w.decode("utf-8") for w in words])
                results[i] = ("mismatch", problem) if problem else ("ok", "")
        for i, text in enumerate(items):
            if results[i] is None:  # invalid UTF-8: refused with the file and line, nothing written
                line = 1 + i % 3
                with open(path, "wb") as f:
                    f.write(b"ok line\n" * (line - 1) + text + b"\n")
                try:
                    quietly(predict, model, path, output + ".bad", input_format="text")
                    results[i] = ("mismatch", "invalid UTF-8 was tagged")
                except DataError as e:
                    good = e.path == path and e.line == line and not os.path.exists(output + ".bad")
                    results[i] = ("rejected: invalid UTF-8", "") if good else ("mismatch", f"bad error: {e}")
        return results
    return check


def quietly(function, *args, **kwargs):
    """Runs `function` without its stderr notes (predict warns once per file about re-split tokens)."""
    with contextlib.redirect_stderr(io.StringIO()):
        return function(*args, **kwargs)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def conllu_words(rng: random.Random) -> list[str]:
    """A gold-tokenised sentence a CoNLL-U file can hold: no tab or line break in a form, none
    empty; forms of whitespace only (U+3000, NEL, ...) stay."""
    words = [FORBIDDEN_IN_FORM.sub("", w) for w in gen.words(rng)]
    return [w or "_" for w in words] or ["_"]


def predict_conllu_check(model: str, scratch: str):
    path, output = os.path.join(scratch, "input.conllu"), os.path.join(scratch, "output.conllu")

    def check(items: list[list[str]]):
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for k, words in enumerate(items):
                f.write(f"# sent_id = {k}\n" + "".join(f"{i}\t{w}\t_\t_\t_\t_\t_\t_\t_\t_\n"
                                                     for i, w in enumerate(words, start=1)) + "\n")
        quietly(predict, model, path, output, input_format="conllu")
        blocks = conllu_blocks(output)
        if len(blocks) != len(items):
            raise ValueError(f"{len(blocks)} sentences out for {len(items)} in")
        results = []
        for block, words in zip(blocks, items):
            problem = token_problem(block, words)
            results.append(("mismatch", problem) if problem else ("ok", ""))
        return results
    return check


# -- the models and the list of surfaces ----------------------------------------------------

def prepared_models(work_dir: str, wordpiece: str | None, sentencepiece: str | None) -> dict[str, str]:
    """{tokenizer kind: model dir}, training the tiny sample taggers when none is given, exported."""
    if not wordpiece and not os.path.exists(os.path.join(work_dir, "wordpiece", "model", "checkpoints")):
        tiny_models.wordpiece_tagger(os.path.join(work_dir, "wordpiece"))
    if not sentencepiece and not os.path.exists(os.path.join(work_dir, "sentencepiece", "model", "checkpoints")):
        spm_file = tiny_models.train_tiny_spm(os.path.join(work_dir, "spm"))
        tiny_models.sentencepiece_tagger(os.path.join(work_dir, "sentencepiece"), spm_file)
    models = {"wordpiece": wordpiece or os.path.join(work_dir, "wordpiece", "model"),
              "sentencepiece": sentencepiece or os.path.join(work_dir, "sentencepiece", "model")}
    for model_dir in models.values():
        try:
            latest_saved_model(model_dir)
        except ValueError:
            export_saved_model(model_dir, verbose=False)
        if not os.path.exists(os.path.join(model_dir, "export", "tagger_dynamic_int8.tflite")):
            export_tflite(model_dir, "dynamic_int8", verbose=False)
    return models


def build_surfaces(work_dir: str, wordpiece: str | None = None, sentencepiece: str | None = None,
                   only: list[str] | None = None) -> list[Surface]:
    scratch = os.path.join(work_dir, "scratch")
    os.makedirs(scratch, exist_ok=True)
    surfaces = [Surface("conllu_reader", gen.conllu_file, reader_check(read_conllu, scratch, "xx_fuzz-ud-test.conllu"), 1),
                Surface("two_column_reader", gen.two_column_file, reader_check(read_two_column, scratch, "fuzz.txt"), 1)]
    wanted = lambda name: not only or name in only  # noqa: E731
    if only and all(name.endswith("_reader") for name in only):
        return [s for s in surfaces if wanted(s.name)]
    for kind, model_dir in prepared_models(work_dir, wordpiece, sentencepiece).items():
        _, tokenizer, config = load_model_dir(model_dir)
        labels = config["tasks"]
        saved_model = SavedModelTagger(model_dir)
        tflite = os.path.join(model_dir, "export", "tagger_dynamic_int8.tflite")
        surfaces += [
            Surface(f"encode_words[{kind}]", gen.words, encode_words_check(tokenizer)),
            Surface(f"encode_text[{kind}]", gen.text, encode_text_check(tokenizer)),
            Surface(f"saved_model.serving_default[{kind}]", gen.text, serving_default_check(saved_model, labels)),
            Surface(f"saved_model.tag_words[{kind}]", gen.words, tag_words_check(saved_model, labels)),
            Surface(f"saved_model.tag_ids[{kind}]", random_ids(tokenizer.vocab_size, tokenizer.max_seq_length),
                    tag_ids_check(saved_model, tokenizer, labels)),
            Surface(f"tflite_dynamic_int8[{kind}]", gen.text, tflite_check(tflite, labels)),
            Surface(f"predict.text[{kind}]", gen.text_line, predict_text_check(tflite, scratch), 500),
            Surface(f"predict.conllu[{kind}]", conllu_words, predict_conllu_check(tflite, scratch), 500)]
    return [s for s in surfaces if wanted(s.name)]
