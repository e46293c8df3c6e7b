"""What the three sample grammars share: verbs and agreement, coordination, and the `Grammar` base class
that picks templates, limits lengths, contracts ADP+DET and checks every tree."""
from __future__ import annotations

import random
from dataclasses import dataclass

from tools.sample_grammars.trees import Phrase, Word, attach, capitalize_first_word, check_tree, punct, word

PERSON_SLOTS = [("1", "Sing"), ("2", "Sing"), ("3", "Sing"), ("1", "Plur"), ("2", "Plur"), ("3", "Plur")]


@dataclass(frozen=True)
class Verb:
    """A verb with six present and six past forms (1sg 2sg 3sg 1pl 2pl 3pl)."""
    lemma: str
    present: tuple[str, ...]
    past: tuple[str, ...]
    takes: str | None = None      # None: intransitive; "thing" or "any": its kind of object


def finite_verb(verb: Verb, tense: str, person: str, number: str, upos: str = "VERB") -> Word:
    """The finite form agreeing with the subject, with its UD features."""
    forms = verb.present if tense == "Pres" else verb.past
    form = forms[PERSON_SLOTS.index((person, number))]
    return word(form, verb.lemma, upos, Mood="Ind", Number=number, Person=person, Tense=tense, VerbForm="Fin")


def digits_word(rng: random.Random) -> Word:
    """A cardinal written in digits, 2-99."""
    form = str(rng.randint(2, 99))
    return word(form, form, "NUM", NumForm="Digit", NumType="Card")


def number_word(rng: random.Random, number_words: list[str]) -> Word:
    """A cardinal above one: a numeral word or digits."""
    if rng.random() < 0.5:
        form = rng.choice(number_words)
        return word(form, form, "NUM", NumForm="Word", NumType="Card")
    return digits_word(rng)


def coordinate(clauses: list[Phrase], conjunction: str, comma_before_last: bool = False) -> Phrase:
    """Joins clauses as 'A , B , C and D': conj on the first head, cc/punct on each conjunct."""
    first = clauses[0]
    words = list(first.words)
    for k, clause in enumerate(clauses[1:], start=1):
        links = []
        if k < len(clauses) - 1 or comma_before_last:
            links.append(punct(","))
        if k == len(clauses) - 1:
            links.append(word(conjunction, conjunction, "CCONJ"))
        for link in links:
            attach(link, clause.head, "cc" if link.upos == "CCONJ" else "punct")
        attach(clause.head, first.head, "conj")
        words += links + clause.words
    return Phrase(words, first.head)


def subordinate(main: Phrase, clause: Phrase, subordinator: str, comma: bool) -> Phrase:
    """'main [,] because clause': mark on the subordinate head, advcl to the main head."""
    links = [punct(",")] if comma else []
    links.append(word(subordinator, subordinator, "SCONJ"))
    for link in links:
        attach(link, clause.head, "mark" if link.upos == "SCONJ" else "punct")
    attach(clause.head, main.head, "advcl")
    return Phrase(main.words + links + clause.words, main.head)


def question_word(transitive: bool, what: Word, where: str, governor: Word) -> Word:
    """The wh-word of a question: `what` as the object of a transitive verb, else the place adverb `where`."""
    wh = what if transitive else word(where, where, "ADV", PronType="Int")
    attach(wh, governor, "obj" if transitive else "advmod")
    return wh


