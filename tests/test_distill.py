"""Distillation: losses as the papers define them, unfreezing, SVD init, multi-task masks, a tiny run."""
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from tagger.data.labels import IGNORE_ID
from tagger.distill import distill_data, losses, recipes
from tagger.models import encoders, students
from tagger.models.build import build_encoder
from tagger.models.tagger import Tagger
from tagger.training import tagging_loss


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def test_soft_cross_entropy_by_hand():
    teacher = np.array([[[2.0, 0.0, -1.0], [0.5, 0.5, 3.0], [9.0, 9.0, 9.0]]], np.float32)
    student = np.array([[[1.0, 1.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 0.0]]], np.float32)
    mask = np.array([[1, 1, 0]])
    t = 3.0
    expected = np.mean([-np.sum(softmax(teacher[0, i] / t) * np.log(softmax(student[0, i] / t))) for i in (0, 1)])
    got = losses.soft_cross_entropy(teacher, student, t, mask)
    assert float(got) == pytest.approx(expected, rel=1e-6)
    # at T=1 with identical logits it is the teacher's entropy
    p = softmax(teacher[0, 0])
    assert float(losses.soft_cross_entropy(teacher[:, :1], teacher[:, :1], 1.0, mask[:, :1])) == \
        pytest.approx(-np.sum(p * np.log(p)), rel=1e-6)


def test_logit_mse_by_hand():
    teacher = np.array([[[1.0, 2.0], [0.0, 0.0]]], np.float32)
    student = np.array([[[0.0, 0.0], [5.0, 5.0]]], np.float32)
    # token 1: 0.5 * (1 + 4) = 2.5; token 2 masked out
    assert float(losses.logit_mse(teacher, student, np.array([[1, 0]]))) == pytest.approx(2.5)


def test_representation_losses_by_hand():
    teacher = np.array([[[1.0, 0.0, 0.0]]], np.float32)
    student = np.array([[[0.0, 0.0, 1.0]]], np.float32)
    mask = np.ones([1, 1])
    assert float(losses.representation_loss(student, teacher, mask, "mse")) == pytest.approx(2 / 3)
    p, q = softmax(teacher[0, 0]), softmax(student[0, 0])
    assert float(losses.representation_loss(student, teacher, mask, "kld")) == \
        pytest.approx(np.sum(p * np.log(p / q)), rel=1e-5)
    assert float(losses.representation_loss(teacher, teacher, mask, "kld")) == pytest.approx(0, abs=1e-7)


def test_svd_init_reproduces_top_subspace():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(300, 24)) @ np.diag(np.linspace(3, 0.1, 24)) @ np.linalg.qr(rng.normal(size=(24, 24)))[0]
    reduced, basis = students.svd_embeddings(table, 8)
    u, s, vt = np.linalg.svd(table, full_matrices=False)
    best_rank8 = (u[:, :8] * s[:8]) @ vt[:8]
    np.testing.assert_allclose(reduced @ basis, best_rank8, atol=1e-4)
    np.testing.assert_allclose(basis @ basis.T, np.eye(8), atol=1e-5)


def tiny_models(tasks=None, vocab_size=50):
    tasks = tasks or {"upos": ["<unk>", "NOUN", "VERB"], "ner": ["<unk>", "O", "B-PER"]}
    teacher = Tagger(encoders.build_bert_encoder(encoders.bert_config(
        vocab_size=vocab_size, hidden_size=16, num_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=32)), tasks).build_variables()
    student = Tagger(build_encoder(students.minibert_config(
        vocab_size, num_layers=2, hidden_size=8, num_attention_heads=2, intermediate_size=16, max_position_embeddings=32,
        embedding_width=4)), tasks).build_variables()
    return teacher, student


def test_svd_init_of_a_factorised_student():
    teacher, student = tiny_models()
    students.init_from_teacher_embeddings(student.encoder, teacher.encoder)
    table = teacher.encoder.get_embedding_table().numpy()
    reduced, _ = students.svd_embeddings(table, 4)
    np.testing.assert_allclose(student.encoder.get_embedding_table().numpy(), reduced, atol=1e-5)


def batch(tasks_labels):
    ids = tf.constant([[2, 7, 8, 9, 3, 0], [2, 10, 11, 3, 0, 0]], tf.int32)
    mask = tf.cast(ids != 0, tf.int32)
    piece_mask = tf.constant([[0, 1, 1, 1, 0, 0], [0, 1, 1, 0, 0, 0]], tf.int32)
    return {"input_word_ids": ids, "input_mask": mask, "piece_mask": piece_mask, **tasks_labels}


