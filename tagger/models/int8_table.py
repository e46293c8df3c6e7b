"""A word-embedding table stored as int8 rows, one scale per row, for the TFLite export.

TFLite's dynamic-range quantization gives a GATHER table a single scale for all its entries,
so the few rows with large values set the step for all 250k rows of an e5 table. On the e5 UD
teacher that alone cost 0.16 points of UFeats agreement with the checkpoint, and 0.18 on its
student (BENCHMARKS.md §8). One scale per row keeps each row's own range for 4 bytes a row
(float32: TFLite's GATHER has no float16 kernel), and the graph stays builtins: GATHER, CAST, MUL.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def quantize_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`[rows, width]` float -> (int8 `[rows, width]`, float32 scales `[rows, 1]`), symmetric per row:
    row ≈ int8 * scale, with every entry within half a step of its own row's scale."""
    table = np.asarray(table, np.float32)
    peak = np.abs(table).max(axis=1, keepdims=True)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    values = np.clip(np.rint(table / scales), -127, 127).astype(np.int8)
    return values, scales


class Int8RowTable(tf.Module):
    """`lookup(ids int32 [...]) -> float32 [..., width]`: the dequantized rows of the table."""

    def __init__(self, table: np.ndarray, name: str = "int8_word_embeddings"):
        super().__init__(name=name)
        values, scales = quantize_rows(table)
        self.values = tf.constant(values)
        self.scales = tf.constant(scales)

    def lookup(self, ids: tf.Tensor) -> tf.Tensor:
        return tf.cast(tf.gather(self.values, ids), tf.float32) * tf.gather(self.scales, ids)

