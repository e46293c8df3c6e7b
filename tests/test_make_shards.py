import gzip
import subprocess
import sys

from conftest import REPO


def test_make_shards_splits_sentences_and_drops_markup(tmp_path):
    source = tmp_path / "dump.txt"
    source.write_text('<doc id="1">\nFirst sentence here. Second one is here too!\nShort.\n\n'
                      "東京は大きい。大阪も大きい。\n</doc>\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "tools/make_shards.py", f"--input={source}",
                             f"--output_dir={tmp_path / 'out'}", "--lines_per_shard=2"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    shards = sorted((tmp_path / "out").iterdir())
    lines = [line for shard in shards for line in gzip.open(shard, "rt", encoding="utf-8").read().splitlines()]
    assert lines == ["First sentence here.", "Second one is here too!"]  # CJK sentences are < 10 chars
    assert len(shards) == 1 and "dropped 3 blank/markup line(s) and 3 sentence(s)" in result.stderr


def test_make_shards_rejects_invalid_utf8(tmp_path):
    source = tmp_path / "bad.txt"
    source.write_bytes(b"fine line of text\nbad \xff line\n")
    result = subprocess.run([sys.executable, "tools/make_shards.py", f"--input={source}",
                             f"--output_dir={tmp_path / 'out'}"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode != 0 and f"{source}:2: invalid UTF-8" in result.stderr
