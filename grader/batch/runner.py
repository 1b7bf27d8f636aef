"""Running a batch's gradings in parallel on this machine.

`LocalExecutor` keeps up to N worker processes (`worker.py`), each grading
one hand-in at a time in sandboxes of its own, and hands each the next job
when it answers. A worker that dies takes down only the hand-in it was
grading (reported as a failure of the grader) and is replaced. On an
interruption every worker is told to stop (SIGTERM, then SIGKILL after a
grace period) before the interruption goes on up, so no sandboxed child is
left running.

Every executor offers `run(jobs, done, tick)`: `done(index, outcome)` is
called in the calling thread as each job finishes, `tick()` now and then
while waiting.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

import grader

Done = Callable[[int, dict[str, Any]], None]
Tick = Callable[[], None]
TICK_SECONDS = 1.0
STOP_SECONDS = 20.0
# The grader's own numerical work is small: one thread each keeps N workers
# on N cores from oversubscribing them (the sandbox sets the same for its
# children).
_THREADS = {
    v: "1" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
}


class Executor(Protocol):
    def run(self, jobs: list[dict[str, Any]], done: Done, tick: Tick) -> None: ...


class _Worker:
    """One worker process and the job it is grading."""

    def __init__(self, answers: queue.Queue[tuple[_Worker, str | None]]) -> None:
        env = {**os.environ, **_THREADS}
        package_root = str(Path(grader.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.batch.worker", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            # -m puts the working folder first on sys.path: the grader's own,
            # never a class folder where a hand-in could shadow `grader`
            cwd=package_root,
            text=True,
            encoding="utf-8",
            start_new_session=True,  # Ctrl-C reaches the batch, which stops us
        )
        self.job: int | None = None
        threading.Thread(target=self._read, args=(answers,), daemon=True).start()

    def _read(self, answers: queue.Queue[tuple[_Worker, str | None]]) -> None:
        stdout: IO[str] | None = self.proc.stdout
        assert stdout is not None
        for line in stdout:
            answers.put((self, line))
        answers.put((self, None))

    def give(self, index: int, job: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.job = index
        # a worker that died already fails this job when its output ends
        with contextlib.suppress(OSError):
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()

    def finish(self) -> None:
        """No more work: close its input so it ends by itself."""
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()


class LocalExecutor:
    """Up to `workers` hand-ins graded at once by local worker processes."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)

    def run(self, jobs: list[dict[str, Any]], done: Done, tick: Tick) -> None:
        answers: queue.Queue[tuple[_Worker, str | None]] = queue.Queue()
        pending = deque(enumerate(jobs))
        workers: list[_Worker] = []
        try:
            for _ in range(min(self.workers, len(jobs))):
                worker = _Worker(answers)
                workers.append(worker)
                worker.give(*pending.popleft())
            while any(w.job is not None for w in workers):
                try:
                    worker, line = answers.get(timeout=TICK_SECONDS)
                except queue.Empty:
                    tick()
                    continue
                if line is None:
                    workers.remove(worker)
                    if worker.job is not None:
                        done(worker.job, _died(worker))
                    if pending:
                        worker = _Worker(answers)
                        workers.append(worker)
                        worker.give(*pending.popleft())
                    continue
                assert worker.job is not None
                index, worker.job = worker.job, None
                done(index, _outcome(line))
                if pending:
                    worker.give(*pending.popleft())
                else:
                    worker.finish()
            for worker in workers:
                worker.finish()
                worker.proc.wait()
        except BaseException:
            _stop(workers)
            raise


def _outcome(line: str) -> dict[str, Any]:
    try:
        outcome = json.loads(line)
    except ValueError:
        return {"error": "the grader's worker sent an unreadable answer"}
    return outcome if isinstance(outcome, dict) else {"error": "unreadable answer"}


def _died(worker: _Worker) -> dict[str, Any]:
    status = worker.proc.wait()
    return {
        "error": f"the grader's worker process died (exit status {status}) "
        "while grading this hand-in"
    }


def _stop(workers: list[_Worker]) -> None:
    """SIGTERM every worker, wait for them to clean up, then SIGKILL."""
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            worker.proc.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for worker in workers:
        try:
            worker.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait()
