"""The student's own vocabulary (`--student_vocab`): the teacher's, a trimmed copy of it, or any file.

A multilingual teacher's table would dwarf a small student: multilingual-e5's 250k pieces at width
256 are 64M parameters, more than the teacher's encoder. `trim:N` keeps the N pieces the teacher's
tokenizer produces most often on the transfer and training text, plus every single-character piece
that text needs, so the text stays covered. The trimmed file keeps the teacher's format (`vocab.txt`
or a SentencePiece model proto) and the teacher's order.

Each student row starts from the teacher's row for the same piece. A piece the teacher lacks (a
`FILE` vocabulary of another family) starts from the mean of the rows of the pieces the teacher cuts
its text into. The rows are then SVD-reduced to the student's width, as with the teacher's vocab.
"""
from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from sentencepiece import sentencepiece_model_pb2 as spm_pb2

from tagger.data import corpus, pipeline, tokenizer_files
from tagger.data.sentencepiece import SPACE
from tagger.data.tokenizer import PieceTokenizer
from tagger.data.wordpiece import load_vocab
from tagger.errors import UserError

CONTINUATION = "##"


def parse(value: str) -> tuple[str, int | str | None]:
    """`teacher` -> ('teacher', None); `trim:N` -> ('trim', N); anything else -> ('file', path)."""
    if value == "teacher":
        return "teacher", None
    if value.startswith("trim:"):
        try:
            size = int(value[len("trim:"):])
        except ValueError:
            size = 0
        if size <= 0:
            raise UserError(f"--student_vocab={value}: expected trim:N with N a positive number of pieces")
        return "trim", size
    if not os.path.isfile(value):
        raise UserError(f"--student_vocab={value}: expected teacher, trim:N, or a vocab.txt / SentencePiece "
                         "model file, and no such file exists")
    return "file", value


def pieces_of(path: str) -> list[str]:
    """The pieces of a tokenizer file, by id."""
    if tokenizer_files.kind_of(path) == "wordpiece":
        return load_vocab(path)
    return [p.piece for p in spm_pb2.ModelProto.FromString(tokenizer_files.read_sentencepiece(path)).pieces]


def piece_counts(tokenizer: PieceTokenizer, lines: list[str], batch_size: int = 512) -> np.ndarray:
    """How often the tokenizer produces each id on `lines` (raw text, the toolkit's word rule)."""
    counts = np.zeros([tokenizer.vocab_size], np.int64)
    for begin in range(0, len(lines), batch_size):
        ids = tokenizer.text_to_pieces(tf.constant(lines[begin:begin + batch_size], tf.string))["piece_ids"]
        counts += np.bincount(ids.numpy(), minlength=tokenizer.vocab_size)[:tokenizer.vocab_size]
    return counts


def _special(kind: str, piece: str, index: int, proto=None) -> bool:
    if kind == "wordpiece":
        return piece.startswith("[") and piece.endswith("]")
    return proto.pieces[index].type in (spm_pb2.ModelProto.SentencePiece.CONTROL,
                                        spm_pb2.ModelProto.SentencePiece.UNKNOWN)


def single_character_pieces(kind: str, pieces: list[str], characters: set[str]) -> set[int]:
    """Ids of the one-character pieces (word-initial and continuing) for each character seen."""
    forms = ((lambda c: (c, CONTINUATION + c)) if kind == "wordpiece" else (lambda c: (c, SPACE + c)))
    index = {piece: i for i, piece in enumerate(pieces)}
    needed = {index[form] for c in characters for form in forms(c) if form in index}
    if kind == "sentencepiece" and SPACE in index:  # the word boundary every SentencePiece word starts with
        needed.add(index[SPACE])
    return needed


