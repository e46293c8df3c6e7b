"""Every `--init` kind in one place: the encoder to start from and the tokenizer file that goes with it.

  hub:HANDLE_OR_PATH | tf1:DIR | hf:DIR   a pretrained BERT checkpoint (`encoders`)
  config:FILE                             random initialisation of any encoder type (BERT, BiLSTM)
  model_dir:DIR                           the encoder of a trained tagger model directory
"""
from __future__ import annotations

import os

from tagger.data.tokenizer_files import check_fits
from tagger.models import encoders
from tagger.models.encoders import InitError, LoadedEncoder
from tagger.models.build import build_encoder
from tagger.models.tagger import load_model_dir


def load_encoder(init: str) -> LoadedEncoder:
    """The encoder of any `--init` kind, with the tokenizer file its source ships (if any)."""
    kind, target = encoders.parse_init(init)
    if kind == "model_dir":
        model, tokenizer, config = load_model_dir(target)
        settings = config["tokenizer"]
        name = settings.get("model_file") if tokenizer.kind == "sentencepiece" else settings.get("vocab_file")
        return LoadedEncoder(model.encoder, config["encoder"], os.path.join(target, name))
    if kind == "config":
        if not os.path.isfile(target):
            raise InitError(f"--init={init}: no such file")
        config = encoders.config_from_bert_json(target)
        return LoadedEncoder(build_encoder(config), config, None)
    return encoders.LOADERS[kind](target)


def load_init(init: str, tokenizer_file: str | None = None) -> tuple[LoadedEncoder, str]:
    """Loads `--init` and settles its tokenizer file: `tokenizer_file` if given, else the one the
    source ships. The tokenizer must fit the encoder's embedding table."""
    loaded = load_encoder(init)
    path = tokenizer_file or loaded.tokenizer_file
    if not path:
        raise InitError(f"--init={init} ships no vocab.txt or SentencePiece model; pass --vocab_file")
    try:
        check_fits(path, loaded.config["vocab_size"], f"the checkpoint of --init={init}")
    except ValueError as e:
        raise InitError(str(e)) from None
    return loaded, path
