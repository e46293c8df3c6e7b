"""Exports a model directory as a versioned SavedModel for TF Serving.

  python -m export.saved_model --model_dir=runs/en_upos [--version=N] [--signatures=tag_ids]

Writes MODEL_DIR/export/saved_model/<N>/ (N defaults to the next integer; the
version is written under a temporary name and renamed, so a TF Serving that
polls the directory never sees half a model), label files (MODEL_DIR/export/labels/
and <N>/assets.extra/labels/), and a serving compatibility report
(MODEL_DIR/export/serving_report.json, plus a printed table): for each signature, the ops its graph uses that are not
core TensorFlow ops. A signature with none runs on any TensorFlow runtime; the
others need the tensorflow-text ops registered (Python: `import
tensorflow_text`; TF Serving: a model server built with them).
"""
from __future__ import annotations

import os
import shutil
import tempfile

from absl import flags

import export  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the signatures trace)

from tagger import cli
from tagger.errors import UserError
from tagger.markdown import text_table
from tagger.models.tagger import write_json_atomic
from tagger.runtime.saved_model import latest_saved_model, saved_model_root, versions  # noqa: F401
from tagger.serving import load_module

ALL_SIGNATURES = ("serving_default", "tag_words", "tag_ids")
REPORT_FILE = "serving_report.json"

FLAGS = flags.FLAGS


def define_flags():
    """Flags of the binary (defined only when run as one, so other modules can import the library)."""
    flags.DEFINE_string("model_dir", None, "Model directory to export (its latest checkpoint).")
    flags.DEFINE_integer("version", None, "Version directory number; default: one more than the newest.")
    flags.DEFINE_list("signatures", list(ALL_SIGNATURES),
                      "Signatures to export. `tag_ids` alone gives a SavedModel with core TensorFlow ops only.")
    flags.DEFINE_bool("overwrite", False, "Replace an existing version directory.")
    flags.mark_flags_as_required(["model_dir"])


def write_label_files(directory: str, label_lists: dict[str, list[str]]) -> None:
    """`<task>.txt`, one label per line, line i = class id i."""
    os.makedirs(directory, exist_ok=True)
    for task, labels in label_lists.items():
        with open(os.path.join(directory, f"{task}.txt"), "w", encoding="utf-8") as f:
            f.write("".join(label + "\n" for label in labels))


# -- serving compatibility ------------------------------------------------------

def function_ops(graph_def) -> set[str]:
    """Op types in a GraphDef and every function of its library (function calls excluded)."""
    functions = {f.signature.name for f in graph_def.library.function}
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops.update(node.op for node in function.node_def)
    return ops - functions


def non_core_ops(ops: set[str]) -> list[str]:
    """Ops that the TensorFlow build itself does not define (tensorflow-text's, for this toolkit).

    `tf.raw_ops` holds exactly the ops compiled into TensorFlow; ops loaded from
    other libraries (tensorflow-text's .so files) are registered but absent from it.
    """
    return sorted(op for op in ops if not hasattr(tf.raw_ops, op))


def _spec_text(spec) -> str:
    dims = ",".join("?" if d is None else str(d) for d in spec.shape.as_list())
    return f"{spec.dtype.name}[{dims}]"


def serving_report(signatures: dict) -> dict:
    """`{signature: {inputs, outputs, ops, non_core_ops, core_tensorflow_only}}` for concrete functions."""
    report = {}
    for name, function in signatures.items():
        ops = function_ops(function.graph.as_graph_def())
        extra = non_core_ops(ops)
        args, kwargs = function.structured_input_signature
        inputs = {spec.name: _spec_text(spec) for spec in list(args) + list(kwargs.values())}
        outputs = {key: _spec_text(spec) for key, spec in function.structured_outputs.items()}
        report[name] = {"inputs": inputs, "outputs": outputs, "num_op_types": len(ops),
                        "non_core_ops": extra, "core_tensorflow_only": not extra}
    return report


def format_report(report: dict) -> str:
    rows = [[name, "yes" if entry["core_tensorflow_only"] else "no", ", ".join(entry["non_core_ops"]) or "-"]
            for name, entry in report.items()]
    lines = [text_table(["signature", "core TF only", "ops outside core TensorFlow"], rows, left=3)]
    lines += ["",
              "core TF only = yes: loads and runs on any TensorFlow runtime (stock TF Serving, C API, Java, Go).",
              "Otherwise the runtime must have the listed tensorflow-text ops registered: in Python `import",
              "tensorflow_text` before loading; a TF Serving build must link them (the official model server",
              "links tensorflow_text's ops_lib, but its TF Text version must define these ops). Python's",
              "loader rejects the whole SavedModel when an op is missing, so for such runtimes export",
              "`--signatures=tag_ids` and tokenize on the client."]
    return "\n".join(lines)


# -- export -----------------------------------------------------------------------

def export_saved_model(model_dir: str, version: int | None = None,
                       signatures: tuple[str, ...] | list[str] = ALL_SIGNATURES,
                       overwrite: bool = False, verbose: bool = True) -> str:
    """Writes MODEL_DIR/export/saved_model/<version>/ and the serving report; returns the version path."""


    unknown = [name for name in signatures if name not in ALL_SIGNATURES]
    if unknown or not signatures:
        raise UserError(f"--signatures: unknown {unknown}; choose from {', '.join(ALL_SIGNATURES)}")
    module = load_module(model_dir)
    root = saved_model_root(model_dir)
    existing = versions(root)
    version = version if version is not None else (existing[-1] + 1 if existing else 1)
    if version < 0:
        raise UserError(f"--version must be >= 0, got {version}")
    target = os.path.join(root, str(version))
    if os.path.exists(target) and not overwrite:
        raise UserError(f"{target} exists; pass another --version or --overwrite")

    concrete = module.signatures([name for name in ALL_SIGNATURES if name in signatures])
    # Save an object that holds only what the chosen signatures use, so a `tag_ids`-only
    # export carries no tokenizer ops at all (tf.saved_model.save keeps every attached function).
    holder = tf.Module()
    holder.model = module.model
    if any(name != "tag_ids" for name in signatures):
        holder.tokenizer = module.tokenizer
    for name in signatures:
        setattr(holder, name, getattr(module, name))

    os.makedirs(root, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=root)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(scratch, 0o777 & ~umask)  # mkdtemp makes it 0700: a server running as another user could not read it
    try:
        tf.saved_model.save(holder, scratch, signatures=concrete)
        write_label_files(os.path.join(scratch, "assets.extra", "labels"), module.label_lists)
        if os.path.exists(target):
            shutil.rmtree(target)
        os.replace(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    write_label_files(os.path.join(model_dir, "export", "labels"), module.label_lists)

    report = {"saved_model": target, "version": version, "signatures": serving_report(concrete)}
    report_path = os.path.join(model_dir, "export", REPORT_FILE)
    write_json_atomic(report_path, report)
    if verbose:
        print(f"SavedModel written to {target}\n\nServing compatibility ({report_path}):")
        print(format_report(report["signatures"]))
    return target


def main(argv):
    del argv
    export_saved_model(FLAGS.model_dir, FLAGS.version, FLAGS.signatures, FLAGS.overwrite)


if __name__ == "__main__":
    define_flags()
    cli.run_main(main)
