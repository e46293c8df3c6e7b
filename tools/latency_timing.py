"""bench_latency's measurements: one `Run` of records, and the timing of a model in each runtime.

Every function takes the run's settings as plain values (`Run.settings`, the dict bench_latency
stores in its JSON), so the binary keeps the flags and this module keeps the stopwatch.
"""
from __future__ import annotations

import time

from tools import benchenv as E
from tools import benchlib as B
from tools.bench_inputs import SentenceMaker, text_words
from tools import latency_report as report


class Run:
    """Settings, collected records and the time budget of one benchmark run.

    `settings` is bench_latency's `settings()`: plain values of its flags."""

    def __init__(self, settings: dict):
        self.settings = settings
        self.budget = E.Budget(settings["time_budget_s"])
        self.latency: list[dict] = []
        self.skipped: list[dict] = []
        self.phases: list[dict] = []
        self.reused: list[str] = []

    def timing(self, fn, min_runs: int | None = None) -> dict:
        s = self.settings
        if s["quick"]:
            return E.measure(fn, warmup=1, min_runs=2, max_runs=3, max_seconds=0.0)
        # Near the end of the budget, measurements shrink (never below min_runs).
        seconds = max(0.1, min(s["max_seconds"], self.budget.left() / 150))
        return E.measure(fn, warmup=s["warmup"], min_runs=min(min_runs or s["min_runs"], s["min_runs"]),
                         max_seconds=seconds)

    def record(self, model: str, runtime: str, threads: int, input_name: str, batch: int, fn,
               min_runs: int | None = None) -> dict:
        result = {"model": model, "runtime": runtime, "threads": threads, "input": input_name, "batch": batch,
                  **self.timing(fn, min_runs)}
        self.latency.append(result)
        E.log(f"  {model:8s} {runtime:20s} t={threads} {input_name:10s} b={batch:<3d} "
              f"{result['median_ms']:10.3f} ms  ({result['runs']} runs)")
        return result

    def skip(self, what: str, why: str) -> None:
        self.skipped.append({"what": what, "why": why})
        E.log(f"  skipped {what}: {why}")

    def find(self, model, runtime, threads, input_name, batch=1) -> dict | None:
        for r in self.latency:
            if (r["model"], r["runtime"], r["threads"], r["input"], r["batch"]) == \
                    (model, runtime, threads, input_name, batch):
                return r
        return None

    def median(self, *key) -> float | None:
        r = self.find(*key)
        return r["median_ms"] if r else None


def build_inputs(tokenizer, text_patterns: str, settings: dict) -> dict:
    """Named sentences: exactly-L-wordpiece windows, the n-word sentence, short/long, the throughput
    batch, and the full_int8 calibration sentences, all cut from the running text of `text_patterns`."""
    maker = SentenceMaker(tokenizer, text_words(text_patterns))
    words = settings["sentence_words"]
    inputs = {}
    for length in settings["lengths"]:
        inputs[f"text_{length}"] = maker.pieces_sentence(length - 2, start=length)
    for n in [words] + settings["proportional_words"]:
        inputs[f"text_{n}w"] = maker.words_sentence(n, start=n)
    batch = [maker.words_sentence(words, start=i * words) for i in range(settings["batch_size"])]
    described = {name: maker.describe(sentence) for name, sentence in inputs.items()}
    batch_words = sum(maker.describe(s)["words"] for s in batch)
    calibration = 4 if settings["quick"] else settings["calibration_sentences"]
    return {"sentences": inputs, "described": described, "batch": batch, "batch_words": batch_words,
            "calibration": [maker.words_sentence(words, start=7919 + 37 * i) for i in range(calibration)]}


