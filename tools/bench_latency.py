"""Latency, throughput, size and FLOP-floor benchmark of a teacher and a student, in one process.

  python tools/bench_latency.py [--teacher_dir=DIR] [--student_dir=DIR] [--e5_dir=DIR] [--output_json=F]
                                [--output_md=F]
  python -m tools.bench_latency --quick          # smoke test, tiny repetition counts

Without model directories it benchmarks random weights: an mBERT-sized teacher
(12 layers, hidden 768, 12 heads, vocab 119,547) and the MiniBERT student
(3/256/4/1024), written to temporary model directories, so it runs anywhere. `--e5_dir` adds a
third row: a real e5 tagger directory, timed in TensorFlow only (no export).

For each model it times, at batch 1:
  tf              `tag_ids` (a tf.function with an input signature over the model, on word ids)
                  and `serving_default` (raw text in, tags out) of the in-process serving module
  saved_model     the exported SavedModel's `tag_ids` and `serving_default` signatures
  tflite_<v>      the text-in TFLite model, v in float32 / dynamic_int8 / full_int8, at 1 and 2
                  interpreter threads (the teacher's at --teacher_tflite_threads, default 1)
on inputs `ids_L` / `text_L` (one window of exactly L wordpieces, [CLS]/[SEP] included),
`text_20w` (a 20-word sentence of running text) and, for the student, `text_10w` and
`text_100w`; and batch-32 throughput on 20-word sentences. TensorFlow runs with 1
intra/inter-op thread in this process; other --tf_threads values run in a child process on
the same model directories.

Also: file sizes, parameter counts, FLOPs per input and the FLOP floor (FLOPs / a measured
matmul rate), ratios between numbers of this one run, and PASS/FAIL against the goals.

Artifacts are built by export.saved_model / export.tflite into the work dir (a real model
directory is exported through a shadow directory, so its own export/ is left alone; or
--reuse_exports times what is already there). The student's artifacts come first; the
teacher's are skipped when too little of --time_budget_s is left, and the output says so.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

if __package__ in (None, ""):  # run as `python tools/bench_latency.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tools  # noqa: F401,E402  (TF_USE_LEGACY_KERAS before TensorFlow)
from absl import app, flags  # noqa: E402

from tools import benchenv as E  # noqa: E402
from tools import benchlib as B  # noqa: E402
from tools.bench_inputs import resolve_text, resolve_vocab  # noqa: E402
from tools import latency_report as report  # noqa: E402
from tools.latency_timing import Run, build_inputs, time_saved_model, time_tf, time_tflite  # noqa: E402
from tools.matmul_rates import DEFAULT_VARIANTS, floors, measure_rates  # noqa: E402


def _valid_tasks(heads: list[str]) -> bool:
    try:
        return bool(B.random_label_lists(heads))
    except ValueError:
        return False


def _valid_ranks(values: dict) -> bool:
    from tagger.models.heads import parse_head_ranks
    try:
        parse_head_ranks(values["student_head_ranks"], list(B.random_label_lists(values["student_tasks"])))
        return True
    except ValueError:
        return False


def define_flags():
    flags.DEFINE_string("teacher_dir", None, "Teacher model directory; default: random mBERT-sized weights.")
    flags.DEFINE_string("student_dir", None, "Student model directory; default: random MiniBERT weights.")
    flags.DEFINE_string("e5_dir", None, "A third model, timed in TensorFlow beside the teacher: a tagger on "
                        "multilingual-e5-small (e.g. runs/e5_ud). Its row is named e5.")
    B.define_model_flags()
    flags.DEFINE_string("text", None, "Globs of running text for the sentences; default ../shared/data/unlabeled, "
                        "else the embedded sample.")
    flags.DEFINE_integer("max_seq_length", 128, "Random models: window length.")
    flags.DEFINE_list("student_tasks", ["upos:18"], "Random student: its task heads, task:labels. The e5 UD student "
                      "has upos:18,ufeats:6899.")
    flags.register_validator("student_tasks", _valid_tasks, "--student_tasks: task:labels, labels >= 2, e.g. upos:18")
    flags.DEFINE_list("student_head_ranks", [], "Random student: low-rank heads, task:rank (e.g. ufeats:64), as "
                      "tagger.distill --student_head_ranks.")
    flags.register_multi_flags_validator(["student_head_ranks", "student_tasks"], _valid_ranks,
                                         "--student_head_ranks: task:rank, rank >= 1, for a task of --student_tasks")
    flags.DEFINE_list("lengths", ["32", "128"], "Window lengths (wordpieces incl. [CLS]/[SEP]) for ids_L and text_L.")
    flags.DEFINE_integer("sentence_words", 20, "Words in the end-to-end sentence (text_<n>w) and throughput batch.")
    flags.DEFINE_list("proportional_words", ["10", "100"], "Short and long sentence (words) for the "
                      "latency-proportional-to-length check.")
    flags.DEFINE_integer("batch_size", 32, "Throughput batch (sentences).")
    flags.DEFINE_list("tflite_threads", ["1", "2"], "LiteRT interpreter threads (student).")
    flags.DEFINE_list("teacher_tflite_threads", ["1"], "LiteRT interpreter threads for the teacher's TFLite models.")
    flags.DEFINE_list("tf_threads", ["1", "2"], "TensorFlow threads; the first in this process, the rest in a child.")
    flags.DEFINE_list("student_tflite", list(DEFAULT_VARIANTS), "Student TFLite variants.")
    flags.DEFINE_list("teacher_tflite", list(DEFAULT_VARIANTS), "Teacher TFLite variants (dropped near the budget).")
    flags.DEFINE_bool("saved_model", True, "Export and time the SavedModels.")
    flags.DEFINE_bool("reuse_exports", False, "With --teacher_dir/--student_dir: time the artifacts already in "
                      "MODEL_DIR/export (newest SavedModel, tagger_<quantize>.tflite) instead of exporting afresh.")
    flags.DEFINE_integer("calibration_sentences", 32, "Representative sentences for full_int8.")
    flags.DEFINE_float("time_budget_s", 540, "Whole-run budget: measurements shrink and optional teacher artifacts "
                       "are skipped to stay inside it.")
    flags.DEFINE_float("max_seconds", 2.0, "Time spent on one measurement once --min_runs are done.")
    flags.DEFINE_integer("min_runs", 5, "Runs per measurement at least.")
    flags.DEFINE_integer("warmup", 3, "Untimed calls before each measurement.")
    flags.DEFINE_bool("quick", False, "Smoke test: 1 warm-up, 2-3 runs, small rate probes, 4 calibration sentences.")
    flags.DEFINE_string("work_dir", None, "Where artifacts go (kept); default: a temporary directory, removed.")
    flags.DEFINE_string("output_json", None, "Write the results here.")
    flags.DEFINE_string("output_md", None, "Write the markdown tables here (they are printed too).")
    flags.DEFINE_bool("tf_only_child", False, "Internal: time TensorFlow only (the child run for extra --tf_threads).")

FLAGS = flags.FLAGS


# -- models -------------------------------------------------------------------------

def load_or_build(role: str, model_dir: str | None, work_dir: str, vocab_file: str):
    """(model, tokenizer, config, model_dir, export_dir, description).

    A real model directory is exported through a shadow directory in `work_dir` (see
    benchlib.shadow_model_dir), so the benchmark never writes into it."""
    from tagger.models.tagger import load_model_dir
    if model_dir:
        model, tokenizer, config = load_model_dir(model_dir)
        export_dir = B.shadow_model_dir(model_dir, os.path.join(work_dir, role)) if work_dir else model_dir
        return model, tokenizer, config, os.path.abspath(model_dir), export_dir, model_dir
    from tagger.data.wordpiece import load_vocab
    vocab_size = len(load_vocab(vocab_file))
    if role == "teacher":
        encoder, description = B.teacher_config_from_flags(vocab_size)
    else:
        encoder, description = B.student_config_from_flags(vocab_size)
        description = "random weights, " + description
    directory = os.path.join(work_dir, role)
    heads = B.random_label_lists(FLAGS.student_tasks) if role == "student" else {"upos": B.UPOS_LABELS}
    from tagger.models.heads import parse_head_ranks
    ranks = parse_head_ranks(FLAGS.student_head_ranks, list(heads)) if role == "student" else {}
    if ranks:
        description += ", low-rank heads " + ", ".join(f"{task}:{rank}" for task, rank in ranks.items())
    model, tokenizer, config = B.write_random_model_dir(directory, encoder, heads, vocab_file,
                                                        FLAGS.max_seq_length, seed=0 if role == "teacher" else 1,
                                                        head_ranks=ranks)
    return model, tokenizer, config, directory, directory, description


def model_summary(model, config: dict, model_dir: str, description: str, inputs: dict) -> dict:
    num_labels = sum(len(labels) for labels in config["tasks"].values())
    params = B.param_counts(model)
    flops = {}
    for name, info in inputs["described"].items():
        flops[name] = B.forward_flops(config, info["window_length"], batch=info["windows"],
                                      head_rows=info["words"])
    for length in map(int, FLAGS.lengths):
        flops[f"ids_{length}"] = B.forward_flops(config, length)
    return {"model_dir": model_dir, "source": description, "encoder": config["encoder"], "tasks": list(config["tasks"]),
            "num_labels": num_labels, "max_seq_length": config["tokenizer"]["max_seq_length"],
            "params": params, "flops": flops,
            # weights_fp32: the parameters at 4 bytes (a checkpoint may also hold optimizer state).
            "sizes_bytes": {"weights_fp32": 4 * params["total"], "checkpoint": B.checkpoint_size(model_dir)}}


def settings() -> dict:
    """The flags the report needs, as plain values (stored in the JSON result)."""
    return {"quick": FLAGS.quick, "tf_threads": [int(t) for t in FLAGS.tf_threads],
            "tflite_threads": [int(t) for t in FLAGS.tflite_threads],
            "teacher_tflite_threads": [int(t) for t in FLAGS.teacher_tflite_threads],
            "lengths": [int(x) for x in FLAGS.lengths], "proportional_words": [int(x) for x in FLAGS.proportional_words],
            "batch_size": FLAGS.batch_size, "sentence_words": FLAGS.sentence_words,
            "time_budget_s": FLAGS.time_budget_s, "max_seconds": FLAGS.max_seconds,
            "min_runs": FLAGS.min_runs, "warmup": FLAGS.warmup, "reuse_exports": FLAGS.reuse_exports,
            "calibration_sentences": FLAGS.calibration_sentences}


# -- child run for extra TF thread counts --------------------------------------------------

def tf_child(run: Run, threads: int, teacher_dir: str, student_dir: str, vocab_file: str, text: str,
             work_dir: str) -> None:
    output = os.path.join(work_dir, f"tf_threads_{threads}.json")
    command = [sys.executable, "-m", "tools.bench_latency", "--tf_only_child", f"--tf_threads={threads}",
               f"--teacher_dir={teacher_dir}", f"--student_dir={student_dir}", f"--vocab_file={vocab_file}",
               f"--text={text}", f"--output_json={output}", f"--lengths={','.join(FLAGS.lengths)}",
               f"--sentence_words={FLAGS.sentence_words}", f"--batch_size={FLAGS.batch_size}",
               f"--proportional_words={','.join(FLAGS.proportional_words)}",
               f"--max_seconds={FLAGS.max_seconds}", f"--min_runs={FLAGS.min_runs}", f"--warmup={FLAGS.warmup}",
               f"--time_budget_s={max(run.budget.left() - 10, 30)}"] + (["--quick"] if FLAGS.quick else [])
    E.log(f"== TensorFlow at {threads} threads (child process)")
    try:
        completed = subprocess.run(command, cwd=B.REPO, timeout=max(run.budget.left(), 60),
                                   stdout=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        run.skip(f"tf at {threads} threads", "child process ran past the time budget")
        return
    if completed.returncode != 0 or not os.path.exists(output):
        run.skip(f"tf at {threads} threads", f"child process failed (exit {completed.returncode})")
        return
    import json
    with open(output, encoding="utf-8") as f:
        run.latency.extend(json.load(f)["latency"])


def main_child() -> None:
    """Times TF only (ids_L, the text inputs, throughput) for both model dirs at this process's threads."""
    run = Run(settings())
    threads = int(FLAGS.tf_threads[0])
    inputs = None
    for role, model_dir in (("student", FLAGS.student_dir), ("teacher", FLAGS.teacher_dir)):
        model, tokenizer, config, _, _, _ = load_or_build(role, model_dir, "", FLAGS.vocab_file)
        inputs = inputs or build_inputs(tokenizer, FLAGS.text, run.settings)  # the student tokenizer, as the parent
        time_tf(run, role, model, tokenizer, config, threads, inputs)
    E.write_json(FLAGS.output_json, {"latency": run.latency})


