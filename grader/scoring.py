"""Points for each check, from its status and the rubric's partial credit."""

from __future__ import annotations

from dataclasses import replace

from grader.result import CheckResult
from grader.rubric import Rubric


def score(result: CheckResult, rubric: Rubric) -> CheckResult:
    """The check with its score and maximum filled in."""
    points = rubric.points.get(result.name, 0.0)
    return replace(
        result, score=round(_earned(result, rubric, points), 2), max_score=points
    )


def _earned(result: CheckResult, rubric: Rubric, points: float) -> float:
    if result.status == "pass":
        return points
    if result.status in ("missing", "skipped"):
        return 0.0
    if result.kind == "function":
        if not result.cases:
            return 0.0
        share = result.cases_passed / len(result.cases)
        return points * rubric.partial["function_cases"] * share
    training = result.training
    if training is None or training.accuracy is None or result.status != "fail":
        return 0.0
    own = training.accuracy_own_forward
    if own is not None and own > training.target:
        return points * rubric.partial["trainer_own_forward"]
    ratio = min(1.0, training.accuracy / training.target) if training.target else 0.0
    return points * rubric.partial["trainer_below_target"] * ratio
