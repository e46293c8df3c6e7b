"""Checks exported artifacts against the checkpoint on labelled data.

  python -m export.verify --model_dir=runs/en_upos --data='ud/*/*-dev.conllu'

Runs the checkpoint (tagger.inference.WordTagger), the newest SavedModel (its
`tag_words` signature, on the gold words) and every .tflite in MODEL_DIR/export,
and reports, per artifact and task, the share of words whose tag equals the
checkpoint's (agreement) and the F1 difference from the checkpoint, overall and
per treebank. Writes MODEL_DIR/metrics/verify.json; exits 1 when an artifact's
agreement (its lowest over tasks) is below its gate:
  float32 (SavedModel, tagger_float32.tflite)  max(--min_agreement_float, --min_agreement)
  dynamic_int8, embeddings_int8 (and other .tflite names)  --min_agreement
  full_int8                                 --min_agreement_full_int8

TFLite models take raw text, so each sentence goes in as its words joined by
spaces, and the model splits it into words itself (BERT's split: whitespace,
punctuation, CJK characters). Agreement is measured on the model's own words,
with the checkpoint tagging those same words, so it covers every sentence. F1
needs the gold words: it is computed on the sentences whose split equals the
gold tokens ("comparable"), for the artifact and the checkpoint alike; the
report says how many those are.
"""
from __future__ import annotations

import glob
import os
import sys

from absl import flags

import export  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops before a SavedModel loads)

from tagger import cli, flags_common
from tagger import metrics as metrics_lib
from tagger.data.corpus import read_corpus
from tagger.data.tokenizer import model_inputs, word_level
from tagger.flags_common import TFLITE_VARIANTS
from tagger.inference import WordTagger
from tagger.markdown import text_table
from tagger.models.tagger import load_model_dir, write_json_atomic
from tagger.runtime.batching import tag_in_batches
from tagger.runtime.saved_model import SavedModelTagger, latest_saved_model, saved_model_root, versions
from tagger.runtime.tflite import TFLiteTagger
from tagger.errors import UserError

FLOAT_GATE = 0.999
DYNAMIC_GATE = 0.995
FULL_INT8_GATE = 0.95

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model_dir", None, "Model directory whose checkpoint and export/ are compared.")
    flags.DEFINE_string("data", None, "Comma-separated globs of labelled files.")
    flags_common.define_data_format_flag()
    flags.DEFINE_list("artifacts", None, "Artifacts to check (SavedModel dirs, .tflite files); default: the newest "
                      "SavedModel and every .tflite in MODEL_DIR/export.")
    flags.DEFINE_float("min_agreement", DYNAMIC_GATE, "Gate for dynamic_int8 models; also a floor for float32 ones.")
    flags.DEFINE_float("min_agreement_float", FLOAT_GATE, "Gate for float32 artifacts (SavedModel, tagger_float32).")
    flags.DEFINE_float("min_agreement_full_int8", FULL_INT8_GATE, "Gate for full_int8 models.")
    flags.DEFINE_integer("batch_size", 64, "Sentences per batch.")
    flags.mark_flags_as_required(["model_dir", "data"])
    flags.adopt_module_key_flags(flags_common)  # shown by --help, not only --helpfull


def gates(min_agreement: float = DYNAMIC_GATE, min_agreement_float: float = FLOAT_GATE,
          min_agreement_full_int8: float = FULL_INT8_GATE) -> dict[str, float]:
    """Agreement gate per precision: `float32` (SavedModel and float TFLite), `dynamic_int8` and
    `embeddings_int8`, `full_int8`."""
    float_gate = max(min_agreement_float, min_agreement)
    return {"float32": float_gate, "dynamic_int8": min_agreement, "embeddings_int8": min_agreement,
            "full_int8": min_agreement_full_int8}


def default_artifacts(model_dir: str) -> list[str]:
    found = []
    root = saved_model_root(model_dir)
    if versions(root):
        found.append(os.path.join(root, str(versions(root)[-1])))
    found += sorted(glob.glob(os.path.join(model_dir, "export", "*.tflite")))
    return found


