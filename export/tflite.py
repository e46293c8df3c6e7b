"""Exports a model directory as a TFLite tagger with the tokenizer in the graph.

  python -m export.tflite --model_dir=runs/en_upos --quantize=dynamic_int8
  python -m export.tflite --model_dir=runs/en_upos --quantize=full_int8 --calibration_data='ud/*/*-dev.conllu'

Writes MODEL_DIR/export/tagger_<quantize>.tflite with one signature,
`serving_default`: `sentences: string[batch]` -> per task `<task>: string` and
`<task>_ids: int32 [batch, max_words]` ("" / -1 past a sentence's words),
`upos_second_best(_ids)`, `num_words: int32[batch]`, and `word_starts`/`word_ends`:
UTF-8 byte offsets of each word (TFLite has no substring builtin, so callers cut
the words; tagger.runtime.tflite.TFLiteTagger does). Shapes are dynamic: the cost
follows the batch's longest window. The tokenizer's tensorflow-text ops (the word split's
FastWordpieceTokenizeWithOffsets and ByteSplitByOffsets, then FastBertNormalize and
FastWordpieceTokenizeWithOffsets, or FastSentencepieceTokenize) are TFLite custom ops (no Flex /
select-TF ops); register them with tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS.

Quantization:
  float32       no quantization.
  dynamic_int8  int8 weights, float activations (Optimize.DEFAULT); usually the
                fastest on CPU and close to float. The word-embedding table is int8 with one
                scale per row (models/int8_table.py), not TFLite's one scale for the table.
                --float_weights=ffn_out keeps the feed-forward output matrices in float32
                (export/float_weights.py): where the int8 error of a deep teacher gathers.
  embeddings_int8  the word-embedding table in int8 (one scale per row), everything else
                float32: for a large-vocabulary teacher, whose table is most of its size,
                when dynamic_int8 misses its agreement gate (BENCHMARKS.md §8).
  full_int8     int8 weights and activations, calibrated on real sentences
                (--calibration_data, default: the dev data recorded in the model's
                config, if any). Attention softmax (whose additive mask is -1e9) and
                LayerNorm are kept in float: quantized, they collapse attention.
                Ops without int8 kernels fall back to float.

After writing, the model is checked against the checkpoint (export.verify)
unless --noverify.
"""
from __future__ import annotations

import collections
import contextlib
import io
import os
import re
import sys

from absl import flags

import export  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import convert as lite_convert
from tensorflow_text import tflite_registrar

from export.calibration import recalibrate
from export.float_weights import GROUP_NAMES, keep_in_float, valid_group
from export.saved_model import write_label_files
from export.verify import gates, verify
from tagger import cli
from tagger.data.corpus import expand_globs, read_corpus, read_text_lines
from tagger.errors import UserError
from tagger.flags_common import TFLITE_VARIANTS
from tagger.models.tagger import read_config
from tagger.runtime.tflite import load_interpreter
from tagger.serving import load_module

QUANTIZE_MODES = TFLITE_VARIANTS
# Modes whose graph looks words up in an int8 table with one scale per row (models/int8_table.py).
INT8_TABLE_MODES = ("dynamic_int8", "embeddings_int8")
# Tensor names (regex) kept in float in full_int8: the masked attention softmax and LayerNorm.
DEFAULT_FLOAT_NODES = r"softmax|layer_norm"
# Op types kept in float in full_int8: int8 BROADCAST_TO came out wrong here (position embeddings).
DEFAULT_FLOAT_OPS = ("BROADCAST_TO",)

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model_dir", None, "Model directory to export (its latest checkpoint).")
    flags.DEFINE_enum("quantize", "dynamic_int8", list(QUANTIZE_MODES) + ["none"],
                      "Quantization of the exported model: float32, dynamic_int8, full_int8 or embeddings_int8 "
                      "(int8 word-embedding table, float32 elsewhere).")
    flags.register_validator("quantize", lambda value: value != "none",
                             "--quantize=none is now --quantize=float32 (no quantization)")
    flags.DEFINE_string("calibration_data", None,
                        "full_int8: comma-separated globs of sentences to calibrate on (CoNLL-U, two-column, or "
                        "raw text one sentence per line). Default: the dev data recorded in the model's config.")
    flags.DEFINE_integer("calibration_sentences", 256, "full_int8: sentences used for calibration.")
    flags.DEFINE_bool("measure_ranges", True, "full_int8: measure activation ranges by running the float model "
                      "on the calibration sentences (--nomeasure_ranges: TFLite's calibrator's, not reproducible).")
    flags.DEFINE_string("float_nodes", DEFAULT_FLOAT_NODES,
                        "full_int8: regex of tensor names kept in float ('' quantizes everything).")
    flags.DEFINE_list("float_ops", list(DEFAULT_FLOAT_OPS), "full_int8: TFLite op types kept in float.")
    flags.DEFINE_list("float_weights", [], f"dynamic_int8: weight groups kept in float32 (export/float_weights.py): "
                      f"{GROUP_NAMES}. ffn_out took the 12-layer e5 teacher over the 99.5% gate (BENCHMARKS.md §8).")
    flags.register_validator("float_weights", lambda groups: all(valid_group(g) for g in groups),
                             f"--float_weights: each one of {GROUP_NAMES}")
    flags.DEFINE_bool("verify", True, "Compare the exported model with the checkpoint afterwards (export.verify).")
    flags.DEFINE_string("verify_data", None, "Labelled data for --verify; default: --calibration_data, else the "
                        "dev data recorded in the model's config.")
    flags.DEFINE_float("min_agreement", None, "Agreement gate for --verify; default: export.verify's for this "
                       "quantization.")
    flags.mark_flags_as_required(["model_dir"])


