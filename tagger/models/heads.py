"""Task heads: a dense softmax layer, or one through a low-rank bottleneck for label sets in the
thousands.

A UFeats head over 6,899 bundles on a 256-wide student is 1.77M parameters, more than half of
the three encoder layers, and it runs on every word. Rank 64 makes it 256 x 64 + 64 x 6,899 =
458k, 3.9x fewer, as two dense layers so that TFLite's dynamic-range quantization still covers
both matrices.
"""
from __future__ import annotations

import tf_keras

INIT_STDDEV = 0.02


def _initializer():
    return tf_keras.initializers.TruncatedNormal(stddev=INIT_STDDEV)


class LowRankHead(tf_keras.layers.Layer):
    """`[..., hidden] -> [..., rank] -> [..., units]` logits: no bias and no nonlinearity in the
    bottleneck, so it is a rank-`rank` factorisation of a dense head."""

    def __init__(self, units: int, rank: int, **kwargs):
        super().__init__(**kwargs)
        if rank < 1:
            raise ValueError(f"head rank must be >= 1, got {rank}")
        self.units, self.rank = units, rank
        self.down = tf_keras.layers.Dense(rank, use_bias=False, name="down", kernel_initializer=_initializer())
        self.up = tf_keras.layers.Dense(units, name="up", kernel_initializer=_initializer())

    def call(self, features):
        return self.up(self.down(features))


def task_head(task: str, num_labels: int, rank: int | None = None) -> tf_keras.layers.Layer:
    """The head for `task`: dense when `rank` is None, else low-rank."""
    if rank is None:
        return tf_keras.layers.Dense(num_labels, name=f"{task}_head", dtype="float32",
                                     kernel_initializer=_initializer())
    return LowRankHead(num_labels, rank, name=f"{task}_head", dtype="float32")


def parse_head_ranks(specs: list[str] | None, tasks: list[str]) -> dict[str, int]:
    """`["ufeats:64"]` -> `{"ufeats": 64}`; every task named must be one of `tasks`."""
    ranks = {}
    for spec in specs or []:
        task, _, rank = spec.partition(":")
        if task not in tasks:
            raise ValueError(f"head rank {spec!r}: no task {task!r} (tasks: {', '.join(tasks)})")
        if not rank.isdigit() or int(rank) < 1:
            raise ValueError(f"head rank {spec!r}: expected task:rank with rank >= 1, e.g. ufeats:64")
        ranks[task] = int(rank)
    return ranks
