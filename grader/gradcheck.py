"""Finite-difference checks of a backward function against the student's own
forward, so that a wrong backward is told apart from a wrong forward.

For a backward B of a forward F, with a random upstream gradient g shaped like
F's output, the scalar L(a) = sum(g * F(a)) has dL/da equal to what B should
return for argument a. Each entry of a is nudged by +-h (centred differences,
float64); the student's forward is evaluated in the sandbox on all the nudged
inputs in one request, and the arithmetic is done here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from grader.compare import GRADIENTS, as_array, check_output, describe
from grader.homework import cases as homework_cases
from grader.homework.spec import GradientSpec, function
from grader.result import GradientCheck
from grader.sandbox.runner import Sandbox

STEP = 1e-5


def _perturbed(args: Sequence[np.ndarray], position: int) -> list[list[np.ndarray]]:
    """Argument lists with one entry of args[position] moved by +h, then -h."""
    calls = []
    base = args[position]
    for index in range(base.size):
        for sign in (1.0, -1.0):
            moved = base.copy().reshape(-1)
            moved[index] += sign * STEP
            changed = list(args)
            changed[position] = moved.reshape(base.shape)
            calls.append(changed)
    return calls


def numeric_gradients(
    sandbox: Sandbox,
    grad: GradientSpec,
    args: Sequence[object],
    reference_forward: Callable[..., object],
    call_args: Callable[[Sequence[object]], list[object]],
) -> tuple[list[np.ndarray] | None, str]:
    """dL/d(argument) for each argument in grad.wrt, from the student's forward."""
    forward_args = [np.asarray(args[i], dtype=np.float64) for i in grad.forward_args]
    if grad.is_loss:
        upstream = None
    else:
        shape = np.shape(reference_forward(*[a.copy() for a in forward_args]))
        upstream = np.random.default_rng(7).normal(size=shape)
    gradients = []
    for position in grad.wrt:
        calls = _perturbed(forward_args, position)
        reply = sandbox.request(
            {"op": "map", "fn": grad.forward, "seed": 0},
            [call_args(c) for c in calls],
            seconds=sandbox.limits.call_seconds * 2,
        )
        if reply.failure is not None:
            return None, f"your {grad.forward} failed: {reply.failure.message}"
        values = reply.value if isinstance(reply.value, list) else []
        if len(values) != len(calls):
            return None, f"your {grad.forward} answered {describe(reply.value)}"
        scalars = []
        for value in values:
            if grad.is_loss:
                value = value[0] if isinstance(value, list | tuple) and value else value
                out = as_array(value)
                if out is None or out.size != 1:
                    return None, f"your {grad.forward} returned {describe(value)} as l"
                scalars.append(float(out.reshape(-1)[0]))
            else:
                out = as_array(value)
                if out is None or upstream is None or out.size != upstream.size:
                    return None, f"your {grad.forward} returned {describe(value)}"
                scalars.append(float(np.sum(upstream.reshape(-1) * out.reshape(-1))))
        pairs = np.asarray(scalars).reshape(-1, 2)
        numeric = (pairs[:, 0] - pairs[:, 1]) / (2 * STEP)
        gradients.append(numeric.reshape(forward_args[position].shape))
    return gradients, ""


def check(
    sandbox: Sandbox,
    name: str,
    grad: GradientSpec,
    reference: dict[str, Callable[..., object]],
    adapt: Callable[[str], Callable[[Sequence[object]], list[object]]],
) -> GradientCheck:
    """Compare the student's backward with finite differences of their forward."""
    case = homework_cases.gradient_case(name)
    args = list(case.args)
    if not grad.is_loss:
        # the upstream gradient g of L = sum(g * F) is the backward's dl_dy
        shape = np.shape(
            reference[grad.forward](*[np.asarray(args[i]) for i in grad.forward_args])
        )
        args[0] = np.random.default_rng(7).normal(size=shape).reshape(np.shape(args[0]))
    numeric, problem = numeric_gradients(
        sandbox, grad, args, reference[grad.forward], adapt(grad.forward)
    )
    if numeric is None:
        return GradientCheck("unavailable", problem, forward=grad.forward)
    expected_shapes = _canonical_shapes(name, reference, args)
    spec = function(name)
    layouts = [("", tuple(args))]
    for note, alt in case.alternates:
        changed = list(alt)
        changed[0] = np.reshape(args[0], np.shape(alt[0]))
        layouts.append((note, tuple(changed)))
    last = ""
    for layout, call in layouts:
        reply = sandbox.request(
            {"op": "call", "fn": name, "seed": 0}, adapt(name)(call)
        )
        if reply.failure is not None:
            last = f"your {name} failed: {reply.failure.message}"
            continue
        value = reply.value[0] if isinstance(reply.value, tuple) else reply.value
        values = value if len(spec.outputs) > 1 else (value,)
        if not isinstance(values, list | tuple) or len(values) != len(spec.outputs):
            last = f"your {name} returned {describe(value)}"
            continue
        worst, messages = 0.0, []
        for k, out_index in enumerate(grad.outputs):
            target = numeric[k].reshape(expected_shapes[out_index])
            verdict = check_output(
                spec.outputs[out_index],
                values[out_index],
                target,
                case.readers[out_index],
                GRADIENTS,
            )
            if verdict.mismatch is not None:
                messages.append(verdict.mismatch.message)
                worst = max(worst, verdict.mismatch.max_abs)
        if not messages:
            where = f" (called with {layout})" if layout else ""
            return GradientCheck(
                "pass",
                f"agrees with finite differences of your {grad.forward}{where}",
                forward=grad.forward,
            )
        last = (
            f"disagrees with finite differences of your own {grad.forward}: "
            + "; ".join(messages)
        )
        return GradientCheck("fail", last, worst, grad.forward)
    return GradientCheck("unavailable", last, forward=grad.forward)


def _canonical_shapes(
    name: str, reference: dict[str, Callable[..., object]], args: Sequence[object]
) -> list[tuple[int, ...]]:
    value = reference[name](*[np.asarray(a).copy() for a in args])
    values = value if isinstance(value, tuple) else (value,)
    return [np.shape(v) for v in values]
