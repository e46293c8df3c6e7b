"""The fuzz surfaces of `tagger.predict`: raw text and CoNLL-U in, CoNLL-U with a tag per word out.

Same contract as tools/fuzz_checks.py: each check returns one `(outcome, detail)` per item.
"""
from __future__ import annotations

import contextlib
import io
import os
import random
import re

from tagger.data.corpus import DataError
from tagger.data.sentence import UPOS_TAGS
from tagger.predict import predict
from tools import fuzz_inputs as gen
from tools.fuzz_checks import reference_words

FORBIDDEN_IN_FORM = re.compile("[\t\n\r]")
BOM = "\ufeff".encode("utf-8")


def conllu_blocks(path: str) -> list[list[list[str]]]:
    """Output CoNLL-U as sentences of token rows; raises if it is not UTF-8 or holds a CR."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")  # strict: the output must be valid UTF-8
    if "\r" in text:  # a text-mode reader (universal newlines) would cut the line there
        raise ValueError("output holds a carriage return")
    blocks = [block for block in text.split("\n\n") if block.strip()]
    return [[line.split("\t") for line in block.split("\n") if line and not line.startswith("#")]
            for block in blocks]


def token_problem(rows: list[list[str]], words: list[str]) -> str:
    if [row[1] for row in rows if "-" not in row[0] and "." not in row[0]] != words:
        return f"{len(rows)} token rows for {len(words)} words"
    for row in rows:
        if len(row) != 10 or row[3] not in UPOS_TAGS or not row[5]:
            return f"bad row {row}"
    return ""


def predict_text_check(model: str, scratch: str):
    path, output = os.path.join(scratch, "input.txt"), os.path.join(scratch, "output.conllu")

    def check(items: list[bytes]):
        valid = [i for i, text in enumerate(items) if _is_utf8(text)]
        results: list = [None] * len(items)
        if valid:
            with open(path, "wb") as f:
                f.write(b"".join(items[i] + b"\n" for i in valid))
            quietly(predict, model, path, output, input_format="text")
            blocks = conllu_blocks(output)
            lines = [items[i] for i in valid]
            if lines[0].startswith(BOM):  # a byte-order mark opening the file is no text
                lines[0] = lines[0][len(BOM):]
            expected = reference_words(lines)
            if len(blocks) != len(valid):
                raise ValueError(f"{len(blocks)} sentences out for {len(valid)} lines")
            for i, block, words in zip(valid, blocks, expected):
                problem = token_problem(block, [w.decode("utf-8") for w in words])
                results[i] = ("mismatch", problem) if problem else ("ok", "")
        for i, text in enumerate(items):
            if results[i] is None:  # invalid UTF-8: refused with the file and line, nothing written
                line = 1 + i % 3
                with open(path, "wb") as f:
                    f.write(b"ok line\n" * (line - 1) + text + b"\n")
                try:
                    quietly(predict, model, path, output + ".bad", input_format="text")
                    results[i] = ("mismatch", "invalid UTF-8 was tagged")
                except DataError as e:
                    good = e.path == path and e.line == line and not os.path.exists(output + ".bad")
                    results[i] = ("rejected: invalid UTF-8", "") if good else ("mismatch", f"bad error: {e}")
        return results
    return check


def quietly(function, *args, **kwargs):
    """Runs `function` without its stderr notes (predict warns once per file about re-split tokens)."""
    with contextlib.redirect_stderr(io.StringIO()):
        return function(*args, **kwargs)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def conllu_words(rng: random.Random) -> list[str]:
    """A gold-tokenised sentence a CoNLL-U file can hold: no tab or line break in a form, none
    empty; forms of whitespace only (U+3000, NEL, ...) stay."""
    words = [FORBIDDEN_IN_FORM.sub("", w) for w in gen.words(rng)]
    return [w or "_" for w in words] or ["_"]


def predict_conllu_check(model: str, scratch: str):
    path, output = os.path.join(scratch, "input.conllu"), os.path.join(scratch, "output.conllu")

    def check(items: list[list[str]]):
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for k, words in enumerate(items):
                f.write(f"# sent_id = {k}\n" + "".join(f"{i}\t{w}\t_\t_\t_\t_\t_\t_\t_\t_\n"
                                                     for i, w in enumerate(words, start=1)) + "\n")
        quietly(predict, model, path, output, input_format="conllu")
        blocks = conllu_blocks(output)
        if len(blocks) != len(items):
            raise ValueError(f"{len(blocks)} sentences out for {len(items)} in")
        results = []
        for block, words in zip(blocks, items):
            problem = token_problem(block, words)
            results.append(("mismatch", problem) if problem else ("ok", ""))
        return results
    return check
