"""Pretrained BERT encoders, loaded into tf-models-official's `BertEncoderV2`.

Sources, chosen by one `--init` string:
  hub:HANDLE_OR_PATH  a TF Hub BERT encoder (handle or local SavedModel directory)
  tf1:DIR             a Google TF1 checkpoint dir (bert_config.json, bert_model.ckpt.*, vocab.txt),
                      converted with Model Garden's checkpoint converter
  hf:DIR              a Hugging Face BERT dir (config.json, model.safetensors or pytorch_model.bin, and
                      vocab.txt or an XLM-R SentencePiece model / tokenizer.json), no torch
  config:FILE         random initialisation from a BERT config JSON
(`model_dir:DIR`, a tagger model directory, and the choice of tokenizer file are settled with the
rest in `tagger.models.init`, the one entry point for every kind.)

Whatever the source, the result is a plain `BertEncoderV2` plus its encoder
config, so every model directory is self-contained and loads the same way.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import tempfile

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub
import tf_keras
from official.legacy.bert import configs
from official.modeling import tf_utils
from official.nlp.modeling import networks
from official.nlp.tools import tf2_bert_encoder_checkpoint_converter as converter
from safetensors.numpy import load_file

from tagger.data.tokenizer_files import find_tokenizer_file
from tagger.errors import UserError
from tagger.models.torch_bin import load_torch_bin

INIT_KINDS = ("hub", "tf1", "hf", "config", "model_dir")


class InitError(UserError):
    """An --init that points at something of the wrong format; says what was expected."""


def parse_init(init: str) -> tuple[str, str]:
    """'hf:DIR' -> ('hf', 'DIR'), checking the kind."""
    kind, sep, target = init.partition(":")
    if not sep or kind not in INIT_KINDS or not target:
        raise InitError(f"--init={init!r}: expected one of {', '.join(k + ':...' for k in INIT_KINDS)}")
    return kind, os.path.expanduser(target) if kind != "hub" or "://" not in target else target


# -- configs ------------------------------------------------------------------

def bert_config(vocab_size: int, hidden_size: int = 768, num_layers: int = 12, num_attention_heads: int = 12,
                intermediate_size: int = 3072, max_position_embeddings: int = 512, type_vocab_size: int = 2,
                hidden_act: str = "gelu", dropout_rate: float = 0.1, attention_dropout_rate: float = 0.1,
                embedding_width: int | None = None) -> dict:
    """The encoder config stored in `tagger_config.json` (type 'bert')."""
    return dict(type="bert", vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers,
                num_attention_heads=num_attention_heads, intermediate_size=intermediate_size,
                max_position_embeddings=max_position_embeddings, type_vocab_size=type_vocab_size,
                hidden_act=hidden_act, dropout_rate=dropout_rate, attention_dropout_rate=attention_dropout_rate,
                embedding_width=embedding_width)


def config_from_bert_json(path: str) -> dict:
    """Google `bert_config.json` and Hugging Face `config.json` share these keys."""
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise InitError(f"{path}: not a readable BERT config JSON ({e})") from None
    if raw.get("type") in ("bert", "bilstm"):  # already one of ours
        return raw
    try:
        return bert_config(
            vocab_size=raw["vocab_size"], hidden_size=raw["hidden_size"], num_layers=raw["num_hidden_layers"],
            num_attention_heads=raw["num_attention_heads"], intermediate_size=raw["intermediate_size"],
            max_position_embeddings=raw.get("max_position_embeddings", 512),
            type_vocab_size=raw.get("type_vocab_size", 2), hidden_act=raw.get("hidden_act", "gelu"),
            dropout_rate=raw.get("hidden_dropout_prob", 0.1),
            attention_dropout_rate=raw.get("attention_probs_dropout_prob", 0.1),
            embedding_width=raw.get("embedding_size"))
    except KeyError as e:
        raise InitError(f"{path}: BERT config lacks {e.args[0]!r}") from None


def activation(name: str):
    """BERT's 'gelu' is the exact (erf) GELU."""
    if name == "gelu":
        return lambda x: tf_keras.activations.gelu(x, approximate=False)
    return tf_utils.get_activation(name)


def build_bert_encoder(config: dict) -> networks.BertEncoderV2:
    encoder = networks.BertEncoderV2(
        vocab_size=config["vocab_size"], hidden_size=config["hidden_size"], num_layers=config["num_layers"],
        num_attention_heads=config["num_attention_heads"], inner_dim=config["intermediate_size"],
        inner_activation=activation(config["hidden_act"]), output_dropout=config["dropout_rate"],
        attention_dropout=config["attention_dropout_rate"],
        max_sequence_length=config["max_position_embeddings"], type_vocab_size=config["type_vocab_size"],
        embedding_width=config.get("embedding_width"),
        initializer=tf_keras.initializers.TruncatedNormal(stddev=0.02))
    dummy = tf.zeros([1, 2], tf.int32)
    encoder(dict(input_word_ids=dummy, input_mask=tf.ones_like(dummy), input_type_ids=dummy))
    return encoder


