"""Calling student functions by the signature they declare."""

from __future__ import annotations

from grader.signature import adapt

SPEC = ("dl_dy", "x", "y")


def params(*names: str, default: tuple[str, ...] = ()) -> list[list[object]]:
    return [[n, "POSITIONAL_OR_KEYWORD", n in default] for n in names]


def test_the_spec_signature_is_called_as_is() -> None:
    adapter = adapt(SPEC, params("dl_dy", "x", "y"))
    assert adapter.call_args([1, 2, 3]) == [1, 2, 3]
    assert not adapter.note and not adapter.error


def test_a_missing_trailing_y_is_dropped_with_a_note() -> None:
    adapter = adapt(SPEC, params("dl_dy", "x"))
    assert adapter.call_args([1, 2, 3]) == [1, 2]
    assert "without y" in adapter.note


def test_a_required_extra_parameter_is_a_named_error() -> None:
    adapter = adapt(SPEC, params("dl_dy", "x", "y", "stride"))
    assert adapter.mistake == "extra-required-argument"
    assert "stride" in adapter.error


def test_an_extra_parameter_with_a_default_is_fine() -> None:
    adapter = adapt(SPEC, params("dl_dy", "x", "y", "stride", default=("stride",)))
    assert not adapter.error


def test_renamed_parameters_are_called_by_position_with_a_note() -> None:
    adapter = adapt(SPEC, params("grad", "x", "y"))
    assert adapter.call_args([1, 2, 3]) == [1, 2, 3]
    assert "grad" in adapter.note


def test_dropping_a_needed_argument_is_an_error() -> None:
    adapter = adapt(("x", "w", "b"), params("x", "w"))
    assert adapter.mistake == "wrong-signature"
