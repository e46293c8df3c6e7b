"""Benchmark tools and the report: output schema on tiny models and fake metrics (never timings)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, SAMPLE_UD_DEV
from tagger.data.corpus import read_corpus

SAMPLE_TEXT = "tagger/sample/unlabeled/*.txt"
TINY_MODELS = ["--teacher_layers=1", "--teacher_hidden_size=16", "--teacher_heads=2", "--teacher_intermediate_size=32",
               "--student_layers=1", "--student_hidden_size=8", "--student_heads=2", "--student_intermediate_size=16"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_tool(module: str, *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- bench_latency -------------------------------------------------------------------

@pytest.fixture(scope="module")
def latency(tmp_path_factory, tiny_vocab_file, sp_tagger_dir):
    """Random tiny teacher and student, and the tiny SentencePiece tagger as the e5 row."""
    out = tmp_path_factory.mktemp("latency")
    result = run_tool("tools.bench_latency", "--quick", f"--vocab_file={tiny_vocab_file}", f"--text={SAMPLE_TEXT}",
                      *TINY_MODELS, f"--e5_dir={sp_tagger_dir}", "--student_tflite=dynamic_int8", "--teacher_tflite=",
                      "--tflite_threads=1", "--student_tasks=upos:18,ufeats:40",
                      "--tf_threads=1,2", "--batch_size=4", "--calibration_sentences=2",
                      f"--output_json={out / 'latency.json'}", f"--output_md={out / 'latency.md'}")
    with open(out / "latency.json", encoding="utf-8") as f:
        return json.load(f), (out / "latency.md").read_text(encoding="utf-8"), result.stdout


def test_latency_json_schema(latency):
    result, _, _ = latency
    assert result["tool"] == "bench_latency" and result["settings"]["quick"] is True
    assert {"cpu_model", "usable_cpus", "cpu_features", "versions", "load_average_1_5_15"} <= set(result["machine"])
    for role in ("teacher", "student"):
        model = result["models"][role]
        assert os.path.isabs(model["model_dir"])
        for key in ("word_embeddings", "embedding", "non_embedding", "total"):
            assert isinstance(model["params"][key], int) and model["params"][key] > 0
        assert all(is_number(v) for v in model["flops"].values())
        assert {"checkpoint", "saved_model"} <= set(model["sizes_bytes"])
    assert "tflite_dynamic_int8" in result["models"]["student"]["sizes_bytes"]
    assert result["models"]["student"]["tasks"] == ["upos", "ufeats"] and result["models"]["student"]["num_labels"] == 58
    for name in ("text_32", "text_128", "text_20w", "text_10w", "text_100w"):
        described = result["inputs"][name]
        assert {"text", "words", "wordpieces", "windows", "window_length"} <= set(described)
    assert result["inputs"]["text_32"]["window_length"] == 32  # exactly 30 wordpieces + [CLS]/[SEP]
    for rate in ("tf_fp32", "tflite_float32", "tflite_dynamic_int8", "tflite_full_int8"):
        assert is_number(result["rates"][rate]["gflops_per_s"]) and result["rates"][rate]["what"]


def test_latency_records_cover_the_matrix(latency):
    result, _, _ = latency
    records = result["latency"]
    for record in records:
        assert {"model", "runtime", "threads", "input", "batch", "median_ms", "p10_ms", "p90_ms", "runs"} <= set(record)
        assert is_number(record["median_ms"])
    keys = {(r["model"], r["runtime"], r["threads"], r["input"], r["batch"]) for r in records}
    for model in ("teacher", "student"):
        assert (model, "tf", 1, "ids_32", 1) in keys and (model, "tf", 1, "ids_128", 1) in keys
        assert (model, "tf", 2, "ids_32", 1) in keys  # the child process for the second thread count
        assert (model, "saved_model", 1, "text_20w", 1) in keys
    assert ("student", "tflite_dynamic_int8", 1, "text_32", 1) in keys
    assert ("student", "tflite_dynamic_int8", 1, "text_100w", 1) in keys
    assert {("e5", "tf", 1, "ids_32", 1), ("e5", "tf", 1, "text_20w", 1)} <= keys  # the third row, TF only
    assert not any(model == "e5" and runtime != "tf" for model, runtime, _, _, _ in keys)
    throughput = [r for r in records if r["batch"] == 4]
    assert throughput and all(is_number(r["sentences_per_s"]) and is_number(r["words_per_s"]) for r in throughput)
    assert result["floors"] and all(is_number(f["floor_ms"]) for f in result["floors"])


def test_latency_ratios_goals_and_markdown(latency):
    result, markdown, stdout = latency
    assert all(set(r) >= {"name", "value"} for r in result["ratios"])
    goals = {g["goal"]: g for g in result["goals"]}
    assert len(goals) == 7  # 2 int8 variants x (32, 128 speedup, size) + proportional
    for goal in goals.values():  # a goal without a measured value is undecided, never passed
        assert goal["pass"] is None if goal.get("value") is None else isinstance(goal["pass"], bool)
    measured = [g for g in goals.values() if "dynamic_int8" in g["goal"]]
    assert all(isinstance(g["pass"], bool) and is_number(g["value"]) for g in measured)
    assert "## Goals" in markdown and "## FLOP floor" in markdown and markdown in stdout
    e5 = {r["name"]: r["value"] for r in result["ratios"] if "vs e5" in r["name"]}
    assert len(e5) == 3  # ids_32, ids_128 (beyond the tiny e5 stand-in's 64 positions: skipped), 20 words
    assert [name for name, value in e5.items() if not is_number(value)] == [
        "speedup student tflite_dynamic_int8 t1 text_128 vs e5 tf t1 ids_128"]
    assert any("e5 tf ids_128" in s["what"] for s in result["skipped"])
    assert "smoke-test" in markdown


# -- bench_distill -------------------------------------------------------------------

def test_distill_json_schema(tmp_path, tiny_vocab_file):
    output = tmp_path / "distill.json"
    run_tool("tools.bench_distill", "--quick", f"--vocab_file={tiny_vocab_file}", f"--text={SAMPLE_TEXT}",
             *TINY_MODELS, "--batch_size=4", "--seq_length=16", "--variants=baseline,jit,dense_grads,student_only",
             f"--output_json={output}", f"--output_md={tmp_path / 'distill.md'}")
    result = json.loads(output.read_text(encoding="utf-8"))
    assert result["tool"] == "bench_distill"
    steps = {row["variant"]: row for row in result["steps"]}
    assert set(steps) == {"teacher_forward", "teacher_forward_jit", "baseline", "jit", "dense_grads", "student_only"}
    for name, row in steps.items():
        assert is_number(row["median_ms"]) and is_number(row["steps_per_s"])
        if not name.startswith("teacher_forward"):
            assert is_number(row["ratio_to_teacher_forward"])
    assert [g["pass"] for g in result["goals"]] and all(isinstance(g["pass"], bool) for g in result["goals"])
    # The variants said to keep the training the same do: same weights as baseline after a few steps.
    for name, check in result["equivalence"]["variants"].items():
        assert check["max_abs_update"] > 1e-4, name
        assert check["max_abs_diff_to_baseline"] < 1e-3 * check["max_abs_update"] + 1e-6, name
    pipeline = result["pipeline"]
    for key in ("windows_per_s", "sentences_per_s", "wordpieces_per_s", "windows_per_sentence"):
        assert is_number(pipeline[key]) and pipeline[key] > 0
    assert "## Input pipeline" in (tmp_path / "distill.md").read_text(encoding="utf-8")


# -- report ----------------------------------------------------------------------------

def metrics(split: str, scores: dict[str, dict[str, float]]) -> dict:
    """{task: {treebank: f1}} -> the metrics schema of ARCHITECTURE.md."""
    tasks = {}
    for task, per in scores.items():
        per_treebank = {tb: {"accuracy": f, "f1": f, "words": 100} for tb, f in per.items()}
        mean = sum(per.values()) / len(per)
        tasks[task] = {"accuracy": mean, "f1": mean, "macro_f1": mean, "words": 100 * len(per),
                       "per_treebank": per_treebank}
    return {"split": split, "tasks": tasks}


def write_model_dir(path, init: str, test: dict, teacher_dir=None, teacher_test: dict | None = None,
                    extra: dict | None = None) -> str:
    os.makedirs(path / "metrics")
    config = {"init": init, **({"teacher_dir": str(teacher_dir)} if teacher_dir else {})}
    (path / "tagger_config.json").write_text(json.dumps(config))
    (path / "metrics" / "test.json").write_text(json.dumps(metrics("test", test)))
    (path / "metrics" / "dev.json").write_text(json.dumps(metrics("dev", test)))
    if teacher_test:
        (path / "metrics" / "teacher_test.json").write_text(json.dumps(metrics("test", teacher_test)))
    for name, value in (extra or {}).items():
        (path / "metrics" / name).write_text(json.dumps(value))
    return str(path)


UPOS = {"en_ewt": 0.97, "kk_ktb": 0.80, "hy_armtdp": 0.85, "ta_ttb": 0.78, "de_gsd": 0.95, "de_hdt": 0.96}
NER = {"wikiann_en": 0.84, "wikiann_kk": 0.70}


def fake_latency_json(path, student_dir: str, teacher_dir: str) -> str:
    records = []
    for role, model_dir in (("student", student_dir), ("teacher", teacher_dir)):
        for runtime, ms in (("tf", 5.0), ("tflite_dynamic_int8", 0.5), ("tflite_float32", 1.0)):
            records.append({"model": role, "runtime": runtime, "threads": 1, "input": "text_20w", "batch": 1,
                            "median_ms": ms * (30 if role == "teacher" else 1)})
    bench = {"tool": "bench_latency", "created": "now", "machine": {"cpu_model": "fake"}, "settings": {"quick": True},
             "models": {"student": {"model_dir": student_dir, "source": "fake",
                                    "sizes_bytes": {"checkpoint": 9e7, "tflite_dynamic_int8": 3e7,
                                                    "tflite_float32": 1.2e8}},
                        "teacher": {"model_dir": teacher_dir, "source": "fake",
                                    "sizes_bytes": {"checkpoint": 7e8, "tflite_dynamic_int8": 1.8e8,
                                                    "tflite_float32": 7e8}},
                        "random": {"model_dir": "/nonexistent", "source": "random weights", "sizes_bytes": {}}},
             "latency": records, "goals": [{"goal": "a goal", "value": 2.0, "pass": False}]}
    path.write_text(json.dumps(bench))
    return str(path)


def test_report_files_and_contents(tmp_path):
    teacher = write_model_dir(tmp_path / "teacher", "hf:/mbert", {"upos": UPOS, "ner": NER})
    student_scores = {"upos": {k: v - 0.03 for k, v in UPOS.items()}, "ner": {k: v - 0.1 for k, v in NER.items()}}
    int8 = metrics("test", {"upos": {k: v - 0.035 for k, v in UPOS.items()}})
    student = write_model_dir(tmp_path / "student", "distill:tsai2019", student_scores, teacher_dir=teacher,
                              teacher_test={"upos": UPOS, "ner": NER},
                              extra={"test_tflite_dynamic_int8.json": int8})
    other = write_model_dir(tmp_path / "bilstm", "distill:xtremedistil",
                            {"upos": {k: v - 0.06 for k, v in UPOS.items()}}, teacher_dir=teacher,
                            teacher_test={"upos": UPOS, "ner": NER})
    bench = fake_latency_json(tmp_path / "latency.json", student, teacher)
    output = tmp_path / "report"
    run_tool("tagger.report", f"--model_dir={student}", f"--compare={other}", f"--compare={teacher}",
             f"--bench_json={bench}", f"--output_dir={output}", timeout=120)
    for name in ("report.md", "f1_upos.png", "f1_ner.png", "low_resource.png", "tradeoff.png"):
        assert (output / name).stat().st_size > 0, name
    for name in ("f1_upos.png", "f1_ner.png", "low_resource.png", "tradeoff.png"):
        assert (output / name).read_bytes()[:8] == PNG_MAGIC
    report = (output / "report.md").read_text(encoding="utf-8")
    for treebank in list(UPOS) + list(NER):
        assert treebank in report
    assert "kk_ktb" in report.split("## Low-resource")[1]
    assert "student tflite_dynamic_int8" in report  # a tradeoff point
    assert "random weights" in report  # the benchmark model without metrics is named, not plotted
    assert f"(teacher, hf:/mbert): `{teacher}`" in report  # the teacher is listed with its init
    header = report.split("## upos: F1 per treebank")[1].split("| treebank")[1].splitlines()[0]
    assert "teacher" in header  # and has its own column in the per-treebank table
    assert "a goal" in report


def test_report_without_low_resource_or_benchmarks(tmp_path):
    model = write_model_dir(tmp_path / "model", "hf:/mbert", {"upos": {"en_ewt": 0.9, "fr_gsd": 0.92}})
    run_tool("tagger.report", f"--model_dir={model}", timeout=120)
    output = tmp_path / "model" / "report"
    report = (output / "report.md").read_text(encoding="utf-8")
    assert "en_ewt" in report and "fr_gsd" in report
    assert "None of kk, hy, lt, be, mr, ta" in report
    assert not (output / "low_resource.png").exists() and not (output / "tradeoff.png").exists()
    assert (output / "f1_upos.png").read_bytes()[:8] == PNG_MAGIC


def test_report_rejects_a_directory_without_metrics(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tagger.report", f"--model_dir={tmp_path}"], capture_output=True,
                            text=True, timeout=120, cwd=REPO)
    assert result.returncode == 2 and "no metrics/" in result.stderr


def test_language_of():
    from tagger.reporting.series import language_of
    assert language_of("kk_ktb") == "kk" and language_of("wikiann_kk") == "kk" and language_of("ner_de") == "de"


def test_peer_compare_counts_wins_over_the_better_peer_and_shared_macros():
    from tools.peer_compare import compare
    models = {"e5": {"a": 0.95, "b": 0.80, "c": 0.99, "only_model": 0.5}, "random": {"a": 0.5, "b": 0.5}}
    peers = {"spacy": {"a": 0.90, "b": 0.85, "c": 0.70, "only_spacy": 0.9}, "udpipe": {"a": 0.91, "b": 0.70, "c": 0.98}}
    result = compare(models, peers)
    assert result["treebanks"] == ["a", "b", "c"]  # what both peers and some model have
    assert result["wins"] == 2  # a (0.95 > 0.91) and c (0.99 > 0.98); b loses to spaCy's 0.85
    assert result["macro_shared"]["e5"] == pytest.approx((0.95 + 0.80 + 0.99) / 3)
    assert result["macro_shared"]["random"] == pytest.approx(0.5)  # over the shared treebanks it has
    assert result["macro_all"]["e5"] == pytest.approx((0.95 + 0.80 + 0.99 + 0.5) / 4)
    assert result["rows"][1][-1] == pytest.approx(0.80 - 0.85)



def test_peer_compare_reads_a_model_directory_or_a_metrics_file():
    from tools.peer_compare import metrics_file
    assert metrics_file("runs/e5_ud/", "test") == ("e5_ud", "runs/e5_ud/metrics/test.json")
    assert metrics_file("runs/s/metrics/test_tflite_dynamic_int8.json", "test") == (
        "s test_tflite_dynamic_int8", "runs/s/metrics/test_tflite_dynamic_int8.json")

# -- profile_tflite ------------------------------------------------------------------

def test_profile_tflite_stages(tmp_path):
    """Three stages converted and timed, each with its op inventory; the split is consistent."""
    output = tmp_path / "profile.json"
    result = run_tool("tools.profile_tflite", "--quick", "--student_layers=1", "--student_hidden_size=16",
                      "--student_heads=2", "--student_intermediate_size=32", f"--text={SAMPLE_TEXT}",
                      f"--output_json={output}")
    profile = json.loads(output.read_text(encoding="utf-8"))
    stages = profile["stages"]
    for stage in ("tokenize", "encoder", "end_to_end"):
        assert is_number(stages[stage]["median_ms"]) and stages[stage]["bytes"] > 0
    assert "FastWordpieceTokenizeWithOffsets" in stages["tokenize"]["ops"]
    assert "FULLY_CONNECTED" in stages["encoder"]["ops"] and "FULLY_CONNECTED" not in stages["tokenize"]["ops"]
    assert set(stages["tokenize"]["ops"]) | set(stages["encoder"]["ops"]) <= set(stages["end_to_end"]["ops"])
    assert stages["rest_ms"] == pytest.approx(stages["end_to_end"]["median_ms"] - stages["tokenize"]["median_ms"]
                                              - stages["encoder"]["median_ms"])
    assert "| rest (end_to_end - tokenize - encoder) |" in result.stdout
    parts = profile["encoder_parts"]
    assert list(parts["parts"]) == ["embeddings", "attention_0", "feed_forward_0", "heads"]
    assert parts["composed_logits_max_abs_diff"] <= 1e-4
    assert "SOFTMAX" in parts["parts"]["attention_0"]["ops"] and "SOFTMAX" not in parts["parts"]["feed_forward_0"]["ops"]
    assert "FULLY_CONNECTED" in parts["parts"]["feed_forward_0"]["ops"]
    assert parts["sum_ms"] == pytest.approx(sum(part["median_ms"] for part in parts["parts"].values()))
    assert "| sum of the parts (the encoder stage:" in result.stdout


def test_encoder_parts_refuse_other_encoders():
    """The cut reads BertEncoderV2's sub-layers; any other encoder (the BiLSTM) gets a clear error, not a wrong profile."""
    from tagger.models.students import BiLSTMEncoder
    from tagger.models.tagger import Tagger
    from tools import encoder_parts
    model = Tagger(BiLSTMEncoder(vocab_size=50, embedding_width=8, lstm_units=4), {"upos": ["NOUN", "VERB"]})
    with pytest.raises(ValueError, match="BiLSTMEncoder is not Model Garden's BertEncoderV2"):
        encoder_parts.part_functions(model.build_variables())


