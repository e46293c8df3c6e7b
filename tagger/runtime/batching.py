"""The one batching helper of every runtime backend: sort by length, batch, restore the input order.

Sentences of similar length share a batch, so a batch pays for its own longest sentence only; the
results come back in input order whatever the order of the batches.
"""
from __future__ import annotations

from typing import Callable, Sequence


def as_bytes(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


def output_rows(outputs: dict, sentences: list[bytes] | None = None) -> list[dict[str, list]]:
    """Batched signature outputs (NumPy arrays) to one dict per sentence, cut to its `num_words`.

    Strings are decoded (bad bytes become U+FFFD), `*_ids` outputs are left out, and
    `words` is cut from `sentences` by the byte offsets when the model does not return it.
    """
    rows = []
    for i, count in enumerate(outputs["num_words"]):
        n = int(count)
        row = {}
        for name, value in outputs.items():
            if name == "num_words" or name.endswith("_ids"):
                continue
            value = value[i][:n]
            row[name] = ([v.decode("utf-8", errors="replace") for v in value] if value.dtype == object
                         else value.tolist())
        if "words" not in row and sentences is not None:
            row["words"] = [sentences[i][s:e].decode("utf-8", errors="replace")
                            for s, e in zip(row["word_starts"], row["word_ends"])]
        rows.append(row)
    return rows


def by_length(items: Sequence, batch_size: int):
    """Yields (indices, batch) with items of similar length together (less padding per batch)."""
    order = sorted(range(len(items)), key=lambda i: len(items[i]))
    for begin in range(0, len(order), batch_size):
        indices = order[begin:begin + batch_size]
        yield indices, [items[i] for i in indices]


def tag_in_batches(items: Sequence, batch_size: int, run_batch: Callable[[list], list]) -> list:
    """`run_batch(batch) -> one result per item`, over length-sorted batches; results in input order."""
    results: list = [None] * len(items)
    for indices, batch in by_length(items, batch_size):
        for i, row in zip(indices, run_batch(batch)):
            results[i] = row
    return results