class Grammar:
    """Template choice, length limits, contractions and clean-up shared by all languages.

    A language subclass supplies `clause()` and `template_<name>()` methods
    (each returning the words of a whole sentence) weighted by `TEMPLATES`.
    """
    code = ""
    TEMPLATES: dict[str, int] = {}
    CONTRACTIONS: dict[tuple[str, str], str] = {}    # (ADP, DET) -> multiword token
    AND = "and"
    OPENING_MARKS: dict[str, str] = {}               # Spanish ¿ and ¡
    ADVERBS: list[str] = []                          # drawn by complements()

    def __init__(self, rng: random.Random):
        self.rng = rng

    def pick(self, items):
        return self.rng.choice(items)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def complements(self, verb: Verb, head: Word) -> list[Word]:
        """Object, place phrase and adverb after the verb (SVO languages)."""
        words = []
        if verb.takes:
            obj = self.object(verb.takes)
            attach(obj.head, head, "obj")
            words += obj.words
        if self.chance(0.35):
            place = self.place_phrase()
            attach(place.head, head, "obl")
            words += place.words
        if self.chance(0.2):
            adv = self.simple_word(self.ADVERBS, "ADV")
            attach(adv, head, "advmod")
            words.append(adv)
        return words

    def simple_word(self, forms: list[str], upos: str, **feats: str) -> Word:
        """A word drawn from a list, its own lemma."""
        form = self.pick(forms)
        return word(form, form, upos, **feats)

    def tense(self) -> str:
        return "Past" if self.chance(0.25) else "Pres"

    def clause(self) -> Phrase:
        raise NotImplementedError

    def subject(self) -> Phrase:
        raise NotImplementedError

    def sentence(self, min_words: int = 3, max_words: int = 20) -> list[Word]:
        """One sentence from a randomly chosen template, within the length limits."""
        names = list(self.TEMPLATES)
        weights = [self.TEMPLATES[n] for n in names]
        while True:
            name = self.rng.choices(names, weights)[0]
            words = getattr(self, f"template_{name}")()
            if min_words <= len(words) <= max_words:
                return self.finalize(words)

    def long_sentence(self, min_words: int = 40, max_words: int = 60) -> list[Word]:
        """Many coordinated clauses: 'A , B , C ... and Z .'."""
        while True:
            clauses = [self.clause()]
            while sum(len(c.words) + 1 for c in clauses) < min_words:
                clauses.append(self.clause())
            words = self.end(coordinate(clauses, self.AND))
            if min_words <= len(words) <= max_words:
                return self.finalize(words)

    def end(self, phrase: Phrase, mark: str = ".") -> list[Word]:
        """Adds the final punctuation (and a Spanish opening mark) attached to the root."""
        words = list(phrase.words)
        opening = self.OPENING_MARKS.get(mark)
        if opening:
            words.insert(0, punct(opening))
            attach(words[0], phrase.head, "punct")
        words.append(punct(mark))
        attach(words[-1], phrase.head, "punct")
        return words

    def interjection(self, interjections: list[str], mark: str) -> list[Word]:
        """'Oh , <clause> !'."""
        clause = self.clause()
        form = self.pick(interjections)
        intj, comma = word(form, form.lower(), "INTJ"), punct(",")
        attach(intj, clause.head, "discourse")
        attach(comma, intj, "punct")
        return self.end(Phrase([intj, comma] + clause.words, clause.head), mark)

    def counted_object(self, verbs: list[Verb], make_object, number_words: list[str]) -> list[Word]:
        """'<subject> buys three red apples .': a plural object counted by a numeral.

        `make_object()` builds the bare plural object. It is called after the verb's tense is drawn,
        so every language draws its random choices in the same order."""
        verb = self.pick([v for v in verbs if v.takes == "thing"])
        subject = self.subject()
        head = finite_verb(verb, self.tense(), subject.person, subject.number)
        if subject.words:  # empty: a dropped Spanish subject
            attach(subject.head, head, "nsubj")
        obj = make_object()
        count = number_word(self.rng, number_words)
        attach(count, obj.head, "nummod")
        attach(obj.head, head, "obj")
        return self.end(Phrase(subject.words + [head, count] + obj.words, head))

    def price(self, subject: Phrase, verb: Verb, currency: str, currency_first: bool) -> list[Word]:
        """'The book costs $12 .' / 'Das Buch kostet 12 € .'."""
        head = finite_verb(verb, "Pres", "3", subject.number)
        amount = digits_word(self.rng)
        symbol = word(currency, currency, "SYM")
        attach(subject.head, head, "nsubj")
        attach(symbol, head, "obj")
        attach(amount, symbol, "nummod")
        return self.end(Phrase(subject.words + [head] + ([symbol, amount] if currency_first else [amount, symbol]),
                               head))

    def finalize(self, words: list[Word]) -> list[Word]:
        self.contract(words)
        self.adjust_forms(words)
        capitalize_first_word(words)
        check_tree(words)
        return words

    def contract(self, words: list[Word]) -> None:
        """Marks ADP+DET pairs such as `de el` as multiword tokens (`del`)."""
        i = 0
        while i < len(words) - 1:
            pair = (words[i].form.lower(), words[i + 1].form.lower())
            if words[i].upos == "ADP" and words[i + 1].upos == "DET" and pair in self.CONTRACTIONS:
                words[i].mwt = self.CONTRACTIONS[pair]
                i += 1
            i += 1

    def adjust_forms(self, words: list[Word]) -> None:
        """Language-specific surface fixes (English a/an)."""


# Gendered nouns and determiners (German, Spanish).

@dataclass(frozen=True)
class Noun:
    """A noun with grammatical gender (German, Spanish)."""
    lemma: str
    gender: str
    plural: str


@dataclass(frozen=True)
class Determiner:
    """A determiner paradigm: forms by case (German) and gender/number slot."""
    lemma: str
    forms: dict[str, tuple[str | None, ...]]
    feats: dict[str, str]
    declension: str               # adjective declension after it (German)
    deprel: str = "det"


def gendered_nouns(spec: str) -> list[Noun]:
    """'Hund:Masc:Hunde Katze:Fem:Katzen' -> Nouns."""
    return [Noun(*item.split(":")) for item in spec.split()]


def gendered_names(spec: str) -> list[tuple[str, str]]:
    return [tuple(item.split(":")) for item in spec.split()]


def forms_verb(lemma: str, present: str, past: str, takes: str | None = None) -> Verb:
    """A verb given its twelve forms as two space-separated strings."""
    return Verb(lemma, tuple(present.split()), tuple(past.split()), takes)
