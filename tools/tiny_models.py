"""Tiny taggers trained on the embedded sample, for tests and the fuzzer: mechanisms, not quality.

One WordPiece tagger (the sample's vocab.txt) and one SentencePiece tagger (a 400-piece Unigram
model trained here with XLM-R's special ids, as multilingual-e5 uses), each ~15 s on one core.
"""
from __future__ import annotations

import json
import os

import tagger  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
from tagger.supervised import finetune
from tagger.training import setup_run

SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tagger", "sample")
TINY_BERT = dict(vocab_size=1015, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, max_position_embeddings=64)
SPM_EXTRA_TEXT = "Ελλάδα Москва 東京 שלום مرحبا 😀 façade naïve\n"


def train_tiny_spm(directory: str) -> str:
    """A 400-piece Unigram model on the sample's en/de/es unlabeled text (<s>=0, <pad>=1, </s>=2, <unk>=3)."""
    import sentencepiece as spm
    os.makedirs(directory, exist_ok=True)
    text = os.path.join(directory, "text.txt")
    with open(text, "w", encoding="utf-8") as out:
        for lang in ("en", "de", "es"):
            with open(os.path.join(SAMPLE, "unlabeled", f"{lang}.txt"), encoding="utf-8") as f:
                out.write(f.read())
        out.write(SPM_EXTRA_TEXT)
    spm.SentencePieceTrainer.train(
        input=text, model_prefix=os.path.join(directory, "tiny"), vocab_size=400, model_type="unigram",
        bos_id=0, pad_id=1, eos_id=2, unk_id=3, character_coverage=1.0, minloglevel=2)
    return os.path.join(directory, "tiny.model")


def train_sample_tagger(directory: str, tasks: list[str], vocab_file: str, vocab_size: int = 1015,
                        train_data: str | None = None) -> str:
    """A 2-layer, 32-wide tagger, 300 steps on the sample at max_seq_length 32; returns its model dir."""
    os.makedirs(directory, exist_ok=True)
    config = os.path.join(directory, "bert_config.json")
    with open(config, "w") as f:
        json.dump(dict(TINY_BERT, vocab_size=vocab_size), f)
    model_dir = os.path.join(directory, "model")
    train_data = train_data or f"{SAMPLE}/ud/*/*-train.conllu,{SAMPLE}/ner/*/train.txt"
    finetune(model_dir, f"config:{config}", train_data, strategy=setup_run(0, False), tasks=tasks,
             vocab_file=vocab_file, max_seq_length=32, learning_rate=3e-3, train_steps=300, checkpoint_every=1000)
    return model_dir


def wordpiece_tagger(directory: str) -> str:
    """upos + ufeats + ner on the sample vocabulary."""
    return train_sample_tagger(directory, ["upos", "ufeats", "ner"], os.path.join(SAMPLE, "vocab.txt"))


def sentencepiece_tagger(directory: str, spm_file: str) -> str:
    """upos + ufeats on the tiny SentencePiece model; its embedding table is padded past the 400 pieces, as e5's."""
    return train_sample_tagger(directory, ["upos", "ufeats"], spm_file, vocab_size=403,
                               train_data=f"{SAMPLE}/ud/*/*-train.conllu")
