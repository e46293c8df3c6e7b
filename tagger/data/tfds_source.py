"""Labelled sentences from a prepared TFDS CoNLL-U dataset (`tfds.dataset_builders.ConllUDatasetBuilder`).

`tfds:NAME[/CONFIG]:SPLIT` in any data flag; the TFDS data_dir comes from
$TFDS_DATA_DIR (TFDS's own default otherwise). Nothing is downloaded.
"""
from __future__ import annotations

import ast
import os

import tensorflow_datasets as tfds

from tagger.data.sentence import UPOS_TAGS, DataError, Sentence


def _feats_bundle(value: str) -> str:
    """TFDS stores FEATS as `str(dict)` of the conllu parse; back to `Key=Value|...` (`_` if none)."""
    if value in ("None", "", "_"):
        return "_"
    parsed = ast.literal_eval(value)  # a literal dict of strings, never code
    return "|".join(f"{key}={parsed[key]}" for key in sorted(parsed)) or "_"


def read_tfds(spec: str) -> list[Sentence]:
    name, _, split = spec.partition(":")
    data_dir = os.environ.get("TFDS_DATA_DIR")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
        dataset = builder.as_dataset(split=split or "train", shuffle_files=False)
    except Exception as e:  # TFDS raises many types for "not prepared / not found"
        raise DataError(f"tfds:{spec}", None, f"cannot load the prepared TFDS dataset: {e}") from None
    features = builder.info.features
    upos_names = features["upos"].feature.names
    has_feats = "feats" in features
    treebank = name.replace("/", "_")
    sentences = []
    for number, example in enumerate(tfds.as_numpy(dataset), start=1):
        words, upos, feats = [], [], []
        for i, token in enumerate(example["tokens"]):
            tag = upos_names[example["upos"][i]]
            if tag == "_":  # multiword-token range: its syntactic words carry the labels
                continue
            if tag not in UPOS_TAGS:
                raise DataError(f"tfds:{spec}", number, f"unknown UPOS tag {tag!r}")
            words.append(token.decode("utf-8"))
            upos.append(tag)
            if has_feats:
                feats.append(_feats_bundle(example["feats"][i].decode("utf-8")))
        tags = {"upos": upos, **({"ufeats": feats} if has_feats else {})}
        sentences.append(Sentence(words, tags, treebank, treebank.split("_")[0], f"tfds:{spec}#{number}"))
    return sentences