def test_multi_task_masks():
    _, student = tiny_models()
    upos = tf.constant([[-1, 1, -1, 2, -1, -1], [-1, 2, 1, -1, -1, -1]], tf.int32)
    ner_missing = tf.fill([2, 6], IGNORE_ID)
    logits = student(batch({}), training=False)
    got = tagging_loss(batch({"upos": upos, "ner": ner_missing}), logits)
    assert float(got["ner"]) == 0.0  # a corpus without NER adds no NER loss
    positions = [(0, 1, 1), (0, 3, 2), (1, 1, 2), (1, 2, 1)]
    log_probs = tf.nn.log_softmax(logits["upos"]).numpy()
    expected = -np.mean([log_probs[b, t, label] for b, t, label in positions])
    assert float(got["upos"]) == pytest.approx(expected, rel=1e-5)
    # changing a masked (ignored) position's logits changes nothing; changing a labelled one does
    ignored = np.zeros(logits["upos"].shape, np.float32)
    ignored[0, 2, 1] = ignored[1, 3, 2] = 50.0  # one class at (0, 2) and (1, 3), which carry IGNORE_ID
    moved = {**logits, "upos": logits["upos"] + ignored}
    assert float(tagging_loss(batch({"upos": upos, "ner": ner_missing}), moved)["upos"]) == pytest.approx(
        float(got["upos"]), rel=1e-6)
    labelled = np.zeros(logits["upos"].shape, np.float32)
    labelled[0, 1, 0] = 50.0  # a wrong class at a labelled position
    changed = tagging_loss(batch({"upos": upos, "ner": ner_missing}), {**logits, "upos": logits["upos"] + labelled})
    assert abs(float(changed["upos"]) - float(got["upos"])) > 1e-3


def test_gradual_unfreezing_trains_only_unfrozen_groups(tmp_path):
    teacher, student = tiny_models()
    strategy = tf.distribute.get_strategy()
    distiller = recipes.Distiller(teacher, student, strategy, str(tmp_path), teacher_layer=1)
    groups = recipes.layer_groups(student, distiller.projection, "logits")
    assert [name for name, _ in groups] == ["heads", "layer_1", "layer_0", "embeddings"]
    unfrozen = groups[:2]
    trainable = [v for _, group in unfrozen for v in group]
    before = {v.ref(): v.numpy().copy() for v in student.trainable_variables}
    data = batch({})
    dataset_fn = lambda context: tf.data.Dataset.from_tensors(data).repeat()
    from tagger.training import TrainState, create_optimizer, train
    train(TrainState(str(tmp_path / "ckpt"), student, create_optimizer(1e-2, 3), tf.Variable(0, dtype=tf.int64)),
          strategy, dataset_fn, lambda b: distiller.stage_loss("logits", b), 3, variables=lambda: trainable,
          verbose=False)
    unfrozen_refs = {v.ref() for v in trainable}
    for variable in student.trainable_variables:
        changed = not np.array_equal(before[variable.ref()], variable.numpy())
        if variable.ref() in unfrozen_refs:
            assert changed or "bias" in variable.name or "beta" in variable.name, variable.name
        else:
            assert not changed, f"frozen variable {variable.name} was updated"


def test_frozen_word_embeddings_stay_as_initialised(tmp_path):
    """--freeze_word_embeddings: every stage trains the student except its word-embedding table."""
    teacher, student = tiny_models()
    students.init_from_teacher_embeddings(student.encoder, teacher.encoder)
    distiller = recipes.Distiller(teacher, student, tf.distribute.get_strategy(), str(tmp_path), teacher_layer=1,
                                  freeze_word_embeddings=True)
    table = student.encoder.get_embedding_table()
    before = {v.ref(): v.numpy().copy() for v in student.trainable_variables}
    repeat = lambda batch_size, context: tf.data.Dataset.from_tensors(batch({})).repeat()
    data = distill_data.DistillData(unlabeled_fn=repeat, labeled_fn=repeat, dev_batches=None)
    distiller.run([recipes.Stage("soft_logits", "soft", 3, 2, 1e-2, False, False)], data, log=lambda _: None)
    assert np.array_equal(before[table.ref()], table.numpy())
    changed = [v.name for v in student.trainable_variables if not np.array_equal(before[v.ref()], v.numpy())]
    assert any("embedding_projection" in name for name in changed), changed  # E x hidden still trains
    assert any("self_attention" in name for name in changed), changed


