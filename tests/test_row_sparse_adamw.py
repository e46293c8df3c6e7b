"""RowSparseAdamW: Model Garden's AdamW on dense gradients and full-row ones, row-local on sparse ones."""
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO, TINY_BERT, tiny_hf_weights, tiny_vocab_tokens
from tagger.row_sparse_adamw import RowSparseAdamW
from tagger.training import create_optimizer

ROWS, WIDTH = 7, 3


def run_steps(optimizer, gradients):
    """Applies each step's gradients to fresh copies of a table (decayed) and a LayerNorm-named bias (not)."""
    rng = np.random.default_rng(0)
    table = tf.Variable(rng.normal(size=(ROWS, WIDTH)).astype(np.float32), name="word_embeddings/embeddings")
    bias = tf.Variable(rng.normal(size=(WIDTH,)).astype(np.float32), name="LayerNorm/beta")
    for table_gradient, bias_gradient in gradients:
        optimizer.apply_gradients([(table_gradient, table), (bias_gradient, bias)])
    return table.numpy(), bias.numpy(), optimizer.get_slot(table, "m").numpy(), optimizer.get_slot(table, "v").numpy()


def sparse(rows, seed):
    values = np.random.default_rng(seed).normal(size=(len(rows), WIDTH)).astype(np.float32)
    return tf.IndexedSlices(tf.constant(values), tf.constant(rows, tf.int64), tf.constant([ROWS, WIDTH], tf.int64))


def both_optimizers():
    adamw = create_optimizer(1e-2, 10, warmup_fraction=0.0)
    return adamw, create_optimizer(1e-2, 10, warmup_fraction=0.0, row_sparse=True)


def test_row_sparse_is_a_copy_of_the_adamw_it_replaces():
    adamw, row_sparse = both_optimizers()
    assert type(row_sparse) is RowSparseAdamW and type(adamw) is not RowSparseAdamW
    assert row_sparse.get_config() == adamw.get_config()
    assert row_sparse._exclude_from_weight_decay == adamw._exclude_from_weight_decay == ["LayerNorm", "layer_norm",
                                                                                        "bias"]
    assert row_sparse.gradient_clip_norm == adamw.gradient_clip_norm and row_sparse.epsilon == adamw.epsilon


def test_gradients_on_every_row_give_adamws_update():
    everything = list(range(ROWS))
    steps = [(sparse(everything, seed), tf.constant(np.full(WIDTH, 0.1 * seed, np.float32))) for seed in range(3)]
    expected, actual = (run_steps(optimizer, steps) for optimizer in both_optimizers())
    for want, got in zip(expected, actual):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_rows_a_step_does_not_use_keep_their_weights_and_moments():
    """Two steps on rows {1, 3, 3} then {3, 5}: a numpy LazyAdam with AdamW's decay, row by row."""
    steps = [(sparse([1, 3, 3], 1), tf.zeros(WIDTH)), (sparse([3, 5], 2), tf.zeros(WIDTH))]
    table, _, m, v = run_steps(both_optimizers()[1], steps)
    start = np.random.default_rng(0).normal(size=(ROWS, WIDTH)).astype(np.float64)
    want, want_m, want_v = start.copy(), np.zeros_like(start), np.zeros_like(start)
    b1, b2 = np.float32(0.9), np.float32(0.999)  # as TensorFlow holds them, 1 - b2 included
    for step, (gradient, _) in enumerate(steps, start=1):
        values = gradient.values.numpy().astype(np.float64)
        norm = np.sqrt(np.sum(values * values))  # clip_by_global_norm sees the slices before duplicates add up
        summed = {}
        for row, value in zip(gradient.indices.numpy(), values):
            summed[row] = summed.get(row, 0) + value
        lr_t = 1e-2 * (1 - (step - 1) / 10)  # linear decay, no warm-up; the step before the update
        for row, g in summed.items():
            g = g * min(1.0, 1.0 / norm)  # AdamW clips to global norm 1 (the bias gradient is 0)
            want_m[row] = b1 * want_m[row] + (1 - b1) * g
            want_v[row] = b2 * want_v[row] + (1 - b2) * g * g
            want[row] -= lr_t * want[row] * 0.01
            want[row] -= lr_t * np.sqrt(1 - b2 ** step) / (1 - b1 ** step) * want_m[row] / (
                np.sqrt(want_v[row]) + 1e-6)
    np.testing.assert_allclose(m, want_m, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(v, want_v, rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(table, want, rtol=1e-5, atol=1e-7)
    untouched = [0, 2, 4, 6]
    np.testing.assert_array_equal(table[untouched], start.astype(np.float32)[untouched])
    assert not np.any(m[untouched]) and not np.any(v[untouched])


def finetune_table(model_dir, hf_dir, *extra) -> np.ndarray:
    command = [sys.executable, "-m", "tagger.finetune", f"--init=hf:{hf_dir}", f"--model_dir={model_dir}",
               f"--train_data={REPO}/tagger/sample/ud/en_sample/en_sample-ud-train.conllu", "--tasks=upos",
               "--max_seq_length=32", "--train_batch_size=8", "--train_steps=4", *extra]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    from tagger.models.tagger import load_model_dir
    model, _, _ = load_model_dir(str(model_dir))
    return model.encoder.get_embedding_table().numpy()


@pytest.mark.parametrize("flag", ["--sparse_embedding_updates", "--nosparse_embedding_updates"])
def test_finetune_updates_only_the_rows_its_batches_use(tmp_path, tiny_checkpoints, flag):
    """[MASK] never occurs in text: with row-sparse updates its row stays as loaded; AdamW decays it."""
    table = finetune_table(tmp_path / "model", tiny_checkpoints["hf"], flag)
    start = tiny_hf_weights(TINY_BERT)["embeddings.word_embeddings.weight"]
    changed = np.flatnonzero(np.any(table != start, axis=1))
    mask_id = tiny_vocab_tokens().index("[MASK]")
    if flag == "--sparse_embedding_updates":
        assert mask_id not in changed and 0 < len(changed) < len(start)
    else:
        assert len(changed) == len(start)


def test_freezing_and_row_sparse_updates_are_exclusive(tmp_path, tiny_checkpoints):
    command = [sys.executable, "-m", "tagger.finetune", f"--init=hf:{tiny_checkpoints['hf']}",
               f"--model_dir={tmp_path}", f"--train_data={REPO}/tagger/sample/ud/en_sample/en_sample-ud-train.conllu",
               "--freeze_word_embeddings", "--sparse_embedding_updates"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode != 0 and "freeze_word_embeddings" in result.stderr
    assert "Traceback" not in result.stderr
