"""AdamW whose sparse gradients update only the rows they touch.

Model Garden's AdamW applies an embedding table's IndexedSlices gradient densely: each step
decays the whole table's Adam moments and weight-decays the whole table, even when the batch
gathered a few thousand of its 250,002 rows. For multilingual-e5's 96M-entry table that pass over
three 384 MB arrays doubled a float32 step on CPU, which is why the UD teacher's flagfile freezes
the table. Here a sparse gradient reads, updates and writes back only its rows: their
moments, their Adam step, their weight decay (LazyAdam's semantics: a row's moments decay only
on the steps that use it). Every dense gradient, and so every other variable, is updated exactly
as by Model Garden's AdamW, and for a gradient that touches every row the two agree.
"""
from __future__ import annotations

import tensorflow as tf
from official.nlp import optimization


class RowSparseAdamW(optimization.AdamWeightDecay):
    """`optimization.AdamWeightDecay` with a row-wise `_resource_apply_sparse` (see the module docstring)."""

    @classmethod
    def like(cls, adamw: optimization.AdamWeightDecay) -> "RowSparseAdamW":
        """The same optimizer (schedule, betas, epsilon, decay and its exclusions, clipping), row-sparse."""
        if adamw.amsgrad:
            raise ValueError("RowSparseAdamW does not implement amsgrad")
        return cls(learning_rate=adamw._hyper["learning_rate"], beta_1=adamw._hyper["beta_1"],
                   beta_2=adamw._hyper["beta_2"], epsilon=adamw.epsilon, weight_decay_rate=adamw.weight_decay_rate,
                   include_in_weight_decay=adamw._include_in_weight_decay,
                   exclude_from_weight_decay=adamw._exclude_from_weight_decay,
                   gradient_clip_norm=adamw.gradient_clip_norm, name=adamw._name)

    def _resource_apply_sparse(self, grad, var, indices, apply_state=None):
        """grad: [n, ...] rows of `var` at `indices` [n], already free of duplicates (Keras sums them first)."""
        key = (var.device, var.dtype.base_dtype)
        coefficients = (apply_state or {}).get(key) or self._fallback_apply_state(*key)
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        m_rows = coefficients["beta_1_t"] * tf.gather(m, indices) + coefficients["one_minus_beta_1_t"] * grad
        v_rows = coefficients["beta_2_t"] * tf.gather(v, indices) + coefficients["one_minus_beta_2_t"] * grad * grad
        rows = tf.gather(var, indices)
        if self._do_use_weight_decay(var.name):  # AdamW decays first, at the schedule's rate (no bias correction)
            rows = rows - coefficients["lr_t"] * rows * coefficients["weight_decay_rate"]
        rows = rows - coefficients["lr"] * m_rows / (tf.sqrt(v_rows) + coefficients["epsilon"])
        return tf.group(self._resource_scatter_update(m, indices, m_rows),
                        self._resource_scatter_update(v, indices, v_rows),
                        self._resource_scatter_update(var, indices, rows))
