"""Cutting running text into sentences: after sentence-final punctuation followed by a space
(. ! ? and their Devanagari, Urdu and Arabic forms), or after a CJK full stop, `！` or `？`.

One rule for the transfer-text shards (`tools/make_shards.py`) and for tagging raw documents
(`tagger.predict --input_format=document`).
"""
from __future__ import annotations

import re

SENTENCE_END = re.compile(r"(?<=[.!?।۔؟])\s+(?=\S)|(?<=[。！？])")


def split_sentences(line: str) -> list[str]:
    """The sentences of one line of text, stripped; none for a blank line."""
    return [part.strip() for part in SENTENCE_END.split(line) if part.strip()]