def ids_inputs(tokenizer, sentences: dict, lengths: list[int]) -> dict:
    """ids_L: [CLS] + the wordpieces of text_L + [SEP], one window of exactly L (whatever the
    model's max_seq_length), so ids and text inputs hold the same pieces. text_L is sized with
    the student's tokenizer; a model with another vocabulary gets its pieces cut or repeated to L."""
    import tensorflow as tf
    out = {}
    for length in lengths:
        pieces = tokenizer.text_to_pieces(tf.constant([sentences[f"text_{length}"]]))["piece_ids"]
        repeats = -(-(length - 2) // max(int(tf.size(pieces)), 1))
        pieces = tf.tile(pieces, [repeats])[:length - 2]
        ids = tf.concat([[tokenizer.cls_id], pieces, [tokenizer.sep_id]], axis=0)[tf.newaxis, :]
        out[f"ids_{length}"] = {"input_word_ids": ids, "input_mask": tf.ones_like(ids),
                                "input_type_ids": tf.zeros_like(ids)}
    return out


def time_text_and_batch(run: Run, role: str, runtime: str, threads: int, call, inputs: dict) -> None:
    """Batch-1 latency on every text input, then batch throughput on n-word sentences."""
    for name in report.text_names(run.settings, role):
        sentence = inputs["sentences"][name]
        run.record(role, runtime, threads, name, 1, lambda: call([sentence]))
    batch = inputs["batch"]
    result = run.record(role, runtime, threads, f"text_{run.settings['sentence_words']}w", len(batch),
                        lambda: call(batch), min_runs=3)
    result["sentences_per_s"] = len(batch) / (result["median_ms"] / 1000)
    result["words_per_s"] = inputs["batch_words"] / (result["median_ms"] / 1000)


def time_tf(run: Run, role: str, model, tokenizer, config, threads: int, inputs: dict) -> None:
    """The in-process serving module: `tag_ids` (the model on word ids) and `serving_default` (text)."""
    import tensorflow as tf
    from tagger.serving import TaggerModule
    module = TaggerModule(model, tokenizer, config["tasks"])
    positions = config["encoder"].get("max_position_embeddings")
    for name, features in ids_inputs(tokenizer, inputs["sentences"], run.settings["lengths"]).items():
        if positions and int(features["input_word_ids"].shape[1]) > positions:
            run.skip(f"{role} tf {name}", f"longer than the model's {positions} positions")
            continue
        run.record(role, "tf", threads, name, 1, lambda: module.tag_ids(**features))
    time_text_and_batch(run, role, "tf", threads, lambda s: module.serving_default(tf.constant(s)), inputs)


def reuse_from(run: Run, summary: dict) -> str | None:
    """The model directory whose exports are timed as they are, or None to export afresh."""
    given = not summary["source"].startswith("random weights")
    return summary["model_dir"] if run.settings["reuse_exports"] and given else None


def time_saved_model(run: Run, role: str, export_dir: str, tokenizer, threads: int, inputs: dict,
                     summary: dict) -> None:
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel uses)
    t0 = time.perf_counter()
    path, reused = B.saved_model(export_dir, reuse_from(run, summary))
    run.phases.append({"what": f"{role} saved_model " + ("reused" if reused else "export"),
                       "seconds": time.perf_counter() - t0, "path": path})
    if reused:
        run.reused.append(path)
    summary["sizes_bytes"]["saved_model"] = B.path_size(path)
    loaded = tf.saved_model.load(path)
    tag_ids, serving = loaded.signatures["tag_ids"], loaded.signatures["serving_default"]
    for name, features in ids_inputs(tokenizer, inputs["sentences"], run.settings["lengths"]).items():
        run.record(role, "saved_model", threads, name, 1, lambda: tag_ids(**features))
    time_text_and_batch(run, role, "saved_model", threads, lambda s: serving(sentences=tf.constant(s)), inputs)
    del loaded, tag_ids, serving


def time_tflite(run: Run, role: str, export_dir: str, variant: str, inputs: dict, summary: dict) -> None:
    from tagger.runtime.tflite import TFLiteTagger
    t0 = time.perf_counter()
    path, reused = B.tflite_model(export_dir, variant, inputs["calibration_file"], len(inputs["calibration"]),
                                  reuse_from(run, summary))
    run.phases.append({"what": f"{role} tflite {variant} " + ("reused" if reused else "export"),
                       "seconds": time.perf_counter() - t0, "path": path})
    if reused:
        run.reused.append(path)
    summary["sizes_bytes"][f"tflite_{variant}"] = B.path_size(path)
    threads_key = "tflite_threads" if role == "student" else "teacher_tflite_threads"
    for threads in run.settings[threads_key]:
        tagger = TFLiteTagger(path, num_threads=threads)
        time_text_and_batch(run, role, f"tflite_{variant}", threads, tagger.run, inputs)
        del tagger
