"""Distils a fine-tuned BERT tagger into a small student: `python -m tagger.distill --flagfile=...`.

  1. teacher: --teacher_dir (fine-tuned model dir), or --teacher_init (pretrained encoder,
     fine-tuned first into MODEL_DIR/teacher/)
  2. student: MiniBERT, BiLSTM or a config file, on the teacher's vocabulary or its own (--student_vocab)
  3. recipe: tsai2019 | xtremedistil | labels_only over streamed --unlabeled_data, or labels_kd
     (labels plus the teacher's soft targets on the labelled sentences)
  4. evaluate teacher and student on --dev_data/--test_data, print the retention table
  5. optionally (--export) SavedModel + TFLite, verified against the checkpoint

Rerunning the same command resumes wherever it was killed.
"""
import dataclasses
import os

from absl import flags

import tagger  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from export.pipeline import export_and_summarise
from tagger import cli, flags_common
from tagger.distill.job import DistillSettings, StudentSpec, distill
from tagger.distill.recipes import RECIPES
from tagger.supervised import finetune

FLAGS = flags.FLAGS
SHAPE_FLAGS = ("student_layers", "student_hidden_size", "student_heads", "student_intermediate_size")


def define_flags():
    flags_common.define_run_flags()
    flags_common.define_data_flags()
    flags_common.define_tokenizer_flags()
    flags.DEFINE_string("teacher_dir", None, "A fine-tuned teacher model directory.")
    flags.DEFINE_string("teacher_init", None, "Pretrained encoder (same syntax as tagger.finetune --init) to "
                        "fine-tune as the teacher first, into MODEL_DIR/teacher/.")
    flags_common.define_finetune_flags(teacher=True)
    flags.DEFINE_string("student", "minibert", "minibert | bilstm | config:FILE (an encoder config JSON).")
    flags.DEFINE_integer("student_layers", 3, "MiniBERT layers.")
    flags.DEFINE_integer("student_hidden_size", 256, "MiniBERT hidden size.")
    flags.DEFINE_integer("student_heads", 4, "MiniBERT attention heads.")
    flags.DEFINE_integer("student_intermediate_size", 1024, "MiniBERT feed-forward size.")
    flags.DEFINE_integer("student_embedding_width", None, "Factorised embeddings: vocab x E, then E x hidden.")
    flags.DEFINE_list("student_head_ranks", [], "Low-rank task heads, task:rank (e.g. ufeats:64): hidden x rank, "
                      "then rank x labels. A 6,899-class UFeats head is most of a MiniBERT's non-embedding size.")
    flags.register_validator("student_head_ranks", lambda specs: all(
        s.partition(":")[2].isdigit() and int(s.partition(":")[2]) >= 1 for s in specs),
        "--student_head_ranks: task:rank with rank >= 1, e.g. ufeats:64")
    flags.DEFINE_list("student_teacher_layers", [], "Build the student from these teacher layers (1-based, e.g. "
                      "1,2,3), copied with the teacher's embeddings: it takes the teacher's hidden size, heads and "
                      "feed-forward size, so --student_layers/hidden_size/heads/intermediate_size must be left out.")
    flags.register_validator("student_teacher_layers", lambda specs: all(s.strip().isdigit() and int(s) >= 1
                             for s in specs), "--student_teacher_layers: 1-based teacher layer numbers, e.g. 1,2,3")
    flags.register_validator("student_teacher_layers", lambda specs: not specs or not any(
        FLAGS[name].present for name in SHAPE_FLAGS), "--student_teacher_layers takes the student's shape from the "
        "teacher: leave out " + ", ".join("--" + name for name in SHAPE_FLAGS))
    flags.DEFINE_integer("bilstm_embedding_width", 300, "BiLSTM student: word-piece embedding width.")
    flags.DEFINE_integer("bilstm_units", 600, "BiLSTM student: units per direction.")
    flags.DEFINE_string("student_vocab", "teacher", "The student's vocabulary: teacher (the teacher's), trim:N (the "
                        "N pieces the teacher's tokenizer produces most on the transfer and training text, plus "
                        "every single character they need), or a WordPiece vocab.txt / SentencePiece model file. "
                        "Its own vocabulary makes the distillation word-level.")
    flags.DEFINE_integer("student_vocab_sample_lines", 10000, "trim:N counts pieces on the training text and the "
                         "first this many lines of every transfer file.", lower_bound=0)
    flags.DEFINE_enum("distill_level", "auto", ["auto", "word", "piece"], "Where the transfer-text losses compare "
                      "teacher and student: each word's first piece (word; the two may tokenize differently) or "
                      "every piece of a shared window (piece, Tsai et al.); auto: piece on the teacher's "
                      "vocabulary, word otherwise.")
    flags.DEFINE_enum("svd_init", "auto", ["auto", "true", "false"],
                      "Initialise student word embeddings from the SVD-reduced teacher table (XtremeDistil; measured "
                      "better for tsai2019 too, BENCHMARKS.md §2); auto: whenever the student's embedding width "
                      "fits in the teacher's.")
    flags.DEFINE_bool("freeze_word_embeddings", True, "Keep the SVD-initialised word-embedding table fixed in every "
                      "stage, so words the transfer text never shows keep the teacher's geometry (ignored "
                      "without SVD init).")
    flags.DEFINE_enum("recipe", "tsai2019", list(RECIPES), "Distillation recipe.")
    flags.DEFINE_string("unlabeled_data", None,
                        "Transfer text: globs of .txt/.txt.gz/.tfrecord, or tfds:NAME[:SPLIT].")
    flags.DEFINE_string("unlabeled_data_dir", None, "TFDS data_dir for --unlabeled_data=tfds:...")
    flags.DEFINE_float("train_text_fraction", 0.2, "Share of transfer lines drawn from the labelled training text.")
    flags.DEFINE_float("word_replacement", 0.0, "Transfer-text augmentation: replace each word with this "
                       "probability by another word (see --word_replacement_pool); the teacher labels the result.",
                       lower_bound=0.0, upper_bound=1.0)
    flags.DEFINE_enum("word_replacement_pool", "batch", ["batch", "vocab"], "Replacement words: the distinct words "
                      "of each batch of transfer lines, or every whole word of the teacher's vocabulary.")
    flags.DEFINE_float("temperature", 1.0, "Softmax temperature T of the tsai2019 and labels_kd soft losses (the "
                       "paper: 3; measured best here: 1, README 'Distillation settings').")
    flags.DEFINE_float("labels_soft_weight", 0.5, "labels_kd: each label step's loss is this share of soft "
                       "cross-entropy against the teacher's top-k at each training word, the rest cross-entropy "
                       "on the labels.", lower_bound=0.0, upper_bound=1.0)
    flags.DEFINE_integer("distill_steps", 1000, "Steps on unlabeled text (xtremedistil: split over stages 1-2).")
    flags.DEFINE_integer("finetune_steps", 500, "Steps on labels after distillation.")
    flags.DEFINE_integer("distill_batch_size", 64, "Global batch (windows) on unlabeled text (the paper: 256).")
    flags.DEFINE_float("distill_learning_rate", 1e-3, "Learning rate on unlabeled text (the paper: 1e-4).")
    flags.DEFINE_integer("finetune_batch_size", 16, "Global batch for the student's label stage.")
    flags.DEFINE_float("finetune_learning_rate", 1e-4, "Learning rate for the student's label stage (the paper: 3e-5).")
    flags.DEFINE_integer("teacher_layer", 0, "XtremeDistil: teacher layer (1-based) for the representation loss; "
                         "0 = layer 7 of 12 scaled to the teacher's depth.")
    flags.DEFINE_enum("representation_loss", "kld", ["kld", "mse"], "XtremeDistil representation loss.")
    flags.DEFINE_bool("gradual_unfreezing", True, "XtremeDistil: unfreeze one layer group at a time, top down.")
    flags.DEFINE_integer("teacher_cache_topk", 0, "tsai2019: run the teacher once over --teacher_cache_windows "
                         "transfer windows, keep its top-k logits per piece in MODEL_DIR/teacher_cache/ and train "
                         "on those (for repeated epochs over one transfer set); 0 = teacher on the fly. labels_kd "
                         "always keeps the teacher's top-k at each training word: this k, 0 = 8.")
    flags.DEFINE_integer("teacher_cache_windows", 100000, "Transfer windows in the teacher cache.")
    flags.DEFINE_integer("dev_loss_sentences", 0, "Dev loss (kept-best selection after each sub-stage) on an "
                         "evenly spaced sample of this many dev sentences; 0 = all. Final metrics use all of them.")
    flags.DEFINE_list("export", [], "After training, export and verify: any of saved_model, float32, "
                      "dynamic_int8, full_int8, embeddings_int8 (TFLite); the binary exits non-zero if one fails its gate.")
    flags.register_validator("export", flags_common.check_exports)
    flags.DEFINE_float("export_min_agreement", None, "Agreement gate of --export's verify for every artifact; "
                       "default: export.verify's per-precision gates (99.9% float32, 99.5% dynamic_int8, 95% "
                       "full_int8).")
    flags.mark_flags_as_required(["model_dir", "train_data"])
    flags.register_multi_flags_validator(
        ["teacher_dir", "teacher_init"], lambda v: bool(v["teacher_dir"]) != bool(v["teacher_init"]),
        "give exactly one of --teacher_dir and --teacher_init")
    flags.register_validator("recipe", lambda _: FLAGS.teacher_cache_topk <= 0 or FLAGS.recipe in (
        "tsai2019", "labels_kd"), "--teacher_cache_topk works with tsai2019's soft loss and labels_kd only")
    flags.adopt_module_key_flags(flags_common)  # shown by --help, not only --helpfull


