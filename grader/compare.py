"""Comparing a student's answer with the reference's, with stated tolerances.

A returned value may be right in another layout that means the same thing (a
flat vector for a column, a matrix for its row-by-row flattening). Each output
therefore has a list of *interpretations*: ways to read the obtained value in
the reference's layout. The first interpretation whose values match wins; its
note tells the student what differed, and an interpretation that carries a
mistake name (a transposed matrix) matches only to name that mistake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from grader.sandbox.wire import Opaque


@dataclass(frozen=True)
class Tolerance:
    """|obtained - expected| <= atol + rtol * |expected|, entry by entry."""

    rtol: float = 1e-5
    atol: float = 1e-6


# The one place where value tolerances are set (float32 work passes them).
VALUES = Tolerance()
GRADIENTS = Tolerance(rtol=1e-4, atol=1e-5)


@dataclass(frozen=True)
class Interpretation:
    """The obtained value read in the reference's layout, and what that took."""

    array: np.ndarray
    note: str = ""
    mistake: str = ""


@dataclass(frozen=True)
class Mismatch:
    """How an obtained array differs from the expected one."""

    reason: str
    message: str
    count: int = 0
    total: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    first: tuple[tuple[tuple[int, ...], float, float], ...] = ()


@dataclass(frozen=True)
class OutputCheck:
    """One output's verdict: matched (with a note or mistake) or a mismatch."""

    name: str
    ok: bool
    note: str = ""
    mistake: str = ""
    mismatch: Mismatch | None = None
    obtained: np.ndarray | None = None
    expected: np.ndarray | None = None
    extra: dict[str, object] = field(default_factory=dict)


def as_array(value: object) -> np.ndarray | None:
    """A numeric ndarray from an answer, or None when it is not numeric data."""
    if isinstance(value, Opaque | str) or value is None:
        return None
    if isinstance(value, bool | int | float):
        return np.asarray(float(value))
    if isinstance(value, list | tuple):
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return array
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value
    return None


def describe(value: object) -> str:
    """A short description of what was returned, for messages."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}, dtype {value.dtype}"
    if isinstance(value, Opaque):
        return f"a {value.type_name} ({value.text[:60]})"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__} ({str(value)[:60]})"


def differ(
    obtained: np.ndarray, expected: np.ndarray, tol: Tolerance
) -> Mismatch | None:
    """Entry-by-entry comparison of two arrays of the same shape."""
    obtained = obtained.astype(np.float64, copy=False)
    expected = expected.astype(np.float64, copy=False)
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(obtained - expected)
        bad = ~(error <= tol.atol + tol.rtol * np.abs(expected))
    bad |= np.isnan(obtained) != np.isnan(expected)
    # an infinite expected value is matched only by the same infinity
    bad |= np.isinf(expected) & (obtained != expected)
    if not bad.any():
        return None
    finite = np.where(np.isfinite(error), error, np.inf)
    # relative to expected entries that are not zero: against a zero, any
    # difference is "infinitely" relative, which tells the reader nothing
    nonzero = bad & (np.abs(expected) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(nonzero, finite / np.abs(expected), 0.0)
    indices = np.argwhere(bad)[:5]
    first = tuple(
        (
            tuple(int(i) for i in idx),
            float(obtained[tuple(idx)]),
            float(expected[tuple(idx)]),
        )
        for idx in indices
    )
    count, total = int(bad.sum()), int(bad.size)
    nonfinite = int((~np.isfinite(obtained)).sum())
    reason = "nan" if nonfinite else "values"
    message = f"{count} of {total} entries differ"
    if nonfinite:
        message += f" ({nonfinite} are nan or inf)"
    return Mismatch(
        reason,
        message,
        count,
        total,
        float(finite[bad].max()),
        float(relative[bad].max()),
        first,
    )


Reader = Callable[[np.ndarray, np.ndarray], list[Interpretation]]


def check_output(
    name: str,
    value: object,
    expected: np.ndarray,
    read: Reader,
    tol: Tolerance = VALUES,
) -> OutputCheck:
    """Match one returned value against the expected array.

    `read(obtained, expected)` lists the interpretations to try, spec layout
    first. An honest interpretation that matches passes; failing that, one
    that names a mistake and matches names it; with neither, the mismatch is
    reported for the first honest interpretation of the right shape.
    `OutputCheck.obtained` is always the answer as returned.
    """
    obtained = as_array(value)
    if obtained is None:
        message = f"{name}: expected a numeric array, got {describe(value)}"
        return OutputCheck(
            name, False, mismatch=Mismatch("type", message), expected=expected
        )
    try:
        candidates = read(obtained, expected)
    except ValueError:
        # a reader that cannot map this answer onto the expected shape
        candidates = [Interpretation(obtained)]
    matching = [
        c
        for c in candidates
        if c.array.shape == expected.shape and differ(c.array, expected, tol) is None
    ]
    honest = [c for c in matching if not c.mistake]
    if honest:
        return OutputCheck(
            name, True, note=honest[0].note, obtained=obtained, expected=expected
        )
    plain = [c for c in candidates if not c.mistake and c.array.shape == expected.shape]
    mistake = matching[0].mistake if matching else ""
    if not plain:
        message = f"{name}: shape {obtained.shape} where {expected.shape} was expected"
        return OutputCheck(
            name,
            False,
            mistake=mistake,
            mismatch=Mismatch("shape", message),
            obtained=obtained,
            expected=expected,
        )
    found = differ(plain[0].array, expected, tol)
    assert found is not None
    text = f"{name}: {found.message}"
    if mistake:
        text += f" (the answer matches the known mistake {mistake})"
    return OutputCheck(
        name,
        False,
        note=plain[0].note,
        mistake=mistake,
        mismatch=replace(found, message=text),
        obtained=obtained,
        expected=expected,
    )


# -- readers: the layouts that mean the same thing --------------------------


def exact(obtained: np.ndarray, expected: np.ndarray) -> list[Interpretation]:
    """Only the spec's own shape."""
    return [Interpretation(obtained)]


