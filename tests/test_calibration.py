"""export/calibration.py on a two-op graph whose activation ranges are known by hand."""
import numpy as np
import pytest

import export  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf

from export.calibration import measure_ranges, ranged_tensors, recalibrate
from export.float_weights import read_model

# x @ [[2, -1], [0.5, 1]] on these rows gives [3, 1], [-0.5, 4], [1.25, 0]; then relu, then 3y - 1.
BATCHES = [np.array([[1.0, 2.0]], np.float32), np.array([[-1.0, 3.0], [0.5, 0.5]], np.float32)]
# {tensor name: (min, max)} over both batches, and over the first one alone
EXPECTED = {"serving_default_x:0": (-1.0, 3.0), "MatMul;Relu": (0.0, 4.0), "mul": (0.0, 12.0),
            "StatefulPartitionedCall:0": (-1.0, 11.0)}
EXPECTED_FIRST = {"serving_default_x:0": (1.0, 2.0), "MatMul;Relu": (1.0, 3.0), "mul": (3.0, 9.0),
                  "StatefulPartitionedCall:0": (2.0, 8.0)}


class TwoOps(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable([[2.0, -1.0], [0.5, 1.0]])

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def serve(self, x):
        return {"out": tf.nn.relu(tf.matmul(x, self.w)) * 3.0 - 1.0}


@pytest.fixture(scope="module")
def calibrated() -> bytes:
    """The graph through TFLite's calibrator: float ops, tensors marked with (its own) ranges."""
    module = TwoOps()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.serve.get_concrete_function()], module)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ({"x": batch} for batch in BATCHES)
    converter._experimental_calibrate_only = True
    return converter.convert()


def named_ranges(model: bytes, ranges: dict) -> dict:
    names = ranged_tensors(read_model(model))
    return {names[index]: value for index, value in ranges.items()}


def test_measured_ranges_are_the_values_seen(calibrated):
    ranges = named_ranges(calibrated, measure_ranges(calibrated, ({"x": b} for b in BATCHES)))
    assert ranges == EXPECTED


def test_recalibrate_writes_them_into_the_model(calibrated):
    updated, count = recalibrate(calibrated, ({"x": b} for b in BATCHES[:1]))
    model = read_model(updated)
    tensors = model.subgraphs[0].tensors
    written = {name: (tensors[i].quantization.min[0], tensors[i].quantization.max[0])
               for i, name in ranged_tensors(model).items()}
    assert count == 4 and written == EXPECTED_FIRST
    # the rewritten model still runs as the float graph
    assert named_ranges(updated, measure_ranges(updated, ({"x": b} for b in BATCHES))) == EXPECTED
