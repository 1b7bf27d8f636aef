"""`pytest --hw4 FOLDER` fails exactly the checks the grader fails."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def run_pytest(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--hw4",
            str(folder),
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(folder),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=folder,
    )


def grader_failures(folder: Path, tmp_path: Path) -> set[str]:
    out = tmp_path / "result.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            str(folder),
            "--quick",
            "--json",
            str(out),
            "--out",
            str(tmp_path / "reports"),
        ],
        capture_output=True,
        timeout=600,
        check=False,
    )
    checks = json.loads(out.read_text())["checks"]
    return {
        c["name"]
        for c in checks
        if c["kind"] == "function" and c["status"] not in ("pass", "skipped")
    }


@pytest.mark.parametrize("case", ["flipped-kernel", "unfinished", "correct-loops"])
def test_plugin_fails_exactly_what_the_grader_fails(case: str, tmp_path: Path) -> None:
    source = SHARED / "cases" / case
    if not source.is_dir():
        pytest.skip(f"acceptance case {source} is absent")
    folder = tmp_path / case
    shutil.copytree(source, folder)
    run = run_pytest(folder)
    failed = set(re.findall(r"^FAILED \S+::(\w+)", run.stdout, re.MULTILINE))
    passed = set(re.findall(r"^PASSED \S+::(\w+)", run.stdout, re.MULTILINE))
    assert failed == grader_failures(folder, tmp_path), run.stdout[-3000:]
    assert len(failed | passed) == 13
    assert "Traceback" not in run.stdout


def test_failure_shows_the_diagnosis(tmp_path: Path) -> None:
    source = SHARED / "cases" / "flipped-kernel"
    if not source.is_dir():
        pytest.skip(f"acceptance case {source} is absent")
    folder = tmp_path / "hw"
    shutil.copytree(source, folder)
    run = run_pytest(folder, "-k", "conv")
    assert "flipped-kernel" in run.stdout
    assert "hint: Do not rotate the kernel" in run.stdout
    assert run.returncode == 1


def test_without_the_flag_nothing_is_collected(tmp_path: Path) -> None:
    (tmp_path / "cnn.py").write_text("def fc(x, w, b):\n    return w @ x + b\n")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tmp_path),
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 5, run.stdout