# -- canonical variable names (shared by Model Garden V1/V2 and TF Hub exports) ---

_TOP_LEVEL = ("word_embeddings/", "position_embedding/", "type_embeddings/", "embeddings/layer_norm/",
              "embedding_projection/", "transformer/", "pooler_transform/")


def canonical_name(variable_name: str) -> str | None:
    """'tagger/bert_encoder_v2/transformer/layer_0/...:0' -> 'transformer/layer_0/...'."""
    name = variable_name.split(":")[0]
    positions = [name.find(part) for part in _TOP_LEVEL if name.find(part) >= 0]
    return name[min(positions):] if positions else None


def assign_weights(encoder: tf_keras.layers.Layer, weights: dict[str, np.ndarray], source: str,
                   optional: tuple[str, ...] = ("pooler_transform/",)) -> None:
    """Assigns canonical-named arrays; shape mismatches and missing weights are errors."""
    for variable in encoder.weights:
        name = canonical_name(variable.name)
        if name not in weights:
            if name and name.startswith(optional):
                continue
            raise InitError(f"{source}: has no weight for encoder variable {name or variable.name}")
        value = weights[name]
        if tuple(value.shape) != tuple(variable.shape):
            hint = ""
            if name == "word_embeddings/embeddings":
                hint = f" (vocabulary has {variable.shape[0]} tokens, checkpoint embeds {value.shape[0]})"
            raise InitError(f"{source}: {name} has shape {tuple(value.shape)}, the encoder expects "
                            f"{tuple(variable.shape)}{hint}")
        variable.assign(value.astype(variable.dtype.as_numpy_dtype))


# -- Hugging Face ---------------------------------------------------------------

def _hf_state_dict(directory: str) -> dict[str, np.ndarray]:
    path = os.path.join(directory, "model.safetensors")
    if os.path.exists(path):
        state = load_file(path)
    elif os.path.exists(os.path.join(directory, "pytorch_model.bin")):
        state = load_torch_bin(os.path.join(directory, "pytorch_model.bin"))
    else:
        raise InitError(f"hf:{directory}: no model.safetensors or pytorch_model.bin")
    return {key[len("bert."):] if key.startswith("bert.") else key: np.asarray(value, np.float32)
            for key, value in state.items() if value.dtype.kind == "f"}


def hf_to_canonical(state: dict[str, np.ndarray], config: dict) -> dict[str, np.ndarray]:
    """Maps Hugging Face BertModel weights onto BertEncoderV2's (transposed, split by heads)."""
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_size = hidden // heads

    def get(key):
        for candidate in (key, key.replace(".weight", ".gamma").replace(".bias", ".beta")):
            if candidate in state:
                return state[candidate]
        raise InitError(f"Hugging Face checkpoint lacks {key!r}")

    out = {
        "word_embeddings/embeddings": get("embeddings.word_embeddings.weight"),
        "position_embedding/embeddings": get("embeddings.position_embeddings.weight"),
        "type_embeddings/embeddings": get("embeddings.token_type_embeddings.weight"),
        "embeddings/layer_norm/gamma": get("embeddings.LayerNorm.weight"),
        "embeddings/layer_norm/beta": get("embeddings.LayerNorm.bias"),
    }
    for i in range(config["num_layers"]):
        hf, mg = f"encoder.layer.{i}.", f"transformer/layer_{i}/"
        for part in ("query", "key", "value"):
            out[mg + f"self_attention/{part}/kernel"] = get(hf + f"attention.self.{part}.weight").T.reshape(
                hidden, heads, head_size)
            out[mg + f"self_attention/{part}/bias"] = get(hf + f"attention.self.{part}.bias").reshape(heads, head_size)
        out[mg + "self_attention/attention_output/kernel"] = get(hf + "attention.output.dense.weight").T.reshape(
            heads, head_size, hidden)
        out[mg + "self_attention/attention_output/bias"] = get(hf + "attention.output.dense.bias")
        for hf_norm, mg_norm in (("attention.output.LayerNorm", "self_attention_layer_norm"),
                                 ("output.LayerNorm", "output_layer_norm")):
            out[mg + f"{mg_norm}/gamma"] = get(hf + f"{hf_norm}.weight")
            out[mg + f"{mg_norm}/beta"] = get(hf + f"{hf_norm}.bias")
        out[mg + "intermediate/kernel"] = get(hf + "intermediate.dense.weight").T
        out[mg + "intermediate/bias"] = get(hf + "intermediate.dense.bias")
        out[mg + "output/kernel"] = get(hf + "output.dense.weight").T
        out[mg + "output/bias"] = get(hf + "output.dense.bias")
    if "pooler.dense.weight" in state:
        out["pooler_transform/kernel"] = state["pooler.dense.weight"].T
        out["pooler_transform/bias"] = state["pooler.dense.bias"]
    return out


