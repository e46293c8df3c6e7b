"""Metrics of model directories as series: one per directory (and its teacher), per task and treebank.

Reads `metrics/<split>.json` (ARCHITECTURE.md, "Model directory"); a distilled student also has
`metrics/teacher_<split>.json`.
"""
from __future__ import annotations

import dataclasses
import json
import os

from tagger.errors import UserError

LOW_RESOURCE = ("kk", "hy", "lt", "be", "mr", "ta")
COLLECTIONS = ("wikiann", "ner", "udpos", "panx")
RUNTIME_SIZE = {"tf": "weights_fp32", "saved_model": "saved_model"}
VERIFY_PRECISION = {"saved_model": "float32", "tflite_float32": "float32", "tflite_dynamic_int8": "dynamic_int8",
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
        raise UserError(f"{path}: not readable JSON ({e})") from None


def load_series(directories: list[str], split: str) -> tuple[list[Series], list[str]]:
    """Series for every directory (and each distinct teacher), plus notes on what was missing."""
    series, notes = [], []
    names = unique_names(directories)
    for directory, name in zip(directories, names):
        metrics_dir = os.path.join(directory, "metrics")
        if not os.path.isdir(metrics_dir):
            raise UserError(f"{directory}: no metrics/ directory (run tagger.evaluate or training first)")
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
