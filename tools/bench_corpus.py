"""Words per second of an exported TFLite tagger over a whole corpus, raw text in, batched.

  python tools/bench_corpus.py --model_dir=DIR [--data=../shared/data/ud_split/en_ewt/en_ewt-ud-test.conllu]
  python tools/bench_corpus.py --quick      # a random MiniBERT on the embedded sample; not a measurement

`tools/bench_latency.py` times 32 copies of one 20-word sentence. A user's corpus has sentences of
every length, and a batch costs what its longest sentence costs, so this tool tags every sentence of
real files (CoNLL-U: the words joined by spaces; text: a sentence per line) and counts the words
the model returns. Each batch size runs two ways on the same sentences, interleaved round by round:

  sorted      `TFLiteTagger.tag_text`: batches of similar length, results back in input order
  file order  the same batches cut in file order (what a caller without bucketing gets)
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

if __package__ in (None, ""):  # run as `python tools/bench_corpus.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tools  # noqa: F401,E402  (TF_USE_LEGACY_KERAS before TensorFlow)
from absl import app, flags  # noqa: E402

from tools import benchenv as E  # noqa: E402
from tools import benchlib as B  # noqa: E402

FLAGS = flags.FLAGS
EN_EWT_TEST = os.path.join(B.SHARED_DATA, "ud_split", "en_ewt", "en_ewt-ud-test.conllu")
ORDERS = ("sorted", "file order")
# Tags allowed to differ between sorted and file-order batching (float near-ties; see order_disagreements).
MAX_ORDER_DISAGREEMENT = 1e-3


def define_flags():
    flags.DEFINE_string("model_dir", None, "A tagger model directory; its export/tagger_<quantize>.tflite is "
                        "timed (exported first when missing). Default (--quick): a random MiniBERT.")
    flags.DEFINE_enum("quantize", "dynamic_int8", list(B.TFLITE_VARIANTS), "Which TFLite export.")
    flags.DEFINE_string("data", None, f"Globs of CoNLL-U or text files; default {EN_EWT_TEST}, else "
                        "(--quick or absent) the embedded sample.")
    flags.DEFINE_list("batch_sizes", ["1", "32", "64", "128"], "Sentences per interpreter call.")
    flags.DEFINE_integer("threads", 1, "LiteRT interpreter threads.")
    flags.DEFINE_integer("rounds", 3, "Timed passes over the corpus per batch size and order; the median counts.")
    flags.DEFINE_bool("quick", False, "Smoke test: 1 round, at most 64 sentences.")
    flags.DEFINE_string("output_json", None, "Write the result here.")
    flags.DEFINE_string("output_md", None, "Write the markdown table here (it is printed too).")
    B.define_model_flags(teacher=False)


def file_order(tagger, sentences: list[bytes]) -> list[dict]:
    """What `tag_text` does without sorting: consecutive batches of the input."""
    from tagger.runtime.batching import output_rows
    rows = []
    for begin in range(0, len(sentences), tagger.batch_size):
        batch = sentences[begin:begin + tagger.batch_size]
        rows.extend(output_rows(tagger.run(batch), batch))
    return rows


def time_corpus(path: str, sentences: list[bytes], batch_sizes: list[int], threads: int, rounds: int) -> list[dict]:
    """One row per (batch size, order): median seconds per pass and words per second."""
    from tagger.runtime.tflite import TFLiteTagger
    rows = []
    for batch_size in batch_sizes:
        tagger = TFLiteTagger(path, num_threads=threads, batch_size=batch_size)
        passes = {"sorted": tagger.tag_text, "file order": lambda s: file_order(tagger, s)}
        seconds = {order: [] for order in ORDERS}
        words = {}
        for order in ORDERS:  # warm-up pass; also checks that both orders return the same tags
            words[order] = passes[order](sentences)
        differ, tags = order_disagreements(words["sorted"], words["file order"])
        if differ > MAX_ORDER_DISAGREEMENT * tags:
            raise AssertionError(f"batch {batch_size}: sorted and file-order batching disagree on {differ} of "
                                 f"{tags} tags: the batching mixes sentences up")
        count = sum(len(row["words"]) for row in words["sorted"])
        for _ in range(rounds):
            for order in ORDERS:
                begin = time.perf_counter()
                passes[order](sentences)
                seconds[order].append(time.perf_counter() - begin)
        for order in ORDERS:
            median = statistics.median(seconds[order])
            rows.append({"batch_size": batch_size, "order": order, "seconds": median, "words": count,
                         "sentences": len(sentences), "words_per_s": count / median, "rounds": rounds,
                         "order_disagreements": differ})
    return rows


def order_disagreements(first: list[dict], second: list[dict]) -> tuple[int, int]:
    """(tags that differ, tags) between two taggings of the same sentences. A different batch gives
    the float kernels other row counts, so a near-tie (a random model's 6,899 UFeats logits) may
    flip; mixed-up sentences would differ nearly everywhere."""
    if len(first) != len(second):
        raise AssertionError(f"{len(first)} against {len(second)} sentences")
    differ = tags = 0
    for a, b in zip(first, second):
        if a["words"] != b["words"]:
            raise AssertionError(f"word split differs between batchings: {a['words']} / {b['words']}")
        for key, values in a.items():
            if key != "words" and isinstance(values, list):
                tags += len(values)
                differ += sum(x != y for x, y in zip(values, b[key]))
    return differ, tags


def markdown(result: dict) -> str:
    table = B.markdown_table(["batch", "order", "s per pass", "words/s"],
                             [[r["batch_size"], r["order"], r["seconds"], round(r["words_per_s"])]
                              for r in result["rows"]])
    head = (f"{result['model']}, {result['quantize']}, {result['threads']} thread(s): {result['sentences']} "
            f"sentences, {result['words']} words of {result['data']}; median of {result['rounds']} passes.")
    note = "\n\n**--quick: not a measurement.**" if result["quick"] else ""
    differ = {r["batch_size"]: r["order_disagreements"] for r in result["rows"] if r["order_disagreements"]}
    if differ:
        note += ("\n\nSorted and file-order batching differed on " + ", ".join(
            f"{n} tag(s) at batch {b}" for b, n in differ.items()) + " (float near-ties).")
    warning = E.busy_warning(result["machine"])
    return head + "\n\n" + table + note + (f"\n\nWarning: {warning}" if warning else "") + "\n"


def model_path(work_dir: str) -> tuple[str, str]:
    """(.tflite path, description): the model directory's export, or a random MiniBERT's."""
    if FLAGS.model_dir:
        path, _ = B.tflite_model(FLAGS.model_dir, FLAGS.quantize, None, 0, reuse_from=FLAGS.model_dir)
        return path, FLAGS.model_dir
    from tagger.data.wordpiece import load_vocab
    encoder, description = B.student_config_from_flags(len(load_vocab(B.SAMPLE_VOCAB)))
    directory = os.path.join(work_dir, "model")
    B.write_random_model_dir(directory, encoder, {"upos": B.UPOS_LABELS}, B.SAMPLE_VOCAB, 128, seed=1)
    path, _ = B.tflite_model(directory, FLAGS.quantize, None, 0)
    return path, "random weights, " + description


def main(argv):
    del argv
    from export.tflite import read_sentences
    data = FLAGS.data or (EN_EWT_TEST if os.path.exists(EN_EWT_TEST) and not FLAGS.quick else B.SAMPLE_TEXT)
    sentences = [s.encode("utf-8") for s in read_sentences(data, limit=64 if FLAGS.quick else None)]
    if not sentences:
        raise app.UsageError(f"--data={data}: no sentences")
    path, model = model_path(tempfile.mkdtemp(prefix="bench_corpus_"))
    rounds = 1 if FLAGS.quick else FLAGS.rounds
    rows = time_corpus(path, sentences, [int(b) for b in FLAGS.batch_sizes], FLAGS.threads, rounds)
    result = {"tool": "bench_corpus", "created": E.now(), "machine": E.machine_info(), "model": model,
              "tflite": path, "tflite_bytes": os.path.getsize(path), "quantize": FLAGS.quantize, "data": data,
              "threads": FLAGS.threads, "rounds": rounds, "quick": FLAGS.quick, "sentences": len(sentences),
              "words": rows[0]["words"], "rows": rows}
    E.emit(markdown(result), result, FLAGS.output_md, FLAGS.output_json)


if __name__ == "__main__":
    define_flags()
    app.run(main)
