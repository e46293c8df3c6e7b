#!/usr/bin/env python3
"""Generate the small synthetic multilingual corpus shipped in ``tagger/sample``.

All text comes from hand-written lexicons and tiny probabilistic grammars in
this file (nothing is downloaded or copied), drawn with fixed seeds, so

    python tools/make_sample.py

always writes byte-identical files. Under ``--out`` (default ``tagger/sample``):

* ``ud/<code>/<code>-ud-{train,dev,test}.conllu``: UD-style treebanks for
  ``en_sample``, ``de_sample`` and ``es_sample`` (UPOS, agreeing FEATS,
  HEAD/DEPREL trees, ``SpaceAfter=No``, multiword tokens in de and es);
* ``ner/<lang>/{train,dev,test}.txt``: PAN-X/WikiANN-style ``token<TAB>tag``
  NER files with invented people, places and organisations;
* ``unlabeled/<lang>.txt``: raw sentences for distillation, plus a few lines
  shorter than 10 characters that the distiller must drop;
* ``vocab.txt``: a cased WordPiece vocabulary (needs TensorFlow Text; skip it
  with ``--novocab``);
* ``README.md``.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from absl import app, flags

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "tagger" / "sample"
DEFAULT_SEED = 1234

UD_SIZES = {"train": 400, "dev": 80, "test": 80}
LONG_TRAIN_SENTENCES = 6          # 40-60 words each, to exercise windowing
NER_SIZES = {"train": 300, "dev": 60, "test": 60}
UNLABELED_SENTENCES = 1500
UNLABELED_NER_SHARE = 0.15        # share of unlabeled lines drawn from the NER templates
MIN_UNLABELED_CHARS = 10          # the distiller drops shorter lines
VOCAB_SIZE = 2000
RESERVED_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LANGUAGES = ("en", "de", "es")

NO_SPACE_BEFORE = {".", ",", "?", "!", ":", ";", ")"}
NO_SPACE_AFTER = {"¿", "¡", "$", "("}


# ----------------------------------------------------------------- tree model

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


# ------------------------------------------------------------ shared grammar

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


# ------------------------------------------------------------------- English

def en_nouns(spec: str) -> list[tuple[str, str]]:
    return [tuple(item.split("/")) for item in spec.split()]


def en_verb(base: str, third: str, past: str, takes: str | None = None) -> Verb:
    return Verb(base, (base, base, third, base, base, base), (past,) * 6, takes)


EN_ANIMATE = en_nouns("dog/dogs cat/cats teacher/teachers child/children doctor/doctors student/students "
                      "bird/birds farmer/farmers neighbour/neighbours girl/girls boy/boys")
EN_THINGS = en_nouns("book/books letter/letters apple/apples car/cars table/tables window/windows "
                     "song/songs box/boxes key/keys picture/pictures")
EN_PLACES = en_nouns("garden/gardens city/cities school/schools park/parks kitchen/kitchens "
                     "market/markets river/rivers village/villages station/stations")
EN_ADJECTIVES = "big small old new red green happy quiet young beautiful long heavy".split()
EN_ADVERBS = "often quickly slowly quietly again today".split()
EN_PLACE_PREPOSITIONS = "in near behind at from".split()
EN_PEOPLE = "Anna Peter Maria Tom Lucy David Emma Oliver".split()
EN_TOWNS = "Ashbridge Kelvingford Greyhaven Lowmarsh".split()
EN_NUMBERS = "two three four five six ten twelve twenty".split()
EN_PRONOUNS = [  # nominative, accusative, person, number, gender
    ("I", "me", "1", "Sing", None), ("you", "you", "2", "Sing", None), ("he", "him", "3", "Sing", "Masc"),
    ("she", "her", "3", "Sing", "Fem"), ("it", "it", "3", "Sing", "Neut"), ("we", "us", "1", "Plur", None),
    ("they", "them", "3", "Plur", None)]
EN_TRANSITIVE = [
    en_verb("see", "sees", "saw", "any"), en_verb("read", "reads", "read", "thing"),
    en_verb("buy", "buys", "bought", "thing"), en_verb("write", "writes", "wrote", "thing"),
    en_verb("find", "finds", "found", "any"), en_verb("carry", "carries", "carried", "thing"),
    en_verb("open", "opens", "opened", "thing"), en_verb("like", "likes", "liked", "any"),
    en_verb("paint", "paints", "painted", "any"), en_verb("need", "needs", "needed", "thing"),
    en_verb("visit", "visits", "visited", "any")]
EN_INTRANSITIVE = [
    en_verb("sleep", "sleeps", "slept"), en_verb("run", "runs", "ran"), en_verb("work", "works", "worked"),
    en_verb("sing", "sings", "sang"), en_verb("wait", "waits", "waited"), en_verb("live", "lives", "lived"),
    en_verb("laugh", "laughs", "laughed"), en_verb("play", "plays", "played")]
EN_BE = Verb("be", ("am", "are", "is", "are", "are", "are"), ("was", "were", "was", "were", "were", "were"))
EN_DO = en_verb("do", "does", "did")
EN_COST = en_verb("cost", "costs", "cost", "thing")


class EnglishGrammar(Grammar):
    """English-like: SVO, do-support in questions and negation, a/an."""
    code = "en_sample"
    ADVERBS = EN_ADVERBS
    TEMPLATES = {"statement": 9, "copula": 2, "negated": 2, "yes_no": 2, "wh": 2, "number": 2,
                 "price": 1, "coordinated": 2, "subordinate": 2, "interjection": 1}

    def determiner(self, noun: Word, number: str) -> Word | None:
        choice = self.pick(["the", "the", "a", "this", "my", "our"] if number == "Sing"
                           else ["the", "the", "these", "my", "our", None])
        if choice is None:
            return None
        if choice in ("my", "our"):
            det = word(choice, choice, "PRON", Number="Sing" if choice == "my" else "Plur",
                       Person="1", Poss="Yes", PronType="Prs")
            attach(det, noun, "nmod:poss")
            return det
        if choice == "this":
            det = word("this" if number == "Sing" else "these", "this", "DET", Number=number, PronType="Dem")
        else:
            det = word(choice, choice, "DET", Definite="Def" if choice == "the" else "Ind", PronType="Art")
        attach(det, noun, "det")
        return det

    def noun_phrase(self, nouns, number: str | None = None, adjective_p: float = 0.3,
                    with_determiner: bool = True) -> Phrase:
        number = number or self.pick(["Sing", "Sing", "Plur"])
        singular, plural = self.pick(nouns)
        noun = word(singular if number == "Sing" else plural, singular, "NOUN", Number=number)
        words = []
        det = self.determiner(noun, number) if with_determiner else None
        if det:
            words.append(det)
        if self.chance(adjective_p):
            adj = self.simple_word(EN_ADJECTIVES, "ADJ", Degree="Pos")
            attach(adj, noun, "amod")
            words.append(adj)
        return Phrase(words + [noun], noun, "3", number)

    def pronoun(self, case: str) -> Phrase:
        nominative, accusative, person, number, gender = self.pick(EN_PRONOUNS)
        form = nominative if case == "Nom" else accusative
        pron = word(form, nominative, "PRON", Case=case, Gender=gender, Number=number, Person=person,
                    PronType="Prs")
        return Phrase([pron], pron, person, number, gender)

    def name(self, names: list[str]) -> Phrase:
        propn = self.simple_word(names, "PROPN", Number="Sing")
        return Phrase([propn], propn)

    def subject(self) -> Phrase:
        r = self.rng.random()
        if r < 0.25:
            return self.pronoun("Nom")
        if r < 0.45:
            return self.name(EN_PEOPLE)
        return self.noun_phrase(EN_ANIMATE)

    def object(self, takes: str) -> Phrase:
        r = self.rng.random()
        if takes == "thing" or r < 0.3:
            return self.noun_phrase(EN_THINGS)
        if r < 0.5:
            return self.pronoun("Acc")
        if r < 0.7:
            return self.name(EN_PEOPLE)
        return self.noun_phrase(EN_ANIMATE)

    def place_phrase(self) -> Phrase:
        """'in the garden', 'near Ashbridge'."""
        place = self.name(EN_TOWNS) if self.chance(0.25) else self.noun_phrase(EN_PLACES, "Sing", 0.2)
        prep = self.simple_word(EN_PLACE_PREPOSITIONS, "ADP")
        attach(prep, place.head, "case")
        return Phrase([prep] + place.words, place.head)

    def clause(self, verb: Verb | None = None) -> Phrase:
        verb = verb or self.pick(EN_TRANSITIVE + EN_INTRANSITIVE)
        subject = self.subject()
        head = finite_verb(verb, self.tense(), subject.person, subject.number)
        attach(subject.head, head, "nsubj")
        return Phrase(subject.words + [head] + self.complements(verb, head), head)

    def do_support(self, verb: Verb, subject: Phrase) -> tuple[Word, Word]:
        """The finite 'do' auxiliary and the bare infinitive it governs."""
        main = word(verb.lemma, verb.lemma, "VERB", VerbForm="Inf")
        aux = finite_verb(EN_DO, self.tense(), subject.person, subject.number, "AUX")
        attach(aux, main, "aux")
        attach(subject.head, main, "nsubj")
        return aux, main

    def template_statement(self):
        return self.end(self.clause())

    def template_copula(self):
        subject = self.subject() if self.chance(0.6) else self.noun_phrase(EN_THINGS, adjective_p=0)
        adj = self.simple_word(EN_ADJECTIVES, "ADJ", Degree="Pos")
        cop = finite_verb(EN_BE, self.tense(), subject.person, subject.number, "AUX")
        attach(subject.head, adj, "nsubj")
        attach(cop, adj, "cop")
        words = subject.words + [cop]
        if self.chance(0.4):
            very = word("very", "very", "ADV")
            attach(very, adj, "advmod")
            words.append(very)
        return self.end(Phrase(words + [adj], adj))

    def template_negated(self):
        verb = self.pick(EN_TRANSITIVE + EN_INTRANSITIVE)
        subject = self.subject()
        aux, main = self.do_support(verb, subject)
        negation = word("not", "not", "PART", Polarity="Neg")
        attach(negation, main, "advmod")
        words = subject.words + [aux, negation, main] + self.complements(verb, main)
        return self.end(Phrase(words, main))

    def template_yes_no(self):
        verb = self.pick(EN_TRANSITIVE + EN_INTRANSITIVE)
        subject = self.subject()
        aux, main = self.do_support(verb, subject)
        return self.end(Phrase([aux] + subject.words + [main] + self.complements(verb, main), main), "?")

    def template_wh(self):
        """'What does Anna read ?' or 'Where does the dog sleep ?'."""
        transitive = self.chance(0.5)
        verb = self.pick(EN_TRANSITIVE if transitive else EN_INTRANSITIVE)
        subject = self.subject()
        aux, main = self.do_support(verb, subject)
        if transitive:
            wh = word("what", "what", "PRON", PronType="Int")
            attach(wh, main, "obj")
        else:
            wh = word("where", "where", "ADV", PronType="Int")
            attach(wh, main, "advmod")
        return self.end(Phrase([wh, aux] + subject.words + [main], main), "?")

    def template_number(self):
        """'Anna buys three red apples .'."""
        verb = self.pick([v for v in EN_TRANSITIVE if v.takes == "thing"])
        subject = self.subject()
        head = finite_verb(verb, self.tense(), subject.person, subject.number)
        attach(subject.head, head, "nsubj")
        obj = self.noun_phrase(EN_THINGS, "Plur", with_determiner=False)
        count = number_word(self.rng, EN_NUMBERS)
        attach(count, obj.head, "nummod")
        attach(obj.head, head, "obj")
        return self.end(Phrase(subject.words + [head, count] + obj.words, head))

    def template_price(self):
        """'The book costs $12 .'."""
        subject = self.noun_phrase(EN_THINGS, adjective_p=0.2)
        head = finite_verb(EN_COST, "Pres", "3", subject.number)
        dollar = word("$", "$", "SYM")
        amount = digits_word(self.rng)
        attach(subject.head, head, "nsubj")
        attach(dollar, head, "obj")
        attach(amount, dollar, "nummod")
        return self.end(Phrase(subject.words + [head, dollar, amount], head))

    def template_coordinated(self):
        return self.end(coordinate([self.clause(), self.clause()], self.pick(["and", "but"])))

    def template_subordinate(self):
        return self.end(subordinate(self.clause(), self.clause(), "because", comma=False))

    def template_interjection(self):
        return self.interjection(["Oh", "Well", "Yes"], self.pick([".", "!"]))

    def adjust_forms(self, words):
        for det, following in zip(words, words[1:]):
            if det.upos == "DET" and det.lemma == "a":
                det.form = "an" if following.form[0].lower() in "aeiou" else "a"


# -------------------------------------------------------------------- German

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


def de_regular_verb(lemma: str, takes: str | None = None) -> Verb:
    """A weak German verb: kaufen -> kaufe kaufst kauft ...; arbeiten inserts -e-."""
    stem = lemma[:-2]
    e = "e" if stem.endswith(("t", "d", "fn", "gn", "chn")) else ""
    present = (stem + "e", stem + e + "st", stem + e + "t", lemma, stem + e + "t", lemma)
    past = tuple(stem + e + ending for ending in ("te", "test", "te", "ten", "tet", "ten"))
    return Verb(lemma, present, past, takes)


DE_GENDER_SLOT = {"Masc": 0, "Fem": 1, "Neut": 2}
DE_DETERMINERS = {
    "def": Determiner("der", {"Nom": ("der", "die", "das", "die"), "Acc": ("den", "die", "das", "die"),
                              "Dat": ("dem", "der", "dem", "den")},
                      {"Definite": "Def", "PronType": "Art"}, "weak"),
    "indef": Determiner("ein", {"Nom": ("ein", "eine", "ein", None), "Acc": ("einen", "eine", "ein", None),
                                "Dat": ("einem", "einer", "einem", None)},
                        {"Definite": "Ind", "PronType": "Art"}, "mixed"),
    "dem": Determiner("dieser", {"Nom": ("dieser", "diese", "dieses", "diese"),
                                 "Acc": ("diesen", "diese", "dieses", "diese"),
                                 "Dat": ("diesem", "dieser", "diesem", "diesen")}, {"PronType": "Dem"}, "weak"),
    "poss": Determiner("mein", {"Nom": ("mein", "meine", "mein", "meine"), "Acc": ("meinen", "meine", "mein", "meine"),
                                "Dat": ("meinem", "meiner", "meinem", "meinen")},
                       {"Person": "1", "Poss": "Yes", "PronType": "Prs"}, "mixed"),
}
DE_ADJECTIVE_ENDINGS = {  # declension -> case -> (Masc, Fem, Neut, Plur)
    "weak": {"Nom": ("e", "e", "e", "en"), "Acc": ("en", "e", "e", "en"), "Dat": ("en", "en", "en", "en")},
    "mixed": {"Nom": ("er", "e", "es", "en"), "Acc": ("en", "e", "es", "en"), "Dat": ("en", "en", "en", "en")},
    "strong": {"Nom": ("er", "e", "es", "e"), "Acc": ("en", "e", "es", "e"), "Dat": ("em", "er", "em", "en")},
}
DE_ANIMATE = gendered_nouns("Hund:Masc:Hunde Katze:Fem:Katzen Kind:Neut:Kinder Lehrer:Masc:Lehrer "
                            "Lehrerin:Fem:Lehrerinnen Frau:Fem:Frauen Mann:Masc:Männer Vogel:Masc:Vögel "
                            "Bauer:Masc:Bauern Ärztin:Fem:Ärztinnen Mädchen:Neut:Mädchen")
DE_THINGS = gendered_nouns("Buch:Neut:Bücher Brief:Masc:Briefe Apfel:Masc:Äpfel Auto:Neut:Autos "
                           "Tisch:Masc:Tische Fenster:Neut:Fenster Lied:Neut:Lieder Kiste:Fem:Kisten "
                           "Schlüssel:Masc:Schlüssel Bild:Neut:Bilder Tasche:Fem:Taschen")
DE_PLACES = gendered_nouns("Garten:Masc:Gärten Stadt:Fem:Städte Schule:Fem:Schulen Park:Masc:Parks "
                           "Küche:Fem:Küchen Markt:Masc:Märkte Fluss:Masc:Flüsse Dorf:Neut:Dörfer "
                           "Bahnhof:Masc:Bahnhöfe Haus:Neut:Häuser")
DE_ADJECTIVES = "groß klein alt neu rot grün schön jung ruhig glücklich lang schwer".split()
DE_ADVERBS = "heute oft schnell langsam leise wieder hier dort".split()
DE_PLACE_PREPOSITIONS = "in in bei neben hinter vor auf".split()
DE_PEOPLE = gendered_names("Anna:Fem Lukas:Masc Lena:Fem Jonas:Masc Felix:Masc Marie:Fem Paul:Masc Sophie:Fem")
DE_TOWNS = "Lindenau Rotheim Kellstein Wendhausen".split()
DE_NUMBERS = "zwei drei vier fünf sechs zehn zwölf zwanzig".split()
DE_PRONOUNS = [  # nominative, accusative, person, number, gender
    ("ich", "mich", "1", "Sing", None), ("du", "dich", "2", "Sing", None), ("er", "ihn", "3", "Sing", "Masc"),
    ("sie", "sie", "3", "Sing", "Fem"), ("es", "es", "3", "Sing", "Neut"), ("wir", "uns", "1", "Plur", None),
    ("ihr", "euch", "2", "Plur", None), ("sie", "sie", "3", "Plur", None)]
DE_TRANSITIVE = [
    forms_verb("sehen", "sehe siehst sieht sehen seht sehen", "sah sahst sah sahen saht sahen", "any"),
    forms_verb("lesen", "lese liest liest lesen lest lesen", "las last las lasen last lasen", "thing"),
    forms_verb("schreiben", "schreibe schreibst schreibt schreiben schreibt schreiben",
               "schrieb schriebst schrieb schrieben schriebt schrieben", "thing"),
    forms_verb("finden", "finde findest findet finden findet finden",
               "fand fandest fand fanden fandet fanden", "any"),
    forms_verb("tragen", "trage trägst trägt tragen tragt tragen", "trug trugst trug trugen trugt trugen", "thing"),
    de_regular_verb("kaufen", "thing"), de_regular_verb("öffnen", "thing"), de_regular_verb("suchen", "any"),
    de_regular_verb("malen", "any"), de_regular_verb("brauchen", "thing"), de_regular_verb("besuchen", "any")]
DE_INTRANSITIVE = [
    forms_verb("schlafen", "schlafe schläfst schläft schlafen schlaft schlafen",
               "schlief schliefst schlief schliefen schlieft schliefen"),
    forms_verb("singen", "singe singst singt singen singt singen", "sang sangst sang sangen sangt sangen"),
    de_regular_verb("arbeiten"), de_regular_verb("wohnen"), de_regular_verb("warten"),
    de_regular_verb("lachen"), de_regular_verb("spielen")]
DE_SEIN = forms_verb("sein", "bin bist ist sind seid sind", "war warst war waren wart waren")
DE_KOSTEN = de_regular_verb("kosten", "thing")


class GermanGrammar(Grammar):
    """German-like: verb second, verb first in questions, verb last after `weil`; case and gender."""
    code = "de_sample"
    TEMPLATES = {"statement": 7, "adverb_first": 2, "copula": 2, "negated": 2, "yes_no": 2, "wh": 2,
                 "number": 2, "price": 1, "coordinated": 2, "subordinate": 2, "interjection": 1}
    CONTRACTIONS = {("in", "dem"): "im", ("bei", "dem"): "beim", ("von", "dem"): "vom"}
    AND = "und"

    def noun_phrase(self, nouns: list[Noun], case: str, number: str | None = None,
                    articles=("def", "def", "indef", "dem", "poss"), adjective_p: float = 0.3,
                    possessor_p: float = 0.0) -> Phrase:
        """Determiner + adjective + noun agreeing in case, gender and number (+ 'von' possessor)."""
        entry = self.pick(nouns)
        number = number or self.pick(["Sing", "Sing", "Plur"])
        article = self.pick(articles)
        if article == "indef" and number == "Plur":
            article = "none"
        slot = 3 if number == "Plur" else DE_GENDER_SLOT[entry.gender]
        gender = entry.gender if number == "Sing" else None
        form = entry.lemma
        if number == "Plur":
            form = entry.plural
            if case == "Dat" and not form.endswith(("n", "s")):
                form += "n"
        noun = word(form, entry.lemma, "NOUN", Case=case, Gender=entry.gender, Number=number)
        words = []
        declension = "strong"
        if article != "none":
            det_spec = DE_DETERMINERS[article]
            det = word(det_spec.forms[case][slot], det_spec.lemma, "DET", Case=case, Gender=gender,
                       Number=number, **det_spec.feats)
            attach(det, noun, det_spec.deprel)
            words.append(det)
            declension = det_spec.declension
        if self.chance(adjective_p):
            stem = self.pick(DE_ADJECTIVES)
            adj = word(stem + DE_ADJECTIVE_ENDINGS[declension][case][slot], stem, "ADJ",
                       Case=case, Degree="Pos", Gender=gender, Number=number)
            attach(adj, noun, "amod")
            words.append(adj)
        words.append(noun)
        if self.chance(possessor_p):
            owner = self.name("Dat") if self.chance(0.4) else self.noun_phrase(
                DE_ANIMATE, "Dat", articles=("def", "def", "indef"), adjective_p=0)
            von = word("von", "von", "ADP", AdpType="Prep")
            attach(von, owner.head, "case")
            attach(owner.head, noun, "nmod")
            words += [von] + owner.words
        return Phrase(words, noun, "3", number, entry.gender)

    def pronoun(self, case: str) -> Phrase:
        nominative, accusative, person, number, gender = self.pick(DE_PRONOUNS)
        pron = word(nominative if case == "Nom" else accusative, nominative, "PRON", Case=case, Gender=gender,
                    Number=number, Person=person, PronType="Prs")
        return Phrase([pron], pron, person, number, gender)

    def name(self, case: str) -> Phrase:
        form, gender = self.pick(DE_PEOPLE)
        propn = word(form, form, "PROPN", Case=case, Gender=gender, Number="Sing")
        return Phrase([propn], propn, "3", "Sing", gender)

    def subject(self) -> Phrase:
        r = self.rng.random()
        if r < 0.25:
            return self.pronoun("Nom")
        if r < 0.45:
            return self.name("Nom")
        return self.noun_phrase(DE_ANIMATE, "Nom")

    def object(self, takes: str) -> Phrase:
        r = self.rng.random()
        if takes == "thing" or r < 0.3:
            return self.noun_phrase(DE_THINGS, "Acc", possessor_p=0.2)
        if r < 0.5:
            return self.pronoun("Acc")
        if r < 0.7:
            return self.name("Acc")
        return self.noun_phrase(DE_ANIMATE, "Acc")

    def place_phrase(self) -> Phrase:
        """A dative place: 'im Garten', 'neben der Schule', 'in Lindenau'."""
        prep = self.simple_word(DE_PLACE_PREPOSITIONS, "ADP", AdpType="Prep")
        if self.chance(0.2):
            town = self.simple_word(DE_TOWNS, "PROPN", Case="Dat", Gender="Neut", Number="Sing")
            place = Phrase([town], town)
        else:
            place = self.noun_phrase(DE_PLACES, "Dat", "Sing", articles=("def", "def", "def", "indef", "poss"),
                                     adjective_p=0.2)
        attach(prep, place.head, "case")
        return Phrase([prep] + place.words, place.head)

    def clause(self, order: str = "subject_first", verb: Verb | None = None, negate: bool = False) -> Phrase:
        """A clause in one of four word orders.

        subject_first: S V (Adv) O (nicht) PP    adverb_first: Adv V S O (nicht) PP
        verb_first:    V S (Adv) O (nicht) PP    verb_last:    S (Adv) O (nicht) PP V
        """
        verb = verb or self.pick(DE_TRANSITIVE + DE_INTRANSITIVE)
        subject = self.subject()
        head = finite_verb(verb, self.tense(), subject.person, subject.number)
        attach(subject.head, head, "nsubj")
        adverb = self.simple_word(DE_ADVERBS, "ADV") if order == "adverb_first" or self.chance(0.2) else None
        middle = []
        if verb.takes:
            obj = self.object(verb.takes)
            attach(obj.head, head, "obj")
            middle += obj.words
        if negate:
            middle.append(word("nicht", "nicht", "PART", Polarity="Neg"))
            attach(middle[-1], head, "advmod")
        if self.chance(0.35):
            place = self.place_phrase()
            attach(place.head, head, "obl")
            middle += place.words
        if adverb:
            attach(adverb, head, "advmod")
        adverbs = [adverb] if adverb else []
        if order == "adverb_first":
            words = adverbs + [head] + subject.words + middle
        elif order == "verb_first":
            words = [head] + subject.words + adverbs + middle
        elif order == "verb_last":
            words = subject.words + adverbs + middle + [head]
        else:
            words = subject.words + [head] + adverbs + middle
        return Phrase(words, head)

    def template_statement(self):
        return self.end(self.clause())

    def template_adverb_first(self):
        return self.end(self.clause("adverb_first"))

    def template_copula(self):
        """'Das Haus ist sehr groß .'."""
        subject = self.subject() if self.chance(0.6) else self.noun_phrase(DE_THINGS, "Nom", adjective_p=0)
        stem = self.pick(DE_ADJECTIVES)
        adj = word(stem, stem, "ADJ", Degree="Pos")
        cop = finite_verb(DE_SEIN, self.tense(), subject.person, subject.number, "AUX")
        attach(subject.head, adj, "nsubj")
        attach(cop, adj, "cop")
        words = subject.words + [cop]
        if self.chance(0.4):
            words.append(word("sehr", "sehr", "ADV"))
            attach(words[-1], adj, "advmod")
        return self.end(Phrase(words + [adj], adj))

    def template_negated(self):
        return self.end(self.clause(negate=True))

    def template_yes_no(self):
        return self.end(self.clause("verb_first"), "?")

    def template_wh(self):
        """'Was liest der Lehrer ?' or 'Wo wohnt Anna ?'."""
        transitive = self.chance(0.5)
        verb = self.pick(DE_TRANSITIVE if transitive else DE_INTRANSITIVE)
        subject = self.subject()
        head = finite_verb(verb, self.tense(), subject.person, subject.number)
        attach(subject.head, head, "nsubj")
        if transitive:
            wh = word("was", "was", "PRON", Case="Acc", Number="Sing", PronType="Int")
            attach(wh, head, "obj")
        else:
            wh = word("wo", "wo", "ADV", PronType="Int")
            attach(wh, head, "advmod")
        return self.end(Phrase([wh, head] + subject.words, head), "?")

    def template_number(self):
        """'Anna kauft drei rote Äpfel .'."""
        verb = self.pick([v for v in DE_TRANSITIVE if v.takes == "thing"])
        subject = self.subject()
        head = finite_verb(verb, self.tense(), subject.person, subject.number)
        attach(subject.head, head, "nsubj")
        obj = self.noun_phrase(DE_THINGS, "Acc", "Plur", articles=("none",))
        count = number_word(self.rng, DE_NUMBERS)
        attach(count, obj.head, "nummod")
        attach(obj.head, head, "obj")
        return self.end(Phrase(subject.words + [head, count] + obj.words, head))

    def template_price(self):
        """'Das Buch kostet 12 € .'."""
        subject = self.noun_phrase(DE_THINGS, "Nom", adjective_p=0.2)
        head = finite_verb(DE_KOSTEN, "Pres", "3", subject.number)
        amount = digits_word(self.rng)
        euro = word("€", "€", "SYM")
        attach(subject.head, head, "nsubj")
        attach(euro, head, "obj")
        attach(amount, euro, "nummod")
        return self.end(Phrase(subject.words + [head, amount, euro], head))

    def template_coordinated(self):
        conjunction = self.pick(["und", "aber"])
        return self.end(coordinate([self.clause(), self.clause()], conjunction, comma_before_last=conjunction == "aber"))

    def template_subordinate(self):
        return self.end(subordinate(self.clause(), self.clause("verb_last"), "weil", comma=True))

    def template_interjection(self):
        return self.interjection(["Ach", "Oh", "Na"], self.pick([".", "!"]))


# ------------------------------------------------------------------- Spanish

def es_regular_verb(lemma: str, takes: str | None = None) -> Verb:
    """A regular -ar/-er/-ir verb in present and preterite."""
    stem, ending = lemma[:-2], lemma[-2:]
    present = {"ar": "o as a amos áis an", "er": "o es e emos éis en", "ir": "o es e imos ís en"}[ending]
    past = {"ar": "é aste ó amos asteis aron", "er": "í iste ió imos isteis ieron",
            "ir": "í iste ió imos isteis ieron"}[ending]
    return Verb(lemma, tuple(stem + e for e in present.split()), tuple(stem + e for e in past.split()), takes)


def es_adjectives(spec: str) -> list[tuple[str, ...]]:
    """'rojo/roja/rojos/rojas' (gendered) or 'grande/grandes' (number only)."""
    return [tuple(item.split("/")) for item in spec.split()]


ES_DETERMINERS = {  # forms for (Masc Sing, Fem Sing, Masc Plur, Fem Plur)
    "def": Determiner("el", {"": ("el", "la", "los", "las")}, {"Definite": "Def", "PronType": "Art"}, ""),
    "indef": Determiner("uno", {"": ("un", "una", "unos", "unas")}, {"Definite": "Ind", "PronType": "Art"}, ""),
    "dem": Determiner("este", {"": ("este", "esta", "estos", "estas")}, {"PronType": "Dem"}, ""),
    "poss": Determiner("mi", {"": ("mi", "mi", "mis", "mis")}, {"Person": "1", "Poss": "Yes", "PronType": "Prs"}, ""),
}
ES_ANIMATE = gendered_nouns("perro:Masc:perros gato:Masc:gatos niña:Fem:niñas niño:Masc:niños "
                            "maestro:Masc:maestros maestra:Fem:maestras mujer:Fem:mujeres hombre:Masc:hombres "
                            "pájaro:Masc:pájaros vecina:Fem:vecinas médico:Masc:médicos")
ES_THINGS = gendered_nouns("libro:Masc:libros carta:Fem:cartas manzana:Fem:manzanas coche:Masc:coches "
                           "mesa:Fem:mesas ventana:Fem:ventanas canción:Fem:canciones llave:Fem:llaves "
                           "caja:Fem:cajas regalo:Masc:regalos cuadro:Masc:cuadros")
ES_PLACES = gendered_nouns("jardín:Masc:jardines ciudad:Fem:ciudades escuela:Fem:escuelas parque:Masc:parques "
                           "cocina:Fem:cocinas mercado:Masc:mercados río:Masc:ríos pueblo:Masc:pueblos "
                           "plaza:Fem:plazas estación:Fem:estaciones")
ES_ADJECTIVES = es_adjectives("pequeño/pequeña/pequeños/pequeñas viejo/vieja/viejos/viejas "
                              "nuevo/nueva/nuevos/nuevas rojo/roja/rojos/rojas bonito/bonita/bonitos/bonitas "
                              "tranquilo/tranquila/tranquilos/tranquilas grande/grandes verde/verdes "
                              "joven/jóvenes feliz/felices azul/azules")
ES_ADVERBS = "hoy siempre despacio aquí mucho pronto".split()
ES_PLACE_PREPOSITIONS = "en en a de desde por hacia".split()
ES_PEOPLE = gendered_names("Ana:Fem Pedro:Masc Lucía:Fem Diego:Masc Sofía:Fem Pablo:Masc Elena:Fem Javier:Masc")
ES_TOWNS = "Montecal Alcavia Orimo Valdefuego".split()
ES_NUMBERS = "dos tres cuatro cinco seis diez doce veinte".split()
ES_PRONOUNS = [  # form, person, number, gender
    ("yo", "1", "Sing", None), ("tú", "2", "Sing", None), ("él", "3", "Sing", "Masc"), ("ella", "3", "Sing", "Fem"),
    ("nosotros", "1", "Plur", "Masc"), ("nosotras", "1", "Plur", "Fem"), ("ellos", "3", "Plur", "Masc"),
    ("ellas", "3", "Plur", "Fem")]
ES_TRANSITIVE = [
    forms_verb("ver", "veo ves ve vemos veis ven", "vi viste vio vimos visteis vieron", "any"),
    forms_verb("leer", "leo lees lee leemos leéis leen", "leí leíste leyó leímos leísteis leyeron", "thing"),
    forms_verb("encontrar", "encuentro encuentras encuentra encontramos encontráis encuentran",
               "encontré encontraste encontró encontramos encontrasteis encontraron", "any"),
    es_regular_verb("comprar", "thing"), es_regular_verb("escribir", "thing"), es_regular_verb("llevar", "thing"),
    es_regular_verb("abrir", "thing"), es_regular_verb("mirar", "any"), es_regular_verb("pintar", "any"),
    es_regular_verb("necesitar", "thing"), es_regular_verb("visitar", "any")]
ES_INTRANSITIVE = [
    forms_verb("dormir", "duermo duermes duerme dormimos dormís duermen",
               "dormí dormiste durmió dormimos dormisteis durmieron"),
    es_regular_verb("trabajar"), es_regular_verb("cantar"), es_regular_verb("esperar"), es_regular_verb("bailar"),
    es_regular_verb("vivir"), es_regular_verb("correr"), es_regular_verb("descansar")]
ES_SER = forms_verb("ser", "soy eres es somos sois son", "fui fuiste fue fuimos fuisteis fueron")
ES_COSTAR = forms_verb("costar", "cuesto cuestas cuesta costamos costáis cuestan",
                       "costé costaste costó costamos costasteis costaron", "thing")


class SpanishGrammar(Grammar):
    """Spanish-like: SVO with pro-drop, post-nominal adjectives, personal 'a', ¿...? and ¡...!."""
    code = "es_sample"
    ADVERBS = ES_ADVERBS
    TEMPLATES = {"statement": 9, "copula": 2, "negated": 2, "yes_no": 2, "wh": 2, "number": 2,
                 "price": 1, "coordinated": 2, "subordinate": 2, "interjection": 1}
    CONTRACTIONS = {("a", "el"): "al", ("de", "el"): "del"}
    AND = "y"
    OPENING_MARKS = {"?": "¿", "!": "¡"}

    def adjective(self, gender: str | None, number: str) -> Word:
        forms = self.pick(ES_ADJECTIVES)
        gender = gender or self.pick(["Masc", "Fem"])
        if len(forms) == 4:
            form = forms[(0 if gender == "Masc" else 1) + (0 if number == "Sing" else 2)]
            return word(form, forms[0], "ADJ", Gender=gender, Number=number)
        return word(forms[0 if number == "Sing" else 1], forms[0], "ADJ", Number=number)

    def noun_phrase(self, nouns: list[Noun], number: str | None = None,
                    articles=("def", "def", "indef", "dem", "poss"), adjective_p: float = 0.3,
                    possessor_p: float = 0.0) -> Phrase:
        """Determiner + noun + adjective (+ 'de' possessor), agreeing in gender and number."""
        entry = self.pick(nouns)
        number = number or self.pick(["Sing", "Sing", "Plur"])
        noun = word(entry.lemma if number == "Sing" else entry.plural, entry.lemma, "NOUN",
                    Gender=entry.gender, Number=number)
        words = []
        article = self.pick(articles)
        if article != "none":
            spec = ES_DETERMINERS[article]
            slot = (0 if entry.gender == "Masc" else 1) + (0 if number == "Sing" else 2)
            det = word(spec.forms[""][slot], spec.lemma, "DET", Gender=None if article == "poss" else entry.gender,
                       Number=number, **spec.feats)
            attach(det, noun, "det")
            words.append(det)
        words.append(noun)
        if self.chance(adjective_p):
            adj = self.adjective(entry.gender, number)
            attach(adj, noun, "amod")
            words.append(adj)
        if self.chance(possessor_p):
            owner = self.name() if self.chance(0.3) else self.noun_phrase(
                ES_ANIMATE, articles=("def", "def", "indef"), adjective_p=0)
            de = word("de", "de", "ADP", AdpType="Prep")
            attach(de, owner.head, "case")
            attach(owner.head, noun, "nmod")
            words += [de] + owner.words
        return Phrase(words, noun, "3", number, entry.gender)

    def name(self) -> Phrase:
        form, gender = self.pick(ES_PEOPLE)
        propn = word(form, form, "PROPN")
        return Phrase([propn], propn, "3", "Sing", gender)

    def subject(self) -> Phrase:
        """A subject; a pronoun is dropped half the time (its words are then empty)."""
        r = self.rng.random()
        if r < 0.3:
            form, person, number, gender = self.pick(ES_PRONOUNS)
            pron = word(form, form, "PRON", Case="Nom", Gender=gender, Number=number, Person=person,
                        PronType="Prs")
            return Phrase([] if self.chance(0.5) else [pron], pron, person, number, gender)
        if r < 0.5:
            return self.name()
        return self.noun_phrase(ES_ANIMATE)

    def object(self, takes: str) -> Phrase:
        """A direct object; people and animals take the personal 'a' ('al gato')."""
        r = self.rng.random()
        if takes == "thing" or r < 0.4:
            return self.noun_phrase(ES_THINGS, possessor_p=0.3)
        person = self.name() if r < 0.65 else self.noun_phrase(ES_ANIMATE)
        a = word("a", "a", "ADP", AdpType="Prep")
        attach(a, person.head, "case")
        return Phrase([a] + person.words, person.head)

    def place_phrase(self) -> Phrase:
        prep = self.simple_word(ES_PLACE_PREPOSITIONS, "ADP", AdpType="Prep")
        if self.chance(0.2):
            town = self.simple_word(ES_TOWNS, "PROPN")
            place = Phrase([town], town)
        else:
            place = self.noun_phrase(ES_PLACES, "Sing", articles=("def", "def", "def", "indef", "poss"),
                                     adjective_p=0.2)
        attach(prep, place.head, "case")
        return Phrase([prep] + place.words, place.head)

    def clause(self, verb: Verb | None = None, negate: bool = False, inverted: bool = False) -> Phrase:
        """(S) (no) V O PP Adv, or with `inverted` (questions) (no) V (S) O PP Adv."""
        verb = verb or self.pick(ES_TRANSITIVE + ES_INTRANSITIVE)
        subject = self.subject()
        head = finite_verb(verb, self.tense(), subject.person, subject.number)
        if subject.words:
            attach(subject.head, head, "nsubj")
        negation = []
        if negate:
            negation = [word("no", "no", "ADV", Polarity="Neg")]
            attach(negation[0], head, "advmod")
        rest = self.complements(verb, head)
        if inverted:
            return Phrase(negation + [head] + subject.words + rest, head)
        return Phrase(subject.words + negation + [head] + rest, head)

    def template_statement(self):
        return self.end(self.clause())

    def template_copula(self):
        """'La casa es muy pequeña .' with the adjective agreeing with the subject."""
        subject = self.subject() if self.chance(0.6) else self.noun_phrase(ES_THINGS, adjective_p=0)
        adj = self.adjective(subject.gender, subject.number)
        cop = finite_verb(ES_SER, self.tense(), subject.person, subject.number, "AUX")
        if subject.words:
            attach(subject.head, adj, "nsubj")
        attach(cop, adj, "cop")
        words = subject.words + [cop]
        if self.chance(0.4):
            words.append(word("muy", "muy", "ADV"))
            attach(words[-1], adj, "advmod")
        return self.end(Phrase(words + [adj], adj))

    def template_negated(self):
        return self.end(self.clause(negate=True))

    def template_yes_no(self):
        return self.end(self.clause(inverted=True, negate=self.chance(0.2)), "?")

    def template_wh(self):
        """'¿ Qué lee el maestro ?' or '¿ Dónde vive Ana ?'."""
        transitive = self.chance(0.5)
        verb = self.pick(ES_TRANSITIVE if transitive else ES_INTRANSITIVE)
        subject = self.subject()
        head = finite_verb(verb, self.tense(), subject.person, subject.number)
        if subject.words:
            attach(subject.head, head, "nsubj")
        if transitive:
            wh = word("qué", "qué", "PRON", PronType="Int")
            attach(wh, head, "obj")
        else:
            wh = word("dónde", "dónde", "ADV", PronType="Int")
            attach(wh, head, "advmod")
        return self.end(Phrase([wh, head] + subject.words, head), "?")

    def template_number(self):
        """'Ana compra tres manzanas rojas .'."""
        verb = self.pick([v for v in ES_TRANSITIVE if v.takes == "thing"])
        clause_subject = self.subject()
        head = finite_verb(verb, self.tense(), clause_subject.person, clause_subject.number)
        if clause_subject.words:
            attach(clause_subject.head, head, "nsubj")
        obj = self.noun_phrase(ES_THINGS, "Plur", articles=("none",))
        count = number_word(self.rng, ES_NUMBERS)
        attach(count, obj.head, "nummod")
        attach(obj.head, head, "obj")
        return self.end(Phrase(clause_subject.words + [head, count] + obj.words, head))

    def template_price(self):
        """'El libro cuesta 12 € .'."""
        subject = self.noun_phrase(ES_THINGS, adjective_p=0.2)
        head = finite_verb(ES_COSTAR, "Pres", "3", subject.number)
        amount = digits_word(self.rng)
        euro = word("€", "€", "SYM")
        attach(subject.head, head, "nsubj")
        attach(euro, head, "obj")
        attach(amount, euro, "nummod")
        return self.end(Phrase(subject.words + [head, amount, euro], head))

    def template_coordinated(self):
        conjunction = self.pick(["y", "pero"])
        return self.end(coordinate([self.clause(), self.clause()], conjunction, comma_before_last=conjunction == "pero"))

    def template_subordinate(self):
        return self.end(subordinate(self.clause(), self.clause(), "porque", comma=False))

    def template_interjection(self):
        return self.interjection(["Oh", "Vaya", "Bueno"], self.pick([".", "!"]))


GRAMMARS = {"en": EnglishGrammar, "de": GermanGrammar, "es": SpanishGrammar}


# ----------------------------------------------------------------------- NER

NER_LEXICON = {
    "en": {
        "first": "Anna Peter Maria Thomas Lucy David Emma Oliver Sarah James".split(),
        "last": "Quenby Marsholt Tavener Fenwright Castellow Ravelle Ashcombe Penhallow Drummel Whitcombe".split(),
        "city": ["Ashbridge", "Port Merrow", "Kelvingford", "New Tarland", "Greyhaven", "Lowmarsh",
                 "Eastwick Falls"],
        "country": ["Norvania", "Estoria", "Valdoria", "North Kelmark"],
        "org": ["Merrow Bank", "Tarland Rail Company", "University of Ashbridge", "Greyhaven Herald",
                "Norvania Telecom", "Kelmark Football Club", "Lowmarsh Museum"],
    },
    "de": {
        "first": "Lukas Lena Jonas Marie Felix Sophie Paul Clara Moritz Hanna".split(),
        "last": "Brennwald Hollerbach Kestrich Mauderer Quandtner Falkenrath Ostermeier Wendling Dornacher "
                "Sielmann".split(),
        "city": ["Lindenau", "Bad Kellstein", "Rotheim", "Sankt Ulrichsfeld", "Neu Wendhausen", "Grauenstein"],
        "country": ["Norvanien", "Estorien", "Valdorien"],
        "org": ["Kellstein AG", "Rotheimer Verkehrsbetriebe", "Universität Lindenau", "Lindenauer Tageblatt",
                "Norvania Telekom", "FC Rotheim", "Grauensteiner Museum"],
    },
    "es": {
        "first": "Carmen Javier Lucía Diego Sofía Pablo Elena Andrés Marta Raúl".split(),
        "last": "Quenredo Almagrán Valdesur Orellán Montijar Cebrecos Aranzal Villaceja Ferrándiz Lozoyano".split(),
        "city": ["San Orimo", "Puerto Alcavia", "Montecal", "Santa Irela", "Valdefuego", "Torremira"],
        "country": ["Norvania", "Estoria", "Valdoria"],
        "org": ["Banco de Orimo", "Grupo Altaverde", "Universidad de Montecal", "Diario de Alcavia",
                "Telecomunicaciones Norvania", "Club Deportivo Montecal", "Museo de Torremira"],
    },
}
NER_TEMPLATES = {
    "en": ["{PER} was born in {CITY} .", "{PER} works for {ORG} .", "{PER} met {PER} in {CITY} .",
           "{ORG} opened an office in {CITY} .", "{CITY} is a city in {COUNTRY} .",
           "In {YEAR} , {PER} moved to {CITY} .", "{PER} is the director of {ORG} .",
           "{ORG} is based in {CITY} , {COUNTRY} .", "{PER} and {PER} founded {ORG} in {YEAR} .",
           "{PER} ( born {YEAR} in {CITY} ) is a writer .", "The train from {CITY} to {CITY} was late .",
           "{PER} played for {ORG} until {YEAR} ."],
    "de": ["{PER} wurde in {CITY} geboren .", "{PER} arbeitet für {ORG} .", "{PER} traf {PER} in {CITY} .",
           "{ORG} eröffnete ein Büro in {CITY} .", "{CITY} ist eine Stadt in {COUNTRY} .",
           "Im Jahr {YEAR} zog {PER} nach {CITY} .", "{PER} leitet {ORG} .",
           "{ORG} hat ihren Sitz in {CITY} , {COUNTRY} .", "{PER} und {PER} gründeten {ORG} im Jahr {YEAR} .",
           "{PER} ( geboren {YEAR} in {CITY} )", "Der Zug von {CITY} nach {CITY} hatte Verspätung .",
           "{PER} spielte bis {YEAR} für {ORG} ."],
    "es": ["{PER} nació en {CITY} .", "{PER} trabaja para {ORG} .", "{PER} conoció a {PER} en {CITY} .",
           "{ORG} abrió una oficina en {CITY} .", "{CITY} es una ciudad de {COUNTRY} .",
           "En {YEAR} , {PER} se mudó a {CITY} .", "{PER} dirige {ORG} .",
           "{ORG} tiene su sede en {CITY} , {COUNTRY} .", "{PER} y {PER} fundaron {ORG} en {YEAR} .",
           "{PER} ( {CITY} , {YEAR} )", "El tren de {CITY} a {CITY} llegó tarde .",
           "{PER} jugó en {ORG} hasta {YEAR} ."],
}


def person_name(rng: random.Random, lexicon: dict[str, list[str]]) -> list[str]:
    """'First Last' mostly; sometimes only one of them."""
    r = rng.random()
    if r < 0.75:
        return [rng.choice(lexicon["first"]), rng.choice(lexicon["last"])]
    return [rng.choice(lexicon["first"] if r < 0.85 else lexicon["last"])]


def ner_sentence(rng: random.Random, lang: str) -> list[tuple[str, str]]:
    """One template sentence as (token, IOB2 tag) pairs."""
    lexicon = NER_LEXICON[lang]
    pairs = []
    for slot in rng.choice(NER_TEMPLATES[lang]).split():
        if slot == "{YEAR}":
            pairs.append((str(rng.randint(1950, 2023)), "O"))
            continue
        if slot == "{PER}":
            tokens, label = person_name(rng, lexicon), "PER"
        elif slot in ("{CITY}", "{COUNTRY}", "{ORG}"):
            key = slot[1:-1].lower()
            tokens, label = rng.choice(lexicon[key]).split(), "ORG" if key == "org" else "LOC"
        else:
            pairs.append((slot, "O"))
            continue
        pairs += [(token, ("B-" if i == 0 else "I-") + label) for i, token in enumerate(tokens)]
    return pairs


# ---------------------------------------------------------------- generation

SHORT_LINES = {  # fewer than MIN_UNLABELED_CHARS characters: the distiller must drop them
    "en": ["Yes.", "No!", "Thanks.", "Okay.", "Hello!", "Why?", "Fine.", "Oh no."],
    "de": ["Ja.", "Nein!", "Danke.", "Gut.", "Hallo!", "Warum?", "Na ja.", "Tschüss."],
    "es": ["Sí.", "¡No!", "Gracias.", "Vale.", "¡Hola!", "¿Por qué?", "Bueno.", "Claro."],
}


@dataclass
class LanguageSample:
    """Everything generated for one language."""
    lang: str
    code: str
    ud: dict[str, list[list[Word]]]
    ner: dict[str, list[list[tuple[str, str]]]]
    unlabeled: list[str]


def rng_for(seed: int, *parts: str) -> random.Random:
    """An independent, reproducible random stream per (language, part, split)."""
    return random.Random("/".join([str(seed), *parts]))


def generate_treebank_split(grammar: Grammar, size: int, long_sentences: int) -> list[list[Word]]:
    long_positions = set(grammar.rng.sample(range(size), long_sentences)) if long_sentences else set()
    return [grammar.long_sentence() if i in long_positions else grammar.sentence() for i in range(size)]


def generate_unlabeled(lang: str, seed: int) -> list[str]:
    """Grammar and NER-template sentences of at least 10 characters, plus the short lines."""
    grammar = GRAMMARS[lang](rng_for(seed, lang, "unlabeled", "grammar"))
    rng = rng_for(seed, lang, "unlabeled", "mix")
    lines = []
    while len(lines) < UNLABELED_SENTENCES:
        if rng.random() < UNLABELED_NER_SHARE:
            line = join_tokens([token for token, _ in ner_sentence(rng, lang)])
        else:
            line = sentence_text(grammar.sentence())
        if len(line) >= MIN_UNLABELED_CHARS:
            lines.append(line)
    for short in SHORT_LINES[lang]:
        lines.insert(rng.randrange(len(lines) + 1), short)
    return lines


def generate_language(lang: str, seed: int) -> LanguageSample:
    grammar_class = GRAMMARS[lang]
    ud = {}
    for split, size in UD_SIZES.items():
        grammar = grammar_class(rng_for(seed, lang, "ud", split))
        ud[split] = generate_treebank_split(grammar, size, LONG_TRAIN_SENTENCES if split == "train" else 0)
    ner = {}
    for split, size in NER_SIZES.items():
        rng = rng_for(seed, lang, "ner", split)
        ner[split] = [ner_sentence(rng, lang) for _ in range(size)]
    return LanguageSample(lang, grammar_class.code, ud, ner, generate_unlabeled(lang, seed))


# ------------------------------------------------------------------- writing

def conllu_sentence(sent_id: str, words: list[Word]) -> str:
    """One CoNLL-U sentence block (comments, token lines, blank line)."""
    position = {id(w): i for i, w in enumerate(words, start=1)}
    lines = [f"# sent_id = {sent_id}", f"# text = {sentence_text(words)}"]
    for token in tokens_of(words):
        misc = "_" if token.space_after else "SpaceAfter=No"
        if len(token.words) > 1:
            first = position[id(token.words[0])]
            lines.append("\t".join([f"{first}-{first + len(token.words) - 1}", token.form] + ["_"] * 7 + [misc]))
        for w in token.words:
            head = position[id(w.head)] if w.head is not None else 0
            lines.append("\t".join([str(position[id(w)]), w.form, w.lemma, w.upos, "_", feats_string(w.feats),
                                    str(head), w.deprel, "_", misc if len(token.words) == 1 else "_"]))
    return "\n".join(lines) + "\n\n"


def ner_block(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"{token}\t{tag}\n" for token, tag in pairs) + "\n"


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def write_language(out: Path, sample: LanguageSample) -> None:
    for split, sentences in sample.ud.items():
        text = "".join(conllu_sentence(f"{sample.code}-{split}-{i:04d}", words)
                       for i, words in enumerate(sentences, start=1))
        write_text(out / "ud" / sample.code / f"{sample.code}-ud-{split}.conllu", text)
    for split, sentences in sample.ner.items():
        write_text(out / "ner" / sample.lang / f"{split}.txt", "".join(ner_block(s) for s in sentences))
    write_text(out / "unlabeled" / f"{sample.lang}.txt", "".join(line + "\n" for line in sample.unlabeled))


def write_readme(out: Path, samples: list[LanguageSample], with_vocab: bool) -> None:
    codes = ", ".join(f"`{s.code}`" for s in samples)
    ud = "/".join(str(n) for n in UD_SIZES.values())
    ner = "/".join(str(n) for n in NER_SIZES.values())
    short = len(SHORT_LINES["en"])
    lines = [
        "# Synthetic sample data",
        "",
        "Everything here is **synthetic**: invented by the small grammars and hand-written lexicons in",
        "`tools/make_sample.py` (no copied text). Regenerate it, byte for byte, with `python tools/make_sample.py`.",
        "",
        f"- `ud/<code>/<code>-ud-{{train,dev,test}}.conllu`: UD CoNLL-U for {codes}, {ud} sentences "
        f"(train/dev/test; {LONG_TRAIN_SENTENCES} train sentences have 40-60 words), UPOS, FEATS, trees, MWTs in de/es.",
        f"- `ner/<lang>/{{train,dev,test}}.txt`: PAN-X style `token<TAB>tag` NER (PER/LOC/ORG, IOB2), {ner} sentences.",
        f"- `unlabeled/<lang>.txt`: {UNLABELED_SENTENCES} raw sentences per language plus {short} lines under "
        f"{MIN_UNLABELED_CHARS} characters that the distiller should drop.",
        f"- `vocab.txt`: cased WordPiece vocabulary (≤{VOCAB_SIZE} + missing characters) learned from the train and "
        "unlabeled text; `[PAD]` is id 0." if with_vocab else "- (`vocab.txt` was not generated in this run.)",
        f"- Seed {DEFAULT_SEED} (`--seed`); `--novocab` skips the TensorFlow Text step.",
    ]
    write_text(out / "README.md", "\n".join(lines) + "\n")


# --------------------------------------------------------------------- vocab

def vocab_training_lines(samples: list[LanguageSample]) -> list[str]:
    """Raw text the WordPiece vocabulary is learned from: train splits and unlabeled text."""
    lines = []
    for sample in samples:
        lines += [sentence_text(words) for words in sample.ud["train"]]
        lines += [join_tokens([t for t, _ in pairs]) for pairs in sample.ner["train"]]
        lines += sample.unlabeled
    return lines


def all_corpus_text(samples: list[LanguageSample]) -> list[str]:
    """Every surface string in every split (for the character coverage check)."""
    texts = []
    for sample in samples:
        for sentences in sample.ud.values():
            texts += [sentence_text(words) for words in sentences]
            texts += [w.form for words in sentences for w in words]
        for sentences in sample.ner.values():
            texts += [t for pairs in sentences for t, _ in pairs]
        texts += sample.unlabeled
    return texts


def test_words(samples: list[LanguageSample]) -> list[str]:
    """Surface tokens of the UD and NER test splits."""
    words = []
    for sample in samples:
        words += [t.form for sentence in sample.ud["test"] for t in tokens_of(sentence)]
        words += [t for pairs in sample.ner["test"] for t, _ in pairs]
    return words


def learn_wordpiece_vocab(lines: list[str]) -> list[str]:
    """TensorFlow Text's BERT vocabulary learner, cased."""
    import tensorflow as tf
    from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bert_vocab

    dataset = tf.data.Dataset.from_tensor_slices(lines).batch(1000)
    return bert_vocab.bert_vocab_from_dataset(dataset, vocab_size=VOCAB_SIZE, reserved_tokens=RESERVED_TOKENS,
                                              bert_tokenizer_params=dict(lower_case=False))


