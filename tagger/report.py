"""Writes report.md and plots from model directories' metrics and benchmark JSON.

  python -m tagger.report --model_dir=runs/student [--compare=runs/other --compare=...]
      [--bench_json=latency.json --bench_json=distill.json] [--output_dir=DIR]

Reads each directory's `metrics/*.json` (DESIGN.md schema; a distilled student also
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

import dataclasses
import json
import os

from absl import flags

import tagger  # noqa: F401
from tagger import cli
from tagger.markdown import fmt, markdown_table


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

LOW_RESOURCE = ("kk", "hy", "lt", "be", "mr", "ta")
COLLECTIONS = ("wikiann", "ner", "udpos", "panx")
RUNTIME_SIZE = {"tf": "weights_fp32", "saved_model": "saved_model"}
VERIFY_PRECISION = {"saved_model": "float32", "tflite_float32": "none", "tflite_dynamic_int8": "dynamic_int8",
                    "tflite_full_int8": "full_int8"}


@dataclasses.dataclass
class Series:
    """One model's scores on the split: a directory's own metrics, or a student's teacher_<split>.json."""
    name: str
    path: str          # the directory the scores belong to (the teacher's, for teacher_<split>.json)
    role: str          # 'teacher' or 'student'
    metrics: dict
    init: str = ""


def language_of(treebank: str) -> str:
    """'kk_ktb' -> 'kk'; 'wikiann_kk' -> 'kk'."""
    parts = treebank.split("_")
    if parts[0] in COLLECTIONS and len(parts) > 1:
        return parts[1]
    return parts[0]


def read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not readable JSON ({e})") from None


def load_series(directories: list[str], split: str) -> tuple[list[Series], list[str]]:
    """Series for every directory (and each distinct teacher), plus notes on what was missing."""
    series, notes = [], []
    names = unique_names(directories)
    for directory, name in zip(directories, names):
        metrics_dir = os.path.join(directory, "metrics")
        if not os.path.isdir(metrics_dir):
            raise ValueError(f"{directory}: no metrics/ directory (run tagger.evaluate or training first)")
        config_path = os.path.join(directory, "tagger_config.json")
        config = read_json(config_path) if os.path.exists(config_path) else {}
        init = str(config.get("init", ""))
        own = os.path.join(metrics_dir, f"{split}.json")
        if os.path.exists(own):
            role = "student" if init.startswith("distill:") else "teacher"
            series.append(Series(name, os.path.realpath(directory), role, read_json(own), init))
        else:
            notes.append(f"{directory}: no metrics/{split}.json")
        teacher_file = os.path.join(metrics_dir, f"teacher_{split}.json")
        if os.path.exists(teacher_file):
            teacher_dir = config.get("teacher_dir") or os.path.join(directory, "teacher")
            teacher_path = os.path.realpath(teacher_dir)
            if all(s.path != teacher_path for s in series) and \
                    os.path.realpath(teacher_dir) not in map(os.path.realpath, directories):
                series.append(Series(f"teacher ({os.path.basename(teacher_dir.rstrip('/'))})", teacher_path,
                                     "teacher", read_json(teacher_file)))
    # A teacher listed after its student was added twice: keep the directory's own series.
    seen, unique = set(), []
    for s in sorted(series, key=lambda s: s.role != "teacher"):
        if s.path not in seen:
            seen.add(s.path)
            unique.append(s)
    return unique, notes


def unique_names(directories: list[str]) -> list[str]:
    names = [os.path.basename(os.path.normpath(d)) for d in directories]
    return [f"{n} ({i + 1})" if names.count(n) > 1 else n for i, n in enumerate(names)]


def tasks_of(series: list[Series]) -> list[str]:
    tasks = []
    for s in series:
        tasks += [t for t in s.metrics.get("tasks", {}) if t not in tasks]
    return tasks


def treebanks_of(series: list[Series], task: str) -> list[str]:
    names = set()
    for s in series:
        names |= set(s.metrics.get("tasks", {}).get(task, {}).get("per_treebank", {}))
    return sorted(names)


def f1(s: Series, task: str, treebank: str | None = None) -> float | None:
    scores = s.metrics.get("tasks", {}).get(task)
    if not scores:
        return None
    if treebank is None:
        return scores.get("macro_f1")
    return scores.get("per_treebank", {}).get(treebank, {}).get("f1")


# -- plots ------------------------------------------------------------------------------

