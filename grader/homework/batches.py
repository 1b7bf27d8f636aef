"""Judging get_mini_batch: its answer is random, so check what must hold.

The batches must hold every training column exactly once, each with the
one-hot of its own label, in a shuffled order, in batches of batch_size (the
last may be smaller). Columns are recognised by their values: the case's
images are distinct random vectors.
"""

from __future__ import annotations

import math

import numpy as np

from grader.compare import Mismatch, OutputCheck, as_array, describe
from grader.homework.cases import Case


def _batches(value: object, name: str) -> tuple[list[np.ndarray] | None, str, str]:
    """A list of 2-D arrays from a list, a tuple or a 3-D array of batches."""
    if isinstance(value, np.ndarray) and value.ndim == 3:
        return list(value), f"{name} as a 3-D array of batches", ""
    if not isinstance(value, list | tuple):
        return None, "", f"{name}: expected a list of arrays, got {describe(value)}"
    arrays = [as_array(v) for v in value]
    if any(a is None or a.ndim != 2 for a in arrays):
        return None, "", f"{name}: every batch must be a 2-D array"
    note = f"{name} as a tuple" if isinstance(value, tuple) else ""
    return arrays, note, ""  # type: ignore[return-value]


def _fail(message: str, mistake: str = "") -> list[OutputCheck]:
    return [
        OutputCheck(
            "mini_batch_x",
            False,
            mistake=mistake,
            mismatch=Mismatch("batches", message),
        )
    ]


def judge(case: Case, value: object) -> list[OutputCheck]:
    """The verdict on one get_mini_batch answer."""
    images, labels, batch_size = case.args
    assert isinstance(images, np.ndarray) and isinstance(labels, np.ndarray)
    rows, n = images.shape
    if not isinstance(value, list | tuple) or len(value) != 2:
        return _fail(f"expected (mini_batch_x, mini_batch_y), got {describe(value)}")
    xs, note_x, error = _batches(value[0], "mini_batch_x")
    if xs is None:
        return _fail(error)
    ys, note_y, error = _batches(value[1], "mini_batch_y")
    if ys is None:
        return _fail(error)
    notes = [s for s in (note_x, note_y) if s]
    if len(xs) != len(ys):
        return _fail(f"{len(xs)} image batches but {len(ys)} label batches")
    for k, (xb, yb) in enumerate(zip(xs, ys, strict=True)):
        if yb.shape[0] == 1 and xb.shape[1] == yb.shape[1] and _whole_numbers(yb):
            return _fail(
                f"batch {k}: labels {yb.shape} hold class numbers; expected (10, b) "
                "one-hot columns",
                "labels-not-one-hot",
            )
        if xb.shape[0] != rows or yb.shape[0] != 10 or xb.shape[1] != yb.shape[1]:
            return _fail(
                f"batch {k}: images {xb.shape} and labels {yb.shape}; expected "
                f"({rows}, b) and (10, b)"
            )
    sizes = [xb.shape[1] for xb in xs]
    total = sum(sizes)
    if total != n:
        return _fail(
            f"the batches hold {total} columns; the training set has {n}",
            "batches-cover-part" if total < n else "batches-repeat-columns",
        )
    expected_count = math.ceil(n / int(batch_size))
    if any(s != batch_size for s in sizes[:-1]) or sizes[-1] > int(batch_size):
        return _fail(
            f"batch sizes {sizes[:6]}{'...' if len(sizes) > 6 else ''}; expected "
            f"{expected_count} batches of {batch_size}, the last one possibly smaller"
        )
    taken = np.concatenate(xs, axis=1).astype(np.float64)
    one_hot = np.concatenate(ys, axis=1).astype(np.float64)
    order = _match_columns(images, taken)
    if order is None or len(set(order.tolist())) != n:
        return _fail(
            "the batches drop or repeat training columns", "batches-repeat-columns"
        )
    if not (np.isin(one_hot, (0.0, 1.0)).all() and (one_hot.sum(axis=0) == 1).all()):
        return _fail(
            "mini_batch_y is not one-hot (one 1 per column)", "labels-not-one-hot"
        )
    want = labels.reshape(-1).astype(np.int64)[order]
    got = one_hot.argmax(axis=0)
    agree = float(np.mean(got == want))
    if agree < 1.0:
        if np.all(got == (want - 1) % 10) or np.all(got == (want + 1) % 10):
            return _fail("every label is shifted by one class", "label-off-by-one")
        return _fail(
            f"only {agree:.0%} of the images keep their own label: images and labels "
            "were not shuffled together",
            "scrambled-pairs",
        )
    if np.array_equal(order, np.arange(n)):
        return _fail(
            "the columns are in their original order: no shuffle", "no-shuffle"
        )
    return [OutputCheck("mini_batch_x", True, note="; ".join(notes))]


def _whole_numbers(array: np.ndarray) -> bool:
    values = array.astype(np.float64)
    return bool(
        np.all(values == np.round(values)) and values.min() >= 0 and values.max() <= 9
    )


def _match_columns(images: np.ndarray, taken: np.ndarray) -> np.ndarray | None:
    """For each taken column, the index of the training column it equals."""
    distance = (
        (taken**2).sum(axis=0)[:, None]
        - 2 * taken.T @ images
        + (images**2).sum(axis=0)[None, :]
    )
    nearest = distance.argmin(axis=1)
    close = np.abs(images[:, nearest] - taken).max(axis=0) < 1e-4
    return nearest if close.all() else None
