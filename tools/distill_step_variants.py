"""The distillation step variants bench_distill times, and the check that they keep the baseline's semantics.

Each variant is one tsai2019 'soft' step (teacher forward, student forward, backward, clip, AdamW)
built a different way; see tools/bench_distill.py for what each one changes.
"""
from __future__ import annotations

from tools import benchlib as B

VARIANTS = ("baseline", "jit", "jit_teacher", "dense_grads", "jit_student", "student_only", "frozen_embeddings")
SEMANTICS_PRESERVING = ("baseline", "jit", "jit_teacher", "dense_grads", "jit_student")


def fixed_batch(vocab_size: int, batch_size: int, length: int, seed: int = 0) -> dict:
    """Full windows of random wordpieces: [CLS] ... [SEP], every position real."""
    import numpy as np
    import tensorflow as tf
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab_size, size=(batch_size, length)).astype(np.int32)
    piece_mask = np.ones((batch_size, length), np.int32)
    piece_mask[:, 0] = piece_mask[:, -1] = 0
    return {"input_word_ids": tf.constant(ids), "input_mask": tf.ones([batch_size, length], tf.int32),
            "piece_mask": tf.constant(piece_mask)}


def make_step(variant: str, distiller, strategy, batch: dict, training: bool = True, total_steps: int = 1000,
              learning_rate: float = 1e-4):
    """A zero-argument callable running one step of `variant`; returns the loss."""
    import tensorflow as tf
    from tagger.distill import losses
    from tagger.training import create_optimizer, make_train_step
    student, teacher = distiller.student, distiller.teacher
    with strategy.scope():
        optimizer = create_optimizer(learning_rate, total_steps, warmup_fraction=0.0)
    table = student.encoder.get_embedding_table()
    variables = [v for v in student.trainable_variables
                 if not (variant == "frozen_embeddings" and v is table)]

    def iterator_step(loss_fn, **options):
        # As in training: the step takes next() of a distributed dataset inside the tf.function.
        step = make_train_step(strategy, optimizer, loss_fn, lambda: variables, **options)
        iterator = iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch).repeat()))
        return lambda: step(iterator)["loss"].numpy()

    def teacher_logits(b):
        return {task: tf.stop_gradient(v) for task, v in teacher(b, training=False).items()}

    def student_loss(targets):
        """Distiller.stage_loss('soft') with the teacher's logits given."""
        def loss_fn(b):
            logits = student(b, training=training)
            return {f"soft_{task}": losses.soft_cross_entropy(targets[task], logits[task], distiller.temperature,
                                                              b["piece_mask"])
                    for task in logits}
        return loss_fn

    if variant in ("baseline", "jit", "dense_grads", "frozen_embeddings"):
        return iterator_step(lambda b: distiller.stage_loss("soft", b, training=training),
                             jit_compile=variant == "jit", dense_gradients=variant == "dense_grads")
    if variant == "jit_teacher":
        compiled_teacher = tf.function(teacher_logits, jit_compile=True)
        return iterator_step(lambda b: student_loss(compiled_teacher(b))(b))
    if variant == "student_only":
        return iterator_step(student_loss(teacher_logits(batch)))

    # jit_student: the teacher in plain TF, then the student's loss, backward pass and update under XLA.
    def student_part(b, targets):
        with tf.GradientTape() as tape:
            total = tf.add_n(list(student_loss(targets)(b).values()))
        gradients = tape.gradient(total, variables)
        gradients, _ = tf.clip_by_global_norm(gradients, 1.0)
        optimizer.apply_gradients(zip(gradients, variables))
        return total

    compiled = tf.function(student_part, jit_compile=True)

    @tf.function
    def step(b):
        return strategy.run(lambda x: compiled(x, teacher_logits(x)), args=(b,))
    return lambda: step(batch).numpy()


def check_equivalence(strategy, temperature: float, variants: list[str], steps: int = 3) -> dict:
    """Largest |weight difference| to baseline after `steps` steps from the same start, dropout off, tiny models."""
    import numpy as np
    from tagger.distill.recipes import Distiller
    from tagger.models.build import build_encoder
    from tagger.models.encoders import bert_config
    from tagger.models.tagger import Tagger
    labels = {"upos": B.UPOS_LABELS}
    with strategy.scope():
        teacher = Tagger(build_encoder(bert_config(500, 32, 2, 2, 64)), labels).build_variables()
        student = Tagger(build_encoder(bert_config(500, 16, 1, 2, 32)), labels).build_variables()
    distiller = Distiller(teacher, student, strategy, work_dir="", temperature=temperature)
    batch = fixed_batch(500, 4, 12, seed=1)
    initial = student.get_weights()
    results, reference = {}, None
    for variant in [v for v in SEMANTICS_PRESERVING if v in variants or v == "baseline"]:
        student.set_weights(initial)
        step = make_step(variant, distiller, strategy, batch, training=False, total_steps=10, learning_rate=1e-2)
        for _ in range(steps):
            step()
        weights = student.get_weights()
        if reference is None:
            reference = weights
        moved = max(float(np.max(np.abs(w - w0))) for w, w0 in zip(weights, initial))
        diff = max(float(np.max(np.abs(w - r))) for w, r in zip(weights, reference))
        results[variant] = {"max_abs_diff_to_baseline": diff, "max_abs_update": moved}
    student.set_weights(initial)
    return {"steps": steps, "models": "teacher 2L/32H, student 1L/16H, vocab 500, batch 4 x 12, dropout off",
            "variants": results}