def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def bar_chart(ax, series: list[Series], task: str, treebanks: list[str], title: str) -> None:
    import numpy as np
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(treebanks))
    for i, s in enumerate(series):
        values = [f1(s, task, tb) if tb != "MACRO" else f1(s, task) for tb in treebanks]
        heights = [100 * v if v is not None else 0 for v in values]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, heights, width, label=s.name,
               hatch=None if s.role == "student" else "//", edgecolor="white", linewidth=0.3)
    ax.set_xticks(x)
    ax.set_xticklabels(treebanks, rotation=60 if len(treebanks) > 6 else 0, ha="right" if len(treebanks) > 6
                       else "center", fontsize=8)
    ax.set_ylabel("F1 (%)")
    present = [100 * v for s in series for v in
               ([f1(s, task, tb) if tb != "MACRO" else f1(s, task) for tb in treebanks]) if v is not None]
    low = min(present, default=0.0)
    ax.set_ylim(max(0.0, 10 * ((low - 5) // 10)), 100)  # high scores: start the axis near them
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)


def plot_f1(series: list[Series], task: str, path: str) -> None:
    plt = pyplot()
    treebanks = treebanks_of(series, task) + ["MACRO"]
    fig, ax = plt.subplots(figsize=(max(7.0, 0.32 * len(treebanks) * max(len(series), 2)), 4.8))
    bar_chart(ax, series, task, treebanks, f"{task}: F1 per treebank ({FLAGS.split})")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_low_resource(series: list[Series], tasks: list[str], path: str) -> list[str]:
    """One panel per task that has any low-resource treebank; returns the treebanks shown."""
    panels = [(task, [tb for tb in treebanks_of(series, task) if language_of(tb) in LOW_RESOURCE]) for task in tasks]
    panels = [(task, tbs) for task, tbs in panels if tbs]
    if not panels:
        return []
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(max(5.0, 2.2 + 0.9 * max(len(t) for _, t in panels)
                                                          * max(len(series), 1) / 2) * len(panels), 4.2),
                             squeeze=False)
    for ax, (task, tbs) in zip(axes[0], panels):
        bar_chart(ax, series, task, tbs, f"{task}: low-resource ({', '.join(LOW_RESOURCE)})")
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return sorted({tb for _, tbs in panels for tb in tbs})


def tradeoff_points(series: list[Series], benches: list[tuple[str, dict]], task: str) -> tuple[list[dict], list[str]]:
    """(points, notes): one point per benchmarked artifact whose model is among the series."""
    by_path = {s.path: s for s in series}
    points, notes = [], []
    for source, bench in benches:
        if bench.get("tool") != "bench_latency":
            continue
        for role, model in bench.get("models", {}).items():
            path = os.path.realpath(model.get("model_dir", ""))
            s = by_path.get(path)
            if s is None:
                notes.append(f"{os.path.basename(source)}: {role} ({model.get('source')}) is not among the "
                             f"report's directories (random weights or another run), so it has no accuracy")
                continue
            for record in bench.get("latency", []):
                if (record["model"], record["input"], record["batch"], record["threads"]) != \
                        (role, FLAGS.latency_input, 1, FLAGS.latency_threads):
                    continue
                runtime = record["runtime"]
                size = model.get("sizes_bytes", {}).get(RUNTIME_SIZE.get(runtime, runtime))
                accuracy, origin = artifact_f1(s, runtime, task)
                if accuracy is None:
                    continue
                points.append({"label": f"{s.name} {runtime}", "model": s.name, "role": s.role, "runtime": runtime,
                               "latency_ms": record["median_ms"], "size_mib": size / 2 ** 20 if size else None,
                               "f1": accuracy, "accuracy_from": origin, "artifact_metrics": origin != "checkpoint",
                               "bench": os.path.basename(source)})
    return points, notes


def artifact_f1(s: Series, runtime: str, task: str) -> tuple[float | None, str]:
    """(macro F1 of the artifact, where it came from); see the module docstring."""
    checkpoint = f1(s, task)
    if runtime == "tf":
        return checkpoint, "artifact"  # the checkpoint itself
    variant_file = os.path.join(s.path, "metrics", f"{FLAGS.split}_{runtime}.json")
    if os.path.exists(variant_file):
        value = f1(Series(s.name, s.path, s.role, read_json(variant_file)), task)
        if value is not None:
            return value, "artifact"
    verify_file = os.path.join(s.path, "metrics", "verify.json")
    if checkpoint is not None and runtime in VERIFY_PRECISION and os.path.exists(verify_file):
        for check in read_json(verify_file).get("artifacts", []):
            if check.get("precision") != VERIFY_PRECISION[runtime] or \
                    (runtime == "saved_model") == str(check.get("path", "")).endswith(".tflite"):
                continue
            deltas = [row["delta"] for row in check.get("f1", {}).get(task, {}).get("per_treebank", {}).values()]
            if deltas:
                return checkpoint + sum(deltas) / len(deltas), "checkpoint + verify ΔF1"
    return checkpoint, "checkpoint"


def plot_tradeoff(points: list[dict], task: str, path: str) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    markers = {"tf": "o", "saved_model": "s", "tflite_float32": "^", "tflite_dynamic_int8": "D",
               "tflite_full_int8": "v"}
    models = sorted({p["model"] for p in points})
    colors = {m: plt.cm.tab10(i % 10) for i, m in enumerate(models)}
    for ax, key, label in ((axes[0], "latency_ms", f"latency (ms, {FLAGS.latency_input}, batch 1, "
                                                   f"{FLAGS.latency_threads} thread)"),
                           (axes[1], "size_mib", "size (MiB)")):
        for p in points:
            if p[key] is None:
                continue
            color = colors[p["model"]]
            ax.scatter(p[key], 100 * p["f1"], marker=markers.get(p["runtime"], "o"), s=60,
                       facecolors=color if p["artifact_metrics"] else "none", edgecolors=color)
        ax.set_xscale("log")
        ax.margins(x=0.15, y=0.1)
        ax.set_xlabel(label)
        ax.set_ylabel(f"{task} macro F1 (%)")
        ax.grid(alpha=0.3, which="both")
    handles = [plt.Line2D([], [], color=colors[m], marker="o", linestyle="", label=m) for m in models]
    handles += [plt.Line2D([], [], color="gray", marker=marker, linestyle="", markerfacecolor="none", label=runtime)
                for runtime, marker in markers.items() if any(p["runtime"] == runtime for p in points)]
    handles.append(plt.Line2D([], [], color="gray", marker="o", markerfacecolor="none", linestyle="",
                              label="hollow: checkpoint accuracy (no per-artifact metrics)"))
    fig.suptitle(f"{task}: accuracy vs latency and size ({FLAGS.split})")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=min(len(handles), 5), frameon=False)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- markdown ---------------------------------------------------------------------------

