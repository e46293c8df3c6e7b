"""Cuts a raw text dump (e.g. a WikiExtractor output) into gzipped sentence shards for --unlabeled_data.

  python tools/make_shards.py --input=wiki.txt[,more.txt.gz] --output_dir=shards/ --lines_per_shard=100000

One sentence per output line: input lines are split after sentence-final punctuation
(. ! ? and their CJK/Devanagari/Arabic forms) followed by a space, or after CJK full stops.
Markup lines (`<doc ...>`, `</doc>`), blank lines and sentences under --min_chars characters
are dropped and counted. Invalid UTF-8 is reported with file and line, never silently skipped.
"""
from __future__ import annotations

import gzip
import os
import sys

from absl import app, flags

from tagger.data.sentence_split import split_sentences


def _open_text(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def iter_sentences(paths: list[str], min_chars: int, counts: dict) -> "iter[str]":
    for path in paths:
        with _open_text(path) as f:
            for number, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8").strip()
                except UnicodeDecodeError as e:
                    raise SystemExit(f"error: {path}:{number}: invalid UTF-8 at byte {e.start}") from None
                if not line or (line.startswith("<") and line.endswith(">")):
                    counts["skipped_lines"] += 1
                    continue
                for sentence in split_sentences(line):
                    if len(sentence) < min_chars:
                        counts["short_sentences"] += 1
                        continue
                    yield sentence


def write_shards(sentences, output_dir: str, lines_per_shard: int, prefix: str = "shard") -> list[str]:
    os.makedirs(output_dir, exist_ok=True)
    paths, handle, written = [], None, 0
    for sentence in sentences:
        if handle is None or written == lines_per_shard:
            if handle:
                handle.close()
            paths.append(os.path.join(output_dir, f"{prefix}-{len(paths):05d}.txt.gz"))
            handle, written = gzip.open(paths[-1], "wt", encoding="utf-8"), 0
        handle.write(sentence + "\n")
        written += 1
    if handle:
        handle.close()
    return paths


FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_list("input", None, "Comma-separated text files (.txt or .txt.gz).")
    flags.DEFINE_string("output_dir", None, "Directory for the gzipped shards.")
    flags.DEFINE_integer("lines_per_shard", 100000, "Sentences per shard.")
    flags.DEFINE_integer("min_chars", 10, "Drop sentences shorter than this.")
    flags.mark_flags_as_required(["input", "output_dir"])


def main(argv) -> int:
    del argv
    args = FLAGS
    counts = {"skipped_lines": 0, "short_sentences": 0}
    paths = write_shards(iter_sentences(args.input, args.min_chars, counts), args.output_dir,
                         args.lines_per_shard)
    print(f"wrote {len(paths)} shard(s) to {args.output_dir}; dropped {counts['skipped_lines']} blank/markup "
          f"line(s) and {counts['short_sentences']} sentence(s) under {args.min_chars} characters", file=sys.stderr)
    return 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
