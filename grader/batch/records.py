"""What a batch knows about each hand-in once it is done with it.

The gradebook, the overview and the class JSON are all written from these
records, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.batch.layouts import Handin

PASSED, NOT_PASSED = "passed", "not passed"
NO_MODULE, GRADER_ERROR = "no module", "grader error"


@dataclass(frozen=True)
class Graded:
    """One hand-in's outcome in a batch.

    `result` is the single hand-in JSON result (`grader.result.to_json`), or
    None when there was nothing to grade or the grader failed on it.
    """

    handin: Handin
    status: str  # passed | not passed | no module | grader error
    result: dict[str, Any] | None = None
    weights: tuple[dict[str, Any], ...] = ()
    cached: bool = False
    message: str = ""
    notes: tuple[str, ...] = ()

    @property
    def student(self) -> str:
        return self.handin.student

    @property
    def score(self) -> float | None:
        if self.result is not None:
            return float(self.result["score"])
        return 0.0 if self.status == NO_MODULE else None

    @property
    def report(self) -> str:
        """The report page, relative to the reports folder ("" when none)."""
        return f"{self.student}/index.html" if self.result is not None else ""

    def checks(self) -> dict[str, dict[str, Any]]:
        if self.result is None:
            return {}
        return {c["name"]: c for c in self.result["checks"]}

    def to_json(self) -> dict[str, Any]:
        """The entry of the class JSON: who, where, and the result's fields."""
        people = [
            {"student_id": p.student_id, "name": p.name} for p in self.handin.people
        ]
        entry: dict[str, Any] = {
            "student": self.student,
            "student_id": people[0]["student_id"] if people else "",
            "name": people[0]["name"] if people else "",
            "people": people,
            "path": str(self.handin.path),
            "status": self.status,
            "cached": self.cached,
            "report": self.report,
            "message": self.message,
            "notes": list(self.notes),
            "submitted_weights": list(self.weights),
        }
        if self.result is not None:
            entry.update(self.result)
        else:
            entry["score"] = self.score
        return entry


def status_of(result: dict[str, Any]) -> str:
    return PASSED if result.get("passed") else NOT_PASSED
