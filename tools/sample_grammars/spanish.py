"""The Spanish sample grammar and lexicon: gender and number agreement, pro-drop, personal a, opening
marks (¿ ¡), contractions al and del."""
from __future__ import annotations

from functools import partial

from tools.sample_grammars.shared import (Determiner, Grammar, Noun, Verb, coordinate, finite_verb, forms_verb,
                                          gendered_names, gendered_nouns, question_word, subordinate)
from tools.sample_grammars.trees import Phrase, Word, attach, word


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
        wh = question_word(transitive, word("qué", "qué", "PRON", PronType="Int"), "dónde", head)
        return self.end(Phrase([wh, head] + subject.words, head), "?")

    def template_number(self):
        """'Ana compra tres manzanas rojas .'."""
        return self.counted_object(ES_TRANSITIVE, partial(self.noun_phrase, ES_THINGS, "Plur", articles=("none",)),
                                   ES_NUMBERS)

    def template_price(self):
        """'El libro cuesta 12 € .'."""
        return self.price(self.noun_phrase(ES_THINGS, adjective_p=0.2), ES_COSTAR, "€", currency_first=False)

    def template_coordinated(self):
        conjunction = self.pick(["y", "pero"])
        return self.end(coordinate([self.clause(), self.clause()], conjunction, comma_before_last=conjunction == "pero"))

    def template_subordinate(self):
        return self.end(subordinate(self.clause(), self.clause(), "porque", comma=False))

    def template_interjection(self):
        return self.interjection(["Oh", "Vaya", "Bueno"], self.pick([".", "!"]))
