"""Every shipped flagfile parses against its binary's flags, and the data it names exists (the shared
data and the embedded sample; the paper-scale flagfiles name the user's own `data/` and are parsed only).

A flagfile with `--teacher_*` or `--recipe` is for `tagger.distill`, any other for `tagger.finetune`.
Each binary's flags are declared in a fresh interpreter (binaries declare theirs only when run).
"""
import glob
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, SHARED_DATA

FLAGFILES = sorted(glob.glob(os.path.join(REPO, "flags", "*.flags")))
DATA_FLAGS = ("train_data", "dev_data", "test_data", "unlabeled_data")

PARSE = """
import json, sys
from absl import flags
import {module} as binary
binary.define_flags()
out = {{}}
for path in sys.argv[1:]:
    flags.FLAGS(["binary", "--flagfile=" + path])
    out[path] = {{flag.name: flag.value for flag in flags.FLAGS.get_key_flags_for_module(binary)}}
    out[path].update({{name: flags.FLAGS[name].value for name in {data_flags!r} if name in flags.FLAGS}})
    flags.FLAGS.unparse_flags()
print(json.dumps(out))
"""


def binary_of(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        names = [line.split("=")[0] for line in f if line.startswith("--")]
    return "tagger.distill.__main__" if any(n.startswith(("--teacher_", "--recipe")) for n in names) \
        else "tagger.finetune"


@pytest.fixture(scope="module")
def parsed() -> dict[str, dict]:
    """{flagfile: {flag: value}} for every flagfile, parsed by its own binary."""
    result = {}
    for module in ("tagger.distill.__main__", "tagger.finetune"):
        paths = [p for p in FLAGFILES if binary_of(p) == module]
        run = subprocess.run([sys.executable, "-c", PARSE.format(module=module, data_flags=DATA_FLAGS), *paths],
                             cwd=REPO, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        result.update(json.loads(run.stdout.strip().splitlines()[-1]))
    return result


@pytest.mark.parametrize("flagfile", FLAGFILES, ids=os.path.basename)
def test_flagfile_parses_and_names_existing_data(flagfile, parsed):
    values = parsed[flagfile]
    assert values["model_dir"] and values["train_data"]
    if binary_of(flagfile) == "tagger.distill.__main__":
        assert bool(values["teacher_dir"]) != bool(values["teacher_init"])
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"../shared/data not found at {SHARED_DATA}")
    for name in DATA_FLAGS:
        value = (values.get(name) or "").replace("{data_dir}", "../shared/data")  # --data_dir's default
        for pattern in filter(None, value.split(",")):
            if not pattern.startswith(("../shared/data/", "tagger/sample/")):
                continue  # the paper-scale flagfiles name the user's own data (data/ud, data/wiki)
            assert glob.glob(os.path.join(REPO, pattern)), f"{os.path.basename(flagfile)}: --{name}={pattern} " \
                                                             "matches no file"
