"""Random-init encoder of any type from its stored config: the one dispatch over encoder types."""
from __future__ import annotations

import tf_keras

from tagger.models.encoders import InitError, build_bert_encoder
from tagger.models.students import BiLSTMEncoder


def build_encoder(config: dict) -> tf_keras.layers.Layer:
    """BERT (teachers and MiniBERT) or the BiLSTM student, as `config["type"]` says."""
    if config["type"] == "bert":
        return build_bert_encoder(config)
    if config["type"] == "bilstm":
        return BiLSTMEncoder.from_config(config)
    raise InitError(f"unknown encoder type {config['type']!r}")
