"""The HTML report of one grading: a single self-contained page.

The layout lives in `templates/report.html.j2`, rendered with autoescaping on:
everything a hand-in can influence (messages, notes, printed output, file
names) is data, never markup. This module only turns a GradeResult into plain
dicts and strings, with numbers formatted for people.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined

from grader.compare import Mismatch, OutputCheck
from grader.result import CaseResult, CheckResult, GradeResult, Training
from grader.terminal import diagnosis, fix_first

SMALL = 30  # arrays with at most this many entries are shown whole
FIRST = 8  # entries shown of a larger array
ONE_LINE = 160  # characters of a message in the summary table
PASSING = ("pass", "skipped")

_ENV = Environment(
    loader=PackageLoader("grader", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(result: GradeResult) -> str:
    """The report page for one graded hand-in."""
    failing = [c for c in result.checks if c.status not in PASSING]
    first = fix_first(result)
    noted = [c for c in result.checks if c.status == "pass" and (c.notes or c.mistakes)]
    return _ENV.get_template("report.html.j2").render(
        result=result,
        module=Path(result.module).name,
        score=number(result.score, 4),
        max_score=number(result.max_score, 4),
        data=_data_text(result),
        seconds=duration(result.seconds),
        output_bytes=f"{result.output_bytes:,}",
        fix_first=first,
        fix_message=one_line(diagnosis(first)) if first is not None else "",
        rows=[_row(c) for c in result.checks],
        sections=_sections(failing),
        noted=noted,
    )


# -- numbers ------------------------------------------------------------------


def number(value: float, digits: int = 6) -> str:
    """A number for people: whole numbers plainly, others to `digits` figures."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e12:
        return str(int(value))
    return f"{value:.{digits}g}"


def percent(value: float) -> str:
    """0.9365 -> "93.65%", 0.92 -> "92%"."""
    text = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def one_line(text: str, limit: int = ONE_LINE) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- arrays -------------------------------------------------------------------


def array_view(array: np.ndarray) -> dict[str, Any]:
    """Small arrays whole (2-D slices for images), else shape + first entries."""
    values = np.asarray(array, dtype=np.float64)
    view: dict[str, Any] = {"shape": str(values.shape), "size": int(values.size)}
    if values.size > SMALL:
        first = ", ".join(number(v) for v in values.reshape(-1)[:FIRST])
        view.update(whole=False, text=f"{first}, …")
    else:
        view.update(whole=True, text=_grid(values))
    return view


def _grid(values: np.ndarray) -> str:
    if values.ndim == 0:
        return number(float(values))
    if sum(d > 1 for d in values.shape) <= 1:
        return "[" + "  ".join(number(v) for v in values.reshape(-1)) + "]"
    if values.ndim == 2:
        return _matrix(values)
    blocks = []
    for index in np.ndindex(values.shape[2:]):
        label = ", ".join([":", ":", *(str(i) for i in index)])
        blocks.append(
            f"[{label}]\n{_matrix(values[(slice(None), slice(None), *index)])}"
        )
    return "\n".join(blocks)


def _matrix(values: np.ndarray) -> str:
    cells = [[number(v) for v in row] for row in values]
    width = max(len(c) for row in cells for c in row)
    return "\n".join("  ".join(c.rjust(width) for c in row) for row in cells)


def _mismatch(mismatch: Mismatch) -> dict[str, Any]:
    return {
        "message": mismatch.message,
        "values": mismatch.total > 0,
        "count": mismatch.count,
        "total": mismatch.total,
        "max_abs": number(mismatch.max_abs, 3),
        "max_rel": (
            number(mismatch.max_rel, 3)
            if mismatch.max_rel > 0
            else "none (every differing entry should be 0)"
        ),
        "first": [
            {
                "index": str(list(index)) if index else "(the value)",
                "obtained": number(o),
                "expected": number(e),
            }
            for index, o, e in mismatch.first
        ],
    }


def _output(output: OutputCheck) -> dict[str, Any]:
    # A known-mistake match records the answer re-read in the spec's layout,
    # which equals the expected value: showing it as "obtained" would mislead.
    known = bool(output.mistake) and output.mismatch is None
    obtained = None if known or output.obtained is None else array_view(output.obtained)
    return {
        "name": output.name,
        "mistake": output.mistake,
        "note": output.note,
        "mismatch": _mismatch(output.mismatch) if output.mismatch else None,
        "expected": None if output.expected is None else array_view(output.expected),
        "obtained": obtained,
    }


def _case(case: CaseResult) -> dict[str, Any]:
    return {
        "label": case.label,
        "core": case.core,
        "status": case.status,
        "message": case.message,
        "layout": case.layout,
        "notes": case.notes,
        "inputs": [(name, array_view(a)) for name, a in case.inputs],
        "outputs": [_output(o) for o in case.outputs if not o.ok],
    }


