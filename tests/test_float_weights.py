"""export/float_weights.py: weight groups of a dynamic_int8 model put back in float32."""
from __future__ import annotations

import os
import shutil

import pytest
from tensorflow.lite.python import schema_py_generated as schema

from export.float_weights import (BATCH_MATMUL, FULLY_CONNECTED, GATHER, builtin_code, keep_in_float, quantized_weights,
                                  read_model, restore_float, select)
from export.tflite import convert, export_tflite
from tagger.errors import UserError
from tagger.models.tagger import read_config
from tagger.runtime.tflite import TFLiteTagger
from tagger.serving import load_module

TEXTS = ["Anna works in Berlin .", "The cats sat on the mat and looked at the dogs ."]


@pytest.fixture(scope="module")
def conversions(sample_tagger_dir):
    """TFLite's own table quantization (no per-row table): float32 and dynamic_int8 of one module."""
    module = load_module(sample_tagger_dir)
    return convert(module, "float32")[0], convert(module, "dynamic_int8")[0]


def tag_bytes(data: bytes, directory: str, name: str):
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(data)
    return TFLiteTagger(path).tag_text(TEXTS)


def matrix_types(data: bytes) -> list[tuple[tuple[int, ...], int]]:
    """(shape, tensor type) of the weight input of every FULLY_CONNECTED / BATCH_MATMUL."""
    model = read_model(data)
    graph, found = model.subgraphs[0], []
    for op in graph.operators:
        if builtin_code(model, op) in (FULLY_CONNECTED, BATCH_MATMUL):
            tensor = graph.tensors[op.inputs[1]]
            if model.buffers[tensor.buffer].data is not None:
                found.append((tuple(int(d) for d in tensor.shape), tensor.type))
    return found


def test_restoring_every_weight_gives_the_float_model(sample_tagger_dir, conversions, tmp_path):
    """The flatbuffer edit is exact: with the table and every matrix back in float32, the int8 model
    tags like the float32 one."""
    float_bytes, int8_bytes = conversions
    float_model = read_model(float_bytes)
    weights = quantized_weights(read_model(int8_bytes), float_model)
    sizes = {len(labels) for labels in read_config(sample_tagger_dir)["tasks"].values()}
    # Heads under 1,024 weights are not quantized by TFLite at all: the 133-bundle UFeats head is.
    assert len(select("table", weights, sizes, 0)) == 1 and 1 <= len(select("heads", weights, sizes, 0)) <= len(sizes)
    everything = select("table", weights, sizes, 0) + select("weights", weights, sizes, 0)
    assert len(everything) == len(weights)
    restored = restore_float(int8_bytes, float_model, everything)
    assert tag_bytes(restored, str(tmp_path), "restored.tflite") == tag_bytes(float_bytes, str(tmp_path), "f.tflite")


def test_keep_in_float_takes_each_weight_once(sample_tagger_dir, conversions):
    float_bytes, int8_bytes = conversions
    config = read_config(sample_tagger_dir)
    sizes = {len(labels) for labels in config["tasks"].values()}
    intermediate = config["encoder"]["intermediate_size"]
    _, count = keep_in_float(int8_bytes, float_bytes, ["ffn_out", "last:1", "ffn_out"], sizes, intermediate)
    weights = quantized_weights(read_model(int8_bytes), read_model(float_bytes))
    assert count == len({w["q"] for w in select("ffn_out", weights, sizes, intermediate) +
                         select("last:1", weights, sizes, intermediate)})


def test_export_keeps_the_feed_forward_outputs_in_float(sample_tagger_dir, sample_exports, tmp_path):
    """`--float_weights=ffn_out`: the per-row int8 table stays, every matrix that reads the
    intermediate width is float32, every other quantized matrix int8; the model tags every word."""
    model_dir = str(tmp_path / "model")
    shutil.copytree(sample_tagger_dir, model_dir, ignore=shutil.ignore_patterns("export"))
    path = export_tflite(model_dir, "dynamic_int8", float_weights=["ffn_out"], verbose=False)
    intermediate = read_config(model_dir)["encoder"]["intermediate_size"]
    with open(path, "rb") as f:
        exported = f.read()
    mixed = matrix_types(exported)
    with open(sample_exports["dynamic_int8"], "rb") as f:
        plain = matrix_types(f.read())
    assert [shape for shape, _ in mixed] == [shape for shape, _ in plain]
    ffn_out = [kind for shape, kind in mixed if shape[-1] == intermediate]
    assert ffn_out and set(ffn_out) == {schema.TensorType.FLOAT32}
    assert {kind for shape, kind in plain if shape[-1] == intermediate} == {schema.TensorType.INT8}
    assert schema.TensorType.INT8 in {kind for shape, kind in mixed if shape[-1] != intermediate}
    model = read_model(exported)
    gathers = [op for op in model.subgraphs[0].operators if builtin_code(model, op) == GATHER
               and model.subgraphs[0].tensors[op.inputs[0]].type == schema.TensorType.INT8]
    assert gathers, "the per-row int8 word table is gone"
    rows = TFLiteTagger(path).tag_text(TEXTS)
    assert [len(row["words"]) for row in rows] == [len(t.split()) for t in TEXTS]
    assert all(len(row["upos"]) == len(row["words"]) for row in rows)


def test_float_weights_only_for_dynamic_int8(sample_tagger_dir):
    with pytest.raises(UserError, match="--float_weights applies to --quantize=dynamic_int8, not float32"):
        export_tflite(sample_tagger_dir, "float32", float_weights=["ffn_out"], verbose=False)
