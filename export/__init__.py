"""Exporters: SavedModel for TF Serving, TFLite for edge devices, parity checks.

tf-models-official is built on tf-keras (Keras 2), so the legacy Keras switch
must be set before TensorFlow is imported anywhere in the process.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
