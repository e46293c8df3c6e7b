"""The custom training loop shared by finetune and every distillation stage.

It is preemption-safe: the checkpoint holds the model, optimizer, step (which
is also the data position of the deterministic input pipeline) and the
dropout RNG state, written by CheckpointManager (write-then-rename), so a job
killed at any point and rerun resumes exactly where its last checkpoint left it.
"""
from __future__ import annotations

import dataclasses
import glob
import os
import shutil
from typing import Callable

import tensorflow as tf
import tf_keras
from official.common import distribute_utils
from official.nlp import optimization
from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
from tensorflow.python.distribute import multi_worker_util
from tensorflow.python.eager import context

from tagger.data.labels import IGNORE_ID
from tagger.row_sparse_adamw import RowSparseAdamW


def setup_run(seed: int, mixed_precision: bool, distribution_strategy: str = "one_device",
              num_gpus: int | None = None, tpu: str | None = None) -> tf.distribute.Strategy:
    """Seeds, dropout RNG as checkpointable tf.random.Generator state, precision policy, strategy."""
    tf_keras.utils.set_random_seed(seed)
    tf_keras.backend.experimental.enable_tf_random_generator()
    if num_gpus is None:
        num_gpus = len(tf.config.list_physical_devices("GPU"))
    if mixed_precision:
        tf_keras.mixed_precision.set_global_policy("mixed_float16" if num_gpus else "mixed_bfloat16")
    if distribution_strategy == "multi_worker_mirrored":
        configure_worker_heartbeat()
    return distribute_utils.get_distribution_strategy(
        distribution_strategy=distribution_strategy, num_gpus=num_gpus, tpu_address=tpu)


WORKER_HEARTBEAT_TIMEOUT_S = 60


def configure_worker_heartbeat(timeout_s: int = WORKER_HEARTBEAT_TIMEOUT_S) -> None:
    """The MWMS coordination service, as MWMS would set it up, but with a longer heartbeat timeout.

    TF's default declares a worker dead after 10 s without a heartbeat, which two busy workers on
    two CPU cores can miss: the job then fails with "heartbeat timeout" though nobody died. A worker
    that really dies is still found at once, by the broken connections of the next all-reduce.
    """
    cluster = tf.distribute.cluster_resolver.TFConfigClusterResolver().cluster_spec()
    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=cluster.num_tasks(job))
            for job in ("chief", "worker") if job in cluster.jobs]
    if jobs and context.context().coordination_service is None:
        context.context().configure_coordination_service(
            service_type="standalone", service_leader=multi_worker_util.coordination_leader(cluster),
            coordinated_jobs=jobs, heartbeat_timeout_in_ms=timeout_s * 1000)


def worker_model_dir(strategy: tf.distribute.Strategy, model_dir: str) -> str:
    """Where this process writes: `model_dir` for the chief (and any single-worker strategy).

    Under multi_worker_mirrored every worker runs the whole program. As the TF guide for
    MWMS checkpointing prescribes, only the chief writes the real directory; another worker
    writes `<model_dir>/workers/<task_type>_<task_id>`, so no two processes write one file.
    That directory persists (not a temp dir), so each worker resumes at the chief's step.
    """
    if strategy.extended.should_checkpoint:
        return model_dir
    resolver = strategy.cluster_resolver
    return os.path.join(model_dir, "workers", f"{resolver.task_type}_{resolver.task_id}")


def chief_directory(strategy: tf.distribute.Strategy, path: str) -> str:
    """The chief's copy of `path`, a path under this worker's directory (`worker_model_dir`).

    A job restarted after one worker died resumes every worker from the chief's checkpoints and
    finished sub-stages: the dead worker's own directory may lag the chief's by a save, and workers
    that resume at different steps would wait on each other's collectives for ever.
    """
    if strategy.extended.should_checkpoint or strategy.cluster_resolver is None:
        return path
    resolver = strategy.cluster_resolver
    head, found, tail = path.partition(os.sep + os.path.join("workers", f"{resolver.task_type}_{resolver.task_id}"))
    return head + tail if found else path


def create_optimizer(learning_rate: float, total_steps: int, warmup_fraction: float = 0.1,
                     row_sparse: bool = False):
    """AdamW with linear warm-up and linear decay (Model Garden's BERT optimizer).

    `row_sparse` applies sparse gradients (the word-embedding table's) to their rows only
    (`RowSparseAdamW`); dense gradients are unaffected.
    """
    optimizer = optimization.create_optimizer(learning_rate, max(total_steps, 1),
                                              int(total_steps * warmup_fraction), optimizer_type="adamw")
    if row_sparse:
        optimizer = RowSparseAdamW.like(optimizer)
    if tf_keras.mixed_precision.global_policy().name == "mixed_float16":
        optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer


