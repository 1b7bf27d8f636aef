"""Seeded unit cases for each layer function, and how each output is read.

A case holds the arguments in the homework's layout, whether it is a *core*
case (the homework's own shapes with ordinary values: failing to run there is
an error, not just a failure), the readers that accept equivalent layouts of
each output, and the alternative argument layouts to retry with when the
spec's layout makes the student's function fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from grader import compare
from grader.compare import Interpretation, Reader


@dataclass(frozen=True)
class Case:
    """One call of a student function and how to read its answer."""

    label: str
    args: tuple[object, ...]
    core: bool
    readers: tuple[Reader, ...]
    alternates: tuple[tuple[str, tuple[object, ...]], ...] = ()
    seed: int = 0
    # "" for the homework's values at the case's size; else the value probe
    # this case makes ("large-scores", "ties", "negative", "zero").
    probe: str = ""


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(1000 + seed)


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal values with |x| >= 0.05, so ReLU's kink is never probed."""
    x = rng.normal(size=shape)
    return np.where(np.abs(x) < 0.05, np.sign(x + 1e-12) * 0.05 + x, x)


def _one_hot(rng: np.random.Generator, n: int) -> np.ndarray:
    y = np.zeros((n, 1))
    y[rng.integers(n), 0] = 1.0
    return y


def _column_variants(
    args: tuple[object, ...], position: int, what: str
) -> tuple[tuple[str, tuple[object, ...]], ...]:
    """Retry layouts for a (1, n) row argument: an (n, 1) column, then flat."""
    row = np.asarray(args[position])
    variants = []
    for note, value in (
        (f"{what} as an (n, 1) column", row.reshape(-1, 1)),
        (f"{what} as a flat (n,) vector", row.reshape(-1)),
    ):
        changed = list(args)
        changed[position] = value
        variants.append((note, tuple(changed)))
    return tuple(variants)


def _flat_bias(
    args: tuple[object, ...], position: int
) -> tuple[tuple[str, tuple[object, ...]], ...]:
    changed = list(args)
    changed[position] = np.asarray(args[position]).reshape(-1)
    return (("b_conv as a flat (C2,) vector", tuple(changed)),)


# -- case builders, one per function ----------------------------------------


def get_mini_batch() -> list[Case]:
    cases = []
    for seed, (rows, n, size, core) in enumerate(
        ((196, 200, 32, True), (196, 70, 16, True), (20, 50, 8, False))
    ):
        rng = _rng(seed)
        images = rng.random((rows, n))
        labels = rng.integers(0, 10, size=(1, n)).astype(np.uint8)
        cases.append(
            Case(
                f"im_train {images.shape}, batch_size {size}",
                (images, labels, size),
                core,
                (),
                seed=seed,
            )
        )
    return cases


# (m inputs, n outputs, core): the homework's three layers, then others
_FC_SHAPES = (
    (196, 10, True),
    (147, 10, True),
    (196, 30, True),
    (7, 3, False),
    (30, 10, False),
)


