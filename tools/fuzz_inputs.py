"""Seeded hostile inputs for tools/fuzz.py, and the corpus of inputs worth replaying.

Every generator takes a `random.Random`, so a seed fixes the whole run. Words mix scripts and
traps: combining marks, zero-width and bidi controls, RTL, CJK without spaces, emoji sequences,
control characters, odd whitespace, BERT's own special tokens, and 300-character words; now and
then a sentence of 5,000 words. Raw text may carry invalid UTF-8.

The corpus (`tests/fuzz_corpus/<surface>.jsonl`, one base64 input per line) grows as the fuzzer
finds things: every input that crashed or broke a property, and for the readers every input that
met a kind of rejection not seen before. A run replays the corpus before generating new inputs.
"""
from __future__ import annotations

import base64
import json
import os
import random

from tagger.data.sentence import NER_TAGS, UPOS_TAGS

NASTY = ["\u0301", "\u0308", "\u200b", "\u200d", "\u200e", "\u200f", "\u202e", "\ufeff", "\u00a0", "\u3000",
         "\u2028", "\x85", "\x00", "\x0b", "\x0c", "\x1c", "\x7f", "\r", "\t", " ", "#", "##", "[UNK]", "[SEP]",
         "<s>", "</s>", "<pad>", "\u2581", "שלום", "مرحبا", "日本語", "中文", "한국어", "😀", "👩‍👩‍👧", "🇩🇪",
         "e\u0301", "ﬁ", "İ", "ß", "Ǆ", "…", "Haus", "the", "cat", "Paris", "unbelievable", "9" * 40, "x" * 300]
SCRIPTS = [(0x21, 0x7e), (0xa1, 0x24f), (0x300, 0x36f), (0x370, 0x3ff), (0x400, 0x4ff), (0x590, 0x5ff),
           (0x600, 0x6ff), (0x900, 0x97f), (0xe00, 0xe7f), (0x1100, 0x11ff), (0x3040, 0x30ff), (0x4e00, 0x9fff),
           (0xac00, 0xd7a3), (0x1f300, 0x1faff), (0x0, 0x1f), (0x2000, 0x206f), (0xfe00, 0xfe0f),
           (0x10000, 0x10ffff)]
SEPARATORS = [" ", " ", " ", " ", "  ", "\t", "\u00a0", "\u3000", "", "\u2009"]
BAD_BYTES = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xc0\xaf", b"\x80"]
LONG_SENTENCE_RATE = 1 / 2500


def random_char(rng: random.Random) -> str:
    low, high = rng.choice(SCRIPTS)
    code = rng.randint(low, high)
    return " " if 0xd800 <= code <= 0xdfff else chr(code)


def word(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.3:
        return rng.choice(NASTY)
    if kind < 0.6:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,!?'-")
                       for _ in range(rng.randint(1, 12)))
    if kind < 0.9:
        return "".join(random_char(rng) for _ in range(rng.randint(1, 8)))
    return "".join(rng.choice(NASTY) for _ in range(rng.randint(2, 4)))


def words(rng: random.Random) -> list[str]:
    """A sentence as words: usually 0-40 of them, rarely 5,000."""
    if rng.random() < LONG_SENTENCE_RATE:
        pool = [word(rng) for _ in range(12)]
        return [rng.choice(pool) for _ in range(5000)]
    return [word(rng) for _ in range(rng.choice([0, 1, 2, 3, 5, 8, 12, 20, 40]) if rng.random() < 0.3
                                       else rng.randint(1, 25))]


def text(rng: random.Random, invalid_rate: float = 0.1) -> bytes:
    """A raw sentence: words joined by assorted whitespace, sometimes with invalid UTF-8 inside."""
    joined = "".join(w + rng.choice(SEPARATORS) for w in words(rng)).encode("utf-8")
    if rng.random() < invalid_rate:
        at = rng.randint(0, len(joined))
        joined = joined[:at] + rng.choice(BAD_BYTES) + joined[at:]
    return joined


def text_line(rng: random.Random) -> bytes:
    """A raw sentence fit for a one-sentence-per-line file: no newline inside. Invalid UTF-8 is
    rarer (2%) than in `text`: each such line is its own `tagger.predict` run."""
    return text(rng, invalid_rate=0.02).replace(b"\n", b" ")


