"""Fine-tunes a pretrained BERT (or any encoder) into a multi-task tagger.

  python -m tagger.finetune --init=hf:DIR --model_dir=runs/en_upos \
      --train_data='ud/en_ewt/*-train.conllu' --dev_data=... --test_data=... --tasks=upos

Rerunning on the same --model_dir resumes from the last checkpoint.
"""
from absl import flags

import tagger  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tagger import cli, flags_common
from tagger.supervised import finetune

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("init", None, "hub:HANDLE_OR_PATH | tf1:DIR | hf:DIR | config:FILE | model_dir:DIR")
    flags.DEFINE_bool("freeze_word_embeddings", False, "Leave the encoder's word-embedding table out of training "
                      "(much faster on CPU for large multilingual vocabularies).")
    flags.DEFINE_bool("sparse_embedding_updates", False, "Train the word-embedding table, but let each step update "
                      "only the rows its batch uses (their Adam moments and weight decay too, as LazyAdam does), "
                      "not the whole table.")
    flags.mark_bool_flags_as_mutual_exclusive(["freeze_word_embeddings", "sparse_embedding_updates"])
    flags.DEFINE_float("treebank_sampling", 0.5, "Draw each treebank (each language, for NER) of the training "
                       "data with probability proportional to its size to this power: 1 as the data comes, "
                       "0 every treebank equally; between, small treebanks are seen more often. No effect "
                       "with one treebank.",
                       lower_bound=0.0, upper_bound=1.0)
    flags_common.define_run_flags()
    flags_common.define_data_flags()
    flags_common.define_tokenizer_flags()
    flags_common.define_finetune_flags()
    flags.mark_flags_as_required(["init", "model_dir", "train_data"])
    flags.adopt_module_key_flags(flags_common)  # shown by --help, not only --helpfull


def main(argv):
    del argv
    flags_common.expand_data_dir()
    strategy = flags_common.strategy()  # first: on a non-chief worker it redirects --model_dir
    finetune(FLAGS.model_dir, FLAGS.init, FLAGS.train_data, strategy=strategy,
             dev_data=FLAGS.dev_data, test_data=FLAGS.test_data, tasks=FLAGS.tasks, data_format=FLAGS.data_format,
             vocab_file=FLAGS.vocab_file, lower_case=flags_common.lower_case(), max_seq_length=FLAGS.max_seq_length,
             seed=FLAGS.seed, checkpoint_every=FLAGS.checkpoint_every,
             freeze_word_embeddings=FLAGS.freeze_word_embeddings,
             sparse_embedding_updates=FLAGS.sparse_embedding_updates, treebank_sampling=FLAGS.treebank_sampling,
             **flags_common.finetune_arguments())


if __name__ == "__main__":
    define_flags()
    cli.run_main(main)
