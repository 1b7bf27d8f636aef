"""Layouts that mean the same thing pass; ones that change meaning are named."""

from __future__ import annotations

import numpy as np

from grader import compare


def test_vector_layouts_pass_with_a_note() -> None:
    expected = np.arange(4.0).reshape(1, 4)
    for shape in ((4,), (4, 1), (1, 4)):
        verdict = compare.check_output(
            "dl_dx", expected.reshape(shape), expected, compare.vector
        )
        assert verdict.ok, shape
        assert bool(verdict.note) == (shape != (1, 4))


def test_fc_dl_dw_layouts() -> None:
    n, m = 3, 5
    matrix = np.arange(15.0).reshape(n, m)
    expected = matrix.reshape(1, -1)
    read = compare.flattened_matrix(n, m)
    for obtained, ok, mistake in (
        (matrix, True, ""),
        (matrix.reshape(-1), True, ""),
        (matrix.reshape(1, -1, order="F"), True, ""),
        (matrix.T, False, "transposed-dl_dw"),
    ):
        verdict = compare.check_output("dl_dw", obtained, expected, read)
        assert (verdict.ok, verdict.mistake) == (ok, mistake)


def test_mismatch_counts_and_locates_errors() -> None:
    expected = np.zeros((3, 3))
    obtained = expected.copy()
    obtained[1, 2] = 0.5
    obtained[2, 0] = np.nan
    verdict = compare.check_output("y", obtained, expected, compare.exact)
    assert not verdict.ok and verdict.mismatch is not None
    assert verdict.mismatch.count == 2 and verdict.mismatch.total == 9
    assert verdict.mismatch.reason == "nan"
    assert verdict.mismatch.first[0][0] == (1, 2)


def test_shape_mismatch_has_its_own_message() -> None:
    verdict = compare.check_output(
        "y", np.zeros((3, 3)), np.zeros((10, 1)), compare.vector
    )
    assert verdict.mismatch is not None and verdict.mismatch.reason == "shape"
    assert "(3, 3)" in verdict.mismatch.message


def test_non_numeric_answers_are_type_errors() -> None:
    for value in ("text", None, [1, "a"], np.array(["a"])):
        verdict = compare.check_output("l", value, np.zeros(()), compare.scalar)
        assert verdict.mismatch is not None and verdict.mismatch.reason == "type"


def test_tolerance_accepts_float32_rounding_only() -> None:
    expected = np.random.default_rng(0).normal(size=(10, 1))
    close = expected.astype(np.float32)
    far = expected * (1 + 1e-3)
    assert compare.check_output("y", close, expected, compare.exact).ok
    assert not compare.check_output("y", far, expected, compare.exact).ok


def test_relative_error_ignores_entries_that_should_be_zero() -> None:
    expected = np.array([0.0, 2.0, 0.0])
    obtained = np.array([1.5, 1.0, 0.0])
    found = compare.differ(obtained, expected, compare.VALUES)
    assert found is not None
    assert found.max_abs == 1.5
    assert found.max_rel == 0.5
