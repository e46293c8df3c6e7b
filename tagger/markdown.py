"""Markdown tables with compact numbers, shared by tagger.report and the benchmark tools."""
from __future__ import annotations

import math


def fmt(value, digits: int = 3) -> str:
    """None -> '–', bools -> PASS/FAIL, ints with thousands separators, floats to `digits` significant digits."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "PASS" if value else "FAIL"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0 or math.isnan(value) or math.isinf(value):
            return str(value)
        if abs(value) < 1e-3:
            return f"{value:.2e}"
        magnitude = math.floor(math.log10(abs(value)))
        return f"{value:.{max(digits - 1 - magnitude, 0)}f}"
    return str(value)


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
