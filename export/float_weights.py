"""Keeps chosen weight groups of a dynamic-range int8 TFLite model in float32.

A hybrid FULLY_CONNECTED quantizes its input per row on the fly. Where that input has outliers, as
the GELU output that a feed-forward's second matrix reads does, the int8 error concentrates there.
Converting the same module twice, float32 and dynamic_int8, gives two graphs that are the same op for
op, so each int8 weight tensor has a float twin; putting a group's twins back costs 3 bytes per
weight and leaves the rest of the model int8. Groups:

  table      the word-embedding table, where TFLite quantized it (GATHER)
  weights    every matrix of a FULLY_CONNECTED / BATCH_MATMUL (the whole encoder and the heads)
  heads      matrices with as many rows as a task has labels
  ffn_out    matrices that read the feed-forward's intermediate width
  first:N / last:N   the first / last N matrices of the encoder, in execution order

Used by `export.tflite --float_weights` and by tools/int8_sensitivity.py.
"""
from __future__ import annotations

import re

from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

GATHER, DEQUANTIZE, FULLY_CONNECTED, BATCH_MATMUL = 36, 6, 9, 126
GROUP = r"table|weights|heads|ffn_out|(first|last):[1-9][0-9]*"
GROUP_NAMES = "table, weights, heads, ffn_out, first:N, last:N (N >= 1)"


def valid_group(group: str) -> bool:
    return re.fullmatch(GROUP, group) is not None


def read_model(data: bytes):
    """The object form of a TFLite flatbuffer (`schema.ModelT`)."""
    return flatbuffer_utils.read_model_from_bytearray(bytearray(data))


def builtin_code(model, op) -> int:
    """The builtin operator code of `op` (old models keep it in the deprecated field)."""
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def quantized_weights(int8_model, float_model) -> list[dict]:
    """Each int8 constant of the int8 graph whose twin in the float graph is float32:
    `{op, q, f, code, shape}`. The int8 graph equals the float one plus DEQUANTIZE ops after int8
    GATHERs, skipped here. A table the module quantized itself (int8 in both graphs) is not listed."""
    q_ops, f_ops = int8_model.subgraphs[0].operators, float_model.subgraphs[0].operators
    q_tensors, f_tensors = int8_model.subgraphs[0].tensors, float_model.subgraphs[0].tensors
    weights, j = [], 0
    for i, q_op in enumerate(q_ops):
        if j < len(f_ops) and builtin_code(int8_model, q_op) == builtin_code(float_model, f_ops[j]):
            for q, f in zip(q_op.inputs, f_ops[j].inputs):
                tensor = q_tensors[q] if q >= 0 else None
                if tensor is not None and tensor.type == schema.TensorType.INT8 \
                        and int8_model.buffers[tensor.buffer].data is not None \
                        and f_tensors[f].type == schema.TensorType.FLOAT32:
                    weights.append(dict(op=i, q=q, f=f, code=builtin_code(int8_model, q_op),
                                        shape=tuple(int(d) for d in tensor.shape)))
            j += 1
        elif builtin_code(int8_model, q_op) != DEQUANTIZE:
            raise ValueError(f"op {i}: the int8 graph differs from the float one beyond DEQUANTIZE ops")
    if j != len(f_ops):
        raise ValueError("the int8 graph is missing ops of the float one")
    return weights


def restore_float(int8_bytes: bytes, float_model, selected: list[dict]) -> bytes:
    """The int8 flatbuffer with the `selected` weights replaced by their float32 twins."""
    model = read_model(int8_bytes)
    graph, float_graph = model.subgraphs[0], float_model.subgraphs[0]
    dropped = set()
    for weight in selected:
        buffer = schema.BufferT()
        buffer.data = float_model.buffers[float_graph.tensors[weight["f"]].buffer].data
        model.buffers.append(buffer)
        tensor = graph.tensors[weight["q"]]
        tensor.buffer, tensor.type, tensor.quantization = len(model.buffers) - 1, schema.TensorType.FLOAT32, None
        if weight["code"] == GATHER:  # its int8 rows fed a DEQUANTIZE: make them float, bypass that op
            rows = graph.operators[weight["op"]].outputs[0]
            graph.tensors[rows].type, graph.tensors[rows].quantization = schema.TensorType.FLOAT32, None
            for k, op in enumerate(graph.operators):
                if rows in list(op.inputs) and builtin_code(model, op) == DEQUANTIZE:
                    dropped.add(k)
                    for other in graph.operators:
                        other.inputs = [rows if x == op.outputs[0] else x for x in other.inputs]
    graph.operators = [op for k, op in enumerate(graph.operators) if k not in dropped]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def select(group: str, weights: list[dict], label_sizes: set[int], intermediate: int) -> list[dict]:
    """The weights of one group. Heads are the matrices with a task's label count as rows."""
    matrices = [w for w in weights if w["code"] != GATHER]
    heads = [w for w in matrices if w["shape"][0] in label_sizes]
    encoder = [w for w in matrices if w not in heads]
    kind, _, count = group.partition(":")
    chosen = {"table": [w for w in weights if w["code"] == GATHER], "weights": matrices, "heads": heads,
              "ffn_out": [w for w in encoder if w["shape"][-1] == intermediate],
              "first": encoder[:int(count or 0)], "last": encoder[len(encoder) - int(count or 0):]}.get(kind)
    if chosen is None:
        raise ValueError(f"unknown group {group!r}: use one of {GROUP_NAMES}")
    return chosen


def keep_in_float(int8_bytes: bytes, float_bytes: bytes, groups: list[str], label_sizes: set[int],
                  intermediate: int) -> tuple[bytes, int]:
    """`int8_bytes` with every weight of `groups` back in float32, and how many tensors that was."""
    float_model = read_model(float_bytes)
    weights = quantized_weights(read_model(int8_bytes), float_model)
    selected = []
    for group in groups:
        selected += [w for w in select(group, weights, label_sizes, intermediate) if w not in selected]
    return restore_float(int8_bytes, float_model, selected), len(selected)
