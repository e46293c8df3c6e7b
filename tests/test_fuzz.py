"""Property-based fuzzing (hypothesis) of the input side: readers, word-piece alignment, windows.

Targets and their properties:

* CoNLL-U and two-column readers, on random or malformed content (random Unicode with
  control characters, combining marks, RTL, CJK and emoji; invalid UTF-8; empty and
  whitespace-only files; lines with the wrong number of columns, bad ids, bad tags):
  the reader returns well-formed sentences, or raises `DataError` whose message names the
  file and a line number within the file. Never any other exception.
* `WordPieceTokenizer.encode_words` / `encode_text` (max_seq_length 16 with the tiny vocab,
  cased and uncased with the casing bit; 32 with the real mBERT vocab when present) and
  `SentencePieceTokenizer`'s (a 400-piece model trained on the sample, length 16), on
  random words and text up to 5,000 words a sentence: exactly one label position per word
  (`label_mask.sum() == words`), in word order, at the word's first piece, and well-formed
  windows. No crash.

The fast test of each target runs unmarked; the `slow` ones try many more inputs. Every
input tried is counted per target, with the inputs whose check raised ("crashes", which
fail the test; hypothesis's shrinking steps count too), in
$TAGGER_TEST_REPORTS/fuzz_counts.json (default runs/test_reports/).

Bugs this found, now fixed: a 5,000-digit CoNLL-U word id (bare ValueError from int());
`encode_text` on a batch without any word piece (e.g. `[""]`: a shape error); with an
uncased vocabulary, a character that NFKD expands into punctuation ("…" -> "...") cut
into several words, two of them empty, and shifting the casing bits of the words after it.

Atheris is not used: it is not installed, and these targets are Python/TF functions that
hypothesis drives directly.
"""
import collections
import json
import os
import tempfile

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO, SHARED_DATA, tiny_vocab_tokens
from tagger.data.corpus import NER_TAGS, UPOS_TAGS, DataError, read_conllu, read_corpus, read_two_column
from tagger.data.sentencepiece import SentencePieceTokenizer, read_model_proto
from tagger.data.tokenizer import PieceTokenizer
from tagger.data.wordpiece import WordPieceTokenizer, load_vocab

FAST, SLOW = 100, 500  # examples per test
MBERT_VOCAB = os.path.join(SHARED_DATA, "vocab", "mbert_cased_vocab.txt")
COUNTS: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def fuzz_settings(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=False, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@pytest.fixture(scope="module", autouse=True)
def write_counts():
    yield
    path = os.environ.get("TAGGER_TEST_REPORTS", os.path.join(REPO, "runs", "test_reports"))
    os.makedirs(path, exist_ok=True)
    counts = {name: {"crashes": 0, **values} for name, values in sorted(COUNTS.items())}
    with open(os.path.join(path, "fuzz_counts.json"), "w", encoding="utf-8") as f:
        json.dump(counts, f, indent=2)


def counted(function):
    """Counts the inputs a check runs on; an input whose check raises counts as a crash
    (hypothesis then shrinks it, and each shrinking step counts too)."""
    def run(target, *args):
        COUNTS[target]["inputs"] += 1
        try:
            return function(target, *args)
        except BaseException:
            COUNTS[target]["crashes"] += 1
            raise
    return run


# -- strategies -----------------------------------------------------------------------------

NASTY = ["\u0301", "\u0308", "\u200b", "\u200d", "\u200e", "\u200f", "\u202e", "\ufeff", "\u00a0", "\u3000",
         "\u2028", "\x85", "\x00", "\x0b", "\x0c", "\x1c", "\x7f", "\r", "\t", " ", "#", "##", "[UNK]", "[SEP]",
         "שלום", "مرحبا", "日本語", "中文", "한국어", "😀", "👩‍👩‍👧", "🇩🇪", "e\u0301", "ﬁ", "İ", "ß", "Ǆ", "…",
         "Haus", "the", "cat", "Paris", "unbelievable", "9" * 40, "x" * 300]
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
nasty = st.sampled_from(NASTY)
word = st.one_of(nasty, any_text, st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,!?'-"),
                                           min_size=1, max_size=12),
                 st.lists(nasty, min_size=1, max_size=4).map("".join))
