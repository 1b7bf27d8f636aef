"""The results of a grading, as plain frozen records the reports render."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from grader.compare import OutputCheck

STATUSES = ("pass", "fail", "missing", "error", "timeout", "skipped")


@dataclass(frozen=True)
class CaseResult:
    """One seeded call of a student function and its verdict."""

    label: str
    core: bool
    status: str  # pass | fail | error | timeout | not run
    message: str = ""
    layout: str = ""
    notes: tuple[str, ...] = ()
    mistakes: tuple[str, ...] = ()
    outputs: tuple[OutputCheck, ...] = ()
    inputs: tuple[tuple[str, np.ndarray], ...] = ()
    probe: str = ""


@dataclass(frozen=True)
class GradientCheck:
    """Finite differences of the student's own forward against their backward."""

    status: str  # pass | fail | unavailable
    message: str
    max_abs: float = 0.0
    forward: str = ""


@dataclass(frozen=True)
class Training:
    """What a trainer produced and how well its weights classify."""

    accuracy: float | None = None
    accuracy_own_forward: float | None = None
    own_forward_error: str = ""
    target: float = 0.0
    seconds: float | None = None
    limit: float = 0.0
    batches: str = ""
    confusion: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one function or trainer."""

    name: str
    kind: str  # function | training
    status: str
    message: str = ""
    mistakes: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    score: float = 0.0
    max_score: float = 0.0
    cases: tuple[CaseResult, ...] = ()
    gradient: GradientCheck | None = None
    training: Training | None = None
    cases_passed: int = 0


@dataclass(frozen=True)
class GradeResult:
    """A whole hand-in's grading."""

    submission: str
    module: str
    data: str
    checks: tuple[CheckResult, ...]
    warnings: tuple[str, ...] = ()
    output: str = ""
    output_bytes: int = 0
    quick: bool = False
    seconds: float = 0.0
    grader_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    partial: bool = False  # only some checks were run (--only)

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 2)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 2)

    @property
    def passed(self) -> bool:
        return all(c.status in ("pass", "skipped") for c in self.checks)


def to_json(result: GradeResult) -> dict[str, Any]:
    """The documented JSON form of a result (see the README)."""
    checks = []
    for check in result.checks:
        entry: dict[str, Any] = {
            "name": check.name,
            "kind": check.kind,
            "status": check.status,
            "score": round(check.score, 2),
            "max_score": check.max_score,
            "mistakes": list(check.mistakes),
            "hints": list(check.hints),
            "notes": list(check.notes),
            "message": check.message,
        }
        if check.kind == "function":
            entry["cases_passed"] = check.cases_passed
            entry["cases"] = len(check.cases)
        if check.gradient is not None:
            entry["gradient_check"] = check.gradient.status
            entry["gradient_message"] = check.gradient.message
        if check.training is not None:
            training = asdict(check.training)
            entry.update(training)
        else:
            entry["accuracy"] = None
            entry["seconds"] = None
        checks.append(entry)
    return {
        "submission": result.submission,
        "module": result.module,
        "data": result.data,
        "score": result.score,
        "max_score": result.max_score,
        "passed": result.passed,
        "quick": result.quick,
        "partial": result.partial,
        "seconds": round(result.seconds, 2),
        "grader_version": result.grader_version,
        "warnings": list(result.warnings),
        "checks": checks,
    }
