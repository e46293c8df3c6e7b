"""Running an exported SavedModel in Python, and finding one: `SavedModelTagger`, `latest_saved_model`."""
from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops before a SavedModel loads)

from tagger.runtime.batching import as_bytes, output_rows, tag_in_batches
from tagger.errors import UserError


def saved_model_root(model_dir: str) -> str:
    return os.path.join(model_dir, "export", "saved_model")


def versions(root: str) -> list[int]:
    """Integer version directories under a TF Serving base path, ascending."""
    if not os.path.isdir(root):
        return []
    return sorted(int(name) for name in os.listdir(root)
                  if name.isdigit() and os.path.isdir(os.path.join(root, name)))


def latest_saved_model(path: str) -> str:
    """A SavedModel directory from a model dir, a base path with versions, or a version dir itself."""
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    for root in (saved_model_root(path), path):
        found = versions(root)
        if found:
            return os.path.join(root, str(found[-1]))
    raise UserError(f"{path}: no SavedModel here (looked for saved_model.pb, numbered versions, "
                     f"and {saved_model_root(path)})")


class SavedModelTagger:
    """Tags with an exported SavedModel's `serving_default` (raw text) and `tag_words` signatures."""

    def __init__(self, path: str, batch_size: int = 64):
        self.path = latest_saved_model(path)
        try:
            self.loaded = tf.saved_model.load(self.path)
        except (OSError, ValueError, tf.errors.OpError) as e:
            raise UserError(f"{self.path}: not a complete SavedModel ({str(e).splitlines()[0][:200]}); "
                            "export it again with python -m export.saved_model") from None
        missing = [name for name in ("serving_default", "tag_words") if name not in self.loaded.signatures]
        if missing:
            raise UserError(f"{self.path}: SavedModel lacks signature(s) {missing} (a --signatures=tag_ids export "
                             f"takes wordpiece ids; tag with the model directory or a full export)")
        self.batch_size = batch_size

    def _call(self, name: str, **inputs) -> dict:
        return {key: value.numpy() for key, value in self.loaded.signatures[name](**inputs).items()}

    def _tag_word_batch(self, batch: list[list[str]]) -> list[dict]:
        width = max(len(words) for words in batch)
        padded = np.array([list(words) + [""] * (width - len(words)) for words in batch], dtype=object)
        outputs = self._call("tag_words", words=tf.constant(padded.reshape(len(batch), width), tf.string),
                             num_words=tf.constant([len(words) for words in batch], tf.int32))
        return output_rows(outputs)

    def tag_words(self, sentences: list[list[str]]) -> list[dict[str, list[str]]]:
        return tag_in_batches(sentences, self.batch_size, self._tag_word_batch)

    def tag_text(self, sentences: list[str | bytes]) -> list[dict[str, list]]:
        return tag_in_batches([as_bytes(s) for s in sentences], self.batch_size, lambda batch: output_rows(
            self._call("serving_default", sentences=tf.constant(batch, tf.string)), batch))
