"""The custom training loop shared by finetune and every distillation stage.

It is preemption-safe: the checkpoint holds the model, optimizer, step (which
is also the data position of the deterministic input pipeline) and the
dropout RNG state, written by CheckpointManager (write-then-rename), so a job
killed at any point and rerun resumes exactly where its last checkpoint left it.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable

import tensorflow as tf
import tf_keras
from official.common import distribute_utils
from official.nlp import optimization

from tagger.data.labels import IGNORE_ID


def setup_run(seed: int, mixed_precision: bool, distribution_strategy: str = "one_device",
              num_gpus: int | None = None, tpu: str | None = None) -> tf.distribute.Strategy:
    """Seeds, dropout RNG as checkpointable tf.random.Generator state, precision policy, strategy."""
    tf_keras.utils.set_random_seed(seed)
    tf_keras.backend.experimental.enable_tf_random_generator()
    if num_gpus is None:
        num_gpus = len(tf.config.list_physical_devices("GPU"))
    if mixed_precision:
        tf_keras.mixed_precision.set_global_policy("mixed_float16" if num_gpus else "mixed_bfloat16")
    return distribute_utils.get_distribution_strategy(
        distribution_strategy=distribution_strategy, num_gpus=num_gpus, tpu_address=tpu)


def create_optimizer(learning_rate: float, total_steps: int, warmup_fraction: float = 0.1):
    """AdamW with linear warm-up and linear decay (Model Garden's BERT optimizer)."""
    optimizer = optimization.create_optimizer(learning_rate, max(total_steps, 1),
                                              int(total_steps * warmup_fraction), optimizer_type="adamw")
    if tf_keras.mixed_precision.global_policy().name == "mixed_float16":
        optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer


def masked_cross_entropy(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Mean cross-entropy over positions whose label is not IGNORE_ID (0 if there are none)."""
    mask = tf.cast(labels != IGNORE_ID, tf.float32)
    losses = tf_keras.losses.sparse_categorical_crossentropy(
        tf.maximum(labels, 0), tf.cast(logits, tf.float32), from_logits=True)
    return tf.reduce_sum(losses * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def tagging_loss(batch: dict, logits: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Per-task masked cross-entropy; a task the batch carries no labels for adds 0."""
    return {task: masked_cross_entropy(batch[task], value) for task, value in logits.items() if task in batch}


@dataclasses.dataclass
class TrainState:
    """What one training job checkpoints, under `directory`."""
    directory: str
    model: tf_keras.Model
    optimizer: tf_keras.optimizers.Optimizer
    step: tf.Variable
    extra: dict = dataclasses.field(default_factory=dict)


def train(state: TrainState, strategy: tf.distribute.Strategy,
          dataset_fn: Callable[[tf.distribute.InputContext], tf.data.Dataset],
          loss_fn: Callable[[dict], dict[str, tf.Tensor]], total_steps: int,
          variables: Callable[[], list[tf.Variable]] | None = None,
          checkpoint_every: int = 200, log_every: int = 20, description: str = "train",
          summary_dir: str | None = None, max_to_keep: int = 2, verbose: bool = True) -> dict[str, float]:
    """Runs `total_steps` steps of `loss_fn` (summed losses are minimised), resuming if possible.

    `loss_fn(batch)` runs inside the replica and returns named scalar losses.
    `variables()` picks the trainable subset (gradual unfreezing); default all.
    """
    checkpoint = tf.train.Checkpoint(model=state.model, optimizer=state.optimizer, step=state.step, **state.extra)
    manager = tf.train.CheckpointManager(checkpoint, state.directory, max_to_keep=max_to_keep,
                                         step_counter=state.step, checkpoint_interval=checkpoint_every)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        if verbose:
            print(f"[{description}] resumed from {manager.latest_checkpoint} at step {int(state.step.numpy())}")
    # Every pipeline is deterministic (seeded shuffles, ordered interleave), so the step counter is
    # the data position: skipping that many batches puts the input exactly where the run left it.
    # (tf.distribute's DistributedIterator is not checkpointable; this works for every strategy.)
    consumed = int(state.step.numpy())
    distributed = strategy.distribute_datasets_from_function(lambda context: dataset_fn(context).skip(consumed))
    iterator = iter(distributed)
    trainable = variables or (lambda: state.model.trainable_variables)
    replicas = strategy.num_replicas_in_sync

    def replica_step(batch):
        with tf.GradientTape() as tape:
            losses = loss_fn(batch)
            total = tf.add_n(list(losses.values()))
            scaled = total / replicas
            if isinstance(state.optimizer, tf_keras.mixed_precision.LossScaleOptimizer):
                scaled = state.optimizer.get_scaled_loss(scaled)
        train_vars = trainable()
        gradients = tape.gradient(scaled, train_vars)
        if isinstance(state.optimizer, tf_keras.mixed_precision.LossScaleOptimizer):
            gradients = state.optimizer.get_unscaled_gradients(gradients)
        gradients, _ = tf.clip_by_global_norm(gradients, 1.0)
        state.optimizer.apply_gradients(zip(gradients, train_vars))
        return {"loss": total, **losses}

    @tf.function
    def step_fn(iterator):
        per_replica = strategy.run(replica_step, args=(next(iterator),))
        return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                for name, value in per_replica.items()}

    writer = tf.summary.create_file_writer(summary_dir) if summary_dir else tf.summary.create_noop_writer()
    progress = None
    logged: dict[str, float] = {}
    with writer.as_default():
        while int(state.step.numpy()) < total_steps:
            values = step_fn(iterator)
            state.step.assign_add(1)
            step = int(state.step.numpy())
            manager.save(checkpoint_number=step, check_interval=True)
            if step % log_every == 0 or step == total_steps:
                logged = {name: float(value.numpy()) for name, value in values.items()}
                for name, value in logged.items():
                    tf.summary.scalar(f"{description}/{name}", value, step=step)
                learning_rate = getattr(state.optimizer, "learning_rate", None)
                if callable(learning_rate):
                    tf.summary.scalar(f"{description}/learning_rate", learning_rate(state.optimizer.iterations),
                                      step=step)
                if verbose:
                    if progress is None:  # shows ETA and the current (not averaged) losses
                        progress = tf_keras.utils.Progbar(total_steps, stateful_metrics=list(logged), unit_name="step")
                    progress.update(step, values=list(logged.items()))
    final = int(state.step.numpy())
    if not (manager.latest_checkpoint or "").endswith(f"-{final}"):
        manager.save(checkpoint_number=final, check_interval=False)
    return logged


def latest_step(directory: str) -> int:
    """Step number of the newest checkpoint in `directory` (0 if none)."""
    path = tf.train.latest_checkpoint(directory)
    return int(path.rsplit("-", 1)[1]) if path else 0


def ensure_dir(path: str) -> str:
    os.makedirs(path, exist_ok=True)
    return path
