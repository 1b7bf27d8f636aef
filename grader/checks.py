"""Unit checks: call a student function on seeded cases and judge each answer.

The reference answer is computed here, in the grader's process; the student's
comes from the sandbox. When the spec's argument layout makes a case fail, the
case's alternative layouts are tried, and the one that worked is reported.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from grader import diagnose
from grader.compare import Mismatch, OutputCheck, check_output, describe
from grader.homework import batches
from grader.homework.cases import Case
from grader.homework.spec import FunctionSpec
from grader.result import CaseResult
from grader.sandbox.runner import Failure, Sandbox

# Causes after which the function's remaining cases are not run: the child is
# gone or hung, and the next case would most likely end the same way.
FATAL = (
    "timeout",
    "exit",
    "crash",
    "output-flood",
    "garbage",
    "import",
    "spawned",
    "memory",
)

# Functions whose answer is judged by properties rather than by equality.
JUDGES = {"get_mini_batch": batches.judge}


@dataclass(frozen=True)
class Attempt:
    """One call with one argument layout, and its verdict."""

    layout: str
    status: str  # pass | fail | error | timeout
    outputs: tuple[OutputCheck, ...] = ()
    failure: Failure | None = None
    mutated: tuple[int, ...] = ()
    legacy: tuple[str, ...] = ()


def expected_outputs(
    fn: Callable[..., object], spec: FunctionSpec, args: Sequence[object]
) -> tuple[np.ndarray, ...]:
    """The reference's answer as a tuple of arrays, one per output."""
    if spec.name in JUDGES:
        return ()
    value = fn(*copy.deepcopy(list(args)))
    values = value if len(spec.outputs) > 1 else (value,)
    return tuple(np.asarray(v, dtype=np.float64) for v in values)


def judge(
    spec: FunctionSpec, case: Case, value: object, expected: tuple[np.ndarray, ...]
) -> tuple[OutputCheck, ...]:
    """Read the student's answer output by output."""
    if spec.name in JUDGES:
        return tuple(JUDGES[spec.name](case, value))
    if len(spec.outputs) == 1:
        if isinstance(value, list | tuple) and len(value) == 1:
            value = value[0]
        values: Sequence[object] = (value,)
    elif isinstance(value, list | tuple) and len(value) == len(spec.outputs):
        values = value
    else:
        names = ", ".join(spec.outputs)
        message = (
            f"expected {len(spec.outputs)} values ({names}), got {describe(value)}"
        )
        return (
            OutputCheck(spec.outputs[0], False, mismatch=Mismatch("type", message)),
        )
    return tuple(
        check_output(name, v, e, read)
        for name, v, e, read in zip(
            spec.outputs, values, expected, case.readers, strict=True
        )
    )


def attempt(
    sandbox: Sandbox,
    spec: FunctionSpec,
    case: Case,
    layout: str,
    args: Sequence[object],
    expected: tuple[np.ndarray, ...],
    call_args: Callable[[Sequence[object]], list[object]],
) -> Attempt:
    reply = sandbox.request(
        {"op": "call", "fn": spec.name, "seed": case.seed}, call_args(args)
    )
    legacy = tuple(reply.legacy)
    if reply.failure is not None:
        status = "timeout" if reply.failure.cause == "timeout" else "error"
        return Attempt(layout, status, failure=reply.failure, legacy=legacy)
    value, mutated = (
        reply.value if isinstance(reply.value, tuple) else (reply.value, [])
    )
    outputs = judge(spec, case, value, expected)
    status = "pass" if all(o.ok for o in outputs) else "fail"
    mutated_ints = tuple(i for i in mutated if isinstance(i, int))
    return Attempt(layout, status, outputs, mutated=mutated_ints, legacy=legacy)