def _fc_args(seed: int, m: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = _rng(seed)
    return rng.normal(size=(m, 1)), rng.normal(size=(n, m)), rng.normal(size=(n, 1))


def fc() -> list[Case]:
    cases = []
    for seed, (m, n, core) in enumerate(_FC_SHAPES):
        x, w, b = _fc_args(seed, m, n)
        cases.append(
            Case(
                f"x ({m}, 1), w ({n}, {m})",
                (x, w, b),
                core,
                (compare.vector,),
                seed=seed,
            )
        )
    return cases


def fc_backward() -> list[Case]:
    cases = []
    for seed, (m, n, core) in enumerate(_FC_SHAPES):
        x, w, b = _fc_args(seed, m, n)
        dl_dy = _rng(seed + 50).normal(size=(1, n))
        args = (dl_dy, x, w, b, w @ x + b)
        cases.append(
            Case(
                f"dl_dy (1, {n}), x ({m}, 1), w ({n}, {m})",
                args,
                core,
                (compare.vector, compare.flattened_matrix(n, m), compare.vector),
                _column_variants(args, 0, "dl_dy"),
                seed,
            )
        )
    return cases


def _flat_pairs(
    args: tuple[np.ndarray, np.ndarray],
) -> tuple[tuple[str, tuple[object, ...]], ...]:
    return (("inputs as flat (n,) vectors", tuple(a.reshape(-1) for a in args)),)


def loss_euclidean() -> list[Case]:
    cases = []
    for seed, n, core in ((0, 10, True), (1, 10, True), (2, 4, False)):
        rng = _rng(seed)
        y_tilde = rng.normal(size=(n, 1))
        y = _one_hot(rng, n) if seed != 1 else rng.normal(size=(n, 1))
        args = (y_tilde, y)
        cases.append(
            Case(
                f"y_tilde ({n}, 1)",
                args,
                core,
                (compare.scalar, compare.vector),
                _flat_pairs(args),
                seed,
            )
        )
    return cases


def loss_cross_entropy_softmax() -> list[Case]:
    cases = []
    for seed, n, scale, core in (
        (0, 10, 3.0, True),
        (1, 10, 1.0, True),
        (2, 4, 2.0, False),
        (3, 10, 1000.0, False),
    ):
        rng = _rng(seed)
        x = rng.normal(size=(n, 1)) * scale
        if scale > 100:
            x = np.round(x / scale) * scale + rng.normal(size=(n, 1))
            label = f"scores near +-1000, x ({n}, 1)"
        else:
            label = f"x ({n}, 1)"
        args = (x, _one_hot(rng, n))
        cases.append(
            Case(
                label,
                args,
                core,
                (compare.scalar, compare.vector),
                _flat_pairs(args),
                seed,
                "large-scores" if scale > 100 else "",
            )
        )
    return cases


def relu() -> list[Case]:
    cases = []
    for seed, shape, core in (
        (0, (30, 1), True),
        (1, (14, 14, 3), True),
        (2, (7, 7, 3), False),
    ):
        x = _away_from_zero(_rng(seed), shape)
        if seed == 2:
            x[0, 0, 0] = 0.0
        cases.append(Case(f"x {shape}", (x,), core, (_leaky(x, x),), seed=seed))
    return cases


LEAKY_SLOPE_MAX = 0.3


def _leaky(x: np.ndarray, dl_dy: np.ndarray) -> Reader:
    """Accept a leaky ReLU: `dl_dy` where x > 0 and one small slope times
    `dl_dy` where x < 0 (for relu itself, dl_dy is x)."""

    def read(obtained: np.ndarray, expected: np.ndarray) -> list[Interpretation]:
        found = [Interpretation(obtained)]
        if obtained.shape != expected.shape:
            return found
        negative = x < 0
        if not negative.any() or not np.allclose(
            obtained[~negative], expected[~negative]
        ):
            return found
        with np.errstate(divide="ignore", invalid="ignore"):
            slopes = obtained[negative] / dl_dy[negative]
        slope = float(np.median(slopes))
        if 0 < slope <= LEAKY_SLOPE_MAX and np.allclose(
            obtained[negative], slope * dl_dy[negative], rtol=1e-5, atol=1e-8
        ):
            found.append(
                Interpretation(expected, f"leaky ReLU, slope {slope:g} for x < 0")
            )
        return found

    return read


def relu_backward() -> list[Case]:
    cases = []
    for seed, shape, core in (
        (0, (30, 1), True),
        (1, (14, 14, 3), True),
        (2, (5, 1), False),
    ):
        rng = _rng(seed)
        x = _away_from_zero(rng, shape)
        dl_dy = rng.normal(size=shape)
        cases.append(
            Case(
                f"x {shape}",
                (dl_dy, x, np.maximum(x, 0)),
                core,
                (_leaky(x, dl_dy),),
                seed=seed,
            )
        )
    return cases


_CONV_SHAPES = (
    ((14, 14, 1), (3, 3, 1, 3), True),
    ((8, 8, 2), (3, 3, 2, 4), False),
    ((6, 6, 1), (3, 3, 1, 2), False),
    ((16, 16, 1), (3, 3, 1, 3), False),
    ((6, 10, 2), (3, 3, 2, 3), False),
    # other odd kernels: the padding is (h-1)//2 rows and (w-1)//2 columns
    ((6, 8, 1), (3, 5, 1, 2), False),
    ((9, 7, 2), (5, 5, 2, 3), False),
)


def _conv_args(
    seed: int, x_shape: tuple[int, ...], w_shape: tuple[int, ...]
) -> tuple[np.ndarray, ...]:
    rng = _rng(seed)
    x = rng.normal(size=x_shape)
    w = rng.normal(size=w_shape)
    b = rng.normal(size=(w_shape[3], 1))
    return x, w, b


def conv() -> list[Case]:
    cases = []
    for seed, (x_shape, w_shape, core) in enumerate(_CONV_SHAPES):
        args = _conv_args(seed, x_shape, w_shape)
        cases.append(
            Case(
                f"x {x_shape}, w_conv {w_shape}",
                args,
                core,
                (compare.exact,),
                _flat_bias(args, 2),
                seed,
            )
        )
    return cases


def conv_backward() -> list[Case]:
    from reference import cnn as reference

    cases = []
    for seed, (x_shape, w_shape, core) in enumerate(_CONV_SHAPES):
        x, w, b = _conv_args(seed, x_shape, w_shape)
        dl_dy = _rng(seed + 50).normal(size=x_shape[:2] + (w_shape[3],))
        args = (dl_dy, x, w, b, reference.conv(x, w, b))
        cases.append(
            Case(
                f"x {x_shape}, w_conv {w_shape}",
                args,
                core,
                (compare.exact, compare.vector),
                _flat_bias(args, 3),
                seed,
            )
        )
    return cases


def _pool_input(seed: int, shape: tuple[int, ...], kind: str) -> np.ndarray:
    rng = _rng(seed)
    if kind == "ties":
        return rng.integers(0, 3, size=shape).astype(np.float64)
    if kind == "negative":
        return -rng.random(shape) - 0.5
    # distinct values: a random permutation, so no window holds a tie
    return rng.permutation(np.prod(shape)).reshape(shape) / 10.0 - 5.0


_POOL_SHAPES = (
    ((14, 14, 3), "distinct", True),
    ((8, 8, 2), "distinct", False),
    ((4, 6, 1), "negative", False),
    ((6, 6, 2), "ties", False),
)


def pool2x2() -> list[Case]:
    return [
        Case(
            f"x {shape}, {kind} values",
            (_pool_input(seed, shape, kind),),
            core,
            (compare.exact,),
            seed=seed,
            probe="" if kind == "distinct" else kind,
        )
        for seed, (shape, kind, core) in enumerate(_POOL_SHAPES)
    ]


def pool2x2_backward() -> list[Case]:
    from reference import cnn as reference

    cases = []
    for seed, (shape, kind, core) in enumerate(_POOL_SHAPES):
        x = _pool_input(seed, shape, kind)
        y = reference.pool2x2(x)
        dl_dy = _rng(seed + 50).normal(size=y.shape)
        cases.append(
            Case(
                f"x {shape}, {kind} values",
                (dl_dy, x, y),
                core,
                (_tie_tolerant(x, dl_dy),),
                seed=seed,
                probe="" if kind == "distinct" else kind,
            )
        )
    return cases


def _tie_tolerant(x: np.ndarray, dl_dy: np.ndarray) -> Reader:
    """Where a window's maximum is tied, any split of its gradient among the
    tied cells is a valid subgradient: map it onto the reference's choice."""

    def read(obtained: np.ndarray, expected: np.ndarray) -> list[Interpretation]:
        found = [Interpretation(obtained)]
        if obtained.shape != x.shape:
            return found
        H, W, C = x.shape
        windows = x.reshape(H // 2, 2, W // 2, 2, C)
        is_max = windows == windows.max(axis=(1, 3), keepdims=True)
        if (is_max.sum(axis=(1, 3)) <= 1).all():
            return found
        got = obtained.reshape(H // 2, 2, W // 2, 2, C)
        routed_to_max = np.allclose(np.where(is_max, 0.0, got), 0.0, atol=1e-8)
        sums = got.sum(axis=(1, 3))
        if routed_to_max and np.allclose(sums, dl_dy, rtol=1e-6, atol=1e-8):
            found.append(
                Interpretation(expected, "ties: the gradient goes to tied maxima")
            )
        return found

    return read


_FLAT_SHAPES = (((7, 7, 3), True), ((4, 5, 2), False), ((3, 2, 4), False))


def flattening() -> list[Case]:
    cases = []
    for seed, (shape, core) in enumerate(_FLAT_SHAPES):
        x = _rng(seed).normal(size=shape)
        cases.append(
            Case(
                f"x {shape}",
                (x,),
                core,
                (compare.vector,),
                seed=seed,
            )
        )
    return cases


def flattening_backward() -> list[Case]:
    cases = []
    for seed, (shape, core) in enumerate(_FLAT_SHAPES):
        rng = _rng(seed)
        x = rng.normal(size=shape)
        dl_dy = rng.normal(size=(1, x.size))
        args = (dl_dy, x, x.reshape(-1, 1, order="F"))
        cases.append(
            Case(
                f"x {shape}, dl_dy (1, {x.size})",
                args,
                core,
                (compare.exact,),
                _column_variants(args, 0, "dl_dy"),
                seed,
            )
        )
    return cases


BUILDERS: dict[str, Callable[[], list[Case]]] = {
    "get_mini_batch": get_mini_batch,
    "fc": fc,
    "fc_backward": fc_backward,
    "loss_euclidean": loss_euclidean,
    "loss_cross_entropy_softmax": loss_cross_entropy_softmax,
    "relu": relu,
    "relu_backward": relu_backward,
    "conv": conv,
    "conv_backward": conv_backward,
    "pool2x2": pool2x2,
    "pool2x2_backward": pool2x2_backward,
    "flattening": flattening,
    "flattening_backward": flattening_backward,
}


# -- small problems for the finite-difference checks --------------------------


def gradient_case(name: str) -> Case:
    """A small, kink-free input for checking `name` against its own forward.

    Readers accept equivalent layouts but name no mistakes: here the student's
    backward is compared with their own forward, not with the spec.
    """
    from reference import cnn as reference

    rng = _rng(90)
    if name == "fc_backward":
        x, w, b = (
            rng.normal(size=(5, 1)),
            rng.normal(size=(3, 5)),
            rng.normal(size=(3, 1)),
        )
        args: tuple[object, ...] = (rng.normal(size=(1, 3)), x, w, b, w @ x + b)
        readers: tuple[Reader, ...] = (
            compare.vector,
            compare.flattened_matrix(3, 5),
            compare.vector,
        )
        return Case(
            "x (5, 1), w (3, 5)",
            args,
            True,
            readers,
            _column_variants(args, 0, "dl_dy"),
        )
    if name in ("loss_euclidean", "loss_cross_entropy_softmax"):
        args = (rng.normal(size=(5, 1)), _one_hot(rng, 5))
        return Case(
            "(5, 1)", args, True, (compare.scalar, compare.vector), _flat_pairs(args)
        )
    if name == "relu_backward":
        x = _away_from_zero(rng, (3, 3, 2))
        args = (rng.normal(size=x.shape), x, np.maximum(x, 0))
        return Case("x (3, 3, 2)", args, True, (compare.exact,))
    if name == "conv_backward":
        x, w = rng.normal(size=(5, 5, 2)), rng.normal(size=(3, 3, 2, 2))
        b = rng.normal(size=(2, 1))
        args = (rng.normal(size=(5, 5, 2)), x, w, b, reference.conv(x, w, b))
        return Case(
            "x (5, 5, 2), w_conv (3, 3, 2, 2)",
            args,
            True,
            (compare.exact, compare.vector),
            _flat_bias(args, 3),
        )
    if name == "pool2x2_backward":
        x = _pool_input(90, (4, 4, 2), "distinct")
        args = (rng.normal(size=(2, 2, 2)), x, reference.pool2x2(x))
        return Case("x (4, 4, 2)", args, True, (compare.exact,))
    if name == "flattening_backward":
        x = rng.normal(size=(3, 2, 2))
        args = (rng.normal(size=(1, 12)), x, x.reshape(-1, 1, order="F"))
        return Case(
            "x (3, 2, 2)",
            args,
            True,
            (compare.exact,),
            _column_variants(args, 0, "dl_dy"),
        )
    raise KeyError(name)
