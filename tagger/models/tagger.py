"""The tagger: an encoder plus one softmax head per task, and the model directory contract.

MODEL_DIR/
  tagger_config.json   format version, encoder config, tasks and label lists, tokenizer settings,
                       provenance (ARCHITECTURE.md, "Model directory")
  vocab.txt | sentencepiece.model   the tokenizer, copied, so the directory is self-contained
  checkpoints/         tf.train.CheckpointManager (model, optimizer, step, data position)
  metrics/<split>.json
  logs/                TensorBoard
  export/              SavedModel versions, .tflite files
"""
from __future__ import annotations

import json
import os
import tempfile

import tensorflow as tf
import tf_keras

from tagger.data.labels import check_same_labels
from tagger.data.tokenizer import PieceTokenizer
from tagger.data.tokenizer_files import tokenizer_from_settings, write_into
from tagger.models.build import build_encoder
from tagger.models.encoders import InitError
from tagger.models.heads import task_head

CONFIG_FILE = "tagger_config.json"
# 2: the tokenizer entry names its kind (wordpiece | sentencepiece). Configs without a version are 1.
FORMAT_VERSION = 2


class Tagger(tf_keras.Model):
    """Encoder -> dropout -> one softmax head per task (logits over that task's labels): dense, or
    low-rank for the tasks in `head_ranks` (`{"ufeats": 64}`, models/heads.py)."""

    def __init__(self, encoder: tf_keras.layers.Layer, label_lists: dict[str, list[str]],
                 dropout_rate: float = 0.1, head_ranks: dict[str, int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        if hasattr(encoder, "pooler_layer"):  # [CLS] pooling is unused by a tagger: keep it out of training
            encoder.pooler_layer.trainable = False
        self.tasks = list(label_lists)
        self.dropout = tf_keras.layers.Dropout(dropout_rate)
        self.heads = {task: task_head(task, len(labels), (head_ranks or {}).get(task))
                      for task, labels in label_lists.items()}

    def call(self, inputs, training=False, return_hidden=False, rows=None):
        """Logits per task, `[windows, length, labels]`; with `rows` (a function of the sequence
        output, e.g. `word_transfer.per_word`) only at the rows it picks: a head over thousands of
        classes (UFeats) costs about as much as a small encoder, and word-level losses read only
        each word's first piece."""
        word_ids = inputs["input_word_ids"]
        type_ids = inputs["input_type_ids"] if "input_type_ids" in inputs else tf.zeros_like(word_ids)
        encoder_inputs = dict(input_word_ids=word_ids, input_mask=inputs["input_mask"], input_type_ids=type_ids)
        if "input_word_embeddings" in inputs:  # looked up by the caller: the TFLite export's int8 table
            encoder_inputs["input_word_embeddings"] = inputs["input_word_embeddings"]
        outputs = self.encoder(encoder_inputs, training=training)
        sequence = outputs["sequence_output"] if rows is None else rows(outputs["sequence_output"])
        features = self.dropout(sequence, training=training)
        logits = {task: head(features) for task, head in self.heads.items()}
        if return_hidden:
            return logits, outputs["encoder_outputs"]
        return logits

    def build_variables(self):
        dummy = tf.zeros([1, 2], tf.int32)
        self(dict(input_word_ids=dummy, input_mask=tf.ones_like(dummy), input_type_ids=dummy))
        return self


# -- config and files -------------------------------------------------------------

def write_json_atomic(path: str, value) -> None:
    """Write-then-rename, so a kill never leaves half a JSON file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(scratch, path)


def read_config(model_dir: str) -> dict:
    path = os.path.join(model_dir, CONFIG_FILE)
    if not os.path.exists(path):
        raise InitError(f"{model_dir}: not a model directory (no {CONFIG_FILE})")
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InitError(f"{path}: not valid JSON ({e}); restore it from a backup or retrain") from None
    version = config.get("format_version", 1) if isinstance(config, dict) else None
    if not isinstance(version, int):
        raise InitError(f"{path}: not a tagger config (no integer format_version)")
    if version > FORMAT_VERSION:
        raise InitError(f"{path}: format version {version} is newer than this toolkit reads ({FORMAT_VERSION}); "
                        "upgrade the toolkit")
    return config


def make_config(encoder_config: dict, label_lists: dict[str, list[str]], tokenizer: PieceTokenizer,
                init: str, **extra) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "encoder": encoder_config,
        "tasks": label_lists,
        "tokenizer": tokenizer.settings(),
        "init": init,
        **extra,
    }


def prepare_model_dir(model_dir: str, config: dict, tokenizer: PieceTokenizer, tokenizer_file: str) -> dict:
    """Writes config and tokenizer for a new run; on rerun checks the labels match and keeps the old config."""
    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, CONFIG_FILE)
    if os.path.exists(path):
        existing = read_config(model_dir)
        check_same_labels(existing["tasks"], config["tasks"], path)
        return existing
    write_into(model_dir, tokenizer, tokenizer_file)
    write_json_atomic(path, config)
    return config


def tokenizer_from_config(model_dir: str, config: dict) -> PieceTokenizer:
    try:
        return tokenizer_from_settings(model_dir, config["tokenizer"], config["encoder"]["vocab_size"])
    except ValueError as e:
        raise InitError(str(e)) from None


def checkpoint_dir(model_dir: str) -> str:
    return os.path.join(model_dir, "checkpoints")


def load_model_dir(model_dir: str, checkpoint: str | None = None) -> tuple[Tagger, PieceTokenizer, dict]:
    """Rebuilds the tagger from its config and restores the latest (or given) checkpoint's weights."""
    config = read_config(model_dir)
    tokenizer = tokenizer_from_config(model_dir, config)
    model = Tagger(build_encoder(config["encoder"]), config["tasks"],
                   head_ranks=config.get("head_ranks")).build_variables()
    path = checkpoint or tf.train.latest_checkpoint(checkpoint_dir(model_dir))
    if path is None:
        raise InitError(f"{model_dir}: no checkpoint in {checkpoint_dir(model_dir)}")
    check_heads(path, config, model_dir)
    try:
        tf.train.Checkpoint(model=model).read(path).expect_partial().assert_existing_objects_matched()
    except (tf.errors.DataLossError, tf.errors.OutOfRangeError, IndexError) as e:  # IndexError: short read
        raise InitError(f"{path}: checkpoint is damaged (truncated or corrupt: {str(e).splitlines()[0][:200]}); "
                        "restore it from a copy or retrain") from None
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise InitError(f"{path}: checkpoint does not fit the model in {model_dir}: {str(e)[:300]}") from None
    return model, tokenizer, config


def check_heads(path: str, config: dict, model_dir: str) -> None:
    """The label lists of tagger_config.json must have the sizes of the checkpoint's task heads:
    an edited list would silently shift every tag."""
    try:
        shapes = dict(tf.train.list_variables(path))
    except (tf.errors.OpError, ValueError) as e:
        raise InitError(f"{path}: checkpoint is damaged or unreadable ({str(e).splitlines()[0][:200]}); "
                        "restore it from a copy or retrain") from None
    for task, labels in config["tasks"].items():
        kernel = [shape for name, shape in shapes.items()
                  if f"heads/{task}/" in name and "kernel" in name and "/down/" not in name]
        if kernel and kernel[0][-1] != len(labels):
            raise InitError(f"{os.path.join(model_dir, CONFIG_FILE)}: task {task!r} lists {len(labels)} labels but "
                            f"the checkpoint's {task} head has {kernel[0][-1]}; restore the label list written by "
                            "training")
