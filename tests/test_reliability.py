"""Preemption safety: a job SIGKILLed at random moments and rerun ends exactly as an uninterrupted one.

The slow tests run tools/kill_resume.py on tiny finetune and distillation jobs. Exact
equality is expected (metrics JSON, the final checkpoint bit for bit, every distillation
sub-stage's dev loss): the data position is the step counter, the checkpoint holds model,
optimizer, step and the dropout RNG state, and the pipelines are deterministic. Reports go
to $TAGGER_TEST_REPORTS (default: runs/test_reports/): kill_resume_<job>.json and a markdown
line each in reliability.md. The fast tests check the two pieces of train() this relies on.
"""
import json
import os
import re
import sys

import pytest

from conftest import REPO
from tools.kill_resume import run_kill_resume

SAMPLE = os.path.join(REPO, "tagger", "sample")
TINY_BERT = dict(vocab_size=1015, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 max_position_embeddings=64, type_vocab_size=2, hidden_act="gelu", hidden_dropout_prob=0.1,
                 attention_probs_dropout_prob=0.1)
EN = os.path.join(SAMPLE, "ud", "en_sample", "en_sample-ud-{}.conllu")
DISTILL_STEPS_EACH = 8  # steps per distillation sub-stage (3 unfreezing steps per stage)


def reports_dir() -> str:
    path = os.environ.get("TAGGER_TEST_REPORTS", os.path.join(REPO, "runs", "test_reports"))
    os.makedirs(path, exist_ok=True)
    return path


def save_report(name: str, report: dict) -> None:
    with open(os.path.join(reports_dir(), f"kill_resume_{name}.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, default=str)
    with open(os.path.join(reports_dir(), "reliability.md"), "a", encoding="utf-8") as f:
        f.write(f"{report['summary']} {name} |\n")
    print(report["summary"])


def check(report: dict, kills: int) -> None:
    if report.get("code_changed_during_check"):
        pytest.skip(report["error"])  # someone edited the code between the two runs: nothing to compare
    assert report["reference"]["exit_code"] == 0, report.get("error")
    assert report["interrupted"]["exit_code"] == 0, report.get("error")
    assert report["kills_survived"] == kills, report["kills"]
    assert report["half_written"] == [], report["half_written"]
    comparison = report["comparison"]
    assert comparison["metrics"] and all(m["equal"] for m in comparison["metrics"].values()), comparison["metrics"]
    assert comparison["checkpoint"]["equal"], comparison["checkpoint"]
    assert all(s["equal"] for s in comparison["stages"].values()), comparison["stages"]
    assert report["ok"], report.get("error")
    # a killed save's ckpt-N_temp/ is cleared when the job resumes
    assert not [p for p in report["temp_files_left_at_end"] if "_temp" in p], report["temp_files_left_at_end"]


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("config") / "bert_config.json"
    path.write_text(json.dumps(TINY_BERT))
    return str(path)


def tiny_tagger():
    from tagger.models import encoders
    from tagger.models.build import build_encoder
    from tagger.models.tagger import Tagger
    from tagger.training import setup_run
    setup_run(0, False)  # dropout on tf.random.Generator state, as in the binaries
    config = encoders.bert_config(vocab_size=50, hidden_size=8, num_layers=1, num_attention_heads=2,
                                  intermediate_size=16, max_position_embeddings=16)
    return Tagger(build_encoder(config), {"upos": ["<unk>", "A", "B"]}).build_variables()


def train_tiny(model, directory, steps):
    import tensorflow as tf
    from tagger.training import TrainState, create_optimizer, tagging_loss, train
    batch = {"input_word_ids": tf.constant([[2, 5, 7, 3]]), "input_mask": tf.constant([[1, 1, 1, 1]]),
             "upos": tf.constant([[-1, 1, 2, -1]])}
    train(TrainState(str(directory), model, create_optimizer(1e-3, steps), tf.Variable(0, dtype=tf.int64)),
          tf.distribute.get_strategy(), lambda context: tf.data.Dataset.from_tensors(batch).repeat(),
          lambda b: tagging_loss(b, model(b, training=True)), steps, checkpoint_every=1, verbose=False)


def test_checkpoint_holds_the_dropout_rng_state(tmp_path):
    """tf-keras leaves dropout generators out of checkpoints; training.train adds them."""
    import tensorflow as tf
    from tagger.training import dropout_generators
    model = tiny_tagger()
    train_tiny(model, tmp_path / "ckpt", 2)
    generators = dropout_generators(model)
    assert len(generators) >= 3  # embedding, attention, feed-forward and head dropout
    saved = dict(tf.train.list_variables(tf.train.latest_checkpoint(str(tmp_path / "ckpt"))))
    names = [n for n in saved if n.startswith("dropout_rng/")]
    assert len(names) == len(generators)
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path / "ckpt")))
    for i, generator in enumerate(generators):
        assert reader.get_tensor(f"dropout_rng/{i}/_state_var/.ATTRIBUTES/VARIABLE_VALUE").tolist() == \
            generator.state.numpy().tolist()


def test_resume_clears_the_temp_dir_of_a_killed_save(tmp_path):
    leftover = tmp_path / "ckpt" / "ckpt-3_temp"
    leftover.mkdir(parents=True)
    (leftover / "part-00000-of-00001.data-00000-of-00001.tempstate123").write_bytes(b"x" * 100)
    train_tiny(tiny_tagger(), tmp_path / "ckpt", 1)
    assert not leftover.exists()
    assert (tmp_path / "ckpt" / "ckpt-1.index").exists()


