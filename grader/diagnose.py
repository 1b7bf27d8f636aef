"""Naming what went wrong: match failures against the catalogue of mistakes.

Three levels of evidence:
- a case: the student's wrong answer equals a known variant's answer on the
  same arguments (read in any honest layout), or shows a known behaviour (nan
  where the scores are large);
- a function: right on every core case but wrong on other sizes; a backward
  that agrees, or disagrees, with finite differences of the student's own
  forward; a retry that worked because current NumPy refused an old idiom;
- a trainer: weights that classify well only when read with a faulty forward
  pass (row-major flattening, a flipped kernel), or an error whose message is
  that of current NumPy refusing an old idiom.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence

import numpy as np

from grader.compare import Tolerance, check_output, differ
from grader.homework import mistakes as catalogue
from grader.homework.cases import Case
from grader.homework.spec import FunctionSpec, TrainerSpec
from grader.result import CaseResult, GradientCheck

# What current NumPy says when a one-element array is stored into a scalar
# slot (it worked before NumPy 2.4 / 1.25).
_ARRAY_TO_SCALAR = re.compile(
    r"setting an array element with a sequence|only (0-dimensional|length-1|size-1) "
    r"arrays can be converted"
)


def _variant_outputs(
    variant: Callable[..., object], spec: FunctionSpec, args: Sequence[object]
) -> tuple[np.ndarray, ...] | None:
    try:
        with np.errstate(all="ignore"):  # a faulty variant may overflow: fine
            value = variant(*copy.deepcopy(list(args)))
        values = value if len(spec.outputs) > 1 else (value,)
        return tuple(np.asarray(v, dtype=np.float64) for v in values)  # type: ignore[union-attr]
    except Exception:
        return None


def case_mistakes(
    spec: FunctionSpec, case: Case, result: CaseResult, expected: tuple[np.ndarray, ...]
) -> list[str]:
    """Mistakes a failing case's answer shows.

    A variant is named only when the whole answer is the variant's: every
    output matches it. (Matching one output alone would confuse, say, a
    halved loss with a gradient missing its factor 2: both halve dl_dy.)
    """
    found: list[str] = []
    overflow = "OverflowError" in result.message
    if result.status == "error" and case.probe == "large-scores" and overflow:
        found.append("softmax-overflow")
    if result.status != "fail" or not result.outputs:
        return found
    outputs = result.outputs
    if len(outputs) != len(expected) or len(outputs) > len(case.readers):
        return found
    for mistake in catalogue.for_function(spec.name):
        if mistake.variant is None or mistake.name in found:
            continue
        variant = _variant_outputs(mistake.variant, spec, case.args)
        if variant is None or len(variant) != len(outputs):
            continue
        if all(
            v.shape == e.shape and differ(v, e, _EXACT) is None
            for v, e in zip(variant, expected, strict=True)
        ):
            continue  # on this case the variant is right: no evidence
        if all(
            o.obtained is not None and check_output(o.name, o.obtained, v, read).ok
            for o, v, read in zip(outputs, variant, case.readers, strict=False)
        ):
            found.append(mistake.name)
    if case.probe == "large-scores" and any(
        o.obtained is not None and not np.isfinite(o.obtained).all() for o in outputs
    ):
        found.append("softmax-overflow")
    return list(dict.fromkeys(found))


# Two candidate answers this close are the same answer.
_EXACT = Tolerance(rtol=1e-9, atol=1e-12)


def function_mistakes(
    name: str,
    cases: Sequence[CaseResult],
    gradient: GradientCheck | None,
    forward_passes: bool | None,
    gradient_outputs: frozenset[str] = frozenset(),
) -> list[str]:
    """Mistakes seen across a function's cases and its gradient check.

    `forward_passes` is whether the forward function of a backward passed its
    own checks (None when not known or not a backward).
    """
    found: list[str] = []
    named = {m for c in cases for m in c.mistakes}
    failing = [c for c in cases if c.status != "pass"]
    core = [c for c in cases if c.core]
    core_shapes = {_shapes(c) for c in core}
    core_ok = all(c.status == "pass" for c in core)
    other_sizes = all(_shapes(c) not in core_shapes for c in failing)
    if failing and core and core_ok and not named and other_sizes:
        found.append("hard-coded-sizes")
    # for a loss only dl_dy is a gradient: a wrong l with a right dl_dy is a
    # wrong loss value, already named, not a wrong backward
    gradient_wrong = any(
        not o.ok for c in failing for o in c.outputs if o.name in gradient_outputs
    ) or any(c.status != "fail" for c in failing)
    if gradient is not None and failing and gradient_wrong:
        if gradient.status == "fail":
            found.append("backward-disagrees-with-forward")
        elif gradient.status == "pass" and forward_passes is False:
            found.append("backward-matches-wrong-forward")
    for case in cases:
        retried = case.status == "pass" and bool(case.layout)
        refused = retried or case.status == "error"
        if refused and _ARRAY_TO_SCALAR.search(case.message):
            found.append("numpy-array-to-scalar")
    return [m for m in dict.fromkeys(found) if m not in named]


def _shapes(case: CaseResult) -> tuple[tuple[int, ...], ...]:
    return tuple(np.shape(array) for _, array in case.inputs)


def trainer_mistakes(message: str) -> list[str]:
    """Mistakes named by a trainer's error message."""
    return ["numpy-array-to-scalar"] if _ARRAY_TO_SCALAR.search(message) else []


def forward_mistakes(
    spec: TrainerSpec,
    weights: list[np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
    target: float,
    predict: Callable[
        [TrainerSpec, list[np.ndarray], np.ndarray, dict[str, object]], np.ndarray
    ],
) -> list[tuple[str, float]]:
    """Known faulty forward passes under which the weights beat the target.

    Returns (mistake, accuracy) pairs: the student's layers deviate in a
    self-consistent way, and their weights expect that deviation.
    """
    used = {fn for fn, _ in spec.steps}
    found = []
    for mistake in catalogue.CATALOGUE:
        if mistake.function not in used or mistake.variant is None:
            continue
        predicted = predict(spec, weights, images, {mistake.function: mistake.variant})
        accuracy = float(np.mean(predicted == labels))
        if accuracy > target:
            found.append((mistake.name, accuracy))
    return found


def hints(mistakes: Sequence[str], function: str, **fields: str) -> tuple[str, ...]:
    """One hint per mistake, in plain words."""
    return tuple(h for m in mistakes if (h := catalogue.hint(m, function, **fields)))
