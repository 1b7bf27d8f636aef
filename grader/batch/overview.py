"""The class overview page (`index.html` of the reports folder).

What an instructor reads first: the distribution of scores, the pass rate of
each function and trainer, the mistakes the grader diagnosed most often and
who made them, the trainers (and functions) stopped at their time limit,
submitted weights that disagree with their retraining, the hand-ins that
could not be graded, and a link to every report. The layout lives in
`templates/overview.html.j2`, rendered with autoescaping: names of students
and files are data.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from grader.batch.records import GRADER_ERROR, NO_MODULE, PASSED, Graded
from grader.report import number, one_line, percent

BINS = 10
TOP_MISTAKES = 25

_ENV = Environment(
    loader=PackageLoader("grader", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class ClassInfo:
    """Facts about the batch shown in the page's header."""

    folder: str
    layout: str
    max_score: float
    data: str
    quick: bool
    rubric: str
    grader_version: str


def render(
    records: Sequence[Graded], check_names: Sequence[str], info: ClassInfo
) -> str:
    ordered = sorted(records, key=lambda r: r.student)
    graded = [r for r in ordered if r.result is not None]
    return _ENV.get_template("overview.html.j2").render(
        info=info,
        max_score=number(info.max_score, 4),
        counts=_counts(ordered),
        stats=_stats([r.score for r in ordered if r.score is not None]),
        bins=_bins(ordered, info.max_score),
        rates=[_rate(name, graded) for name in check_names],
        mistakes=_mistakes(graded),
        timeouts=_timeouts(graded),
        weights=_weights(ordered),
        problems=[r for r in ordered if r.status in (NO_MODULE, GRADER_ERROR)],
        students=[_student(r) for r in ordered],
    )


def _counts(records: Sequence[Graded]) -> dict[str, int]:
    statuses = Counter(r.status for r in records)
    return {
        "total": len(records),
        "passed": statuses[PASSED],
        "no_module": statuses[NO_MODULE],
        "errors": statuses[GRADER_ERROR],
        "cached": sum(r.cached for r in records),
    }


def _stats(scores: list[float]) -> dict[str, str] | None:
    if not scores:
        return None
    return {
        "mean": number(statistics.fmean(scores), 3),
        "median": number(statistics.median(scores), 3),
        "low": number(min(scores)),
        "high": number(max(scores)),
    }


def _bins(records: Sequence[Graded], max_score: float) -> list[dict[str, Any]]:
    """Ten score ranges of equal width; the top one includes full marks."""
    width = max_score / BINS if max_score > 0 else 1.0
    counts = [0] * BINS
    for record in records:
        if record.score is not None:
            counts[min(BINS - 1, int(record.score // width))] += 1
    tallest = max(counts) or 1
    bins = []
    for index, count in enumerate(counts):
        low, high = index * width, (index + 1) * width
        closing = "]" if index == BINS - 1 else ")"
        bins.append(
            {
                "label": f"[{number(low, 3)}, {number(high, 3)}{closing}",
                "count": count,
                "width": round(100 * count / tallest),
            }
        )
    return bins


def _rate(name: str, graded: Sequence[Graded]) -> dict[str, Any]:
    statuses = Counter(r.checks()[name]["status"] for r in graded if name in r.checks())
    counted = sum(statuses.values()) - statuses["skipped"]
    share = statuses["pass"] / counted if counted else None
    return {
        "name": name,
        "passed": statuses["pass"],
        "counted": counted,
        "share": "" if share is None else percent(share),
        "width": 0 if share is None else round(100 * share),
        "others": ", ".join(
            f"{count} {status}"
            for status, count in sorted(statuses.items())
            if status != "pass"
        ),
    }


def _mistakes(graded: Sequence[Graded]) -> list[dict[str, Any]]:
    students: dict[str, list[str]] = {}
    where: dict[str, Counter[str]] = {}
    for record in graded:
        for check in record.checks().values():
            for mistake in check["mistakes"]:
                people = students.setdefault(mistake, [])
                if record.student not in people:
                    people.append(record.student)
                where.setdefault(mistake, Counter())[check["name"]] += 1
    ranked = sorted(students, key=lambda m: (-len(students[m]), m))[:TOP_MISTAKES]
    return [
        {
            "name": mistake,
            "count": len(students[mistake]),
            "checks": ", ".join(name for name, _ in where[mistake].most_common()),
            "students": students[mistake],
        }
        for mistake in ranked
    ]


def _timeouts(graded: Sequence[Graded]) -> list[dict[str, Any]]:
    found = []
    for record in graded:
        for check in record.checks().values():
            if check["status"] == "timeout":
                found.append(
                    {
                        "student": record.student,
                        "check": check["name"],
                        "kind": check["kind"],
                        "limit": number(check.get("limit") or 0),
                        "mistakes": check["mistakes"],
                        "message": one_line(check["message"]),
                    }
                )
    return sorted(found, key=lambda t: (t["kind"] != "training", t["check"]))


def _weights(records: Sequence[Graded]) -> list[dict[str, Any]]:
    """Submitted weights that were flagged or could not be used."""
    rows = []
    for record in records:
        for entry in record.weights:
            if entry["flagged"] or entry["problem"]:
                rows.append({"student": record.student, **entry})
    return rows


def _student(record: Graded) -> dict[str, Any]:
    person = record.handin.people[0] if record.handin.people else None
    failing = [
        name
        for name, c in record.checks().items()
        if c["status"] not in ("pass", "skipped")
    ]
    return {
        "student": record.student,
        "report": record.report,
        "student_id": person.student_id if person else "",
        "name": person.name if person else "",
        "score": "" if record.score is None else number(record.score, 4),
        "status": record.status,
        "failing": failing,
        "flagged": any(w["flagged"] for w in record.weights),
        "cached": record.cached,
        "message": one_line(record.message),
    }
