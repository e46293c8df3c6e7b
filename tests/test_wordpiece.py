"""First-wordpiece alignment and windowing: every word gets exactly one label position."""
import numpy as np
import pytest
import tensorflow as tf

from conftest import shared
from tagger.data.tokenizer import segment_ids
from tagger.data.wordpiece import WordPieceTokenizer, guess_lower_case, load_vocab


@pytest.fixture(scope="module")
def tokenizer(tiny_vocab_file):
    return WordPieceTokenizer(load_vocab(tiny_vocab_file), lower_case=False, max_seq_length=16, context=2)


def encode(tokenizer, sentences):
    return tokenizer.encode_words(tf.ragged.constant(sentences, dtype=tf.string, row_splits_dtype=tf.int32))


def test_segment_ids():
    assert segment_ids(tf.constant([2, 1, 3])).numpy().tolist() == [0, 0, 1, 2, 2, 2]


def test_every_word_once_in_a_1000_word_sentence(tokenizer):
    rng = np.random.default_rng(0)
    words = [str(w) for w in rng.choice(["the", "cats", "unbelievable", "sat", ".", "xyzzyq", "Paris"], 1000)]
    features = encode(tokenizer, [words, ["short"], []])
    label_mask = features["label_mask"].numpy()
    pieces = features["position_piece"].numpy()[label_mask]
    assert label_mask.sum() == 1001
    assert np.all(np.diff(pieces) > 0)  # word order preserved across windows
    starts = np.flatnonzero(features["is_word_start"].numpy())
    assert np.array_equal(pieces, starts)  # exactly the first wordpiece of each word
    assert features["input_word_ids"].shape[1] <= 16
    windows = np.bincount(features["window_sentence"].numpy())
    assert windows[0] > 1 and windows[1] == 1 and windows[2] == 1
    assert features["num_words"].numpy().tolist() == [1000, 1, 0]


def test_windows_overlap_for_context(tokenizer):
    features = encode(tokenizer, [["a"] * 40])
    position_piece = features["position_piece"].numpy()
    label_mask = features["label_mask"].numpy()
    seen = position_piece[position_piece >= 0]
    assert len(seen) > 40  # context pieces repeat across windows
    assert sorted(position_piece[label_mask].tolist()) == list(range(40))  # but each word is owned once


def test_empty_and_odd_words_still_get_a_position(tokenizer):
    features = encode(tokenizer, [["", " ", "\u200b", "\x00", "😀", "cat"]])
    assert features["label_mask"].numpy().sum() == 6
    ids = features["input_word_ids"].numpy()[0]
    assert ids[0] == tokenizer.cls_id and tokenizer.sep_id in ids


def test_raw_text_words_and_offsets(tokenizer):
    text = "Anna sat, on the mat!"
    features = tokenizer.encode_text(tf.constant([text, "", "   "]))
    starts, ends = features["word_starts"].numpy(), features["word_ends"].numpy()
    assert [text.encode()[s:e].decode() for s, e in zip(starts, ends)] == ["Anna", "sat", ",", "on", "the", "mat", "!"]
    assert features["num_words"].numpy().tolist() == [7, 0, 0]
    assert features["label_mask"].numpy().sum() == 7


@pytest.mark.shared_data
def test_mbert_vocab_is_cased_and_cjk_is_split():
    vocab = load_vocab(shared("vocab", "mbert_cased_vocab.txt"))
    assert len(vocab) == 119547 and not guess_lower_case(vocab)
    tokenizer = WordPieceTokenizer(vocab, max_seq_length=128)
    features = tokenizer.encode_text(tf.constant(["東京は大きい。 Straße"]))
    # BERT splits each CJK ideograph, not kana runs: 東 京 は 大 きい 。 Straße
    assert features["num_words"].numpy()[0] == 7
