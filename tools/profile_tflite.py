"""Where the time of the end-to-end TFLite tagger goes, stage by stage, at 1 thread.

  python tools/profile_tflite.py --model_dir=DIR [--quantize=dynamic_int8] [--words=20]
  python tools/profile_tflite.py --quick                  # a random MiniBERT on the sample vocab

LiteRT's Python wheel exposes no per-op profiler, and the C++ benchmark tool cannot be built here.
Its `libLiteRt.so` has a profiler C API for the CompiledModel runtime, but that runtime cannot run
this model (its string input reads as dtype 'unknown'; creating buffers fails), so the model is cut into its stages and each stage is converted and timed as its own TFLite model,
with the same converter settings as the export:

  tokenize    raw sentences -> windows (word splitting, normalisation, pieces, windows)
  encoder     windows -> per-position logits (the `tag_ids` part: embeddings, layers, heads)
  end_to_end  the exported model: tokenize + encoder + per-word argmax, label strings, offsets

`rest` = end_to_end - tokenize - encoder is what the tagging plumbing after the heads costs. Each
stage's op inventory (op type -> count) comes with it, so a stage's time can be read against its ops.
With --encoder_parts (the default) the encoder stage is cut further, into the embeddings, each
layer's attention and feed-forward blocks and the heads (tools/encoder_parts.py), timed the same way.
"""
from __future__ import annotations

import os
import sys
import tempfile

if __package__ in (None, ""):  # run as `python tools/profile_tflite.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tools  # noqa: F401,E402  (TF_USE_LEGACY_KERAS before TensorFlow)
from absl import app, flags  # noqa: E402

from tools import benchenv as E  # noqa: E402
from tools import benchlib as B  # noqa: E402
from tools.bench_inputs import SentenceMaker, resolve_text, resolve_vocab, text_words  # noqa: E402

FLAGS = flags.FLAGS
STAGES = ("tokenize", "encoder", "end_to_end")


def define_flags():
    flags.DEFINE_string("model_dir", None, "A tagger model directory; default (--quick or none): random MiniBERT.")
    flags.DEFINE_enum("quantize", "dynamic_int8", ["float32", "dynamic_int8"], "Converter setting for every stage.")
    flags.DEFINE_integer("words", 20, "Words in the timed sentence.")
    flags.DEFINE_string("text", None, "Globs of running text for the sentence; default ../shared/data/unlabeled, "
                        "else the embedded sample.")
    flags.DEFINE_bool("encoder_parts", True, "Also time the encoder stage part by part: embeddings, each "
                      "layer's attention and feed-forward, the heads (BertEncoderV2 only).")
    flags.DEFINE_bool("quick", False, "Smoke test: few repetitions; not a measurement.")
    flags.DEFINE_string("output_json", None, "Write the result here.")
    B.define_model_flags(teacher=False)


def stage_functions(module):
    """Concrete functions of the three stages, over one serving module."""
    import tensorflow as tf
    from tagger.data.tokenizer import MODEL_INPUTS
    from tagger.serving import SENTENCES_SPEC

    @tf.function(input_signature=[SENTENCES_SPEC])
    def tokenize(sentences):
        features = module.tokenizer.encode_text(sentences)
        return {name: features[name] for name in MODEL_INPUTS + ("label_mask",)}

    return {"tokenize": tokenize.get_concrete_function(), "encoder": module.tag_ids.get_concrete_function(),
            "end_to_end": module.tflite_text.get_concrete_function()}


def convert(function, module, quantize: str) -> bytes:
    import tensorflow as tf
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], module)
    converter.allow_custom_ops = True
    if quantize == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def stage_inputs(tokenizer, sentence: str) -> dict[str, dict]:
    """Each stage's input for one sentence: the text, or the windows the tokenizer makes of it."""
    import numpy as np
    import tensorflow as tf
    from tagger.data.tokenizer import MODEL_INPUTS
    text = {"sentences": np.array([sentence.encode("utf-8")], dtype=object)}
    features = tokenizer.encode_text(tf.constant([sentence]))
    ids = {name: features[name].numpy().astype(np.int32) for name in MODEL_INPUTS}
    return {"tokenize": text, "encoder": ids, "end_to_end": text}


def time_model(model: bytes, feed: dict, path: str, quick: bool) -> dict:
    """Median time of one TFLite model on `feed` at 1 thread: set the inputs and invoke, sized and
    allocated once (no re-allocation, no output copies: they differ per stage)."""
    from export.tflite import op_summary
    from tagger.runtime.tflite import load_interpreter
    with open(path, "wb") as f:
        f.write(model)
    interpreter = load_interpreter(path, num_threads=1)
    runner = interpreter.get_signature_runner()
    indices = {name: details["index"] for name, details in runner.get_input_details().items()}
    del runner
    for name, value in feed.items():
        interpreter.resize_tensor_input(indices[name], list(value.shape))
    interpreter.allocate_tensors()

    def invoke():
        for name, value in feed.items():
            interpreter.set_tensor(indices[name], value)
        interpreter.invoke()

    timing = E.measure(invoke, warmup=1 if quick else 20, min_runs=3 if quick else 200,
                       max_seconds=0.5 if quick else 5.0)
    return {"median_ms": timing["median_ms"], "p10_ms": timing["p10_ms"], "p90_ms": timing["p90_ms"],
            "runs": timing["runs"], "bytes": len(model), "ops": op_summary(model)}


