"""tagger.predict: CoNLL-U round trip, raw text, stdin/stdout, every model kind, the X rule."""
import io
import os
import subprocess
import sys

import pytest

from conftest import REPO, SAMPLE
from tagger.data.corpus import DataError, read_conllu
from tagger.predict import final_tags, predict, text_sentence, with_ner

DE_TEST = os.path.join(SAMPLE, "ud", "de_sample", "de_sample-ud-test.conllu")  # has multiword tokens
TEXT = ["Anna works in Paris, Emma laughs.", "", "   ", "Das Kind (klein) spielt!", "שלום עולם 😀 مرحبا"]


def blocks(path):
    return open(path, encoding="utf-8").read().split("\n\n")


@pytest.fixture(scope="module")
def checkpoint_tags(sample_tagger_dir):
    from tagger.inference import WordTagger
    from tagger.models.tagger import load_model_dir
    model, tokenizer, config = load_model_dir(sample_tagger_dir)
    return WordTagger(model, tokenizer, config["tasks"])


def test_conllu_round_trip_keeps_every_other_column(sample_tagger_dir, checkpoint_tags, tmp_path):
    output = tmp_path / "tagged.conllu"
    assert predict(sample_tagger_dir, DE_TEST, str(output)) == 80
    original = open(DE_TEST, encoding="utf-8").read().splitlines()
    tagged = output.read_text(encoding="utf-8").splitlines()
    assert len(original) == len(tagged)
    for before, after in zip(original, tagged):
        if before.startswith("#") or not before:
            assert before == after
            continue
        a, b = before.split("\t"), after.split("\t")
        assert [a[i] for i in (0, 1, 2, 4, 6, 7, 8)] == [b[i] for i in (0, 1, 2, 4, 6, 7, 8)]
        if "-" in a[0] or "." in a[0]:
            assert a == b  # multiword tokens and empty nodes untouched
        else:
            misc = [item for item in b[9].split("|") if not item.startswith("NER=")]
            assert misc == ([] if a[9] == "_" else a[9].split("|")) and "NER=" in b[9]
    sentences = read_conllu(str(output))  # valid CoNLL-U with real UPOS tags
    expected = checkpoint_tags.tag([s.words for s in read_conllu(DE_TEST)])
    assert [s.tags["upos"] for s in sentences] == [e["upos"] for e in expected]
    assert [s.tags["ufeats"] for s in sentences] == [e["ufeats"] for e in expected]


def test_every_model_kind_writes_the_same_conllu(sample_tagger_dir, sample_exports, tmp_path):
    outputs = []
    for i, model in enumerate([sample_tagger_dir, os.path.dirname(sample_exports["saved_model"]),
                               sample_exports["float32"]]):
        for source, suffix in ((DE_TEST, "conllu"), (None, "txt")):
            if source is None:
                source = tmp_path / "input.txt"
                source.write_text("\n".join(TEXT) + "\n", encoding="utf-8")
            output = tmp_path / f"{i}.{suffix}.conllu"
            predict(model, str(source), str(output))
            outputs.append(output.read_text(encoding="utf-8"))
    assert outputs[0::2] == [outputs[0]] * 3 and outputs[1::2] == [outputs[1]] * 3


def test_text_input_one_sentence_per_line(sample_tagger_dir, tmp_path):
    source = tmp_path / "input.txt"
    source.write_text("\n".join(TEXT) + "\n", encoding="utf-8")
    output = tmp_path / "out.conllu"
    assert predict(sample_tagger_dir, str(source), str(output)) == len(TEXT)
    sentences = [block for block in blocks(output) if block.strip()]
    assert len(sentences) == len(TEXT)
    for number, (text, block) in enumerate(zip(TEXT, sentences), start=1):
        lines = block.splitlines()
        assert lines[0] == f"# sent_id = {number}" and lines[1] == f"# text = {text}"
        if not text.strip():
            assert lines[2:] == ["# empty_line"]
    first = [line.split("\t") for line in sentences[0].splitlines()[2:]]
    assert [row[1] for row in first] == ["Anna", "works", "in", "Paris", ",", "Emma", "laughs", "."]
    no_space = [row[1] for row in first if "SpaceAfter=No" in row[9]]
    assert no_space == ["Paris", "laughs"]
    assert all(row[3] != "_" and row[5] != "" and row[9].startswith("NER=") for row in first)
    fourth = [line.split("\t")[1] for line in sentences[3].splitlines()[2:]]
    assert fourth == ["Das", "Kind", "(", "klein", ")", "spielt", "!"]
    assert len(read_conllu(str(output))) == 3  # the comment-only sentences hold no words