cell = st.one_of(word, st.sampled_from(["_", "", "1", "0", "-1", "1-2", "2-1", "1.1", "0.1", "01", "1-",
                                        "9" * 5000, "1-" + "9" * 5000, "1." + "9" * 10]),
                 st.sampled_from(UPOS_TAGS + NER_TAGS))


@st.composite
def conllu_line(draw):
    kind = draw(st.sampled_from(["word", "word", "word", "range", "empty", "comment", "blank", "junk",
                                 "columns"]))
    if kind == "comment":
        return "#" + draw(any_text)
    if kind == "blank":
        return draw(st.sampled_from(["", " ", "\t", "\u3000", "\r"]))
    if kind == "junk":
        return draw(any_text)
    if kind == "columns":
        return "\t".join(draw(st.lists(cell, max_size=14)))
    token_id = {"word": str(draw(st.integers(1, 12))),
                "range": f"{draw(st.integers(1, 12))}-{draw(st.integers(1, 12))}",
                "empty": f"{draw(st.integers(0, 12))}.{draw(st.integers(1, 3))}"}[kind]
    fields = [token_id, draw(word), draw(word), draw(st.one_of(st.sampled_from(UPOS_TAGS), cell)),
              "_", draw(st.one_of(st.just("_"), st.just("Case=Nom|Number=Sing"), word)),
              "0", "root", "_", "_"]
    return "\t".join(fields)


@st.composite
def two_column_line(draw):
    kind = draw(st.sampled_from(["pair", "pair", "pair", "pair", "blank", "junk", "columns"]))
    if kind == "blank":
        return draw(st.sampled_from(["", " ", "\t\t", "\r"]))
    if kind == "junk":
        return draw(any_text)
    if kind == "columns":
        return "\t".join(draw(st.lists(cell, max_size=4)))
    return f"{draw(word)}\t{draw(st.one_of(st.sampled_from(NER_TAGS + UPOS_TAGS), cell))}"


def as_bytes(lines: list[str], newline: str, mutations: list[tuple[int, bytes]]) -> bytes:
    data = bytearray(newline.join(lines).encode("utf-8"))
    for position, junk in mutations:  # invalid UTF-8 and stray bytes anywhere
        at = position % (len(data) + 1)
        data[at:at] = junk
    return bytes(data)


mutation = st.tuples(st.integers(0, 10 ** 6), st.one_of(st.binary(min_size=1, max_size=3),
                                                        st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80",
                                                                         b"\xf4\x90\x80\x80", b"\x00", b"\n"])))


def file_content(line_strategy):
    return st.one_of(
        st.builds(as_bytes, st.lists(line_strategy, max_size=30), st.sampled_from(["\n", "\r\n"]),
                  st.lists(mutation, max_size=2)),
        st.builds(as_bytes, st.lists(line_strategy, max_size=30), st.just("\n"), st.just([])),
        st.binary(max_size=300),
        st.sampled_from([b"", b"\n", b"\n\n\n", b" \t \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n"]))


# -- readers --------------------------------------------------------------------------------

SCRATCH = tempfile.mkdtemp(prefix="fuzz_readers_")


@counted
def check_reader(target: str, reader, content: bytes, name: str) -> None:
    path = os.path.join(SCRATCH, name)
    with open(path, "wb") as f:
        f.write(content)
    total_lines = content.count(b"\n") + 1
    try:
        sentences = reader(path)
    except DataError as e:
        COUNTS[target]["rejected_with_data_error"] += 1
        message = str(e)
        assert e.path == path and e.line is not None, message
        assert message.startswith(f"{path}:{e.line}: "), message
        assert 1 <= e.line <= total_lines, (e.line, total_lines, message)
        return
    COUNTS[target]["parsed"] += 1
    for sentence in sentences:
        assert sentence.words and all(isinstance(w, str) and w for w in sentence.words)
        assert all(len(tags) == len(sentence.words) for tags in sentence.tags.values())
        assert sentence.source.startswith(path + ":")


