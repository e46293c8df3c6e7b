"""Where and how a benchmark runs: TensorFlow's thread pools, the machine, timing, and output.

Nothing here imports TensorFlow at module load, so a tool can pin TensorFlow's
thread pools (`pin_tf_threads`) before the runtime starts.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import sys
import time


# -- threads -----------------------------------------------------------------------

def pin_tf_threads(threads: int) -> None:
    """Intra- and inter-op pools of `threads` each; must run before TensorFlow executes anything."""
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


# -- machine ------------------------------------------------------------------------

def machine_info() -> dict:
    """CPU model, cores, the SIMD features int8 speed depends on, load, package versions."""
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "logical_cpus": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpuinfo = f.read()
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                      if line.startswith("model name")), None)
        flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines()
                      if line.startswith("flags")), [])
        info["cpu_model"] = model
        info["cpu_features"] = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni",
                                            "amx_tile", "amx_int8", "amx_bf16") if f in flags]
    except OSError:
        info["cpu_model"] = platform.processor()
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            info["memory_gib"] = round(int(f.readline().split()[1]) / 2 ** 20, 1)
    except (OSError, ValueError, IndexError):
        pass
    from importlib import metadata
    versions = {}
    for package in ("tensorflow", "tf-keras", "tf-models-official", "tensorflow-text", "ai-edge-litert", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    info["versions"] = versions
    return info


def busy_warning(machine: dict) -> str | None:
    load = machine.get("load_average_1_5_15", [0])[0]
    cpus = machine.get("usable_cpus") or 1
    if load > 0.5 * cpus:
        return (f"load average {load} on {cpus} CPUs when the run started: other work was running, "
                f"so timings are not reliable")
    return None


# -- timing -------------------------------------------------------------------------

class Budget:
    """Wall-clock budget for a whole run; measurements shrink and optional steps are skipped near the end."""

    def __init__(self, seconds: float):
        self.start = time.perf_counter()
        self.seconds = seconds

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.seconds - self.elapsed()


def measure(fn, *, warmup: int = 3, min_runs: int = 5, max_runs: int = 1000, max_seconds: float = 2.0) -> dict:
    """Median (and spread) of `fn()` wall times after `warmup` calls; stops at max_runs or max_seconds
    once min_runs are done."""
    for i in range(warmup):
        t0 = time.perf_counter()
        fn()
        if i >= 1 and time.perf_counter() - t0 > 0.25:  # slow calls: two warm-ups are enough
            break
    times = []
    begin = time.perf_counter()
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() - begin < max_seconds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    q = lambda p: times[min(len(times) - 1, int(p * (len(times) - 1) + 0.5))]
    return {"median_ms": 1000 * statistics.median(times), "p10_ms": 1000 * q(0.1), "p90_ms": 1000 * q(0.9),
            "min_ms": 1000 * times[0], "runs": len(times)}


# -- output -------------------------------------------------------------------------

def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_json(path: str, value) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False, default=float)
        f.write("\n")


def write_text(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def emit(text_md: str, result: dict, output_md: str | None, output_json: str | None) -> None:
    """Prints a tool's markdown and writes it and the JSON result where asked."""
    print(text_md)
    if output_json:
        write_json(output_json, result)
    if output_md:
        write_text(output_md, text_md)


def mib(size_bytes: int | None) -> float | None:
    return None if size_bytes is None else size_bytes / 2 ** 20


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
