"""Word-level distillation and the student's own vocabulary (--student_vocab)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import SAMPLE
from tagger.data import word_transfer
from tagger.data.tokenizer_files import build_tokenizer
from tagger.distill import distill_data, label_targets, losses, recipes, student_vocab, teacher_cache
from tagger.errors import UserError
from tagger.models.tagger import load_model_dir
from test_teacher_cache import assert_killed_cache_resumes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_VOCAB = os.path.join(SAMPLE, "vocab.txt")
LINES = ["The cat sat on the mat near the big house in Paris today.",
         "Der Hund läuft schnell über die Straße, und die Katze schläft.",
         "El perro come en la casa grande.",
         " ".join(["word"] * 90) + " end."]  # longer than one window of either tokenizer


def transfer(student, teacher, lines, batch_size=2):
    data = tf.data.Dataset.from_tensor_slices(lines)
    return word_transfer.transfer_batches(student, teacher, data, batch_size, repeat=False, keep_words=True)


def test_both_tokenizers_give_one_position_per_word(tiny_spm_file):
    """WordPiece student, SentencePiece teacher, windows of different sizes: the word rows line up."""
    student = build_tokenizer(SAMPLE_VOCAB, max_seq_length=16)
    teacher = build_tokenizer(tiny_spm_file, max_seq_length=24)
    seen = 0
    for batch in transfer(student, teacher, LINES):
        words = int(batch["words"].flat_values.shape[0])
        assert int(tf.reduce_sum(batch["word_mask"])) == words == int(tf.reduce_sum(batch["teacher_word_mask"]))
        values = tf.random.normal(tf.concat([tf.shape(batch["input_word_ids"]), [3]], 0))
        assert word_transfer.per_word(values, batch).shape == [words, 3]
        seen += int(batch["words"].nrows())
    assert seen == len(LINES)


def test_word_level_soft_loss_is_the_first_piece_loss_on_one_vocabulary():
    """Same tokenizer for both: the word-level loss is the per-piece loss restricted to first pieces."""
    tokenizer = build_tokenizer(SAMPLE_VOCAB, max_seq_length=32)
    batch = next(iter(transfer(tokenizer, tokenizer, LINES[:2])))
    shape = tf.concat([tf.shape(batch["input_word_ids"]), [5]], 0)
    teacher_logits, student_logits = tf.random.normal(shape, seed=1), tf.random.normal(shape, seed=2)
    per_piece = losses.soft_cross_entropy(teacher_logits, student_logits, 2.0, batch["word_mask"])
    words = int(tf.reduce_sum(batch["word_mask"]))
    per_word = losses.soft_cross_entropy(word_transfer.per_word(teacher_logits, batch, teacher=True),
                                         word_transfer.per_word(student_logits, batch), 2.0, tf.ones([words]))
    assert float(per_word) == pytest.approx(float(per_piece), rel=1e-6)


def test_heads_on_word_rows_equal_the_word_rows_of_all_heads(sample_tagger_dir):
    """Tagger(rows=per_word): the heads run on each word's first piece only, with the same logits."""
    model, tokenizer, _ = load_model_dir(sample_tagger_dir)
    batch = next(iter(transfer(tokenizer, tokenizer, LINES[:2])))
    everywhere = model(batch, training=False)
    at_words = model(batch, training=False, rows=lambda v: word_transfer.per_word(v, batch))
    words = int(tf.reduce_sum(batch["word_mask"]))
    for task, logits in everywhere.items():
        assert at_words[task].shape == [words, logits.shape[-1]]
        np.testing.assert_allclose(at_words[task].numpy(), word_transfer.per_word(logits, batch).numpy(),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["wordpiece", "sentencepiece"])
