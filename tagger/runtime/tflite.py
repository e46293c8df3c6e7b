"""Running the exported .tflite taggers in Python.

  from tagger.runtime.tflite import TFLiteTagger
  tagger = TFLiteTagger("runs/quickstart/export/tagger_dynamic_int8.tflite")
  tagger.tag_text(["Anna works in Paris."])
  # [{'words': ['Anna', 'works', 'in', 'Paris', '.'], 'upos': [...], 'word_starts': [...], ...}]

The models hold tensorflow-text ops as TFLite custom ops (the word rule's
FastWordpieceTokenizeWithOffsets and ByteSplitByOffsets, then FastBertNormalize
and FastWordpieceTokenizeWithOffsets, or FastSentencepieceTokenize), so the
interpreter must be created with `tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS` as custom
op registerers. `load_interpreter` does that with LiteRT (`ai_edge_litert`).
Without LiteRT it falls back to the legacy `tflite_runtime` package, which is
frozen at 2.14: it needs NumPy < 2 and cannot run the dynamic-range int8 model
(`Didn't find op for builtin opcode 'FULLY_CONNECTED' version '12'`); the
float32 and full_int8 models run there.
"""
from __future__ import annotations

import sys
import threading

import numpy as np

from tagger.errors import UserError
from tagger.runtime.batching import as_bytes, output_rows, tag_in_batches

SIGNATURE = "serving_default"
# Sentences per interpreter call: on 1 thread, length-sorted batches of 4-8 tag the most words per
# second (BENCHMARKS.md section 9: en_ewt test, two MiniBERTs; 64 was 29-38% slower).
DEFAULT_BATCH = 8
REGISTRAR = "tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS"


class MissingCustomOpsError(RuntimeError):
    """The interpreter lacks the tensorflow-text custom ops the model needs."""


def explain_missing_ops(error: Exception, path: str = "") -> Exception:
    """Turns LiteRT's 'unresolved custom op' error into one that says how to fix it."""
    text = str(error)
    if "unresolved custom op" not in text:
        return error
    op = text.split("unresolved custom op:", 1)[1].split(".", 1)[0].strip()
    where = f"{path}: " if path else ""
    return MissingCustomOpsError(
        f"{where}the model uses the tensorflow-text custom op {op or '(unknown)'}, which this interpreter does "
        f"not know. Create it with the tensorflow-text registrar: in Python, "
        f"ai_edge_litert.interpreter.InterpreterWithCustomOps(custom_op_registerers={REGISTRAR}, "
        f"model_path=...) (or tagger.runtime.tflite.load_interpreter); in C++/Android, add tensorflow-text's "
        f"ByteSplitByOffsets, FastWordpieceTokenizeWithOffsets and FastBertNormalize (or FastSentencepieceTokenize) "
        f"kernels to the op resolver "
        f"(see the README). Original error: {text.splitlines()[0]}")


def _interpreter_classes():
    """(InterpreterWithCustomOps, Interpreter) from LiteRT, else from legacy tflite_runtime."""
    try:
        from ai_edge_litert import interpreter as lite
    except ImportError:
        try:
            from tflite_runtime import interpreter as lite  # NumPy < 2 only; no dynamic-range int8
        except ImportError:
            raise ImportError("no TFLite runtime: pip install ai-edge-litert") from None
    return lite.InterpreterWithCustomOps, lite.Interpreter


def load_interpreter(path: str | None = None, num_threads: int = 1, model_content: bytes | None = None,
                     register_tf_text: bool = True, preserve_all_tensors: bool = False):
    """An allocated interpreter for a tagger .tflite, with the tensorflow-text ops registered.

    `register_tf_text=False` builds a plain interpreter, as an app that forgot the
    registrar would; it raises `MissingCustomOpsError` with the fix. `preserve_all_tensors` keeps
    every intermediate tensor readable after a run (slower; for calibration and debugging).
    """
    with_custom_ops, plain = _interpreter_classes()
    source = {"model_path": path} if model_content is None else {"model_content": model_content}
    if preserve_all_tensors:  # and no XNNPACK: a delegated partition leaves its inner tensors unwritten
        resolver = sys.modules[with_custom_ops.__module__].OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        source.update(experimental_preserve_all_tensors=True, experimental_op_resolver_type=resolver)
    try:
        if register_tf_text:
            from tensorflow_text import tflite_registrar
            interpreter = with_custom_ops(custom_op_registerers=tflite_registrar.SELECT_TFTEXT_OPS,
                                          num_threads=num_threads, **source)
        else:
            interpreter = plain(num_threads=num_threads, **source)
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as e:
        explained = explain_missing_ops(e, path or "")
        if explained is e:  # not a missing op: a damaged or foreign file
            raise UserError(f"{path or 'model content'}: not a loadable TFLite model "
                            f"({str(e).splitlines()[0][:200]}); export it again with python -m export.tflite") from None
        raise explained from None
    return interpreter


