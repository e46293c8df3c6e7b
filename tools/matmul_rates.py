"""The FLOP floor of a latency: model FLOPs over a measured matmul rate of the runtime's arithmetic.

A latency far above its floor is overhead (ops, copies, dispatch) rather than arithmetic; the rates
are measured on this machine, in this process, so the floor moves with the CPU.
"""
from __future__ import annotations

# The weight-quantization variants timed by default (embeddings_int8 is a teacher-size export, on request).
DEFAULT_VARIANTS = ("float32", "dynamic_int8", "full_int8")


def measure_rates(timing_of, quick: bool, tf_threads: int) -> dict:
    """fp32 GFLOP/s of a TF matmul in this process (its thread setting), and of LiteRT fully-connected
    layers (XNNPACK) in float32, dynamic-range int8 and full int8, at 1 thread. ``timing_of(fn)`` times
    a call and returns benchenv.measure's dict; ``quick`` shrinks the shapes to a smoke test."""
    import numpy as np
    import tensorflow as tf
    rates = {}
    m, k, n = (64, 256, 256) if quick else (512, 1024, 1024)
    a = tf.constant(np.random.default_rng(0).normal(size=(m, k)).astype(np.float32))
    b = tf.constant(np.random.default_rng(1).normal(size=(k, n)).astype(np.float32))
    matmul = tf.function(lambda: tf.matmul(a, b))
    timing = timing_of(lambda: matmul().numpy())
    rates["tf_fp32"] = {"gflops_per_s": 2 * m * k * n / timing["median_ms"] / 1e6, "shape_mkn": [m, k, n],
                        "threads": tf_threads, "median_ms": timing["median_ms"],
                        "what": "tf.matmul fp32 [m,k]x[k,n] in a tf.function, this process's TF threads"}
    m, k, n = (32, 128, 256) if quick else (128, 768, 3072)  # one BERT-base feed-forward matmul at L=128
    weights = np.random.default_rng(2).normal(scale=0.05, size=(k, n)).astype(np.float32)

    class Dense(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.constant(weights)

        @tf.function(input_signature=[tf.TensorSpec([m, k], tf.float32)])
        def __call__(self, x):
            return tf.matmul(x, self.w)

    module = Dense()
    samples = [np.random.default_rng(3 + i).normal(size=(m, k)).astype(np.float32) for i in range(8)]
    for variant in DEFAULT_VARIANTS:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([module.__call__.get_concrete_function()],
                                                                    module)
        if variant != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if variant == "full_int8":
            converter.representative_dataset = lambda: ([x] for x in samples)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        from tagger.runtime.tflite import load_interpreter
        interpreter = load_interpreter(model_content=converter.convert(), num_threads=1)
        runner = interpreter.get_signature_runner()
        timing = timing_of(lambda: runner(x=samples[0]))
        try:
            ops = sorted({detail["op_name"] for detail in interpreter._get_ops_details()})
        except (AttributeError, KeyError):
            ops = []
        rates[f"tflite_{variant}"] = {
            "gflops_per_s": 2 * m * k * n / timing["median_ms"] / 1e6, "shape_mkn": [m, k, n], "threads": 1,
            "median_ms": timing["median_ms"], "ops": ops,
            "what": f"LiteRT {variant} x[m,k] @ W[k,n] (constant W), 1 thread, quantize/dequantize included"}
        del interpreter, runner
    return rates


def floors(latency: list[dict], models: dict, rates: dict, lengths: list[int]) -> list[dict]:
    """Measured latency against FLOPs / measured rate for the runtime's arithmetic."""
    rate_for = {"tf": "tf_fp32", "saved_model": "tf_fp32", "tflite_float32": "tflite_float32",
                "tflite_dynamic_int8": "tflite_dynamic_int8", "tflite_full_int8": "tflite_full_int8"}
    rows = []
    fixed_length = {f"ids_{n}" for n in lengths} | {f"text_{n}" for n in lengths}
    for r in latency:
        if r["batch"] != 1 or r["threads"] != 1 or r["input"] not in fixed_length:
            continue
        rate = rates.get(rate_for.get(r["runtime"], ""))
        if not rate:
            continue
        flops = models[r["model"]]["flops"][r["input"]]
        floor_ms = flops / (rate["gflops_per_s"] * 1e6)
        rows.append({"model": r["model"], "runtime": r["runtime"], "input": r["input"], "gflops": flops / 1e9,
                     "rate": rate_for[r["runtime"]], "floor_ms": floor_ms, "measured_ms": r["median_ms"],
                     "efficiency": floor_ms / r["median_ms"]})
    return rows
