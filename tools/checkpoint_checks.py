"""What kill_resume checks on disk: every checkpoint reads back whole, and two runs ended equal.

`check_on_disk` looks at one model directory after a kill; `compare_runs` compares the finished
interrupted run with the uninterrupted reference, bit for bit.
"""
from __future__ import annotations

import glob
import json
import os

# Written by every save, so excluded from the comparison: it counts saves, which differ
# between a run with restarts and one without; it is not training state.
IGNORED_VARIABLES = ("save_counter/.ATTRIBUTES/VARIABLE_VALUE", "_CHECKPOINTABLE_OBJECT_GRAPH")


def checkpoint_files(model_dir: str, watch: str = "**/*.index") -> set[str]:
    """Checkpoint indexes (`ckpt-N.index`, `weights.index`, ...) under `model_dir` matching `watch`."""
    return set(glob.glob(os.path.join(model_dir, watch), recursive=True))


def _step_of(prefix: str) -> int | None:
    tail = prefix.rsplit("-", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


def latest_checkpoint(model_dir: str) -> dict | None:
    """The newest checkpoint a resumed job would restore: its directory (relative) and step."""
    import tensorflow as tf
    newest = None
    for state in glob.glob(os.path.join(model_dir, "**", "checkpoint"), recursive=True):
        prefix = tf.train.latest_checkpoint(os.path.dirname(state))
        if prefix and (newest is None or os.path.getmtime(prefix + ".index") > newest[0]):
            newest = (os.path.getmtime(prefix + ".index"), prefix)
    if newest is None:
        return None
    return {"checkpoint": os.path.relpath(newest[1], model_dir), "step": _step_of(newest[1])}


def read_checkpoint(prefix: str) -> dict:
    """`{name: numpy array}` of every tensor in a checkpoint (the reader checks each tensor's CRC)."""
    import tensorflow as tf
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def check_on_disk(model_dir: str) -> dict:
    """Nothing half-written: the latest checkpoint of every checkpoint directory (and any other
    it lists that still exists) reads back whole; every JSON file parses. Also lists leftover
    temporary files (`*.tmp` of an interrupted atomic JSON write, `*_temp` of a killed save)."""
    import tensorflow as tf
    problems, checked = [], 0
    stale = []
    for state in glob.glob(os.path.join(model_dir, "**", "checkpoint"), recursive=True):
        directory = os.path.dirname(state)
        try:
            names = tf.train.get_checkpoint_state(directory)
        except Exception as e:  # noqa: BLE001 - a report, not a crash
            problems.append(f"{state}: unreadable state file ({e})")
            continue
        if names is None or not names.model_checkpoint_path:
            problems.append(f"{state}: names no checkpoint")
            continue
        latest = names.model_checkpoint_path
        for prefix in dict.fromkeys([latest, *names.all_model_checkpoint_paths]):
            path = prefix if os.path.isabs(prefix) else os.path.join(directory, prefix)
            if prefix != latest and not os.path.exists(path + ".index"):
                # CheckpointManager records the new checkpoint, deletes the oldest (index first),
                # then records again: killed in between, the list still names the deleted one.
                stale.append(os.path.relpath(path, model_dir))
                continue
            try:
                read_checkpoint(path)
                checked += 1
            except Exception as e:  # noqa: BLE001
                problems.append(f"{path}: does not read back ({type(e).__name__}: {str(e)[:200]})")
    for done in glob.glob(os.path.join(model_dir, "**", "done.json"), recursive=True):
        with open(done, encoding="utf-8") as f:
            record = json.load(f)
        weights = record.get("weights_after")
        try:
            read_checkpoint(weights)
            checked += 1
        except Exception as e:  # noqa: BLE001
            problems.append(f"{done}: weights {weights} do not read back ({type(e).__name__})")
    json_files = glob.glob(os.path.join(model_dir, "**", "*.json"), recursive=True)
    for path in json_files:
        try:
            with open(path, encoding="utf-8") as f:
                json.load(f)
        except (OSError, ValueError) as e:
            problems.append(f"{path}: not valid JSON ({e})")
    leftovers = [os.path.relpath(p, model_dir) for pattern in ("*.tmp", "*_temp*")
                 for p in glob.glob(os.path.join(model_dir, "**", pattern), recursive=True)]
    return {"checkpoints_read": checked, "json_files": len(json_files), "problems": problems,
            "stale_list_entries": stale, "temp_files_left": leftovers}


def final_checkpoint(model_dir: str) -> str | None:
    import tensorflow as tf
    return tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))


def compare_runs(reference: str, interrupted: str) -> dict:
    """Exact comparison of metrics JSON, final checkpoint variables and sub-stage dev losses."""
    import numpy as np
    result: dict = {"metrics": {}, "checkpoint": {}, "stages": {}}
    ref_metrics = sorted(os.path.relpath(p, reference) for p in glob.glob(os.path.join(reference, "**", "metrics",
                                                                                        "*.json"), recursive=True))
    for name in ref_metrics:
        other = os.path.join(interrupted, name)
        with open(os.path.join(reference, name), encoding="utf-8") as f:
            expected = json.load(f)
        if not os.path.exists(other):
            result["metrics"][name] = {"equal": False, "why": "missing in the interrupted run"}
            continue
        with open(other, encoding="utf-8") as f:
            found = json.load(f)
        entry = {"equal": expected == found}
        if not entry["equal"]:
            entry["reference"], entry["interrupted"] = expected, found
        result["metrics"][name] = entry

    ref_ckpt, int_ckpt = final_checkpoint(reference), final_checkpoint(interrupted)
    if ref_ckpt and int_ckpt:
        a, b = read_checkpoint(ref_ckpt), read_checkpoint(int_ckpt)
        names = sorted(n for n in set(a) | set(b) if n not in IGNORED_VARIABLES)
        different = []
        for name in names:
            if name not in a or name not in b:
                different.append({"variable": name, "why": "missing in one run"})
            elif a[name].shape != b[name].shape or a[name].tobytes() != b[name].tobytes():
                entry = {"variable": name}
                if a[name].dtype.kind == "f" and a[name].shape == b[name].shape:
                    entry["max_abs_diff"] = float(np.max(np.abs(a[name] - b[name])))
                different.append(entry)
        result["checkpoint"] = {"reference": os.path.relpath(ref_ckpt, reference),
                                "interrupted": os.path.relpath(int_ckpt, interrupted),
                                "variables": len(names), "different": different[:50],
                                "num_different": len(different), "equal": not different,
                                "ignored": list(IGNORED_VARIABLES)}
    else:
        result["checkpoint"] = {"equal": ref_ckpt is None and int_ckpt is None,
                                "why": "no final checkpoint in " + ("both" if not (ref_ckpt or int_ckpt) else
                                                                    "one run")}

    for done in sorted(glob.glob(os.path.join(reference, "**", "done.json"), recursive=True)):
        name = os.path.relpath(os.path.dirname(done), reference)
        other = os.path.join(interrupted, name, "done.json")
        with open(done, encoding="utf-8") as f:
            expected = json.load(f).get("dev_loss")
        found = None
        if os.path.exists(other):
            with open(other, encoding="utf-8") as f:
                found = json.load(f).get("dev_loss")
        result["stages"][name] = {"dev_loss": expected, "interrupted_dev_loss": found, "equal": expected == found}

    result["equal"] = (all(m["equal"] for m in result["metrics"].values()) and bool(result["metrics"])
                       and result["checkpoint"].get("equal", False)
                       and all(s["equal"] for s in result["stages"].values()))
    return result
