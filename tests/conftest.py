"""Shared fixtures: tiny vocab and BERT checkpoints in every format, paths to real data."""
from __future__ import annotations

import json
import os

import tagger  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.environ.get("TAGGER_SHARED_DATA", os.path.join(REPO, "..", "shared", "data"))
SAMPLE = os.path.join(REPO, "tagger", "sample")


def shared(*parts: str) -> str:
    """Path under ../shared/data; skips the test with a clear reason when it is absent."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"real data not available: {path} (set TAGGER_SHARED_DATA or check out ../shared)")
    return path


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "shared_data" in item.keywords and not os.path.isdir(SHARED_DATA):
            item.add_marker(pytest.mark.skip(reason=f"../shared/data not found at {SHARED_DATA}"))


# Raw text that breaks naive tokenizers; every word of it must still get exactly one tag.
HOSTILE = {
    "empty": b"",
    "whitespace": b" \t \xc2\xa0 ",
    "long": " ".join(["cat", "sat", ",", "Anna"] * 1250).encode(),  # 5,000 words
    "invalid_utf8": b"ab\xff\xfe cd \xc3 \xed\xa0\x80 ok",
    "emoji": "Anna 😀 works 👩‍👩‍👧 🇩🇪!".encode(),
    "mixed_script": "Anna работает в Paris 東京 und Ελλάδα.".encode(),
    "rtl": "שלום עולם, مرحبا بالعالم (test) 123.".encode(),
    "control": b"a\x00b\x07 c\x1b[0m d",
    "cjk": "東京は日本の首都です。我喜欢自然语言处理".encode(),
    "combining": "e\u0301te\u0301 n\u0303 a\u0308\u0304 Z\u0351\u036b\u0343".encode(),
}


TINY_WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "runs", "big", "small", "Paris", "Anna", "works",
              "in", "for", "Acme", "house", "Haus", "das", "die", "der", "el", "la", "casa", "perro", "gato"]


def tiny_vocab_tokens() -> list[str]:
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    punctuation = list(".,!?;:'\"()-")
    tokens = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + TINY_WORDS + letters + punctuation
              + ["##" + ch for ch in letters] + ["##ing", "##ed"])
    return list(dict.fromkeys(tokens))


@pytest.fixture(scope="session")
def tiny_vocab_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(tiny_vocab_tokens()) + "\n", encoding="utf-8")
    return str(path)


TINY_BERT = dict(vocab_size=len(tiny_vocab_tokens()), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=32, max_position_embeddings=64, type_vocab_size=2, hidden_act="gelu",
                 hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)


def tiny_hf_weights(config: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """Random BERT weights under Hugging Face names (torch layout: Linear weight is [out, in])."""
    rng = np.random.default_rng(seed)
    h, inner = config["hidden_size"], config["intermediate_size"]
    w = lambda *shape: rng.normal(0, 0.2, size=shape).astype(np.float32)
    weights = {
        "embeddings.word_embeddings.weight": w(config["vocab_size"], h),
        "embeddings.position_embeddings.weight": w(config["max_position_embeddings"], h),
        "embeddings.token_type_embeddings.weight": w(config["type_vocab_size"], h),
        "embeddings.LayerNorm.weight": 1 + w(h), "embeddings.LayerNorm.bias": w(h),
        "pooler.dense.weight": w(h, h), "pooler.dense.bias": w(h),
    }
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for part in ("query", "key", "value"):
            weights[p + f"attention.self.{part}.weight"] = w(h, h)
            weights[p + f"attention.self.{part}.bias"] = w(h)
        weights.update({
            p + "attention.output.dense.weight": w(h, h), p + "attention.output.dense.bias": w(h),
            p + "attention.output.LayerNorm.weight": 1 + w(h), p + "attention.output.LayerNorm.bias": w(h),
            p + "intermediate.dense.weight": w(inner, h), p + "intermediate.dense.bias": w(inner),
            p + "output.dense.weight": w(h, inner), p + "output.dense.bias": w(h),
            p + "output.LayerNorm.weight": 1 + w(h), p + "output.LayerNorm.bias": w(h),
        })
    return weights


def hf_to_tf1_name(name: str) -> tuple[str, bool]:
    """Hugging Face name -> Google TF1 BERT name, and whether the array is transposed."""
    parts = name.replace("encoder.layer.", "encoder.layer_").split(".")
    leaf = parts.pop()
    path = "bert/" + "/".join(parts)
    if parts[-1] == "LayerNorm":
        return f"{path}/{'gamma' if leaf == 'weight' else 'beta'}", False
    if parts[0] == "embeddings":
        return path, False
    return f"{path}/{'kernel' if leaf == 'weight' else 'bias'}", leaf == "weight"


def write_hf_dir(directory, config: dict, weights: dict, vocab_file: str) -> str:
    from safetensors.numpy import save_file
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump({**config, "model_type": "bert", "architectures": ["BertModel"]}, f)
    save_file({"bert." + k: v for k, v in weights.items()}, os.path.join(directory, "model.safetensors"))
    with open(vocab_file, encoding="utf-8") as src, open(os.path.join(directory, "vocab.txt"), "w") as dst:
        dst.write(src.read())
    return str(directory)


def write_tf1_dir(directory, config: dict, weights: dict, vocab_file: str) -> str:
    import tensorflow as tf
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "bert_config.json"), "w") as f:
        json.dump(config, f)
    with tf.Graph().as_default():
        variables = []
        for name, value in weights.items():
            tf1_name, transpose = hf_to_tf1_name(name)
            variables.append(tf.compat.v1.Variable(value.T if transpose else value, name=tf1_name))
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, os.path.join(directory, "bert_model.ckpt"), write_meta_graph=False)
    with open(vocab_file, encoding="utf-8") as src, open(os.path.join(directory, "vocab.txt"), "w") as dst:
        dst.write(src.read())
    return str(directory)


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory, tiny_vocab_file) -> dict[str, str]:
    """The same tiny BERT written as a Hugging Face dir and as a Google TF1 checkpoint dir."""
    root = tmp_path_factory.mktemp("checkpoints")
    weights = tiny_hf_weights(TINY_BERT)
    return {"hf": write_hf_dir(root / "hf", TINY_BERT, weights, tiny_vocab_file),
            "tf1": write_tf1_dir(root / "tf1", TINY_BERT, weights, tiny_vocab_file)}


@pytest.fixture(scope="session")
def sample_dir() -> str:
    return SAMPLE


# -- a small trained tagger and its exports, shared by the export and predict tests ----------

SAMPLE_UD_DEV = os.path.join(SAMPLE, "ud", "*", "*-dev.conllu")
# The custom ops of a WordPiece tagger's TFLite model: the word split's two, then the tokenizer's.
WORDPIECE_TFLITE_CUSTOM_OPS = ["FastBertNormalize", "FastWordpieceTokenizeWithOffsets", "TFText>ByteSplitByOffsets"]
SAMPLE_NER_DEV = os.path.join(SAMPLE, "ner", "*", "dev.txt")


@pytest.fixture(scope="session")
def sample_tagger_dir(tmp_path_factory) -> str:
    """upos + ufeats + ner tagger (UD and NER sample data, 300 steps, max_seq_length 32): confident
    enough that quantized exports are judged on real margins, trained once per session (~15 s)."""
    from tools.tiny_models import wordpiece_tagger
    return wordpiece_tagger(str(tmp_path_factory.mktemp("sample_tagger")))


@pytest.fixture(scope="session")
def sample_exports(sample_tagger_dir) -> dict[str, str]:
    """The sample tagger exported: SavedModel version 1, float32 and dynamic_int8 .tflite."""
    from export.saved_model import export_saved_model
    from export.tflite import export_tflite
    return {"saved_model": export_saved_model(sample_tagger_dir, verbose=False),
            "float32": export_tflite(sample_tagger_dir, "float32", verbose=False),
            "dynamic_int8": export_tflite(sample_tagger_dir, "dynamic_int8", verbose=False)}


# -- a tiny SentencePiece model (XLM-R special ids) and a tagger on it -------------------------

@pytest.fixture(scope="session")
def tiny_spm_file(tmp_path_factory) -> str:
    """A 400-piece Unigram model trained on the sample's unlabeled text, with XLM-R's special ids
    (<s>=0, <pad>=1, </s>=2, <unk>=3), as multilingual-e5 and Multilingual-MiniLM use."""
    from tools.tiny_models import train_tiny_spm
    return train_tiny_spm(str(tmp_path_factory.mktemp("spm")))


@pytest.fixture(scope="session")
def sp_tagger_dir(tmp_path_factory, tiny_spm_file) -> str:
    """upos + ufeats tagger on the tiny SentencePiece model (UD sample, 300 steps)."""
    from tools.tiny_models import sentencepiece_tagger
    return sentencepiece_tagger(str(tmp_path_factory.mktemp("sp_tagger")), tiny_spm_file)
