"""What the `grade` command prints: progress while it works, then a summary."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from grader.result import GradeResult

_COLOURS = {
    "pass": "32",
    "fail": "31",
    "error": "31",
    "timeout": "33",
    "missing": "33",
    "skipped": "90",
}


def _colour(text: str, status: str, enabled: bool) -> str:
    code = _COLOURS.get(status)
    return f"\033[{code}m{text}\033[0m" if enabled and code else text


def use_colour(stream: object = sys.stdout) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ


def progress_printer() -> Callable[[str], None]:
    """Progress lines on stderr, only when it is a terminal."""
    if not use_colour(sys.stderr):
        return lambda message: None

    def show(message: str) -> None:
        sys.stderr.write(f"\r\033[K{message}")
        sys.stderr.flush()

    return show


def summary(result: GradeResult, report: Path) -> str:
    colour = use_colour()
    if colour:
        sys.stderr.write("\r\033[K")
    lines = [
        f"{Path(result.module).name}: {result.score:g} / {result.max_score:g} points"
    ]
    for check in result.checks:
        status = _colour(f"{check.status:8s}", check.status, colour)
        points = f"{check.score:5.2f}/{check.max_score:<4g}"
        detail = check.message
        if check.mistakes:
            detail = f"[{', '.join(check.mistakes)}] {detail}"
        lines.append(f"  {check.name:28s} {status} {points} {detail[:110]}")
    for warning in result.warnings:
        lines.append(f"  warning: {warning}")
    if result.quick:
        lines.append("  trainers were not run (--quick)")
    lines.append(f"report: {report}")
    return "\n".join(lines)
