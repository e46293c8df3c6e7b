"""Distillation throughput: 'soft' distillation steps/s against teacher forward-only steps/s, and the input pipeline.

  python tools/bench_distill.py [--teacher_dir=DIR] [--output_json=F] [--output_md=F]
  python -m tools.bench_distill --quick        # smoke test

One step is what `tagger.training.train` runs for the tsai2019 stage: under a
GradientTape, `Distiller.stage_loss('soft', batch)` (teacher forward, student
forward), the student's gradients, clipping to global norm 1 and the AdamW update
(`create_optimizer`), inside `strategy.run` in a tf.function. Its rate is compared with
the teacher's forward pass alone on the same batch shape (goal: ratio >= 0.8, i.e.
distillation costs at most 25% more than running the teacher).

Step variants, timed side by side in this one run, in interleaved rounds (`--variants`):
  baseline            the training.py step (`tagger.training.make_train_step`)
  jit                 the same step with `jit_compile=True` (XLA)
  jit_teacher         only the teacher's forward pass compiled with XLA, the rest as baseline
  dense_grads         embedding gradients (IndexedSlices) made dense before clipping, so AdamW
                      takes its fused dense kernel instead of the sparse path's whole-table passes
  jit_student         teacher forward in plain TF, student loss/backward/update under XLA
  student_only        reference, not a recipe: the student's part alone (teacher logits precomputed)
  frozen_embeddings   reference, changes the recipe: the word-embedding table not trained
The semantics-preserving variants are checked against `baseline` on tiny models: the
same weights after a few steps (dropout off), reported as the largest difference.
Reference rows: the teacher's forward pass alone, plain (the goal's denominator) and under XLA.

XLA compiles one program per input shape: the fixed-shape numbers here carry over to
training only if its batches come in a few fixed shapes (e.g. padded to bucket boundaries).

The input pipeline (`unlabeled_dataset` over the unlabeled text) is timed alone:
windows/s, wordpieces/s and sentences/s, to compare with the rate training consumes windows.
"""
from __future__ import annotations

import os
import sys
import time

if __package__ in (None, ""):  # run as `python tools/bench_distill.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tools  # noqa: F401,E402  (TF_USE_LEGACY_KERAS before TensorFlow)
from absl import app, flags  # noqa: E402

from tools import benchenv as E  # noqa: E402
from tools import benchlib as B  # noqa: E402
from tools.bench_inputs import resolve_text, resolve_vocab  # noqa: E402
from tools.distill_step_variants import (SEMANTICS_PRESERVING, VARIANTS, check_equivalence, fixed_batch,  # noqa: E402
                                         make_step)


def define_flags():
    flags.DEFINE_string("teacher_dir", None, "Teacher model directory; default: random mBERT-sized weights.")
    B.define_model_flags()
    flags.DEFINE_string("text", None, "Unlabeled text globs for the pipeline; default ../shared/data/unlabeled, "
                        "else the embedded sample.")
    flags.DEFINE_integer("batch_size", 32, "Windows per step.")
    flags.DEFINE_integer("seq_length", 64, "Wordpieces per window ([CLS]/[SEP] included).")
    flags.DEFINE_float("temperature", 3.0, "Soft-loss temperature.")
    flags.DEFINE_list("variants", list(VARIANTS), f"Step variants to time: {', '.join(VARIANTS)}.")
    flags.DEFINE_bool("check_equivalence", True, "Check the semantics-preserving variants against baseline on "
                      "tiny models.")
    flags.DEFINE_integer("min_runs", 3, "Interleaved rounds (one timed step of each variant) at least.")
    flags.DEFINE_integer("warmup", 2, "Untimed steps of each variant first (the first traces and compiles).")
    flags.DEFINE_float("max_seconds", 15.0, "Rounds go on until about this many seconds per variant are spent.")
    flags.DEFINE_float("pipeline_seconds", 15.0, "Time the input pipeline this long.")
    flags.DEFINE_float("time_budget_s", 540, "Whole-run budget: later variants are skipped once it is spent.")
    flags.DEFINE_bool("quick", False, "Smoke test: 1 warm-up step, 2 timed steps, 2 s of pipeline.")
    flags.DEFINE_string("output_json", None, "Write the results here.")
    flags.DEFINE_string("output_md", None, "Write the markdown tables here (they are printed too).")