def teacher_dir(strategy) -> str:
    """--teacher_dir, or the teacher fine-tuned first from --teacher_init into MODEL_DIR/teacher/."""
    if FLAGS.teacher_dir:
        return FLAGS.teacher_dir
    directory = os.path.join(FLAGS.model_dir, "teacher")
    print(f"== fine-tuning the teacher into {directory}")
    finetune(directory, FLAGS.teacher_init, FLAGS.train_data, strategy=strategy, dev_data=FLAGS.dev_data,
             test_data=FLAGS.test_data, tasks=FLAGS.tasks, data_format=FLAGS.data_format,
             vocab_file=FLAGS.vocab_file, lower_case=flags_common.lower_case(), max_seq_length=FLAGS.max_seq_length,
             seed=FLAGS.seed, checkpoint_every=FLAGS.checkpoint_every,
             **flags_common.finetune_arguments(teacher=True))
    return directory


def main(argv):
    del argv
    flags_common.expand_data_dir()
    strategy = flags_common.strategy()
    teacher = teacher_dir(strategy)
    student = StudentSpec(FLAGS.student, FLAGS.student_layers, FLAGS.student_hidden_size, FLAGS.student_heads,
                          FLAGS.student_intermediate_size, FLAGS.student_embedding_width,
                          FLAGS.bilstm_embedding_width, FLAGS.bilstm_units, vocab=FLAGS.student_vocab,
                          vocab_sample_lines=FLAGS.student_vocab_sample_lines,
                          head_ranks=tuple(FLAGS.student_head_ranks),
                          teacher_layers=tuple(int(layer) for layer in FLAGS.student_teacher_layers))
    # Every setting has the flag of its name; --svd_init is auto | true | false.
    named = {field.name: FLAGS[field.name].value for field in dataclasses.fields(DistillSettings)
             if field.name != "svd_init"}
    if FLAGS.student_teacher_layers and FLAGS.student_embedding_width and \
            not FLAGS["freeze_word_embeddings"].present:
        named["freeze_word_embeddings"] = False
        print("[distill] --student_teacher_layers with a factorised table: the table is trained (measured 82.68 "
              "against 71.99 UPOS frozen, BENCHMARKS.md section 9); --freeze_word_embeddings keeps it fixed")
    settings = DistillSettings(svd_init=flags_common.tristate(FLAGS.svd_init), **named)
    distill(FLAGS.model_dir, teacher, FLAGS.train_data, strategy=strategy, student=student, settings=settings,
            unlabeled_data=FLAGS.unlabeled_data, unlabeled_data_dir=FLAGS.unlabeled_data_dir,
            dev_data=FLAGS.dev_data, test_data=FLAGS.test_data, data_format=FLAGS.data_format)
    if FLAGS.export:
        summary = export_and_summarise(FLAGS.model_dir, teacher, FLAGS.export, verify_data=FLAGS.dev_data,
                                       min_agreement=FLAGS.export_min_agreement, test_data=FLAGS.test_data)
        if not summary.get("verified", True):
            raise SystemExit("error: an export failed its verify gate (see the table above and "
                             f"{FLAGS.model_dir}/metrics/verify.json)")


if __name__ == "__main__":
    define_flags()
    cli.run_main(main)
