"""Grade one hand-in: find it, check every function, train, score."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from grader import checks, diagnose, gradcheck, scoring, signature, source, training
from grader.discover import check_data_dir, find_module, load_data
from grader.homework import cases as homework_cases
from grader.homework.spec import (
    EMBEDDED_TARGETS,
    FUNCTIONS,
    GRADIENTS,
    TRAINERS,
    FunctionSpec,
    function,
    trainer,
)
from grader.result import CaseResult, CheckResult, GradeResult, Training
from grader.rubric import Rubric
from grader.sandbox.runner import Limits, Sandbox

VERSION = "0.1.0"
# Mistake names for a child lost during training.
FAILURE_MISTAKES = {
    "exit": ("process-exit",),
    "output-flood": ("output-flood",),
    "spawned": ("spawns-processes",),
    "memory": ("memory-hog",),
}
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """How to grade; every field has a CLI flag."""

    rubric: Rubric
    data_dir: Path | None = None
    quick: bool = False
    limits: Limits = Limits()
    train_seconds: float = 600.0
    targets: dict[str, float] | None = None
    # folders the hand-in must not see (the reports folder, other hand-ins)
    hide: tuple[Path, ...] = ()
    # run only these checks (empty: all)
    only: tuple[str, ...] = ()


def _reference() -> dict[str, Callable[..., object]]:
    from reference import cnn as reference

    return {f.name: getattr(reference, f.name) for f in FUNCTIONS}


class Grading:
    """One hand-in being graded: its module, its sandbox, the verdicts so far.

    Checks run one at a time, in any order (`check(name)`), so that a caller
    can run a few (`--only`) or report each as it comes (the pytest plugin).
    The layer functions share one sandbox; each trainer gets a fresh one.
    """

    def __init__(
        self, path: Path, options: Options, progress: Progress | None = None
    ) -> None:
        self.path = path
        self.options = options
        self.progress = progress
        self.started = time.monotonic()
        self.module = find_module(path)
        self.info = source.inspect_source(self.module)
        if options.data_dir is not None:
            check_data_dir(options.data_dir)
        self.data = None if options.quick else load_data(options.data_dir, self.module)
        self.results: dict[str, CheckResult] = {}
        self.warnings: list[str] = []
        if self.data is not None and self.data.warning:
            self.warnings.append(self.data.warning)
        self.output = ""
        self.output_bytes = 0
        self._sandbox: Sandbox | None = None
        self._hello: dict[str, object] | None = None
        self._adapters: dict[str, signature.Adapter] = {}

    def __enter__(self) -> Grading:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def names(self) -> list[str]:
        """The checks to run, in pipeline order (all, or those of --only)."""
        every = [f.name for f in FUNCTIONS] + [t.name for t in TRAINERS]
        return [n for n in every if not self.options.only or n in self.options.only]

    def check(self, name: str) -> CheckResult:
        """Run one check (once) and return its scored verdict."""
        if name not in self.results:
            result = self._run(name)
            self.results[name] = scoring.score(_with_hints(result), self.options.rubric)
        return self.results[name]

    def close(self) -> None:
        if self._sandbox is not None:
            # what the module printed at import and in the unit checks first
            self.output = self._sandbox.output.text() + self.output
            self.output_bytes += self._sandbox.output.total
            self._sandbox.shutdown()
            self._sandbox = None

    def result(self) -> GradeResult:
        """The whole grading, for the checks of names() that have run."""
        self.close()
        checks_run = tuple(self.results[n] for n in self.names() if n in self.results)
        data = self.data
        return GradeResult(
            submission=str(self.path),
            module=str(self.module),
            data="not loaded (--quick)" if data is None else data.source,
            checks=checks_run,
            warnings=tuple(dict.fromkeys(self.warnings)),
            output=self.output,
            output_bytes=self.output_bytes,
            quick=self.options.quick,
            seconds=time.monotonic() - self.started,
            grader_version=VERSION,
            extra={"embedded_data": bool(data and data.embedded)},
            partial=bool(self.options.only),
        )

    # -- running one check ------------------------------------------------

    def _run(self, name: str) -> CheckResult:
        if self.info.syntax_error:
            return CheckResult(
                name, _kind(name), "error", self.info.syntax_error, ("syntax-error",)
            )
        hello = self._started()
        if not hello.get("ok"):
            message = _import_error(hello, self.module)
            return CheckResult(name, _kind(name), "error", message, ("import-error",))
        missing = _missing(name, self.info, hello, self.module.name)
        if missing:
            return CheckResult(name, _kind(name), "missing", missing, ("unfinished",))
        if _kind(name) == "training":
            return self._train(name)
        adapter = self._adapters[name]
        if adapter.error:
            return CheckResult(
                name, "function", "error", adapter.error, (adapter.mistake,)
            )
        if self.progress is not None:
            self.progress(f"checking {name}")
        assert self._sandbox is not None
        return _check_one(
            self._sandbox,
            function(name),
            _reference(),
            lambda n: self._adapters[n].call_args,
            adapter.note,
            list(self.results.values()),
        )

    def _started(self) -> dict[str, object]:
        """The unit-check sandbox, started (and the module imported) once."""
        if self._hello is None:
            options = self.options
            self._sandbox = Sandbox(self.module, options.limits, options.hide)
            self._hello = self._sandbox.start()
            self.warnings += _import_warnings(self._hello)
            self.warnings += [
                f"sandbox protection missing: {m}" for m in self._sandbox.missing
            ]
            functions = self._hello.get("functions") or {}
            assert isinstance(functions, dict)
            self._adapters = {
                f.name: signature.adapt(f.params, functions.get(f.name))
                for f in FUNCTIONS
            }
        return self._hello

    def _train(self, name: str) -> CheckResult:
        spec = trainer(name)
        options, data = self.options, self.data
        targets = dict(EMBEDDED_TARGETS) if data is not None and data.embedded else {}
        targets.update(options.targets or {})
        target = targets.get(name, spec.target)
        if options.quick or data is None:
            return CheckResult(
                name,
                "training",
                "skipped",
                "not trained (--quick)",
                training=Training(target=target, limit=options.train_seconds),
            )
        batches_ok = self.check("get_mini_batch").status == "pass"
        if self._sandbox is not None:
            # the unit checks' child is not needed while a trainer runs (a
            # later unit check starts it again)
            self._sandbox.close()
        if self.progress is not None:
            self.progress(f"training {name} (limit {options.train_seconds:g} s)")
        outcome = training.run_trainer(
            self.module,
            spec,
            data,
            batches_ok,
            options.limits,
            options.train_seconds,
            target,
            options.hide,
        )
        mistakes = outcome.mistakes
        if outcome.failure is not None:
            mistakes += FAILURE_MISTAKES.get(outcome.failure.cause, ())
        notes = outcome.notes
        if not batches_ok:
            notes += (
                "trained on the reference's mini-batches: your get_mini_batch "
                "did not pass its checks",
            )
        if outcome.output_bytes:
            self.output += f"\n--- printed while training {name} ---\n{outcome.output}"
            self.output_bytes += outcome.output_bytes
        return CheckResult(
            name,
            "training",
            outcome.status,
            outcome.message,
            mistakes,
            notes=notes,
            training=outcome.training,
        )


def grade(
    path: Path, options: Options, progress: Progress | None = None
) -> GradeResult:
    """Grade every check (or those of options.only) of one hand-in."""
    with Grading(path, options, progress) as grading:
        for name in grading.names():
            grading.check(name)
        return grading.result()


def _with_hints(result: CheckResult) -> CheckResult:
    """The check with a hint in plain words for each mistake it names."""
    grad = GRADIENTS.get(result.name)
    forward = grad.forward if grad is not None else result.name
    params = ", ".join(_params(result.name))
    found = diagnose.hints(result.mistakes, result.name, forward=forward, params=params)
    return replace(result, hints=tuple(dict.fromkeys(result.hints + found)))


def _params(name: str) -> tuple[str, ...]:
    return next(
        (f.params for f in FUNCTIONS if f.name == name),
        ("mini_batch_x", "mini_batch_y"),
    )


def _kind(name: str) -> str:
    return "training" if name.startswith("train_") else "function"


def _import_error(hello: dict[str, object], module: Path) -> str:
    error = hello.get("error") or {}
    assert isinstance(error, dict)
    where = f" at {error['where']}" if error.get("where") else ""
    kind, text = error.get("type"), error.get("message")
    return f"importing {module.name} failed: {kind}: {text}{where}"


def _import_warnings(hello: dict[str, object]) -> list[str]:
    warnings = []
    replaced = [str(n) for n in hello.get("replaced") or [] if "." not in str(n)]
    if replaced:
        warnings.append(
            f"{', '.join(replaced)}: replaced by a stand-in that does nothing "
            "(display and "
            "plotting libraries never run during grading)"
        )
    missing = [str(n) for n in hello.get("missing") or [] if "." not in str(n)]
    if missing:
        warnings.append(
            f"{', '.join(missing)}: not installed on the grading machine; "
            "imported as a "
            "stand-in that does nothing. Do not rely on it in graded functions."
        )
    blocked = [str(n) for n in hello.get("blocked") or []]
    if blocked:
        warnings.append(
            f"tried to import {', '.join(sorted(set(blocked)))}: "
            "the grader's own code is not "
            "importable from a hand-in and earns nothing"
        )
    return warnings


def _missing(
    name: str, info: source.SourceInfo, hello: dict[str, object], module: str
) -> str:
    functions = hello.get("functions") or {}
    assert isinstance(functions, dict)
    if name not in functions:
        return f"{name} is not defined in {module}"
    if name in info.stubs:
        return f"{name} is still the skeleton's TO DO stub"
    return ""


def _check_one(
    sandbox: Sandbox,
    spec: FunctionSpec,
    reference: dict[str, Callable[..., object]],
    adapt: Callable[[str], Callable[[Sequence[object]], list[object]]],
    signature_note: str,
    earlier: Sequence[CheckResult],
) -> CheckResult:
    case_results: list[CaseResult] = []
    fatal = None
    for case in homework_cases.BUILDERS[spec.name]():
        if fatal is not None:
            case_results.append(checks.not_run(case, fatal))
            continue
        result, fatal = checks.run_case(
            sandbox, spec, case, reference[spec.name], adapt(spec.name)
        )
        case_results.append(result)
    status = checks.function_status(case_results)
    gradient = None
    if spec.name in GRADIENTS and fatal is None:
        gradient = gradcheck.check(
            sandbox, spec.name, GRADIENTS[spec.name], reference, adapt
        )
    mistakes = tuple(dict.fromkeys(m for c in case_results for m in c.mistakes))
    grad = GRADIENTS.get(spec.name)
    forward = grad.forward if grad is not None else ""
    forward_passes = next(
        (
            r.status == "pass"
            for r in earlier
            if r.name == forward and r.name != spec.name
        ),
        None,
    )
    gradient_outputs = (
        frozenset(spec.outputs[i] for i in grad.outputs) if grad else frozenset()
    )
    mistakes += tuple(
        diagnose.function_mistakes(
            spec.name, case_results, gradient, forward_passes, gradient_outputs
        )
    )
    notes = tuple(
        dict.fromkeys(
            ([signature_note] if signature_note else [])
            + [n for c in case_results for n in c.notes]
        )
    )
    failing = [c for c in case_results if c.status != "pass"]
    passed = len(case_results) - len(failing)
    if failing:
        first = failing[0]
        message = (
            f"{len(failing)} of {len(case_results)} cases fail; "
            f"{first.label}: {first.message}"
        )
    else:
        message = f"all {len(case_results)} cases pass"
    if fatal is not None and fatal.cause != "timeout":
        mistakes += FAILURE_MISTAKES.get(fatal.cause, ())
    return CheckResult(
        spec.name,
        "function",
        status,
        message,
        mistakes,
        notes=notes,
        cases=tuple(case_results),
        gradient=gradient,
        cases_passed=passed,
    )
