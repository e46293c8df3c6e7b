"""A TFDS CoNLL-U dataset, prepared locally with tfds.dataset_builders.ConllUDatasetBuilder, reads as Sentences."""
import os

import pytest

from conftest import SAMPLE
from tagger.data.corpus import read_conllu, read_corpus


def test_tfds_conllu_dataset(tmp_path, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    from tensorflow_datasets.core.dataset_builders.conll import conllu_dataset_builder_utils as conllu_lib
    sample = os.path.join(SAMPLE, "ud", "de_sample", "de_sample-ud-dev.conllu")

    class DeSampleConllu(tfds.dataset_builders.ConllUDatasetBuilder):
        VERSION = tfds.core.Version("1.0.0")
        pkg_dir_path = tfds.core.Path(str(tmp_path))  # no package metadata next to a test module
        BUILDER_CONFIGS = [conllu_lib.get_universal_morphology_config(
            language="de", features=conllu_lib.UNIVERSAL_DEPENDENCIES_FEATURES, name="de")]

        def _info(self):
            return self.create_dataset_info()

        def _split_generators(self, dl_manager):
            return {"dev": self._generate_examples(filepaths=[sample])}

    builder = DeSampleConllu(data_dir=str(tmp_path))
    builder.download_and_prepare()
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    from_tfds = read_corpus("tfds:de_sample_conllu/de:dev")
    direct = read_conllu(sample)
    as_rows = lambda sentences: sorted((s.words, s.tags["upos"], s.tags["ufeats"]) for s in sentences)
    assert len(from_tfds) == len(direct)
    assert as_rows(from_tfds) == as_rows(direct)  # TFDS stores examples in its own order


def test_missing_tfds_dataset_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    from tagger.data.corpus import DataError
    with pytest.raises(DataError, match="tfds:no_such_dataset:train: cannot load"):
        read_corpus("tfds:no_such_dataset:train")
