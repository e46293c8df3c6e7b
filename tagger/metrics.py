"""Per-treebank scores in the schema of ARCHITECTURE.md ("Model directory").

UPOS / UFeats under gold tokenisation: F1 = word accuracy. NER: span-level
seqeval F1. `macro_f1` is the unweighted mean over treebanks, as in the papers.
"""
from __future__ import annotations

from collections import defaultdict

from seqeval.metrics import f1_score

from tagger.data.corpus import Sentence
from tagger.markdown import text_table
from tagger.errors import UserError


def _task_scores(gold: list[list[str]], predicted: list[list[str]], task: str) -> dict:
    words = sum(len(tags) for tags in gold)
    correct = sum(g == p for gold_tags, predicted_tags in zip(gold, predicted)
                  for g, p in zip(gold_tags, predicted_tags))
    accuracy = correct / words if words else 0.0
    f1 = float(f1_score(gold, predicted)) if task == "ner" else accuracy
    return {"accuracy": accuracy, "f1": f1, "words": words}


def score(sentences: list[Sentence], predictions: list[dict[str, list[str]]], split: str) -> dict:
    """`{"split", "tasks": {task: {accuracy, f1, macro_f1, words, per_treebank: {...}}}}`."""
    by_task: dict[str, dict[str, tuple[list, list]]] = defaultdict(lambda: defaultdict(lambda: ([], [])))
    for sentence, predicted in zip(sentences, predictions, strict=True):
        for task, gold_tags in sentence.tags.items():
            if task in predicted:
                if len(predicted[task]) != len(gold_tags):
                    raise UserError(f"{sentence.source}: {len(predicted[task])} {task} predictions "
                                     f"for {len(gold_tags)} words")
                gold_list, predicted_list = by_task[task][sentence.treebank]
                gold_list.append(gold_tags)
                predicted_list.append(predicted[task])
    tasks = {}
    for task, treebanks in by_task.items():
        per_treebank = {name: _task_scores(g, p, task) for name, (g, p) in sorted(treebanks.items())}
        all_gold = [tags for g, _ in treebanks.values() for tags in g]
        all_predicted = [tags for _, p in treebanks.values() for tags in p]
        overall = _task_scores(all_gold, all_predicted, task)
        overall["macro_f1"] = sum(s["f1"] for s in per_treebank.values()) / len(per_treebank)
        tasks[task] = {**overall, "per_treebank": per_treebank}
    return {"split": split, "tasks": tasks}


def format_table(metrics: dict, other: dict | None = None, other_name: str = "teacher") -> str:
    """Plain-text per-treebank table; with `other`, adds its F1 and the retention ratio."""
    blocks = []
    for task, scores in metrics["tasks"].items():
        header = [task, "treebank", "words", "acc", "F1"] + ([f"{other_name} F1", "retained"] if other else [])
        other_task = (other or {}).get("tasks", {}).get(task, {})
        rows = list(scores["per_treebank"].items()) + [("MACRO", {"words": scores["words"], "accuracy":
                                                                   scores["accuracy"], "f1": scores["macro_f1"]})]
        lines = []
        for name, row in rows:
            line = ["", name, str(row["words"]), f"{100 * row['accuracy']:.2f}", f"{100 * row['f1']:.2f}"]
            if other:
                reference = other_task.get("per_treebank", {}).get(name, {}).get("f1") if name != "MACRO" \
                    else other_task.get("macro_f1")
                line += [f"{100 * reference:.2f}", f"{100 * row['f1'] / reference:.1f}%"] if reference else ["", ""]
            lines.append(line)
        blocks.append(text_table(header, lines, left=2))
    return "\n\n".join(blocks) + "\n"
