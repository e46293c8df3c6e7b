"""Clear errors: each failure names its cause and the file; binaries exit 2 with one `error:` line.

Library: a vocab.txt whose size differs from the checkpoint's embedding table (--init and a
model directory). Binaries (`python -m tagger.finetune`, in a subprocess): a label set that
differs from the checkpoint's when resuming, a data glob that matches nothing, an empty data
file, and an --init that points at the wrong format.
"""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, TINY_BERT
from tagger.models.encoders import InitError

SAMPLE = os.path.join(REPO, "tagger", "sample")
SAMPLE_VOCAB = os.path.join(SAMPLE, "vocab.txt")  # 1015 tokens
EN = os.path.join(SAMPLE, "ud", "en_sample", "en_sample-ud-{}.conllu")
SAMPLE_BERT = dict(vocab_size=1015, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                   max_position_embeddings=64)


@pytest.fixture(scope="module")
def sample_config(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("config") / "bert_config.json"
    path.write_text(json.dumps(SAMPLE_BERT))
    return str(path)


def finetune_binary(model_dir, *flags, init=None, timeout=300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tagger.finetune", f"--model_dir={model_dir}", f"--vocab_file={SAMPLE_VOCAB}",
               "--max_seq_length=32", "--train_batch_size=8", "--checkpoint_every=100", *flags]
    if init:
        command.append(f"--init={init}")
    if not any(f.startswith("--train_data=") for f in flags):
        command.append(f"--train_data={EN.format('train')}")
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})


def error_line(result: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit status 2, and stderr ends with exactly one one-line `error:` message naming `needles`."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert lines and lines[-1].startswith("error: "), result.stderr[-3000:]
    assert sum(line.startswith("error:") for line in lines) == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    for needle in needles:
        assert needle in lines[-1], (needle, lines[-1])
    return lines[-1]


# -- vocabulary vs checkpoint (library) -----------------------------------------------------

@pytest.mark.parametrize("kind", ["hf", "tf1"])
def test_init_encoder_rejects_a_vocab_of_another_size(tiny_checkpoints, kind):
    from tagger.models.init import load_init
    with pytest.raises(InitError) as error:
        load_init(f"{kind}:{tiny_checkpoints[kind]}", SAMPLE_VOCAB)
    message = str(error.value)
    assert message.startswith(f"{SAMPLE_VOCAB} has 1015 tokens but the checkpoint of --init={kind}:")
    assert f"embeds {TINY_BERT['vocab_size']}" in message and "do not belong together" in message
    assert "\n" not in message


def test_load_model_dir_rejects_a_vocab_of_another_size(tmp_path, sample_config, tiny_vocab_file):
    import tensorflow as tf
    from tagger.supervised import new_tagger_dir
    from tagger.models.init import load_init
    from tagger.models.tagger import checkpoint_dir, load_model_dir
    model_dir = str(tmp_path / "model")
    loaded, vocab = load_init(f"config:{sample_config}", SAMPLE_VOCAB)
    model, _ = new_tagger_dir(model_dir, loaded, vocab, {"upos": ["<unk>", "NOUN", "VERB"]},
                              f"config:{sample_config}", None, 32)
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model), checkpoint_dir(model_dir), 1).save()
    load_model_dir(model_dir)  # intact: loads
    with open(tiny_vocab_file, encoding="utf-8") as src, open(os.path.join(model_dir, "vocab.txt"), "w") as dst:
        dst.write(src.read())  # someone swapped the vocabulary
    for load in (lambda: load_model_dir(model_dir), lambda: load_init(f"model_dir:{model_dir}", None)):
        with pytest.raises(InitError) as error:
            load()
        message = str(error.value)
        assert message == (f"{os.path.join(model_dir, 'vocab.txt')} has {TINY_BERT['vocab_size']} tokens but "
                           f"the encoder in {model_dir} embeds 1015: vocabulary and checkpoint do not belong "
                           "together"), message


def test_finetune_binary_rejects_a_vocab_of_another_size(tmp_path, tiny_checkpoints):
    result = finetune_binary(tmp_path / "model", "--tasks=upos", "--train_steps=1",
                             init=f"hf:{tiny_checkpoints['hf']}")
    error_line(result, f"error: {SAMPLE_VOCAB} has 1015 tokens", f"embeds {TINY_BERT['vocab_size']}")
    assert not os.path.exists(tmp_path / "model" / "checkpoints")


# -- binaries -------------------------------------------------------------------------------

def test_resuming_with_another_label_set_is_refused(tmp_path, sample_config):
    model_dir = tmp_path / "model"
    first = finetune_binary(model_dir, "--tasks=upos", "--train_steps=2", init=f"config:{sample_config}")
    assert first.returncode == 0, first.stderr[-3000:]
    before = sorted(os.listdir(model_dir / "checkpoints"))
    again = finetune_binary(model_dir, "--tasks=upos,ufeats", "--train_steps=4", init=f"config:{sample_config}")
    line = error_line(again, f"{model_dir}/tagger_config.json", "label set differs", "task 'ufeats' is new",
                      "Use a new --model_dir")
    assert "\n" not in line
    assert sorted(os.listdir(model_dir / "checkpoints")) == before  # nothing trained or overwritten


def test_a_glob_that_matches_nothing(tmp_path, sample_config):
    missing = str(tmp_path / "nowhere" / "*-train.conllu")
    result = finetune_binary(tmp_path / "model", f"--train_data={missing}", init=f"config:{sample_config}")
    error_line(result, f"error: {missing}: no file matches this path or glob")
    assert not os.path.exists(tmp_path / "model")


