"""The whole `tagger.distill` job as a library function: the binary only turns flags into these arguments.

  teacher (a fine-tuned model dir) -> student vocabulary, config and model dir -> transfer text
  (per piece, or per word when the student has its own vocabulary) and labelled pipelines ->
  (optional) teacher cache -> recipe stages -> student checkpoint -> metrics

Rerunning the same call resumes wherever it was killed (every stage and the cache are resumable).
"""
from __future__ import annotations

import dataclasses
import json
import os

import tensorflow as tf

from tagger import metrics as metrics_lib
from tagger.data import pipeline, tokenizer_files
from tagger.data.corpus import Sentence, read_corpus
from tagger.data.wordpiece import load_vocab
from tagger.distill import distill_data, label_targets, recipes, student_vocab, teacher_cache
from tagger.supervised import evaluate_splits
from tagger.models import encoders, students, teacher_layers
from tagger.models.heads import parse_head_ranks
from tagger.models.build import build_encoder
from tagger.errors import UserError
from tagger.models.tagger import (Tagger, checkpoint_dir, load_model_dir, make_config, prepare_model_dir,
                                  write_json_atomic)

STUDENT_KINDS = ("minibert", "bilstm")
LABELS_KD_TOP_K = 8  # labels_kd's teacher classes per word when --teacher_cache_topk is 0


@dataclasses.dataclass
class StudentSpec:
    """`kind`: minibert | bilstm | config:FILE (an encoder config JSON)."""
    kind: str = "minibert"
    layers: int = 3
    hidden_size: int = 256
    heads: int = 4
    intermediate_size: int = 1024
    embedding_width: int | None = None
    bilstm_embedding_width: int = 300
    bilstm_units: int = 600
    vocab: str = "teacher"             # teacher | trim:N | FILE (distill/student_vocab.py)
    vocab_sample_lines: int = 10000    # trim:N counts pieces on the training text and this many lines per transfer file
    head_ranks: tuple[str, ...] = ()   # low-rank task heads, task:rank (models/heads.py)
    teacher_layers: tuple[int, ...] = ()  # 1-based teacher layers copied into the student (models/teacher_layers.py)

    def __post_init__(self):
        if self.teacher_layers and self.kind != "minibert":
            raise UserError(f"--student_teacher_layers builds a BERT student from the teacher's layers; "
                            f"--student={self.kind} cannot take them")

    def config(self, vocab_size: int, teacher_encoder: dict) -> dict:
        if self.teacher_layers:
            return teacher_layers.student_config(teacher_encoder, self.teacher_layers, vocab_size,
                                                 self.embedding_width)
        if self.kind == "minibert":
            return students.minibert_config(vocab_size, self.layers, self.hidden_size, self.heads,
                                            self.intermediate_size, embedding_width=self.embedding_width)
        if self.kind == "bilstm":
            return students.bilstm_config(vocab_size, self.bilstm_embedding_width, self.bilstm_units)
        kind, path = encoders.parse_init(self.kind)
        if kind != "config":
            raise UserError(f"--student={self.kind}: expected minibert, bilstm or config:FILE")
        config = encoders.config_from_bert_json(path)
        if config["vocab_size"] != vocab_size:
            raise UserError(f"{path}: vocab_size {config['vocab_size']} differs from the student vocabulary's "
                             f"{vocab_size}")
        return config


