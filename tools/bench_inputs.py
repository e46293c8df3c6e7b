"""The benchmark tools' inputs: a vocabulary, running text, and sentences cut from it to a length.

Without arguments they come from ../shared/data (mBERT's vocab, the unlabeled text), else from the
embedded sample, so every tool runs anywhere. Nothing here imports TensorFlow at module load.
"""
from __future__ import annotations

import glob
import os

from tools.benchlib import MBERT_VOCAB, MBERT_VOCAB_SIZE, SAMPLE_TEXT, SAMPLE_VOCAB, SHARED_TEXT


def synthetic_vocab(path: str, size: int = MBERT_VOCAB_SIZE) -> str:
    """A vocab of exactly `size` tokens: the sample vocabulary (real words), then filler pieces."""
    from tagger.data.wordpiece import load_vocab
    tokens = load_vocab(SAMPLE_VOCAB)
    seen = set(tokens)
    i = 0
    while len(tokens) < size:
        for candidate in (f"syn{i}", f"##syn{i}"):
            if candidate not in seen and len(tokens) < size:
                tokens.append(candidate)
                seen.add(candidate)
        i += 1
    tokens = tokens[:size]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    return path


def resolve_vocab(vocab_file: str | None, scratch_dir: str, size: int = MBERT_VOCAB_SIZE) -> tuple[str, str]:
    """(path, description): the given vocab, else mBERT's cased vocab, else a synthetic one of `size` tokens."""
    if vocab_file:
        return vocab_file, vocab_file
    if os.path.exists(MBERT_VOCAB):
        return MBERT_VOCAB, "mBERT cased vocab (../shared/data/vocab)"
    path = synthetic_vocab(os.path.join(scratch_dir, "synthetic_vocab.txt"), size)
    return path, f"synthetic vocab of {size} tokens (mBERT vocab not found at {MBERT_VOCAB})"


def resolve_text(patterns: str | None) -> tuple[str, str]:
    if patterns:
        return patterns, patterns
    if glob.glob(SHARED_TEXT):
        return SHARED_TEXT, "../shared/data/unlabeled/*.txt"
    return SAMPLE_TEXT, "tagger/sample/unlabeled/*.txt (../shared/data/unlabeled not found)"


def text_words(patterns: str, prefer: str = "en.txt", limit: int = 20000) -> list[str]:
    """Whitespace words of running text, from the `prefer` file when present (natural wordpiece ratio)."""
    from tagger.data.corpus import expand_globs
    files = expand_globs(patterns)
    preferred = [f for f in files if os.path.basename(f) == prefer]
    words: list[str] = []
    for path in preferred or files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                words.extend(line.split())
                if len(words) >= limit:
                    return words
    return words


class SentenceMaker:
    """Builds raw sentences of a given number of words, or of exactly N wordpieces, from running text."""

    def __init__(self, tokenizer, words: list[str]):
        import numpy as np
        import tensorflow as tf
        self.tokenizer = tokenizer
        if not words:
            raise ValueError("no text to build sentences from")
        self.words = words
        counts = tokenizer.text_to_pieces(tf.constant(words))["sentence_piece_counts"].numpy()
        self.piece_counts = np.asarray(counts)

    def words_sentence(self, n: int, start: int = 0) -> str:
        picked = [self.words[(start + i) % len(self.words)] for i in range(n)]
        return " ".join(picked)

    def pieces_sentence(self, pieces: int, start: int = 0) -> str:
        """Consecutive words, skipping any that would overshoot, until exactly `pieces` wordpieces."""
        picked, total = [], 0
        for i in range(start, start + 50 * len(self.words)):
            j = i % len(self.words)
            count = int(self.piece_counts[j])
            if 0 < count and total + count <= pieces:
                picked.append(self.words[j])
                total += count
            if total == pieces:
                return " ".join(picked)
        raise ValueError(f"could not build a sentence of exactly {pieces} wordpieces")

    def describe(self, sentence: str) -> dict:
        """Words as BERT splits them, wordpieces and the window length ([CLS]/[SEP] included) a batch of one gets."""
        import tensorflow as tf
        features = self.tokenizer.encode_text(tf.constant([sentence]))
        return {"text": sentence, "whitespace_words": len(sentence.split()),
                "words": int(features["num_words"].numpy()[0]),
                "wordpieces": int(features["sentence_piece_counts"].numpy()[0]),
                "windows": int(features["input_word_ids"].shape[0]),
                "window_length": int(features["input_word_ids"].shape[1])}
