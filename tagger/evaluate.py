"""Evaluates any model directory on any labelled data.

  python -m tagger.evaluate --model_dir=runs/en_upos --data='ud/*/*-test.conllu' --name=ud_test

Writes MODEL_DIR/metrics/NAME.json and prints a per-treebank table.
"""
from absl import flags

import tagger  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tagger import cli, flags_common
from tagger.supervised import evaluate_splits
from tagger.models.tagger import load_model_dir

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model_dir", None, "Model directory to evaluate.")
    flags.DEFINE_string("data", None, "Comma-separated globs of labelled files.")
    flags.DEFINE_string("name", "eval", "Metrics are written to MODEL_DIR/metrics/NAME.json.")
    flags_common.define_data_format_flag()
    flags.DEFINE_integer("batch_size", 64, "Sentences per batch.")
    flags.mark_flags_as_required(["model_dir", "data"])
    flags.adopt_module_key_flags(flags_common)  # shown by --help, not only --helpfull


def main(argv):
    del argv
    model, tokenizer, config = load_model_dir(FLAGS.model_dir)
    evaluate_splits(FLAGS.model_dir, model, tokenizer, config["tasks"], {FLAGS.name: FLAGS.data}, FLAGS.data_format,
                    batch_size=FLAGS.batch_size)


if __name__ == "__main__":
    define_flags()
    cli.run_main(main)