def precision_of(path: str) -> str:
    if not path.endswith(".tflite"):
        return "float32"
    name = os.path.basename(path)[:-len(".tflite")]
    for mode in TFLITE_VARIANTS:
        if name.endswith(mode):
            return mode
    return "dynamic_int8"


def agreement(reference: list[dict], predicted: list[dict], tasks: list[str]) -> dict[str, float]:
    result = {}
    for task in tasks:
        pairs = [(a, b) for ref, pred in zip(reference, predicted) for a, b in zip(ref[task], pred[task])]
        result[task] = sum(a == b for a, b in pairs) / len(pairs) if pairs else 1.0
    return result


def f1_deltas(artifact_metrics: dict, checkpoint_metrics: dict) -> dict:
    out = {}
    for task, scores in artifact_metrics["tasks"].items():
        reference = checkpoint_metrics["tasks"][task]
        per_treebank = {name: {"artifact": row["f1"], "checkpoint": reference["per_treebank"][name]["f1"],
                               "delta": row["f1"] - reference["per_treebank"][name]["f1"]}
                        for name, row in scores["per_treebank"].items()}
        out[task] = {"artifact": scores["f1"], "checkpoint": reference["f1"], "delta": scores["f1"] - reference["f1"],
                     "per_treebank": per_treebank}
    return out


def _check(name: str, path: str, precision: str, gate: float, agree: dict, artifact_metrics: dict,
           checkpoint_metrics: dict, sentences: int, comparable: int) -> dict:
    lowest = min(agree.values()) if agree else 1.0
    return {"artifact": name, "path": path, "precision": precision, "gate": gate, "agreement": agree,
            "min_agreement": lowest, "passed": lowest >= gate, "sentences": sentences,
            "comparable_sentences": comparable, "f1": f1_deltas(artifact_metrics, checkpoint_metrics),
            "metrics": artifact_metrics}


def _saved_model_tags(path: str, sentences: list[list[str]], tokenizer, label_lists: dict, batch_size: int):
    """(SavedModel dir, tags per sentence) via `tag_words`; a `tag_ids`-only export gets its wordpiece
    ids from the checkpoint's tokenizer."""
    path = latest_saved_model(path)
    loaded = tf.saved_model.load(path)
    if "tag_words" in loaded.signatures:
        return path, SavedModelTagger(path, batch_size).tag_words(sentences)
    signature = loaded.signatures["tag_ids"]

    def tag_batch(batch):
        features = tokenizer.encode_words(tf.ragged.constant(batch, dtype=tf.string, row_splits_dtype=tf.int32))
        logits = signature(**model_inputs(features))
        ids = {task: tf.argmax(word_level(logits[f"{task}_logits"], features["label_mask"]), -1).numpy()
               for task in label_lists}
        rows, offset = [], 0
        for words in batch:
            rows.append({task: [label_lists[task][k] for k in ids[task][offset:offset + len(words)]]
                         for task in label_lists})
            offset += len(words)
        return rows

    return path, tag_in_batches(sentences, batch_size, tag_batch)


