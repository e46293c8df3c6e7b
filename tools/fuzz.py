#!/usr/bin/env python3
"""Fuzz every input surface with N seeded hostile inputs each; one summary line at the end.

  python tools/fuzz.py --inputs=100000                      # the full profile (RELIABILITY.md)
  python tools/fuzz.py --inputs=300 --surfaces=conllu_reader,tflite_dynamic_int8[sentencepiece]

Surfaces: both readers; `encode_words` and `encode_text` of both tokenizers; the three
SavedModel signatures and the dynamic_int8 TFLite model of a WordPiece and of a SentencePiece
tagger; `tagger.predict` on raw text and on CoNLL-U. Without `--wordpiece_model` /
`--sentencepiece_model` the tool trains tiny ones on the embedded sample (tools/tiny_models.py,
~1 min) and exports them. Properties checked per input (tools/fuzz_checks.py, fuzz_predict.py):

* no exception, except a `DataError` that names the file and line for a bad file;
* exactly one tag (one label position) per input word; for raw text the words are the toolkit's
  word rule (`tagger.data.words`) applied to the same bytes;
* `tagger.predict` writes valid UTF-8 CoNLL-U that reads back with every word and a tag for each.

The corpus under `--corpus_dir` (tests/fuzz_corpus) is replayed first and grows with every input
that failed, and with reader inputs that met a new kind of rejection. Exit status 1 on any crash or
mismatch. The last line: `fuzz: inputs=… crashes=… mismatches=… surfaces=… seconds=…`.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging  # noqa: E402

from tools.fuzz_surfaces import build_surfaces  # noqa: E402
from tools.fuzz_inputs import Corpus  # noqa: E402

FLAGS = flags.FLAGS
MAX_NEW_KINDS = 20  # reader inputs kept per run for a rejection not seen before (failures are all kept)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def define_flags():
    flags.DEFINE_integer("inputs", 1000, "Generated inputs per surface (the corpus is replayed on top).")
    flags.DEFINE_integer("seed", 0, "Seed of the generators; the same seed gives the same inputs.")
    flags.DEFINE_list("surfaces", None, "Only these surfaces (default: all).")
    flags.DEFINE_string("wordpiece_model", None, "A WordPiece model directory (exported here if needed); "
                        "default: a tiny one trained on the sample into --work_dir.")
    flags.DEFINE_string("sentencepiece_model", None, "The same for SentencePiece.")
    flags.DEFINE_string("work_dir", "runs/fuzz", "Scratch files and the tiny models.")
    flags.DEFINE_string("corpus_dir", os.path.join(REPO, "tests", "fuzz_corpus"), "Replayed, growing corpus; '' for none.")
    flags.DEFINE_string("output_json", None, "Per-surface counts and findings as JSON.")
    flags.DEFINE_integer("max_findings", 20, "Findings kept per surface in the report.")


def generated(generate, inputs: int, seed: int) -> list:
    """`inputs` items of one generator; the seed and the generator's name fix them."""
    rng = random.Random(f"{seed}:{getattr(generate, '__name__', 'inputs')}")
    return [generate(rng) for _ in range(inputs)]


def fuzz_surface(surface, items: list, corpus: Corpus, max_findings: int) -> dict:
    """Replays the corpus, then `items` in batches; a failing batch is re-run item by item."""
    counts = {"inputs": 0, "crashes": 0, "mismatches": 0, "words": 0, "replayed": 0, "new_kinds": 0, "findings": []}
    seen_outcomes: set[str] = set()

    def record(item, problem: str, kind: str):
        counts[kind] += 1
        if len(counts["findings"]) < max_findings:
            counts["findings"].append(f"{kind[:-2]}: {problem[:300]}")
        corpus.add(surface.name, item, f"{kind[:-2]}: {problem[:200]}")

    def run(batch, replayed=False):
        try:
            results = surface.check_batch(batch)
        except Exception:  # noqa: BLE001  (find the item that crashed)
            results = []
            for item in batch:
                try:
                    results += surface.check_batch([item])
                except Exception as e:  # noqa: BLE001
                    results.append(("crash", f"{type(e).__name__}: {e}"))
        for item, (outcome, detail) in zip(batch, results):
            counts["inputs"] += 1
            counts["replayed"] += replayed
            counts["words"] += surface.word_count(item)
            if outcome in ("crash", "mismatch"):
                record(item, detail, outcome + "es")
            elif outcome.startswith("rejected") and outcome not in seen_outcomes and not replayed \
                    and counts["new_kinds"] < MAX_NEW_KINDS:
                counts["new_kinds"] += 1
                corpus.add(surface.name, item, outcome)
            seen_outcomes.add(outcome)

    replay = corpus.load(surface.name)
    for begin in range(0, len(replay), surface.batch_size):
        run(replay[begin:begin + surface.batch_size], replayed=True)
    for begin in range(0, len(items), surface.batch_size):
        run(items[begin:begin + surface.batch_size])
    counts["outcomes"] = sorted(seen_outcomes)
    return counts


def summary_line(report: dict, seconds: float) -> str:
    total = {key: sum(r[key] for r in report.values()) for key in ("inputs", "crashes", "mismatches")}
    return (f"fuzz: inputs={total['inputs']} crashes={total['crashes']} mismatches={total['mismatches']} "
            f"surfaces={len(report)} seconds={seconds:.0f}")


def fuzz(inputs: int, seed: int, work_dir: str, corpus_dir: str | None, surfaces: list[str] | None = None,
         wordpiece_model: str | None = None, sentencepiece_model: str | None = None, max_findings: int = 20,
         grow_corpus: bool = True, log=print) -> dict:
    """{surface: counts}; the library entry point the test's short profile calls. Each generator's
    inputs are drawn once, so the WordPiece and SentencePiece surfaces see the same inputs."""
    corpus = Corpus(corpus_dir or None, grow_corpus)
    report, pools = {}, {}
    for surface in build_surfaces(work_dir, wordpiece_model, sentencepiece_model, surfaces):
        start = time.time()
        if surface.generate not in pools:  # surfaces that take the same kind of input get the same inputs
            pools[surface.generate] = generated(surface.generate, inputs, seed)
        report[surface.name] = fuzz_surface(surface, pools[surface.generate], corpus, max_findings)
        report[surface.name]["seconds"] = round(time.time() - start, 1)
        counts = report[surface.name]
        log(f"{surface.name}: {counts['inputs']} inputs ({counts['replayed']} replayed), {counts['words']} words, "
            f"{counts['crashes']} crashes, {counts['mismatches']} mismatches, {counts['seconds']} s")
        for finding in counts["findings"]:
            log(f"  {finding}")
    return report


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # the exports of the tiny models log every step
    start = time.time()
    report = fuzz(FLAGS.inputs, FLAGS.seed, FLAGS.work_dir, FLAGS.corpus_dir, FLAGS.surfaces,
                  FLAGS.wordpiece_model, FLAGS.sentencepiece_model, FLAGS.max_findings)
    if FLAGS.output_json:
        with open(FLAGS.output_json, "w", encoding="utf-8") as f:
            json.dump({"inputs_per_surface": FLAGS.inputs, "seed": FLAGS.seed, "surfaces": report}, f, indent=2)
    line = summary_line(report, time.time() - start)
    print(line)
    failed = any(r["crashes"] or r["mismatches"] for r in report.values())
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    define_flags()
    app.run(main)
