"""Labelled corpora: UD CoNLL-U, PAN-X/WikiANN and two-column `token<TAB>tag` files.

Every reader yields `Sentence`s that remember their treebank (or language) so
metrics can be reported per treebank. Malformed input raises `DataError`
naming the file and line; nothing is dropped silently.
"""
from __future__ import annotations

import glob
import os
import re
from typing import Iterable, Iterator

from tagger.data import tfds_source
from tagger.data.sentence import (DATA_FORMATS, NER_TAGS, TASKS, UPOS_TAGS,  # noqa: F401  (re-exported)
                                  DataError, Sentence)

# At most 9 digits: no sentence has a billion words, and int() refuses strings over 4300 digits
# (a ValueError without file and line); longer ids are reported as bad ids instead.
_WORD_ID = re.compile(r"^[1-9][0-9]{0,8}$")
_RANGE_ID = re.compile(r"^([1-9][0-9]{0,8})-([1-9][0-9]{0,8})$")
_EMPTY_ID = re.compile(r"^[0-9]+\.[1-9][0-9]*$")
_UD_FILE = re.compile(r"^(?P<treebank>[a-z]{2,3}_[a-z0-9]+)-ud-(?P<split>train|dev|test)\.conllu$")


def _decoded_lines(path: str) -> Iterator[tuple[int, str]]:
    """Yields (line number, text without newline); invalid UTF-8 is a DataError."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(path, number, f"invalid UTF-8 at byte {e.start}") from None
            if number == 1 and text.startswith("\ufeff"):  # one byte-order mark; a second is text
                text = text[1:]
            yield number, text.rstrip("\r\n")


def treebank_of(path: str) -> tuple[str, str]:
    """(treebank, language) from a file path: UD names, or the parent directory for PAN-X/XTREME."""
    name = os.path.basename(path)
    match = _UD_FILE.match(name)
    if match:
        treebank = match.group("treebank")
        return treebank, treebank.split("_")[0]
    parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
    grandparent = os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(path))))
    collection = {"wikiann": "wikiann", "ner": "ner", "udpos_xtreme": "udpos"}.get(grandparent, grandparent)
    return f"{collection}_{parent}", parent


def read_conllu(path: str, treebank: str | None = None, labeled: bool = True) -> list[Sentence]:
    """Reads UD CoNLL-U: `upos`, and `ufeats` with the whole FEATS bundle as one class.

    Multiword-token ranges (`1-2`) carry no labels (their syntactic words do);
    empty nodes (`8.1`) are skipped. `labeled=False` accepts any UPOS (e.g. `_` in
    tokenised but untagged input), for checking files that are about to be tagged.
    """
    if treebank is None:
        treebank, lang = treebank_of(path)
    else:
        lang = treebank.split("_")[0]
    sentences: list[Sentence] = []
    words: list[str] = []
    upos: list[str] = []
    feats: list[str] = []
    start = 0

    def finish():
        if words:
            sentences.append(Sentence(list(words), {"upos": list(upos), "ufeats": list(feats)},
                                      treebank, lang, f"{path}:{start}"))
        words.clear(), upos.clear(), feats.clear()

    for number, line in _decoded_lines(path):
        if not line.strip():
            finish()
            continue
        if line.startswith("#"):
            continue
        if not start or not words:
            start = number
        columns = line.split("\t")
        if len(columns) != 10:
            raise DataError(path, number, f"expected 10 tab-separated columns, found {len(columns)}")
        token_id, form, _, tag, _, feat_bundle = columns[:6]
        if _EMPTY_ID.match(token_id):
            continue
        range_match = _RANGE_ID.match(token_id)
        if range_match:
            first, last = map(int, range_match.groups())
            if last <= first:
                raise DataError(path, number, f"bad multiword token range {token_id!r}")
            continue
        if not _WORD_ID.match(token_id):
            raise DataError(path, number, f"bad word id {token_id!r}")
        if int(token_id) != len(words) + 1:
            raise DataError(path, number, f"word id {token_id} out of sequence (expected {len(words) + 1})")
        if labeled and tag not in UPOS_TAGS:
            raise DataError(path, number, f"unknown UPOS tag {tag!r}")
        if not form:
            raise DataError(path, number, "empty FORM")
        words.append(form)
        upos.append(tag)
        feats.append(feat_bundle or "_")
    finish()
    return sentences


def read_two_column(path: str, task: str | None = None, treebank: str | None = None) -> list[Sentence]:
    """Reads `token<TAB>tag` files (PAN-X/WikiANN NER, XTREME udpos); the task is inferred from the tags."""
    default_treebank, lang = treebank_of(path)
    treebank = treebank or default_treebank
    blocks: list[tuple[int, list[str], list[str]]] = []
    words: list[str] = []
    tags: list[str] = []
    start = 0
    for number, line in _decoded_lines(path):
        if not line.strip():
            if words:
                blocks.append((start, words, tags))
            words, tags = [], []
            continue
        if not words:
            start = number
        columns = line.split("\t")
        if len(columns) != 2 or not columns[0] or not columns[1]:
            raise DataError(path, number, f"expected 'token<TAB>tag', found {len(columns)} column(s)")
        words.append(columns[0])
        tags.append(columns[1])
    if words:
        blocks.append((start, words, tags))
    if task is None:
        seen = {tag for _, _, block_tags in blocks for tag in block_tags}
        task = "ner" if seen <= set(NER_TAGS) else "upos"
    allowed = set(NER_TAGS) if task == "ner" else set(UPOS_TAGS)
    sentences = []
    for start, block_words, block_tags in blocks:
        for offset, tag in enumerate(block_tags):
            if tag not in allowed:
                raise DataError(path, start + offset, f"tag {tag!r} is not a {task} tag")
        sentences.append(Sentence(block_words, {task: block_tags}, treebank, lang, f"{path}:{start}"))
    return sentences


def sniff_format(path: str) -> str:
    """'conllu' or 'two_column', from the extension or else the first data line."""
    if path.endswith(".conllu"):
        return "conllu"
    for number, line in _decoded_lines(path):
        if line.strip() and not line.startswith("#"):
            columns = line.count("\t") + 1
            if columns == 10:
                return "conllu"
            if columns == 2:
                return "two_column"
            raise DataError(path, number, f"cannot tell the format: {columns} tab-separated columns")
    return "two_column"


def resolve_link_stub(path: str) -> str:
    """The file a git symlink stub points at, else `path` itself.

    A checkout or copy without symlink support (git's core.symlinks=false, some archive tools)
    leaves a link as a small file holding the relative target path. Data trees such as a UD
    split made of links to the official files arrive that way; reading the stub as data would
    fail on its first line.
    """
    try:
        if os.path.getsize(path) > 1024:
            return path
        with open(path, "rb") as f:
            target = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return path
    if not target or any(c in target for c in "\n\t\r"):
        return path
    resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
    return resolved if os.path.isfile(resolved) and resolved != os.path.normpath(path) else path


def expand_globs(patterns: str | Iterable[str]) -> list[str]:
    """Comma-separated globs to a sorted file list; a glob that matches nothing is an error."""
    if isinstance(patterns, str):
        patterns = [p for p in patterns.split(",") if p.strip()]
    files: list[str] = []
    for pattern in patterns:
        pattern = os.path.expanduser(pattern.strip())
        matches = sorted(resolve_link_stub(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not matches:
            raise DataError(pattern, None, "no file matches this path or glob")
        files.extend(matches)
    return files


def read_corpus(patterns: str | Iterable[str], data_format: str = "auto") -> list[Sentence]:
    """Reads every file behind comma-separated globs (or `tfds:NAME[/CONFIG]:SPLIT`)."""
    if isinstance(patterns, str) and patterns.startswith("tfds:"):
        return tfds_source.read_tfds(patterns[len("tfds:"):])
    sentences: list[Sentence] = []
    for path in expand_globs(patterns):
        fmt = sniff_format(path) if data_format == "auto" else data_format
        if fmt == "conllu":
            found = read_conllu(path)
        elif fmt in ("two_column", "panx", "ner", "upos"):
            found = read_two_column(path, task={"ner": "ner", "upos": "upos"}.get(fmt))
        else:
            raise DataError(path, None, f"unknown data format {fmt!r}")
        if not found:
            raise DataError(path, None, "file holds no sentences")
        sentences.extend(found)
    return sentences


def tasks_present(sentences: Iterable[Sentence]) -> list[str]:
    """The tasks for which at least one sentence carries tags, in canonical order."""
    present = set()
    for sentence in sentences:
        present.update(sentence.tags)
    return [task for task in TASKS if task in present]


def read_text_lines(path: str) -> Iterator[tuple[int, str]]:
    """Raw text, one sentence per line, as (line number, text); invalid UTF-8 is a DataError."""
    yield from _decoded_lines(path)
