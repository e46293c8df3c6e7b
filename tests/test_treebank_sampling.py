"""Treebank sampling of the labelled training pipeline (`tagger.finetune --treebank_sampling`)."""
import collections
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import SAMPLE
from tagger.data import pipeline
from tagger.data.labels import build_label_lists
from tagger.data.sentence import Sentence
from tagger.data.tokenizer_files import build_tokenizer


def test_probabilities_follow_the_exponent():
    np.testing.assert_allclose(pipeline.treebank_probabilities([90, 10], 1.0), [0.9, 0.1])
    np.testing.assert_allclose(pipeline.treebank_probabilities([90, 10], 0.0), [0.5, 0.5])
    np.testing.assert_allclose(pipeline.treebank_probabilities([90, 10], 0.5), [0.75, 0.25])


@pytest.fixture(scope="module")
def two_treebanks():
    """90 sentences of treebank `big`, 10 of `small`; each sentence's first word names its index."""
    sentences = [Sentence([f"w{i}", "the", "cat"], {"upos": ["X", "DET", "NOUN"]}, "big" if i < 90 else "small", "en")
                 for i in range(100)]
    tokenizer = build_tokenizer(os.path.join(SAMPLE, "vocab.txt"), max_seq_length=16)
    encoded = pipeline.encode_labeled(tokenizer, sentences, build_label_lists(sentences, ["upos"]))
    return encoded, pipeline.window_treebanks(encoded, sentences)


def drawn_windows(encoded, treebanks, alpha, batches=60, input_context=None):
    """The window indices of the first `batches` training batches, recovered from their unique word ids."""
    dataset = pipeline.labeled_dataset(encoded, 10, training=True, seed=3, treebanks=treebanks,
                                       treebank_alpha=alpha, input_context=input_context)
    by_ids = {tuple(row.numpy()): i for i, row in enumerate(encoded["input_word_ids"])}
    drawn = []
    for batch in dataset.take(batches):
        for ids, mask in zip(batch["input_word_ids"].numpy(), batch["input_mask"].numpy()):
            drawn.append(by_ids[tuple(ids[:mask.sum()])])
    return drawn


def test_window_treebanks_follow_the_sentences(two_treebanks):
    encoded, treebanks = two_treebanks
    assert treebanks.tolist() == [0] * 90 + [1] * 10  # sorted names: big, small; one window per sentence


def test_alpha_zero_draws_each_treebank_equally_and_reaches_every_window(two_treebanks):
    encoded, treebanks = two_treebanks
    drawn = drawn_windows(encoded, treebanks, 0.0)
    share_small = np.mean([treebanks[i] == 1 for i in drawn])
    assert 0.4 < share_small < 0.6  # 600 draws at p = 0.5
    assert set(drawn) == set(range(100))  # shuffled streams repeat, nothing is dropped
    assert drawn == drawn_windows(encoded, treebanks, 0.0)  # seeded: a resumed run sees the same batches


def test_alpha_one_keeps_the_data_mix(two_treebanks):
    encoded, treebanks = two_treebanks
    counts = collections.Counter(treebanks[i] for i in drawn_windows(encoded, treebanks, 1.0, batches=10))
    assert counts[0] == 90 and counts[1] == 10  # one shuffled epoch: every window once


def test_sharded_pipelines_draw_disjoint_windows(two_treebanks):
    encoded, treebanks = two_treebanks
    firsts = [set(drawn_windows(encoded, treebanks, 0.5, batches=20,
                                input_context=tf.distribute.InputContext(2, i, 2))) for i in range(2)]
    assert firsts[0] and firsts[1] and not firsts[0] & firsts[1]


def test_one_treebank_keeps_the_plain_shuffle(two_treebanks):
    """The default exponent must not change a single-treebank run (en_ewt's §1 numbers)."""
    encoded, treebanks = two_treebanks
    one = np.zeros_like(treebanks)
    assert drawn_windows(encoded, one, 0.5, batches=10) == drawn_windows(encoded, one, 1.0, batches=10)
