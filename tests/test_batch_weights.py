"""Submitted weights (`slp.mat`, ...) evaluated on the test set, and compared
with the same trainer retrained by the grader when the rubric asks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from classes import grade

import reference.cnn
from grader.batch import matfile
from grader.discover import load_embedded
from grader.training import reference_batches

REFERENCE = Path(reference.cnn.__file__).read_bytes()


@pytest.fixture(scope="module")
def trained_slp() -> dict[str, np.ndarray]:
    """train_slp's weights as the course driver would save them (seed 0)."""
    mini_batch_x, mini_batch_y = reference_batches(load_embedded())
    np.random.seed(0)
    w, b = reference.cnn.train_slp(mini_batch_x, mini_batch_y)
    return {"w": w, "b": b}


def test_reader_takes_numbers_only(tmp_path: Path) -> None:
    good, text = tmp_path / "good.mat", tmp_path / "text.mat"
    scipy.io.savemat(good, {"w": np.arange(6.0).reshape(2, 3), "b": np.ones((2, 1))})
    scipy.io.savemat(text, {"w": "not numbers", "b": np.ones((2, 1))})
    arrays, problem = matfile.read(good, ("w", "b"))
    assert problem == "" and arrays["w"].shape == (2, 3) and arrays["w"][1, 2] == 5
    assert "not a numeric array" in matfile.read(text, ("w", "b"))[1]
    assert "has no variable w1" in matfile.read(good, ("w1",))[1]
    (tmp_path / "junk.mat").write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    assert (
        "not a readable MATLAB file" in matfile.read(tmp_path / "junk.mat", ("w",))[1]
    )


def test_submitted_weights_checked_and_compared(
    tmp_path: Path, trained_slp: dict[str, np.ndarray]
) -> None:
    root = tmp_path / "class"
    for student in ("alice", "bob"):
        (root / student).mkdir(parents=True)
        (root / student / "cnn.py").write_bytes(REFERENCE)
    scipy.io.savemat(root / "alice" / "slp.mat", trained_slp)
    rng = np.random.default_rng(0)
    scipy.io.savemat(
        root / "alice" / "mlp.mat",
        {
            "w1": rng.normal(size=(30, 196)),
            "b1": np.zeros((30, 1)),
            "w2": rng.normal(size=(10, 30)),
            "b2": np.zeros((10, 1)),
        },
    )
    (root / "alice" / "cnn.mat").write_bytes(b"not a mat file")
    scipy.io.savemat(
        root / "bob" / "slp_linear.mat",
        {"w": np.ones((196, 10)), "b": np.ones((10, 1))},
    )
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[weights]\nretrain = true\nmax_gap = 0.05\n")
    out, report = tmp_path / "reports", tmp_path / "class.json"

    run = grade(root, "--quick", "--rubric", rubric, "--out", out, "--json", report)

    assert run.returncode == 0, run.stderr
    entries = {s["student"]: s for s in json.loads(report.read_text())["submissions"]}
    alice = {w["file"]: w for w in entries["alice"]["submitted_weights"]}
    assert alice["slp.mat"]["accuracy"] > 0.85
    assert alice["slp.mat"]["retrained"] == pytest.approx(alice["slp.mat"]["accuracy"])
    assert not alice["slp.mat"]["flagged"]
    assert alice["mlp.mat"]["accuracy"] < 0.5 < alice["mlp.mat"]["retrained"]
    assert alice["mlp.mat"]["flagged"] and "gap" in alice["mlp.mat"]["message"]
    assert "not a readable MATLAB file" in alice["cnn.mat"]["problem"]
    (bob,) = entries["bob"]["submitted_weights"]
    assert "w has shape (196, 10), expected (10, 196)" in bob["problem"]
    assert entries["alice"]["score"] == entries["bob"]["score"] == 65  # no points
    report_page = (out / "alice" / "index.html").read_text()
    assert "submitted weights: mlp.mat" in report_page
    overview = (out / "index.html").read_text()
    assert (
        "Submitted weights to look at" in overview and "(weights flagged)" in overview
    )


def test_without_retraining_quick_grading_only_evaluates(
    tmp_path: Path, trained_slp: dict[str, np.ndarray]
) -> None:
    for student in ("ann", "ben"):
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "cnn.py").write_bytes(REFERENCE)
    scipy.io.savemat(tmp_path / "class" / "ann" / "slp.mat", trained_slp)
    report = tmp_path / "class.json"
    run = grade(
        tmp_path / "class", "--quick", "--out", tmp_path / "r", "--json", report
    )
    assert run.returncode == 0, run.stderr
    ann = json.loads(report.read_text())["submissions"][0]
    (weights,) = ann["submitted_weights"]
    assert weights["retrained"] is None and not weights["flagged"]
    assert "not compared with a retraining (--quick)" in weights["message"]
