"""Distillation losses, each averaged over the positions where `mask` is 1.

- `soft_cross_entropy`: Tsai et al. 2019, L(t, s) = H(softmax(t/T), softmax(s/T)) per wordpiece.
- `top_k_soft_cross_entropy`: the same against a teacher kept as its top-k logits
  (distill/teacher_cache), renormalised over those k classes.
- `logit_mse`: XtremeDistil eq. 4, 1/2 ||r_s - logit_t||^2 per token.
- `representation_loss`: XtremeDistil eq. 6 between the GELU-projected student
  hidden state and teacher layer l: KL(softmax(z_t) || softmax(z_s)) over the
  hidden dimension ('kld'), or the mean squared error ('mse').
"""
from __future__ import annotations

import tensorflow as tf

from tagger.training import masked_mean


def soft_cross_entropy(teacher_logits: tf.Tensor, student_logits: tf.Tensor, temperature: float,
                       mask: tf.Tensor) -> tf.Tensor:
    """Cross-entropy of the student's tempered distribution against the teacher's."""
    teacher = tf.nn.softmax(tf.cast(teacher_logits, tf.float32) / temperature, axis=-1)
    student_log = tf.nn.log_softmax(tf.cast(student_logits, tf.float32) / temperature, axis=-1)
    return masked_mean(-tf.reduce_sum(teacher * student_log, axis=-1), mask)


def top_k_soft_cross_entropy(top_values: tf.Tensor, top_ids: tf.Tensor, student_logits: tf.Tensor,
                             temperature: float, mask: tf.Tensor) -> tf.Tensor:
    """H(softmax(t_topk/T), softmax(s/T)): the student's full softmax, read at the teacher's k ids.

    With k equal to the number of classes it is exactly `soft_cross_entropy`.
    """
    teacher = tf.nn.softmax(tf.cast(top_values, tf.float32) / temperature, axis=-1)
    student_log = tf.nn.log_softmax(tf.cast(student_logits, tf.float32) / temperature, axis=-1)
    # [windows, length, k] per piece, or [words, k] per word: gather along every leading axis
    top_ids = tf.cast(top_ids, tf.int32)
    picked = tf.gather(student_log, top_ids, batch_dims=top_ids.shape.rank - 1)
    return masked_mean(-tf.reduce_sum(teacher * picked, axis=-1), mask)


def logit_mse(teacher_logits: tf.Tensor, student_logits: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Half the squared L2 distance between logit vectors, per token."""
    difference = tf.cast(student_logits, tf.float32) - tf.cast(teacher_logits, tf.float32)
    return masked_mean(0.5 * tf.reduce_sum(tf.square(difference), axis=-1), mask)


def representation_loss(projected_student: tf.Tensor, teacher_hidden: tf.Tensor, mask: tf.Tensor,
                        kind: str = "kld") -> tf.Tensor:
    """Distance between the projected student state and the teacher's layer-l state, per token."""
    student = tf.cast(projected_student, tf.float32)
    teacher = tf.cast(teacher_hidden, tf.float32)
    if kind == "mse":
        return masked_mean(tf.reduce_mean(tf.square(student - teacher), axis=-1), mask)
    if kind == "kld":
        teacher_log = tf.nn.log_softmax(teacher, axis=-1)
        student_log = tf.nn.log_softmax(student, axis=-1)
        return masked_mean(tf.reduce_sum(tf.exp(teacher_log) * (teacher_log - student_log), axis=-1), mask)
    raise ValueError(f"representation loss must be 'kld' or 'mse', not {kind!r}")
