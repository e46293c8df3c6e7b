"""Export, verify and summarise a distilled student: the end of `tagger.distill --export=...`.

Prints accuracy, size and latency of teacher vs student vs each exported
artifact, all measured in this process on the same sentences.
"""
from __future__ import annotations

import json
import os
import statistics
import time

import export  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf

from export.saved_model import export_saved_model
from export.tflite import export_tflite
from export.verify import gates, verify
from tagger.data.corpus import read_corpus
from tagger.errors import UserError
from tagger.flags_common import TFLITE_VARIANTS
from tagger.inference import WordTagger
from tagger.markdown import text_table
from tagger.models.tagger import load_model_dir, write_json_atomic
from tagger.runtime.backends import runtime_name, score_backend
from tagger.runtime.saved_model import SavedModelTagger
from tagger.runtime.tflite import TFLiteTagger


def directory_size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names)


def checkpoint_size(model_dir: str) -> int:
    prefix = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    folder = os.path.dirname(prefix)
    stem = os.path.basename(prefix)
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.startswith(stem + "."))


def median_ms(tag_one, sentences: list, repeats: int = 1) -> float:
    """Median wall time of tagging one sentence at a time (after one warm-up call)."""
    tag_one(sentences[0])
    times = []
    for _ in range(repeats):
        for sentence in sentences:
            start = time.perf_counter()
            tag_one(sentence)
            times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def _macro(metrics: dict | None, task: str) -> float | None:
    return (metrics or {}).get("tasks", {}).get(task, {}).get("macro_f1")


def export_and_summarise(model_dir: str, teacher_dir: str, exports: list[str], verify_data: str | None,
                         latency_sentences: int = 50, min_agreement: float | None = None,
                         test_data: str | None = None) -> dict:
    """Exports, verifies (`min_agreement`: one gate for every artifact instead of export.verify's
    per-precision gates), scores each artifact on `test_data` (metrics/test_<runtime>.json: what the
    shipped file gets, raw text in) and prints teacher vs student vs artifacts; `verified` says if
    all passed."""
    unknown = [name for name in exports if name != "saved_model" and name not in TFLITE_VARIANTS]
    if unknown:
        raise UserError(f"--export: unknown artifact(s) {unknown}; use saved_model, {', '.join(TFLITE_VARIANTS)}")
    artifacts = []
    if "saved_model" in exports:
        artifacts.append(export_saved_model(model_dir, overwrite=True, verbose=False))
    for variant in (name for name in exports if name in TFLITE_VARIANTS):
        artifacts.append(export_tflite(model_dir, variant, calibration_data=verify_data, verbose=False))
    thresholds = {precision: min_agreement for precision in gates()} if min_agreement is not None else None
    report = verify(model_dir, verify_data, artifacts, thresholds, verbose=True) if verify_data else {}
    tested = {}
    if test_data:
        test_sentences = read_corpus(test_data)
        for path in artifacts:
            tested[path] = score_backend(path, test_sentences, f"test_{runtime_name(path)}", model_dir=model_dir)

    # Latency: the same dev sentences, one at a time, one after another, in this process.
    sentences = [s.words for s in read_corpus(verify_data)][:latency_sentences] if verify_data else \
        [["This", "is", "a", "short", "sentence", "."]]
    rows = []
    metrics_dir = os.path.join(model_dir, "metrics")
    load = lambda name: json.load(open(os.path.join(metrics_dir, name))) if os.path.exists(
        os.path.join(metrics_dir, name)) else None
    student_metrics, teacher_metrics = load("test.json"), load("teacher_test.json")
    tasks = list((student_metrics or {}).get("tasks", {}))
    for name, directory, metrics in (("teacher", teacher_dir, teacher_metrics), ("student", model_dir,
                                                                                    student_metrics)):
        model, tokenizer, config = load_model_dir(directory)
        tagger = WordTagger(model, tokenizer, config["tasks"], batch_size=1)
        rows.append({"artifact": f"{name} (TF checkpoint)", "size_bytes": checkpoint_size(directory),
                     "ms_per_sentence": median_ms(lambda words: tagger.tag([words]), sentences),
                     **{task: _macro(metrics, task) for task in tasks}})
    by_path = {entry.get("path"): entry for entry in report.get("artifacts", [])} if report else {}
    for path in artifacts:
        entry = by_path.get(path, {})
        scores = {task: _macro(tested.get(path) or entry.get("metrics"), task) for task in tasks}
        if path.endswith(".tflite"):
            runner = TFLiteTagger(path, num_threads=1, batch_size=1)
            ms = median_ms(lambda words: runner.tag_text([" ".join(words)]), sentences)
        else:
            runner = SavedModelTagger(path, batch_size=1)
            ms = median_ms(lambda words: runner.tag_words([words]), sentences)
        rows.append({"artifact": os.path.relpath(path, model_dir), "size_bytes": directory_size(path),
                     "ms_per_sentence": ms, "agreement": entry.get("agreement"), **scores})
    summary = {"sentences_timed": len(sentences), "rows": rows, "verified": report.get("passed", True)}
    write_json_atomic(os.path.join(metrics_dir, "summary.json"), summary)
    print("\n" + format_summary(summary, tasks))
    return summary


def format_summary(summary: dict, tasks: list[str]) -> str:
    rows = [[row["artifact"], f"{row['size_bytes'] / 1e6:.2f}", f"{row['ms_per_sentence']:.2f}"]
            + [f"{100 * row[t]:.2f}" if row.get(t) is not None else "-" for t in tasks] for row in summary["rows"]]
    return ("== summary: teacher vs student vs exported (macro F1 on test; artifacts on the verify set when "
            "there is no test data; latency = median, batch 1, this machine)\n"
            + text_table(["artifact", "size MB", "ms/sent"] + [f"{t} F1" for t in tasks], rows))
