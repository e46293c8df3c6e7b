"""Checkpoint formats: HF and TF1 with the same weights agree; TF Hub; clear errors."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from conftest import TINY_BERT, tiny_hf_weights, write_hf_dir
from tagger.models import encoders
from tagger.models.encoders import InitError
from tagger.models.init import load_encoder


def run(encoder, seed=1):
    ids = tf.constant(np.random.default_rng(seed).integers(5, TINY_BERT["vocab_size"], size=(2, 7)), tf.int32)
    mask = tf.constant([[1] * 7, [1] * 4 + [0] * 3], tf.int32)
    return encoder(dict(input_word_ids=ids, input_mask=mask, input_type_ids=tf.zeros_like(ids)))["sequence_output"]


def test_hf_and_tf1_checkpoints_give_the_same_encoder(tiny_checkpoints):
    from_hf = load_encoder("hf:" + tiny_checkpoints["hf"])
    from_tf1 = load_encoder("tf1:" + tiny_checkpoints["tf1"])
    assert from_hf.config == from_tf1.config
    np.testing.assert_allclose(run(from_hf.encoder), run(from_tf1.encoder), atol=1e-5)
    assert from_hf.tokenizer_file.endswith("vocab.txt")


def test_hf_weights_really_land_in_the_encoder(tiny_checkpoints):
    loaded = load_encoder("hf:" + tiny_checkpoints["hf"])
    expected = tiny_hf_weights(TINY_BERT)["embeddings.word_embeddings.weight"]
    np.testing.assert_array_equal(loaded.encoder.get_embedding_table().numpy(), expected)
    random = encoders.build_bert_encoder(loaded.config)
    assert np.abs(run(random) - run(loaded.encoder)).max() > 1e-2


def test_hub_savedmodel_in_bert_encoder_signature(tiny_checkpoints, tmp_path):
    """A tiny SavedModel exported in TF Hub's BERT encoder signature loads with the same weights."""
    source = load_encoder("hf:" + tiny_checkpoints["hf"]).encoder
    inputs = {name: tf_keras.Input(shape=(None,), dtype=tf.int32, name=name)
              for name in ("input_word_ids", "input_mask", "input_type_ids")}
    hub_model = tf_keras.Model(inputs, source(inputs))
    export = str(tmp_path / "hub_bert")
    tf.saved_model.save(hub_model, export)
    import tensorflow_hub as hub
    layer = hub.KerasLayer(export)  # what TF Hub users would call
    loaded = load_encoder("hub:" + export)
    np.testing.assert_allclose(run(loaded.encoder), run(source), atol=1e-5)
    ids = tf.constant([[5, 6, 7]], tf.int32)
    hub_out = layer(dict(input_word_ids=ids, input_mask=tf.ones_like(ids), input_type_ids=tf.zeros_like(ids)))
    ours = loaded.encoder(dict(input_word_ids=ids, input_mask=tf.ones_like(ids), input_type_ids=tf.zeros_like(ids)))
    np.testing.assert_allclose(hub_out["sequence_output"], ours["sequence_output"], atol=1e-5)


def test_random_init_from_config(tmp_path):
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(TINY_BERT))
    loaded = load_encoder(f"config:{path}")
    assert loaded.config["num_layers"] == 2 and loaded.tokenizer_file is None


@pytest.mark.parametrize("init, message", [
    ("bogus", "expected one of"),
    ("hf:/nonexistent/dir", "not a directory"),
    ("config:/nonexistent.json", "no such file"),
])
def test_bad_init_strings(init, message):
    with pytest.raises(InitError, match=message):
        load_encoder(init)


def test_init_pointing_at_the_wrong_format(tiny_checkpoints):
    with pytest.raises(InitError, match="expected a tf1 checkpoint directory.*bert_config.json"):
        load_encoder("tf1:" + tiny_checkpoints["hf"])
    with pytest.raises(InitError, match="expected a hf checkpoint directory.*config.json"):
        load_encoder("hf:" + tiny_checkpoints["tf1"])
    with pytest.raises(InitError, match="could not load a TF Hub SavedModel"):
        load_encoder("hub:" + tiny_checkpoints["hf"])


def test_vocab_checkpoint_mismatch(tiny_checkpoints, tmp_path):
    wrong = dict(TINY_BERT, vocab_size=TINY_BERT["vocab_size"] + 3)
    directory = write_hf_dir(tmp_path / "wrong", wrong, tiny_hf_weights(TINY_BERT),
                             os.path.join(tiny_checkpoints["hf"], "vocab.txt"))
    with pytest.raises(InitError, match=r"vocabulary has \d+ tokens, checkpoint embeds \d+"):
        load_encoder("hf:" + directory)
    from tagger.models.init import load_init
    short_vocab = tmp_path / "short_vocab.txt"
    short_vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n")
    with pytest.raises(InitError, match="has 4 tokens but the checkpoint .* embeds"):
        load_init("hf:" + tiny_checkpoints["hf"], str(short_vocab))


FIXTURE_BIN = os.path.join(os.path.dirname(__file__), "fixtures", "tiny_bert_pytorch_model.bin")


def test_pytorch_bin_without_torch(tiny_checkpoints, tmp_path):
    """A real torch.save() state dict (tests/fixtures, written by torch 2.13) loads like safetensors."""
    import shutil
    directory = tmp_path / "hf_bin"
    directory.mkdir()
    for name in ("config.json", "vocab.txt"):
        shutil.copy(os.path.join(tiny_checkpoints["hf"], name), directory / name)
    shutil.copy(FIXTURE_BIN, directory / "pytorch_model.bin")
    from_bin = load_encoder(f"hf:{directory}")
    from_safetensors = load_encoder("hf:" + tiny_checkpoints["hf"])
    np.testing.assert_array_equal(run(from_bin.encoder), run(from_safetensors.encoder))


def test_pytorch_bin_refuses_code(tmp_path):
    """A pickle that would run code is refused, not executed."""
    import pickle
    import zipfile
    from tagger.models.torch_bin import load_torch_bin

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > /dev/null",))

    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"x": Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load posix.system"):
        load_torch_bin(str(path))
