"""The `grade` command as a user runs it: exit codes, messages, outputs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import reference.cnn

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_SOURCE = Path(reference.cnn.__file__).read_text()


def grade(
    *args: str | Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_starter_kit_is_all_missing_and_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    run = grade(ROOT / "submission", "--out", tmp_path / "reports", "--json", out)
    assert run.returncode == 1, run.stderr
    result = json.loads(out.read_text())
    assert result["score"] == 0
    assert result["max_score"] == 100
    assert {c["status"] for c in result["checks"]} == {"missing"}
    assert len(result["checks"]) == 17
    assert (tmp_path / "reports" / "submission" / "index.html").is_file()
    assert "Traceback" not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/folder"], "does not exist"),
        (["README.md"], "not a Python file"),
        (["tests/empty_folder_xyz"], "does not exist"),
        (["submission", "--data", "/"], "has no mnist_train.mat"),
        (["submission", "--train-seconds", "-1"], "must be greater than 0"),
    ],
)
def test_usage_errors_exit_2_with_a_message(args: list[str], message: str) -> None:
    run = grade(*args, cwd=ROOT)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_folder_without_homework_functions_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.py").write_text("print('hello')\n")
    run = grade(tmp_path)
    assert run.returncode == 2
    assert "defines any of the homework's functions" in run.stderr


def test_bad_rubric_is_named(tmp_path: Path) -> None:
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[points]\nfc = -3\n")
    run = grade(ROOT / "submission", "--quick", "--rubric", rubric, "--out", tmp_path)
    assert run.returncode == 2
    assert "fc = -3" in run.stderr


def test_rubric_override_changes_points(tmp_path: Path) -> None:
    (tmp_path / "hw").mkdir()
    (tmp_path / "hw" / "cnn.py").write_text(REFERENCE_SOURCE)
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[points]\nfc = 10\n")
    out = tmp_path / "r.json"
    run = grade(
        tmp_path / "hw",
        "--quick",
        "--rubric",
        rubric,
        "--json",
        out,
        "--out",
        tmp_path / "reports",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    checks = {c["name"]: c for c in json.loads(out.read_text())["checks"]}
    assert checks["fc"]["max_score"] == 10 and checks["fc"]["score"] == 10


REAL_STUDENT = """\
import cv2
import numpy as np
import matplotlib
matplotlib.use('TkAgg')
import matplotlib.pyplot as plt
import scipy.io as sio
import main_functions as main
import os
import time
import math

# ma premi\xe8re version (Latin-1 comment)
for i in range(3000):
    print("debug at import", i)


def get_mini_batch(im_train, label_train, batch_size):
    # TO DO
    return mini_batch_x, mini_batch_y


def relu(x):
    print("relu", x.shape)
    return np.maximum(x, 0)


def train_slp(mini_batch_x, mini_batch_y):
    w = np.random.normal(0, 0.1, (10, 196))
    b = np.zeros((10, 1))
    losses = []
    for it in range(300):
        k = it % len(mini_batch_x)
        xb, yb = mini_batch_x[k], mini_batch_y[k]
        print("iteration", it)
        s = w @ xb + b
        p = np.exp(s - s.max(axis=0))
        p /= p.sum(axis=0)
        g = p - yb
        w -= 0.5 / xb.shape[1] * g @ xb.T
        b -= 0.5 / xb.shape[1] * g.sum(axis=1, keepdims=True)
        losses.append(float(-np.sum(yb * np.log(p + 1e-12))))
    plt.plot(losses)
    plt.show()
    return w, b
"""


def test_a_real_student_folder_grades_without_hanging(tmp_path: Path) -> None:
    """cv2, TkAgg, TO DO stubs, thousands of prints and plt.show(), trained on
    the embedded data: it must finish, grade what is there and never show a
    grader traceback."""
    folder = tmp_path / "student_hw4"
    folder.mkdir()
    (folder / "cnn.py").write_bytes(REAL_STUDENT.encode("latin-1"))
    out = tmp_path / "result.json"
    run = grade(folder, "--json", out, "--out", tmp_path / "reports")
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    checks = {c["name"]: c for c in json.loads(out.read_text())["checks"]}
    assert checks["relu"]["status"] == "pass"
    assert checks["get_mini_batch"]["status"] == "missing"
    assert checks["fc"]["status"] == "missing"
    assert checks["train_slp"]["status"] in ("pass", "fail")
    assert checks["train_slp"]["accuracy"] is not None
    assert checks["train_slp"]["batches"] == "reference"
    report = (tmp_path / "reports" / "student_hw4" / "index.html").read_text()
    assert re.search(r"debug at import", report)


def test_only_rechecks_the_named_functions(tmp_path: Path) -> None:
    (tmp_path / "hw").mkdir()
    (tmp_path / "hw" / "cnn.py").write_text(REFERENCE_SOURCE)
    out = tmp_path / "r.json"
    run = grade(
        tmp_path / "hw",
        "--only",
        "fc,conv",
        "--json",
        out,
        "--out",
        tmp_path / "reports",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    names = [c["name"] for c in json.loads(out.read_text())["checks"]]
    assert names == ["fc", "conv"]
    bad = grade(tmp_path / "hw", "--only", "convv", "--out", tmp_path / "reports")
    assert bad.returncode == 2 and "is not a check" in bad.stderr
