"""Per-treebank comparison of model directories with the peer taggers (spaCy, UDPipe 1).

  python tools/peer_compare.py --model_dir=runs/e5_ud --model_dir=runs/random_ud [--split=test]
  python tools/peer_compare.py --model_dir=runs/s/metrics/test_tflite_dynamic_int8.json --model_dir=runs/e5_ud

Peers live in `bench/peers/<name>/metrics/test.json` (the metrics schema of ARCHITECTURE.md),
trained on the same `ud_split` train/dev splits and scored on the same test sets. For each task
it prints a markdown table: every model's F1 on every treebank any peer has, the better peer, the
first model's margin over it, how many treebanks the first model wins, and macro averages over
those shared treebanks (plus each model's macro over all its own treebanks). A `--model_dir` that
is a metrics file (e.g. an export scored by `tagger.evaluate --artifact`) is read as it is.
"""
from __future__ import annotations

import glob
import json
import os

from absl import app, flags

from tagger.markdown import markdown_table

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_multi_string("model_dir", None, "Model directories (or metrics .json files); the first is "
                              "compared with the peers.")
    flags.DEFINE_string("peers", os.path.join(REPO, "bench", "peers"), "Directory of peer metrics directories.")
    flags.DEFINE_string("split", "test", "Metrics split.")
    flags.DEFINE_list("tasks", ["upos", "ufeats"], "Tasks to compare.")
    flags.mark_flag_as_required("model_dir")


def scores(path: str, task: str) -> dict[str, float]:
    with open(path, encoding="utf-8") as f:
        metrics = json.load(f)
    per_treebank = metrics.get("tasks", {}).get(task, {}).get("per_treebank", {})
    return {treebank: value["f1"] for treebank, value in per_treebank.items()}


def compare(models: dict[str, dict[str, float]], peers: dict[str, dict[str, float]]) -> dict:
    """Rows over the treebanks the peers share; wins and macros of the first model."""
    shared = sorted(set.intersection(*(set(p) for p in peers.values())) & set.union(*(set(m) for m in
                                                                                      models.values())))
    first = next(iter(models.values()))
    rows, wins = [], 0
    for treebank in shared:
        best_peer = max(peers[name][treebank] for name in peers)
        margin = first.get(treebank, float("nan")) - best_peer
        wins += margin > 0
        rows.append([treebank] + [models[m].get(treebank) for m in models] + [peers[p][treebank] for p in peers]
                    + [best_peer, margin])
    mean = lambda values: sum(values) / len(values) if values else float("nan")  # noqa: E731
    macro = {name: mean([values[t] for t in shared if t in values]) for name, values in {**models, **peers}.items()}
    return {"treebanks": shared, "rows": rows, "wins": wins, "macro_shared": macro,
            "macro_all": {name: mean(list(values.values())) for name, values in models.items()}}


def table(result: dict, models: list[str], peers: list[str]) -> str:
    pct = lambda v: "–" if v is None or v != v else f"{100 * v:.2f}"  # noqa: E731
    header = ["treebank"] + models + peers + ["better peer", f"{models[0]} − better peer"]
    body = [[row[0]] + [pct(v) for v in row[1:-1]] + [f"{100 * row[-1]:+.2f}"] for row in result["rows"]]
    best = max(result["macro_shared"][p] for p in peers)
    body.append([f"**macro ({len(result['treebanks'])})**"] + [pct(result["macro_shared"][n]) for n in models + peers]
                + [pct(best), f"{100 * (result['macro_shared'][models[0]] - best):+.2f}"])
    return markdown_table(header, body)


def metrics_file(model: str, split: str) -> tuple[str, str]:
    """(name, metrics path) of a model directory, or of a metrics file given as it is."""
    if model.endswith(".json"):  # MODEL_DIR/metrics/NAME.json, or a copy in bench/MODEL/NAME.json
        directory = os.path.dirname(os.path.abspath(model))
        if os.path.basename(directory) == "metrics":
            directory = os.path.dirname(directory)
        return f"{os.path.basename(directory)} {os.path.basename(model)[:-len('.json')]}", model
    return os.path.basename(os.path.normpath(model)), os.path.join(model, "metrics", f"{split}.json")


def main(argv):
    del argv
    names, paths = zip(*(metrics_file(m, FLAGS.split) for m in FLAGS.model_dir))
    names = list(names)
    peer_dirs = sorted(glob.glob(os.path.join(FLAGS.peers, "*", "metrics", f"{FLAGS.split}.json")))
    peer_names = [os.path.basename(os.path.dirname(os.path.dirname(p))) for p in peer_dirs]
    for task in FLAGS.tasks:
        models = {n: scores(path, task) for n, path in zip(names, paths)}
        peers = {n: scores(p, task) for n, p in zip(peer_names, peer_dirs)}
        result = compare(models, peers)
        print(f"\n### {task} ({FLAGS.split}): {names[0]} beats the better peer on {result['wins']} of "
              f"{len(result['treebanks'])} treebanks\n")
        print(table(result, names, peer_names))
        print("\nMacro over all of each model's treebanks: "
              + ", ".join(f"{n} {100 * v:.2f} ({len(models[n])})" for n, v in result["macro_all"].items()))


if __name__ == "__main__":
    define_flags()
    app.run(main)