@counted
def check_read_corpus(target: str, content: bytes, name: str) -> None:
    """read_corpus (format sniffing): DataError naming the file; a line unless the whole file is at fault."""
    path = os.path.join(SCRATCH, name)
    with open(path, "wb") as f:
        f.write(content)
    try:
        read_corpus(path)
    except DataError as e:
        COUNTS[target]["rejected_with_data_error"] += 1
        assert str(e).startswith(path + ":"), str(e)
        assert e.line is not None or e.problem == "file holds no sentences", str(e)
        return
    COUNTS[target]["parsed"] += 1


@fuzz_settings(FAST)
@given(file_content(conllu_line()))
def test_conllu_reader_fuzz(content):
    check_reader("conllu_reader", read_conllu, content, "xx_fuzz-ud-test.conllu")


@fuzz_settings(FAST)
@given(file_content(two_column_line()))
def test_two_column_reader_fuzz(content):
    check_reader("two_column_reader", read_two_column, content, "fuzz.txt")


@fuzz_settings(FAST)
@given(st.one_of(file_content(conllu_line()), file_content(two_column_line())))
def test_read_corpus_sniffing_fuzz(content):
    check_read_corpus("read_corpus_auto", content, "sniff.txt")


@pytest.mark.slow
@fuzz_settings(SLOW)
@given(file_content(conllu_line()))
def test_conllu_reader_fuzz_more(content):
    check_reader("conllu_reader", read_conllu, content, "xx_fuzz-ud-test.conllu")


@pytest.mark.slow
@fuzz_settings(SLOW)
@given(file_content(two_column_line()))
def test_two_column_reader_fuzz_more(content):
    check_reader("two_column_reader", read_two_column, content, "fuzz.txt")


@pytest.mark.slow
@fuzz_settings(SLOW)
@given(st.one_of(file_content(conllu_line()), file_content(two_column_line())))
def test_read_corpus_sniffing_fuzz_more(content):
    check_read_corpus("read_corpus_auto", content, "sniff.txt")


def test_huge_ids_are_data_errors(tmp_path):
    """Found by this fuzzer: a 5,000-digit word id made int() raise a bare ValueError."""
    for token_id in ("9" * 5000, "1-" + "9" * 5000):
        path = tmp_path / "xx_big-ud-test.conllu"
        path.write_text(f"{token_id}\tx\tx\tNOUN\t_\t_\t0\troot\t_\t_\n", encoding="utf-8")
        with pytest.raises(DataError, match=rf"{path}:1: bad word id"):
            read_conllu(str(path))


# -- word pieces and windows ----------------------------------------------------------------

WORDS_SPEC = tf.RaggedTensorSpec([None, None], tf.string, ragged_rank=1, row_splits_dtype=tf.int32)


