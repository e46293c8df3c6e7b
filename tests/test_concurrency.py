"""One runtime tagger shared by several Python threads tags exactly as serial calls do."""
import glob
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from tagger.data.corpus import read_corpus

THREADS = 8


def sample_texts(sample_dir: str) -> list[str]:
    """Sentences of different lengths, so the threads' batches differ in shape."""
    sentences = []
    for path in sorted(glob.glob(os.path.join(sample_dir, "ud", "*", "*-dev.conllu"))):
        sentences += [" ".join(s.words) for s in read_corpus(path)]
    return sentences[:96]


def tags_only(rows: list[dict]) -> list[dict]:
    return [{name: value for name, value in row.items() if name != "exact"} for row in rows]


def check_threads_match_serial(tag, texts: list):
    """Each thread tags its own slice, many times over; every result equals the serial one."""
    serial = [tag([text])[0] for text in texts]
    slices = [texts[i::THREADS] for i in range(THREADS)]
    expected = [serial[i::THREADS] for i in range(THREADS)]

    def work(index):
        return [tag(slices[index][j:j + 5]) for _ in range(3) for j in range(0, len(slices[index]), 5)]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(THREADS)))
    for index, batches in enumerate(results):
        flat = [row for batch in batches for row in batch]
        assert tags_only(flat) == tags_only(expected[index] * 3), f"thread {index} differs from serial"


@pytest.mark.parametrize("variant", ["float32", "dynamic_int8"])
def test_tflite_tagger_shared_between_threads(sample_exports, sample_dir, variant):
    from tagger.runtime.tflite import TFLiteTagger
    tagger = TFLiteTagger(sample_exports[variant], batch_size=4)
    check_threads_match_serial(tagger.tag_text, sample_texts(sample_dir))


def test_saved_model_tagger_shared_between_threads(sample_exports, sample_dir):
    from tagger.runtime.saved_model import SavedModelTagger
    tagger = SavedModelTagger(sample_exports["saved_model"], batch_size=4)
    texts = sample_texts(sample_dir)
    check_threads_match_serial(tagger.tag_text, texts)
    check_threads_match_serial(tagger.tag_words, [text.split(" ") for text in texts])