def cell(rng: random.Random) -> str:
    return rng.choice([word(rng), rng.choice(["_", "", "1", "0", "-1", "1-2", "2-1", "1.1", "0.1", "01", "1-",
                                              "9" * 5000, "1." + "9" * 10]),
                       rng.choice(UPOS_TAGS + NER_TAGS)])


def conllu_line(rng: random.Random, number: int) -> str:
    kind = rng.choice(["word"] * 6 + ["range", "empty", "comment", "blank", "junk", "columns"])
    if kind == "comment":
        return "#" + word(rng)
    if kind == "blank":
        return rng.choice(["", " ", "\t", "\u3000", "\r"])
    if kind == "junk":
        return word(rng)
    if kind == "columns":
        return "\t".join(cell(rng) for _ in range(rng.randint(0, 14)))
    token_id = {"word": str(number), "range": f"{number}-{number + rng.randint(-1, 2)}",
                "empty": f"{number}.{rng.randint(1, 3)}"}[kind]
    if rng.random() < 0.05:
        token_id = cell(rng)
    upos = rng.choice(UPOS_TAGS) if rng.random() < 0.9 else cell(rng)
    feats = rng.choice(["_", "Case=Nom|Number=Sing", "Mood=Ind|Tense=Past", word(rng)])
    return "\t".join([token_id, word(rng), word(rng), upos, "_", feats, "0", "root", "_", "_"])


def two_column_line(rng: random.Random, number: int) -> str:
    kind = rng.choice(["pair"] * 8 + ["blank", "junk", "columns"])
    if kind == "blank":
        return rng.choice(["", " ", "\t\t", "\r"])
    if kind == "junk":
        return word(rng)
    if kind == "columns":
        return "\t".join(cell(rng) for _ in range(rng.randint(0, 4)))
    return f"{word(rng)}\t{rng.choice(NER_TAGS) if rng.random() < 0.9 else cell(rng)}"


def file_bytes(rng: random.Random, line) -> bytes:
    """A labelled file: sentences of generated lines, then stray bytes anywhere."""
    lines, number = [], 1
    for _ in range(rng.randint(0, 30)):
        text_of_line = line(rng, number)
        lines.append(text_of_line)
        number = 1 if not text_of_line.strip() else number + 1
    data = bytearray(rng.choice(["\n", "\n", "\r\n"]).join(lines).encode("utf-8"))
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        at = rng.randint(0, len(data))
        data[at:at] = rng.choice(BAD_BYTES + [b"\x00", b"\n", b"\xef\xbb\xbf"])
    return bytes(data)


def conllu_file(rng: random.Random) -> bytes:
    return file_bytes(rng, conllu_line)


def two_column_file(rng: random.Random) -> bytes:
    return file_bytes(rng, two_column_line)


# -- the corpus -----------------------------------------------------------------------------

class Corpus:
    """Inputs kept per surface, replayed first on every run; new finds are appended and saved."""

    def __init__(self, directory: str | None, grow: bool = True):
        self.directory = directory
        self.grow = grow
        self.added = 0

    def path(self, surface: str) -> str:
        return os.path.join(self.directory, surface.replace("[", "_").replace("]", "") + ".jsonl")

    def load(self, surface: str) -> list:
        if not self.directory or not os.path.exists(self.path(surface)):
            return []
        with open(self.path(surface), encoding="utf-8") as f:
            return [decode(json.loads(line)) for line in f if line.strip()]

    def add(self, surface: str, item, why: str) -> None:
        if not self.directory or not self.grow:
            return
        os.makedirs(self.directory, exist_ok=True)
        with open(self.path(surface), "a", encoding="utf-8") as f:
            f.write(json.dumps(dict(encode(item), why=why), ensure_ascii=True) + "\n")
        self.added += 1


def encode(item) -> dict:
    """JSON for bytes (`b64`), piece ids (`ids`) or a word list (`words`, each base64 of its UTF-8)."""
    if isinstance(item, bytes):
        return {"b64": base64.b64encode(item).decode("ascii")}
    if item and isinstance(item[0], int):
        return {"ids": list(item)}
    return {"words": [base64.b64encode(w.encode("utf-8", "surrogatepass")).decode("ascii") for w in item]}


def decode(record: dict):
    if "b64" in record:
        return base64.b64decode(record["b64"])
    if "ids" in record:
        return record["ids"]
    return [base64.b64decode(w).decode("utf-8", "surrogatepass") for w in record["words"]]
