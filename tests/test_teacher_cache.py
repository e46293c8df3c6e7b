"""The top-k teacher cache: its loss against the full soft loss, and a write/read round trip."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tagger.data import pipeline
from tagger.data.wordpiece import WordPieceTokenizer, load_vocab
from tagger.distill import losses, recipes, teacher_cache
from test_distill import tiny_models


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def test_top_k_loss_with_every_class_is_the_full_soft_loss():
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(2, 3, 5)).astype(np.float32)
    student = rng.normal(size=(2, 3, 5)).astype(np.float32)
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    top = tf.math.top_k(teacher, k=5)
    got = losses.top_k_soft_cross_entropy(top.values, top.indices, student, 3.0, mask)
    assert float(got) == pytest.approx(float(losses.soft_cross_entropy(teacher, student, 3.0, mask)), rel=1e-6)


def test_top_k_loss_by_hand():
    teacher = np.array([[[4.0, 1.0, 3.0, -2.0]]], np.float32)
    student = np.array([[[0.5, 0.0, 2.0, 1.0]]], np.float32)
    t = 2.0
    # teacher renormalised over its 2 best classes (0 and 2); student's full softmax read there
    p = softmax(np.array([4.0, 3.0]) / t)
    log_q = np.log(softmax(student[0, 0] / t))
    expected = -(p[0] * log_q[0] + p[1] * log_q[2])
    got = losses.top_k_soft_cross_entropy([[[4.0, 3.0]]], [[[0, 2]]], student, t, np.ones([1, 1]))
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_cache_round_trip_and_loss(tmp_path, tiny_vocab_file):
    tasks = {"upos": ["<unk>", "NOUN", "VERB"], "ner": ["<unk>", "O", "B-PER", "I-PER", "B-LOC"]}
    vocab = load_vocab(tiny_vocab_file)
    teacher, student = tiny_models(tasks, vocab_size=len(vocab))
    tokenizer = WordPieceTokenizer(vocab, lower_case=False, max_seq_length=16)
    lines = tf.data.Dataset.from_tensor_slices(["the cat sat on the mat", "Anna works in Paris for Acme",
                                                "the big dog runs in the house", "das Haus der Katze ist klein"])
    batches = pipeline.unlabeled_dataset(tokenizer, lines, 2, seed=0)
    directory = str(tmp_path / "cache")
    info = teacher_cache.write_cache(teacher, batches, directory, top_k=3, num_windows=6, windows_per_shard=4,
                                     log=lambda _: None)
    assert info["windows"] == 6 and info["shards"] == 2
    assert info["k_per_task"] == {"upos": 3, "ner": 3}
    # a finished cache with the same settings is reused, not rewritten
    stamp = os.path.getmtime(os.path.join(directory, "shard-00000.tfrecord"))
    teacher_cache.write_cache(teacher, batches, directory, top_k=3, num_windows=6, log=lambda _: None)
    assert os.path.getmtime(os.path.join(directory, "shard-00000.tfrecord")) == stamp
    # another teacher or transfer text (its `source`) rebuilds it
    rebuilt = teacher_cache.write_cache(teacher, batches, directory, top_k=3, num_windows=6, source="other text",
                                        log=lambda _: None)
    assert rebuilt["source"] == "other text" == teacher_cache.read_info(directory)["source"]

    batch = next(iter(teacher_cache.cached_dataset(directory, 2, pad_id=tokenizer.pad_id)))
    logits = teacher(batch, training=False)
    lengths = batch["input_mask"].numpy().sum(axis=1)
    for task in tasks:
        top = tf.math.top_k(logits[task], k=3)
        for row, length in enumerate(lengths):  # padding aside, the cache holds the teacher's top-k
            np.testing.assert_allclose(batch[teacher_cache.values_key(task)][row, :length],
                                       top.values[row, :length], atol=1e-5)
            np.testing.assert_array_equal(batch[teacher_cache.ids_key(task)][row, :length],
                                          top.indices[row, :length])

    # the soft stage on a cached batch uses the cache: with k = classes it equals the on-the-fly loss
    full = str(tmp_path / "full")
    teacher_cache.write_cache(teacher, batches, full, top_k=5, num_windows=4, log=lambda _: None)
    batch = next(iter(teacher_cache.cached_dataset(full, 2, pad_id=tokenizer.pad_id)))
    distiller = recipes.Distiller(teacher, student, tf.distribute.get_strategy(), str(tmp_path / "work"),
                                  teacher_layer=1)
    cached = distiller.stage_loss("soft_cached", batch, training=False)
    plain = {name: batch[name] for name in teacher_cache.WINDOW_FEATURES}
    on_the_fly = distiller.stage_loss("soft", plain, training=False)
    for name in ("soft_upos", "soft_ner"):
        assert float(cached[name]) == pytest.approx(float(on_the_fly[name]), rel=1e-5)
    with open(os.path.join(full, teacher_cache.INFO_FILE)) as f:
        assert json.load(f)["k_per_task"] == {"upos": 3, "ner": 5}  # k is capped at the label count


class Killed(Exception):
    pass


def records(path: str) -> list:
    """The features of each tf.train.Example in a TFRecord file."""
    return [tf.train.Example.FromString(r.numpy()).features.feature for r in tf.data.TFRecordDataset(path)]


def assert_killed_cache_resumes(tmp_path, write, num_windows: int):
    """`write(directory, log, **settings)` writes a cache in shards of 4 `num_windows` (> 8) long; killed
    when its third shard opens, it resumes after the first two, leaves them untouched, and ends like
    one written in a single go: the same windows and top-k ids, the same values up to float rounding
    (the teacher's function is traced for other shapes first when it resumes)."""
    whole, cut = str(tmp_path / "whole"), str(tmp_path / "cut")
    write(whole, lambda _: None, num_windows=num_windows)

    def kill_at_third_shard(message):
        if message.startswith(f"[teacher cache] 8/{num_windows} "):
            raise Killed
    with pytest.raises(Killed):
        write(cut, kill_at_third_shard, num_windows=num_windows)
    assert teacher_cache.read_info(cut) is None and teacher_cache.read_info(cut, "progress.json")["shards_done"] == 2
    stamps = [os.stat(os.path.join(cut, f"shard-0000{i}.tfrecord")).st_mtime_ns for i in range(2)]
    messages = []
    info = write(cut, messages.append, num_windows=num_windows)
    assert any("resuming after the 2 finished shard(s)" in m for m in messages)
    assert [os.stat(os.path.join(cut, f"shard-0000{i}.tfrecord")).st_mtime_ns for i in range(2)] == stamps
    assert info == teacher_cache.read_info(whole) and sorted(os.listdir(cut)) == sorted(os.listdir(whole))
    for name in sorted(n for n in os.listdir(whole) if n.endswith(".tfrecord")):
        for a, b in zip(records(os.path.join(whole, name)), records(os.path.join(cut, name)), strict=True):
            assert sorted(a) == sorted(b)
            for key in a:
                if a[key].HasField("float_list"):
                    np.testing.assert_allclose(a[key].float_list.value, b[key].float_list.value, atol=1e-5)
                else:
                    assert a[key] == b[key], (name, key)
    # other settings do not resume: the unfinished cache is rebuilt from the start
    with pytest.raises(Killed):
        write(cut, kill_at_third_shard, num_windows=num_windows, source="first")
    messages.clear()
    assert write(cut, messages.append, num_windows=num_windows, source="second")["source"] == "second"
    assert not any("resuming" in m for m in messages)


def test_killed_cache_resumes_after_its_closed_shards(tmp_path, tiny_vocab_file):
    vocab = load_vocab(tiny_vocab_file)
    teacher, _ = tiny_models({"upos": ["<unk>", "NOUN", "VERB"]}, vocab_size=len(vocab))
    tokenizer = WordPieceTokenizer(vocab, lower_case=False, max_seq_length=16)
    lines = tf.data.Dataset.from_tensor_slices(["the cat sat on the mat", "Anna works in Paris for Acme",
                                                "the big dog runs in the house", "das Haus der Katze ist klein"])
    assert_killed_cache_resumes(tmp_path, lambda directory, log, **settings: teacher_cache.write_cache(
        teacher, pipeline.unlabeled_dataset(tokenizer, lines, 3, seed=5), directory, top_k=2, windows_per_shard=4,
        log=log, **settings), num_windows=11)


def test_dev_loss_sample_spans_the_whole_dev_set():
    from tagger.distill.job import evenly_spaced
    assert evenly_spaced(list(range(10)), 3) == [0, 3, 6]
    assert evenly_spaced(list(range(4)), 0) == [0, 1, 2, 3]
    assert evenly_spaced(list(range(4)), 9) == [0, 1, 2, 3]


def test_distill_binary_trains_from_the_cache(tmp_path, sample_tagger_dir):
    """`--teacher_cache_topk` end to end: the binary writes the cache, records its source, trains on it."""
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(__file__))
    model_dir = tmp_path / "student"
    command = [sys.executable, "-m", "tagger.distill", f"--teacher_dir={sample_tagger_dir}", "--recipe=tsai2019",
               f"--model_dir={model_dir}", "--train_data=tagger/sample/ud/en_sample/*-train.conllu",
               "--test_data=tagger/sample/ud/en_sample/*-test.conllu", "--tasks=upos",
               "--unlabeled_data=tagger/sample/unlabeled/*.txt", "--student=minibert", "--max_seq_length=32",
               "--distill_steps=6", "--distill_batch_size=8", "--finetune_steps=2", "--finetune_batch_size=8",
               "--teacher_cache_topk=4", "--teacher_cache_windows=40", "--export="]
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[teacher cache] 40 windows" in result.stdout
    info = teacher_cache.read_info(str(model_dir / "teacher_cache"))
    assert info["windows"] == 40 and info["k_per_task"]["upos"] == 4
    assert json.loads(info["source"])["unlabeled_data"] == "tagger/sample/unlabeled/*.txt"
    with open(model_dir / "metrics" / "test.json") as f:
        assert json.load(f)["tasks"]["upos"]["per_treebank"]["en_sample"]["words"] > 0
