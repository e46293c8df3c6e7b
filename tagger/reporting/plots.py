"""The report's plots: per-treebank F1 bars, low-resource languages, accuracy vs latency and size."""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the headless backend is chosen)
import numpy as np  # noqa: E402

from tagger.reporting.series import (LOW_RESOURCE, RUNTIME_SIZE, VERIFY_PRECISION, Series, f1,  # noqa: E402
                                     language_of, read_json, treebanks_of)

def bar_chart(ax, series: list[Series], task: str, treebanks: list[str], title: str) -> None:
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


def plot_f1(series: list[Series], task: str, path: str, split: str) -> None:
    treebanks = treebanks_of(series, task) + ["MACRO"]
    fig, ax = plt.subplots(figsize=(max(7.0, 0.32 * len(treebanks) * max(len(series), 2)), 4.8))
    bar_chart(ax, series, task, treebanks, f"{task}: F1 per treebank ({split})")
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


def tradeoff_points(series: list[Series], benches: list[tuple[str, dict]], task: str, split: str,
                    latency_input: str, latency_threads: int) -> tuple[list[dict], list[str]]:
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
                        (role, latency_input, 1, latency_threads):
                    continue
                runtime = record["runtime"]
                size = model.get("sizes_bytes", {}).get(RUNTIME_SIZE.get(runtime, runtime))
                accuracy, origin = artifact_f1(s, runtime, task, split)
                if accuracy is None:
                    continue
                points.append({"label": f"{s.name} {runtime}", "model": s.name, "role": s.role, "runtime": runtime,
                               "latency_ms": record["median_ms"], "size_mib": size / 2 ** 20 if size else None,
                               "f1": accuracy, "accuracy_from": origin, "artifact_metrics": origin != "checkpoint",
                               "bench": os.path.basename(source)})
    return points, notes


def artifact_f1(s: Series, runtime: str, task: str, split: str) -> tuple[float | None, str]:
    """(macro F1 of the artifact, where it came from); see the module docstring."""
    checkpoint = f1(s, task)
    if runtime == "tf":
        return checkpoint, "artifact"  # the checkpoint itself
    variant_file = os.path.join(s.path, "metrics", f"{split}_{runtime}.json")
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


def plot_tradeoff(points: list[dict], task: str, path: str, split: str, latency_input: str,
                  latency_threads: int) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    markers = {"tf": "o", "saved_model": "s", "tflite_float32": "^", "tflite_dynamic_int8": "D",
               "tflite_full_int8": "v"}
    models = sorted({p["model"] for p in points})
    colors = {m: plt.cm.tab10(i % 10) for i, m in enumerate(models)}
    for ax, key, label in ((axes[0], "latency_ms", f"latency (ms, {latency_input}, batch 1, "
                                                   f"{latency_threads} thread)"),
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
    fig.suptitle(f"{task}: accuracy vs latency and size ({split})")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=min(len(handles), 5), frameon=False)
    fig.savefig(path, dpi=110)
    plt.close(fig)