# -- bench_corpus --------------------------------------------------------------------

def test_bench_corpus_times_both_orders_on_every_word(tmp_path, sample_tagger_dir, sample_exports):
    """The exported model is reused; sorted and file-order batching return the same tags (the tool
    checks), and every gold word of the corpus is counted."""
    from conftest import SAMPLE_UD_DEV
    from tagger.data.corpus import read_corpus
    output = tmp_path / "corpus.json"
    result = run_tool("tools.bench_corpus", f"--model_dir={sample_tagger_dir}", f"--data={SAMPLE_UD_DEV}",
                      "--batch_sizes=1,4", "--rounds=1", f"--output_json={output}")
    corpus = json.loads(output.read_text(encoding="utf-8"))
    assert corpus["tflite"] == sample_exports["dynamic_int8"]
    assert [(r["batch_size"], r["order"]) for r in corpus["rows"]] == [
        (1, "sorted"), (1, "file order"), (4, "sorted"), (4, "file order")]
    sentences = read_corpus(SAMPLE_UD_DEV)
    assert corpus["sentences"] == len(sentences)
    assert corpus["words"] >= sum(len(s.words) for s in sentences)
    assert all(r["words_per_s"] == pytest.approx(r["words"] / r["seconds"]) for r in corpus["rows"])
    assert "| 4 | file order |" in result.stdout
    assert all(r["order_disagreements"] == 0 for r in corpus["rows"])


