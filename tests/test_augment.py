"""Word-replacement augmentation of the transfer text (`--word_replacement`)."""
import numpy as np
import tensorflow as tf

from tagger.data import pipeline
from tagger.data.wordpiece import WordPieceTokenizer, load_vocab

SEED = tf.constant([3, 7], tf.int64)


def _lines(count=40):
    return tf.constant([" ".join(f"w{line}_{i}" for i in range(12)) for line in range(count)])


def _words(tensor):
    return [line.decode().split() for line in tensor.numpy()]


def test_probability_zero_keeps_the_text():
    lines = tf.constant(["the cat sat on the mat", "", "one"])
    assert _words(pipeline.replace_words(lines, 0.0, SEED)) == _words(lines)


def test_replacements_come_from_the_batch_and_keep_word_counts():
    original = _words(_lines())
    augmented = _words(pipeline.replace_words(_lines(), 0.25, SEED))
    pool = {w for line in original for w in line}
    assert [len(line) for line in augmented] == [len(line) for line in original]
    assert all(w in pool for line in augmented for w in line)
    changed = sum(a != b for x, y in zip(augmented, original) for a, b in zip(x, y))
    total = sum(map(len, original))
    # 480 words at p=0.25: expected 120 draws (a draw can pick the same word back, 1/480)
    assert 0.15 * total < changed < 0.35 * total
    every = _words(pipeline.replace_words(_lines(), 1.0, SEED))
    assert sum(a != b for x, y in zip(every, original) for a, b in zip(x, y)) > 0.95 * total


def test_draws_are_a_function_of_the_seed():
    first = pipeline.replace_words(_lines(), 0.3, SEED).numpy()
    assert (pipeline.replace_words(_lines(), 0.3, SEED).numpy() == first).all()
    assert (pipeline.replace_words(_lines(), 0.3, tf.constant([3, 8], tf.int64)).numpy() != first).any()


def test_empty_batches_pass_through():
    assert pipeline.replace_words(tf.constant([""]), 0.5, SEED).numpy().tolist() == [b""]
    assert pipeline.replace_words(tf.constant([], tf.string), 0.5, SEED).numpy().tolist() == []


def test_augmented_stream_resumes_with_the_same_draws(tmp_path, tiny_vocab_file):
    """The draws are seeded by the batch counter, so both ways to resume see the same text: an iterator
    checkpoint, and the `skip(step)` that `training.train` uses on a fresh pipeline."""
    tokenizer = WordPieceTokenizer(load_vocab(tiny_vocab_file), lower_case=True)
    lines = tf.data.Dataset.from_tensor_slices([f"the cat sat on the mat number {i} today" for i in range(50)])

    def dataset():
        return pipeline.unlabeled_dataset(tokenizer, lines, 4, seed=1, lines_per_call=8, word_replacement=0.5)

    plain = iter(pipeline.unlabeled_dataset(tokenizer, lines, 4, seed=1, lines_per_call=8))
    iterator = iter(dataset())
    assert any(not np.array_equal(next(plain)["input_word_ids"], next(iterator)["input_word_ids"]) for _ in range(3))
    checkpoint = tf.train.Checkpoint(iterator=iterator)
    path = checkpoint.write(str(tmp_path / "it"))
    expected = [next(iterator)["input_word_ids"].numpy() for _ in range(5)]
    resumed = iter(dataset())
    tf.train.Checkpoint(iterator=resumed).read(path).assert_consumed()
    got = [next(resumed)["input_word_ids"].numpy() for _ in range(5)]
    assert all(np.array_equal(a, b) for a, b in zip(expected, got))
    continuous = [batch["input_word_ids"].numpy() for batch in dataset().take(8)]
    skipped = [batch["input_word_ids"].numpy() for batch in dataset().skip(3).take(5)]
    assert all(np.array_equal(a, b) for a, b in zip(continuous[3:], skipped))


def test_vocab_pool_reaches_words_the_batch_lacks():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s", ".", "Zürich", "42"]
    pool = pipeline.vocab_words(vocab)
    assert pool == ["the", "cat", "Zürich", "42"]
    augmented = _words(pipeline.replace_words(_lines(), 1.0, SEED, tf.constant(pool)))
    assert {w for line in augmented for w in line} <= set(pool)
