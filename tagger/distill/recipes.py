"""Distillation recipes as a list of stages run by one resumable driver.

  tsai2019      soft cross-entropy at T on unlabeled text (all wordpieces, or each word's first
                piece at word level), then labels
  xtremedistil  (1) representation loss to teacher layer l through a GELU projection,
                (2) logit MSE on unlabeled text, (3) cross-entropy on labels; each stage
                unfreezes one layer group at a time from the top down and keeps the
                weights with the best dev loss
  labels_only   the same student trained on labels only, with the same step budget
  labels_kd     labels_only's steps, each adding soft cross-entropy at T against the teacher's top-k
                at every labelled word (distill/label_targets.py), weighted by `labels_soft_weight`

Each (stage, unfreezing step) trains in its own checkpoint directory and
leaves a `done.json` when finished, so a killed run resumes mid-stage and
never repeats a finished sub-stage.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Callable

import numpy as np
import tensorflow as tf
import tf_keras

from tagger.data import word_transfer
from tagger.distill import label_targets, losses, teacher_cache
from tagger.distill.distill_data import DistillData
from tagger.models.tagger import Tagger, write_json_atomic
from tagger.training import TrainState, chief_directory, create_optimizer, dropout_generators, tagging_loss, train
from tagger.errors import UserError

RECIPES = ("tsai2019", "xtremedistil", "labels_only", "labels_kd")


@dataclasses.dataclass
class Stage:
    name: str
    loss: str            # 'soft', 'representation', 'logits' or 'labels'
    steps: int
    batch_size: int
    learning_rate: float
    unfreeze: bool       # gradual unfreezing, top group first
    keep_best: bool      # restore the weights with the best dev loss at the end of each step


def stages_for(recipe: str, distill_steps: int, finetune_steps: int, distill_batch_size: int,
               finetune_batch_size: int, distill_learning_rate: float, finetune_learning_rate: float,
               gradual_unfreezing: bool = True) -> list[Stage]:
    if recipe == "tsai2019":
        return [Stage("soft_logits", "soft", distill_steps, distill_batch_size, distill_learning_rate, False, False),
                Stage("labels", "labels", finetune_steps, finetune_batch_size, finetune_learning_rate, False, False)]
    if recipe == "xtremedistil":
        unfreeze = gradual_unfreezing
        half = max(distill_steps // 2, 1)
        return [Stage("representation", "representation", half, distill_batch_size, distill_learning_rate,
                      unfreeze, True),
                Stage("logits", "logits", max(distill_steps - half, 1), distill_batch_size, distill_learning_rate,
                      unfreeze, True),
                Stage("labels", "labels", finetune_steps, finetune_batch_size, finetune_learning_rate, unfreeze, True)]
    if recipe in ("labels_only", "labels_kd"):
        # Same step budget; a student trained from scratch wants the from-scratch learning rate.
        return [Stage("labels", "labels" if recipe == "labels_only" else "labels_soft",
                      distill_steps + finetune_steps, finetune_batch_size, distill_learning_rate, False, False)]
    raise UserError(f"unknown recipe {recipe!r}; expected one of {', '.join(RECIPES)}")


class Projection(tf_keras.layers.Layer):
    """Student hidden state -> GELU(W h + b) in the teacher's hidden size (XtremeDistil eq. 5)."""

    def __init__(self, teacher_hidden_size: int, **kwargs):
        super().__init__(**kwargs)
        self.dense = tf_keras.layers.Dense(teacher_hidden_size, dtype="float32",
                                           activation=lambda x: tf_keras.activations.gelu(x, approximate=False))

    def call(self, hidden):
        return self.dense(tf.cast(hidden, tf.float32))


def layer_groups(student: Tagger, projection: Projection | None, stage_loss: str) -> list[tuple[str, list]]:
    """Trainable groups from the top down: output layer, encoder layers (top first), embeddings."""
    encoder = student.encoder
    top = [("projection", projection.trainable_variables)] if stage_loss == "representation" else \
        [("heads", [v for head in student.heads.values() for v in head.trainable_variables])]
    if hasattr(encoder, "transformer_layers"):
        blocks = [(f"layer_{i}", block.trainable_variables) for i, block in enumerate(encoder.transformer_layers)]
    else:
        blocks = [("bilstm", encoder.bilstm.trainable_variables)]
    in_blocks = {v.ref() for _, block in blocks for v in block}
    embeddings = [v for v in encoder.trainable_variables if v.ref() not in in_blocks]
    return top + list(reversed(blocks)) + [("embeddings", embeddings)]


