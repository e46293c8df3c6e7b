"""Shared pieces of the benchmark tools: random model directories, FLOP counts, artifacts.

Nothing here imports TensorFlow at module load (see `tools.benchenv` for the machine, timing and
output, and `tools.bench_inputs` for the vocabulary, text and sentences).

Artifacts are built with the project's exporters (`export.saved_model.export_saved_model`,
`export.tflite.export_tflite`) and run with `tagger.runtime.tflite.TFLiteTagger`.
"""
from __future__ import annotations

import os

from tagger.flags_common import TFLITE_VARIANTS  # noqa: E402
from tagger.markdown import fmt, markdown_table  # noqa: F401,E402  (re-exported)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.normpath(os.environ.get("TAGGER_SHARED_DATA", os.path.join(REPO, "..", "shared", "data")))
MBERT_VOCAB = os.path.join(SHARED_DATA, "vocab", "mbert_cased_vocab.txt")
MBERT_VOCAB_SIZE = 119547
SHARED_TEXT = os.path.join(SHARED_DATA, "unlabeled", "*.txt")
SAMPLE_TEXT = os.path.join(REPO, "tagger", "sample", "unlabeled", "*.txt")
SAMPLE_VOCAB = os.path.join(REPO, "tagger", "sample", "vocab.txt")
UPOS_LABELS = ["<unk>", "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
               "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X"]


def random_label_lists(heads: list[str]) -> dict[str, list[str]]:
    """`["upos:18", "ufeats:6899"]` -> label lists of those sizes, for a random model whose heads
    cost what a trained one's do (upos gets the real UPOS labels when the size is 18)."""
    lists = {}
    for head in heads:
        task, _, size = head.partition(":")
        if not task or not size.isdigit() or int(size) < 2:
            raise ValueError(f"a head is task:size with size >= 2, got {head!r}")
        size = int(size)
        lists[task] = UPOS_LABELS if task == "upos" and size == len(UPOS_LABELS) else [f"{task}_{i}" for i in range(size)]
    return lists


# -- models -------------------------------------------------------------------------

def define_model_flags(teacher: bool = True, student: bool = True) -> None:
    """Flags for the random-weight models: mBERT-sized teacher and MiniBERT student by default."""
    from absl import flags
    if teacher:
        flags.DEFINE_integer("teacher_layers", 12, "Random teacher: layers.")
        flags.DEFINE_integer("teacher_hidden_size", 768, "Random teacher: hidden size.")
        flags.DEFINE_integer("teacher_heads", 12, "Random teacher: attention heads.")
        flags.DEFINE_integer("teacher_intermediate_size", 3072, "Random teacher: feed-forward size.")
    if student:
        flags.DEFINE_integer("student_layers", 3, "Student (MiniBERT): layers.")
        flags.DEFINE_integer("student_hidden_size", 256, "Student: hidden size.")
        flags.DEFINE_integer("student_heads", 4, "Student: attention heads.")
        flags.DEFINE_integer("student_intermediate_size", 1024, "Student: feed-forward size.")
        flags.DEFINE_integer("student_embedding_width", None, "Student: factorised embedding width.")
    flags.DEFINE_string("vocab_file", None, "Vocab for random models; default: mBERT cased, else a synthetic "
                        f"vocab of --vocab_size tokens.")
    flags.DEFINE_integer("vocab_size", MBERT_VOCAB_SIZE, "Size of the synthetic vocab when no vocab is found.")


def teacher_config_from_flags(vocab_size: int) -> tuple[dict, str]:
    from absl import flags
    from tagger.models.encoders import bert_config
    f = flags.FLAGS
    return (bert_config(vocab_size, f.teacher_hidden_size, f.teacher_layers, f.teacher_heads,
                        f.teacher_intermediate_size),
            f"random weights, {f.teacher_layers}L/{f.teacher_hidden_size}H/{f.teacher_heads}A/"
            f"{f.teacher_intermediate_size}, vocab {vocab_size}")


def student_config_from_flags(vocab_size: int) -> tuple[dict, str]:
    from absl import flags
    from tagger.models.students import minibert_config
    f = flags.FLAGS
    return (minibert_config(vocab_size, f.student_layers, f.student_hidden_size, f.student_heads,
                            f.student_intermediate_size, embedding_width=f.student_embedding_width),
            f"MiniBERT {f.student_layers}L/{f.student_hidden_size}H/{f.student_heads}A/"
            f"{f.student_intermediate_size}" + (f", embedding width {f.student_embedding_width}"
                                                 if f.student_embedding_width else "") + f", vocab {vocab_size}")


def write_random_model_dir(directory: str, encoder_config: dict, label_lists: dict[str, list[str]],
                           vocab_file: str, max_seq_length: int = 128, seed: int = 0,
                           head_ranks: dict[str, int] | None = None):
    """A self-contained model directory with random weights (config, vocab.txt, checkpoints/).

    Written the way `tagger.distill` writes its final student, so the exporters and
    `load_model_dir` read it like a trained one. Returns (model, tokenizer, config).
    """
    import tensorflow as tf
    import tf_keras
    from tagger.data.wordpiece import WordPieceTokenizer, load_vocab
    from tagger.models.build import build_encoder
    from tagger.models.tagger import Tagger, checkpoint_dir, make_config, prepare_model_dir
    tf_keras.utils.set_random_seed(seed)
    tokenizer = WordPieceTokenizer(load_vocab(vocab_file), max_seq_length=max_seq_length)
    extra = {"head_ranks": head_ranks} if head_ranks else {}
    config = prepare_model_dir(directory, make_config(encoder_config, label_lists, tokenizer, "random:benchmark",
                                                      **extra), tokenizer, vocab_file)
    model = Tagger(build_encoder(encoder_config), label_lists, head_ranks=head_ranks).build_variables()
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model), checkpoint_dir(directory),
                               max_to_keep=1).save(checkpoint_number=0)
    return model, tokenizer, config


