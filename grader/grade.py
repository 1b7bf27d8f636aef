"""Grade one hand-in: find it, check every function, train, score."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from grader import checks, diagnose, gradcheck, scoring, signature, source, training
from grader.discover import Dataset, find_module, load_data
from grader.homework import cases as homework_cases
from grader.homework.spec import (
    EMBEDDED_TARGETS,
    FUNCTIONS,
    GRADIENTS,
    TRAINERS,
    FunctionSpec,
)
from grader.result import CaseResult, CheckResult, GradeResult, Training
from grader.rubric import Rubric
from grader.sandbox.runner import Limits, Sandbox

VERSION = "0.1.0"
# Mistake names for a child lost during training.
FAILURE_MISTAKES = {
    "timeout": ("too-slow",),
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


def _reference() -> dict[str, Callable[..., object]]:
    from reference import cnn as reference

    return {f.name: getattr(reference, f.name) for f in FUNCTIONS}


def grade(
    path: Path, options: Options, progress: Progress | None = None
) -> GradeResult:
    started = time.monotonic()
    module = find_module(path)
    data = None if options.quick else load_data(options.data_dir, module)
    info = source.inspect_source(module)
    names = [f.name for f in FUNCTIONS] + [t.name for t in TRAINERS]
    warnings: list[str] = []
    output, output_bytes = "", 0

    if info.syntax_error:
        results = [
            CheckResult(n, _kind(n), "error", info.syntax_error, ("syntax-error",))
            for n in names
        ]
    else:
        with Sandbox(module, options.limits, options.hide) as sandbox:
            hello = sandbox.start()
            warnings += _import_warnings(hello)
            if not hello.get("ok"):
                message = _import_error(hello, module)
                results = [
                    CheckResult(n, _kind(n), "error", message, ("import-error",))
                    for n in names
                ]
            else:
                results = _check_functions(sandbox, hello, info, progress)
            output, output_bytes = sandbox.output.text(), sandbox.output.total
            warnings += [f"sandbox protection missing: {m}" for m in sandbox.missing]
        if hello.get("ok"):
            trained, printed = _check_trainers(
                module, hello, info, results, data, options, progress
            )
            results += trained
            for name, (text, size) in printed.items():
                output += f"\n--- printed while training {name} ---\n{text}"
                output_bytes += size

    scored = tuple(scoring.score(_with_hints(r), options.rubric) for r in results)
    return GradeResult(
        submission=str(path),
        module=str(module),
        data="not loaded (--quick)" if data is None else data.source,
        checks=scored,
        warnings=tuple(warnings),
        output=output,
        output_bytes=output_bytes,
        quick=options.quick,
        seconds=time.monotonic() - started,
        grader_version=VERSION,
        extra={"embedded_data": bool(data and data.embedded)},
    )


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


def _check_functions(
    sandbox: Sandbox,
    hello: dict[str, object],
    info: source.SourceInfo,
    progress: Progress | None,
) -> list[CheckResult]:
    reference = _reference()
    module = Path(sandbox.module).name
    functions = hello.get("functions") or {}
    assert isinstance(functions, dict)
    adapters = {
        f.name: signature.adapt(f.params, functions.get(f.name)) for f in FUNCTIONS
    }

    def adapt(name: str) -> Callable[[Sequence[object]], list[object]]:
        return adapters[name].call_args

    results = []
    for spec in FUNCTIONS:
        missing = _missing(spec.name, info, hello, module)
        if missing:
            results.append(
                CheckResult(spec.name, "function", "missing", missing, ("unfinished",))
            )
            continue
        adapter = adapters[spec.name]
        if adapter.error:
            results.append(
                CheckResult(
                    spec.name, "function", "error", adapter.error, (adapter.mistake,)
                )
            )
            continue
        if progress is not None:
            progress(f"checking {spec.name}")
        results.append(
            _check_one(sandbox, spec, reference, adapt, adapter.note, results)
        )
    return results


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


def _check_trainers(
    module: Path,
    hello: dict[str, object],
    info: source.SourceInfo,
    function_results: list[CheckResult],
    data: Dataset | None,
    options: Options,
    progress: Progress | None,
) -> tuple[list[CheckResult], dict[str, tuple[str, int]]]:
    """The trainers' verdicts, and what each printed (kept text, total bytes)."""
    results: list[CheckResult] = []
    outputs: dict[str, tuple[str, int]] = {}
    batches_ok = any(
        r.name == "get_mini_batch" and r.status == "pass" for r in function_results
    )
    targets = dict(EMBEDDED_TARGETS) if data is not None and data.embedded else {}
    targets.update(options.targets or {})
    for spec in TRAINERS:
        target = targets.get(spec.name, spec.target)
        missing = _missing(spec.name, info, hello, module.name)
        if missing:
            results.append(
                CheckResult(spec.name, "training", "missing", missing, ("unfinished",))
            )
            continue
        if options.quick or data is None:
            results.append(
                CheckResult(
                    spec.name,
                    "training",
                    "skipped",
                    "not trained (--quick)",
                    training=Training(target=target, limit=options.train_seconds),
                )
            )
            continue
        if progress is not None:
            progress(f"training {spec.name} (limit {options.train_seconds:g} s)")
        outcome = training.run_trainer(
            module,
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
            outputs[spec.name] = (outcome.output, outcome.output_bytes)
        results.append(
            CheckResult(
                spec.name,
                "training",
                outcome.status,
                outcome.message,
                mistakes,
                notes=notes,
                training=outcome.training,
            )
        )
    return results, outputs
