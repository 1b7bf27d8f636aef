"""The batch's progress line: done / total, failures, time left.

On a terminal one line is rewritten in place. Into a log (stderr not a
terminal) a line is written only every `interval` seconds and at the end, so
a batch of 500 hand-ins adds a few dozen lines, not thousands.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Progress:
    """Counts finished hand-ins and says where the batch stands."""

    def __init__(
        self,
        total: int,
        done: int,
        cached: int,
        write: Callable[[str], None],
        terminal: bool,
        interval: float = 30.0,
    ) -> None:
        self.total = total
        self.done = done  # before this run's gradings: cached, or no module
        self.before = done
        self.cached = cached
        self.failures = 0
        self.write = write
        self.terminal = terminal
        self.interval = interval
        self.started = time.monotonic()
        self.shown = 0.0

    def finished(self, failed: bool) -> None:
        self.done += 1
        self.failures += failed
        self.show()

    def line(self) -> str:
        parts = [f"graded {self.done}/{self.total}"]
        if self.cached:
            parts.append(f"{self.cached} from the cache")
        if self.failures:
            parts.append(f"{self.failures} failed to grade")
        left = self.seconds_left()
        if left is not None and self.done < self.total:
            parts.append(f"about {_duration(left)} left")
        return ", ".join(parts)

    def seconds_left(self) -> float | None:
        """Remaining hand-ins at the pace of those graded so far this run."""
        graded = self.done - self.before
        if graded <= 0:
            return None
        pace = (time.monotonic() - self.started) / graded
        return pace * (self.total - self.done)

    def show(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.terminal:
            if force or now - self.shown >= 0.2:
                self.write(f"\r\033[K{self.line()}")
                self.shown = now
            return
        if force or now - self.shown >= self.interval or self.done == self.total:
            self.write(self.line() + "\n")
            self.shown = now

    def close(self) -> None:
        """End the line (a terminal's line is left for the summary to replace)."""
        if self.terminal:
            self.write("\r\033[K")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