def tflite_path(model_dir: str, quantize: str) -> str:
    return os.path.join(model_dir, "export", f"tagger_{quantize}.tflite")


def recorded_dev_data(config: dict) -> str | None:
    """Dev data globs recorded in tagger_config.json, if the training binary stored them."""
    return config.get("dev_data")


def read_sentences(patterns: str, limit: int | None = None) -> list[str]:
    """Raw sentences from labelled files (words joined by spaces) or raw text (one per line),
    taken evenly across the whole set when there are more than `limit`."""
    sentences: list[str] = []
    for path in expand_globs(patterns):
        first = next((line for _, line in read_text_lines(path) if line.strip() and not line.startswith("#")), "")
        if "\t" in first:
            sentences.extend(" ".join(s.words) for s in read_corpus(path))
        else:
            sentences.extend(line for _, line in read_text_lines(path) if line.strip())
    if limit and len(sentences) > limit:
        step = len(sentences) / limit
        sentences = [sentences[int(i * step)] for i in range(limit)]
    return sentences


def _converter(module):
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.tflite_text.get_concrete_function()], module)
    converter.allow_custom_ops = True  # the tensorflow-text tokenizer ops; everything else is a builtin
    return converter


def convert(module, quantize: str, calibration: list[str] | None = None,
            float_nodes: str = DEFAULT_FLOAT_NODES, float_ops=DEFAULT_FLOAT_OPS,
            measure_ranges: bool = True) -> tuple[bytes, list[str]]:
    """TFLite flatbuffer of `module.tflite_text`, and notes on what quantization did."""

    if quantize not in QUANTIZE_MODES:
        raise UserError(f"--quantize must be one of {', '.join(QUANTIZE_MODES)}, got {quantize!r}")
    converter = _converter(module)
    if quantize == "float32":
        return converter.convert(), ["float32"]
    if quantize == "embeddings_int8":
        return converter.convert(), ["int8 word-embedding table (one scale per row), float32 elsewhere"]
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "dynamic_int8":
        return converter.convert(), ["int8 weights, float activations (dynamic range)"]

    if not calibration:
        raise UserError("full_int8 needs calibration sentences")

    def representative():
        for begin in range(0, len(calibration), 8):
            yield {"sentences": np.array([s.encode("utf-8") for s in calibration[begin:begin + 8]], dtype=object)}

    converter.representative_dataset = representative
    # Calibration runs the float model, tokenizer included: it needs the custom op kernels.
    converter.target_spec._experimental_custom_op_registerers = list(tflite_registrar.SELECT_TFTEXT_OPS)
    # int8 where a kernel exists, float otherwise (strings, integer bookkeeping, custom ops).
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    # Calibrate, then quantize with a denylist: what tf.lite.experimental.QuantizationDebugger's
    # get_nondebug_quantized_model() does, minus its interpreter, which cannot load custom ops.
    converter._experimental_calibrate_only = True
    calibrated, ranged = converter.convert(), 0
    if measure_ranges:  # TFLite's calibrator then only marks the tensors to range (calibration.py)
        calibrated, ranged = recalibrate(calibrated, representative())
    names = [d["name"] for d in load_interpreter(model_content=calibrated).get_tensor_details()]
    denied_nodes = sorted({name for name in names if float_nodes and re.search(float_nodes, name)})
    quantized = lite_convert.mlir_quantize(
        calibrated, disable_per_channel=False, fully_quantize=False,
        denylisted_ops=list(float_ops) or None, denylisted_nodes=denied_nodes or None)
    notes = [f"int8 weights and activations, calibrated on {len(calibration)} sentences ("
             + (f"{ranged} activation ranges measured)" if measure_ranges else "TFLite's calibrator's ranges)"),
             f"kept in float: {len(denied_nodes)} tensors matching /{float_nodes}/"
             + (f" and op types {', '.join(float_ops)}" if float_ops else "")
             + "; ops without int8 kernels (strings, integer index math) run in float/int32"]
    return quantized, notes