@pytest.fixture(scope="module")
def finetune_report(tmp_path_factory, tiny_config) -> dict:
    """Finetune, 40 steps, a checkpoint every 5, killed 3 times (delays spread over the training)."""
    command = [sys.executable, "-m", "tagger.finetune", f"--init=config:{tiny_config}",
               f"--vocab_file={SAMPLE}/vocab.txt", f"--train_data={EN.format('train')}",
               f"--dev_data={EN.format('dev')}", "--tasks=upos", "--train_steps=40", "--max_seq_length=32", "--train_batch_size=16", "--checkpoint_every=5",
               "--seed=1"]
    report = run_kill_resume(command, kills=3, seed=1, work_dir=str(tmp_path_factory.mktemp("kr_finetune")),
                             cwd=REPO, timeout=600)
    save_report("finetune", report)
    return report


@pytest.mark.slow
def test_finetune_survives_sigkill_bit_identical(finetune_report):
    check(finetune_report, kills=3)
    assert len(finetune_report["resumed"]) >= 3  # every restart resumed from a checkpoint


@pytest.mark.slow
def test_distill_xtremedistil_survives_sigkill_mid_stage(tmp_path, finetune_report):
    """xtremedistil with gradual unfreezing (9 sub-stages), killed inside two given sub-stages.

    Each kill comes a random delay after the first checkpoint of that sub-stage, so the restart
    skips the finished sub-stages (their done.json) and resumes that one mid-way.
    """
    if finetune_report["reference"]["exit_code"] != 0:
        pytest.skip("no teacher: the finetune reference run failed")
    teacher = os.path.join(finetune_report["work_dir"], "reference")
    command = [sys.executable, "-m", "tagger.distill", f"--teacher_dir={teacher}",
               f"--train_data={EN.format('train')}", f"--dev_data={EN.format('dev')}", "--tasks=upos",
               f"--unlabeled_data={SAMPLE}/unlabeled/en.txt",
               "--max_seq_length=32", "--recipe=xtremedistil", "--gradual_unfreezing", "--student=minibert",
               "--student_layers=1", "--student_hidden_size=16", "--student_heads=2",
               "--student_intermediate_size=32", f"--distill_steps={6 * DISTILL_STEPS_EACH}",
               f"--finetune_steps={3 * DISTILL_STEPS_EACH}", "--distill_batch_size=16", "--finetune_batch_size=16",
               "--distill_learning_rate=1e-3", "--finetune_learning_rate=1e-3", "--checkpoint_every=3",
               "--seed=3", "--export="]
    watch = ["stages/representation/1-*/ckpt-*.index", "stages/logits/2-*/ckpt-*.index"]
    report = run_kill_resume(command, kills=2, seed=3, work_dir=str(tmp_path / "kr_distill"), cwd=REPO,
                             max_delay=0.15, watch=watch, timeout=900)
    save_report("distill_xtremedistil", report)
    check(report, kills=2)
    assert len(report["comparison"]["stages"]) == 9  # 3 stages x 3 unfreezing steps, each dev loss equal
    # the restarts skipped finished sub-stages (1, then 5) and resumed a sub-stage part-way
    assert report["skipped_done"] >= 1 + 5, report["skipped_done"]
    mid_stage = [r for r in report["resumed"] if r.startswith("stages/")
                 and 0 < int(re.search(r"step (\d+)", r).group(1)) < DISTILL_STEPS_EACH]
    assert mid_stage, report["resumed"]


@pytest.mark.slow
def test_distill_tsai2019_with_teacher_cache_survives_sigkill(tmp_path, finetune_report):
    """tsai2019 reading the teacher's cached top-k: killed inside the soft stage and the label
    stage, it resumes on the same cached windows in the same shuffled order, bit for bit."""
    if finetune_report["reference"]["exit_code"] != 0:
        pytest.skip("no teacher: the finetune reference run failed")
    teacher = os.path.join(finetune_report["work_dir"], "reference")
    report = run_kill_resume(tsai2019_cache_command(teacher), kills=2, seed=5, work_dir=str(tmp_path / "kr_cache"),
                             cwd=REPO, max_delay=0.15, watch=["stages/*/*/ckpt-*.index"], timeout=900)
    save_report("distill_tsai2019_cache", report)
    check(report, kills=2)
    assert len(report["comparison"]["stages"]) == 2  # soft_logits and labels, each dev loss equal
    assert any(r.startswith("stages/soft_logits") for r in report["resumed"]), report["resumed"]


def tsai2019_cache_command(teacher: str) -> list[str]:
    """tsai2019 with a 300-window top-5 teacher cache; 24 soft and 12 label steps, a checkpoint every 3."""
    return [sys.executable, "-m", "tagger.distill", f"--teacher_dir={teacher}",
            f"--train_data={EN.format('train')}", f"--dev_data={EN.format('dev')}", "--tasks=upos",
            f"--unlabeled_data={SAMPLE}/unlabeled/en.txt", "--max_seq_length=32", "--recipe=tsai2019",
            "--teacher_cache_topk=5", "--teacher_cache_windows=300", "--student=minibert",
            "--student_layers=1", "--student_hidden_size=16", "--student_heads=2", "--student_intermediate_size=32",
            "--distill_steps=24", "--finetune_steps=12", "--distill_batch_size=16", "--finetune_batch_size=16",
            "--distill_learning_rate=1e-3", "--finetune_learning_rate=1e-3", "--checkpoint_every=3", "--seed=5",
            "--export="]