def run_case(
    sandbox: Sandbox,
    spec: FunctionSpec,
    case: Case,
    reference: Callable[..., object],
    call_args: Callable[[Sequence[object]], list[object]],
) -> tuple[CaseResult, Failure | None]:
    """Run one case, retrying its alternative layouts; the best attempt wins.

    Returns the case's result and, when the child was lost, the failure that
    should stop the function's remaining cases.
    """
    expected = expected_outputs(reference, spec, case.args)
    attempts: list[Attempt] = []
    for layout, args in (("", case.args), *case.alternates):
        result = attempt(sandbox, spec, case, layout, args, expected, call_args)
        attempts.append(result)
        if result.status == "pass":
            break
        if result.failure is not None and result.failure.cause in FATAL:
            break
    best = _best(attempts)
    fatal = best.failure if best.failure and best.failure.cause in FATAL else None
    result = _case_result(spec, case, best, attempts)
    found = diagnose.case_mistakes(spec, case, result, expected)
    if found:
        result = replace(
            result, mistakes=tuple(dict.fromkeys(result.mistakes + tuple(found)))
        )
    return result, fatal


def _best(attempts: list[Attempt]) -> Attempt:
    for status in ("pass", "fail", "timeout", "error"):
        for a in attempts:
            if a.status == status:
                return a
    return attempts[0]


def _case_result(
    spec: FunctionSpec, case: Case, best: Attempt, attempts: list[Attempt]
) -> CaseResult:
    notes: list[str] = []
    detail = ""
    mistakes = [o.mistake for o in best.outputs if o.mistake]
    if best.layout:
        # The note is the same for every case, so the check can show it once;
        # the case's message keeps the spec layout's own error.
        first = attempts[0]
        if first.failure is not None:
            why = f"raised {first.failure.exc_type or first.failure.cause}"
            detail = f"with the spec's layout: {first.failure.text()}"
        else:
            why = "gave other values"
        notes.append(f"works with {best.layout} (the spec's layout {why})")
    notes += [o.note for o in best.outputs if o.note]
    if best.mutated:
        names = ", ".join(spec.params[i] for i in best.mutated if i < len(spec.params))
        notes.append(f"modifies its input ({names}) in place")
        mistakes.append("modifies-input")
    if best.failure is not None and best.failure.exc_type == "SystemExit":
        mistakes.append("process-exit")
    if best.layout and _broadcast_square(attempts[0]):
        mistakes.append("broadcast-to-matrix")
    if best.legacy:
        notes.append(f"uses {', '.join(best.legacy)}, removed from current NumPy")
        mistakes.append("numpy-removed-alias")
    if best.failure is not None:
        message = best.failure.text()
    else:
        message = "; ".join(o.mismatch.message for o in best.outputs if o.mismatch)
    if best.status == "pass":
        message = detail
    inputs = tuple(
        (name, np.asarray(a))
        for name, a in zip(spec.params, case.args, strict=False)
        if isinstance(a, np.ndarray)
    )
    return CaseResult(
        case.label,
        case.core,
        best.status,
        message,
        best.layout,
        tuple(dict.fromkeys(notes)),
        tuple(dict.fromkeys(mistakes)),
        best.outputs,
        inputs,
        case.probe,
    )


def _broadcast_square(first: Attempt) -> bool:
    """The spec layout's answer was an (n, n) matrix where a vector was due:
    a flat (n,) vector met an (n, 1) one (a warning when a retry passed)."""
    for output in first.outputs:
        got, want = output.obtained, output.expected
        if got is None or want is None or got.ndim != 2 or got.shape[0] != got.shape[1]:
            continue
        if (
            got.shape[0] > 1
            and want.size in (got.shape[0], 1)
            and want.size != got.size
        ):
            return True
    return False


def function_status(cases: Sequence[CaseResult]) -> str:
    """pass, or fail / error / timeout from the cases (see cases/README)."""
    if any(c.status == "timeout" for c in cases):
        return "timeout"
    if any(c.core and c.status in ("error", "not run") for c in cases):
        return "error"
    if all(c.status == "pass" for c in cases):
        return "pass"
    return "fail"


def not_run(case: Case, failure: Failure) -> CaseResult:
    return CaseResult(case.label, case.core, "not run", f"not run: {failure.message}")