def test_stdin_to_stdout_with_the_tflite_model(sample_exports):
    result = subprocess.run([sys.executable, "-m", "tagger.predict", f"--model={sample_exports['dynamic_int8']}",
                             "--input=-", "--output=-", "--x_to_second_best"],
                            input="Anna works in Paris.\nEmma laughs\n".encode(), capture_output=True, timeout=120,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    text = result.stdout.decode("utf-8")
    assert text.startswith("# sent_id = 1\n# text = Anna works in Paris.\n1\tAnna\t")
    assert text.count("# sent_id") == 2 and text.endswith("\n\n")


def test_stdin_errors_name_stdin(sample_exports, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"1\tAnna\n")))
    with pytest.raises(DataError, match=r"^<stdin>:1: expected 10 tab-separated columns"):
        predict(sample_exports["float32"], "-", "-", input_format="conllu")
    assert capsys.readouterr().out == ""


def test_bad_input_is_a_clear_error_and_leaves_no_output(sample_exports, tmp_path):
    broken = tmp_path / "broken.conllu"
    broken.write_text("1\tAnna\t_\t_\t_\t_\t_\t_\t_\t_\n3\tworks\t_\t_\t_\t_\t_\t_\t_\t_\n\n", encoding="utf-8")
    output = tmp_path / "out.conllu"
    with pytest.raises(DataError, match=r"broken.conllu:2: word id 3 out of sequence"):
        predict(sample_exports["float32"], str(broken), str(output))
    assert not os.path.exists(output) and not os.path.exists(str(output) + ".partial")
    untagged = tmp_path / "untagged.conllu"  # tokenised, not tagged: UPOS "_" is accepted
    untagged.write_text("# text = Anna works.\n1\tAnna\t_\t_\t_\t_\t_\t_\t_\t_\n"
                        "2\tworks\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No\n"
                        "3\t.\t_\t_\t_\t_\t_\t_\t_\t_\n\n", encoding="utf-8")
    predict(sample_exports["float32"], str(untagged), str(output))
    rows = [line.split("\t") for line in output.read_text(encoding="utf-8").splitlines()[1:4]]
    assert rows[1][9].startswith("SpaceAfter=No|NER=") and all(row[3] != "_" for row in rows)


def test_x_to_second_best_unknown_labels_and_missing_tasks():
    tagged = {"upos": ["X", "<unk>", "NOUN", "<unk>"], "upos_second_best": ["PROPN", "VERB", "X", "<unk>"],
              "ufeats": ["<unk>", "_", "Number=Sing", ""], "ner": ["<unk>", "B-PER", "O", "O"]}
    assert final_tags(tagged, 0, False) == {"upos": "X", "ufeats": "_", "ner": "O"}
    assert final_tags(tagged, 0, True)["upos"] == "PROPN"  # Tsai §4.5
    assert final_tags(tagged, 1, False)["upos"] == "VERB"  # never learned -> runner-up
    assert final_tags(tagged, 2, True)["upos"] == "NOUN"
    assert final_tags(tagged, 3, True)["upos"] == "X"
    upos_only = {"words": ["a", "b"], "word_starts": [0, 1], "word_ends": [1, 2], "upos": ["DET", "NOUN"]}
    rows = [line.split("\t") for line in text_sentence(4, "ab", upos_only, False).splitlines()[2:4]]
    assert rows == [["1", "a", "_", "DET", "_", "_", "_", "_", "_", "SpaceAfter=No"],
                    ["2", "b", "_", "NOUN", "_", "_", "_", "_", "_", "_"]]
    assert with_ner("_", "B-LOC") == "NER=B-LOC"
    assert with_ner("SpaceAfter=No|NER=O", "I-ORG") == "SpaceAfter=No|NER=I-ORG"
    assert with_ner("Translit=x", None) == "Translit=x"


def test_document_input_is_cut_into_sentences(sample_exports, tmp_path):
    document = tmp_path / "article.txt"
    document.write_text("Anna works in Paris. Emma laughs! Does Anna work?\n\nDas Kind spielt. 東京です。北京\n",
                        encoding="utf-8")
    output = tmp_path / "tagged.conllu"
    assert predict(sample_exports["dynamic_int8"], str(document), str(output), input_format="document") == 6
    sentences = [block.splitlines() for block in blocks(output) if block.strip()]
    assert [lines[0] for lines in sentences] == ["# sent_id = 1-1", "# sent_id = 1-2", "# sent_id = 1-3",
                                                "# sent_id = 3-1", "# sent_id = 3-2", "# sent_id = 3-3"]
    assert [lines[1] for lines in sentences][:3] == ["# text = Anna works in Paris.", "# text = Emma laughs!",
                                                     "# text = Does Anna work?"]
    assert [len(lines) - 2 for lines in sentences][:3] == [5, 3, 4]  # one row per word, punctuation included
    read_conllu(str(output), labeled=False)  # valid CoNLL-U
