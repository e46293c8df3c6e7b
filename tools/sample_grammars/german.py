"""The German sample grammar and lexicon: case and gender agreement, verb second (first in questions,
last after `weil`), contractions such as im and beim."""
from __future__ import annotations

from functools import partial

from tools.sample_grammars.shared import (Determiner, Grammar, Noun, Verb, coordinate, finite_verb, forms_verb,
                                          gendered_names, gendered_nouns, question_word, subordinate)
from tools.sample_grammars.trees import Phrase, attach, word


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
        what = word("was", "was", "PRON", Case="Acc", Number="Sing", PronType="Int")
        wh = question_word(transitive, what, "wo", head)
        return self.end(Phrase([wh, head] + subject.words, head), "?")

    def template_number(self):
        """'Anna kauft drei rote Äpfel .'."""
        plural_object = partial(self.noun_phrase, DE_THINGS, "Acc", "Plur", articles=("none",))
        return self.counted_object(DE_TRANSITIVE, plural_object, DE_NUMBERS)

    def template_price(self):
        """'Das Buch kostet 12 € .'."""
        return self.price(self.noun_phrase(DE_THINGS, "Nom", adjective_p=0.2), DE_KOSTEN, "€", currency_first=False)

    def template_coordinated(self):
        conjunction = self.pick(["und", "aber"])
        return self.end(coordinate([self.clause(), self.clause()], conjunction, comma_before_last=conjunction == "aber"))

    def template_subordinate(self):
        return self.end(subordinate(self.clause(), self.clause("verb_last"), "weil", comma=True))

    def template_interjection(self):
        return self.interjection(["Ach", "Oh", "Na"], self.pick([".", "!"]))