# -- loaders --------------------------------------------------------------------

@dataclasses.dataclass
class LoadedEncoder:
    encoder: tf_keras.layers.Layer
    config: dict
    tokenizer_file: str | None  # vocab.txt / SentencePiece model shipped with the checkpoint, if any


def _need_dir(kind: str, directory: str, required: tuple[str, ...]) -> None:
    if not os.path.isdir(directory):
        raise InitError(f"--init={kind}:{directory}: not a directory")
    for pattern in required:
        if not glob.glob(os.path.join(directory, pattern)):
            raise InitError(f"--init={kind}:{directory}: expected a {kind} checkpoint directory with "
                            f"{', '.join(required)}; {pattern} is missing")


def load_hf(directory: str) -> LoadedEncoder:
    _need_dir("hf", directory, ("config.json",))
    config = config_from_bert_json(os.path.join(directory, "config.json"))
    encoder = build_bert_encoder(config)
    assign_weights(encoder, hf_to_canonical(_hf_state_dict(directory), config), f"hf:{directory}")
    return LoadedEncoder(encoder, config, find_tokenizer_file(directory))


def load_tf1(directory: str) -> LoadedEncoder:
    """Google's TF1 BERT checkpoint, through Model Garden's V1->V2 converter."""
    _need_dir("tf1", directory, ("bert_config.json", "*.index"))
    config = config_from_bert_json(os.path.join(directory, "bert_config.json"))
    prefix = tf.train.latest_checkpoint(directory) or glob.glob(os.path.join(directory, "*.index"))[0][:-6]
    with tempfile.TemporaryDirectory() as scratch:
        converted = os.path.join(scratch, "converted", "encoder")
        try:
            converter.convert_checkpoint(configs.BertConfig.from_json_file(os.path.join(directory, "bert_config.json")),
                                         converted, prefix, checkpoint_model_name="encoder")
        except (tf.errors.OpError, ValueError, KeyError) as e:
            raise InitError(f"tf1:{directory}: could not convert the TF1 checkpoint: {e}") from None
        encoder = build_bert_encoder(config)
        checkpoint = tf.train.Checkpoint(encoder=encoder)
        status = checkpoint.read(tf.train.latest_checkpoint(os.path.dirname(converted)))
        try:
            status.assert_existing_objects_matched()
        except AssertionError as e:
            raise InitError(f"tf1:{directory}: converted checkpoint does not fit the encoder: {e}") from None
    return LoadedEncoder(encoder, config, find_tokenizer_file(directory))


def _hub_variables(handle: str) -> dict[str, np.ndarray]:
    try:
        loaded = hub.load(handle)
    except (OSError, ValueError, tf.errors.OpError) as e:
        raise InitError(f"hub:{handle}: could not load a TF Hub SavedModel: {e}") from None
    weights = {}
    for variable in loaded.variables:
        name = canonical_name(variable.name)
        if name:
            weights[name] = variable.numpy()
    if "word_embeddings/embeddings" not in weights:
        raise InitError(f"hub:{handle}: no BERT encoder variables (word_embeddings/...) in this SavedModel")
    return weights


def config_from_weights(weights: dict[str, np.ndarray]) -> dict:
    """Infers a BERT config from variable shapes (TF Hub models carry no config file)."""
    vocab_size, width = weights["word_embeddings/embeddings"].shape
    layers = {int(name.split("/")[1][len("layer_"):]) for name in weights if name.startswith("transformer/layer_")}
    hidden, heads, _ = weights["transformer/layer_0/self_attention/query/kernel"].shape
    return bert_config(
        vocab_size=int(vocab_size), hidden_size=int(hidden), num_layers=len(layers), num_attention_heads=int(heads),
        intermediate_size=int(weights["transformer/layer_0/intermediate/kernel"].shape[1]),
        max_position_embeddings=int(weights["position_embedding/embeddings"].shape[0]),
        type_vocab_size=int(weights["type_embeddings/embeddings"].shape[0]),
        embedding_width=int(width) if width != hidden else None)


def load_hub(handle: str) -> LoadedEncoder:
    weights = _hub_variables(handle)
    config = config_from_weights(weights)
    encoder = build_bert_encoder(config)
    assign_weights(encoder, weights, f"hub:{handle}")
    local = handle if os.path.isdir(handle) else hub.resolve(handle)  # the cached download of a handle
    candidates = glob.glob(os.path.join(local, "assets", "*vocab*.txt")) + glob.glob(
        os.path.join(local, "assets", "*.model"))
    return LoadedEncoder(encoder, config, candidates[0] if candidates else None)


LOADERS = {"hf": load_hf, "tf1": load_tf1, "hub": load_hub}
