"""models/int8_table.py: int8 word-embedding rows with one scale per row, and the export modes that
use them (dynamic_int8, embeddings_int8)."""
import numpy as np
import tensorflow as tf

from conftest import SAMPLE_NER_DEV, SAMPLE_UD_DEV, WORDPIECE_TFLITE_CUSTOM_OPS
from tagger.data.corpus import read_corpus
from tagger.models.int8_table import Int8RowTable, quantize_rows


def _table():
    rng = np.random.default_rng(0)
    table = rng.normal(size=(50, 16)).astype(np.float32) * rng.uniform(0.01, 1.0, size=(50, 1)).astype(np.float32)
    table[3] = 0.0
    table[7, 2] = 40.0  # one outlier row, as real embedding tables have
    return table


def test_every_entry_is_within_half_a_step_of_its_own_row():
    table = _table()
    values, scales = quantize_rows(table)
    assert values.dtype == np.int8 and scales.dtype == np.float32 and scales.shape == (50, 1)
    error = np.abs(values.astype(np.float32) * scales - table)
    assert np.all(error <= scales / 2 + 1e-7)
    assert np.all(values[3] == 0)  # an all-zero row stays zero (no division by zero)


def test_one_outlier_row_does_not_coarsen_the_others():
    """Why per row: with one scale for the table (TFLite's GATHER quantization) the outlier row sets
    the step for all rows, and the small rows lose most of their precision."""
    table = _table()
    values, scales = quantize_rows(table)
    per_row = np.abs(values * scales - table).max()
    step = np.abs(table).max() / 127.0
    per_tensor = np.abs(np.clip(np.rint(table / step), -127, 127) * step - table)
    small = [i for i in range(50) if i != 7]
    assert np.abs(values * scales - table)[small].max() < per_tensor[small].max() / 10
    assert per_row <= step / 2 + 1e-6


def test_lookup_returns_the_dequantized_rows_in_the_ids_shape():
    table = _table()
    values, scales = quantize_rows(table)
    ids = tf.constant([[0, 7, 3], [49, 1, 1]])
    rows = Int8RowTable(table).lookup(ids)
    assert rows.shape == (2, 3, 16) and rows.dtype == tf.float32
    np.testing.assert_allclose(rows.numpy(), (values * scales)[ids.numpy()], rtol=0, atol=1e-7)


def test_embeddings_int8_export_agrees_and_sits_between_int8_and_float(tmp_path, sample_tagger_dir, sample_exports):
    """The int8 table with a float32 encoder: builtin ops only besides the tokenizer, within the
    dynamic gate of the checkpoint, and smaller than float32. Exported from a copy, so the shared
    sample directory's export/ keeps only the artifacts other tests expect."""
    import os
    import shutil
    sample_tagger_dir = shutil.copytree(sample_tagger_dir, tmp_path / "model", ignore=shutil.ignore_patterns("export"))
    from export.tflite import export_tflite, op_summary
    from export.verify import DYNAMIC_GATE
    from tagger.inference import WordTagger
    from tagger.models.tagger import load_model_dir
    from tagger.runtime.tflite import TFLiteTagger
    path = export_tflite(sample_tagger_dir, "embeddings_int8", verbose=False)
    assert path.endswith("tagger_embeddings_int8.tflite")
    ops = op_summary(open(path, "rb").read())
    assert sorted(op for op in ops if not op.isupper()) == WORDPIECE_TFLITE_CUSTOM_OPS
    assert os.path.getsize(sample_exports["dynamic_int8"]) < os.path.getsize(path) < \
        os.path.getsize(sample_exports["float32"])
    model, tokenizer, config = load_model_dir(sample_tagger_dir)
    sentences = [s.words for s in read_corpus(f"{SAMPLE_UD_DEV},{SAMPLE_NER_DEV}")]
    expected = WordTagger(model, tokenizer, config["tasks"]).tag(sentences)
    tagged = TFLiteTagger(path).tag_text([" ".join(s) for s in sentences])
    for task in config["tasks"]:
        pairs = [(a, b) for row, tags in zip(tagged, expected) for a, b in zip(row[task], tags[task])]
        assert sum(a == b for a, b in pairs) / len(pairs) >= DYNAMIC_GATE, task
