"""Which weights cost a dynamic-range int8 TFLite model its agreement with the checkpoint.

  python tools/int8_sensitivity.py --model_dir=runs/e5_ud --data='../shared/data/ud_split/*/*-dev.conllu' \
    --every=8 --groups=table,weights,heads,ffn_out,last:18 --output_dir=runs/e5_ud_sensitivity

Converts the model twice with TFLite's own quantization (one scale for the word table, the way
`export.tflite` did before it kept the table itself, per row): float32 and dynamic_int8. The two
graphs are the same op for op, so each int8 weight tensor has a float twin (export/float_weights.py).
For every group it writes the int8 model with that group's weights put back in float32, then runs
`export.verify` on all of them at once (every `--every`-th sentence of `--data`; the report goes to
--output_dir). The group whose restoring lifts the agreement most is where the quantization error
comes from. The groups (table, weights, heads, ffn_out, first:N, last:N) are export/float_weights.py's.
To ship such a model, `python -m export.tflite --quantize=dynamic_int8 --float_weights=GROUPS`.
"""
from __future__ import annotations

import os
import sys
import tempfile

if __package__ in (None, ""):  # run as `python tools/int8_sensitivity.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tools  # noqa: F401,E402  (TF_USE_LEGACY_KERAS before TensorFlow)
from absl import app, flags  # noqa: E402

from export.float_weights import (GROUP_NAMES, quantized_weights, read_model, restore_float, select,  # noqa: E402
                                  valid_group)

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model_dir", None, "A tagger model directory.")
    flags.DEFINE_string("data", None, "Comma-separated globs of labelled files to verify on.")
    flags.DEFINE_integer("every", 1, "Verify on every N-th sentence of --data.")
    flags.DEFINE_list("groups", ["table", "weights", "heads", "ffn_out", "last:18"], "Weight groups (see above).")
    flags.DEFINE_string("output_dir", None, "Where the variants and verify.json go; default: a temporary directory.")
    flags.mark_flags_as_required(["model_dir", "data"])
    flags.register_validator("groups", lambda groups: all(valid_group(g) for g in groups),
                             f"--groups: each one of {GROUP_NAMES}")


def main(argv):
    del argv
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
    float_model = read_model(float_bytes)
    weights = quantized_weights(read_model(int8_bytes), float_model)
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
