"""Writes report.md and plots from model directories' metrics and benchmark JSON.

  python -m tagger.report --model_dir=runs/student [--compare=runs/other --compare=...]
      [--bench_json=latency.json --bench_json=distill.json] [--output_dir=DIR]

Reads each directory's `metrics/*.json` (ARCHITECTURE.md "Model directory" schema; a distilled student also
has `metrics/teacher_<split>.json`) and the JSON of tools/bench_latency.py and
tools/bench_distill.py. Writes into --output_dir (default MODEL_DIR/report):
  report.md          per-treebank tables, low-resource languages, the accuracy/latency/size
                     points, benchmark goals
  f1_<task>.png      per-treebank F1 bars, teacher vs student(s)
  low_resource.png   kk, hy, lt, be, mr, ta (skipped when none is in the metrics)
  tradeoff.png       accuracy vs latency and vs size over students and quantisation variants
                     (XtremeDistil Fig. 1), from the latency benchmark's models that are among
                     the given directories

A benchmarked artifact's accuracy is, in this order: `metrics/<split>_<runtime>.json` if
the directory has one (e.g. test_tflite_dynamic_int8.json, same schema); the checkpoint's
macro F1 plus the artifact's mean per-treebank F1 difference in `metrics/verify.json`
(export.verify, on its own data); the checkpoint's. The table says which; the plot draws
checkpoint-only points hollow.
"""
from __future__ import annotations

import os

from absl import flags

import tagger  # noqa: F401
from tagger import cli
from tagger.errors import UserError
from tagger.reporting import plots, tables
from tagger.markdown import markdown_table
from tagger.reporting.series import LOW_RESOURCE, load_series, read_json, tasks_of


def define_flags():
    """Flags of the binary (defined only when run as one, so tests and tools can import the library)."""
    flags.DEFINE_string("model_dir", None, "The main model directory.")
    flags.DEFINE_multi_string("compare", [], "Other model directories to compare (repeat the flag).")
    flags.DEFINE_multi_string("bench_json", [], "Benchmark JSON from tools/bench_latency.py or tools/bench_distill.py.")
    flags.DEFINE_string("output_dir", None, "Where report.md and the PNGs go; default MODEL_DIR/report.")
    flags.DEFINE_string("split", "test", "Metrics split to report.")
    flags.DEFINE_string("task", None, "Task for the accuracy/latency/size plot; default upos if present, else the first.")
    flags.DEFINE_string("latency_input", "text_20w", "Benchmark input for the latency axis (batch 1).")
    flags.DEFINE_integer("latency_threads", 1, "Benchmark threads for the latency axis.")


FLAGS = flags.FLAGS


def write_report(directories: list[str], bench_files: list[str], output_dir: str) -> dict:
    os.makedirs(output_dir, exist_ok=True)
    series, notes = load_series(directories, FLAGS.split)
    if not series:
        raise UserError(f"no metrics/{FLAGS.split}.json in {', '.join(directories)}")
    benches = [(path, read_json(path)) for path in bench_files]
    tasks = tasks_of(series)
    task = FLAGS.task or ("upos" if "upos" in tasks else tasks[0])
    if task not in tasks:
        raise UserError(f"--task={task}: the metrics have {', '.join(tasks)}")
    out = [f"# Report: {series[0].name if series[0].role == 'student' else os.path.basename(directories[0])}", "",
           f"Split `{FLAGS.split}`. Models:", ""]
    out += [f"- **{s.name}** ({s.role}{', ' + s.init if s.init else ''}): `{s.path}`" for s in series]
    written = []
    for t in tasks:
        png = f"f1_{t}.png"
        plots.plot_f1(series, t, os.path.join(output_dir, png), FLAGS.split)
        written.append(png)
        out += ["", f"## {t}: F1 per treebank", "", f"![{t} F1 per treebank]({png})", "", tables.task_table(series, t)]
        languages = tables.language_table(series, t)
        if languages:
            out += ["", "Per language (word-weighted over treebanks):", "", languages]
    shown = plots.plot_low_resource(series, tasks, os.path.join(output_dir, "low_resource.png"))
    out += ["", f"## Low-resource languages ({', '.join(LOW_RESOURCE)})", ""]
    if shown:
        written.append("low_resource.png")
        out += ["![low-resource treebanks](low_resource.png)", "", f"Treebanks: {', '.join(shown)}."]
    else:
        out.append(f"None of {', '.join(LOW_RESOURCE)} is in the {FLAGS.split} metrics.")
    points, point_notes = plots.tradeoff_points(series, benches, task, FLAGS.split, FLAGS.latency_input,
                                                FLAGS.latency_threads)
    out += ["", "## Accuracy vs latency and size", ""]
    if points:
        plots.plot_tradeoff(points, task, os.path.join(output_dir, "tradeoff.png"), FLAGS.split, FLAGS.latency_input,
                            FLAGS.latency_threads)
        written.append("tradeoff.png")
        out += ["![accuracy vs latency and size](tradeoff.png)", "",
                markdown_table(["artifact", f"{task} macro F1", "accuracy from", f"latency ms ({FLAGS.latency_input})",
                                  "size MiB"],
                                 [[p["label"], tables.pct(p["f1"]), p["accuracy_from"], p["latency_ms"], p["size_mib"]]
                                  for p in points])]
    else:
        out.append("No benchmarked artifact belongs to the report's directories (pass --bench_json from "
                   "tools/bench_latency.py run with --student_dir/--teacher_dir set to them).")
    out += [f"- {n}" for n in point_notes]
    if benches:
        out += ["", "## Benchmarks", ""]
        for source, bench in benches:
            out += tables.bench_section(source, bench)
    if notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    with open(os.path.join(output_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    written.insert(0, "report.md")
    return {"output_dir": output_dir, "files": written, "points": len(points)}


def main(argv):
    del argv
    if not FLAGS.model_dir:
        raise UserError("--model_dir is required")
    output_dir = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "report")
    result = write_report([FLAGS.model_dir] + list(FLAGS.compare), list(FLAGS.bench_json), output_dir)
    print(f"wrote {', '.join(os.path.join(output_dir, f) for f in result['files'])}")


if __name__ == "__main__":
    define_flags()
    cli.run_main(main)
