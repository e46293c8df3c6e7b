"""tagger.finetune end to end on the embedded sample: model directory contract, metrics, resume, errors."""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, shared

TINY_CONFIG = dict(vocab_size=1015, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                   intermediate_size=64, max_position_embeddings=64)


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "bert_config.json"
    path.write_text(json.dumps(TINY_CONFIG))
    return str(path)


def finetune(model_dir, config, *extra, check=True):
    command = [sys.executable, "-m", "tagger.finetune", f"--init=config:{config}",
               f"--vocab_file={REPO}/tagger/sample/vocab.txt", f"--model_dir={model_dir}",
               f"--train_data={REPO}/tagger/sample/ud/*/*-train.conllu,{REPO}/tagger/sample/ner/en/train.txt",
               f"--dev_data={REPO}/tagger/sample/ud/en_sample/en_sample-ud-dev.conllu",
               f"--test_data={REPO}/tagger/sample/ud/*/*-test.conllu,{REPO}/tagger/sample/ner/en/test.txt",
               "--max_seq_length=32", "--train_batch_size=8", "--learning_rate=1e-3", "--checkpoint_every=10",
               *extra]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_finetune_writes_the_model_directory_and_resumes(tmp_path, tiny_config):
    model_dir = tmp_path / "model"
    finetune(model_dir, tiny_config, "--train_steps=20")
    assert sorted(os.listdir(model_dir)) == ["checkpoints", "logs", "metrics", "tagger_config.json", "vocab.txt"]
    config = json.loads((model_dir / "tagger_config.json").read_text())
    assert list(config["tasks"]) == ["upos", "ufeats", "ner"] and config["tasks"]["upos"][0] == "<unk>"
    test = json.loads((model_dir / "metrics" / "test.json").read_text())
    assert test["split"] == "test"
    assert set(test["tasks"]["upos"]["per_treebank"]) == {"de_sample", "en_sample", "es_sample"}
    assert set(test["tasks"]["ner"]["per_treebank"]) == {"ner_en"}
    for task in ("upos", "ufeats", "ner"):
        assert {"accuracy", "f1", "macro_f1", "words", "per_treebank"} <= set(test["tasks"][task])
    assert json.loads((model_dir / "metrics" / "dev.json").read_text())["tasks"]["upos"]["words"] > 0
    # rerun with a larger budget: continues from step 20 instead of starting over
    result = finetune(model_dir, tiny_config, "--train_steps=30")
    assert "resumed from" in result.stdout and "ckpt-20" in result.stdout
    assert sorted(f for f in os.listdir(model_dir / "checkpoints") if f.endswith(".index"))[-1] == "ckpt-30.index"


def test_evaluate_binary(tmp_path, tiny_config):
    model_dir = tmp_path / "model"
    finetune(model_dir, tiny_config, "--train_steps=5", "--tasks=upos")
    result = subprocess.run([sys.executable, "-m", "tagger.evaluate", f"--model_dir={model_dir}",
                             f"--data={REPO}/tagger/sample/ud/de_sample/*-dev.conllu", "--name=de_dev"],
                            capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "de_sample" in result.stdout
    assert json.loads((model_dir / "metrics" / "de_dev.json").read_text())["tasks"]["upos"]["words"] > 0


def test_bad_input_exits_with_one_line(tmp_path, tiny_config):
    bad = tmp_path / "bad-ud-train.conllu"
    bad.write_text("1\tword\tword\tNOUN\t_\t_\t0\troot\t_\n\n")
    result = finetune(tmp_path / "m", tiny_config, f"--train_data={bad}", check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == \
        f"error: {bad}:1: expected 10 tab-separated columns, found 9"


@pytest.mark.shared_data
@pytest.mark.slow
def test_multilingual_mbert_vocab_run(tmp_path):
    """Random-init small encoder on several real treebanks with the mBERT cased vocab; per-treebank metrics;
    treebank sampling (default 0.5) reaches the pipeline."""
    vocab = shared("vocab", "mbert_cased_vocab.txt")
    config = tmp_path / "bert_config.json"
    config.write_text(json.dumps(dict(TINY_CONFIG, vocab_size=119547)))
    ud = shared("ud")
    model_dir = tmp_path / "multi"
    result = subprocess.run(
        [sys.executable, "-m", "tagger.finetune", f"--init=config:{config}", f"--vocab_file={vocab}",
         f"--model_dir={model_dir}", f"--train_data={ud}/kk_ktb/*-train.conllu,{ud}/mr_ufal/*-train.conllu",
         f"--test_data={ud}/kk_ktb/*-test.conllu,{ud}/mr_ufal/*-test.conllu,{ud}/ta_ttb/*-test.conllu",
         "--tasks=upos,ufeats", "--train_steps=10", "--max_seq_length=64"],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    test = json.loads((model_dir / "metrics" / "test.json").read_text())
    assert set(test["tasks"]["upos"]["per_treebank"]) == {"kk_ktb", "mr_ufal", "ta_ttb"}
    assert "treebank sampling alpha=0.5 over 2 treebanks: smallest, kk_ktb" in result.stdout


def test_default_learning_rate_follows_the_encoder_size():
    from tagger.supervised import default_learning_rate
    assert default_learning_rate({"type": "bert", "hidden_size": 384}) == 1.5e-4  # MiniLM, e5-small
    assert default_learning_rate({"type": "bert", "hidden_size": 384}, num_tasks=2) == 3e-4  # UPOS + UFeats
    assert default_learning_rate({"type": "bert", "hidden_size": 768}) == 5e-5  # BERT-base, mBERT
    assert default_learning_rate({"type": "bilstm", "embedding_width": 300}) == 5e-5


def test_data_dir_stands_in_for_the_data_root(tmp_path):
    """`{data_dir}` in a data flag becomes --data_dir, as the flagfiles use it."""
    import subprocess
    import sys
    code = ("from absl import flags\nimport tagger.finetune as binary\nbinary.define_flags()\n"
            "from tagger import flags_common\n"
            f"flags.FLAGS(['x', '--data_dir={tmp_path}', '--train_data={{data_dir}}/ud/*-train.conllu,x.txt', "
            "'--init=config:c.json', '--model_dir=m'])\nflags_common.expand_data_dir()\n"
            "print(flags.FLAGS.train_data)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == f"{tmp_path}/ud/*-train.conllu,x.txt"
