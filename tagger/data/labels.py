"""Label vocabularies: one list of class names per task, built from training data.

Index 0 of every list is `<unk>`, the class that gold tags unseen in training
(e.g. a new FEATS bundle at test time) map to. The model never learns it, so
such words count as errors, as they should.
"""
from __future__ import annotations

from typing import Iterable

from tagger.data.corpus import Sentence
from tagger.errors import UserError

UNK_LABEL = "<unk>"
IGNORE_ID = -1  # label id of positions (and tasks) that carry no loss


def build_label_lists(sentences: Iterable[Sentence], tasks: Iterable[str]) -> dict[str, list[str]]:
    """`{task: ["<unk>", sorted labels...]}` over the sentences that carry each task."""
    seen: dict[str, set[str]] = {task: set() for task in tasks}
    for sentence in sentences:
        for task, tags in sentence.tags.items():
            if task in seen:
                seen[task].update(tags)
    missing = [task for task, labels in seen.items() if not labels]
    if missing:
        raise UserError(f"no training sentence carries tags for task(s) {', '.join(missing)}")
    return {task: [UNK_LABEL] + sorted(labels) for task, labels in seen.items()}


def label_ids(tags: list[str], labels: list[str]) -> list[int]:
    """Tags to ids; unseen tags become `<unk>` (0)."""
    index = {label: i for i, label in enumerate(labels)}
    return [index.get(tag, 0) for tag in tags]


def check_same_labels(expected: dict[str, list[str]], found: dict[str, list[str]], where: str) -> None:
    """Resuming with another label set would silently scramble the heads: refuse it."""
    if expected == found:
        return
    problems = []
    for task in sorted(set(expected) | set(found)):
        old, new = expected.get(task), found.get(task)
        if old is None or new is None:
            problems.append(f"task {task!r} is {'new' if old is None else 'missing'}")
        elif old != new:
            added = sorted(set(new) - set(old))[:5]
            removed = sorted(set(old) - set(new))[:5]
            problems.append(f"task {task!r}: {len(old)} labels in {where}, {len(new)} now"
                            + (f"; new {added}" if added else "") + (f"; gone {removed}" if removed else ""))
    raise UserError(f"label set differs from the one in {where}: " + "; ".join(problems)
                     + ". Use a new --model_dir, or the same training data.")