class Distiller:
    """Runs a recipe's stages for a student against a frozen teacher."""

    def __init__(self, teacher: Tagger, student: Tagger, strategy: tf.distribute.Strategy, work_dir: str, *,
                 temperature: float = 3.0, teacher_layer: int = 0, representation_kind: str = "kld",
                 seed: int = 0, checkpoint_every: int = 200, summary_dir: str | None = None,
                 freeze_word_embeddings: bool = False, labels_soft_weight: float = 0.5):
        """`freeze_word_embeddings` keeps the student's word-embedding table as initialised (SVD of the
        teacher's) in every stage, so words the transfer text never shows stay in the teacher's space.
        `labels_soft_weight` is the soft targets' share of the labels_kd loss (the labels get the rest)."""
        if not 0.0 <= labels_soft_weight <= 1.0:
            raise UserError(f"--labels_soft_weight={labels_soft_weight}: expected a weight in [0, 1]")
        self.labels_soft_weight = labels_soft_weight
        self.teacher, self.student, self.strategy = teacher, student, strategy
        self.frozen = {student.encoder.get_embedding_table().ref()} if freeze_word_embeddings else set()
        self.work_dir, self.temperature, self.seed = work_dir, temperature, seed
        self.representation_kind, self.checkpoint_every, self.summary_dir = representation_kind, checkpoint_every, \
            summary_dir
        teacher.trainable = False
        self._dev_steps: dict[str, Callable] = {}
        dummy = {"input_word_ids": tf.zeros([1, 2], tf.int32), "input_mask": tf.ones([1, 2], tf.int32)}
        teacher_hidden = teacher(dummy, return_hidden=True)[1]
        if teacher_layer <= 0:  # auto: layer 7 of 12 (XtremeDistil), scaled to the teacher's depth
            teacher_layer = max(1, round(7 * len(teacher_hidden) / 12))
        if not 1 <= teacher_layer <= len(teacher_hidden):
            raise UserError(f"--teacher_layer={teacher_layer}: the teacher has layers 1..{len(teacher_hidden)}")
        self.teacher_layer = teacher_layer
        with strategy.scope():
            self.projection = Projection(int(teacher_hidden[teacher_layer - 1].shape[-1]))
            # Call, not build(): Layer.build would leave the inner Dense without variables, so the
            # projection group of gradual unfreezing would be empty (and never trained).
            self.projection(tf.zeros([1, 1, int(student(dummy, return_hidden=True)[1][-1].shape[-1])]))

    # -- losses -------------------------------------------------------------------

    def stage_loss(self, kind: str, batch: dict, training: bool = True) -> dict[str, tf.Tensor]:
        if kind == "labels":
            return tagging_loss(batch, self.student(batch, training=training))
        if kind == "labels_soft":  # labelled windows carrying the teacher's top-k at each word
            logits = self.student(batch, training=training)
            hard = 1.0 - self.labels_soft_weight
            mask = batch[label_targets.WORD_MASK]
            result = {task: hard * value for task, value in tagging_loss(batch, logits).items()}
            result.update({f"soft_{task}": self.labels_soft_weight * losses.top_k_soft_cross_entropy(
                batch[teacher_cache.values_key(task)], batch[teacher_cache.ids_key(task)], logits[task],
                self.temperature, mask) for task in logits})
            return result
        word_level = "word_mask" in batch  # word_transfer batches: both models at each word's first piece
        student_rows = (lambda v: word_transfer.per_word(v, batch)) if word_level else (lambda v: v)
        teacher_rows = (lambda v: word_transfer.per_word(v, batch, teacher=True)) if word_level else (lambda v: v)
        if word_level:
            mask = tf.ones(tf.reduce_sum(batch["word_mask"])[tf.newaxis], tf.float32)
        else:
            mask = batch["piece_mask"]
        # The heads run on the compared rows only (Tagger.call's `rows`).
        student_at = student_rows if word_level else None
        if kind == "soft_cached":  # the batch carries the teacher's top-k logits (teacher_cache)
            student_logits = self.student(batch, training=training, rows=student_at)
            return {f"soft_{task}": losses.top_k_soft_cross_entropy(
                batch[teacher_cache.values_key(task)], batch[teacher_cache.ids_key(task)],
                student_logits[task], self.temperature, mask) for task in student_logits}
        teacher_logits, teacher_hidden = self.teacher(word_transfer.teacher_inputs(batch) if word_level else batch,
                                                      training=False, return_hidden=True,
                                                      rows=teacher_rows if word_level else None)
        teacher_logits = {task: tf.stop_gradient(v) for task, v in teacher_logits.items()}
        if kind == "representation":
            _, student_hidden = self.student(batch, training=training, return_hidden=True)
            projected = self.projection(student_rows(student_hidden[-1]))
            target = tf.stop_gradient(teacher_rows(teacher_hidden[self.teacher_layer - 1]))
            return {"representation": losses.representation_loss(projected, target, mask, self.representation_kind)}
        student_logits = self.student(batch, training=training, rows=student_at)
        if kind == "soft":
            return {f"soft_{task}": losses.soft_cross_entropy(teacher_logits[task], student_logits[task],
                                                              self.temperature, mask)
                    for task in student_logits}
        if kind == "logits":
            return {f"mse_{task}": losses.logit_mse(teacher_logits[task], student_logits[task], mask)
                    for task in student_logits}
        raise ValueError(f"unknown loss {kind!r}")

    def dev_loss(self, kind: str, dev_batches: tf.data.Dataset) -> float:
        """Mean stage loss over the dev batches (teacher targets for unlabeled losses)."""
        if kind not in self._dev_steps:  # one trace per loss kind; batch shapes vary
            self._dev_steps[kind] = tf.function(
                lambda batch: tf.add_n(list(self.stage_loss(kind, batch, training=False).values())),
                reduce_retracing=True)
        step = self._dev_steps[kind]
        values = [float(step(batch)) for batch in dev_batches]
        return float(np.mean(values)) if values else float("inf")

    # -- weights between sub-stages -----------------------------------------------

    def _weights(self) -> tf.train.Checkpoint:
        # The dropout RNG state travels with the weights, so a sub-stage that starts after a
        # restored ("already done") one draws the same masks as in an uninterrupted run.
        with self.strategy.scope():
            dropout_rng = dropout_generators(self.student)
        return tf.train.Checkpoint(model=self.student, projection=self.projection, dropout_rng=dropout_rng)

    def save_weights(self, prefix: str) -> str:
        return self._weights().write(prefix)

    def restore_weights(self, path: str) -> None:
        self._weights().read(path).assert_existing_objects_matched()

    # -- driver -------------------------------------------------------------------

    def run(self, stages: list[Stage], data: DistillData, log: Callable[[str], None] = print) -> list[dict]:
        records = []
        for stage in stages:
            groups = layer_groups(self.student, self.projection, stage.loss)
            schedule = [groups[:k + 1] for k in range(len(groups))] if stage.unfreeze else [groups]
            steps_each = max(stage.steps // len(schedule), 1)
            best: dict | None = None
            for k, unfrozen in enumerate(schedule):
                name = f"{k}-{unfrozen[-1][0]}" if stage.unfreeze else "all"
                directory = os.path.join(self.work_dir, stage.name, name)
                done_file = os.path.join(directory, "done.json")
                chief_done = chief_directory(self.strategy, done_file)  # every worker skips what the chief did
                if os.path.exists(chief_done):
                    with open(chief_done, encoding="utf-8") as f:
                        record = json.load(f)
                    self.restore_weights(record["weights_after"])
                    best = record.get("best")
                    records.append(record)
                    log(f"[{stage.name}/{name}] already done (dev loss {record['dev_loss']})")
                    continue
                variables = [v for _, group in unfrozen for v in group if v.ref() not in self.frozen]
                self._train(stage, directory, variables, data, steps_each, description=f"{stage.name}/{name}")
                scored_as = "labels" if stage.loss == "labels_soft" else stage.loss  # dev has labels only
                dev_batches = data.dev_for(scored_as)
                dev = self.dev_loss(scored_as, dev_batches) if dev_batches is not None else None
                weights_after = self.save_weights(os.path.join(directory, "weights"))
                if stage.keep_best and dev is not None:
                    if best is None or dev <= best["dev_loss"]:
                        best = {"dev_loss": dev, "weights": weights_after}
                    else:
                        self.restore_weights(best["weights"])
                        weights_after = best["weights"]
                record = {"stage": stage.name, "step": name, "trained": [g for g, _ in unfrozen],
                          "steps": steps_each, "dev_loss": dev, "best": best, "weights_after": weights_after}
                write_json_atomic(done_file, record)
                records.append(record)
                log(f"[{stage.name}/{name}] dev loss {dev}" + (f" (best {best['dev_loss']:.4f})" if best else ""))
            if stage.keep_best and best:
                self.restore_weights(best["weights"])
        return records

    def _train(self, stage: Stage, directory: str, variables: list, data: DistillData, steps: int,
               description: str) -> None:
        make = data.labeled_fn if stage.loss in ("labels", "labels_soft") else data.unlabeled_fn
        loss = stage.loss
        if stage.loss == "soft" and data.soft_fn:  # the teacher's cached top-k instead of the live teacher
            make, loss = data.soft_fn, "soft_cached"
        with self.strategy.scope():
            optimizer = create_optimizer(stage.learning_rate, steps)
            step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        train(TrainState(directory, self.student, optimizer, step, extra={"projection": self.projection}),
              self.strategy, lambda context: make(stage.batch_size, context),
              lambda batch: self.stage_loss(loss, batch), steps, variables=lambda: variables,
              checkpoint_every=self.checkpoint_every, summary_dir=self.summary_dir, description=description)
