"""One unit of batch work: grade one staged hand-in, in whatever process runs it.

`grade_one` takes and returns plain JSON data, so that any executor can run
it: a local worker process (`runner`), a dask worker (`dask_runner`), or the
Gradescope entry point. It grades the module exactly as `grade PATH` would,
then evaluates any submitted weights, and renders the report page.
"""

from __future__ import annotations

import functools
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from grader import report, rubric
from grader.batch import weights
from grader.discover import Dataset, UsageError, load_data, load_embedded
from grader.grade import Options, grade
from grader.result import GradeResult, to_json
from grader.sandbox.runner import Limits


@dataclass(frozen=True)
class Settings:
    """How every hand-in of a batch is graded: the CLI's options, as data."""

    rubric: str | None = None
    data: str | None = None
    quick: bool = False
    train_seconds: float = 600.0
    call_seconds: float = Limits.call_seconds
    memory_bytes: int = Limits.memory_bytes
    processes: int = Limits.processes
    hide: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Settings:
        return cls(**{**data, "hide": tuple(data.get("hide", ()))})

    def verdict_options(self) -> dict[str, Any]:
        """The options that change a verdict (for the cache key)."""
        return {
            "quick": self.quick,
            "train_seconds": self.train_seconds,
            "call_seconds": self.call_seconds,
            "memory_bytes": self.memory_bytes,
            "processes": self.processes,
        }

    def options(self) -> Options:
        return Options(
            rubric=_rubric(self.rubric),
            data_dir=Path(self.data) if self.data else None,
            quick=self.quick,
            limits=Limits(
                call_seconds=self.call_seconds,
                memory_bytes=self.memory_bytes,
                processes=self.processes,
            ),
            train_seconds=self.train_seconds,
            hide=tuple(Path(p) for p in self.hide),
        )


@functools.lru_cache(maxsize=4)
def _rubric(path: str | None) -> rubric.Rubric:
    return rubric.load(Path(path) if path else None)


@functools.lru_cache(maxsize=2)
def _data(data_dir: str | None) -> Dataset:
    # what grade() loads for a staged module, whose folder holds no data
    # files: --data, else the embedded set; the same for the whole batch
    if data_dir is None:
        return load_embedded()
    return load_data(Path(data_dir), Path(data_dir))


def job(
    student: str,
    module: Path,
    shown: Path,
    submitted: tuple[tuple[str, Path], ...],
    settings: Settings,
) -> dict[str, Any]:
    """The JSON description of one grading, as executors pass it on."""
    return {
        "student": student,
        "module": str(module),
        "shown": str(shown),
        "weights": [[name, str(path)] for name, path in submitted],
        "settings": settings.to_json(),
    }


def grade_one(task: dict[str, Any]) -> dict[str, Any]:
    """Grade one hand-in: {"result", "html", "weights", "seconds"} or {"error"}.

    A failure of the grader itself is returned as data (the batch goes on);
    an interruption (KeyboardInterrupt) is not caught.
    """
    started = time.monotonic()
    try:
        settings = Settings.from_json(task["settings"])
        options = settings.options()
        module = Path(task["module"])
        result = grade(module, options)
        result = replace(result, submission=task["shown"])
        submitted = tuple((n, Path(p)) for n, p in task.get("weights", []))
        found: list[weights.SubmittedWeights] = []
        if submitted:
            data = _data(settings.data)
            found = weights.evaluate(submitted, result, module, data, options)
            result = _with_weights(result, found)
        return {
            "result": to_json(result),
            "html": report.render(result),
            "weights": [w.to_json() for w in found],
            "seconds": time.monotonic() - started,
        }
    except UsageError as err:
        return {"error": str(err), "seconds": time.monotonic() - started}
    except Exception:
        return {
            "error": "internal error of the grader, please report it:\n"
            + traceback.format_exc(),
            "seconds": time.monotonic() - started,
        }


def _with_weights(
    result: GradeResult, found: list[weights.SubmittedWeights]
) -> GradeResult:
    """The result, its warnings saying what the submitted weights showed."""
    lines = tuple(f"submitted weights: {w.message}" for w in found)
    return replace(result, warnings=result.warnings + lines)
