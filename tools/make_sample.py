#!/usr/bin/env python3
"""Generate the small synthetic multilingual corpus shipped in ``tagger/sample``.

All text comes from hand-written lexicons and tiny probabilistic grammars in
tools/sample_grammars/ (nothing is downloaded or copied), drawn with fixed seeds, so

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
from dataclasses import dataclass
from pathlib import Path

import os
import sys

if __package__ in (None, ""):  # run as `python tools/make_sample.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from tools.sample_grammars.english import EnglishGrammar  # noqa: E402
from tools.sample_grammars.german import GermanGrammar  # noqa: E402
from tools.sample_grammars.ner import ner_sentence  # noqa: E402
from tools.sample_grammars.shared import Grammar  # noqa: E402
from tools.sample_grammars.spanish import SpanishGrammar  # noqa: E402
from tools.sample_grammars.trees import Word, feats_string, join_tokens, sentence_text, tokens_of  # noqa: E402

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


GRAMMARS = {"en": EnglishGrammar, "de": GermanGrammar, "es": SpanishGrammar}


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
        "`tools/sample_grammars/` (no copied text). Regenerate it, byte for byte, with `python tools/make_sample.py`.",
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
