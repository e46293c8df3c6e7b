"""Task heads (tagger/models/heads.py): dense and low-rank, in the model directory contract."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import SAMPLE
from tagger.models.build import build_encoder
from tagger.models.encoders import InitError, bert_config
from tagger.models.heads import LowRankHead, parse_head_ranks
from tagger.models.tagger import Tagger, load_model_dir
from tools import benchlib

SAMPLE_VOCAB = os.path.join(SAMPLE, "vocab.txt")

LABELS = {"upos": [f"u{i}" for i in range(5)], "ufeats": [f"f{i}" for i in range(40)]}


def tiny_tagger(head_ranks=None):
    return Tagger(build_encoder(bert_config(60, 16, 1, 2, 32)), LABELS, head_ranks=head_ranks).build_variables()


def test_low_rank_head_is_a_rank_r_factorisation():
    """Shapes [..., hidden] -> [..., labels], parameters hidden*r + r*labels + labels, and the logits
    equal features @ (down @ up) + bias: a dense head of rank r."""
    head = LowRankHead(40, 3)
    features = tf.random.normal([2, 7, 16], seed=1)
    logits = head(features)
    assert logits.shape == [2, 7, 40]
    assert head.count_params() == 16 * 3 + 3 * 40 + 40
    dense = head.down.kernel.numpy() @ head.up.kernel.numpy()
    assert np.linalg.matrix_rank(dense) == 3
    np.testing.assert_allclose(logits.numpy(), features.numpy() @ dense + head.up.bias.numpy(), atol=1e-5)


def test_tagger_uses_low_rank_only_where_asked():
    model = tiny_tagger({"ufeats": 4})
    assert isinstance(model.heads["ufeats"], LowRankHead)
    assert not isinstance(model.heads["upos"], LowRankHead)
    ids = tf.constant([[1, 5, 9, 2]])
    logits = model(dict(input_word_ids=ids, input_mask=tf.ones_like(ids), input_type_ids=tf.zeros_like(ids)))
    assert logits["ufeats"].shape == [1, 4, 40] and logits["upos"].shape == [1, 4, 5]


@pytest.mark.parametrize("specs,message", [
    (["xpos:4"], "no task 'xpos'"),
    (["ufeats:0"], "rank >= 1"),
    (["ufeats"], "rank >= 1"),
])
def test_bad_head_ranks(specs, message):
    with pytest.raises(ValueError, match=message):
        parse_head_ranks(specs, list(LABELS))


def test_head_ranks_round_trip_through_the_model_directory(tmp_path):
    """head_ranks in tagger_config.json rebuild the same heads, and an edited label list is still
    caught against the low-rank head's output kernel (not its bottleneck)."""
    model_dir = str(tmp_path / "low_rank")
    model, _, config = benchlib.write_random_model_dir(model_dir, bert_config(len(open(SAMPLE_VOCAB).readlines()),
                                                                              16, 1, 2, 32),
                                                       LABELS, SAMPLE_VOCAB, 32, head_ranks={"ufeats": 4})
    assert config["head_ranks"] == {"ufeats": 4}
    loaded, _, _ = load_model_dir(model_dir)
    assert isinstance(loaded.heads["ufeats"], LowRankHead)
    np.testing.assert_array_equal(loaded.heads["ufeats"].up.kernel.numpy(), model.heads["ufeats"].up.kernel.numpy())

    config["tasks"] = {**config["tasks"], "ufeats": LABELS["ufeats"][:-1]}
    with open(os.path.join(model_dir, "tagger_config.json"), "w") as f:
        json.dump(config, f)
    with pytest.raises(InitError, match="lists 39 labels but the checkpoint's ufeats head has 40"):
        load_model_dir(model_dir)


def test_forward_flops_count_both_factors():
    config = {"encoder": bert_config(100, 16, 1, 2, 32), "tasks": LABELS}
    dense = benchlib.forward_flops(config, 8, head_rows=3)
    low_rank = benchlib.forward_flops({**config, "head_ranks": {"ufeats": 4}}, 8, head_rows=3)
    assert dense - low_rank == 2 * 3 * (16 * 40 - (16 + 40) * 4)
