"""Interrupting a batch and running it again grades only what is unfinished;
late and changed hand-ins are the only ones graded on the next run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from classes import OPTIONS, ORDINARY, case_source, grade

SIZE = 12


def _start(root: Path, out: Path, report: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grader",
            str(root),
            *OPTIONS,
            "--jobs",
            "2",
            "--out",
            str(out),
            "--json",
            str(report),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def _cached_students(out: Path) -> set[str]:
    folder = out / ".cache"
    if not folder.is_dir():
        return set()
    return {
        json.loads(p.read_text())["student"]
        for p in folder.glob("*.json")
        if not p.name.startswith(".")
    }


def _wait_for(out: Path, count: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while len(_cached_students(out)) < count:
        assert proc.poll() is None, "the batch ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _workers_of(pid: int) -> list[int]:
    """Worker processes started by the batch process `pid` (their argv says)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"grader.batch.worker" in argv and str(pid).encode() in argv:
            found.append(int(entry.name))
    return found


def _assert_workers_end(pid: int) -> None:
    deadline = time.monotonic() + 30
    while _workers_of(pid):
        assert time.monotonic() < deadline, f"workers of {pid} still running"
        time.sleep(0.1)


def _graded_now(report: Path) -> set[str]:
    submissions = json.loads(report.read_text())["submissions"]
    return {s["student"] for s in submissions if not s["cached"]}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_interrupted_batches_resume_where_they_stopped(
    shared_dir: Path, tmp_path: Path
) -> None:
    root, out, report = (
        tmp_path / "class",
        tmp_path / "reports",
        tmp_path / "class.json",
    )
    everyone = {f"s{i:02d}" for i in range(SIZE)}
    for i, student in enumerate(sorted(everyone)):
        (root / student).mkdir(parents=True)
        code = case_source(shared_dir, ORDINARY[i % len(ORDINARY)])
        (root / student / "cnn.py").write_bytes(code)

    # Ctrl-C: the batch stops its workers and says how to go on
    first = _start(root, out, report)
    _wait_for(out, 2, first)
    os.kill(first.pid, signal.SIGINT)
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 2
    assert "interrupted" in stderr and "Traceback" not in stderr
    _assert_workers_end(first.pid)
    after_first = _cached_students(out)
    assert 2 <= len(after_first) < SIZE

    # killed outright: the workers notice and stop; what finished is kept
    second = _start(root, out, report)
    _wait_for(out, len(after_first) + 2, second)
    os.kill(second.pid, signal.SIGKILL)
    second.wait(timeout=30)
    _assert_workers_end(second.pid)
    finished = _cached_students(out)
    assert after_first < finished < everyone

    run = grade(root, *OPTIONS, "--jobs", "2", "--out", out, "--json", report)
    assert run.returncode == 0, run.stderr
    assert _graded_now(report) == everyone - finished
    assert f"{len(everyone - finished)} graded now, {len(finished)} from the cache" in (
        run.stdout
    )

    # a late hand-in and a changed one: only those two are graded again
    late = root / "s99"
    late.mkdir()
    (late / "cnn.py").write_bytes(case_source(shared_dir, "correct-vectorised"))
    changed = root / "s00" / "cnn.py"
    changed.write_bytes(changed.read_bytes() + b"\n# fixed after the deadline\n")
    run = grade(root, *OPTIONS, "--jobs", "2", "--out", out, "--json", report)
    assert run.returncode == 0, run.stderr
    assert _graded_now(report) == {"s99", "s00"}
