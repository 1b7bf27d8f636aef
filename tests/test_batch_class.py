"""A class of 30 hand-ins in each layout, graded as a batch, against the
verdicts `grade` gives each hand-in alone (functions only, no training)."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from classes import (
    CRASH,
    HANG,
    OPTIONS,
    build_folders,
    build_gradescope,
    build_lms,
    grade,
    points,
    roster,
    single_verdicts,
    statuses,
)

SIZE = 30
LAYOUTS: dict[str, Callable[[Path, Any, Path], dict[str, str]]] = {
    "folders": build_folders,
    "lms": build_lms,
    "gradescope": build_gradescope,
}
LAYOUT_WORDS = {
    "folders": "a folder per student",
    "lms": "an LMS export",
    "gradescope": "a Gradescope export",
}


@pytest.fixture(scope="module")
def verdicts(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    cases = {s.case for s in roster(SIZE)} | {"syntax-error"}
    return single_verdicts(shared_dir, cases, tmp_path_factory.mktemp("single"))


def _section(html: str, title: str) -> str:
    start = html.index(f"<h2>{title}</h2>")
    end = html.find("<h2>", start + 1)
    return html[start:end]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_class_matches_single_verdicts(
    layout: str, verdicts: Any, shared_dir: Path, tmp_path: Path
) -> None:
    students = roster(SIZE)
    root = tmp_path / "class"
    root.mkdir()
    expected = LAYOUTS[layout](root, students, shared_dir)
    out, class_json = tmp_path / "reports", tmp_path / "class.json"

    run = grade(root, *OPTIONS, "--jobs", "4", "--out", out, "--json", class_json)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert LAYOUT_WORDS[layout] in run.stdout
    payload = json.loads(class_json.read_text())
    submissions = payload["submissions"]
    groups = 1 if layout == "gradescope" else 0
    assert len(submissions) == SIZE - groups
    for entry in submissions:
        single = verdicts[expected[entry["student_id"]]]
        who = f"{entry['student']} ({expected[entry['student_id']]})"
        assert statuses(entry) == statuses(single), who
        assert entry["score"] == single["score"], who
        assert entry["status"] == ("passed" if single["passed"] else "not passed")
        assert entry["cached"] is False
        assert (out / entry["student"] / "index.html").is_file()
        assert Path(entry["path"]).is_relative_to(root)

    rows = list(csv.DictReader((out / "gradebook.csv").open(newline="")))
    assert len(rows) == SIZE  # the group's two members have a row each
    assert sorted(r["ID"] for r in rows) == sorted(s.student_id for s in students)
    for row in rows:
        single = verdicts[expected[row["ID"]]]
        assert float(row["Score"]) == single["score"], row["ID"]
        for name, score in points(single).items():
            assert float(row[name]) == score, (row["ID"], name)
        assert row["Status"] == ("passed" if single["passed"] else "not passed")

    by_id = {e["student_id"]: e for e in submissions}
    hang, crash = by_id[students[0].student_id], by_id[students[1].student_id]
    assert students[0].case == HANG and students[1].case == CRASH
    assert statuses(hang)["relu"] == "timeout"
    fc = next(c for c in crash["checks"] if c["name"] == "fc")
    assert fc["status"] == "error" and "process-exit" in fc["mistakes"]
    assert "exited" in fc["message"]

    html = (out / "index.html").read_text()
    for entry in submissions:
        assert f'href="{entry["student"]}/index.html"' in html
    stopped = _section(html, "Stopped at their time limit")
    assert hang["student"] in stopped and "relu" in stopped
    mistakes = _section(html, "Most frequent diagnosed mistakes")
    assert "row-major-flattening" in mistakes
    flattening = [
        e["student"]
        for e in submissions
        if "row-major-flattening" in {m for c in e["checks"] for m in c["mistakes"]}
    ]
    assert flattening and all(s in mistakes for s in flattening)
    assert re.search(r"<dt>Passed every check</dt><dd>\d+</dd>", html)


def test_names_from_each_layout(shared_dir: Path, tmp_path: Path) -> None:
    """Who each hand-in belongs to, as each layout tells it (no grading)."""
    from grader.batch import layouts

    students = roster(12)
    found = {}
    for layout, build in LAYOUTS.items():
        root = tmp_path / layout
        root.mkdir()
        build(root, students, shared_dir)
        roster_ = layouts.recognise(root)
        assert roster_ is not None and roster_.layout == layout
        found[layout] = {
            p.student_id: p.name for h in roster_.handins for p in h.people
        }
    assert set(found["lms"]) == {s.student_id for s in students}
    assert found["lms"]["1000"] == students[0].name
    assert found["folders"]["1003"] == f"{students[3].name} Jane"
    assert found["folders"]["1000"] == ""  # a bare folder name is an id only
    assert found["gradescope"]["1000"] == f"O'{students[0].name}"
    assert set(found["gradescope"]) == {s.student_id for s in students}
