"""A class graded with training (slow: `pytest -m training`): a trainer that
never returns is stopped at its limit and shows in the overview, a child that
exits fails only its own hand-in's checks, and submitted weights are compared
with the trainers the grading ran."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from classes import CRASH, case_source, grade, statuses

import reference.cnn
from grader.discover import load_embedded
from grader.training import reference_batches

pytestmark = pytest.mark.training
OPTIONS = ("--train-seconds", "10", "--call-seconds", "5")


def test_class_with_training(shared_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "class"
    for student, code in (
        ("ref", Path(reference.cnn.__file__).read_bytes()),
        ("loop", case_source(shared_dir, "hostile-infinite-loop")),
        ("exit", case_source(shared_dir, CRASH)),
    ):
        (root / student).mkdir(parents=True)
        (root / student / "cnn.py").write_bytes(code)
    mini_batch_x, mini_batch_y = reference_batches(load_embedded())
    np.random.seed(0)
    w, b = reference.cnn.train_slp(mini_batch_x, mini_batch_y)
    scipy.io.savemat(root / "ref" / "slp.mat", {"w": w, "b": b})
    out, report = tmp_path / "reports", tmp_path / "class.json"

    run = grade(root, *OPTIONS, "--jobs", "3", "--out", out, "--json", report)

    assert run.returncode == 0, run.stdout + run.stderr
    entries = {s["student"]: s for s in json.loads(report.read_text())["submissions"]}
    for student in ("ref", "exit"):  # verdicts that do not depend on timing
        single = tmp_path / f"{student}.json"
        alone = grade(
            root / student, *OPTIONS, "--json", single, "--out", tmp_path / "s"
        )
        assert alone.returncode in (0, 1), alone.stderr
        expected = json.loads(single.read_text())
        assert statuses(entries[student]) == statuses(expected), student
        assert entries[student]["score"] == expected["score"]
    assert entries["ref"]["passed"] is True
    assert {
        c["status"] for c in entries["exit"]["checks"] if c["kind"] == "training"
    } == {"error"}
    loop = {c["name"]: c for c in entries["loop"]["checks"]}
    assert loop["train_slp"]["status"] == "timeout"
    # at 10 s it has not yet fetched enough batches to be called endless
    assert {"too-slow", "never-returns"} & set(loop["train_slp"]["mistakes"])
    assert all(c["status"] == "pass" for c in loop.values() if c["kind"] == "function")

    (weights,) = entries["ref"]["submitted_weights"]
    trained = next(c for c in entries["ref"]["checks"] if c["name"] == "train_slp")
    assert weights["retrained"] == trained["accuracy"]
    assert weights["accuracy"] == pytest.approx(trained["accuracy"])
    assert not weights["flagged"]

    html = (out / "index.html").read_text()
    stopped = html[html.index("Stopped at their time limit") :]
    stopped = stopped[: stopped.index("</table>")]
    assert 'href="loop/index.html"' in stopped and "train_slp" in stopped
