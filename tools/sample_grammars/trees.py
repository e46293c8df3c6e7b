"""The tree model of the sample grammars: words with UD features and heads, tokens, surface text."""
from __future__ import annotations

from dataclasses import dataclass, field

NO_SPACE_BEFORE = {".", ",", "?", "!", ":", ";", ")"}
NO_SPACE_AFTER = {"¿", "¡", "$", "("}


@dataclass(eq=False)
class Word:
    """One syntactic word: a CoNLL-U word line."""
    form: str
    lemma: str
    upos: str
    feats: dict[str, str] = field(default_factory=dict)
    head: Word | None = None      # None: the root of the sentence
    deprel: str = "root"
    mwt: str | None = None        # surface form when this word and the next are one token


@dataclass
class Phrase:
    """A constituent: its words in surface order, its head and its agreement features."""
    words: list[Word]
    head: Word
    person: str = "3"
    number: str = "Sing"
    gender: str | None = None


@dataclass
class Token:
    """A surface token: one word, or the two words of a multiword token."""
    form: str
    words: list[Word]
    space_after: bool = True


def word(form: str, lemma: str, upos: str, **feats: str | None) -> Word:
    """A Word whose FEATS are the keyword arguments that are not None."""
    return Word(form, lemma, upos, {k: v for k, v in feats.items() if v is not None})


def punct(mark: str) -> Word:
    return word(mark, mark, "PUNCT")


def attach(dependent: Word, governor: Word, deprel: str) -> None:
    dependent.head, dependent.deprel = governor, deprel


def feats_string(feats: dict[str, str]) -> str:
    """UD FEATS: `_`, or `Key=Value` pairs sorted by key and joined with `|`."""
    if not feats:
        return "_"
    return "|".join(f"{k}={v}" for k, v in sorted(feats.items(), key=lambda kv: kv[0].lower()))


def tokens_of(words: list[Word]) -> list[Token]:
    """Groups words into surface tokens and decides where a space follows."""
    tokens, i = [], 0
    while i < len(words):
        size = 2 if words[i].mwt else 1
        tokens.append(Token(words[i].mwt or words[i].form, words[i:i + size]))
        i += size
    for token, following in zip(tokens, tokens[1:]):
        token.space_after = not (following.form in NO_SPACE_BEFORE or token.form in NO_SPACE_AFTER)
    return tokens


def join_tokens(forms: list[str]) -> str:
    """Detokenises a token list with the same spacing rules as the treebanks."""
    return sentence_text([word(f, f, "X") for f in forms])


def sentence_text(words: list[Word]) -> str:
    return "".join(t.form + (" " if t.space_after else "") for t in tokens_of(words)).rstrip(" ")


def check_tree(words: list[Word]) -> None:
    """Asserts one root, heads inside the sentence and no cycles."""
    roots = [w for w in words if w.head is None]
    assert len(roots) == 1 and roots[0].deprel == "root", [w.form for w in roots]
    members = {id(w) for w in words}
    for w in words:
        seen, node = set(), w
        while node.head is not None:
            assert id(node.head) in members, (w.form, node.head.form)
            assert id(node) not in seen, "cycle"
            seen.add(id(node))
            node = node.head


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def capitalize_first_word(words: list[Word]) -> None:
    first = next(w for w in words if w.upos != "PUNCT")
    first.form = capitalize(first.form)
    if first.mwt:
        first.mwt = capitalize(first.mwt)
