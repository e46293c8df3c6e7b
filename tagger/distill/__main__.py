"""Distils a fine-tuned BERT tagger into a small student: `python -m tagger.distill --flagfile=...`.

  1. teacher: --teacher_dir (fine-tuned model dir), or --teacher_init (pretrained encoder,
     fine-tuned first into MODEL_DIR/teacher/)
  2. student: MiniBERT, BiLSTM or a config file, on the teacher's vocabulary
  3. recipe: tsai2019 | xtremedistil | labels_only over streamed --unlabeled_data
  4. evaluate teacher and student on --dev_data/--test_data, print the retention table
  5. optionally (--export) SavedModel + TFLite, verified against the checkpoint

Rerunning the same command resumes wherever it was killed.
"""
import json
import os

from absl import flags

import tagger  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tagger import cli, flags_common
from tagger.distill.recipes import RECIPES

flags.DEFINE_string("teacher_dir", None, "A fine-tuned teacher model directory.")
flags.DEFINE_string("teacher_init", None, "Pretrained encoder (same syntax as --init) to fine-tune as teacher first.")
flags.DEFINE_string("student", "minibert", "minibert | bilstm | config:FILE (an encoder config JSON).")
flags.DEFINE_integer("student_layers", 3, "MiniBERT layers.")
flags.DEFINE_integer("student_hidden_size", 256, "MiniBERT hidden size.")
flags.DEFINE_integer("student_heads", 4, "MiniBERT attention heads.")
flags.DEFINE_integer("student_intermediate_size", 1024, "MiniBERT feed-forward size.")
flags.DEFINE_integer("student_embedding_width", None, "Factorised embeddings: vocab x E, then E x hidden.")
flags.DEFINE_integer("bilstm_embedding_width", 300, "BiLSTM student: word-piece embedding width.")
flags.DEFINE_integer("bilstm_units", 600, "BiLSTM student: units per direction.")
flags.DEFINE_enum("svd_init", "auto", ["auto", "true", "false"],
                  "Initialise student word embeddings from the SVD-reduced teacher table "
                  "(auto: on for xtremedistil).")
flags.DEFINE_bool("freeze_word_embeddings", False, "Keep the student's word-embedding table as initialised "
                  "(with --svd_init: the teacher's, reduced) in every stage.")
