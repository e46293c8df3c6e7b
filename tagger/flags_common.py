"""Flags shared by the binaries, declared once, and the shared enums.

The convention for every binary and tool (ARCHITECTURE.md, "Binaries"): a module-level
`define_flags()` declares the binary's own flags and calls the `define_*` groups below that it
uses; `if __name__ == "__main__"` calls `define_flags()` and then `cli.run_main(main)`. Importing
a binary's module therefore declares nothing, and `--help` shows the binary's own flags and the
shared ones it uses. Library code never reads FLAGS.
"""
from absl import flags

from tagger.data.corpus import DATA_FORMATS
from tagger.training import setup_run, worker_model_dir

TFLITE_VARIANTS = ("float32", "dynamic_int8", "full_int8", "embeddings_int8")
EXPORTS = ("saved_model",) + TFLITE_VARIANTS
STRATEGIES = ("one_device", "mirrored", "multi_worker_mirrored", "tpu", "off")

FLAGS = flags.FLAGS


# Data flags whose values may start with `{data_dir}`, so one flag moves every flagfile's data.
DATA_DIR_FLAGS = ("train_data", "dev_data", "test_data", "unlabeled_data", "vocab_file")
DATA_DIR = "{data_dir}"


def define_data_flags():
    flags.DEFINE_string("data_dir", "../shared/data", f"Root of the data: `{DATA_DIR}` in --train_data, --dev_data, "
                        "--test_data, --unlabeled_data and --vocab_file (as the flagfiles write them) stands for it.")
    flags.DEFINE_string("train_data", None, "Comma-separated globs of labelled training files (CoNLL-U, PAN-X).")
    flags.DEFINE_string("dev_data", None, "Comma-separated globs of labelled dev files.")
    flags.DEFINE_string("test_data", None, "Comma-separated globs of labelled test files.")
    define_data_format_flag()
    flags.DEFINE_list("tasks", None, "Tasks to train (upos, ufeats, ner); default: all present in --train_data.")


def define_data_format_flag():
    flags.DEFINE_enum("data_format", "auto", list(DATA_FORMATS),
                      "Format of labelled files; 'auto' infers it from extension and content.")


def define_tokenizer_flags():
    flags.DEFINE_string("vocab_file", None, "Tokenizer when the --init source ships none: a WordPiece vocab.txt, "
                        "a SentencePiece .model or a tokenizer.json (Unigram).")
    flags.DEFINE_enum("lower_case", "auto", ["auto", "true", "false"], "Lower-case input (uncased WordPiece vocab).")
    flags.DEFINE_integer("max_seq_length", 128, "Pieces per window, [CLS] and [SEP] included.")


def define_run_flags():
    """Output directory, checkpoints, seed and tf.distribute."""
    flags.DEFINE_string("model_dir", None, "Output model directory (resumed if it holds checkpoints).")
    flags.DEFINE_integer("checkpoint_every", 200, "Steps between checkpoints.")
    flags.DEFINE_integer("seed", 0, "Random seed (data order, init, dropout).")
    flags.DEFINE_enum("distribution_strategy", "one_device", list(STRATEGIES),
                      "tf.distribute strategy, via tf-models-official distribute_utils.")
    flags.DEFINE_integer("num_gpus", None, "GPUs for mirrored/one_device; default: all visible.")
    flags.DEFINE_string("tpu", None, "TPU address for --distribution_strategy=tpu.")
    flags.DEFINE_bool("mixed_precision", False, "float16 on GPU, bfloat16 on CPU/TPU.")


def define_finetune_flags(teacher: bool = False, batch_size: int = 16):
    """Training on labels: `--train_batch_size`, `--learning_rate`, `--num_train_epochs`, `--train_steps`;
    with `teacher`, the teacher's in tagger.distill: `--teacher_batch_size`, `--teacher_learning_rate`,
    `--teacher_epochs`, `--teacher_train_steps`."""
    names = finetune_flag_names(teacher)
    whose = "the teacher's " if teacher else ""
    flags.DEFINE_integer(names["batch_size"], batch_size, f"Global batch size for {whose}training on labels.")
    flags.DEFINE_float(names["learning_rate"], None,
                       f"Peak learning rate for {whose}training on labels (AdamW, warm-up, decay); default: "
                       "for encoders smaller than BERT-base (hidden < 768) 1.5e-4 with one task, 3e-4 with several; "
                       "else 5e-5, as measured best.")
    flags.DEFINE_float(names["epochs"], 1.0, f"Epochs over the labelled windows ({whose or 'this '}training).")
    flags.DEFINE_integer(names["train_steps"], 0, f"Steps of {whose}training on labels; overrides epochs when > 0.")


def finetune_flag_names(teacher: bool = False) -> dict[str, str]:
    if teacher:
        return {key: f"teacher_{key}" for key in ("batch_size", "learning_rate", "epochs", "train_steps")}
    return {"batch_size": "train_batch_size", "learning_rate": "learning_rate", "epochs": "num_train_epochs",
            "train_steps": "train_steps"}


def finetune_arguments(teacher: bool = False) -> dict:
    """The `finetune()` keyword arguments of those flags."""
    return {key: FLAGS[name].value for key, name in finetune_flag_names(teacher).items()}


def check_exports(names: list[str]) -> bool:
    """Validator of `--export`: every name known; the old name of the float TFLite says the new one."""
    for name in names:
        if name == "none":
            raise flags.ValidationError("--export=none is now --export=float32 (a float TFLite model); "
                                        "to export nothing, leave --export out")
        if name not in EXPORTS:
            raise flags.ValidationError(f"--export: unknown artifact {name!r}; use {', '.join(EXPORTS)}")
    return True


def expand_data_dir() -> None:
    """Replaces `{data_dir}` in the data flags with --data_dir (binaries call it first in main)."""
    for name in DATA_DIR_FLAGS:
        if name in FLAGS and isinstance(FLAGS[name].value, str) and DATA_DIR in FLAGS[name].value:
            FLAGS[name].value = FLAGS[name].value.replace(DATA_DIR, FLAGS.data_dir.rstrip("/"))


def lower_case():
    return tristate(FLAGS.lower_case)


def tristate(value: str) -> bool | None:
    """'auto' | 'true' | 'false' -> None | True | False."""
    return {"auto": None, "true": True, "false": False}[value]


def strategy():
    """The strategy of --distribution_strategy; on a non-chief multi-worker worker it also
    points --model_dir at that worker's own directory (see training.worker_model_dir)."""
    result = setup_run(FLAGS.seed, FLAGS.mixed_precision, FLAGS.distribution_strategy, FLAGS.num_gpus, FLAGS.tpu)
    if FLAGS.model_dir:
        FLAGS.model_dir = worker_model_dir(result, FLAGS.model_dir)
    return result