def test_bench_corpus_counts_order_disagreements():
    from tools.bench_corpus import order_disagreements
    rows = [{"words": ["a", "b"], "upos": ["X", "NOUN"], "word_starts": [0, 2]}]
    assert order_disagreements(rows, rows) == (0, 4)
    assert order_disagreements(rows, [{**rows[0], "upos": ["X", "VERB"]}]) == (1, 4)
    with pytest.raises(AssertionError, match="word split"):
        order_disagreements(rows, [{**rows[0], "words": ["a", "c"]}])


def test_peer_compare_names_a_metrics_file_after_its_model():
    from tools.peer_compare import metrics_file
    assert metrics_file("runs/s/metrics/test_tflite_dynamic_int8.json", "test")[0] == "s test_tflite_dynamic_int8"
    assert metrics_file("bench/s_rank64/test.json", "test")[0] == "s_rank64 test"
    assert metrics_file("runs/s", "dev") == ("s", os.path.join("runs/s", "metrics", "dev.json"))


def test_int8_sensitivity_binary_writes_variants_and_a_report(tmp_path, sample_tagger_dir):
    out = tmp_path / "sensitivity"
    result = subprocess.run([sys.executable, "tools/int8_sensitivity.py", f"--model_dir={sample_tagger_dir}",
                             f"--data={SAMPLE_UD_DEV}", "--every=3", "--groups=table,last:2",
                             f"--output_dir={out}"], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "verify.json").read_text(encoding="utf-8"))
    names = [a["artifact"] for a in report["artifacts"]]
    assert names == ["tagger_dynamic_int8.tflite", "float_table_dynamic_int8.tflite", "float_last2_dynamic_int8.tflite"]
    assert report["sentences"] == len(read_corpus(SAMPLE_UD_DEV)[::3])


def test_make_sample_regenerates_the_shipped_sample_byte_for_byte(tmp_path):
    """The embedded sample is what tools/make_sample.py writes: every file it writes, equal to the byte."""
    run_tool("tools.make_sample", f"--out={tmp_path}")
    written = sorted(os.path.relpath(os.path.join(d, f), tmp_path) for d, _, files in os.walk(tmp_path) for f in files)
    assert "vocab.txt" in written and "ud/de_sample/de_sample-ud-train.conllu" in written
    for name in written:
        with open(tmp_path / name, "rb") as new, open(os.path.join(REPO, "tagger", "sample", name), "rb") as shipped:
            assert new.read() == shipped.read(), f"tagger/sample/{name} differs from what make_sample writes"
