"""A local worker process of a batch: `python -m grader.batch.worker PARENT`.

It reads one job per line (JSON) on stdin, grades it with `work.grade_one`
and writes the outcome as one JSON line on the descriptor that was stdout;
stdout itself is pointed at stderr, so nothing printed by accident can
corrupt an answer. It stops at the end of its input.

It must never outlive the batch, nor leave a sandboxed child running. On
SIGTERM (sent by the batch on an interruption, or by the kernel when the
batch process dies) it first kills its own children, the sandboxes' children
among them (by process group, and by user id where each has one of its own),
then raises KeyboardInterrupt so the grading under way unwinds and cleans
up. Should that exception be lost (Python drops one raised inside a fork
hook), a watchdog kills the children again and ends the process.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import threading
import time
import warnings
from types import FrameType

from grader.batch.work import grade_one
from grader.sandbox import isolation

PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 5.0
_stopping = False


def _children() -> list[tuple[int, int]]:
    """(pid, user id) of each process this one started and that still runs."""
    me, found = os.getpid(), []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/status") as status:
                    fields = dict(line.split(":", 1) for line in status if ":" in line)
                if int(fields["PPid"]) == me:
                    found.append((int(entry), int(fields["Uid"].split()[0])))
            except (OSError, KeyError, ValueError):
                continue
    return found


def _stop_children() -> None:
    for pid, uid in _children():
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)  # a sandbox child leads its group
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        if uid != os.geteuid():
            isolation.kill_user(uid)


def _last_resort() -> None:
    time.sleep(GRACE_SECONDS)
    _stop_children()
    os._exit(130)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    global _stopping
    _stop_children()
    if _stopping:
        return
    _stopping = True
    threading.Thread(target=_last_resort, daemon=True).start()
    _raise_when_safe(frame)


def _raise_when_safe(frame: FrameType | None) -> None:
    # logging's after-fork hook runs in Python: an exception raised there is
    # printed and dropped, so try again a moment later, outside it
    if frame is not None and frame.f_code.co_filename == logging.__file__:
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        return
    raise KeyboardInterrupt


def _die_with_parent(parent: int) -> None:
    """SIGTERM this process when the batch that started it dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before prctl took effect
        raise KeyboardInterrupt


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="grade: %(message)s")
    # NumPy's warnings from the grader's own diagnosis (a known-mistake
    # variant that overflows on a student's input) would repeat for every
    # hand-in of a batch; the verdicts do not depend on them
    warnings.simplefilter("ignore", RuntimeWarning)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGALRM, lambda signum, frame: _raise_when_safe(frame))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the batch decides
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    try:
        _die_with_parent(int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid())
        for line in sys.stdin:
            outcome = grade_one(json.loads(line))
            answers.write(json.dumps(outcome) + "\n")
            answers.flush()
    except (KeyboardInterrupt, BrokenPipeError):
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