def scalar(obtained: np.ndarray, expected: np.ndarray) -> list[Interpretation]:
    """A number: a float, a 0-d array or any one-element array."""
    if obtained.size != 1:
        # several numbers where one was expected: read them as a vector, so
        # that an unsummed loss can be compared with what it would be
        return vector(obtained, expected)
    note = (
        "" if obtained.ndim == 0 else f"returned as an array of shape {obtained.shape}"
    )
    return [Interpretation(obtained.reshape(expected.shape), note)]


def vector(obtained: np.ndarray, expected: np.ndarray) -> list[Interpretation]:
    """A vector given as a column (n, 1), a row (1, n) or flat (n,)."""
    if obtained.shape == expected.shape:
        return [Interpretation(obtained)]
    if obtained.size == expected.size and sum(d > 1 for d in obtained.shape) <= 1:
        note = f"returned as {_layout_name(obtained.shape)}"
        return [Interpretation(obtained.reshape(expected.shape), note)]
    return [Interpretation(obtained)]


def _layout_name(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return "a flat vector"
    if len(shape) == 2 and shape[1] == 1:
        return "a column"
    if len(shape) == 2 and shape[0] == 1:
        return "a row"
    return "an array"


def flattened_matrix(rows: int, cols: int) -> Reader:
    """dl_dw of an fc layer: (1, n*m) row by row, spec; other honest layouts.

    The (n, m) matrix itself and a column-by-column flattening pass with a
    note; the transposed (m, n) matrix is the mistake "transposed-dl_dw".
    """

    def read(obtained: np.ndarray, expected: np.ndarray) -> list[Interpretation]:
        if obtained.size != rows * cols:
            return [Interpretation(obtained)]
        found: list[Interpretation] = []
        if obtained.shape == (rows, cols):
            found.append(
                Interpretation(
                    obtained.reshape(expected.shape), "dl_dw as the (n, m) matrix"
                )
            )
        if obtained.shape == (cols, rows) and rows != cols:
            found.append(
                Interpretation(
                    obtained.T.reshape(expected.shape), "", "transposed-dl_dw"
                )
            )
        if sum(d > 1 for d in obtained.shape) <= 1:
            flat = obtained.reshape(-1)
            note = (
                ""
                if obtained.shape == expected.shape
                else f"dl_dw as {_layout_name(obtained.shape)}"
            )
            found.append(Interpretation(flat.reshape(expected.shape), note))
            by_columns = flat.reshape((rows, cols), order="F").reshape(expected.shape)
            found.append(
                Interpretation(
                    by_columns, "dl_dw flattened column by column (MATLAB order)"
                )
            )
        return found or [Interpretation(obtained)]

    return read