def trim(teacher_file: str, tokenizer: PieceTokenizer, lines: list[str], size: int, model_dir: str,
         log=print) -> str:
    """Writes the trimmed vocabulary into `model_dir` (teacher's format and order); returns its path."""
    kind = tokenizer_files.kind_of(teacher_file)
    pieces = pieces_of(teacher_file)
    proto = None if kind == "wordpiece" else spm_pb2.ModelProto.FromString(
        tokenizer_files.read_sentencepiece(teacher_file))
    counts = piece_counts(tokenizer, lines)
    special = {i for i, p in enumerate(pieces) if _special(kind, p, i, proto)}
    seen = [i for i in np.argsort(-counts, kind="stable") if counts[i] > 0 and i not in special]
    characters = set("".join(lines)) - set(" \t\n\r")
    if tokenizer.lower_case:
        characters = {c.lower() for c in characters}
    singles = single_character_pieces(kind, pieces, characters)
    keep = sorted(special | set(seen[:size]) | singles)
    covered = counts[keep].sum() / max(counts.sum(), 1)
    log(f"[student vocab] trim:{size}: {len(keep)} of {len(pieces)} pieces ({len(singles)} single characters, "
        f"{len(special)} specials); the kept pieces are {100 * covered:.2f}% of the teacher's pieces on "
        f"{len(lines)} lines")
    if kind == "wordpiece":
        path = os.path.join(model_dir, "vocab.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(pieces[i] + "\n" for i in keep))
        return path
    new_id = {old: new for new, old in enumerate(keep)}
    trimmed = spm_pb2.ModelProto()
    trimmed.CopyFrom(proto)
    del trimmed.pieces[:]
    trimmed.pieces.extend(proto.pieces[i] for i in keep)
    spec = trimmed.trainer_spec
    spec.vocab_size = len(keep)
    for name in ("unk_id", "bos_id", "eos_id", "pad_id"):
        if getattr(proto.trainer_spec, name) >= 0:
            setattr(spec, name, new_id[getattr(proto.trainer_spec, name)])
    path = os.path.join(model_dir, "sentencepiece.model")
    with open(path, "wb") as f:
        f.write(trimmed.SerializeToString())
    return path


def _surface(kind: str, piece: str) -> tuple[bool, str]:
    """(opens a word, text) of a piece, to match pieces across WordPiece and SentencePiece."""
    if kind == "wordpiece":
        return (False, piece[len(CONTINUATION):]) if piece.startswith(CONTINUATION) else (True, piece)
    return (True, piece[len(SPACE):]) if piece.startswith(SPACE) else (False, piece)


def teacher_rows(student_file: str, student: PieceTokenizer, teacher_file: str,
                 teacher: PieceTokenizer) -> list[list[int]]:
    """For each student id, the teacher ids whose embedding rows it starts from (their mean)."""
    student_kind, teacher_kind = tokenizer_files.kind_of(student_file), tokenizer_files.kind_of(teacher_file)
    student_pieces, teacher_pieces = pieces_of(student_file), pieces_of(teacher_file)
    exact = {piece: i for i, piece in enumerate(teacher_pieces)}
    by_surface = {_surface(teacher_kind, piece): i for i, piece in reversed(list(enumerate(teacher_pieces)))}
    roles = {getattr(student, f"{role}_id"): getattr(teacher, f"{role}_id") for role in ("pad", "unk", "cls", "sep")}
    rows: list[list[int] | None] = []
    for i, piece in enumerate(student_pieces):
        if i in roles:
            rows.append([roles[i]])
        elif student_kind == teacher_kind and piece in exact:
            rows.append([exact[piece]])
        elif _surface(student_kind, piece) in by_surface:
            rows.append([by_surface[_surface(student_kind, piece)]])
        else:
            rows.append(None)
    missing = [i for i, row in enumerate(rows) if row is None]
    if missing:  # the teacher's own pieces for the piece's text
        texts = [_surface(student_kind, student_pieces[i])[1] or student_pieces[i] for i in missing]
        words = tf.ragged.constant([[t] for t in texts], dtype=tf.string)
        pieces = teacher.words_to_pieces(words)
        counts = pieces["sentence_piece_counts"].numpy()
        ids = np.split(pieces["piece_ids"].numpy(), np.cumsum(counts)[:-1])
        for i, teacher_ids in zip(missing, ids):
            rows[i] = [int(t) for t in teacher_ids] or [teacher.unk_id]
    return rows


def student_table(teacher_table: np.ndarray, rows: list[list[int]]) -> np.ndarray:
    """`[student vocab, teacher width]`: the mean teacher row of each student piece."""
    return np.stack([teacher_table[ids].mean(axis=0) for ids in rows]).astype(np.float32)


def transfer_sample(patterns: str | None, lines_per_file: int, data_dir: str | None = None) -> list[str]:
    """The first `lines_per_file` lines of every transfer file, so every language counts in the trim."""
    if not patterns:
        return []
    sources = [patterns] if patterns.startswith("tfds:") else corpus.expand_globs(patterns)
    return [line.decode("utf-8", "replace") for source in sources
            for line in pipeline.text_lines(source, data_dir=data_dir).take(lines_per_file).as_numpy_iterator()]


def build(value: str, teacher_file: str, teacher: PieceTokenizer, model_dir: str, text: list[str],
          log=print) -> tuple[PieceTokenizer, str]:
    """The student's tokenizer and its file for `--student_vocab=value`; `text` feeds `trim:N`.

    Windows (`max_seq_length`, context) and, for WordPiece, casing follow the teacher's tokenizer.
    """
    kind, argument = parse(value)
    if kind == "teacher":
        return teacher, teacher_file
    if kind == "trim":
        os.makedirs(model_dir, exist_ok=True)
        path = trim(teacher_file, teacher, text, argument, model_dir, log=log)
        same_family = tokenizer_files.kind_of(path) == teacher.kind
    else:
        path, same_family = argument, tokenizer_files.kind_of(argument) == teacher.kind
    casing = {"lower_case": teacher.lower_case, "casing_feature": teacher.casing_feature} \
        if same_family and teacher.kind == "wordpiece" else {}
    return tokenizer_files.build_tokenizer(path, max_seq_length=teacher.max_seq_length, context=teacher.context,
                                           **casing), path
