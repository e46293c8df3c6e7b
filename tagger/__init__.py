"""Distil multilingual BERT into small, fast sequence taggers.

tf-models-official is built on tf-keras (Keras 2), so the legacy Keras switch
must be set before TensorFlow is imported anywhere in the process. On a machine
without an NVIDIA device, TensorFlow's CUDA probe prints `failed call to cuInit`
(a C++ error-level log) on every start; there the C++ log level hides it too.
Set TF_CPP_MIN_LOG_LEVEL yourself to see every C++ message.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_HAS_NVIDIA_DEVICE = any(os.path.exists(path) for path in ("/dev/nvidiactl", "/dev/nvidia0"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if _HAS_NVIDIA_DEVICE else "3")