def test_an_empty_data_file_and_a_bad_dev_glob_fail_before_training(tmp_path, sample_config):
    empty = tmp_path / "xx_empty-ud-train.conllu"
    empty.write_text("# only a comment\n\n", encoding="utf-8")
    result = finetune_binary(tmp_path / "model", f"--train_data={empty}", init=f"config:{sample_config}")
    error_line(result, f"error: {empty}: file holds no sentences")
    # a typo in --dev_data is reported up front, not after the whole training
    missing_dev = str(tmp_path / "dev" / "*.conllu")
    result = finetune_binary(tmp_path / "model2", f"--dev_data={missing_dev}", "--train_steps=1000000",
                             init=f"config:{sample_config}")
    error_line(result, f"error: {missing_dev}: no file matches")
    assert not os.path.exists(tmp_path / "model2" / "checkpoints")


@pytest.mark.parametrize("case", ["hf_is_tf1", "config_is_conllu"])
def test_init_of_the_wrong_format(tmp_path, tiny_checkpoints, case):
    target = {"hf_is_tf1": f"hf:{tiny_checkpoints['tf1']}", "config_is_conllu": f"config:{EN.format('dev')}"}[case]
    result = finetune_binary(tmp_path / "model", "--tasks=upos", init=target)
    expected = {"hf_is_tf1": f"error: --init={target}: expected a hf checkpoint directory with config.json",
                "config_is_conllu": f"error: {EN.format('dev')}: not a readable BERT config JSON"}[case]
    error_line(result, expected)
    assert not os.path.exists(tmp_path / "model" / "checkpoints")


def test_crafted_pytorch_bin_is_an_error_not_a_crash(tmp_path):
    """A pytorch_model.bin whose tensor view reaches past its storage: was an out-of-bounds read
    (a segfault, or other memory copied into the weights); now a ValueError naming the file."""
    import zipfile
    from tagger.models.torch_bin import load_torch_bin

    def global_(module, name):
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n"

    def text(value):
        return b"X" + len(value).to_bytes(4, "little") + value.encode()

    million = b"J" + (10 ** 6).to_bytes(4, "little")
    record = (b"\x80\x02" + global_("collections", "OrderedDict") + b")R" + text("w")
              + global_("torch._utils", "_rebuild_tensor_v2") + b"("
              + b"(" + text("storage") + global_("torch", "FloatStorage") + text("0") + text("cpu") + b"K\x04tQ"
              + b"K\x00" + million + b"\x85" + million + b"\x85" + b"tRs.")
    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", record)
        archive.writestr("archive/data/0", b"\0" * 16)
    with pytest.raises(ValueError, match=rf"^{path}: a tensor of shape \(1000000,\) .* reads past its storage of 4"):
        load_torch_bin(str(path))


# -- damaged model directories and exports: one `error:` line naming the file -------------------

def predict_binary(model: str, tmp_path) -> subprocess.CompletedProcess:
    text = tmp_path / "in.txt"
    text.write_text("Anna works in Paris.\n", encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "tagger.predict", f"--model={model}", f"--input={text}",
                           f"--output={tmp_path / 'out.conllu'}"], capture_output=True, text=True, timeout=300,
                          cwd=REPO)


def damaged_copy(sample_tagger_dir, tmp_path, damage) -> str:
    import shutil
    copy = str(tmp_path / "model")
    shutil.copytree(sample_tagger_dir, copy)
    damage(copy)
    return copy


def truncate(path: str) -> None:
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def edit_config(copy: str, change) -> None:
    path = os.path.join(copy, "tagger_config.json")
    config = json.load(open(path))
    change(config)
    json.dump(config, open(path, "w"))


DAMAGE = {
    "truncated_checkpoint": (lambda d: truncate(next(os.path.join(d, "checkpoints", f) for f in
                                                     os.listdir(os.path.join(d, "checkpoints")) if ".data-" in f)),
                             "checkpoints", "damaged"),
    "missing_vocab": (lambda d: os.remove(os.path.join(d, "vocab.txt")), "vocab.txt", "missing"),
    "wrong_vocab": (lambda d: open(os.path.join(d, "vocab.txt"), "a").write("extra1\nextra2\n"), "vocab.txt",
                    "do not belong together"),
    "edited_labels": (lambda d: edit_config(d, lambda c: c["tasks"]["upos"].append("NEWTAG")),
                      "tagger_config.json", "labels but the checkpoint"),
    "newer_format": (lambda d: edit_config(d, lambda c: c.update(format_version=99)), "tagger_config.json",
                     "upgrade the toolkit"),
    "broken_config": (lambda d: open(os.path.join(d, "tagger_config.json"), "w").write("{not json"),
                      "tagger_config.json", "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_model_directory_is_one_clear_error(case, sample_tagger_dir, tmp_path):
    damage, names, says = DAMAGE[case]
    result = predict_binary(damaged_copy(sample_tagger_dir, tmp_path, damage), tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert names in errors[0] and says in errors[0], errors[0]
    assert not (tmp_path / "out.conllu").exists()


@pytest.mark.parametrize("artifact", ["tflite", "saved_model"])
def test_half_written_export_is_one_clear_error(artifact, sample_exports, tmp_path):
    import shutil
    if artifact == "tflite":
        model = str(tmp_path / "tagger.tflite")
        shutil.copyfile(sample_exports["dynamic_int8"], model)
        truncate(model)
    else:
        model = str(tmp_path / "saved_model" / "1")
        shutil.copytree(sample_exports["saved_model"], model)
        shutil.rmtree(os.path.join(model, "variables"))
    result = predict_binary(model, tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert model in errors[0] and "export it again" in errors[0]