def pct(value) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def task_table(series: list[Series], task: str) -> str:
    teachers = [s for s in series if s.role == "teacher"]
    reference = teachers[0] if len(teachers) == 1 else None
    students = [s for s in series if s is not reference]
    header = ["treebank", "lang", "words"] + [s.name for s in series]
    if reference:
        header += [f"{s.name} / {reference.name}" for s in students]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for tb in treebanks_of(series, task) + ["MACRO"]:
        words = next((s.metrics["tasks"][task]["per_treebank"][tb]["words"] for s in series
                      if tb in s.metrics.get("tasks", {}).get(task, {}).get("per_treebank", {})), None)
        if tb == "MACRO":
            words = next((s.metrics["tasks"][task].get("words") for s in series if task in s.metrics["tasks"]), None)
        row = [f"**{tb}**" if tb == "MACRO" else tb, "" if tb == "MACRO" else language_of(tb),
               "–" if words is None else str(words)]
        row += [pct(f1(s, task, None if tb == "MACRO" else tb)) for s in series]
        if reference:
            base = f1(reference, task, None if tb == "MACRO" else tb)
            for s in students:
                value = f1(s, task, None if tb == "MACRO" else tb)
                row.append(f"{100 * value / base:.1f}%" if value is not None and base else "–")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def language_table(series: list[Series], task: str) -> str | None:
    """Word-weighted F1 per language, when some language has more than one treebank."""
    treebanks = treebanks_of(series, task)
    languages: dict[str, list[str]] = {}
    for tb in treebanks:
        languages.setdefault(language_of(tb), []).append(tb)
    if all(len(tbs) == 1 for tbs in languages.values()):
        return None
    lines = ["| language | treebanks | " + " | ".join(s.name for s in series) + " |",
             "|---|---|" + "---|" * len(series)]
    for lang, tbs in sorted(languages.items()):
        cells = []
        for s in series:
            per = s.metrics.get("tasks", {}).get(task, {}).get("per_treebank", {})
            rows = [per[tb] for tb in tbs if tb in per]
            words = sum(r["words"] for r in rows)
            cells.append(pct(sum(r["f1"] * r["words"] for r in rows) / words) if words else "–")
        lines.append(f"| {lang} | {', '.join(tbs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bench_section(source: str, bench: dict) -> list[str]:
    out = [f"### {os.path.basename(source)} ({bench.get('tool')}, {bench.get('created', '')})", ""]
    machine = bench.get("machine", {})
    out.append(f"Machine: {machine.get('cpu_model')}, {machine.get('usable_cpus')} CPUs, "
               f"{', '.join(machine.get('cpu_features', []))}.")
    if bench.get("warning"):
        out.append(f"**Warning: {bench['warning']}**")
    if bench.get("settings", {}).get("quick"):
        out.append("**Smoke run (--quick): not measurements.**")
    if bench.get("goals"):
        out += ["", markdown_table(["goal", "value", "result"],
                                     [[g["goal"], g.get("value"), g.get("pass")] for g in bench["goals"]])]
    if bench.get("tool") == "bench_distill":
        out += ["", markdown_table(["variant", "ms/step", "steps/s", "ratio to teacher forward"],
                                     [[r["variant"], r.get("median_ms"), r.get("steps_per_s"),
                                       r.get("ratio_to_teacher_forward")] for r in bench.get("steps", [])])]
        p = bench.get("pipeline", {})
        if p:
            out += ["", f"Input pipeline alone: {fmt(p.get('windows_per_s'))} windows/s, "
                        f"{fmt(p.get('sentences_per_s'))} sentences/s."]
    if bench.get("tool") == "bench_latency":
        inputs = list(dict.fromkeys(r["input"] for r in bench.get("latency", []) if r["batch"] == 1))
        cells: dict[tuple, dict] = {}
        for r in bench.get("latency", []):
            if r["batch"] == 1:
                cells.setdefault((r["model"], r["runtime"], r["threads"]), {})[r["input"]] = r["median_ms"]
        if cells:
            out += ["", "Median ms, batch 1:", "",
                    markdown_table(["model", "runtime", "threads"] + inputs,
                                   [list(key) + [values.get(i) for i in inputs] for key, values in cells.items()])]
    return out + [""]


def write_report(directories: list[str], bench_files: list[str], output_dir: str) -> dict:
    os.makedirs(output_dir, exist_ok=True)
    series, notes = load_series(directories, FLAGS.split)
    if not series:
        raise ValueError(f"no metrics/{FLAGS.split}.json in {', '.join(directories)}")
    benches = [(path, read_json(path)) for path in bench_files]
    tasks = tasks_of(series)
    task = FLAGS.task or ("upos" if "upos" in tasks else tasks[0])
    if task not in tasks:
        raise ValueError(f"--task={task}: the metrics have {', '.join(tasks)}")
    out = [f"# Report: {series[0].name if series[0].role == 'student' else os.path.basename(directories[0])}", "",
           f"Split `{FLAGS.split}`. Models:", ""]
    out += [f"- **{s.name}** ({s.role}{', ' + s.init if s.init else ''}): `{s.path}`" for s in series]
    written = []
    for t in tasks:
        png = f"f1_{t}.png"
        plot_f1(series, t, os.path.join(output_dir, png))
        written.append(png)
        out += ["", f"## {t}: F1 per treebank", "", f"![{t} F1 per treebank]({png})", "", task_table(series, t)]
        languages = language_table(series, t)
        if languages:
            out += ["", f"Per language (word-weighted over treebanks):", "", languages]
    shown = plot_low_resource(series, tasks, os.path.join(output_dir, "low_resource.png"))
    out += ["", f"## Low-resource languages ({', '.join(LOW_RESOURCE)})", ""]
    if shown:
        written.append("low_resource.png")
        out += ["![low-resource treebanks](low_resource.png)", "", f"Treebanks: {', '.join(shown)}."]
    else:
        out.append(f"None of {', '.join(LOW_RESOURCE)} is in the {FLAGS.split} metrics.")
    points, point_notes = tradeoff_points(series, benches, task)
    out += ["", "## Accuracy vs latency and size", ""]
    if points:
        plot_tradeoff(points, task, os.path.join(output_dir, "tradeoff.png"))
        written.append("tradeoff.png")
        out += ["![accuracy vs latency and size](tradeoff.png)", "",
                markdown_table(["artifact", f"{task} macro F1", "accuracy from", f"latency ms ({FLAGS.latency_input})",
                                  "size MiB"],
                                 [[p["label"], pct(p["f1"]), p["accuracy_from"], p["latency_ms"], p["size_mib"]]
                                  for p in points])]
    else:
        out.append("No benchmarked artifact belongs to the report's directories (pass --bench_json from "
                   "tools/bench_latency.py run with --student_dir/--teacher_dir set to them).")
    out += [f"- {n}" for n in point_notes]
    if benches:
        out += ["", "## Benchmarks", ""]
        for source, bench in benches:
            out += bench_section(source, bench)
    if notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    with open(os.path.join(output_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    written.insert(0, "report.md")
    return {"output_dir": output_dir, "files": written, "points": len(points)}


def main(argv):
    del argv
    if not FLAGS.model_dir:
        raise ValueError("--model_dir is required")
    output_dir = FLAGS.output_dir or os.path.join(FLAGS.model_dir, "report")
    result = write_report([FLAGS.model_dir] + list(FLAGS.compare), list(FLAGS.bench_json), output_dir)
    print(f"wrote {', '.join(os.path.join(output_dir, f) for f in result['files'])}")


if __name__ == "__main__":
    define_flags()
    cli.run_main(main)
