"""`load_backend`: a model directory, SavedModel or .tflite behind the interface of `tagger.runtime`."""
from __future__ import annotations

import os

import tensorflow as tf

from tagger import metrics as metrics_lib
from tagger.data.sentence import Sentence
from tagger.inference import WordTagger
from tagger.models.tagger import CONFIG_FILE, load_model_dir, write_json_atomic
from tagger.runtime.batching import as_bytes, output_rows, tag_in_batches
from tagger.runtime.saved_model import SavedModelTagger
from tagger.runtime.tflite import DEFAULT_BATCH as TFLITE_BATCH, TFLiteTagger
from tagger.serving import TaggerModule
from tagger.errors import UserError


# Sentences per call for the TensorFlow backends (checkpoint, SavedModel).
TF_BATCH = 64


class CheckpointTagger:
    """A model directory's latest checkpoint: WordTagger for words, the export graph for raw text."""

    def __init__(self, model_dir: str, batch_size: int = TF_BATCH):
        model, tokenizer, config = load_model_dir(model_dir)
        self.label_lists = config["tasks"]
        self.tasks = list(self.label_lists)
        self.words = WordTagger(model, tokenizer, self.label_lists, batch_size)
        self.module = TaggerModule(model, tokenizer, self.label_lists)
        self.batch_size = batch_size

    def tag_words(self, sentences: list[list[str]]) -> list[dict]:
        results = []
        for ids in self.words.tag_ids(sentences):
            row = {}
            for task, top in ids.items():
                labels = self.label_lists[task]
                row[task] = [labels[r[0]] for r in top]
                if task == "upos" and top.shape[1] > 1:
                    row["upos_second_best"] = [labels[r[1]] for r in top]
            results.append(row)
        return results

    def _tag_text_batch(self, batch: list[bytes]) -> list[dict]:
        outputs = self.module.serving_default(tf.constant(batch, tf.string))
        return output_rows({k: v.numpy() for k, v in outputs.items()}, batch)

    def tag_text(self, sentences: list[str | bytes]) -> list[dict]:
        return tag_in_batches([as_bytes(s) for s in sentences], self.batch_size, self._tag_text_batch)


def load_backend(model: str, batch_size: int | None = None, num_threads: int = 1):
    """(tagger, kind) for a model directory, a SavedModel or a .tflite file. `batch_size` None:
    each runtime's own default (TFLite 8, TensorFlow 64)."""
    if model.endswith(".tflite"):
        if not os.path.isfile(model):
            raise UserError(f"--model={model}: no such file")
        return TFLiteTagger(model, num_threads=num_threads, batch_size=batch_size or TFLITE_BATCH), "tflite"
    if os.path.exists(os.path.join(model, CONFIG_FILE)):
        return CheckpointTagger(model, batch_size or TF_BATCH), "checkpoint"
    if not os.path.isdir(model):
        raise UserError(f"--model={model}: not a model directory, SavedModel or .tflite file")
    return SavedModelTagger(model, batch_size or TF_BATCH), "saved_model"


def runtime_name(artifact: str) -> str:
    """The metrics-file suffix of an export (`<split>_<runtime>.json`, as tagger.report reads it):
    tflite_<quantize> for `tagger_<quantize>.tflite`, else saved_model."""
    base = os.path.basename(artifact)
    if base.endswith(".tflite"):
        return "tflite_" + base[:-len(".tflite")].removeprefix("tagger_")
    return "saved_model"


def score_backend(model: str, sentences: list[Sentence], split: str, batch_size: int | None = None,
                  model_dir: str | None = None) -> dict:
    """Scores a model directory, SavedModel or .tflite on gold-tokenised sentences, the way
    tagger.predict tags CoNLL-U (metrics schema of ARCHITECTURE.md, plus the artifact and
    `exact_sentences`: how many sentences the model split into exactly the given words).
    With `model_dir`, also writes MODEL_DIR/metrics/<split>.json."""
    backend, kind = load_backend(model, batch_size)
    predictions = backend.tag_words([s.words for s in sentences])
    result = metrics_lib.score(sentences, predictions, split)
    result.update(artifact=model, artifact_kind=kind, sentences=len(sentences),
                  exact_sentences=sum(bool(p.get("exact", True)) for p in predictions))
    if model_dir:
        write_json_atomic(os.path.join(model_dir, "metrics", f"{split}.json"), result)
    return result