@dataclasses.dataclass
class DistillSettings:
    """The recipe and its knobs; defaults are the binary's (see `tagger.distill --help`).

    The defaults are the settings measured best on en_ewt (BENCHMARKS.md §2): T=1, lr 1e-3 on
    transfer text, 1e-4 on labels, batch 64, the SVD-reduced teacher table kept frozen. The papers'
    values (Tsai et al.: T=3, lr 1e-4, batch 256, embeddings trained) are in flags/mbert_*.flags.
    """
    recipe: str = "tsai2019"
    distill_level: str = "auto"           # word | piece | auto: piece on the teacher's vocab, else word
    temperature: float = 1.0
    distill_steps: int = 1000
    finetune_steps: int = 500
    distill_batch_size: int = 64
    finetune_batch_size: int = 16
    distill_learning_rate: float = 1e-3
    finetune_learning_rate: float = 1e-4
    teacher_layer: int = 0
    representation_loss: str = "kld"
    gradual_unfreezing: bool = True
    svd_init: bool | None = None          # SVD-reduced teacher table; None: whenever the widths allow
    freeze_word_embeddings: bool = True   # and keeps it (only with SVD init)
    train_text_fraction: float = 0.2
    word_replacement: float = 0.0
    word_replacement_pool: str = "batch"
    teacher_cache_topk: int = 0
    teacher_cache_windows: int = 100000
    labels_soft_weight: float = 0.5       # labels_kd: the soft targets' share of each label step's loss
    dev_loss_sentences: int = 0
    seed: int = 0
    checkpoint_every: int = 200

    def __post_init__(self):
        if self.recipe not in recipes.RECIPES:
            raise UserError(f"unknown recipe {self.recipe!r}; expected one of {', '.join(recipes.RECIPES)}")
        if self.distill_level not in ("auto", "word", "piece"):
            raise UserError(f"--distill_level={self.distill_level}: expected auto, word or piece")
        if self.teacher_cache_topk > 0 and self.recipe not in ("tsai2019", "labels_kd"):
            raise UserError(f"--teacher_cache_topk works with tsai2019's soft loss and labels_kd; {self.recipe} "
                             "needs the teacher's full outputs")


def svd_choice(requested: bool | None, student: Tagger, teacher: Tagger, log) -> bool:
    """`requested`, or with None: SVD init whenever the student's embedding width fits in the teacher's."""
    if requested is not None:
        return requested
    width = int(student.encoder.get_embedding_table().shape[1])
    teacher_width = int(teacher.encoder.get_embedding_table().shape[1])
    log("[distill] student word embeddings: " + (f"SVD-reduced teacher table ({teacher_width} -> {width})"
        if width <= teacher_width else f"random (width {width} exceeds the teacher's {teacher_width}, no SVD)"))
    return width <= teacher_width


def level_choice(requested: str, own_vocab: bool, log) -> str:
    """Where the unlabeled losses compare the models: each word's first piece, or every piece."""
    if requested == "piece" and own_vocab:
        raise UserError("--distill_level=piece compares the models piece by piece, so it needs the teacher's "
                        "vocabulary; a student with its own (--student_vocab) distils at word level")
    level = requested if requested != "auto" else ("word" if own_vocab else "piece")
    log(f"[distill] {level}-level losses on transfer text" + (" (auto: the student has its own vocabulary)"
        if requested == "auto" and own_vocab else " (auto: shared vocabulary)" if requested == "auto" else ""))
    return level