FLAGS = flags.FLAGS

GOAL_RATIO = 0.8


# -- models and the batch ----------------------------------------------------------------

def build_models(strategy, scratch: str):
    """(teacher, student, tokenizer, descriptions) under the strategy's scope."""
    from tagger.data.wordpiece import WordPieceTokenizer, load_vocab
    from tagger.models.build import build_encoder
    from tagger.models.tagger import Tagger, load_model_dir
    with strategy.scope():
        # The pipeline's windows are at most --seq_length long, like the timed batches.
        if FLAGS.teacher_dir:
            teacher, teacher_tokenizer, config = load_model_dir(FLAGS.teacher_dir)
            label_lists, teacher_description = config["tasks"], FLAGS.teacher_dir
            tokenizer = WordPieceTokenizer(load_vocab(os.path.join(FLAGS.teacher_dir, config["tokenizer"]["vocab_file"])),
                                           lower_case=teacher_tokenizer.lower_case, max_seq_length=FLAGS.seq_length)
        else:
            vocab_file, _ = resolve_vocab(FLAGS.vocab_file, scratch, FLAGS.vocab_size)
            tokenizer = WordPieceTokenizer(load_vocab(vocab_file), max_seq_length=FLAGS.seq_length)
            label_lists = {"upos": B.UPOS_LABELS}
            teacher_config, teacher_description = B.teacher_config_from_flags(tokenizer.vocab_size)
            teacher = Tagger(build_encoder(teacher_config), label_lists).build_variables()
        student_config, student_description = B.student_config_from_flags(tokenizer.vocab_size)
        student = Tagger(build_encoder(student_config), label_lists).build_variables()
    return teacher, student, tokenizer, {"teacher": teacher_description, "student": student_description,
                                         "vocab_size": tokenizer.vocab_size, "tasks": list(label_lists)}


# -- timing the step variants -------------------------------------------------------------

def time_variants(distiller, strategy, batch: dict, budget: E.Budget) -> list[dict]:
    """Builds every step (tracing and compiling each once), then times them in interleaved rounds
    (one step of each per round), so a change in machine load shifts all of them alike."""
    import statistics
    import tensorflow as tf
    unknown = [v for v in FLAGS.variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"--variants: unknown {unknown}; expected {', '.join(VARIANTS)}")
    teacher = distiller.teacher
    steps, first_s, rows = {}, {}, {}
    references = [("teacher_forward", False)]
    if any(v in FLAGS.variants for v in ("jit", "jit_teacher")):
        references.append(("teacher_forward_jit", True))
    for name, jit in references:
        forward = tf.function(lambda b: teacher(b, training=False, return_hidden=True)[0], jit_compile=jit)
        steps[name] = lambda forward=forward: [v.numpy() for v in forward(batch).values()]
    initial = distiller.student.get_weights()
    for variant in FLAGS.variants:
        steps[variant] = make_step(variant, distiller, strategy, batch)
    for name, step in steps.items():
        if budget.left() < 60 and not FLAGS.quick and not name.startswith("teacher_forward") and name != "baseline":
            rows[name] = {"variant": name, "skipped": "time budget spent before it was compiled"}
            continue
        t0 = time.perf_counter()
        step()  # traces (and compiles)
        first_s[name] = time.perf_counter() - t0
        E.log(f"  built {name:22s} first step {first_s[name]:6.1f} s")
    timed = [name for name in steps if name in first_s]
    warmup = 0 if FLAGS.quick else max(FLAGS.warmup - 1, 0)
    for _ in range(warmup):
        for name in timed:
            steps[name]()
    times: dict[str, list[float]] = {name: [] for name in timed}
    min_rounds = 2 if FLAGS.quick else FLAGS.min_runs
    seconds = 0 if FLAGS.quick else max(10.0, min(FLAGS.max_seconds * len(timed), budget.left() - 60))
    begin = time.perf_counter()
    while len(times[timed[0]]) < min_rounds or time.perf_counter() - begin < seconds:
        for name in timed:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(1000 * (time.perf_counter() - t0))
    distiller.student.set_weights(initial)
    for name in timed:
        median = statistics.median(times[name])
        rows[name] = {"variant": name, "median_ms": median, "min_ms": min(times[name]), "max_ms": max(times[name]),
                      "runs": len(times[name]), "steps_per_s": 1000 / median, "first_step_s": first_s[name],
                      "keeps_semantics": None if name.startswith("teacher_forward") else
                      name in SEMANTICS_PRESERVING}
        E.log(f"  {name:25s} {median:9.1f} ms/step ({len(times[name])} runs)")
    rows = [rows[name] for name in steps]
    rates = {row["variant"]: row["steps_per_s"] for row in rows if row["variant"].startswith("teacher_forward")}
    for row in rows:
        if "steps_per_s" in row and not row["variant"].startswith("teacher_forward"):
            row["ratio_to_teacher_forward"] = row["steps_per_s"] / rates["teacher_forward"]
            if "teacher_forward_jit" in rates:
                row["ratio_to_teacher_forward_jit"] = row["steps_per_s"] / rates["teacher_forward_jit"]
    return rows