flags.DEFINE_enum("recipe", "tsai2019", list(RECIPES), "Distillation recipe.")
flags.DEFINE_string("unlabeled_data", None, "Transfer text: globs of .txt/.txt.gz/.tfrecord, or tfds:NAME[:SPLIT].")
flags.DEFINE_string("unlabeled_data_dir", None, "TFDS data_dir for --unlabeled_data=tfds:...")
flags.DEFINE_float("train_text_fraction", 0.2, "Share of transfer lines drawn from the labelled training text.")
flags.DEFINE_float("word_replacement", 0.0, "Transfer-text augmentation: replace each word with this probability "
                   "by another word (see --word_replacement_pool); the teacher labels the result.",
                   lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_enum("word_replacement_pool", "batch", ["batch", "vocab"], "Replacement words: the distinct words of "
                  "each batch of transfer lines, or every whole word of the teacher's vocabulary.")
flags.DEFINE_float("temperature", 3.0, "Softmax temperature T of the tsai2019 loss.")
flags.DEFINE_integer("distill_steps", 1000, "Steps on unlabeled text (xtremedistil: split over stages 1-2).")
flags.DEFINE_integer("finetune_steps", 500, "Steps on labels after distillation.")
flags.DEFINE_integer("distill_batch_size", 256, "Global batch (windows) on unlabeled text.")
flags.DEFINE_float("distill_learning_rate", 1e-4, "Learning rate on unlabeled text (and from scratch).")
flags.DEFINE_integer("finetune_batch_size", 16, "Global batch for the student's label stage.")
flags.DEFINE_float("finetune_learning_rate", 3e-5, "Learning rate for the student's label stage.")
flags.DEFINE_integer("teacher_layer", 0, "XtremeDistil: teacher layer (1-based) for the representation loss; "
                     "0 = layer 7 of 12 scaled to the teacher's depth.")
flags.DEFINE_enum("representation_loss", "kld", ["kld", "mse"], "XtremeDistil representation loss.")
flags.DEFINE_bool("gradual_unfreezing", True, "XtremeDistil: unfreeze one layer group at a time, top down.")
flags.DEFINE_integer("teacher_cache_topk", 0, "tsai2019: run the teacher once over --teacher_cache_windows transfer "
                     "windows, keep its top-k logits per wordpiece in MODEL_DIR/teacher_cache/ and train on "
                     "those (for repeated epochs over one transfer set); 0 = teacher on the fly.")
flags.DEFINE_integer("teacher_cache_windows", 100000, "Transfer windows in the teacher cache.")
flags.DEFINE_integer("dev_loss_sentences", 0, "Dev loss (kept-best selection after each sub-stage) on an evenly "
                     "spaced sample of this many dev sentences; 0 = all. Final metrics always use all of them.")
flags.DEFINE_list("export", [], "After training: any of saved_model, none, dynamic_int8, full_int8 (TFLite).")
flags.mark_flags_as_required(["model_dir", "train_data"])
FLAGS = flags.FLAGS


def teacher_model(strategy):
    """Loads the teacher, fine-tuning it first when only --teacher_init is given."""
    from tagger.finetuning import finetune
    from tagger.models.tagger import load_model_dir
    if bool(FLAGS.teacher_dir) == bool(FLAGS.teacher_init):
        raise ValueError("give exactly one of --teacher_dir and --teacher_init")
    teacher_dir = FLAGS.teacher_dir
    if FLAGS.teacher_init:
        teacher_dir = os.path.join(FLAGS.model_dir, "teacher")
        print(f"== fine-tuning the teacher into {teacher_dir}")
        finetune(teacher_dir, FLAGS.teacher_init, FLAGS.train_data, strategy=strategy, dev_data=FLAGS.dev_data,
                 test_data=FLAGS.test_data, tasks=FLAGS.tasks, data_format=FLAGS.data_format,
                 vocab_file=FLAGS.vocab_file, lower_case=flags_common.lower_case(),
                 max_seq_length=FLAGS.max_seq_length, batch_size=FLAGS.train_batch_size,
                 learning_rate=FLAGS.learning_rate, epochs=FLAGS.num_train_epochs, train_steps=FLAGS.train_steps,
                 seed=FLAGS.seed, checkpoint_every=FLAGS.checkpoint_every)
    with strategy.scope():
        model, tokenizer, config = load_model_dir(teacher_dir)
    return teacher_dir, model, tokenizer, config


def student_config(vocab_size: int) -> dict:
    from tagger.models import encoders, students
    if FLAGS.student == "minibert":
        return students.minibert_config(vocab_size, FLAGS.student_layers, FLAGS.student_hidden_size,
                                        FLAGS.student_heads, FLAGS.student_intermediate_size,
                                        embedding_width=FLAGS.student_embedding_width)
    if FLAGS.student == "bilstm":
        return students.bilstm_config(vocab_size, FLAGS.bilstm_embedding_width, FLAGS.bilstm_units)
    kind, path = encoders.parse_init(FLAGS.student)
    if kind != "config":
        raise ValueError(f"--student={FLAGS.student}: expected minibert, bilstm or config:FILE")
    config = encoders.config_from_bert_json(path)
    if config["vocab_size"] != vocab_size:
        raise ValueError(f"{path}: vocab_size {config['vocab_size']} differs from the teacher's {vocab_size}")
    return config


def unlabeled_lines(train_text):
    """`(input context) -> lines`: the transfer set, sharded per input pipeline, with training text mixed in."""
    import tensorflow as tf
    from tagger.data import pipeline

    def lines(context):
        shards = context.num_input_pipelines if context else 1
        index = context.input_pipeline_id if context else 0
        if not FLAGS.unlabeled_data:
            return tf.data.Dataset.from_tensor_slices(train_text).shard(shards, index)
        stream = pipeline.text_lines(FLAGS.unlabeled_data, data_dir=FLAGS.unlabeled_data_dir,
                                     num_shards=shards, shard_index=index)
        if FLAGS.train_text_fraction <= 0:
            return stream
        mixed_in = tf.data.Dataset.from_tensor_slices(train_text).shard(shards, index).repeat()
        fraction = FLAGS.train_text_fraction
        return tf.data.Dataset.sample_from_datasets([stream.repeat(), mixed_in], [1 - fraction, fraction],
                                                    seed=FLAGS.seed)
    return lines


def evenly_spaced(items: list, count: int) -> list:
    """`count` items spread over the whole list (every treebank is represented), or all of them."""
    if count <= 0 or count >= len(items):
        return items
    return [items[i * len(items) // count] for i in range(count)]


def teacher_test_metrics(teacher_dir, teacher, tokenizer, label_lists):
    """The teacher's scores on --test_data: reused when it was fine-tuned on them just now."""
    from tagger.finetuning import evaluate_splits
    from tagger.models.tagger import write_json_atomic
    own = os.path.join(teacher_dir, "metrics", "test.json")
    if FLAGS.teacher_init and FLAGS.test_data and os.path.exists(own):
        with open(own, encoding="utf-8") as f:
            result = json.load(f)
        write_json_atomic(os.path.join(FLAGS.model_dir, "metrics", "teacher_test.json"), result)
        return {"test": result}
    return evaluate_splits(FLAGS.model_dir, teacher, tokenizer, label_lists, {"test": FLAGS.test_data},
                           FLAGS.data_format, prefix="teacher_", verbose=False)


def cached_teacher(teacher, data, pad_id):
    """Writes (or reuses) the top-k teacher cache; returns the batches the soft stage reads instead."""
    from tagger.distill import teacher_cache
    if FLAGS.recipe != "tsai2019":
        raise ValueError(f"--teacher_cache_topk works with tsai2019's soft loss; {FLAGS.recipe} needs the "
                         "teacher's full outputs")
    directory = os.path.join(FLAGS.model_dir, "teacher_cache")
    source = json.dumps({"teacher": os.path.abspath(FLAGS.teacher_dir) if FLAGS.teacher_dir else FLAGS.teacher_init,
                         **{name: FLAGS[name].value for name in (
                             "unlabeled_data", "train_data", "train_text_fraction", "word_replacement",
                             "word_replacement_pool", "max_seq_length", "distill_batch_size", "seed")}},
                        sort_keys=True)
    teacher_cache.write_cache(teacher, data.unlabeled_fn(FLAGS.distill_batch_size, None), directory,
                              FLAGS.teacher_cache_topk, FLAGS.teacher_cache_windows, source=source)
    return lambda batch_size, context: teacher_cache.cached_dataset(directory, batch_size, seed=FLAGS.seed,
                                                                    pad_id=pad_id, input_context=context)


def main(argv):
    del argv
    import tensorflow as tf
    from tagger import metrics as metrics_lib
    from tagger.data import pipeline
    from tagger.data.corpus import read_corpus
    from tagger.data.wordpiece import load_vocab
    from tagger.distill import recipes
    from tagger.finetuning import evaluate_splits
    from tagger.models import encoders, students
    from tagger.models.tagger import Tagger, checkpoint_dir, make_config, prepare_model_dir

    strategy = flags_common.strategy()
    teacher_dir, teacher, tokenizer, teacher_config = teacher_model(strategy)
    label_lists = teacher_config["tasks"]
    train = read_corpus(FLAGS.train_data, FLAGS.data_format)
    dev = read_corpus(FLAGS.dev_data, FLAGS.data_format) if FLAGS.dev_data else None

    config = student_config(teacher_config["encoder"]["vocab_size"])
    svd = FLAGS.svd_init == "true" or (FLAGS.svd_init == "auto" and FLAGS.recipe == "xtremedistil")
    prepare_model_dir(FLAGS.model_dir, make_config(config, label_lists, tokenizer,
                                                   f"distill:{FLAGS.recipe}", teacher_dir=os.path.abspath(teacher_dir),
                                                   svd_init=svd, dev_data=FLAGS.dev_data),
                      os.path.join(teacher_dir, "vocab.txt"))
    with strategy.scope():
        student = Tagger(build_encoder(config), label_lists).build_variables()
        if svd:
            students.init_from_teacher_embeddings(student.encoder, teacher.encoder)

    teacher_metrics = teacher_test_metrics(teacher_dir, teacher, tokenizer, label_lists)
    train_encoded = pipeline.encode_labeled(tokenizer, train, label_lists)
    dev_encoded = pipeline.encode_labeled(tokenizer, evenly_spaced(dev, FLAGS.dev_loss_sentences),
                                          label_lists) if dev else None
    replacement_words = pipeline.vocab_words(load_vocab(os.path.join(teacher_dir, "vocab.txt"))) \
        if FLAGS.word_replacement_pool == "vocab" else None
    data = recipes.make_data(tokenizer, train_encoded, dev_encoded,
                             unlabeled_lines(pipeline.sentences_as_text(train)), FLAGS.seed,
                             word_replacement=FLAGS.word_replacement, replacement_words=replacement_words)
    if FLAGS.teacher_cache_topk > 0:
        data.soft_fn = cached_teacher(teacher, data, tokenizer.pad_id)
    distiller = recipes.Distiller(teacher, student, strategy, os.path.join(FLAGS.model_dir, "stages"),
                                  temperature=FLAGS.temperature, teacher_layer=FLAGS.teacher_layer,
                                  representation_kind=FLAGS.representation_loss, seed=FLAGS.seed,
                                  checkpoint_every=FLAGS.checkpoint_every,
                                  summary_dir=os.path.join(FLAGS.model_dir, "logs"),
                                  freeze_word_embeddings=FLAGS.freeze_word_embeddings)
    stages = recipes.stages_for(FLAGS.recipe, FLAGS.distill_steps, FLAGS.finetune_steps, FLAGS.distill_batch_size,
                                FLAGS.finetune_batch_size, FLAGS.distill_learning_rate, FLAGS.finetune_learning_rate,
                                FLAGS.gradual_unfreezing)
    distiller.run(stages, data)
    tf.train.CheckpointManager(tf.train.Checkpoint(model=student), checkpoint_dir(FLAGS.model_dir),
                               max_to_keep=1).save(checkpoint_number=sum(s.steps for s in stages))

    results = evaluate_splits(FLAGS.model_dir, student, tokenizer, label_lists,
                              {"dev": FLAGS.dev_data, "test": FLAGS.test_data}, FLAGS.data_format, verbose=False)
    if "test" in results:
        print("\n== student vs teacher (test)\n"
              + metrics_lib.format_table(results["test"], teacher_metrics.get("test"), "teacher"))
    if FLAGS.export:
        from export.pipeline import export_and_summarise
        export_and_summarise(FLAGS.model_dir, teacher_dir, FLAGS.export, verify_data=FLAGS.dev_data)


if __name__ == "__main__":
    cli.run_main(main)
