"""SentencePiece behind the tokenizer interface: alignment, windows, hostile input, model dirs, exports."""
import base64
import json
import os

import numpy as np
import pytest
import sentencepiece as spm
import tensorflow as tf
from sentencepiece import sentencepiece_model_pb2 as spm_pb2

from conftest import HOSTILE, SAMPLE, SAMPLE_UD_DEV
from tagger.data.sentencepiece import SentencePieceTokenizer, piece_list, read_model_proto
from tagger.data.spm_proto import TokenizerJsonError, proto_from_tokenizer_json
from tagger.data.words import split_words
from tagger.data.wordpiece import WordPieceTokenizer, load_vocab



@pytest.fixture(scope="module")
def sp(tiny_spm_file):
    return SentencePieceTokenizer(read_model_proto(tiny_spm_file), max_seq_length=16)


@pytest.fixture(scope="module")
def wordpiece():
    return WordPieceTokenizer(load_vocab(os.path.join(SAMPLE, "vocab.txt")), max_seq_length=16)


def ragged(sentences):
    return tf.ragged.constant(sentences, dtype=tf.string, row_splits_dtype=tf.int32)


def test_special_ids_follow_xlmr(sp):
    assert (sp.cls_id, sp.pad_id, sp.sep_id, sp.unk_id) == (0, 1, 2, 3)
    assert sp.settings() == {"kind": "sentencepiece", "max_seq_length": 16, "context": 1,
                             "model_file": "sentencepiece.model"}


def test_words_get_their_own_pieces_and_one_start_each(sp, tiny_spm_file):
    processor = spm.SentencePieceProcessor(model_file=tiny_spm_file)
    words = [["The", "house", ",", "Haus", "東京"], [], ["", " ", "x"]]
    out = sp.encode_words(ragged(words))
    starts = out["is_word_start"].numpy()
    assert out["num_words"].numpy().tolist() == [5, 0, 3]
    assert starts.sum() == 8
    ids = out["piece_ids"].numpy().tolist()
    expected = []
    for word in [w for sentence in words for w in sentence]:
        pieces = processor.encode(word)
        if len(pieces) > 1 and pieces[0] == sp.space_id:
            pieces = pieces[1:]  # the lone "▁" is dropped
        expected.extend(pieces or [sp.unk_id])
    assert ids == expected
    # Every word has exactly one label position in the windows.
    assert out["label_mask"].numpy().sum() == 8


def test_lone_space_piece_is_dropped(sp, tiny_spm_file):
    processor = spm.SentencePieceProcessor(model_file=tiny_spm_file)
    word = "東"
    assert processor.encode(word)[0] == sp.space_id and len(processor.encode(word)) > 1
    out = sp.words_to_pieces(ragged([[word]]))
    assert out["piece_ids"].numpy().tolist() == processor.encode(word)[1:]


def test_text_uses_the_toolkit_word_rule_and_offsets_cut_the_words(sp):
    text = "Anna works in Paris, 東京 (today)!"
    out = sp.encode_text(tf.constant([text]))
    raw = text.encode()
    words = [raw[s:e].decode() for s, e in zip(out["word_starts"].numpy(), out["word_ends"].numpy())]
    assert words == split_words([text])[0] == ["Anna", "works", "in", "Paris", ",", "東", "京", "(", "today", ")",
                                               "!"]
    assert out["num_words"].numpy().tolist() == [len(words)]


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("kind", ["wordpiece", "sentencepiece"])
def test_hostile_text_gets_one_label_position_per_word(name, kind, sp, wordpiece):
    tokenizer = sp if kind == "sentencepiece" else wordpiece
    batch = [HOSTILE[name], b"ok then"]
    out = tokenizer.encode_text(tf.constant(batch))
    num_words = out["num_words"].numpy()
    assert out["label_mask"].numpy().sum() == num_words.sum()
    starts, ends = out["word_starts"].numpy(), out["word_ends"].numpy()
    assert len(starts) == len(ends) == num_words.sum()
    assert (starts < ends).all()
    bounds = np.repeat([len(s) for s in batch], num_words)
    assert (ends <= bounds).all()
    if name == "long":
        assert num_words[0] == 5000


@pytest.mark.parametrize("kind", ["wordpiece", "sentencepiece"])
def test_hostile_words_get_one_label_position_each(kind, sp, wordpiece):
    tokenizer = sp if kind == "sentencepiece" else wordpiece
    words = [[w for w in text.split(b" ")] or [b""] for text in HOSTILE.values()]
    out = tokenizer.encode_words(ragged(words))
    assert out["num_words"].numpy().tolist() == [len(w) for w in words]
    assert out["label_mask"].numpy().sum() == sum(len(w) for w in words)


def tokenizer_json_of(model_file: str, path) -> str:
    """A Hugging Face tokenizer.json (Unigram, Precompiled normaliser) for a SentencePiece model."""
    proto = spm_pb2.ModelProto.FromString(open(model_file, "rb").read())
    spec = {"model": {"type": "Unigram", "unk_id": 3, "vocab": [[p.piece, p.score] for p in proto.pieces]},
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Precompiled",
                 "precompiled_charsmap": base64.b64encode(proto.normalizer_spec.precompiled_charsmap).decode()},
                {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
            "added_tokens": [{"id": i, "content": p, "special": True} for i, p in
                             enumerate(["<s>", "<pad>", "</s>", "<unk>"])]}
    path.write_text(json.dumps(spec), encoding="utf-8")
    return str(path)