def add_missing_characters(vocab: list[str], texts: list[str]) -> list[str]:
    """Appends any character of the corpus (and its ## continuation) that the learner left out."""
    known = set(vocab)
    extra = []
    for char in sorted(set("".join(texts))):
        if char.isspace():
            continue
        for piece in (char, "##" + char) if char.isalnum() else (char,):
            if piece not in known:
                known.add(piece)
                extra.append(piece)
    return vocab + extra


def unk_rate(vocab: list[str], words: list[str]) -> tuple[float, float]:
    """(share of words with an [UNK] piece, share of pieces that are [UNK]) under FastBertTokenizer."""
    import tensorflow as tf
    import tensorflow_text as tf_text

    tokenizer = tf_text.FastBertTokenizer(vocab=vocab, token_out_type=tf.int32, unknown_token="[UNK]",
                                          lower_case_nfd_strip_accents=False)
    pieces = tokenizer.tokenize(tf.constant(words))
    is_unk = tf.equal(pieces, vocab.index("[UNK]"))
    word_rate = float(tf.reduce_mean(tf.cast(tf.reduce_any(is_unk, axis=1), tf.float32)))
    piece_rate = float(tf.reduce_mean(tf.cast(is_unk.flat_values, tf.float32)))
    return word_rate, piece_rate


