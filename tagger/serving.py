"""The serving graph: tokenizer + tagger + label strings in one `tf.Module`.

One module serves the SavedModel (three signatures) and the TFLite model (one
text-in signature), so every artifact decodes exactly the way the checkpoint
does (`tagger.inference.WordTagger`): the first wordpiece of each word, argmax
over its task logits, and the label string looked up in a constant.

Signatures (see ARCHITECTURE.md "Export contract"):
  serving_default(sentences: string[batch])
      -> words, <task>, upos_second_best: string[batch, max_words];
         num_words: int32[batch]; word_starts, word_ends: int32[batch, max_words]
         (byte offsets of each word in its sentence)
  tag_words(words: string[batch, max_words], num_words: int32[batch])
      -> words, <task>, upos_second_best: string[batch, max_words]; num_words
  tag_ids(input_word_ids, input_mask, input_type_ids: int32[windows, length])
      -> <task>_logits: float32[windows, length, labels]   (no custom ops)
  tflite_text(sentences: string[batch])   (the TFLite model's `serving_default`)
      -> <task>_ids: int32 and <task>: string [batch, max_words]; num_words;
         word_starts, word_ends; upos_second_best(_ids)
         Words are not cut in-graph: TFLite has no builtin for tf.strings.substr,
         so callers cut them with the byte offsets.

Positions beyond a sentence's `num_words` hold "" (strings) or -1 (ids, offsets).
`upos_second_best` is the second-ranked UPOS label, for Tsai et al. (2019) §4.5:
on code-mixed text, use it wherever `upos` is "X".
"""
from __future__ import annotations

import tensorflow as tf

from tagger.data.tokenizer import PieceTokenizer
from tagger.inference import word_logits
from tagger.models.int8_table import Int8RowTable
from tagger.models.tagger import load_model_dir

SENTENCES_SPEC = tf.TensorSpec([None], tf.string, name="sentences")
WORDS_SPEC = tf.TensorSpec([None, None], tf.string, name="words")
NUM_WORDS_SPEC = tf.TensorSpec([None], tf.int32, name="num_words")
IDS_SPECS = [tf.TensorSpec([None, None], tf.int32, name=name)
             for name in ("input_word_ids", "input_mask", "input_type_ids")]
SECOND_BEST_TASK = "upos"


def flat_to_dense(flat: tf.Tensor, num_words: tf.Tensor, pad) -> tf.Tensor:
    """Per-word values `[sum(num_words), ...]` to `[batch, max(num_words), ...]`, padded with `pad`.

    Written with gather/where only (TFLite builtins). `pad` must have `flat`'s dtype.
    """
    num_words = tf.cast(num_words, tf.int32)
    max_words = tf.reduce_max(tf.concat([num_words, [0]], axis=0))
    column = tf.range(max_words)[tf.newaxis, :]
    first = tf.math.cumsum(num_words, exclusive=True)
    index = tf.where(column < num_words[:, tf.newaxis], first[:, tf.newaxis] + column, tf.shape(flat)[0])
    padding = tf.fill(tf.concat([[1], tf.shape(flat)[1:]], axis=0), tf.constant(pad, flat.dtype))
    return tf.gather(tf.concat([flat, padding], axis=0), index)