# -- main --------------------------------------------------------------------------------

def main(argv):
    del argv
    tf_threads = [int(t) for t in FLAGS.tf_threads]
    E.pin_tf_threads(tf_threads[0])
    if FLAGS.tf_only_child:
        return main_child()
    machine = E.machine_info()
    run = Run(settings())
    work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="bench_latency_")
    os.makedirs(work_dir, exist_ok=True)
    try:
        vocab_file, vocab_description = resolve_vocab(FLAGS.vocab_file, work_dir, FLAGS.vocab_size)
        text, text_description = resolve_text(FLAGS.text)
        E.log("== matmul rates")
        rates = measure_rates(run.timing, FLAGS.quick, tf_threads[0])
        E.log("== models")
        roles = [("student", FLAGS.student_dir), ("teacher", FLAGS.teacher_dir)]
        roles += [("e5", FLAGS.e5_dir)] if FLAGS.e5_dir else []
        loaded = {role: load_or_build(role, directory, work_dir, vocab_file) for role, directory in roles}
        inputs = build_inputs(loaded["student"][1], text, run.settings)
        inputs["calibration_file"] = os.path.join(work_dir, "calibration.txt")
        E.write_text(inputs["calibration_file"], "\n".join(inputs["calibration"]) + "\n")
        models = {role: model_summary(model, config, directory, description, inputs)
                  for role, (model, _, config, directory, _, description) in loaded.items()}
        for role in loaded:
            E.log(f"== {role}: TensorFlow, {tf_threads[0]} thread(s)")
            model, tokenizer, config, _, _, _ = loaded[role]
            time_tf(run, role, model, tokenizer, config, tf_threads[0], inputs)
        # Priority order: every student artifact, then the teacher's as the budget allows.
        plan = [("student", "saved_model")] * FLAGS.saved_model + [("student", v) for v in FLAGS.student_tflite]
        plan += [("teacher", "saved_model")] * FLAGS.saved_model + [("teacher", v) for v in FLAGS.teacher_tflite]
        # Seconds of budget a teacher artifact needs left to be started (export + timing), roughly.
        reserve = {"teacher": {"saved_model": 60, "float32": 150, "dynamic_int8": 150, "full_int8": 240}}
        for role, artifact in plan:
            need = 0 if FLAGS.quick else reserve.get(role, {}).get(artifact, 0)
            if run.budget.left() < need:
                run.skip(f"{role} {artifact}", f"{run.budget.left():.0f} s of the time budget left, "
                                               f"~{need} s needed")
                continue
            E.log(f"== {role}: {artifact}")
            _, tokenizer, _, _, export_dir, _ = loaded[role]
            if artifact == "saved_model":
                time_saved_model(run, role, export_dir, tokenizer, tf_threads[0], inputs, models[role])
            else:
                time_tflite(run, role, export_dir, artifact, inputs, models[role])
        del loaded
        for threads in tf_threads[1:]:
            if run.budget.left() < (0 if FLAGS.quick else 60):
                run.skip(f"tf at {threads} threads", "time budget spent")
                continue
            tf_child(run, threads, models["teacher"]["model_dir"], models["student"]["model_dir"], vocab_file, text,
                     work_dir)
        ratios, goals = report.ratios_and_goals(run, models, inputs, settings())
        result = {
            "tool": "bench_latency", "schema_version": 1, "created": E.now(), "machine": machine,
            "warning": E.busy_warning(machine),
            "settings": {**settings(), "vocab": vocab_description, "text": text_description},
            "artifacts": {"built_by": "export.saved_model.export_saved_model, export.tflite.export_tflite "
                                      "(quantize none = float32, dynamic_int8, full_int8); run with "
                                      "tagger.runtime.tflite.TFLiteTagger", "reused": run.reused, "phases": run.phases},
            "models": models, "inputs": inputs["described"], "rates": rates, "latency": run.latency,
            "floors": floors(run.latency, models, rates, settings()["lengths"]), "ratios": ratios, "goals": goals,
            "skipped": run.skipped,
            "elapsed_s": run.budget.elapsed(),
        }
        E.emit(report.markdown(result), result, FLAGS.output_md, FLAGS.output_json)
    finally:
        if not FLAGS.work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    define_flags()
    app.run(main)