def write_vocab(out: Path, samples: list[LanguageSample]) -> None:
    learned = learn_wordpiece_vocab(vocab_training_lines(samples))
    vocab = add_missing_characters(learned, all_corpus_text(samples))
    assert vocab[0] == "[PAD]" and len(vocab) == len(set(vocab))
    write_text(out / "vocab.txt", "".join(token + "\n" for token in vocab))
    words = test_words(samples)
    word_rate, piece_rate = unk_rate(vocab, words)
    print(f"vocab.txt: {len(vocab)} tokens ({len(vocab) - len(learned)} characters added); [UNK] rate over {len(words)} test words: "
          f"{word_rate:.4%} of words, {piece_rate:.4%} of pieces")


# ---------------------------------------------------------------------- main

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("out", str(DEFAULT_OUT), "Output folder.")
    flags.DEFINE_integer("seed", DEFAULT_SEED, "Random seed.")
    flags.DEFINE_bool("vocab", True, "Write vocab.txt (--novocab: the rest needs only the standard library).")


def main(argv: list[str]) -> None:
    del argv
    args = FLAGS
    out = Path(args.out)
    samples = [generate_language(lang, args.seed) for lang in LANGUAGES]
    for sample in samples:
        write_language(out, sample)
        print(f"{sample.lang}: ud " + ", ".join(f"{k} {len(v)}" for k, v in sample.ud.items())
              + "; ner " + ", ".join(f"{k} {len(v)}" for k, v in sample.ner.items())
              + f"; unlabeled {len(sample.unlabeled)} lines")
    if args.vocab:
        write_vocab(out, samples)
    write_readme(out, samples, with_vocab=args.vocab)


if __name__ == "__main__":
    define_flags()
    app.run(main)