class TaggerModule(tf.Module):
    """Wraps (model, tokenizer, label lists); its tf.functions are the export signatures."""

    def __init__(self, model, tokenizer: PieceTokenizer, label_lists: dict[str, list[str]],
                 name: str = "tagger", int8_word_table: bool = False):
        """`int8_word_table`: look words up in an int8 copy of the table, one scale per row
        (models/int8_table.py), for the TFLite export; the SavedModel keeps the float table."""
        super().__init__(name=name)
        self.model = model
        # Both encoder kinds (BertEncoderV2, the BiLSTM) take `input_word_embeddings` in place of their lookup.
        self.word_table = Int8RowTable(model.encoder.get_embedding_table().numpy()) if int8_word_table else None
        self.tokenizer = tokenizer
        self.tasks = list(label_lists)
        self.label_lists = {task: list(labels) for task, labels in label_lists.items()}
        # One extra "" label: the id padded positions point at.
        self.label_tables = {task: tf.constant(list(labels) + [""], tf.string)
                             for task, labels in label_lists.items()}
        self.serving_default = tf.function(self._serving_default, input_signature=[SENTENCES_SPEC])
        self.tag_words = tf.function(self._tag_words, input_signature=[WORDS_SPEC, NUM_WORDS_SPEC])
        self.tag_ids = tf.function(self._tag_ids, input_signature=IDS_SPECS)
        self.tflite_text = tf.function(self._tflite_text, input_signature=[SENTENCES_SPEC])

    def signatures(self, names=("serving_default", "tag_words", "tag_ids")) -> dict:
        """The SavedModel signatures' concrete functions (the TFLite function is not one of them)."""
        return {name: getattr(self, name).get_concrete_function() for name in names}

    # -- shared pieces -----------------------------------------------------

    def _word_ids(self, features: dict) -> dict[str, tf.Tensor]:
        """Flat per-word best label ids per task, plus the UPOS runner-up."""
        if self.word_table is not None:
            features = dict(features, input_word_embeddings=self.word_table.lookup(features["input_word_ids"]))
        logits = word_logits(self.model, features)
        ids = {}
        for task in self.tasks:
            task_logits = logits[task]
            if task == SECOND_BEST_TASK and len(self.label_lists[task]) > 1:
                top = tf.math.top_k(task_logits, k=2).indices
                ids[task] = tf.cast(top[:, 0], tf.int32)
                ids[task + "_second_best"] = tf.cast(top[:, 1], tf.int32)
            else:
                ids[task] = tf.argmax(task_logits, axis=-1, output_type=tf.int32)
        return ids

    def _dense_tags(self, flat_ids: dict, num_words: tf.Tensor, with_ids: bool) -> dict[str, tf.Tensor]:
        outputs = {}
        for name, flat in flat_ids.items():
            task = name.removesuffix("_second_best")
            table = self.label_tables[task]
            dense = flat_to_dense(flat, num_words, len(self.label_lists[task]))  # pad -> the "" label
            outputs[name] = tf.gather(table, dense)
            if with_ids:
                valid = dense < len(self.label_lists[task])
                outputs[name + "_ids"] = tf.where(valid, dense, -1)
        return outputs

    # -- signatures --------------------------------------------------------

    def _text_outputs(self, sentences: tf.Tensor, with_ids: bool) -> dict[str, tf.Tensor]:
        features = self.tokenizer.encode_text(sentences)
        num_words = features["num_words"]
        outputs = self._dense_tags(self._word_ids(features), num_words, with_ids)
        outputs["num_words"] = num_words
        outputs["word_starts"] = flat_to_dense(features["word_starts"], num_words, -1)
        outputs["word_ends"] = flat_to_dense(features["word_ends"], num_words, -1)
        return outputs

    def _serving_default(self, sentences):
        outputs = self._text_outputs(sentences, with_ids=False)
        starts, ends = outputs["word_starts"], outputs["word_ends"]
        batch_sentences = tf.broadcast_to(sentences[:, tf.newaxis], tf.shape(starts))
        outputs["words"] = tf.strings.substr(batch_sentences, tf.maximum(starts, 0), tf.maximum(ends - starts, 0),
                                             unit="BYTE")
        return outputs

    def _tflite_text(self, sentences):
        return self._text_outputs(sentences, with_ids=True)

    def _tag_words(self, words, num_words):
        num_words = tf.clip_by_value(tf.cast(num_words, tf.int32), 0, tf.shape(words)[1])
        ragged = tf.RaggedTensor.from_tensor(words, lengths=num_words, row_splits_dtype=tf.int32)
        features = self.tokenizer.encode_words(ragged)
        outputs = self._dense_tags(self._word_ids(features), num_words, with_ids=False)
        outputs["words"] = flat_to_dense(ragged.flat_values, num_words, "")
        outputs["num_words"] = num_words
        return outputs

    def _tag_ids(self, input_word_ids, input_mask, input_type_ids):
        logits = self.model(dict(input_word_ids=input_word_ids, input_mask=input_mask,
                                 input_type_ids=input_type_ids), training=False)
        return {f"{task}_logits": tf.cast(logits[task], tf.float32) for task in self.tasks}


def load_module(model_dir: str, checkpoint: str | None = None, int8_word_table: bool = False) -> TaggerModule:
    """The serving module for a model directory's latest (or given) checkpoint."""
    model, tokenizer, config = load_model_dir(model_dir, checkpoint)
    return TaggerModule(model, tokenizer, config["tasks"], int8_word_table=int8_word_table)