def test_trim_keeps_frequent_and_single_character_pieces(tmp_path, kind, tiny_spm_file):
    source = SAMPLE_VOCAB if kind == "wordpiece" else tiny_spm_file
    teacher = build_tokenizer(source)
    text = student_vocab.transfer_sample(os.path.join(SAMPLE, "unlabeled", "*.txt"), 40)
    path = student_vocab.trim(source, teacher, text, 60, str(tmp_path), log=lambda _: None)
    pieces, teacher_pieces = student_vocab.pieces_of(path), student_vocab.pieces_of(source)
    assert 60 < len(pieces) < len(teacher_pieces)
    assert pieces == [p for p in teacher_pieces if p in set(pieces)]  # the teacher's order
    counts = student_vocab.piece_counts(teacher, text)
    top = [teacher_pieces[i] for i in np.argsort(-counts, kind="stable")[:30]]
    assert set(top) <= set(pieces)
    student = build_tokenizer(path)
    for role in ("pad", "unk", "cls", "sep"):
        assert pieces[getattr(student, f"{role}_id")] == teacher_pieces[getattr(teacher, f"{role}_id")]
    ids = student.text_to_pieces(tf.constant(text))["piece_ids"].numpy()
    assert not np.any(ids == student.unk_id)  # single characters cover all the text


def test_teacher_rows_match_pieces_across_families(tiny_spm_file):
    wordpiece, sentencepiece = build_tokenizer(SAMPLE_VOCAB), build_tokenizer(tiny_spm_file)
    rows = student_vocab.teacher_rows(SAMPLE_VOCAB, wordpiece, tiny_spm_file, sentencepiece)
    wp, sp = student_vocab.pieces_of(SAMPLE_VOCAB), student_vocab.pieces_of(tiny_spm_file)
    assert rows[wordpiece.cls_id] == [sentencepiece.cls_id] and rows[wordpiece.pad_id] == [sentencepiece.pad_id]
    matched = 0
    for i, piece in enumerate(wp):
        if not piece.startswith("[") and "\u2581" + piece in sp:  # a word-initial piece: "▁piece"
            assert rows[i] == [sp.index("\u2581" + piece)]
            matched += 1
    assert matched > 20
    table = np.arange(len(sp) * 2, dtype=np.float32).reshape(len(sp), 2)
    mean_rows = student_vocab.student_table(table, rows)
    assert mean_rows.shape == (len(wp), 2)
    np.testing.assert_allclose(mean_rows[5], table[rows[5]].mean(axis=0))


def test_vocab_choice_errors(tmp_path):
    for bad in ("trim:0", "trim:x", str(tmp_path / "missing.txt")):
        with pytest.raises(UserError, match="--student_vocab"):
            student_vocab.parse(bad)
    from tagger.distill.job import level_choice
    with pytest.raises(UserError, match="word level"):
        level_choice("piece", True, print)
    assert level_choice("auto", True, lambda _: None) == "word"
    assert level_choice("auto", False, lambda _: None) == "piece"


def test_word_level_cache_round_trip(tmp_path, sample_tagger_dir, tiny_spm_file):
    """Cached per-word top-k read back for a student of another vocabulary equals the live teacher's."""
    teacher, tokenizer, _ = load_model_dir(sample_tagger_dir)
    student = build_tokenizer(tiny_spm_file, max_seq_length=32)
    data = distill_data.make_data(student, {}, None, lambda context: tf.data.Dataset.from_tensor_slices(LINES[:3]), 0,
                                  teacher_tokenizer=tokenizer)
    directory = str(tmp_path / "cache")
    source = lambda size, context: transfer(student, tokenizer, LINES[:3], size)
    info = teacher_cache.write_cache(teacher, source(3, None), directory, top_k=4, num_windows=3, level="word",
                                     log=lambda _: None)
    assert info["level"] == "word" and info["windows"] == 3
    live = next(iter(source(3, None)))
    logits = teacher(word_transfer.teacher_inputs(live))["upos"]
    expected = tf.math.top_k(word_transfer.per_word(logits, live, teacher=True), k=4)
    cached = next(iter(teacher_cache.cached_dataset(directory, 3, shuffle_buffer=1, student_tokenizer=student)))
    assert int(tf.reduce_sum(cached["word_mask"])) == cached[teacher_cache.values_key("upos")].shape[0]
    # same sentences, maybe another order: compare the multiset of per-word top values
    np.testing.assert_allclose(np.sort(cached[teacher_cache.values_key("upos")].numpy(), axis=None),
                               np.sort(expected.values.numpy(), axis=None), atol=1e-5)
    assert data.cache_source_fn is not None and data.dev_for("soft") is None
    assert_killed_cache_resumes(tmp_path / "resume", lambda directory, log, **settings: teacher_cache.write_cache(
        teacher, word_transfer.transfer_batches(student, tokenizer, tf.data.Dataset.from_tensor_slices(LINES), 3,
                                                keep_words=True), directory, top_k=4, windows_per_shard=4,
        level="word", log=log, **settings),
        num_windows=10)


