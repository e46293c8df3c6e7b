"""What a latency run means: ratios between its medians, the goals it passes, and its markdown report.

Pure functions of the measurements and the run's settings (``result["settings"]``: tf_threads,
lengths, sentence_words, proportional_words, batch_size, quick), so a stored JSON can be re-read.
"""
from __future__ import annotations

from tools import benchenv as E
from tools import benchlib as B

GOAL_SPEEDUP = {32: 300.0, 128: 150.0}
GOAL_SIZE_RATIO = 30.0
PROPORTIONAL_RANGE = (0.5, 2.0)  # (t_long / t_short) / (pieces_long / pieces_short)


def text_names(settings: dict, role: str = "student") -> list[str]:
    """Text inputs timed for a model: teachers skip the length-proportionality pair (a student goal)."""
    names = [f"text_{length}" for length in settings["lengths"]] + [f"text_{settings['sentence_words']}w"]
    if role == "student":
        names += [f"text_{n}w" for n in settings["proportional_words"]]
    return list(dict.fromkeys(names))


# -- ratios and goals ------------------------------------------------------------------------

def ratios_and_goals(run, models: dict, inputs: dict, settings: dict) -> tuple[list[dict], list[dict]]:
    """Ratios between the medians of ``run`` (``run.median(model, runtime, threads, input)`` and
    ``run.latency``), and each goal with its value and PASS/FAIL (None: not measured)."""
    ratios, goals = [], []
    t1 = settings["tf_threads"][0]

    def ratio(name, numerator, denominator):
        a, b = run.median(*numerator), run.median(*denominator)
        value = a / b if a and b else None
        ratios.append({"name": name, "value": value, "numerator": list(numerator), "denominator": list(denominator)})
        return value

    def threads_of(model, runtime):
        return sorted({r["threads"] for r in run.latency if (r["model"], r["runtime"]) == (model, runtime)})

    student_runtimes = sorted({r["runtime"] for r in run.latency if r["model"] == "student"})
    for length in settings["lengths"]:
        reference = ("teacher", "tf", t1, f"ids_{length}")
        for runtime in student_runtimes:
            for threads in threads_of("student", runtime):
                input_name = f"ids_{length}" if runtime == "tf" else f"text_{length}"
                ratio(f"speedup student {runtime} t{threads} {input_name} vs teacher tf t{t1} ids_{length}",
                      reference, ("student", runtime, threads, input_name))
        for variant in ("dynamic_int8", "full_int8"):
            value = run.median(*reference)
            student = run.median("student", f"tflite_{variant}", 1, f"text_{length}")
            speedup = value / student if value and student else None
            target = GOAL_SPEEDUP.get(length)
            if target:
                goals.append({"goal": f"student {variant} TFLite, raw string in, {length} wordpieces, batch 1, "
                                      f"1 thread: >= {target:g}x faster than the teacher in TF (ids, 1 thread)",
                              "target": target, "value": speedup,
                              "pass": None if speedup is None else speedup >= target})
    words = settings["sentence_words"]
    ratio(f"speedup student tflite_dynamic_int8 t1 vs teacher tf t{t1}, text_{words}w end to end",
          ("teacher", "tf", t1, f"text_{words}w"), ("student", "tflite_dynamic_int8", 1, f"text_{words}w"))
    teacher_saved = models["teacher"]["sizes_bytes"].get("saved_model")
    for variant in ("dynamic_int8", "full_int8"):
        student_size = models["student"]["sizes_bytes"].get(f"tflite_{variant}")
        value = teacher_saved / student_size if teacher_saved and student_size else None
        ratios.append({"name": f"size teacher saved_model / student tflite_{variant}", "value": value})
        goals.append({"goal": f"student {variant} TFLite >= {GOAL_SIZE_RATIO:g}x smaller than the teacher SavedModel",
                      "target": GOAL_SIZE_RATIO, "value": value, "pass": None if value is None else
                      value >= GOAL_SIZE_RATIO})
    if "e5" in models:  # the real multilingual teacher, in TF at 1 thread, against the student end to end
        for length in settings["lengths"]:
            ratio(f"speedup student tflite_dynamic_int8 t1 text_{length} vs e5 tf t{t1} ids_{length}",
                  ("e5", "tf", t1, f"ids_{length}"), ("student", "tflite_dynamic_int8", 1, f"text_{length}"))
        ratio(f"speedup student tflite_dynamic_int8 t1 vs e5 tf t{t1}, text_{words}w end to end",
              ("e5", "tf", t1, f"text_{words}w"), ("student", "tflite_dynamic_int8", 1, f"text_{words}w"))
    short, long = (f"text_{n}w" for n in settings["proportional_words"])
    pieces = inputs["described"][long]["wordpieces"] / max(inputs["described"][short]["wordpieces"], 1)
    for runtime in student_runtimes:
        for threads in threads_of("student", runtime):
            time_ratio = ratio(f"length scaling student {runtime} t{threads}: {long} / {short}",
                               ("student", runtime, threads, long), ("student", runtime, threads, short))
            if runtime == "tflite_dynamic_int8" and threads == 1:
                value = time_ratio / pieces if time_ratio else None
                low, high = PROPORTIONAL_RANGE
                goals.append({"goal": f"latency proportional to sentence length (student dynamic_int8 TFLite, "
                                      f"1 thread): (t {long} / t {short}) / (wordpieces ratio {pieces:.2f}) "
                                      f"in [{low}, {high}]",
                              "target": list(PROPORTIONAL_RANGE), "value": value,
                              "pass": None if value is None else low <= value <= high})
    return ratios, goals


