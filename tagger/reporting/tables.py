"""The report's markdown: per-treebank tables, low-resource languages, benchmark sections."""
from __future__ import annotations

import os

from tagger.markdown import fmt, markdown_table
from tagger.reporting.series import Series, f1, language_of, treebanks_of

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
