"""Readers: real UD / PAN-X / XTREME files, and clear errors on malformed input."""
import pytest

from conftest import shared
from tagger.data.corpus import DataError, read_conllu, read_corpus, read_two_column, sniff_format, tasks_present
from tagger.data.labels import UNK_LABEL, build_label_lists, check_same_labels, label_ids

GOOD = """# sent_id = 1
# text = Im Haus.
1-2\tIm\t_\t_\t_\t_\t_\t_\t_\t_
1\tIn\tin\tADP\t_\t_\t3\tcase\t_\t_
2\tdem\tder\tDET\t_\tCase=Dat|Definite=Def\t3\tdet\t_\t_
3\tHaus\tHaus\tNOUN\t_\tCase=Dat|Gender=Neut\t0\troot\t_\tSpaceAfter=No
3.1\tist\tsein\tAUX\t_\t_\t_\t_\t0:root\t_
4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_

"""


def write(tmp_path, name, text, mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def test_conllu_multiword_tokens_and_empty_nodes(tmp_path):
    [sentence] = read_conllu(write(tmp_path, "de_x-ud-test.conllu", GOOD))
    assert sentence.words == ["In", "dem", "Haus", "."]  # range line unlabeled, empty node skipped
    assert sentence.tags["upos"] == ["ADP", "DET", "NOUN", "PUNCT"]
    assert sentence.tags["ufeats"] == ["_", "Case=Dat|Definite=Def", "Case=Dat|Gender=Neut", "_"]
    assert (sentence.treebank, sentence.lang) == ("de_x", "de")


@pytest.mark.parametrize("bad_line, problem", [
    ("2\tdem\tder\tDET\t_\t_\t3\tdet\t_", "expected 10 tab-separated columns, found 9"),
    ("x\tdem\tder\tDET\t_\t_\t3\tdet\t_\t_", "bad word id 'x'"),
    ("5\tdem\tder\tDET\t_\t_\t3\tdet\t_\t_", "word id 5 out of sequence"),
    ("2\tdem\tder\tDETX\t_\t_\t3\tdet\t_\t_", "unknown UPOS tag 'DETX'"),
])
def test_malformed_conllu_names_file_and_line(tmp_path, bad_line, problem):
    text = GOOD.replace("2\tdem\tder\tDET\t_\tCase=Dat|Definite=Def\t3\tdet\t_\t_", bad_line)
    path = write(tmp_path, "bad.conllu", text)
    with pytest.raises(DataError) as error:
        read_conllu(path)
    assert f"{path}:5:" in str(error.value) and problem in str(error.value)


def test_invalid_utf8_names_line(tmp_path):
    path = write(tmp_path, "bad.conllu", GOOD.encode("utf-8").replace(b"Haus\tHaus", b"Ha\xffs\tHaus"), "wb")
    with pytest.raises(DataError, match=r"bad.conllu:6: invalid UTF-8"):
        read_conllu(path)


def test_two_column_errors_and_task_inference(tmp_path):
    ner = read_two_column(write(tmp_path, "train.txt", "Anna\tB-PER\nworks\tO\n\nAcme\tB-ORG\n"))
    assert [s.tags for s in ner] == [{"ner": ["B-PER", "O"]}, {"ner": ["B-ORG"]}]
    pos = read_two_column(write(tmp_path, "dev.tsv", "Anna\tPROPN\nworks\tVERB\n"))
    assert pos[0].tags == {"upos": ["PROPN", "VERB"]}
    with pytest.raises(DataError, match=r"bad.txt:2: expected 'token<TAB>tag'"):
        read_two_column(write(tmp_path, "bad.txt", "Anna\tB-PER\nworks O\n"))


def test_missing_or_empty_glob_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no file matches"):
        read_corpus(str(tmp_path / "nothing-*.conllu"))
    with pytest.raises(DataError, match="holds no sentences"):
        read_corpus(write(tmp_path, "empty.conllu", "\n\n"))


def test_labels_unk_and_resume_mismatch():
    from tagger.data.corpus import Sentence
    sentences = [Sentence(["a", "b"], {"upos": ["DET", "NOUN"]}, "x_y", "x")]
    labels = build_label_lists(sentences, ["upos"])
    assert labels == {"upos": [UNK_LABEL, "DET", "NOUN"]}
    assert label_ids(["NOUN", "VERB"], labels["upos"]) == [2, 0]
    with pytest.raises(ValueError, match="label set differs.*new \\['VERB'\\]"):
        check_same_labels(labels, {"upos": labels["upos"] + ["VERB"]}, "model/tagger_config.json")


@pytest.mark.shared_data
def test_real_ud_treebank():
    sentences = read_conllu(shared("ud", "en_ewt", "en_ewt-ud-dev.conllu"))
    assert len(sentences) == 2001 and sum(len(s.words) for s in sentences) == 25147
    assert sentences[0].treebank == "en_ewt" and tasks_present(sentences) == ["upos", "ufeats"]


@pytest.mark.shared_data
def test_real_treebank_with_multiword_tokens():
    sentences = read_conllu(shared("ud", "fr_partut", "fr_partut-ud-dev.conllu"))
    assert len(sentences) == 107 and sum(len(s.words) for s in sentences) == 1870


@pytest.mark.shared_data
def test_real_panx_and_xtreme():
    ner = read_corpus(shared("wikiann", "de", "dev.txt"))
    assert len(ner) == 2000 and ner[0].treebank == "wikiann_de" and tasks_present(ner) == ["ner"]
    upos = read_corpus(shared("udpos_xtreme", "ar", "dev.tsv"))
    assert len(upos) == 909 and upos[0].lang == "ar" and tasks_present(upos) == ["upos"]
    assert sniff_format(shared("udpos_xtreme", "ar", "dev.tsv")) == "two_column"