# -- input pipeline ------------------------------------------------------------------------

def time_pipeline(tokenizer, text: str) -> dict:
    """Windows/s of `unlabeled_dataset` alone, after it has filled its shuffle buffer."""
    import numpy as np
    import tensorflow as tf
    from tagger.data import pipeline
    dataset = pipeline.unlabeled_dataset(tokenizer, pipeline.text_lines(text), FLAGS.batch_size)
    iterator = iter(dataset)
    t0 = time.perf_counter()
    next(iterator)
    first_s = time.perf_counter() - t0
    for _ in range(2):
        next(iterator)
    seconds = 2.0 if FLAGS.quick else FLAGS.pipeline_seconds
    batches = windows = pieces = 0
    begin = time.perf_counter()
    while time.perf_counter() - begin < seconds:
        batch = next(iterator)
        batches += 1
        windows += int(batch["input_word_ids"].shape[0])
        pieces += int(np.sum(batch["piece_mask"]))
    elapsed = time.perf_counter() - begin
    # Sentences per window, from the lines the pipeline reads (it keeps lines of >= 10 characters).
    lines = pipeline.text_lines(text).filter(pipeline.long_enough).take(2000).batch(256)
    sentences = total_windows = 0
    for chunk in lines:
        sentences += int(chunk.shape[0])
        total_windows += int(tokenizer.encode_text(chunk)["input_word_ids"].shape[0])
    windows_per_sentence = total_windows / max(sentences, 1)
    return {"batches": batches, "seconds": elapsed, "windows_per_s": windows / elapsed,
            "wordpieces_per_s": pieces / elapsed, "sentences_per_s": windows / elapsed / windows_per_sentence,
            "windows_per_sentence": windows_per_sentence, "first_batch_s": first_s,
            "batch_size": FLAGS.batch_size, "threads": "tf.data default (all cores)",
            "note": "sentences/s = windows/s / windows per sentence (measured on up to 2,000 lines)"}


# -- output ----------------------------------------------------------------------------------