# -- checks -------------------------------------------------------------------


def _row(check: CheckResult) -> dict[str, Any]:
    return {
        "check": check,
        "score": number(check.score, 4),
        "max_score": number(check.max_score, 4),
        "message": one_line(check.message),
        "section": check.status not in PASSING,
    }


def _training(training: Training) -> dict[str, Any]:
    accuracy, own = training.accuracy, training.accuracy_own_forward
    return {
        "accuracy": None if accuracy is None else percent(accuracy),
        "beats": accuracy is not None and accuracy > training.target,
        "target": percent(training.target),
        "own": None if own is None else percent(own),
        "own_beats": own is not None and own > training.target,
        "own_error": training.own_forward_error,
        "seconds": None if training.seconds is None else duration(training.seconds),
        "limit": duration(training.limit),
        "batches": training.batches,
        "confusion": confusion_view(training.confusion),
    }


def confusion_view(counts: tuple[tuple[int, ...], ...]) -> dict[str, Any] | None:
    """Rows predicted, columns true, each column normalised; cells shaded."""
    if not counts:
        return None
    matrix = np.asarray(counts, dtype=np.float64)
    totals = matrix.sum(axis=0)
    share = matrix / np.maximum(totals, 1.0)
    rows = [
        [_cell(float(share[p, t]), p == t) for t in range(matrix.shape[1])]
        for p in range(matrix.shape[0])
    ]
    return {"rows": rows, "totals": [int(t) for t in totals]}


def _cell(share: float, diagonal: bool) -> dict[str, str]:
    # The square root keeps a few confusions visible next to a full diagonal.
    if share == 0:
        return {"text": "", "style": "background: #f3f3ef"}
    alpha = math.sqrt(share)
    hue = "25, 125, 65" if diagonal else "200, 45, 45"
    ink = "#fff" if alpha > 0.6 else "#222"
    text = "<1" if share < 0.005 else f"{share * 100:.0f}"
    return {
        "text": text,
        "style": f"background: rgba({hue}, {alpha:.2f}); color: {ink}",
    }


def gradient_advice(check: CheckResult, not_passing: set[str]) -> str:
    """What the finite-difference check says about where the fault lies."""
    if check.gradient is None or not check.gradient.forward:
        return ""
    own = check.gradient.forward
    forward = "loss value" if own == check.name else own
    if check.gradient.status == "fail":
        return (
            f"The gradient check fails too: {check.name} does not match even your "
            f"own {forward}, so the gradient computation itself is wrong."
        )
    if check.gradient.status == "pass" and own in not_passing - {check.name}:
        return (
            f"The gradient check passes: {check.name} is consistent with your own "
            f"{forward}, which fails its checks. Fix {forward} first; this one may "
            "then follow."
        )
    return ""


def _section(group: list[CheckResult], not_passing: set[str]) -> dict[str, Any]:
    check = group[0]
    failing = [c for c in check.cases if c.status != "pass"]
    retried = [c for c in check.cases if c.status == "pass" and c.layout]
    return {
        "check": check,
        "names": [c.name for c in group],
        "score": number(sum(c.score for c in group), 4),
        "max_score": number(sum(c.max_score for c in group), 4),
        "cases": [_case(c) for c in failing],
        "passed": len(check.cases) - len(failing),
        "retried": [(c.label, c.layout) for c in retried],
        "training": None if check.training is None else _training(check.training),
        "advice": gradient_advice(check, not_passing),
    }


def _sections(failing: list[CheckResult]) -> list[dict[str, Any]]:
    """One section per check, except that checks with nothing to show but the
    same message (a syntax error fails every check alike) share one."""
    groups: list[list[CheckResult]] = []
    for check in failing:
        last = groups[-1][0] if groups else None
        if last and _bare(check) and _bare(last) and _verdict(check) == _verdict(last):
            groups[-1].append(check)
            continue
        groups.append([check])
    not_passing = {c.name for c in failing}
    return [_section(group, not_passing) for group in groups]


def _bare(check: CheckResult) -> bool:
    return not check.cases and check.gradient is None and check.training is None


def _verdict(check: CheckResult) -> tuple[object, ...]:
    return (check.status, check.message, check.mistakes, check.hints, check.notes)


def _data_text(result: GradeResult) -> str:
    if result.extra.get("embedded_data"):
        return (
            "the grader's embedded default digits (not the course's data files); "
            "trainer targets on it are calibrated from the reference solution"
        )
    if result.quick:
        return "none needed: trainers were not run (--quick)"
    return result.data
