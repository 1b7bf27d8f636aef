"""The gradebook: one CSV row per student, ready for an LMS's grade import.

Columns: `Student` (the name, when the layout gives one) and `ID` (the LMS's
id for the student), named as Canvas exports and re-imports them; `Score`
(out of the rubric's total); the points earned on each function and trainer,
one column each; and `Status` (passed | not passed | no module | grader
error). A group hand-in gets one row per member. An import matches students
on `ID`; the per-check and status columns can be imported as columns of
their own or left out in the import dialog.

Every text cell comes from file or folder names a student chose, so a cell
that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) is
prefixed with a quote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from grader.batch.layouts import Person
from grader.batch.records import Graded

FIXED = ("Student", "ID", "Score")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def render(records: Sequence[Graded], check_names: Sequence[str]) -> str:
    """The CSV text (header first, rows sorted by student)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*FIXED, *check_names, "Status"])
    for record in sorted(records, key=lambda r: r.student):
        checks = record.checks()
        cells = [
            _points(checks[n]["score"]) if n in checks else "" for n in check_names
        ]
        score = "" if record.score is None else _points(record.score)
        for person in record.handin.people or (Person(),):
            name, student_id = person.name, person.student_id or record.student
            writer.writerow(
                [_text(name), _text(student_id), score, *cells, record.status]
            )
    return buffer.getvalue()


def _points(value: float) -> str:
    return f"{float(value):g}"


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value
