"""Tables: markdown with compact numbers (tagger.report, the benchmark tools) and aligned plain text
(what the binaries print)."""
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


def text_table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    """Aligned plain-text table of strings: the first `left` columns left-aligned, the rest right."""
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]

    def line(cells):
        return " ".join(str(c).ljust(w) if i < left else str(c).rjust(w)
                        for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "-" * len(line(header))
    return "\n".join([line(header), rule] + [line(row) for row in rows])