def distill_command(model_dir, teacher_dir, *extra):
    return [sys.executable, "-m", "tagger.distill", f"--teacher_dir={teacher_dir}", f"--model_dir={model_dir}",
            "--train_data=tagger/sample/ud/*/*-train.conllu", "--dev_data=tagger/sample/ud/en_sample/*-dev.conllu",
            "--test_data=tagger/sample/ud/en_sample/*-test.conllu", "--tasks=upos",
            "--unlabeled_data=tagger/sample/unlabeled/*.txt", "--max_seq_length=32", "--student_layers=1",
            "--student_hidden_size=16", "--student_heads=2", "--student_intermediate_size=32",
            "--distill_steps=6", "--distill_batch_size=8", "--finetune_steps=2", "--finetune_batch_size=8",
            "--student_vocab_sample_lines=50", "--export=", *extra]


@pytest.mark.parametrize("recipe,extra", [
    ("tsai2019", ["--student_vocab=trim:120", "--teacher_cache_topk=4", "--teacher_cache_windows=30"]),
    ("xtremedistil", ["--student_vocab=trim:120", "--student_head_ranks=upos:4", "--export=float32"]),
    ("labels_kd", ["--student_vocab=trim:120", "--teacher_cache_topk=4"]),
])
def test_distill_a_student_with_a_trimmed_vocab(tmp_path, sample_tagger_dir, recipe, extra):
    """End to end: trimmed vocab.txt in the student's dir, word-level stages, a loadable smaller model."""
    model_dir = tmp_path / "student"
    result = subprocess.run(distill_command(model_dir, sample_tagger_dir, f"--recipe={recipe}", *extra),
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "word-level losses on transfer text (auto: the student has its own vocabulary)" in result.stdout
    model, tokenizer, config = load_model_dir(str(model_dir))
    teacher_size = len(student_vocab.pieces_of(SAMPLE_VOCAB))
    assert config["student_vocab"] == "trim:120" and config["distill_level"] == "word"
    assert tokenizer.vocab_size == config["encoder"]["vocab_size"] < teacher_size
    assert int(model.encoder.get_embedding_table().shape[0]) == tokenizer.vocab_size
    with open(model_dir / "metrics" / "test.json") as f:
        assert json.load(f)["tasks"]["upos"]["per_treebank"]["en_sample"]["words"] > 0
    if recipe == "tsai2019":
        assert teacher_cache.read_info(str(model_dir / "teacher_cache"))["level"] == "word"
    if recipe == "labels_kd":  # the teacher's top-4 at each training word, by the teacher's tokenizer
        with np.load(model_dir / label_targets.FILE) as targets:
            assert targets[teacher_cache.ids_key("ufeats")].shape[1] == 4
        assert not (model_dir / "teacher_cache").exists()
    if "--student_head_ranks=upos:4" in extra:  # a low-rank head trains, reloads and exports as its checkpoint
        assert config["head_ranks"] == {"upos": 4}
        labels = len(config["tasks"]["upos"])
        assert [int(v.shape[-1]) for v in model.heads["upos"].trainable_variables] == [4, labels, labels]
        with open(model_dir / "metrics" / "verify.json") as f:
            assert json.load(f)["passed"]


def test_head_rank_for_an_unknown_task_stops_before_work(tmp_path, sample_tagger_dir):
    result = subprocess.run(distill_command(tmp_path / "student", sample_tagger_dir, "--student_head_ranks=xpos:4"),
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "--student_head_ranks: head rank 'xpos:4': no task 'xpos' (tasks: upos" in result.stderr
    assert not (tmp_path / "student").exists()