def param_counts(model) -> dict:
    """Parameters by part. 'embedding' = word + position + type tables, their LayerNorm and projection."""
    from tagger.models.encoders import canonical_name
    counts = {"word_embeddings": 0, "other_embeddings": 0, "encoder_layers": 0, "heads": 0, "pooler_unused": 0}
    head_refs = {v.ref() for head in model.heads.values() for v in head.weights}
    for variable in model.weights:
        size = int(variable.shape.num_elements())
        name = canonical_name(variable.name) or ""
        if variable.ref() in head_refs:
            counts["heads"] += size
        elif name.startswith("word_embeddings/"):
            counts["word_embeddings"] += size
        elif name.startswith(("position_embedding/", "type_embeddings/", "embeddings/", "embedding_projection/")):
            counts["other_embeddings"] += size
        elif name.startswith("pooler_transform/"):
            counts["pooler_unused"] += size
        else:
            counts["encoder_layers"] += size
    counts["embedding"] = counts["word_embeddings"] + counts["other_embeddings"]
    counts["non_embedding"] = counts["encoder_layers"] + counts["heads"]
    counts["total"] = counts["embedding"] + counts["non_embedding"] + counts["pooler_unused"]
    return counts


def forward_flops(config: dict, length: int, batch: int = 1, head_rows: int | None = None) -> int:
    """Multiply-add FLOPs (2 per MAC) of one forward pass of the tagger `config` (tagger_config.json)
    over `batch` windows of `length` wordpieces, the heads on `head_rows` rows (default: every piece,
    as `tag_ids`; text signatures run them on each word's first piece only).

    Counts the matrix multiplies (projections, attention scores and mixing, feed-forward, heads,
    low-rank heads as their two factors); lookups, LayerNorm, softmax and GELU are left out (a few
    percent).
    """
    encoder = config["encoder"]
    n = batch * length
    head_rows = n if head_rows is None else head_rows
    if encoder["type"] == "bilstm":
        e, u = encoder["embedding_width"], encoder["lstm_units"]
        return int(2 * 2 * 4 * n * (e + u) * u + 2 * head_rows * head_macs(config, 2 * u))
    h, inner, layers = encoder["hidden_size"], encoder["intermediate_size"], encoder["num_layers"]
    e = encoder.get("embedding_width") or h
    per_layer = 2 * n * h * 3 * h + 2 * 2 * batch * length * length * h + 2 * n * h * h + 2 * 2 * n * h * inner
    projection = 2 * n * e * h if e != h else 0
    return int(layers * per_layer + projection + 2 * head_rows * head_macs(config, h))


def head_macs(config: dict, width: int) -> int:
    """Multiply-adds per row of all task heads on `width`-wide features: width x labels, or
    width x rank + rank x labels for a low-rank head."""
    ranks = config.get("head_ranks") or {}
    return sum(width * len(labels) if task not in ranks else (width + len(labels)) * ranks[task]
               for task, labels in config["tasks"].items())


def path_size(path: str) -> int:
    """Bytes of a file, or of everything under a directory."""
    from export.pipeline import directory_size
    return directory_size(path)


# -- artifacts ------------------------------------------------------------------------
# Built with the exporters in export/ (the artifacts users ship), named as in export.tflite.


def shadow_model_dir(model_dir: str, directory: str) -> str:
    """A model directory under `directory` linking to `model_dir`'s config, vocab and checkpoints, so
    exports of a real model land in the benchmark's work dir, not in the model's own export/."""
    from tagger.data.tokenizer_files import path_in
    from tagger.models.tagger import CONFIG_FILE, read_config
    config = read_config(model_dir)
    os.makedirs(directory, exist_ok=True)
    tokenizer_file = os.path.basename(path_in(model_dir, config["tokenizer"]))  # vocab.txt or a SentencePiece model
    for name in (CONFIG_FILE, tokenizer_file, "checkpoints"):
        os.symlink(os.path.abspath(os.path.join(model_dir, name)), os.path.join(directory, name))
    return directory


def saved_model(model_dir: str, reuse_from: str | None = None) -> tuple[str, bool]:
    """(SavedModel version dir, reused): `reuse_from`'s newest export if it has one, else a fresh export
    of `model_dir` into its export/saved_model/."""
    from export.saved_model import export_saved_model, latest_saved_model
    if reuse_from:
        try:
            return latest_saved_model(reuse_from), True
        except ValueError:
            pass
    return export_saved_model(model_dir, overwrite=True, verbose=False), False


def tflite_model(model_dir: str, variant: str, calibration_file: str, calibration_sentences: int,
                 reuse_from: str | None = None) -> tuple[str, bool]:
    """(.tflite path, reused): `reuse_from`/export/tagger_<quantize>.tflite if it exists, else a fresh
    export of `model_dir` (full_int8 calibrated on the sentences in `calibration_file`)."""
    from export.tflite import export_tflite, tflite_path
    if variant not in TFLITE_VARIANTS:
        raise ValueError(f"TFLite variant must be one of {', '.join(TFLITE_VARIANTS)}, not {variant!r}")
    if reuse_from and os.path.exists(tflite_path(reuse_from, variant)):
        return tflite_path(reuse_from, variant), True
    return export_tflite(model_dir, variant, calibration_data=calibration_file,
                         calibration_sentences=calibration_sentences, verbose=False), False


def checkpoint_size(model_dir: str) -> int:
    """Bytes of the latest checkpoint (not every checkpoint kept)."""
    from export.pipeline import checkpoint_size as size
    return size(model_dir)
