"""Student encoders: MiniBERT (Tsai et al. 2019) and a BiLSTM (XtremeDistil), plus SVD embeddings.

Both students use the teacher's vocabulary or their own (`--student_vocab`) and return the same
outputs as `BertEncoderV2` (`sequence_output`, `encoder_outputs`), so the
same task heads, losses and exporters serve either.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras

from tagger.models.encoders import bert_config
from tagger.errors import UserError


def minibert_config(vocab_size: int, num_layers: int = 3, hidden_size: int = 256, num_attention_heads: int = 4,
                    intermediate_size: int = 1024, max_position_embeddings: int = 512,
                    embedding_width: int | None = None) -> dict:
    """MiniBERT: 3 layers, hidden 256, 4 heads, intermediate 1024 (Tsai et al. App. A.2)."""
    return bert_config(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers,
                       num_attention_heads=num_attention_heads, intermediate_size=intermediate_size,
                       max_position_embeddings=max_position_embeddings, embedding_width=embedding_width)


def bilstm_config(vocab_size: int, embedding_width: int = 300, lstm_units: int = 600,
                  dropout_rate: float = 0.1) -> dict:
    """XtremeDistil's student: word-piece embeddings and one BiLSTM layer."""
    return dict(type="bilstm", vocab_size=vocab_size, embedding_width=embedding_width,
                lstm_units=lstm_units, dropout_rate=dropout_rate)


class BiLSTMEncoder(tf_keras.layers.Layer):
    """Embeddings -> one bidirectional LSTM; output width is 2 x lstm_units."""

    def __init__(self, vocab_size: int, embedding_width: int, lstm_units: int, dropout_rate: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self._config = bilstm_config(vocab_size, embedding_width, lstm_units, dropout_rate)
        self.word_embeddings = tf_keras.layers.Embedding(vocab_size, embedding_width, name="word_embeddings")
        self.dropout = tf_keras.layers.Dropout(dropout_rate)
        self.bilstm = tf_keras.layers.Bidirectional(
            tf_keras.layers.LSTM(lstm_units, return_sequences=True), name="bilstm")

    @classmethod
    def from_config(cls, config):
        config = {k: v for k, v in config.items() if k != "type"}
        layer = cls(**config)
        dummy = tf.zeros([1, 2], tf.int32)
        layer(dict(input_word_ids=dummy, input_mask=tf.ones_like(dummy), input_type_ids=dummy))
        return layer

    def get_config(self):
        return dict(self._config)

    def get_embedding_table(self):
        return self.word_embeddings.embeddings

    def call(self, inputs, training=False):
        embedded = inputs.get("input_word_embeddings")  # looked up by the caller, as BertEncoderV2 allows
        if embedded is None:
            embedded = self.word_embeddings(inputs["input_word_ids"])
        embedded = self.dropout(embedded, training=training)
        mask = tf.cast(inputs["input_mask"], tf.bool)
        sequence = self.bilstm(embedded, mask=mask, training=training)
        return {"sequence_output": sequence, "encoder_outputs": [sequence]}


def svd_embeddings(teacher_table: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Best rank-`width` factorisation of the teacher's word embeddings (XtremeDistil §4.1).

    Returns `(reduced [vocab, width], basis [width, teacher_dim])` with
    `reduced @ basis` the projection of every row onto the top-`width`
    right-singular subspace. Computed from the small Gram matrix, so a
    119k x 768 table takes a second, not minutes.
    """
    table = np.asarray(teacher_table, np.float64)
    if width > min(table.shape):
        raise UserError(f"SVD width {width} exceeds the teacher embedding size {table.shape}")
    eigenvalues, eigenvectors = np.linalg.eigh(table.T @ table)
    order = np.argsort(eigenvalues)[::-1][:width]
    basis = eigenvectors[:, order].T  # [width, teacher_dim], orthonormal rows
    return (table @ basis.T).astype(np.float32), basis.astype(np.float32)


def init_from_teacher_embeddings(student_encoder, teacher_encoder, rows: np.ndarray | None = None) -> None:
    """Sets the student's word embeddings to the SVD-reduced teacher table.

    The student's embedding width (its hidden size, or `embedding_width` for a factorised table)
    picks the number of singular directions kept. A student with its own vocabulary passes `rows`
    `[student vocab, teacher width]` (teacher rows per student piece, distill/student_vocab.py):
    they are projected on the same directions of the whole teacher table.
    """
    student_table = student_encoder.get_embedding_table()
    teacher_table = teacher_encoder.get_embedding_table().numpy()
    width = int(student_table.shape[1])
    if rows is None:
        if student_table.shape[0] != teacher_table.shape[0]:
            raise UserError(f"student vocabulary ({student_table.shape[0]}) differs from the teacher's "
                             f"({teacher_table.shape[0]}) and no mapping of its rows was given")
        reduced, _ = svd_embeddings(teacher_table, width)
    else:
        _, basis = svd_embeddings(teacher_table, width)
        reduced = (np.asarray(rows, np.float32) @ basis.T).astype(np.float32)
    student_table.assign(reduced)
