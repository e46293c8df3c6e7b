"""A student made of some of the teacher's own layers (`tagger.distill --student_teacher_layers=1,2,3`).

A randomly initialised MiniBERT has to learn language from the transfer text alone, which on 2 CPU
cores means a few thousand steps. Copying a few pretrained, fine-tuned layers of the teacher (as
DistilBERT does) starts the student where the teacher's lower layers already are. The student then
has the teacher's width, heads and feed-forward size; only its depth and vocabulary differ.

The word table is the teacher's rows for the student's pieces (`rows`), at full width or, with a
factorised table (`embedding_width` E < hidden H), reduced to the top-E singular directions of the
teacher's embedding inputs. In the factorised case the student normalises in E dimensions and then projects to
H, where the teacher normalises in H: the projection is fitted by least squares so that the
student's embedding output matches the teacher's on sampled (piece, position) pairs.
"""
from __future__ import annotations

import numpy as np

from tagger.errors import UserError
from tagger.models.encoders import bert_config, canonical_name
from tagger.models.students import svd_embeddings

FIT_SAMPLES = 20000    # (piece, position) pairs the factorised projection is fitted on
FIT_POSITIONS = 128    # positions drawn for the fit: the serving window, not all 512


def student_config(teacher_config: dict, layers: tuple[int, ...], vocab_size: int,
                   embedding_width: int | None = None) -> dict:
    """The teacher's layer shape, `len(layers)` deep, on a `vocab_size` vocabulary."""
    if teacher_config.get("type") != "bert":
        raise UserError(f"--student_teacher_layers copies BERT layers; the teacher's encoder is "
                        f"{teacher_config.get('type')!r}")
    depth = teacher_config["num_layers"]
    if not layers or any(not 1 <= layer <= depth for layer in layers):
        raise UserError(f"--student_teacher_layers={','.join(map(str, layers))}: the teacher has layers 1-{depth}")
    if embedding_width is not None and embedding_width > teacher_config["hidden_size"]:
        raise UserError(f"--student_embedding_width={embedding_width} exceeds the teacher's hidden size "
                        f"{teacher_config['hidden_size']}")
    keys = ("hidden_size", "num_attention_heads", "intermediate_size", "max_position_embeddings",
            "type_vocab_size", "hidden_act", "dropout_rate", "attention_dropout_rate")
    return bert_config(vocab_size=vocab_size, num_layers=len(layers), **{k: teacher_config[k] for k in keys},
                       embedding_width=embedding_width if embedding_width != teacher_config["hidden_size"] else None)


def _layer_norm(x: np.ndarray, gamma: np.ndarray | float = 1.0, beta: np.ndarray | float = 0.0) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + 1e-12) * gamma + beta


def factorised_embeddings(teacher: dict[str, np.ndarray], rows: np.ndarray, width: int,
                          seed: int = 0) -> tuple[dict[str, np.ndarray], float]:
    """Reduced table, positions and types, unit norm, and the fitted projection; with the fit's mean cosine."""
    positions, types = teacher["position_embedding/embeddings"], teacher["type_embeddings/embeddings"]
    rng = np.random.default_rng(seed)
    pieces = rng.integers(0, rows.shape[0], FIT_SAMPLES)
    where = rng.integers(0, min(FIT_POSITIONS, positions.shape[0]), FIT_SAMPLES)
    summed = rows[pieces] + positions[where] + types[0]                               # [N, H]
    # The top-E directions of what the LayerNorm sees (piece + position + type), not of the table
    # alone: on e5 at E=128 that fits the teacher's embedding output at cosine 0.78 instead of 0.75.
    _, basis = svd_embeddings(summed, width)                                           # [E, H]
    target = _layer_norm(summed, teacher["embeddings/layer_norm/gamma"], teacher["embeddings/layer_norm/beta"])
    normalised = _layer_norm(summed @ basis.T)                                         # [N, E]
    design = np.concatenate([normalised, np.ones([FIT_SAMPLES, 1])], axis=1)
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)                         # [E + 1, H]
    fitted = design @ solution
    cosine = float(np.mean(np.sum(fitted * target, axis=1) / (
        np.linalg.norm(fitted, axis=1) * np.linalg.norm(target, axis=1) + 1e-12)))
    weights = {"word_embeddings/embeddings": rows @ basis.T,
               "position_embedding/embeddings": positions @ basis.T, "type_embeddings/embeddings": types @ basis.T,
               "embeddings/layer_norm/gamma": np.ones([width]), "embeddings/layer_norm/beta": np.zeros([width]),
               "embedding_projection/kernel": solution[:-1], "embedding_projection/bias": solution[-1]}
    return weights, cosine


def init_from_teacher_layers(student_encoder, teacher_encoder, layers: tuple[int, ...],
                             rows: np.ndarray | None = None, seed: int = 0, log=print) -> None:
    """Student layer i <- teacher layer `layers[i]` (1-based); embeddings from the teacher's, see above.

    `rows`: `[student vocab, teacher hidden]`, the teacher row of each student piece; None when the
    student shares the teacher's vocabulary.
    """
    # Only the embeddings and the copied layers, in float64 for the fit: not the whole teacher
    # (e5's 250k-row table alone is 768 MB in float64, and `rows` already holds the student's).
    copied = tuple(f"transformer/layer_{layer - 1}/" for layer in layers)
    skipped = ("transformer/layer_",) + (("word_embeddings/",) if rows is not None else ())

    def needed(name: str) -> bool:
        return name.startswith(copied) or not name.startswith(skipped)

    weights_by_name = {canonical_name(v.name): v for v in teacher_encoder.weights}
    teacher = {name: v.numpy().astype(np.float64) for name, v in weights_by_name.items() if needed(name)}
    rows = teacher["word_embeddings/embeddings"] if rows is None else np.asarray(rows, np.float64)
    width = int(student_encoder.get_embedding_table().shape[1])
    if width == rows.shape[1]:
        weights = {name: teacher[name] for name in ("position_embedding/embeddings", "type_embeddings/embeddings",
                                                    "embeddings/layer_norm/gamma", "embeddings/layer_norm/beta")}
        weights["word_embeddings/embeddings"] = rows
        note = "the teacher's rows at full width"
    else:
        weights, cosine = factorised_embeddings(teacher, rows, width, seed)
        note = f"the teacher's rows reduced to {width} dims, projection fitted (mean cosine {cosine:.4f})"
    for index, layer in enumerate(layers):
        prefix = f"transformer/layer_{layer - 1}/"
        weights.update({f"transformer/layer_{index}/{name[len(prefix):]}": value
                        for name, value in teacher.items() if name.startswith(prefix)})
    for variable in student_encoder.weights:
        name = canonical_name(variable.name)
        if name not in weights:
            if name and name.startswith("pooler_transform/"):
                continue
            raise UserError(f"--student_teacher_layers: the teacher has no weight for the student's {name}")
        if tuple(weights[name].shape) != tuple(variable.shape):
            raise UserError(f"--student_teacher_layers: {name} is {tuple(weights[name].shape)} in the teacher, "
                            f"{tuple(variable.shape)} in the student")
        variable.assign(weights[name].astype(variable.dtype.as_numpy_dtype))
    log(f"[distill] student = teacher layers {','.join(map(str, layers))}; word embeddings: {note}")
