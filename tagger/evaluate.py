"""Evaluates any model directory, or one of its exports, on any labelled data.

  python -m tagger.evaluate --model_dir=runs/en_upos --data='ud/*/*-test.conllu' --name=ud_test
  python -m tagger.evaluate --model_dir=runs/en_upos --artifact=runs/en_upos/export/tagger_dynamic_int8.tflite \
    --data='ud/*/*-test.conllu' --name=test_tflite_dynamic_int8

Writes MODEL_DIR/metrics/NAME.json and prints a per-treebank table. With `--artifact` (a .tflite or
a SavedModel) the export is scored instead of the checkpoint, as `tagger.predict` runs it on
CoNLL-U: raw text in (each sentence's words joined by spaces), and a word the model splits further
takes the tags of its first model word; `exact_sentences` counts the sentences it did not split.
Named `<split>_tflite_<quantize>` or `<split>_saved_model`, the file is the artifact's accuracy
in `tagger.report`'s trade-off plot; `tagger.distill --export` writes those for --test_data.
"""
from absl import flags

import tagger  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tagger import cli, flags_common
from tagger import metrics as metrics_lib
from tagger.data.corpus import read_corpus
from tagger.models.tagger import load_model_dir
from tagger.runtime.backends import TF_BATCH, score_backend
from tagger.supervised import evaluate_splits

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model_dir", None, "Model directory to evaluate (metrics are written under it).")
    flags.DEFINE_string("artifact", None, "Score this export of the model (a .tflite file or a SavedModel) "
                        "instead of its checkpoint.")
    flags.DEFINE_string("data", None, "Comma-separated globs of labelled files.")
    flags.DEFINE_string("name", "eval", "Metrics are written to MODEL_DIR/metrics/NAME.json.")
    flags_common.define_data_format_flag()
    flags.DEFINE_integer("batch_size", None, "Sentences per batch; default: 8 for a .tflite artifact, else 64.")
    flags.mark_flags_as_required(["model_dir", "data"])
    flags.adopt_module_key_flags(flags_common)  # shown by --help, not only --helpfull


def main(argv):
    del argv
    if FLAGS.artifact:
        result = score_backend(FLAGS.artifact, read_corpus(FLAGS.data, FLAGS.data_format), FLAGS.name,
                               FLAGS.batch_size, model_dir=FLAGS.model_dir)
        print(f"\n== {FLAGS.name} ({FLAGS.data}, {result['artifact_kind']} {FLAGS.artifact}; "
              f"{result['exact_sentences']} of {result['sentences']} sentences split as given)\n"
              f"{metrics_lib.format_table(result)}")
        return
    model, tokenizer, config = load_model_dir(FLAGS.model_dir)
    evaluate_splits(FLAGS.model_dir, model, tokenizer, config["tasks"], {FLAGS.name: FLAGS.data}, FLAGS.data_format,
                    batch_size=FLAGS.batch_size or TF_BATCH)


if __name__ == "__main__":
    define_flags()
    cli.run_main(main)
