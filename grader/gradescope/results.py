"""Gradescope's `results.json`: the grading as tests with scores and visibility.

Per Gradescope's autograder specification: top-level `score`,
`execution_time`, `output` and `tests`, each test with `name`, `score`,
`max_score`, `status` (passed | failed), `output` and `visibility` (hidden |
after_due_date | after_published | visible). One test per function and
trainer, with the grader's diagnosis as its output; checks the instructor
keeps to themselves (submitted weights, and any check named at packaging)
are `after_published`: students see them once grades are released.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
STATUSES = ("passed", "failed")
INSTRUCTOR_ONLY = "after_published"
_REQUIRED_TEST = {
    "name": str,
    "score": (int, float),
    "max_score": (int, float),
    "status": str,
    "output": str,
    "visibility": str,
}


def from_result(
    result: dict[str, Any],
    weights: Sequence[dict[str, Any]],
    seconds: float,
    instructor_only: Iterable[str] = (),
) -> dict[str, Any]:
    """results.json for one graded submission (`result`: `to_json`'s form)."""
    hidden = set(instructor_only)
    tests = [_check_test(c, hidden) for c in result["checks"]]
    tests += [_weights_test(w) for w in weights]
    others = [w for w in result["warnings"] if not w.startswith("submitted weights:")]
    if others:
        tests.append(
            _test("grader warnings", 0.0, 0.0, "passed", "\n".join(others), "visible")
        )
    for number, test in enumerate(tests, start=1):
        test["number"] = str(number)
    score = round(sum(t["score"] for t in tests), 2)
    return {
        "score": score,
        "execution_time": max(1, round(seconds)),
        "output": _summary(result, score),
        "output_format": "text",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "grader_version": result["grader_version"],
            "quick": result["quick"],
            "module": result["module"].rsplit("/", 1)[-1],
        },
    }


def failure(message: str, seconds: float) -> dict[str, Any]:
    """results.json when nothing could be graded: zero, and why."""
    return {
        "score": 0.0,
        "execution_time": max(1, round(seconds)),
        "output": message,
        "output_format": "text",
        "stdout_visibility": "hidden",
        "tests": [],
    }


def _test(
    name: str, score: float, max_score: float, status: str, output: str, visibility: str
) -> dict[str, Any]:
    return {
        "name": name,
        "name_format": "text",
        "score": score,
        "max_score": max_score,
        "status": status,
        "output": output,
        "output_format": "text",
        "visibility": visibility,
    }


def _check_test(check: dict[str, Any], hidden: set[str]) -> dict[str, Any]:
    lines = [f"{check['status']}: {check['message']}"]
    if check["mistakes"]:
        lines.append("mistakes: " + ", ".join(check["mistakes"]))
    lines += [f"hint: {h}" for h in check["hints"]]
    lines += [f"note: {n}" for n in check["notes"]]
    if check.get("gradient_message"):
        lines.append(f"gradient check: {check['gradient_message']}")
    return _test(
        check["name"],
        float(check["score"]),
        float(check["max_score"]),
        "passed" if check["status"] == "pass" else "failed",
        "\n".join(lines),
        INSTRUCTOR_ONLY if check["name"] in hidden else "visible",
    )


def _weights_test(entry: dict[str, Any]) -> dict[str, Any]:
    failed = entry["flagged"] or entry["problem"]
    return _test(
        f"submitted weights: {entry['file']}",
        0.0,
        0.0,
        "failed" if failed else "passed",
        entry["message"],
        INSTRUCTOR_ONLY,
    )


def _summary(result: dict[str, Any], score: float) -> str:
    failing = [
        c["name"] for c in result["checks"] if c["status"] not in ("pass", "skipped")
    ]
    text = f"Score {score:g} / {result['max_score']:g}."
    if failing:
        text += f" Not passing: {', '.join(failing)}; fix {failing[0]} first."
    else:
        text += " Every check that was run passes."
    if result["quick"]:
        text += " The trainers were not run by this autograder."
    return text


def validate(payload: object) -> list[str]:
    """What in `payload` breaks the results.json specification ([] if nothing)."""
    if not isinstance(payload, dict):
        return ["results.json is not a JSON object"]
    problems = []
    for key, kind in (
        ("score", (int, float)),
        ("execution_time", (int, float)),
        ("output", str),
        ("tests", list),
    ):
        if not isinstance(payload.get(key), kind) or isinstance(payload.get(key), bool):
            problems.append(f"{key}: missing or not a {_kind_name(kind)}")
    for index, test in enumerate(payload.get("tests") or []):
        if not isinstance(test, dict):
            problems.append(f"tests[{index}] is not an object")
            continue
        for key, kind in _REQUIRED_TEST.items():
            if not isinstance(test.get(key), kind) or isinstance(test.get(key), bool):
                problems.append(
                    f"tests[{index}].{key}: missing or not a {_kind_name(kind)}"
                )
        if test.get("status") not in STATUSES:
            problems.append(f"tests[{index}].status: {test.get('status')!r}")
        if test.get("visibility") not in VISIBILITIES:
            problems.append(f"tests[{index}].visibility: {test.get('visibility')!r}")
        score, top = test.get("score"), test.get("max_score")
        numbers = isinstance(score, int | float) and isinstance(top, int | float)
        if numbers and not 0 <= score <= top + 1e-9:
            problems.append(f"tests[{index}]: score {score} outside 0..{top}")
    tests = payload.get("tests")
    if isinstance(tests, list) and isinstance(payload.get("score"), int | float):
        total = sum(t.get("score", 0) for t in tests if isinstance(t, dict))
        if abs(total - payload["score"]) > 0.011:
            problems.append(f"score {payload['score']} is not the tests' sum {total}")
    return problems


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return "number" if isinstance(kind, tuple) else kind.__name__