def test_stage_lists():
    names = [s.name for s in recipes.stages_for("xtremedistil", 100, 50, 8, 4, 1e-4, 3e-5)]
    assert names == ["representation", "logits", "labels"]
    only = recipes.stages_for("labels_only", 100, 50, 8, 4, 1e-4, 3e-5)
    assert [(s.name, s.steps) for s in only] == [("labels", 150)]  # the same step budget


@pytest.mark.slow
def test_quickstart_recipe_on_sample(tmp_path, sample_dir):
    """A shrunken quickstart: fine-tune teacher, xtremedistil a BiLSTM student, metrics and summary files."""
    import subprocess
    import sys
    import json
    model_dir = tmp_path / "student"
    result = subprocess.run(
        [sys.executable, "-m", "tagger.distill", "--flagfile=flags/quickstart.flags", f"--model_dir={model_dir}",
         "--train_data=tagger/sample/ud/en_sample/*-train.conllu", "--dev_data=tagger/sample/ud/en_sample/*-dev.conllu",
         "--test_data=tagger/sample/ud/en_sample/*-test.conllu", "--tasks=upos",
         "--teacher_train_steps=60", "--distill_steps=16", "--finetune_steps=8", "--recipe=xtremedistil",
         "--student=bilstm", "--bilstm_embedding_width=16", "--bilstm_units=16", "--distill_batch_size=16",
         "--export="],
        cwd=os.path.dirname(os.path.dirname(__file__)), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "student vs teacher" in result.stdout
    for name in ("test.json", "dev.json", "teacher_test.json"):
        with open(model_dir / "metrics" / name) as f:
            assert json.load(f)["tasks"]["upos"]["per_treebank"]["en_sample"]["words"] > 0
    stages = sorted(os.listdir(model_dir / "stages"))
    assert stages == ["labels", "logits", "representation"]
    assert sorted(os.listdir(model_dir / "stages" / "logits")) == ["0-heads", "1-bilstm", "2-embeddings"]


def test_distill_exits_non_zero_when_an_export_fails_its_gate(tmp_path, sample_tagger_dir):
    """`--export` verifies every artifact; one below its gate fails the whole command. Each artifact
    is also scored on --test_data, raw text in: the float32 TFLite exactly as the checkpoint."""
    import json
    import subprocess
    import sys
    repo = os.path.dirname(os.path.dirname(__file__))
    common = [sys.executable, "-m", "tagger.distill", f"--teacher_dir={sample_tagger_dir}", "--recipe=tsai2019",
              "--train_data=tagger/sample/ud/en_sample/*-train.conllu",
              "--dev_data=tagger/sample/ud/en_sample/*-dev.conllu", "--tasks=upos",
              "--test_data=tagger/sample/ud/en_sample/*-test.conllu",
              "--unlabeled_data=tagger/sample/unlabeled/en.txt", "--max_seq_length=32", "--student_layers=1",
              "--student_hidden_size=16", "--student_heads=2", "--student_intermediate_size=32",
              "--distill_steps=4", "--distill_batch_size=8", "--finetune_steps=2", "--finetune_batch_size=8",
              "--export=float32"]
    failing = subprocess.run(common + [f"--model_dir={tmp_path / 'gated'}", "--export_min_agreement=1.01"],
                             cwd=repo, capture_output=True, text=True, timeout=600)
    assert failing.returncode != 0 and "failed its verify gate" in failing.stderr, failing.stderr[-2000:]
    metrics = {name: json.loads((tmp_path / "gated" / "metrics" / f"{name}.json").read_text(encoding="utf-8"))
               for name in ("test", "test_tflite_float32")}
    assert metrics["test_tflite_float32"]["exact_sentences"] == metrics["test_tflite_float32"]["sentences"] > 0
    assert metrics["test_tflite_float32"]["tasks"]["upos"]["per_treebank"] == \
        metrics["test"]["tasks"]["upos"]["per_treebank"]
    refused = subprocess.run(common[:-1] + [f"--model_dir={tmp_path / 'old'}", "--export=none"], cwd=repo,
                             capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0 and "--export=float32" in refused.stderr  # checked before any work
    assert not os.path.exists(tmp_path / "old")
