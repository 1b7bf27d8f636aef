"""The gradebook, the overview and the progress line, from made-up records."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from grader.batch import gradebook, overview, progress
from grader.batch.layouts import Handin, Person
from grader.batch.records import GRADER_ERROR, NO_MODULE, Graded, status_of

NAMES = ["fc", "relu", "train_cnn"]
INFO = overview.ClassInfo(
    "/class", "a folder per student", 15.0, "embedded", False, "default", "0.1.0"
)


def _check(name: str, status: str, score: float, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "training" if name.startswith("train") else "function",
        "status": status,
        "score": score,
        "max_score": 5.0,
        "mistakes": [],
        "hints": [],
        "notes": [],
        "message": f"{name} {status}",
        **extra,
    }


def _graded(student: str, checks: list[dict[str, Any]], **extra: Any) -> Graded:
    result = {
        "score": sum(c["score"] for c in checks),
        "max_score": 15.0,
        "passed": all(c["status"] == "pass" for c in checks),
        "checks": checks,
    }
    people = extra.pop("people", (Person(student, ""),))
    handin = Handin(student, people, Path("/class") / student, ())
    return Graded(handin, status_of(result), result, **extra)


def _records() -> list[Graded]:
    flat = ["row-major-flattening"]
    return [
        _graded(
            "ann",
            [
                _check("fc", "pass", 5),
                _check("relu", "pass", 5),
                _check("train_cnn", "pass", 5),
            ],
        ),
        _graded(
            "=cmd|' /C calc'!A0",
            [
                _check("fc", "fail", 1.5, mistakes=flat),
                _check("relu", "pass", 5),
                _check("train_cnn", "timeout", 0, limit=600.0, mistakes=["too-slow"]),
            ],
            people=(Person("7", '=HYPERLINK("x")'), Person("8", "Bo")),
        ),
        _graded(
            "<b>cy</b>",
            [
                _check("fc", "fail", 2, mistakes=flat),
                _check("relu", "error", 0),
                _check("train_cnn", "skipped", 0),
            ],
            weights=(
                {
                    "file": "cnn.mat",
                    "flagged": True,
                    "problem": "",
                    "message": "cnn.mat: 97% <i>vs</i> 10%",
                },
            ),
        ),
        Graded(
            Handin("dee", (Person("dee", ""),), Path("/class/dee"), ()),
            NO_MODULE,
            message="no Python file handed in",
        ),
        Graded(
            Handin("eve", (Person("eve", ""),), Path("/class/eve"), ()),
            GRADER_ERROR,
            message="boom",
        ),
    ]


def test_gradebook_rows_columns_and_formula_cells() -> None:
    text = gradebook.render(_records(), NAMES)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Student", "ID", "Score", *NAMES, "Status"]
    assert ["", "ann", "15", "5", "5", "5", "passed"] in rows
    # a group: one row per member; cells a spreadsheet would run are quoted
    assert ['\'=HYPERLINK("x")', "7", "6.5", "1.5", "5", "0", "not passed"] in rows
    assert ["Bo", "8", "6.5", "1.5", "5", "0", "not passed"] in rows
    assert ["", "dee", "0", "", "", "", "no module"] in rows
    assert ["", "eve", "", "", "", "", "grader error"] in rows
    assert len(rows) == 7
    assert text.endswith("\r\n")


def test_overview_sections_and_escaping() -> None:
    html = overview.render(_records(), NAMES, INFO)
    assert "<b>cy</b>" not in html and "&lt;b&gt;cy&lt;/b&gt;" in html
    assert "<i>vs</i>" not in html
    assert 'href="%3Cb%3Ecy%3C/b%3E/index.html"' in html
    mistakes = html[html.index("Most frequent diagnosed mistakes") :]
    mistakes = mistakes[: mistakes.index("</table>")]
    assert "row-major-flattening" in mistakes and ">2<" in mistakes
    stopped = html[html.index("Stopped at their time limit") :]
    stopped = stopped[: stopped.index("</table>")]
    assert "train_cnn" in stopped and "too-slow" in stopped and "600" in stopped
    assert "flagged" in html and "cnn.mat" in html
    assert "no Python file handed in" in html and "boom" in html
    # fc: 1 of 3 passed; train_cnn: skipped hand-ins are not counted
    assert "1 / 3 (33.33%)" in html and "1 / 2 (50%)" in html
    # dee (no module) scores 0; eve (grader error) has no score
    assert "Mean 5.88, median 4.25" in html


def test_progress_into_a_log_is_throttled() -> None:
    lines: list[str] = []
    bar = progress.Progress(100, 10, 10, lines.append, terminal=False, interval=3600)
    bar.show(force=True)
    for i in range(90):
        bar.finished(failed=i == 5)
    assert len(lines) == 2  # where it starts, and the end
    assert lines[-1] == "graded 100/100, 10 from the cache, 1 failed to grade\n"


def test_progress_on_a_terminal_says_time_left() -> None:
    lines: list[str] = []
    bar = progress.Progress(10, 0, 0, lines.append, terminal=True)
    bar.started -= 20.0
    bar.finished(failed=False)
    assert lines[-1].startswith("\r\033[Kgraded 1/10, about ")
    assert lines[-1].endswith(" left")
    assert 170 <= (bar.seconds_left() or 0) <= 190
