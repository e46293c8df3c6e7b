"""Activation ranges for full_int8, measured by running the calibrated float model ourselves.

TFLite's calibrator (what `representative_dataset` drives) records ranges that are neither right
nor repeatable for the tagger's graph: on the same model and sentences, two calibrations in one
process disagree on most of the 122 ranged tensors of the toy tagger, and against a plain float run
they are both too narrow (an embedding LayerNorm mean of [-0.011, 0.006] where the sentences give
[-0.019, 0.016]) and too wide. So the calibrator only marks which tensors need a range; this module
runs the calibrated model (it is still float) with every intermediate tensor kept, takes each
tensor's min and max over all the sentences, and writes them into the flatbuffer before quantizing.
The result depends only on the model and the sentences.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
from tensorflow.lite.tools import flatbuffer_utils

from export.float_weights import read_model
from tagger.runtime.tflite import load_interpreter


def ranged_tensors(model) -> dict[int, str]:
    """`{tensor index: name}` of the main subgraph's tensors that carry a calibration min/max."""
    return {index: tensor.name.decode() for index, tensor in enumerate(model.subgraphs[0].tensors)
            if tensor.quantization is not None and tensor.quantization.min is not None
            and len(tensor.quantization.min) == 1}


def measure_ranges(calibrated: bytes, batches: Iterable[dict[str, np.ndarray]]) -> dict[int, tuple[float, float]]:
    """`{tensor index: (min, max)}` over every batch, from a run of `calibrated` that keeps all tensors.

    batches: the signature runner's keyword arguments, e.g. `{"sentences": np.array([b"..."], object)}`.
    Tensors that no batch filled (empty, or never computed) are left out.
    """
    wanted = ranged_tensors(read_model(calibrated))
    interpreter = load_interpreter(model_content=calibrated, preserve_all_tensors=True)
    names = {detail["index"]: detail["name"] for detail in interpreter.get_tensor_details()}
    mismatched = [index for index, name in wanted.items() if names.get(index) != name]
    if mismatched:  # the interpreter must number tensors as the flatbuffer does
        raise RuntimeError(f"calibration: {len(mismatched)} tensors are numbered differently by the interpreter")
    runner = interpreter.get_signature_runner()
    low: dict[int, float] = {}
    high: dict[int, float] = {}
    for batch in batches:
        runner(**batch)
        for index in wanted:
            try:
                values = interpreter.get_tensor(index)
            except ValueError:  # never allocated on this run
                continue
            if values.size:
                low[index] = min(low.get(index, np.inf), float(values.min()))
                high[index] = max(high.get(index, -np.inf), float(values.max()))
    return {index: (low[index], high[index]) for index in low}


def with_ranges(calibrated: bytes, ranges: dict[int, tuple[float, float]]) -> bytes:
    """`calibrated` with its per-tensor min/max replaced by `ranges` (others untouched)."""
    model = read_model(calibrated)
    tensors = model.subgraphs[0].tensors
    for index, (low, high) in ranges.items():
        tensors[index].quantization.min = [low]
        tensors[index].quantization.max = [high]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def recalibrate(calibrated: bytes, batches: Iterable[dict[str, np.ndarray]]) -> tuple[bytes, int]:
    """`calibrated` with measured ranges, and how many tensors got one."""
    ranges = measure_ranges(calibrated, batches)
    return with_ranges(calibrated, ranges), len(ranges)