class TFLiteTagger:
    """Tags raw sentences with an exported .tflite (tokenizer inside the model).

    Safe to share between threads: a TFLite interpreter holds its input and output tensors, so
    calls on one tagger run one at a time (a lock). For parallel throughput, give each thread its
    own `TFLiteTagger`; interpreters of the same file are independent.
    """

    def __init__(self, path: str | None = None, num_threads: int = 1, batch_size: int = DEFAULT_BATCH,
                 interpreter=None):
        self.path = path or ""
        self.interpreter = interpreter or load_interpreter(path, num_threads)
        runner = self.interpreter.get_signature_runner(SIGNATURE)
        self._input = runner.get_input_details()["sentences"]["index"]
        self._outputs = {name: details["index"] for name, details in runner.get_output_details().items()}
        self._batch = None  # the batch size the interpreter is allocated for
        self.tasks = sorted(name[:-len("_ids")] for name in self._outputs
                            if name.endswith("_ids") and not name.endswith("_second_best_ids"))
        # What tag_text reads: the label strings and offsets, not the id copies.
        self._text_outputs = [name for name in self._outputs if not name.endswith("_ids")]
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def run(self, sentences: list[str | bytes], names: list[str] | None = None) -> dict[str, np.ndarray]:
        """Raw signature outputs for one batch (all, or `names`). Straight on the interpreter: the
        signature runner re-allocated every tensor and copied every output on each call, 0.27 ms
        of a 1.1 ms sentence (BENCHMARKS.md section 9); here tensors are re-allocated only
        when the batch size changes, and `get_tensor` copies only the outputs asked for."""
        batch = np.array([as_bytes(s) for s in sentences], dtype=object)
        try:
            with self._lock:
                if self._batch != len(batch):
                    self.interpreter.resize_tensor_input(self._input, [len(batch)])
                    self.interpreter.allocate_tensors()
                    self._batch = len(batch)
                self.interpreter.set_tensor(self._input, batch)
                self.interpreter.invoke()
                return {name: self.interpreter.get_tensor(self._outputs[name]) for name in names or self._outputs}
        except RuntimeError as e:
            raise explain_missing_ops(e, self.path) from None

    def tag_text(self, sentences: list[str | bytes]) -> list[dict[str, list]]:
        """Per sentence: `words`, `word_starts`/`word_ends` (UTF-8 byte offsets), one tag list per task,
        and `upos_second_best` when the model tags UPOS."""
        return tag_in_batches([as_bytes(s) for s in sentences], self.batch_size,
                              lambda batch: output_rows(self.run(batch, self._text_outputs), batch))

    def tag_words(self, sentences: list[list[str]]) -> list[dict[str, list]]:
        """Tags gold-tokenised sentences through the raw-text signature.

        Each sentence is fed as its words joined by spaces; a word that is only whitespace is fed
        as "_", so it still has a model word. Where the model's BERT word split differs from the
        given words (e.g. "U.S." -> "U . S ."), each given word takes the tags of the first model
        word inside it, and the result has `exact: False`. A word with no model word inside takes
        its nearest neighbour's tags: every word gets a tag.
        """
        fed = [[word if word.split() else "_" for word in words] for words in sentences]
        results = []
        for tagged, words, shown in zip(self.tag_text([" ".join(words) for words in fed]), fed, sentences):
            exact = tagged["words"] == list(shown)
            aligned = {"words": list(shown), "exact": exact}
            index = list(range(len(words))) if exact else first_model_words(words, tagged["word_starts"])
            for name, value in tagged.items():
                if name not in ("words", "word_starts", "word_ends"):
                    aligned[name] = [value[i] if i >= 0 else "" for i in index]
            results.append(aligned)
        return results


def first_model_words(words: list[str], starts: list[int]) -> list[int]:
    """For each given word (joined by single spaces), the index of the first model word starting
    inside it; a word with none takes the previous word's (or, first of all, the next one's)."""
    index, position, cursor = [], 0, 0
    for word in words:
        begin, end = position, position + len(word.encode("utf-8"))
        while cursor < len(starts) and starts[cursor] < begin:
            cursor += 1
        index.append(cursor if cursor < len(starts) and starts[cursor] < end else -1)
        position = end + 1
    for i in range(len(index)):
        if index[i] < 0 and i > 0:
            index[i] = index[i - 1]
    for i in reversed(range(len(index))):
        if index[i] < 0 and i + 1 < len(index):
            index[i] = index[i + 1]
    return index
