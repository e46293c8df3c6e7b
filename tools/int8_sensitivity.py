"""Which weights cost a dynamic-range int8 TFLite model its agreement with the checkpoint.

  python tools/int8_sensitivity.py --model_dir=runs/e5_ud --data='../shared/data/ud_split/*/*-dev.conllu' \
    --every=8 --groups=table,weights,heads,ffn_out,last:18 --output_dir=runs/e5_ud_sensitivity

Converts the model twice with TFLite's own quantization (one scale for the word table, the way
`export.tflite` did before it kept the table itself, per row): float32 and dynamic_int8. The two
graphs are the same op for op, so each int8 weight tensor has a float twin. For every group it
writes the int8 model with that group's weights put back in float32, then runs `export.verify` on
all of them at once (every `--every`-th sentence of `--data`; the report goes to --output_dir). The
group whose restoring lifts the agreement most is where the quantization error comes from. Groups:

  table      the word-embedding table (GATHER)
  weights    every matrix of a FULLY_CONNECTED / BATCH_MATMUL (the whole encoder and the heads)
  heads      matrices with as many rows as a task has labels
  ffn_out    matrices that read the feed-forward's intermediate width
  first:N / last:N   the first / last N matrices of the encoder, in execution order
"""
from __future__ import annotations

import os
import re
import sys
import tempfile

if __package__ in (None, ""):  # run as `python tools/int8_sensitivity.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tools  # noqa: F401,E402  (TF_USE_LEGACY_KERAS before TensorFlow)
from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
GATHER, DEQUANTIZE = 36, 6
GROUP = r"table|weights|heads|ffn_out|(first|last):[1-9][0-9]*"


def define_flags():
    flags.DEFINE_string("model_dir", None, "A tagger model directory.")
    flags.DEFINE_string("data", None, "Comma-separated globs of labelled files to verify on.")
    flags.DEFINE_integer("every", 1, "Verify on every N-th sentence of --data.")
    flags.DEFINE_list("groups", ["table", "weights", "heads", "ffn_out", "last:18"], "Weight groups (see above).")
    flags.DEFINE_string("output_dir", None, "Where the variants and verify.json go; default: a temporary directory.")
    flags.mark_flags_as_required(["model_dir", "data"])
    flags.register_validator("groups", lambda groups: all(re.fullmatch(GROUP, g) for g in groups),
                             "--groups: each one of table, weights, heads, ffn_out, first:N, last:N (N >= 1)")


def _code(model, op) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def quantized_weights(int8_model, float_model) -> list[dict]:
    """Each int8 constant input of the int8 graph with its float twin: `{op, q, f, code, shape}`.
    The int8 graph equals the float one plus DEQUANTIZE ops after int8 GATHERs, skipped here."""
    from tensorflow.lite.python import schema_py_generated as schema
    q_ops, f_ops = int8_model.subgraphs[0].operators, float_model.subgraphs[0].operators
    q_tensors = int8_model.subgraphs[0].tensors
    weights, j = [], 0
    for i, q_op in enumerate(q_ops):
        if j < len(f_ops) and _code(int8_model, q_op) == _code(float_model, f_ops[j]):
            for q, f in zip(q_op.inputs, f_ops[j].inputs):
                tensor = q_tensors[q] if q >= 0 else None
                if tensor is not None and tensor.type == schema.TensorType.INT8 \
                        and int8_model.buffers[tensor.buffer].data is not None:
                    weights.append(dict(op=i, q=q, f=f, code=_code(int8_model, q_op),
                                        shape=tuple(int(d) for d in tensor.shape)))
            j += 1
        elif _code(int8_model, q_op) != DEQUANTIZE:
            raise ValueError(f"op {i}: the int8 graph differs from the float one beyond DEQUANTIZE ops")
    if j != len(f_ops):
        raise ValueError("the int8 graph is missing ops of the float one")
    return weights


def restore_float(int8_bytes: bytes, float_model, selected: list[dict]) -> bytes:
    """The int8 flatbuffer with the `selected` weights replaced by their float32 twins."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(int8_bytes))
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
                if rows in list(op.inputs) and _code(model, op) == DEQUANTIZE:
                    dropped.add(k)
                    for other in graph.operators:
                        other.inputs = [rows if x == op.outputs[0] else x for x in other.inputs]
    graph.operators = [op for k, op in enumerate(graph.operators) if k not in dropped]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def select(group: str, weights: list[dict], label_sizes: set[int], intermediate: int) -> list[dict]:
    """The weights of one `--groups` entry. Heads are the matrices with a task's label count as rows."""
    matrices = [w for w in weights if w["code"] != GATHER]
    heads = [w for w in matrices if w["shape"][0] in label_sizes]
    encoder = [w for w in matrices if w not in heads]
    kind, _, count = group.partition(":")
    chosen = {"table": [w for w in weights if w["code"] == GATHER], "weights": matrices, "heads": heads,
              "ffn_out": [w for w in encoder if w["shape"][-1] == intermediate],
              "first": encoder[:int(count or 0)], "last": encoder[len(encoder) - int(count or 0):]}.get(kind)
    if chosen is None:
        raise ValueError(f"unknown group {group!r}: use table, weights, heads, ffn_out, first:N or last:N")
    return chosen


def main(argv):
    del argv
    from tensorflow.lite.tools import flatbuffer_utils
    from export.tflite import convert
    from export.verify import verify
    from tagger.models.tagger import read_config
    from tagger.serving import load_module

    output_dir = FLAGS.output_dir or tempfile.mkdtemp(prefix="int8_sensitivity_")
    os.makedirs(output_dir, exist_ok=True)
    config = read_config(FLAGS.model_dir)
    module = load_module(FLAGS.model_dir)  # no int8 table of its own: TFLite quantizes the table
    float_bytes, _ = convert(module, "float32")
    int8_bytes, _ = convert(module, "dynamic_int8")
    float_model = flatbuffer_utils.read_model_from_bytearray(bytearray(float_bytes))
    weights = quantized_weights(flatbuffer_utils.read_model_from_bytearray(bytearray(int8_bytes)), float_model)
    label_sizes = {len(labels) for labels in config["tasks"].values()}
    intermediate = config["encoder"].get("intermediate_size", 0)
    paths = [os.path.join(output_dir, "tagger_dynamic_int8.tflite")]
    with open(paths[0], "wb") as f:
        f.write(int8_bytes)
    for group in FLAGS.groups:
        selected = select(group, weights, label_sizes, intermediate)
        paths.append(os.path.join(output_dir, f"float_{group.replace(':', '')}_dynamic_int8.tflite"))
        with open(paths[-1], "wb") as f:
            f.write(restore_float(int8_bytes, float_model, selected))
        print(f"{group}: {len(selected)} of {len(weights)} int8 weight tensors back in float -> {paths[-1]}")
    verify(FLAGS.model_dir, FLAGS.data, artifacts=paths, every=FLAGS.every,
           report_path=os.path.join(output_dir, "verify.json"))


if __name__ == "__main__":
    define_flags()
    app.run(main)
