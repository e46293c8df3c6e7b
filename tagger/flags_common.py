"""Flags shared by the training binaries (finetune, distill), declared once.

Binaries import this module to declare them; library code never reads FLAGS.
"""
from absl import flags

flags.DEFINE_string("model_dir", None, "Output model directory (resumed if it holds checkpoints).")
flags.DEFINE_string("train_data", None, "Comma-separated globs of labelled training files (CoNLL-U, PAN-X).")
flags.DEFINE_string("dev_data", None, "Comma-separated globs of labelled dev files.")
flags.DEFINE_string("test_data", None, "Comma-separated globs of labelled test files.")
flags.DEFINE_enum("data_format", "auto", ["auto", "conllu", "two_column", "ner", "upos"],
                  "Format of labelled files; 'auto' infers it from extension and content.")
flags.DEFINE_list("tasks", None, "Tasks to train (upos, ufeats, ner); default: all present in --train_data.")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt when the --init source ships none.")
flags.DEFINE_enum("lower_case", "auto", ["auto", "true", "false"], "Lower-case input (uncased vocab).")
flags.DEFINE_integer("max_seq_length", 128, "Wordpieces per window, [CLS] and [SEP] included.")
flags.DEFINE_integer("train_batch_size", 16, "Global batch size for training on labels.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate for training on labels (AdamW, warm-up, decay).")
flags.DEFINE_float("num_train_epochs", 1.0, "Epochs over the labelled windows.")
flags.DEFINE_integer("train_steps", 0, "Steps of training on labels; overrides epochs when > 0.")
flags.DEFINE_integer("checkpoint_every", 200, "Steps between checkpoints.")
flags.DEFINE_enum("distribution_strategy", "one_device",
                  ["one_device", "mirrored", "multi_worker_mirrored", "tpu", "off"],
                  "tf.distribute strategy, via tf-models-official distribute_utils.")
flags.DEFINE_integer("num_gpus", None, "GPUs for mirrored/one_device; default: all visible.")
flags.DEFINE_string("tpu", None, "TPU address for --distribution_strategy=tpu.")
flags.DEFINE_bool("mixed_precision", False, "float16 on GPU, bfloat16 on CPU/TPU.")
flags.DEFINE_integer("seed", 0, "Random seed (data order, init, dropout).")

FLAGS = flags.FLAGS


def lower_case():
    return {"auto": None, "true": True, "false": False}[FLAGS.lower_case]


def strategy():
    """The strategy of --distribution_strategy; on a non-chief multi-worker worker it also
    points --model_dir at that worker's own directory (see training.worker_model_dir)."""
    from tagger.training import setup_run, worker_model_dir
    result = setup_run(FLAGS.seed, FLAGS.mixed_precision, FLAGS.distribution_strategy, FLAGS.num_gpus, FLAGS.tpu)
    if FLAGS.model_dir:
        FLAGS.model_dir = worker_model_dir(result, FLAGS.model_dir)
    return result
