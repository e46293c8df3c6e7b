"""What every reader yields: a `Sentence`, the tag sets, and `DataError` for bad input."""
from __future__ import annotations

import dataclasses

from tagger.errors import UserError

TASKS = ("upos", "ufeats", "ner")
DATA_FORMATS = ("auto", "conllu", "two_column", "ner", "upos")
UPOS_TAGS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART",
             "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")
NER_TAGS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")


class DataError(UserError):
    """Bad input data; the message names the file and line."""

    def __init__(self, path: str, line: int | None, problem: str):
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.problem = path, line, problem


@dataclasses.dataclass
class Sentence:
    """A gold-tokenised sentence with per-word tags for some tasks."""
    words: list[str]
    tags: dict[str, list[str]]
    treebank: str
    lang: str
    source: str = ""  # "file:line" of the sentence start, for error messages

    def __post_init__(self):
        for task, tags in self.tags.items():
            if len(tags) != len(self.words):
                raise UserError(f"{self.source}: {task} has {len(tags)} tags for {len(self.words)} words")
