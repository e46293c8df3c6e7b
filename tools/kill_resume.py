#!/usr/bin/env python3
"""Kill/resume check: a training job SIGKILLed at random moments must end exactly as an uninterrupted one.

  python tools/kill_resume.py --kills=10 --seed=0 --work_dir=/tmp/kr --output=kr.json -- \\
      python -m tagger.finetune --init=config:CFG.json --vocab_file=tagger/sample/vocab.txt \\
      --train_data='tagger/sample/ud/en_sample/*-train.conllu' --dev_data=... --tasks=upos \\
      --train_steps=40 --max_seq_length=32 --checkpoint_every=5 --seed=1

1. Runs the command (with `--model_dir=WORK/reference` appended) to completion.
2. Runs it again into `WORK/interrupted`. Every time the process has written at least
   one new checkpoint (a new `*.index` under the model dir), waits a random delay and
   SIGKILLs its whole process group, then starts it again; after `--kills` kills it
   lets the run finish. It must exit 0.
3. After every kill, checks that nothing on disk is half-written: every checkpoint a
   `checkpoint` state file names reads back whole (each tensor, with its CRC), every
   `*.json` parses.
4. Compares the two model dirs: every `metrics/*.json` for exact equality, the final
   checkpoint in `checkpoints/` variable by variable (bitwise), and, for distillation,
   the dev loss each finished sub-stage recorded in `done.json`.

The report (JSON) lists the kills (delay, the checkpoint the job would resume from),
the comparison, and a one-line markdown summary. Exit status 0 iff the run survived
every kill and everything compared equal.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import time

if __package__ in (None, ""):  # run as `python tools/kill_resume.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from tools.checkpoint_checks import check_on_disk, checkpoint_files, compare_runs, latest_checkpoint  # noqa: E402

POLL_SECONDS = 0.01


def source_fingerprint(root: str) -> str:
    """Hash of the code a run executes (`*.py`, `*.flags` under `root`; tests, tools, virtualenvs aside).

    Taken before and after each run: when someone edits the code while the check runs, the two
    runs execute different programs and their comparison means nothing.
    """
    digest = hashlib.sha256()
    skip = {"tests", "tools", "runs", "node_modules", "__pycache__", "build"}
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in skip)
        for name in sorted(files):
            if name.endswith((".py", ".flags")):
                path = os.path.join(directory, name)
                digest.update(os.path.relpath(path, root).encode() + b"\0")
                with open(path, "rb") as f:
                    digest.update(f.read() + b"\0")
    return digest.hexdigest()[:16]


def _with_model_dir(command: list[str], model_dir_flag: str, model_dir: str) -> list[str]:
    kept = [arg for arg in command if not arg.startswith(model_dir_flag + "=")]
    return kept + [f"{model_dir_flag}={model_dir}"]


def _training_window(model_dir: str, command: list[str], log_path: str, env: dict | None,
                     timeout: float, cwd: str | None = None) -> tuple[int, float, float]:
    """Runs to completion, timing the stretch from the first to the last checkpoint written."""
    start = time.monotonic()
    first = last = None
    seen: set[str] = set()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                   start_new_session=True)
        while process.poll() is None:
            found = checkpoint_files(model_dir)
            if found - seen:
                seen |= found
                last = time.monotonic()
                first = first or last
            if time.monotonic() - start > timeout:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise subprocess.TimeoutExpired(command, timeout)
            time.sleep(POLL_SECONDS)
    end = time.monotonic()
    return process.returncode, end - start, (last - first) if first else 0.0


def _resume_evidence(log_path: str, model_dir: str) -> tuple[list[str], int]:
    """From the restarts' output: what each resumed from (`[desc] resumed from PATH at step N`)
    and how many finished distillation sub-stages were skipped (`already done`)."""
    import re
    with open(log_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    resumed = [f"{os.path.relpath(path, model_dir)} (step {step})"
               for path, step in re.findall(r"resumed from (\S+) at step (\d+)", text)]
    return resumed, len(re.findall(r"\] already done", text))


def run_kill_resume(command: list[str], model_dir_flag: str = "--model_dir", kills: int = 10, seed: int = 0,
                    work_dir: str | None = None, max_delay: float | None = None, env: dict | None = None,
                    timeout: float = 1800.0, max_attempts: int | None = None, cwd: str | None = None,
                    watch: str | list[str] = "**/*.index", verbose: bool = True) -> dict:
    """Reference run, then the same run SIGKILLed `kills` times at random moments; compares them.

    `watch`: glob (relative to the model dir) of the checkpoint files whose appearance arms a
    kill; a list gives one glob per kill, e.g. `stages/logits/1-*/*.index` to kill inside a
    given distillation sub-stage (so the restart both skips finished sub-stages and resumes
    one mid-way).

    `max_delay`: kills land uniform(0, max_delay) seconds after the attempt's first new
    checkpoint; default: the reference run's first-to-last checkpoint time / (kills + 1), so
    the kills spread over the training (restarts replay from the last checkpoint).
    """
    import tempfile
    import tensorflow as tf  # noqa: F401  (imported once, up front, for the on-disk checks)

    say = (lambda *a: print("[kill_resume]", *a, file=sys.stderr, flush=True)) if verbose else (lambda *a: None)
    work_dir = os.path.abspath(work_dir or tempfile.mkdtemp(prefix="kill_resume_"))
    os.makedirs(work_dir, exist_ok=True)
    reference, interrupted = os.path.join(work_dir, "reference"), os.path.join(work_dir, "interrupted")
    for directory in (reference, interrupted):
        if os.path.exists(directory) and os.listdir(directory):
            raise ValueError(f"{directory} exists and is not empty; give a fresh --work_dir")
    rng = random.Random(seed)
    report: dict = {"command": command, "work_dir": work_dir, "kills_requested": kills, "seed": seed}
    code_root = os.path.abspath(cwd or os.getcwd())
    fingerprints = [source_fingerprint(code_root)]

    say("reference run:", shlex.join(_with_model_dir(command, model_dir_flag, reference)))
    code, seconds, window = _training_window(reference, _with_model_dir(command, model_dir_flag, reference),
                                             os.path.join(work_dir, "reference.log"), env, timeout, cwd)
    report["reference"] = {"exit_code": code, "seconds": round(seconds, 1), "training_window_s": round(window, 2)}
    if code != 0:
        report.update(ok=False, error=f"reference run exited {code}; see {work_dir}/reference.log")
        report["summary"] = f"| kill/resume | reference run failed (exit {code}) |"
        return report
    if max_delay is None:
        max_delay = max(window / (kills + 1), 0.05)
    report["max_delay_s"] = round(max_delay, 3)

    interrupted_command = _with_model_dir(command, model_dir_flag, interrupted)
    log_path = os.path.join(work_dir, "interrupted.log")
    events, checks, attempts = [], [], 0
    max_attempts = max_attempts or kills + 20
    started = time.monotonic()
    say(f"interrupted run, {kills} kills, delays uniform(0, {max_delay:.2f}) s after a new checkpoint")
    while True:
        attempts += 1
        if attempts > max_attempts:
            report.update(ok=False, error=f"gave up after {max_attempts} attempts")
            break
        fingerprints.append(source_fingerprint(code_root))
        kill_watch = watch if isinstance(watch, str) else watch[len(events) % len(watch)]
        before = checkpoint_files(interrupted, kill_watch)
        kill_at = None
        delay = rng.uniform(0, max_delay) if len(events) < kills else None
        attempt_start = time.monotonic()
        with open(log_path, "ab") as log:
            log.write(f"\n=== attempt {attempts}\n".encode())
            log.flush()
            process = subprocess.Popen(interrupted_command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                       cwd=cwd, start_new_session=True)
            while process.poll() is None:
                now = time.monotonic()
                if now - started > timeout:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    raise subprocess.TimeoutExpired(interrupted_command, timeout)
                if delay is not None and kill_at is None and checkpoint_files(interrupted, kill_watch) - before:
                    kill_at = now + delay
                if kill_at is not None and now >= kill_at:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    break
                time.sleep(POLL_SECONDS)
        code = process.returncode
        if code == -signal.SIGKILL and kill_at is not None:
            resume = latest_checkpoint(interrupted)
            check = check_on_disk(interrupted)
            checks.append(check)
            events.append({"kill": len(events) + 1, "attempt": attempts, "watch": kill_watch,
                           "delay_s": round(delay, 3),
                           "after_s": round(time.monotonic() - attempt_start, 2),
                           "resumes_from": resume, "on_disk_problems": check["problems"]})
            say(f"kill {len(events)} at {resume}; on-disk check: "
                f"{check['checkpoints_read']} checkpoints read, {len(check['problems'])} problem(s)")
            continue
        if code != 0:
            report.update(ok=False, error=f"attempt {attempts} exited {code}; see {log_path}")
        break
    fingerprints.append(source_fingerprint(code_root))
    report["code_changed_during_check"] = len(set(fingerprints)) > 1
    if report["code_changed_during_check"]:
        report.update(ok=False, error=f"the code under {code_root} changed while the check ran "
                      f"(fingerprints {sorted(set(fingerprints))}); the runs are not comparable: rerun it")
    report["resumed"], report["skipped_done"] = _resume_evidence(log_path, interrupted)
    report["interrupted"] = {"attempts": attempts, "exit_code": code, "seconds": round(time.monotonic() - started, 1)}
    report["kills"] = events
    report["kills_survived"] = len(events) if code == 0 else max(len(events) - 1, 0)
    report["half_written"] = [p for c in checks for p in c["problems"]]
    report["stale_list_entries"] = sorted({p for c in checks for p in c["stale_list_entries"]})
    report["temp_files_seen_after_kills"] = sorted({p for c in checks for p in c["temp_files_left"]})
    report["temp_files_left_at_end"] = check_on_disk(interrupted)["temp_files_left"] if code == 0 else None
    if code == 0:
        report["comparison"] = compare_runs(reference, interrupted)
        report["equal"] = report["comparison"]["equal"]
    else:
        report["equal"] = False
    report.setdefault("ok", code == 0 and report["equal"] and not report["half_written"] and len(events) == kills)
    steps = ", ".join(f"{e['resumes_from']['checkpoint']}" if e["resumes_from"] else "(no checkpoint)"
                      for e in events)
    verdict = ("NOT COMPARABLE (code changed during the check)" if report["code_changed_during_check"] else
               "bit-identical" if report["equal"] else "DIFFERENT")
    report["summary"] = (f"| kill/resume | {report['kills_survived']}/{kills} SIGKILLs survived "
                         f"(resumed from: {steps or 'none'}) | metrics + final checkpoint "
                         f"{verdict} to the uninterrupted run | "
                         f"{len(report['half_written'])} half-written files |")
    return report


FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_integer("kills", 10, "SIGKILLs to send.")
    flags.DEFINE_integer("seed", 0, "Seed of the kill delays.")
    flags.DEFINE_string("work_dir", None, "Fresh directory for the two model dirs and logs.")
    flags.DEFINE_string("model_dir_flag", "--model_dir", "The command's flag that names its output directory.")
    flags.DEFINE_float("max_delay", None, "Seconds; default: reference first-to-last checkpoint time / (kills + 1).")
    flags.DEFINE_float("timeout", 3600.0, "Seconds each run may take.")
    flags.DEFINE_multi_string("watch", None, "Glob (under the model dir) of checkpoint files that arm a kill; "
                              "repeat for one per kill, cycled. Default: any *.index.")
    flags.DEFINE_string("output", None, "Report JSON (default: WORK_DIR/kill_resume.json).")
    flags.DEFINE_string("summary", None, "Append the markdown summary line to this file.")


def main(argv: list[str]) -> int:
    args = FLAGS
    command = argv[1:]
    if not command:
        raise app.UsageError("give the training command after --")
    report = run_kill_resume(command, args.model_dir_flag, args.kills, args.seed, args.work_dir, args.max_delay,
                             timeout=args.timeout, watch=args.watch or "**/*.index")
    output = args.output or os.path.join(report["work_dir"], "kill_resume.json")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, default=str)
        f.write("\n")
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as f:
            f.write(report["summary"] + "\n")
    print(report["summary"])
    print(f"report: {output}")
    return 0 if report.get("ok") else 1


if __name__ == "__main__":
    define_flags()
    app.run(main)