def op_summary(model: bytes) -> dict[str, int]:
    """`{op name: count}` of a TFLite flatbuffer (custom ops by their custom name)."""

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        tf.lite.experimental.Analyzer.analyze(model_content=model)
    return dict(collections.Counter(re.findall(r"Op#\d+ ([\w>]+)\(", text.getvalue())))


def export_tflite(model_dir: str, quantize: str = "dynamic_int8", calibration_data: str | None = None,
                  calibration_sentences: int = 256, float_nodes: str = DEFAULT_FLOAT_NODES,
                  float_ops=DEFAULT_FLOAT_OPS, float_weights=(), verbose: bool = True,
                  measure_ranges: bool = True) -> str:
    """Writes MODEL_DIR/export/tagger_<quantize>.tflite; returns its path. `float_weights`: groups of
    export/float_weights.py kept in float32 (dynamic_int8 only)."""

    config = read_config(model_dir)
    if float_weights and quantize != "dynamic_int8":
        raise UserError(f"--float_weights applies to --quantize=dynamic_int8, not {quantize}")
    calibration = None
    if quantize == "full_int8":
        calibration_data = calibration_data or recorded_dev_data(config)
        if not calibration_data:
            raise UserError(f"--quantize=full_int8 needs --calibration_data: {model_dir}'s config records "
                             f"no dev data to calibrate on")
        calibration = read_sentences(calibration_data, calibration_sentences)
        if not calibration:
            raise UserError(f"--calibration_data={calibration_data}: no sentences found")
    module = load_module(model_dir, int8_word_table=quantize in INT8_TABLE_MODES)
    model, notes = convert(module, quantize, calibration, float_nodes, float_ops, measure_ranges)
    if float_weights:
        label_sizes = {len(labels) for labels in module.label_lists.values()}
        model, count = keep_in_float(model, convert(module, "float32")[0], list(float_weights), label_sizes,
                                     config["encoder"].get("intermediate_size", 0))
        notes.append(f"kept in float32: {count} weight tensors ({', '.join(float_weights)})")
    ops = op_summary(model)
    custom = sorted(op for op in ops if not op.isupper())
    flex = sorted(op for op in custom if op.startswith("Flex"))
    path = tflite_path(model_dir, quantize)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    scratch = path + ".tmp"
    with open(scratch, "wb") as f:
        f.write(model)
    os.replace(scratch, path)
    write_label_files(os.path.join(model_dir, "export", "labels"), module.label_lists)
    if verbose:
        print(f"TFLite model written to {path} ({len(model) / 2**20:.1f} MiB, {quantize})")
        for note in notes:
            print(f"  {note}")
        print(f"  custom ops: {', '.join(custom) or 'none'}; Flex (select TF) ops: {', '.join(flex) or 'none'}")
        print("  register them: tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS (see tagger/runtime/tflite.py)")
    return path


def main(argv):
    del argv
    verify_data = None
    if FLAGS.verify:  # settle the data before spending time on conversion
        verify_data = FLAGS.verify_data or FLAGS.calibration_data or recorded_dev_data(read_config(FLAGS.model_dir))
        if not verify_data:
            raise UserError("--verify needs labelled data: pass --verify_data (or --noverify)")
    path = export_tflite(FLAGS.model_dir, FLAGS.quantize, FLAGS.calibration_data, FLAGS.calibration_sentences,
                         FLAGS.float_nodes, FLAGS.float_ops, FLAGS.float_weights,
                         measure_ranges=FLAGS.measure_ranges)
    if FLAGS.verify:
        thresholds = gates()
        if FLAGS.min_agreement is not None:
            thresholds[FLAGS.quantize] = FLAGS.min_agreement
        report = verify(FLAGS.model_dir, verify_data, artifacts=[path], thresholds=thresholds)
        if not report["passed"]:
            if FLAGS.quantize == "dynamic_int8":
                print("dynamic_int8 missed its gate: --float_weights=ffn_out keeps the matrices that carry most of "
                      "the int8 error in float32; --quantize=embeddings_int8 keeps the whole encoder in float32.")
            sys.exit(1)


if __name__ == "__main__":
    define_flags()
    cli.run_main(main)