def evenly_spaced(items: list, count: int) -> list:
    """`count` items spread over the whole list (every treebank is represented), or all of them."""
    if count <= 0 or count >= len(items):
        return items
    return [items[i * len(items) // count] for i in range(count)]


def transfer_lines(train_text: list[str], unlabeled_data: str | None, unlabeled_data_dir: str | None,
                   train_text_fraction: float, seed: int):
    """`(input context) -> lines`: the transfer set, sharded per input pipeline, with training text mixed in."""

    def lines(context):
        shards = context.num_input_pipelines if context else 1
        index = context.input_pipeline_id if context else 0
        if not unlabeled_data:
            return tf.data.Dataset.from_tensor_slices(train_text).shard(shards, index)
        stream = pipeline.text_lines(unlabeled_data, data_dir=unlabeled_data_dir, num_shards=shards,
                                     shard_index=index)
        if train_text_fraction <= 0:
            return stream
        mixed_in = tf.data.Dataset.from_tensor_slices(train_text).shard(shards, index).repeat()
        return tf.data.Dataset.sample_from_datasets([stream.repeat(), mixed_in],
                                                    [1 - train_text_fraction, train_text_fraction], seed=seed)
    return lines


def teacher_metrics(model_dir: str, teacher_dir: str, teacher, tokenizer, label_lists: dict,
                    test_data: str | None, data_format: str) -> dict:
    """The teacher's scores on `test_data`: reused when its own test metrics are of the same data."""
    own = os.path.join(teacher_dir, "metrics", "test.json")
    with open(os.path.join(teacher_dir, "tagger_config.json"), encoding="utf-8") as f:
        recorded = json.load(f).get("test_data")
    if test_data and recorded == test_data and os.path.exists(own):
        with open(own, encoding="utf-8") as f:
            result = json.load(f)
        write_json_atomic(os.path.join(model_dir, "metrics", "teacher_test.json"), result)
        return {"test": result}
    return evaluate_splits(model_dir, teacher, tokenizer, label_lists, {"test": test_data}, data_format,
                           prefix="teacher_", verbose=False)


def distill(model_dir: str, teacher_dir: str, train_data: str, *, strategy: tf.distribute.Strategy,
            student: StudentSpec, settings: DistillSettings, unlabeled_data: str | None = None,
            unlabeled_data_dir: str | None = None, dev_data: str | None = None, test_data: str | None = None,
            data_format: str = "auto", log=print) -> dict[str, dict]:
    """Distils the tagger in `teacher_dir` into a new student in `model_dir`; returns its metrics."""
    if student.teacher_layers and settings.svd_init is False:
        raise UserError("--student_teacher_layers starts the student's word table from the teacher's rows; "
                        "it cannot be combined with --svd_init=false")
    with strategy.scope():
        teacher, tokenizer, teacher_config = load_model_dir(teacher_dir)
    label_lists = teacher_config["tasks"]
    try:
        head_ranks = parse_head_ranks(list(student.head_ranks), list(label_lists))
    except ValueError as e:
        raise UserError(f"--student_head_ranks: {e}") from None
    train: list[Sentence] = read_corpus(train_data, data_format)
    dev = read_corpus(dev_data, data_format) if dev_data else None
    train_text = pipeline.sentences_as_text(train)

    teacher_file = tokenizer_files.path_in(teacher_dir, teacher_config["tokenizer"])
    trim_text = train_text + student_vocab.transfer_sample(unlabeled_data, student.vocab_sample_lines,
                                                           unlabeled_data_dir) \
        if student.vocab.startswith("trim:") else []
    student_tokenizer, student_file = student_vocab.build(student.vocab, teacher_file, tokenizer, model_dir,
                                                          trim_text, log=log)
    own_vocab = student_tokenizer is not tokenizer
    level = level_choice(settings.distill_level, own_vocab, log)
    config = student.config(student_tokenizer.vocab_size if own_vocab else teacher_config["encoder"]["vocab_size"],
                            teacher_config["encoder"])
    with strategy.scope():
        model = Tagger(build_encoder(config), label_lists, head_ranks=head_ranks).build_variables()
    svd = True if student.teacher_layers else svd_choice(settings.svd_init, model, teacher, log)
    prepare_model_dir(model_dir, make_config(config, label_lists, student_tokenizer, f"distill:{settings.recipe}",
                                             teacher_dir=os.path.abspath(teacher_dir), svd_init=svd,
                                             student_vocab=student.vocab, distill_level=level,
                                             **({"head_ranks": head_ranks} if head_ranks else {}),
                                             **({"teacher_layers": list(student.teacher_layers)}
                                                if student.teacher_layers else {}),
                                             dev_data=dev_data, test_data=test_data), student_tokenizer, student_file)
    if svd:
        rows = student_vocab.student_table(
            teacher.encoder.get_embedding_table().numpy(),
            student_vocab.teacher_rows(student_file, student_tokenizer, teacher_file, tokenizer)) if own_vocab else None
        with strategy.scope():
            if student.teacher_layers:
                teacher_layers.init_from_teacher_layers(model.encoder, teacher.encoder, student.teacher_layers,
                                                        rows, settings.seed, log)
            else:
                students.init_from_teacher_embeddings(model.encoder, teacher.encoder, rows)

    reference = teacher_metrics(model_dir, teacher_dir, teacher, tokenizer, label_lists, test_data, data_format)
    soft_labels = None
    if settings.recipe == "labels_kd":  # the teacher's top-k at every training word, by its own tokenizer
        soft_labels = label_targets.load_or_compute(
            model_dir, json.dumps({"teacher": os.path.abspath(teacher_dir), "train_data": train_data}),
            teacher, tokenizer, [s.words for s in train], settings.teacher_cache_topk or LABELS_KD_TOP_K, log=log)
    train_encoded = pipeline.encode_labeled(student_tokenizer, train, label_lists, word_features=soft_labels)
    dev_sample = evenly_spaced(dev, settings.dev_loss_sentences) if dev else None
    dev_encoded = pipeline.encode_labeled(student_tokenizer, dev_sample, label_lists) if dev else None
    replacement_words = None
    if settings.word_replacement_pool == "vocab":
        if tokenizer.kind != "wordpiece":
            raise UserError(f"--word_replacement_pool=vocab draws whole words from a WordPiece vocab.txt; the "
                            f"teacher in {teacher_dir} uses {tokenizer.kind}: use --word_replacement_pool=batch")
        replacement_words = pipeline.vocab_words(load_vocab(teacher_file))
    lines = transfer_lines(train_text, unlabeled_data, unlabeled_data_dir, settings.train_text_fraction, settings.seed)
    data = distill_data.make_data(student_tokenizer, train_encoded, dev_encoded, lines, settings.seed,
                                  word_replacement=settings.word_replacement, replacement_words=replacement_words,
                                  teacher_tokenizer=tokenizer if level == "word" else None,
                                  dev_words=[s.words for s in dev_sample] if dev and level == "word" else None)
    if settings.teacher_cache_topk > 0 and settings.recipe == "tsai2019":
        source = json.dumps({"teacher": os.path.abspath(teacher_dir), "unlabeled_data": unlabeled_data,
                             "train_data": train_data, "seed": settings.seed,
                             "max_seq_length": tokenizer.max_seq_length, **{name: getattr(settings, name) for name in (
                                 "train_text_fraction", "word_replacement", "word_replacement_pool",
                                 "distill_batch_size")}}, sort_keys=True)
        data.soft_fn = teacher_cache.prepare(teacher, data.cache_source_fn, os.path.join(model_dir, "teacher_cache"),
                                             settings.teacher_cache_topk, settings.teacher_cache_windows,
                                             settings.distill_batch_size, source, settings.seed,
                                             student_tokenizer.pad_id,
                                             student_tokenizer=student_tokenizer if level == "word" else None)
    distiller = recipes.Distiller(teacher, model, strategy, os.path.join(model_dir, "stages"),
                                  temperature=settings.temperature, teacher_layer=settings.teacher_layer,
                                  representation_kind=settings.representation_loss, seed=settings.seed,
                                  checkpoint_every=settings.checkpoint_every,
                                  summary_dir=os.path.join(model_dir, "logs"),
                                  freeze_word_embeddings=svd and settings.freeze_word_embeddings,
                                  labels_soft_weight=settings.labels_soft_weight)
    stages = recipes.stages_for(settings.recipe, settings.distill_steps, settings.finetune_steps,
                                settings.distill_batch_size, settings.finetune_batch_size,
                                settings.distill_learning_rate, settings.finetune_learning_rate,
                                settings.gradual_unfreezing)
    distiller.run(stages, data, log=log)
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model), checkpoint_dir(model_dir),
                               max_to_keep=1).save(checkpoint_number=sum(s.steps for s in stages))

    results = evaluate_splits(model_dir, model, student_tokenizer, label_lists, {"dev": dev_data, "test": test_data},
                              data_format, verbose=False)
    if "test" in results:
        log("\n== student vs teacher (test)\n"
            + metrics_lib.format_table(results["test"], reference.get("test"), "teacher"))
    return results