def profile(module, sentence: str, quantize: str, quick: bool, work_dir: str) -> dict:
    inputs = stage_inputs(module.tokenizer, sentence)
    result = {stage: time_model(convert(function, module, quantize), inputs[stage],
                                os.path.join(work_dir, f"{stage}.tflite"), quick)
              for stage, function in stage_functions(module).items()}
    result["rest_ms"] = result["end_to_end"]["median_ms"] - result["tokenize"]["median_ms"] \
        - result["encoder"]["median_ms"]
    return result


def profile_parts(module, sentence: str, quantize: str, quick: bool, work_dir: str) -> dict:
    """The encoder stage cut into embeddings, each layer's attention and feed-forward, and the heads
    (tools/encoder_parts.py), each timed as its own model on what it sees for `sentence`."""
    from tools import encoder_parts
    parts = encoder_parts.part_functions(module.model)
    features = stage_inputs(module.tokenizer, sentence)["encoder"]
    worst = encoder_parts.check_parts(module.model, parts, features)
    feeds, _ = encoder_parts.part_inputs(parts, features)
    timed = {name: time_model(convert(function, module.model, quantize), feeds[name],
                              os.path.join(work_dir, f"part_{name}.tflite"), quick) for name, function in parts}
    return {"parts": timed, "sum_ms": sum(part["median_ms"] for part in timed.values()),
            "composed_logits_max_abs_diff": worst}


def markdown(result: dict) -> str:
    rows = [[stage, result["stages"][stage]["median_ms"], result["stages"][stage]["runs"],
             ", ".join(f"{op} {n}" for op, n in sorted(result["stages"][stage]["ops"].items(),
                                                        key=lambda item: -item[1]))] for stage in STAGES]
    rows.append(["rest (end_to_end - tokenize - encoder)", result["stages"]["rest_ms"], None, ""])
    lines = [f"Model: {result['model']}; {result['quantize']}; 1 thread; sentence of {result['words']} words "
             f"({result['windows']} window of {result['window_length']} pieces).", "",
             B.markdown_table(["stage", "median ms", "runs", "ops"], rows)]
    if result.get("encoder_parts"):
        parts = result["encoder_parts"]
        rows = [[name, part["median_ms"], part["runs"], ", ".join(f"{op} {n}" for op, n in sorted(
            part["ops"].items(), key=lambda item: -item[1]))] for name, part in parts["parts"].items()]
        rows.append(["sum of the parts (the encoder stage: "
                     f"{B.fmt(result['stages']['encoder']['median_ms'])} ms)", parts["sum_ms"], None, ""])
        lines += ["", "The encoder stage by part, each timed alone:", "",
                  B.markdown_table(["part", "median ms", "runs", "ops"], rows)]
    if result["quick"]:
        lines += ["", "**--quick: smoke-test repetition counts; these numbers are not measurements.**"]
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    E.pin_tf_threads(1)
    from tagger.serving import TaggerModule, load_module
    work_dir = tempfile.mkdtemp(prefix="profile_tflite_")
    if FLAGS.model_dir:
        module, source = load_module(FLAGS.model_dir), FLAGS.model_dir
    else:
        vocab, _ = resolve_vocab(B.SAMPLE_VOCAB if FLAGS.quick else FLAGS.vocab_file, work_dir, FLAGS.vocab_size)
        from tagger.data.wordpiece import load_vocab
        encoder, description = B.student_config_from_flags(len(load_vocab(vocab)))
        model, tokenizer, config = B.write_random_model_dir(os.path.join(work_dir, "model"), encoder,
                                                            {"upos": B.UPOS_LABELS}, vocab, 128, seed=1)
        module, source = TaggerModule(model, tokenizer, config["tasks"]), "random weights, " + description
    text, _ = resolve_text(FLAGS.text)
    maker = SentenceMaker(module.tokenizer, text_words(text))
    sentence = maker.words_sentence(FLAGS.words)
    described = maker.describe(sentence)
    result = {"tool": "profile_tflite", "created": E.now(), "machine": E.machine_info(), "model": source,
              "quantize": FLAGS.quantize, "words": FLAGS.words, "sentence": sentence, "quick": FLAGS.quick,
              "windows": described["windows"], "window_length": described["window_length"],
              "stages": profile(module, sentence, FLAGS.quantize, FLAGS.quick, work_dir)}
    if FLAGS.encoder_parts:
        result["encoder_parts"] = profile_parts(module, sentence, FLAGS.quantize, FLAGS.quick, work_dir)
    print(markdown(result))
    if FLAGS.output_json:
        E.write_json(FLAGS.output_json, result)


if __name__ == "__main__":
    define_flags()
    app.run(main)
