"""What the `grade` command prints: progress while it works, then a summary."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from grader.result import CheckResult, GradeResult

_COLOURS = {
    "pass": "32",
    "fail": "31",
    "error": "31",
    "timeout": "33",
    "missing": "33",
    "skipped": "90",
}


# Set when the summary is printed: the progress line stops redrawing.
_DONE = threading.Event()


def _colour(text: str, status: str, enabled: bool) -> str:
    code = _COLOURS.get(status)
    return f"\033[{code}m{text}\033[0m" if enabled and code else text


def use_colour(stream: object = sys.stdout) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set."""
    isatty = getattr(stream, "isatty", None)
    return (
        bool(isatty and isatty())
        and "NO_COLOR" not in os.environ
        and (os.environ.get("TERM") != "dumb")
    )


def progress_printer() -> Callable[[str], None]:
    """One progress line on stderr, rewritten in place, only on a terminal.

    The line is redrawn every second with the time spent on the current step
    (a trainer shows its elapsed time against its limit). A log (not a
    terminal) gets nothing: such lines would flood it.
    """
    if not use_colour(sys.stderr):
        return lambda message: None
    state = {"message": "", "since": time.monotonic()}
    lock = threading.Lock()

    def draw() -> None:
        with lock:
            elapsed = time.monotonic() - state["since"]  # type: ignore[operator]
            sys.stderr.write(f"\r\033[K{state['message']}: {elapsed:.0f} s")
            sys.stderr.flush()

    def tick() -> None:
        while not _DONE.wait(1.0):
            if state["message"]:
                draw()

    threading.Thread(target=tick, daemon=True).start()

    def show(message: str) -> None:
        with lock:
            state["message"], state["since"] = message, time.monotonic()
        draw()

    return show


def diagnosis(check: CheckResult) -> str:
    """The check in words: its hint when a mistake is known, else its message."""
    if check.status == "pass":
        return (
            f"{check.message}; note: {check.notes[0]}" if check.notes else check.message
        )
    if check.hints and check.status != "missing":
        named = ", ".join(check.mistakes)
        return f"{named}: {check.hints[0]}"
    return check.message


def fix_first(result: GradeResult) -> CheckResult | None:
    """The earliest check in pipeline order that is wrong (later ones depend
    on it); only when nothing written is wrong, the earliest unfinished one."""
    for wanted in (("fail", "error", "timeout"), ("missing",)):
        found = next((c for c in result.checks if c.status in wanted), None)
        if found is not None:
            return found
    return None


def summary(result: GradeResult, report: Path) -> str:
    colour = use_colour()
    _DONE.set()
    if use_colour(sys.stderr):
        sys.stderr.write("\r\033[K")
    width = max(60, shutil.get_terminal_size((100, 20)).columns) if colour else 120
    lines = [
        f"{Path(result.module).name}: {result.score:g} / {result.max_score:g} points"
    ]
    for check in result.checks:
        status = _colour(f"{check.status:8s}", check.status, colour)
        points = f"{check.score:5.2f}/{check.max_score:<4g}"
        head = f"  {check.name:28s} {status} {points} "
        room = max(20, width - len(head) + (len(status) - 8))
        text = diagnosis(check)
        lines.append(head + (text if len(text) <= room else text[: room - 1] + "…"))
    for warning in result.warnings:
        lines.append(f"  warning: {warning}")
    if result.quick:
        lines.append("  trainers were not run (--quick); run without it to train them")
    first = fix_first(result)
    if first is not None:
        lines.append(f"fix first: {first.name} ({first.status}): {diagnosis(first)}")
    if result.partial:
        lines.append("only the checks named with --only were run; the score is theirs")
    lines.append(f"report: {report}")
    return "\n".join(lines)
