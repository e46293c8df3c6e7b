"""Reads PyTorch `pytorch_model.bin` state dicts without torch and without running pickled code.

The zip's `data.pkl` is unpickled by a restricted unpickler that resolves only
the handful of globals a tensor state dict needs (tensor rebuild, storage
types, OrderedDict) to local stand-ins; anything else is refused. Tensor bytes
are read from the zip's `data/<key>` records into NumPy arrays.
"""
from __future__ import annotations

import collections
import pickle
import zipfile

import numpy as np

from tagger.errors import UserError

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str):
        self.name = name


def _rebuild_tensor(storage, offset, size, stride, *unused):
    # as_strided does no bounds checking: a crafted record would read (or crash on) memory past
    # the storage. Every element of the view must lie inside it.
    size, stride = tuple(size), tuple(stride)
    if not (isinstance(storage, np.ndarray) and len(size) == len(stride)
            and all(isinstance(v, int) and v >= 0 for v in (offset, *size, *stride))):
        raise UserError("malformed tensor record")
    if 0 in size:
        return np.zeros(size, storage.dtype)
    if offset + sum((n - 1) * s for n, s in zip(size, stride)) >= len(storage):
        raise UserError(f"a tensor of shape {size} (strides {stride}, offset {offset}) reads past its storage "
                         f"of {len(storage)} values")
    if not size:
        return storage[offset:offset + 1].reshape(())
    itemsize = storage.dtype.itemsize
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * itemsize for s in stride)).copy()


class _WeightsOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, path: str):
        super().__init__(file)
        self.archive, self.prefix, self.path = archive, prefix, path

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"{self.path}: refusing to load {module}.{name}: only tensor state dicts "
                                     f"are read (convert the checkpoint to model.safetensors)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"{self.path}: unexpected persistent id {pid!r}")
        _, storage_type, key, _location, _count = pid
        raw = self.archive.read(f"{self.prefix}data/{key}")
        dtype = _STORAGE_DTYPES[storage_type.name]
        if dtype == "bfloat16":  # upper half of a float32
            return (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        return np.frombuffer(raw, dtype)


def load_torch_bin(path: str) -> dict[str, np.ndarray]:
    """`{name: array}` from a zip-format `torch.save` state dict (PyTorch >= 1.6)."""
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path}: not a zip-format PyTorch checkpoint (legacy .bin files are not supported; "
                         f"convert to model.safetensors)")
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if not pickles:
            raise UserError(f"{path}: no data.pkl inside")
        prefix = pickles[0][:-len("data.pkl")]
        with archive.open(pickles[0]) as f:
            try:
                state = _WeightsOnlyUnpickler(f, archive, prefix, path).load()
            except ValueError as e:
                raise UserError(f"{path}: {e}") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: expected a state dict, found {type(state).__name__}")
    return {key: np.asarray(value) for key, value in state.items() if isinstance(value, np.ndarray)}