class Encoder:
    """A tokenizer's encode_words / encode_text traced once each, as serving uses them."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.words = tf.function(self.tokenizer.encode_words, input_signature=[WORDS_SPEC])
        self.text = tf.function(self.tokenizer.encode_text, input_signature=[tf.TensorSpec([None], tf.string)])


@pytest.fixture(scope="module")
def encoders(tiny_spm_file) -> dict[str, Encoder]:
    tiny = tiny_vocab_tokens()
    found = {"tiny_cased_16": Encoder(WordPieceTokenizer(tiny, lower_case=False, max_seq_length=16)),
             "tiny_uncased_casing_16": Encoder(WordPieceTokenizer(tiny, lower_case=True, casing_feature=True,
                                                                  max_seq_length=16, context=1)),
             "tiny_sentencepiece_16": Encoder(SentencePieceTokenizer(read_model_proto(tiny_spm_file),
                                                                     max_seq_length=16))}
    if os.path.exists(MBERT_VOCAB):
        found["mbert_cased_32"] = Encoder(WordPieceTokenizer(load_vocab(MBERT_VOCAB), max_seq_length=32))
    return found


def check_windows(tokenizer: PieceTokenizer, features: dict, num_words: np.ndarray) -> None:
    label_mask = features["label_mask"].numpy()
    position_piece = features["position_piece"].numpy()
    input_mask = features["input_mask"].numpy()
    ids = features["input_word_ids"].numpy()
    type_ids = features["input_type_ids"].numpy()
    is_word_start = features["is_word_start"].numpy()
    piece_ids = features["piece_ids"].numpy()
    total = int(num_words.sum())
    # exactly one label position per word, in word order, on the word's first piece
    assert int(label_mask.sum()) == total
    labelled = position_piece[label_mask]
    assert np.array_equal(labelled, np.flatnonzero(is_word_start))
    assert np.all(np.diff(labelled) > 0)
    assert np.array_equal(ids[label_mask], piece_ids[labelled])
    assert features["num_words"].numpy().tolist() == num_words.tolist()
    # windows: [CLS] pieces [SEP] padding, no longer than max_seq_length
    assert ids.shape[1] <= tokenizer.max_seq_length
    lengths = input_mask.sum(axis=1)
    assert np.all(lengths >= 2) and np.all(ids[:, 0] == tokenizer.cls_id)
    assert np.all(ids[np.arange(len(ids)), lengths - 1] == tokenizer.sep_id)
    assert np.all(ids[input_mask == 0] == tokenizer.pad_id)
    assert np.all(position_piece[input_mask == 0] == -1)
    assert set(np.unique(type_ids)) <= {0, 1} and np.all(type_ids[input_mask == 0] == 0)
    # every sentence has at least one window, windows in sentence order
    window_sentence = features["window_sentence"].numpy()
    assert np.all(np.diff(window_sentence) >= 0)
    assert np.array_equal(np.unique(window_sentence), np.arange(len(num_words)))


@counted
def encode_words_case(target: str, encoder: Encoder, sentences: list[list[str]]) -> None:
    words = tf.RaggedTensor.from_row_lengths(
        tf.constant([w for s in sentences for w in s], dtype=tf.string, shape=[sum(map(len, sentences))]),
        tf.constant([len(s) for s in sentences], dtype=tf.int32))
    COUNTS[target]["words"] += sum(map(len, sentences))
    check_windows(encoder.tokenizer, encoder.words(words), np.array([len(s) for s in sentences]))


@counted
def encode_text_case(target: str, encoder: Encoder, sentences: list[str]) -> None:
    features = encoder.text(tf.constant(sentences, dtype=tf.string, shape=[len(sentences)]))
    num_words = features["num_words"].numpy()
    COUNTS[target]["words"] += int(num_words.sum())
    check_windows(encoder.tokenizer, features, num_words)
    starts, ends = features["word_starts"].numpy(), features["word_ends"].numpy()
    assert len(starts) == len(ends) == num_words.sum()
    offset = 0
    for sentence, count in zip(sentences, num_words):
        size = len(sentence.encode("utf-8"))
        s, e = starts[offset:offset + count], ends[offset:offset + count]
        assert np.all((0 <= s) & (s < e) & (e <= size)), (sentence, s, e)
        assert np.all(np.diff(s) > 0) and np.all(s[1:] >= e[:-1])  # words in order, not overlapping
        offset += count


@st.composite
def long_sentence(draw, max_words=5000):
    """Up to `max_words` words: a drawn length, filled from a drawn pool of words."""
    pool = draw(st.lists(word, min_size=1, max_size=12))
    length = draw(st.integers(0, max_words))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    choice = np.random.default_rng(seed).integers(0, len(pool), size=length)
    return [pool[i] for i in choice]


sentences_of_words = st.lists(st.one_of(st.lists(word, max_size=30), long_sentence()), min_size=1, max_size=4)
raw_sentences = st.lists(st.one_of(any_text, st.lists(word, max_size=40).map(" ".join),
                                   long_sentence().map(" ".join)), min_size=1, max_size=4)


@fuzz_settings(FAST)
@given(data=st.data())
def test_encode_words_alignment_fuzz(encoders, data):
    name = data.draw(st.sampled_from(sorted(encoders)))
    encode_words_case(f"encode_words[{name}]", encoders[name], data.draw(sentences_of_words))


@fuzz_settings(FAST)
@given(data=st.data())
def test_encode_text_alignment_fuzz(encoders, data):
    name = data.draw(st.sampled_from(sorted(encoders)))
    encode_text_case(f"encode_text[{name}]", encoders[name], data.draw(raw_sentences))


@pytest.mark.slow
@fuzz_settings(SLOW)
@given(data=st.data())
def test_encode_words_alignment_fuzz_more(encoders, data):
    name = data.draw(st.sampled_from(sorted(encoders)))
    encode_words_case(f"encode_words[{name}]", encoders[name], data.draw(sentences_of_words))


@pytest.mark.slow
@fuzz_settings(SLOW)
@given(data=st.data())
def test_encode_text_alignment_fuzz_more(encoders, data):
    name = data.draw(st.sampled_from(sorted(encoders)))
    encode_text_case(f"encode_text[{name}]", encoders[name], data.draw(raw_sentences))


def test_5000_word_sentences(encoders):
    """The long end explicitly, in every configuration: 5,000 words, mixed scripts, one window set."""
    rng = np.random.default_rng(0)
    pool = [w for w in NASTY if w.strip()] + ["the", "cat", "unbelievable", "Haus", "日本語"]
    words = [pool[i] for i in rng.integers(0, len(pool), 5000)]
    for name, encoder in encoders.items():
        encode_words_case(f"encode_words[{name}]", encoder, [words, [], ["x"]])
        encode_text_case(f"encode_text[{name}]", encoder, [" ".join(words), "", "x"])


# -- tools/fuzz.py: every surface, seeded, with the replayed corpus -------------------------

FUZZ_CORPUS = os.path.join(REPO, "tests", "fuzz_corpus")


def test_fuzz_tool_short_profile(sample_tagger_dir, sp_tagger_dir, tmp_path):
    """CI's short profile of `python tools/fuzz.py`: all 18 surfaces, the corpus replayed first,
    no crash and no tag-count mismatch (the full profile's numbers are in RELIABILITY.md)."""
    import shutil
    from tools.fuzz import fuzz, summary_line
    wordpiece = shutil.copytree(sample_tagger_dir, tmp_path / "wordpiece")
    sentencepiece = shutil.copytree(sp_tagger_dir, tmp_path / "sentencepiece")
    report = fuzz(120, 0, str(tmp_path / "work"), FUZZ_CORPUS, wordpiece_model=str(wordpiece),
                  sentencepiece_model=str(sentencepiece), grow_corpus=False, log=lambda *_: None)
    assert len(report) == 18
    for name in os.listdir(FUZZ_CORPUS):
        surface = name[:-len(".jsonl")].replace("_wordpiece", "[wordpiece]").replace("_sentencepiece", "[sentencepiece]")
        with open(os.path.join(FUZZ_CORPUS, name)) as f:
            assert report[surface]["replayed"] == sum(1 for line in f if line.strip()), surface
    failures = {name: counts["findings"] for name, counts in report.items() if counts["crashes"] or counts["mismatches"]}
    assert not failures
    assert all(counts["inputs"] >= 120 for counts in report.values())
    assert " crashes=0 mismatches=0 surfaces=18 " in summary_line(report, 1.0)


def test_fuzz_tool_counts_failures_and_grows_its_corpus(tmp_path):
    """A surface whose property fails on some inputs: those count as mismatches or crashes, join
    the corpus, and the next run replays them first."""
    from tools.fuzz import fuzz_surface, generated
    from tools.fuzz_checks import Surface
    from tools.fuzz_inputs import Corpus

    def check(items):
        if any(b"\xff" in item for item in items):
            raise ValueError("crash on 0xff")
        return [("mismatch", "has a 7") if b"7" in item else ("ok", "") for item in items]

    surface = Surface("toy", lambda rng: bytes([rng.randrange(256)]), check, batch_size=8)
    corpus = Corpus(str(tmp_path))
    first = fuzz_surface(surface, generated(surface.generate, 2000, 0), corpus, max_findings=5)
    assert first["inputs"] == 2000 and first["crashes"] > 0 and first["mismatches"] > 0
    assert corpus.added == first["crashes"] + first["mismatches"]
    again = fuzz_surface(surface, [], Corpus(str(tmp_path)), max_findings=5)
    assert again["replayed"] == corpus.added
    assert (again["crashes"], again["mismatches"]) == (first["crashes"], first["mismatches"])
    same_seed = fuzz_surface(surface, generated(surface.generate, 2000, 0), Corpus(None), max_findings=5)
    assert (same_seed["crashes"], same_seed["mismatches"]) == (first["crashes"], first["mismatches"])