def verify(model_dir: str, data: str, artifacts: list[str] | None = None, thresholds: dict | None = None,
           data_format: str = "auto", batch_size: int = 64, verbose: bool = True, every: int = 1,
           report_path: str | None = None) -> dict:
    """Compares artifacts with the checkpoint on every `every`-th sentence of `data`; writes the
    report to `report_path` (default MODEL_DIR/metrics/verify.json) and returns it."""

    thresholds = {**gates(), **(thresholds or {})}
    artifacts = list(artifacts) if artifacts else default_artifacts(model_dir)
    if not artifacts:
        raise UserError(f"{model_dir}/export holds no SavedModel or .tflite: export first")
    sentences = read_corpus(data, data_format)[::every]
    model, tokenizer, config = load_model_dir(model_dir)
    tasks = list(config["tasks"])
    checkpoint = WordTagger(model, tokenizer, config["tasks"], batch_size)
    gold_words = [s.words for s in sentences]
    reference = checkpoint.tag(gold_words)
    checkpoint_metrics = metrics_lib.score(sentences, reference, "verify")

    checks = []
    for path in artifacts:
        precision = precision_of(path)
        gate = thresholds[precision]
        if path.endswith(".tflite"):
            tagged = TFLiteTagger(path, batch_size=batch_size).tag_text([" ".join(words) for words in gold_words])
            model_words = [row["words"] for row in tagged]
            comparable = [i for i, words in enumerate(model_words) if words == gold_words[i]]
            same = set(comparable)
            differing = [i for i in range(len(sentences)) if i not in same]
            same_words_reference = list(reference)
            for i, tags in zip(differing, checkpoint.tag([model_words[i] for i in differing])):
                same_words_reference[i] = tags
            agree = agreement(same_words_reference, tagged, tasks)
            subset = [sentences[i] for i in comparable]
            artifact_metrics = metrics_lib.score(subset, [tagged[i] for i in comparable], "verify")
            reference_metrics = metrics_lib.score(subset, [reference[i] for i in comparable], "verify")
            checks.append(_check(os.path.basename(path), path, precision, gate, agree, artifact_metrics,
                                 reference_metrics, len(sentences), len(comparable)))
        else:
            saved_path, tagged = _saved_model_tags(path, gold_words, tokenizer, config["tasks"], batch_size)
            agree = agreement(reference, tagged, tasks)
            artifact_metrics = metrics_lib.score(sentences, tagged, "verify")
            checks.append(_check(f"saved_model/{os.path.basename(saved_path)}", saved_path, precision, gate, agree,
                                 artifact_metrics, checkpoint_metrics, len(sentences), len(sentences)))

    report = {"data": data, "sentences": len(sentences), "checkpoint": checkpoint_metrics,
              "artifacts": checks, "passed": all(c["passed"] for c in checks)}
    write_json_atomic(report_path or os.path.join(model_dir, "metrics", "verify.json"), report)
    if verbose:
        print(format_report(report))
    return report


def format_report(report: dict) -> str:
    rows = []
    for check in report["artifacts"]:
        for task, value in check["agreement"].items():
            f1 = check["f1"].get(task)
            scores = ([f"{100 * f1['artifact']:.2f}", f"{100 * f1['checkpoint']:.2f}", f"{100 * f1['delta']:+.2f}"]
                      if f1 else ["-", "-", "-"])
            rows.append([check["artifact"], task, f"{100 * value:.2f}%", f"{100 * check['gate']:.1f}%", *scores,
                         f"{check['comparable_sentences']}/{check['sentences']}"])
    lines = [f"verify on {report['data']} ({report['sentences']} sentences)", "",
             text_table(["artifact", "task", "agree", "gate", "F1", "ckpt F1", "ΔF1", "compared"], rows, left=2), ""]
    for check in report["artifacts"]:
        lines.append(f"{check['artifact']}: {'PASS' if check['passed'] else 'FAIL'} (lowest agreement "
                     f"{100 * check['min_agreement']:.2f}% vs gate {100 * check['gate']:.1f}%)")
        for task, f1 in check["f1"].items():
            worst = sorted(f1["per_treebank"].items(), key=lambda item: item[1]["delta"])[:3]
            lines.append(f"  {task} ΔF1 by treebank: " + ", ".join(f"{name} {100 * row['delta']:+.2f}" for name, row in worst)
                         + (" ..." if len(f1["per_treebank"]) > 3 else ""))
    lines += ["", "all artifacts pass" if report["passed"] else "SOME ARTIFACTS FAIL their agreement gate"]
    return "\n".join(lines)


def main(argv):
    del argv
    thresholds = gates(FLAGS.min_agreement, FLAGS.min_agreement_float, FLAGS.min_agreement_full_int8)
    report = verify(FLAGS.model_dir, FLAGS.data, FLAGS.artifacts, thresholds, FLAGS.data_format, FLAGS.batch_size)
    if not report["passed"]:
        sys.exit(1)


if __name__ == "__main__":
    define_flags()
    cli.run_main(main)
