"""The English sample grammar and lexicon: SVO, do-support in questions and negation, a/an."""
from __future__ import annotations

from functools import partial

from tools.sample_grammars.shared import Grammar, Verb, coordinate, finite_verb, question_word, subordinate
from tools.sample_grammars.trees import Phrase, Word, attach, word


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
        wh = question_word(transitive, word("what", "what", "PRON", PronType="Int"), "where", main)
        return self.end(Phrase([wh, aux] + subject.words + [main], main), "?")

    def template_number(self):
        """'Anna buys three red apples .'."""
        return self.counted_object(EN_TRANSITIVE, partial(self.noun_phrase, EN_THINGS, "Plur", with_determiner=False),
                                   EN_NUMBERS)

    def template_price(self):
        """'The book costs $12 .'."""
        return self.price(self.noun_phrase(EN_THINGS, adjective_p=0.2), EN_COST, "$", currency_first=True)

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
