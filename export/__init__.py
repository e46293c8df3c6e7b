"""Exporters: SavedModel for TF Serving, TFLite for edge devices, parity checks.

Importing `tagger` first sets the environment TensorFlow needs (legacy Keras, quiet CUDA probe).
"""
import tagger  # noqa: F401
