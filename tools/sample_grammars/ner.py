"""PAN-X/WikiANN-style NER sentences: invented people, places and organisations in templates, IOB2 tags."""
from __future__ import annotations

import random


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