def masked_mean(per_position: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean of `per_position` where `mask` is set (0 where it is set nowhere)."""
    mask = tf.cast(mask, tf.float32)
    return tf.reduce_sum(per_position * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def masked_cross_entropy(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Mean cross-entropy over positions whose label is not IGNORE_ID (0 if there are none)."""
    losses = tf_keras.losses.sparse_categorical_crossentropy(
        tf.maximum(labels, 0), tf.cast(logits, tf.float32), from_logits=True)
    return masked_mean(losses, labels != IGNORE_ID)


def tagging_loss(batch: dict, logits: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Per-task masked cross-entropy; a task the batch carries no labels for adds 0."""
    return {task: masked_cross_entropy(batch[task], value) for task, value in logits.items() if task in batch}


def dropout_generators(model: tf_keras.Model) -> list[tf.random.Generator]:
    """The dropout RNG state of `model`: each random layer's tf.random.Generator, in a stable order.

    tf-keras keeps these generators out of checkpoints on purpose (BaseRandomLayer excludes
    `_random_generator` from checkpoint dependencies), so they must be added explicitly, or a
    resumed run draws fresh dropout masks and drifts from an uninterrupted one. Call it under
    the strategy's scope: a layer not built yet gets its generator now.
    """
    generators = []
    for module in model.submodules:  # tf.Module order: attributes sorted by name, depth first
        random_generator = getattr(module, "_random_generator", None)
        if random_generator is None or not hasattr(random_generator, "_maybe_init"):
            continue
        random_generator._maybe_init()
        generator = getattr(random_generator, "_generator", None)
        if isinstance(generator, tf.random.Generator) and all(generator is not g for g in generators):
            generators.append(generator)
    return generators


@dataclasses.dataclass
class TrainState:
    """What one training job checkpoints, under `directory`."""
    directory: str
    model: tf_keras.Model
    optimizer: tf_keras.optimizers.Optimizer
    step: tf.Variable
    extra: dict = dataclasses.field(default_factory=dict)


def make_train_step(strategy: tf.distribute.Strategy, optimizer: tf_keras.optimizers.Optimizer,
                    loss_fn: Callable[[dict], dict[str, tf.Tensor]], variables: Callable[[], list[tf.Variable]],
                    jit_compile: bool = False, dense_gradients: bool = False):
    """`step_fn(iterator) -> {"loss", **losses}` (means over replicas): one optimizer step on `next(iterator)`.

    Gradients are clipped to global norm 1 and applied to `variables()`. `train` uses it with
    the defaults; the options exist for tools/bench_distill.py, which times them against it
    (and checks they give the same weights):
      jit_compile      compiles each replica's step with XLA. XLA compiles one program per
                       input shape, so it pays only with a few fixed batch shapes (the
                       pipelines pad each batch to its own longest window: many shapes).
      dense_gradients  makes sparse (IndexedSlices) gradients, e.g. of the word-embedding
                       table, dense before clipping, so AdamW takes its dense kernel.
    """
    replicas = strategy.num_replicas_in_sync

    def replica_step(batch):
        with tf.GradientTape() as tape:
            losses = loss_fn(batch)
            total = tf.add_n(list(losses.values()))
            scaled = total / replicas
            if isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer):
                scaled = optimizer.get_scaled_loss(scaled)
        train_vars = variables()
        gradients = tape.gradient(scaled, train_vars)
        if isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer):
            gradients = optimizer.get_unscaled_gradients(gradients)
        if dense_gradients:
            gradients = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in gradients]
        gradients, _ = tf.clip_by_global_norm(gradients, 1.0)
        optimizer.apply_gradients(zip(gradients, train_vars))
        return {"loss": total, **losses}

    replica_fn = tf.function(replica_step, jit_compile=True) if jit_compile else replica_step

    @tf.function
    def step_fn(iterator):
        per_replica = strategy.run(replica_fn, args=(next(iterator),))
        return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                for name, value in per_replica.items()}

    return step_fn


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
    # A save killed half-way leaves its `ckpt-N_temp/` behind, never referenced and never removed
    # by CheckpointManager (a whole checkpoint's size each time); only this job writes here.
    for stale in glob.glob(os.path.join(glob.escape(state.directory), "*_temp*")):
        if os.path.isdir(stale):
            shutil.rmtree(stale, ignore_errors=True)
    with strategy.scope():
        dropout_rng = dropout_generators(state.model)
    checkpoint = tf.train.Checkpoint(model=state.model, optimizer=state.optimizer, step=state.step,
                                     dropout_rng=dropout_rng, **state.extra)
    manager = tf.train.CheckpointManager(checkpoint, state.directory, max_to_keep=max_to_keep,
                                         step_counter=state.step, checkpoint_interval=checkpoint_every)
    latest = tf.train.latest_checkpoint(chief_directory(strategy, state.directory))
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
        if verbose:
            print(f"[{description}] resumed from {latest} at step {int(state.step.numpy())}")
    # Every pipeline is deterministic (seeded shuffles, ordered interleave), so the step counter is
    # the data position: skipping that many batches puts the input exactly where the run left it.
    # (tf.distribute's DistributedIterator is not checkpointable; this works for every strategy.)
    consumed = int(state.step.numpy())
    distributed = strategy.distribute_datasets_from_function(lambda context: dataset_fn(context).skip(consumed))
    iterator = iter(distributed)
    step_fn = make_train_step(strategy, state.optimizer, loss_fn,
                              variables or (lambda: state.model.trainable_variables))

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
