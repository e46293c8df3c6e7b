"""A student built from the teacher's own layers (tagger/models/teacher_layers.py)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tagger.errors import UserError
from tagger.models import encoders, teacher_layers
from tagger.models.build import build_encoder

REPO = os.path.dirname(os.path.dirname(__file__))
TEACHER = encoders.bert_config(vocab_size=60, hidden_size=16, num_layers=3, num_attention_heads=2,
                               intermediate_size=32, max_position_embeddings=32)


def outputs(encoder, ids):
    ids = tf.constant(ids, tf.int32)
    return encoder(dict(input_word_ids=ids, input_mask=tf.ones_like(ids), input_type_ids=tf.zeros_like(ids)),
                   training=False)


@pytest.fixture(scope="module")
def teacher():
    encoder = encoders.build_bert_encoder(TEACHER)
    rng = np.random.default_rng(1)
    for variable in encoder.weights:  # larger than the 0.02 init, so that copying mistakes show
        variable.assign(rng.normal(scale=0.3, size=variable.shape).astype(np.float32))
    return encoder


IDS = [[5, 9, 17, 3, 42, 8], [11, 2, 59, 30, 1, 7]]


@pytest.mark.parametrize("layers", [(1,), (1, 2), (1, 2, 3)])
def test_full_width_student_reproduces_the_teachers_lower_layers(teacher, layers):
    student = build_encoder(teacher_layers.student_config(TEACHER, layers, vocab_size=60))
    teacher_layers.init_from_teacher_layers(student, teacher, layers, log=lambda _: None)
    expected = outputs(teacher, IDS)["encoder_outputs"][len(layers) - 1]
    np.testing.assert_allclose(outputs(student, IDS)["sequence_output"], expected, atol=1e-5)


def test_layers_are_copied_in_the_order_given(teacher):
    student = build_encoder(teacher_layers.student_config(TEACHER, (3, 1), vocab_size=60))
    teacher_layers.init_from_teacher_layers(student, teacher, (3, 1), log=lambda _: None)
    weights = {encoders.canonical_name(v.name): v.numpy() for v in student.weights}
    source = {encoders.canonical_name(v.name): v.numpy() for v in teacher.weights}
    for name in ("intermediate/kernel", "self_attention/query/kernel", "output_layer_norm/gamma"):
        np.testing.assert_array_equal(weights[f"transformer/layer_0/{name}"], source[f"transformer/layer_2/{name}"])
        np.testing.assert_array_equal(weights[f"transformer/layer_1/{name}"], source[f"transformer/layer_0/{name}"])


def test_own_vocabulary_takes_the_given_rows(teacher):
    table = teacher.get_embedding_table().numpy()
    rows = table[[0, 1, 2, 3, 17, 42]]  # a 6-piece student vocabulary
    student = build_encoder(teacher_layers.student_config(TEACHER, (1,), vocab_size=6))
    teacher_layers.init_from_teacher_layers(student, teacher, (1,), rows=rows, log=lambda _: None)
    np.testing.assert_allclose(outputs(student, [[4, 5, 2]])["sequence_output"],
                               outputs(teacher, [[17, 42, 2]])["encoder_outputs"][0], atol=1e-5)


def test_factorised_student_fits_its_projection(teacher):
    """A rank-8 teacher table: the 8-wide student table loses nothing, and the fitted projection
    (LayerNorm in 8 dims, then 8 -> 16) brings the first layer's output close to the teacher's."""
    rng = np.random.default_rng(2)
    low_rank = teacher.get_embedding_table().numpy()
    low_rank = (low_rank @ np.linalg.qr(rng.normal(size=(16, 8)))[0]) @ rng.normal(size=(8, 16)).astype(np.float32)
    original = teacher.get_embedding_table().numpy()
    teacher.get_embedding_table().assign(low_rank)
    try:
        logged = []
        student = build_encoder(teacher_layers.student_config(TEACHER, (1,), vocab_size=60, embedding_width=8))
        teacher_layers.init_from_teacher_layers(student, teacher, (1,), log=logged.append)
        got = outputs(student, IDS)["sequence_output"].numpy().reshape(-1, 16)
        want = outputs(teacher, IDS)["encoder_outputs"][0].numpy().reshape(-1, 16)
    finally:
        teacher.get_embedding_table().assign(original)
    cosine = np.sum(got * want, axis=1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    assert cosine.min() > 0.95, cosine
    assert "reduced to 8 dims" in logged[0] and "mean cosine" in logged[0]


def test_bad_layer_choices_are_refused():
    for layers in [(0,), (4,), ()]:
        with pytest.raises(UserError, match="student_teacher_layers"):
            teacher_layers.student_config(TEACHER, layers, vocab_size=60)
    with pytest.raises(UserError, match="exceeds the teacher's hidden size"):
        teacher_layers.student_config(TEACHER, (1,), vocab_size=60, embedding_width=32)
    with pytest.raises(UserError, match="copies BERT layers"):
        teacher_layers.student_config(dict(type="bilstm"), (1,), vocab_size=60)
    from tagger.distill.job import StudentSpec
    with pytest.raises(UserError, match="--student=bilstm cannot take them"):
        StudentSpec(kind="bilstm", teacher_layers=(1,))


def test_distill_binary_builds_the_student_from_teacher_layers(tmp_path, sample_tagger_dir):
    """labels_only on the sample teacher with its first layer and a trimmed vocabulary; the shape
    flags, which the teacher decides, are refused before any work."""
    common = [sys.executable, "-m", "tagger.distill", f"--teacher_dir={sample_tagger_dir}", "--recipe=labels_only",
              "--train_data=tagger/sample/ud/en_sample/*-train.conllu", "--tasks=upos",
              "--test_data=tagger/sample/ud/en_sample/*-test.conllu", "--max_seq_length=32",
              "--student_teacher_layers=1", "--finetune_steps=4", "--finetune_batch_size=8", "--export="]
    refused = subprocess.run(common + [f"--model_dir={tmp_path / 'refused'}", "--student_hidden_size=16"],
                             cwd=REPO, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "leave out --student_layers" in refused.stderr, refused.stderr[-2000:]
    assert not os.path.exists(tmp_path / "refused")
    model_dir = tmp_path / "student"
    result = subprocess.run(common + [f"--model_dir={model_dir}", "--student_vocab=trim:300",
                                      "--student_embedding_width=16"],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "student = teacher layers 1; word embeddings: the teacher's rows reduced to 16 dims" in result.stdout
    assert "with a factorised table: the table is trained" in result.stdout
    config = json.loads((model_dir / "tagger_config.json").read_text(encoding="utf-8"))
    teacher_config = json.loads(open(os.path.join(sample_tagger_dir, "tagger_config.json")).read())
    assert config["teacher_layers"] == [1] and config["encoder"]["num_layers"] == 1
    for key in ("hidden_size", "num_attention_heads", "intermediate_size"):
        assert config["encoder"][key] == teacher_config["encoder"][key]
    test = json.loads((model_dir / "metrics" / "test.json").read_text(encoding="utf-8"))
    assert test["tasks"]["upos"]["per_treebank"]["en_sample"]["words"] > 0
