"""labels_kd: the teacher's top-k at each labelled word rides along with the labels in every step."""
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import SAMPLE
from tagger.data import pipeline
from tagger.data.corpus import read_corpus
from tagger.data.labels import IGNORE_ID
from tagger.data.tokenizer_files import build_tokenizer
from tagger.distill import label_targets, recipes
from tagger.distill.teacher_cache import ids_key, values_key
from tagger.inference import word_logits
from tagger.models.tagger import load_model_dir

TRAIN = os.path.join(SAMPLE, "ud", "en_sample", "en_sample-ud-train.conllu")


def test_word_features_land_on_each_words_labelled_piece():
    """Windows of 16 pieces split long sentences, chunks of 7 split the corpus: the n-th word's row
    still lands on the piece that carries the n-th word's label, and nowhere else."""
    sentences = read_corpus(TRAIN)[:40]
    tokenizer = build_tokenizer(os.path.join(SAMPLE, "vocab.txt"), max_seq_length=16)
    labels = {"upos": sorted({tag for s in sentences for tag in s.tags["upos"]})}
    n = sum(len(s.words) for s in sentences)
    number = np.arange(1, n + 1, dtype=np.float32)
    encoded = pipeline.encode_labeled(tokenizer, sentences, labels, chunk_size=7,
                                      word_features={"teacher_number": np.stack([number, -number], axis=1)})
    assert int(encoded["input_word_ids"].nrows()) > len(sentences)  # some sentences took two windows
    placed = encoded["teacher_number"].flat_values.numpy()
    assert placed.shape == (int(encoded["upos"].flat_values.shape[0]), 2) and placed.dtype == np.float32
    at = placed[:, 0] != 0
    np.testing.assert_array_equal(at, encoded["upos"].flat_values.numpy() != IGNORE_ID)
    np.testing.assert_array_equal(placed[at], np.stack([number, -number], axis=1))


@pytest.fixture(scope="module")
def kd_setup(sample_tagger_dir):
    """The sample tagger as teacher, its targets on 12 training sentences, and their labelled batch."""
    teacher, tokenizer, config = load_model_dir(sample_tagger_dir)
    sentences = read_corpus(TRAIN)[:12]
    targets = label_targets.compute(teacher, tokenizer, [s.words for s in sentences], top_k=3, batch_size=5,
                                    log=lambda _: None)
    encoded = pipeline.encode_labeled(tokenizer, sentences, config["tasks"], word_features=targets)
    batch = next(iter(pipeline.labeled_dataset(encoded, 12, training=False, pad_id=tokenizer.pad_id)))
    return teacher, tokenizer, sentences, targets, batch


def test_teacher_targets_are_each_sentences_own_top_k(kd_setup):
    """Sorted into batches by length, restored to input order: sentence i gets its own words' top-k."""
    teacher, tokenizer, sentences, targets, _ = kd_setup
    start = 0
    for sentence in sentences:
        end = start + len(sentence.words)
        logits = word_logits(teacher, tokenizer.encode_words(tf.ragged.constant([sentence.words])))
        for task, value in logits.items():
            value = value.numpy()
            ids = targets[ids_key(task)][start:end]
            np.testing.assert_allclose(targets[values_key(task)][start:end],
                                       np.take_along_axis(value, ids, axis=1), atol=1e-4)
            np.testing.assert_allclose(targets[values_key(task)][start:end], -np.sort(-value, axis=1)[:, :3],
                                       atol=1e-4)
        start = end
    assert start == len(targets[label_targets.WORD_MASK])


def test_student_positions_see_the_teachers_word(kd_setup, sample_tagger_dir, tmp_path):
    """Student = teacher, one tokenizer: at every marked piece the student's own top-k is the cached
    one, so rows and words line up; the loss mixes labels and soft targets by the weight."""
    teacher, _, _, _, batch = kd_setup
    mask = batch[label_targets.WORD_MASK].numpy().astype(bool)
    for task, value in teacher(batch, training=False).items():
        top = tf.math.top_k(value, k=batch[ids_key(task)].shape[-1]).indices.numpy()
        np.testing.assert_array_equal(top[mask], batch[ids_key(task)].numpy()[mask])
    student, _, _ = load_model_dir(sample_tagger_dir)
    strategy = tf.distribute.get_strategy()

    def total(weight):
        distiller = recipes.Distiller(teacher, student, strategy, str(tmp_path), labels_soft_weight=weight)
        return {name: float(v) for name, v in distiller.stage_loss("labels_soft", batch, training=False).items()}

    hard, soft, mixed = total(0.0), total(1.0), total(0.3)
    assert set(soft) == {"upos", "ufeats", "ner", "soft_upos", "soft_ufeats", "soft_ner"}
    assert all(hard[f"soft_{task}"] == 0 and soft[task] == 0 for task in ("upos", "ufeats", "ner"))
    assert all(value > 0 for name, value in soft.items() if name.startswith("soft_"))
    for name in mixed:
        assert mixed[name] == pytest.approx(0.7 * hard[name] + 0.3 * soft[name], rel=1e-5, abs=1e-6)
    labels_only = recipes.Distiller(teacher, student, strategy, str(tmp_path)).stage_loss("labels", batch, False)
    assert sum(hard.values()) == pytest.approx(float(tf.add_n(list(labels_only.values()))), rel=1e-6)


def test_targets_are_kept_and_reused(tmp_path, kd_setup):
    teacher, tokenizer, sentences, targets, _ = kd_setup
    words = [s.words for s in sentences]
    logged = []
    first = label_targets.load_or_compute(str(tmp_path), "a", teacher, tokenizer, words, 3, log=logged.append)
    again = label_targets.load_or_compute(str(tmp_path), "a", teacher, tokenizer, words, 3, log=logged.append)
    assert any("reusing" in line for line in logged)
    for name, value in targets.items():
        np.testing.assert_allclose(first[name], value, atol=1e-6)
        np.testing.assert_array_equal(again[name], first[name])
    logged.clear()
    label_targets.load_or_compute(str(tmp_path), "another teacher", teacher, tokenizer, words, 3, log=logged.append)
    assert not any("reusing" in line for line in logged)


def test_stage_list_and_weight_bounds(sample_tagger_dir, tmp_path):
    [stage] = recipes.stages_for("labels_kd", 100, 50, 8, 4, 1e-3, 3e-5)
    assert (stage.loss, stage.steps, stage.batch_size, stage.learning_rate) == ("labels_soft", 150, 4, 1e-3)
    teacher, _, _ = load_model_dir(sample_tagger_dir)
    with pytest.raises(Exception, match="labels_soft_weight=1.5"):
        recipes.Distiller(teacher, teacher, tf.distribute.get_strategy(), str(tmp_path), labels_soft_weight=1.5)