def test_proto_from_tokenizer_json_tokenises_like_the_original(tiny_spm_file, tmp_path):
    rebuilt = proto_from_tokenizer_json(tokenizer_json_of(tiny_spm_file, tmp_path / "tokenizer.json"))
    original = spm.SentencePieceProcessor(model_file=tiny_spm_file)
    copy = spm.SentencePieceProcessor(model_proto=rebuilt)
    for text in ["The house, das Haus.", "  double  spaces ", "ｆｕｌｌｗｉｄｔｈ ﬁ", "東京 שלום 😀 façade"]:
        assert copy.encode(text) == original.encode(text), text
    assert piece_list(rebuilt) == piece_list(open(tiny_spm_file, "rb").read())


def test_tokenizer_json_that_is_not_xlmr_unigram_is_refused(tmp_path):
    bpe = tmp_path / "bpe.json"
    bpe.write_text(json.dumps({"model": {"type": "BPE", "vocab": {}}}))
    with pytest.raises(TokenizerJsonError, match="only SentencePiece Unigram"):
        proto_from_tokenizer_json(str(bpe))
    shuffled = tmp_path / "shuffled.json"
    shuffled.write_text(json.dumps({"model": {"type": "Unigram", "vocab": [["<unk>", 0], ["<s>", 0]]}}))
    with pytest.raises(TokenizerJsonError, match="piece 0 should be '<s>'"):
        proto_from_tokenizer_json(str(shuffled))


def test_model_without_pad_piece_is_refused(tmp_path):
    spm.SentencePieceTrainer.train(input=os.path.join(SAMPLE, "unlabeled", "en.txt"),
                                   model_prefix=str(tmp_path / "nopad"), vocab_size=200, minloglevel=2)
    with pytest.raises(ValueError, match="has no pad piece"):
        read_model_proto(str(tmp_path / "nopad.model"))


def test_sp_model_dir_is_self_contained(sp_tagger_dir, tiny_spm_file):
    from tagger.models.tagger import load_model_dir
    config = json.load(open(os.path.join(sp_tagger_dir, "tagger_config.json")))
    assert config["tokenizer"]["kind"] == "sentencepiece" and config["format_version"] == 2
    assert open(os.path.join(sp_tagger_dir, "sentencepiece.model"), "rb").read() == open(tiny_spm_file, "rb").read()
    assert not os.path.exists(os.path.join(sp_tagger_dir, "vocab.txt"))
    _, tokenizer, _ = load_model_dir(sp_tagger_dir)
    assert isinstance(tokenizer, SentencePieceTokenizer)


def test_sp_tagger_learns_the_sample(sp_tagger_dir):
    metrics = json.load(open(os.path.join(sp_tagger_dir, "metrics", "dev.json"))) \
        if os.path.exists(os.path.join(sp_tagger_dir, "metrics", "dev.json")) else None
    from tagger.supervised import evaluate
    from tagger.data.corpus import read_corpus
    from tagger.models.tagger import load_model_dir
    model, tokenizer, config = load_model_dir(sp_tagger_dir)
    result = evaluate(model, tokenizer, config["tasks"], read_corpus(SAMPLE_UD_DEV), "dev")
    assert metrics is None or metrics["tasks"]["upos"]["accuracy"] == result["tasks"]["upos"]["accuracy"]
    assert result["tasks"]["upos"]["accuracy"] > 0.6  # 17 tags: chance is far below


@pytest.fixture(scope="module")
def sp_exports(sp_tagger_dir):
    from export.saved_model import export_saved_model
    from export.tflite import export_tflite
    return {"saved_model": export_saved_model(sp_tagger_dir, verbose=False),
            "dynamic_int8": export_tflite(sp_tagger_dir, "dynamic_int8", verbose=False)}


def test_sp_exports_pass_the_verify_gate(sp_tagger_dir, sp_exports):
    from export.verify import verify
    report = verify(sp_tagger_dir, SAMPLE_UD_DEV, artifacts=list(sp_exports.values()), verbose=False)
    assert report["passed"], report["artifacts"]
    assert len(report["artifacts"]) == 2


def test_sp_tflite_custom_ops_are_the_word_split_and_sentencepiece(sp_exports):
    from export.tflite import op_summary
    with open(sp_exports["dynamic_int8"], "rb") as f:
        ops = op_summary(f.read())
    assert sorted(op for op in ops if not op.isupper()) == [
        "FastWordpieceTokenizeWithOffsets", "TFText>ByteSplitByOffsets", "TFText>FastSentencepieceTokenize"]


def test_sp_exports_tag_hostile_text_with_one_tag_per_word(sp_exports):
    from tagger.runtime.tflite import TFLiteTagger
    loaded = tf.saved_model.load(sp_exports["saved_model"])
    texts = list(HOSTILE.values())
    served = loaded.signatures["serving_default"](sentences=tf.constant(texts))
    lite = TFLiteTagger(sp_exports["dynamic_int8"]).tag_text(texts)
    for i, text in enumerate(texts):
        n = int(served["num_words"][i])
        assert len(lite[i]["upos"]) == len(lite[i]["words"]) == n
        assert all(tag for tag in lite[i]["upos"])
        assert served["word_starts"][i].numpy()[:n].tolist() == list(lite[i]["word_starts"])