def markdown(result: dict) -> str:
    machine = result["machine"]
    out = ["# Distillation throughput", "",
           f"Machine: {machine.get('cpu_model')}, {machine.get('usable_cpus')} usable CPUs; load average at start "
           f"{machine['load_average_1_5_15']}. TensorFlow {machine['versions'].get('tensorflow')}, default threads.",
           "", f"Teacher: {result['models']['teacher']}. Student: {result['models']['student']}. "
               f"Batch {result['settings']['batch_size']} x {result['settings']['seq_length']} wordpieces."]
    if result.get("warning"):
        out += ["", f"**Warning: {result['warning']}**"]
    if result["settings"]["quick"]:
        out += ["", "**--quick: smoke-test repetition counts; these numbers are not measurements.**"]
    out += ["", "## Goal", "", B.markdown_table(["goal", "value", "result"],
                                                [[g["goal"], g["value"], g["pass"]] for g in result["goals"]])]
    rows = []
    for row in result["steps"]:
        if "skipped" in row:
            rows.append([row["variant"], None, None, None, None, None, None, None, "skipped: " + row["skipped"]])
            continue
        rows.append([row["variant"], row["median_ms"], row["steps_per_s"], row.get("ratio_to_teacher_forward"),
                     row.get("ratio_to_teacher_forward_jit"), row["steps_per_s"] * result["settings"]["batch_size"],
                     row.get("first_step_s"), row["runs"],
                     {True: "yes", False: "no (reference)"}.get(row.get("keeps_semantics"), "–")])
    out += ["", "## Steps (medians, side by side in this run)", "",
            B.markdown_table(["variant", "ms/step", "steps/s", "ratio to teacher forward",
                              "ratio to teacher forward (XLA)", "windows/s", "first step s", "runs",
                              "same training"], rows)]
    if result.get("equivalence"):
        eq = result["equivalence"]
        out += ["", f"## Equivalence ({eq['models']}, {eq['steps']} steps)", "",
                B.markdown_table(["variant", "max |w - w_baseline|", "max |update|"],
                                 [[name, v["max_abs_diff_to_baseline"], v["max_abs_update"]]
                                  for name, v in eq["variants"].items()])]
    p = result["pipeline"]
    out += ["", "## Input pipeline alone (`unlabeled_dataset`)", "",
            B.markdown_table(["windows/s", "wordpieces/s", "sentences/s", "windows/sentence",
                              "x the baseline step's windows/s"],
                             [[p["windows_per_s"], p["wordpieces_per_s"], p["sentences_per_s"],
                               p["windows_per_sentence"], p.get("headroom_vs_baseline")]]),
            "", f"Text: {result['settings']['text']}. {p['note']}."]
    return "\n".join(out) + "\n"


def main(argv):
    del argv
    import tempfile
    from tagger.distill.recipes import Distiller
    from tagger.training import setup_run
    machine = E.machine_info()
    budget = E.Budget(FLAGS.time_budget_s)
    strategy = setup_run(seed=0, mixed_precision=False, distribution_strategy="one_device")
    with tempfile.TemporaryDirectory(prefix="bench_distill_") as scratch:
        text, text_description = resolve_text(FLAGS.text)
        E.log("== models")
        teacher, student, tokenizer, models = build_models(strategy, scratch)
        distiller = Distiller(teacher, student, strategy, work_dir=scratch, temperature=FLAGS.temperature)
        batch = fixed_batch(tokenizer.vocab_size, FLAGS.batch_size, FLAGS.seq_length)
        E.log(f"== steps, batch {FLAGS.batch_size} x {FLAGS.seq_length}")
        steps = time_variants(distiller, strategy, batch, budget)
        equivalence = None
        if FLAGS.check_equivalence:
            E.log("== equivalence of the variants (tiny models)")
            equivalence = check_equivalence(strategy, FLAGS.temperature, FLAGS.variants)
        E.log("== input pipeline")
        pipeline_result = time_pipeline(tokenizer, text)
    baseline = next((r for r in steps if r["variant"] == "baseline" and "steps_per_s" in r), None)
    if baseline:
        pipeline_result["headroom_vs_baseline"] = pipeline_result["windows_per_s"] / (
            baseline["steps_per_s"] * FLAGS.batch_size)
    goals = []
    for row in steps:
        if row.get("keeps_semantics") and "ratio_to_teacher_forward" in row:
            value = row["ratio_to_teacher_forward"]
            which = "baseline: the step tagger.training runs" if row["variant"] == "baseline" else \
                f"variant {row['variant']}"
            goals.append({"goal": f"distillation steps/s ({which}) >= {GOAL_RATIO} x teacher forward steps/s",
                          "target": GOAL_RATIO, "value": value, "pass": value >= GOAL_RATIO})
    result = {"tool": "bench_distill", "schema_version": 1, "created": E.now(), "machine": machine,
              "warning": E.busy_warning(machine),
              "settings": {"quick": FLAGS.quick, "batch_size": FLAGS.batch_size, "seq_length": FLAGS.seq_length,
                           "temperature": FLAGS.temperature, "variants": list(FLAGS.variants), "text": text_description,
                           "threads": "TensorFlow default (all cores)"},
              "models": models, "steps": steps, "equivalence": equivalence, "pipeline": pipeline_result,
              "goals": goals, "elapsed_s": budget.elapsed()}
    E.emit(markdown(result), result, FLAGS.output_md, FLAGS.output_json)


if __name__ == "__main__":
    define_flags()
    app.run(main)
