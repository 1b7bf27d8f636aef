"""`pytest --hw4 my_folder/`: every check of the grader as a pytest test.

Students and TAs who already use pytest get the grader in the tool they know:
one test per function (and per trainer with --hw4-train), failing with the
same diagnosis and evidence the terminal summary and the report give, each
under a pytest-timeout limit. Registered through the `pytest11` entry point;
it does nothing unless --hw4 is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FUNCTION_SECONDS = 120.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hw4", "grade a hand-in of the NumPy network homework")
    group.addoption(
        "--hw4",
        action="store_true",
        help="collect the hand-in module in the given folders as the grader's checks",
    )
    group.addoption(
        "--hw4-train", action="store_true", help="also train the four models"
    )
    group.addoption("--hw4-data", type=Path, help="folder with the course's .mat files")
    group.addoption(
        "--hw4-train-seconds",
        type=float,
        default=600.0,
        help="time limit per trainer (default 600)",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Any:
    if not parent.config.getoption("hw4") or file_path.suffix != ".py":
        return None
    from grader.discover import UsageError, find_module

    try:
        module = find_module(file_path.parent)
    except UsageError:
        return None
    if module.resolve() != file_path.resolve():
        return None
    return HandIn.from_parent(parent, path=file_path)


class CheckNotPassedError(Exception):
    """A check whose status is not pass; carries the verdict for the report."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class HandIn(pytest.File):
    """A hand-in module: collects one item per check, shares one grading."""

    grading: Any = None

    def collect(self) -> Iterator[pytest.Item]:
        from grader.homework.spec import FUNCTIONS, TRAINERS

        config = self.config
        train = config.getoption("hw4_train")
        for spec in FUNCTIONS:
            item = Check.from_parent(self, name=spec.name)
            item.add_marker(pytest.mark.timeout(FUNCTION_SECONDS))
            yield item
        for spec in TRAINERS:
            item = Check.from_parent(self, name=spec.name)
            seconds = config.getoption("hw4_train_seconds")
            item.add_marker(pytest.mark.timeout(seconds + FUNCTION_SECONDS))
            if not train:
                item.add_marker(
                    pytest.mark.skip(reason="trainers run with --hw4-train")
                )
            yield item

    def open_grading(self) -> Any:
        """The grading, started on first use and closed with the module."""
        if self.grading is None:
            from grader import rubric
            from grader.grade import Grading, Options
            from grader.sandbox.runner import Limits

            config = self.config
            options = Options(
                rubric=rubric.load(),
                data_dir=config.getoption("hw4_data"),
                quick=not config.getoption("hw4_train"),
                limits=Limits(),
                train_seconds=config.getoption("hw4_train_seconds"),
            )
            self.grading = Grading(self.path, options)
        return self.grading

    def teardown(self) -> None:
        if self.grading is not None:
            self.grading.close()
            self.grading = None


class Check(pytest.Item):
    """One check of the grader: passes when the grader's status is pass."""

    def runtest(self) -> None:
        assert isinstance(self.parent, HandIn)
        result = self.parent.open_grading().check(self.name)
        if result.status == "skipped":
            pytest.skip(result.message)
        if result.status != "pass":
            raise CheckNotPassedError(_explain(result))

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> Any:
        if isinstance(excinfo.value, CheckNotPassedError):
            return excinfo.value.text
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"hw4 check: {self.name}"


def _explain(result: Any) -> str:
    """The same words as the terminal summary, then the first failing case."""
    lines = [f"{result.name}: {result.status} ({result.score:g}/{result.max_score:g})"]
    if result.mistakes:
        lines.append(f"mistakes: {', '.join(result.mistakes)}")
    lines += [f"hint: {hint}" for hint in result.hints]
    lines.append(result.message)
    if result.gradient is not None:
        lines.append(
            f"gradient check: {result.gradient.status}: {result.gradient.message}"
        )
    failing = [c for c in result.cases if c.status != "pass"]
    if failing:
        case = failing[0]
        lines.append(f"first failing case: {case.label} ({case.status})")
        for output in case.outputs:
            if output.mismatch is not None:
                lines.append(f"  {output.mismatch.message}")
                for index, got, want in output.mismatch.first[:3]:
                    lines.append(
                        f"    at {index}: obtained {got:.6g}, expected {want:.6g}"
                    )
    return "\n".join(lines)