# -- markdown --------------------------------------------------------------------------------

def markdown(result: dict) -> str:
    """The run's JSON result as markdown tables, for the terminal and BENCHMARKS.md."""
    settings = result["settings"]
    out = ["# Latency benchmark", ""]
    machine = result["machine"]
    out.append(f"Machine: {machine.get('cpu_model')}, {machine.get('usable_cpus')} usable CPUs, features "
               f"{', '.join(machine.get('cpu_features', []))}; load average at start "
               f"{machine['load_average_1_5_15']}. TensorFlow {machine['versions'].get('tensorflow')}, "
               f"LiteRT {machine['versions'].get('ai-edge-litert')}.")
    if result.get("warning"):
        out += ["", f"**Warning: {result['warning']}**"]
    if settings["quick"]:
        out += ["", "**--quick: smoke-test repetition counts; these numbers are not measurements.**"]
    out += ["", "Models: " + "; ".join(f"{role} = {info['source']}" for role, info in result["models"].items()) + ".",
            f"Artifacts: {result['artifacts']['built_by']}"
            + (f"; reused: {', '.join(result['artifacts']['reused'])}" if result['artifacts']['reused'] else "")
            + f". Elapsed {result['elapsed_s']:.0f} s.",
            "", "## Goals", "",
            B.markdown_table(["goal", "value", "result"],
                             [[g["goal"], g["value"], g["pass"]] for g in result["goals"]]),
            "", "## Inputs", "",
            B.markdown_table(["input", "whitespace words", "BERT words", "wordpieces", "windows x length"],
                             [[name, d["whitespace_words"], d["words"], d["wordpieces"],
                               f"{d['windows']} x {d['window_length']}"] for name, d in result["inputs"].items()])]
    columns = [f"ids_{n}" for n in settings["lengths"]] + text_names(settings)
    rows = []
    order = {name: i for i, name in enumerate(["teacher", "e5", "student", "tf", "saved_model"] +
                                              [f"tflite_{v}" for v in B.TFLITE_VARIANTS])}
    keys = sorted({(r["model"], r["runtime"], r["threads"]) for r in result["latency"]},
                  key=lambda k: (order.get(k[0], 9), order.get(k[1], 9), k[2]))
    for model, runtime, threads in keys:
        cells = {r["input"]: r for r in result["latency"]
                 if (r["model"], r["runtime"], r["threads"], r["batch"]) == (model, runtime, threads, 1)}
        throughput = next((r for r in result["latency"] if (r["model"], r["runtime"], r["threads"]) ==
                           (model, runtime, threads) and r["batch"] > 1), None)
        rows.append([model, runtime, threads] + [cells[c]["median_ms"] if c in cells else None for c in columns]
                    + [throughput.get("sentences_per_s") if throughput else None,
                       throughput.get("words_per_s") if throughput else None])
    out += ["", "## Latency (median ms, batch 1) and throughput (batch "
                f"{settings['batch_size']} of {settings['sentence_words']}-word sentences)", "",
            B.markdown_table(["model", "runtime", "threads"] + columns + ["sentences/s", "words/s"], rows)]
    out += ["", "## Ratios (all from this run)", "",
            B.markdown_table(["ratio", "value"], [[r["name"], r["value"]] for r in result["ratios"]])]
    sizes = []
    for role, info in result["models"].items():
        for artifact, size in info["sizes_bytes"].items():
            sizes.append([role, artifact, E.mib(size)])
    out += ["", "## Sizes (MiB)", "", B.markdown_table(["model", "artifact", "MiB"], sizes)]
    params = result["models"]
    out += ["", "## Parameters", "",
            B.markdown_table(["model", "word embeddings", "other embeddings", "embedding", "non-embedding",
                              "unused pooler", "total"],
                             [[role, p["params"]["word_embeddings"], p["params"]["other_embeddings"],
                               p["params"]["embedding"], p["params"]["non_embedding"], p["params"]["pooler_unused"],
                               p["params"]["total"]] for role, p in params.items()])]
    out += ["", "## FLOP floor", "", "Measured matmul rates:", ""]
    out += [f"- `{name}`: {rate['gflops_per_s']:.1f} GFLOP/s — {rate['what']}, m,k,n = {rate['shape_mkn']}"
            + (f", ops {rate['ops']}" if rate.get("ops") else "") for name, rate in result["rates"].items()]
    out += ["", "Floor = model FLOPs (matrix multiplies, 2 per multiply-add) / the rate of the runtime's "
                "arithmetic. Efficiency = floor / measured.", "",
            B.markdown_table(["model", "runtime", "input", "GFLOPs", "rate", "floor ms", "measured ms", "efficiency"],
                             [[f["model"], f["runtime"], f["input"], f["gflops"], f["rate"], f["floor_ms"],
                               f["measured_ms"], f["efficiency"]] for f in result["floors"]])]
    if result["skipped"]:
        out += ["", "## Skipped", ""] + [f"- {s['what']}: {s['why']}" for s in result["skipped"]]
    return "\n".join(out) + "\n"
