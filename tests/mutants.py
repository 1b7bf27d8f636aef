"""Generic mutants of the reference's layer functions, judged fairly.

The hand-in catalogue (handins.py) plants the mistakes students are known to
make; this module plants the small slips anybody can make, mechanically, so a
gap in the grader's cases shows up where nobody thought to look. A mutant is
the reference with one AST edit in one layer function, or in the `_im2col`
helper that conv and conv_backward share: an operator, a comparison, a
constant, an index, an axis, an argument order or a name changed, or a part
(`.T`, a keyword, a subscript, an operand) dropped.

Each mutant goes through three steps:
- `generate` lists them, sorted and without duplicates;
- `classify` asks whether it changes what the functions return. It calls the
  mutant and the reference on seeded probes written here (not the grader's
  cases: the grader is measured against a yardstick of its own) in worker
  processes under memory and time limits. Outputs equal within 1e-9 make it
  *equivalent*; outputs that differ only in a way the README allows (a flat
  vector, dl_dw as the (n, m) matrix, a leaky slope, a tie sent to another
  maximum, another valid shuffle, the subgradient at ReLU's kink) make it
  *allowed*; anything else makes it *changing*;
- `grade` grades it as a hand-in, `--quick`: it is *killed* when some
  function does not pass.

The mutation score is killed / changing. Grading runs in worker processes,
each calling `grader.grade.grade()` on one hand-in after another: calling it
from several threads of one process can hang for good (one thread forks a
sandbox child while another is inside OpenBLAS, whose fork handler then waits
on a thread that never returns).
"""

from __future__ import annotations

import ast
import copy
import functools
import json
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.homework.spec import FUNCTIONS

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "reference" / "cnn.py"
LAYERS = tuple(f.name for f in FUNCTIONS)
# Helpers mutated too, with the layer functions that call them.
HELPERS = {"_im2col": ("conv", "conv_backward")}
TOLERANCE = 1e-9
WORKER_MEMORY = 2 << 30
MUTANT_SECONDS = 10.0  # one mutant's calls on all probes, in the worker
GRADE_SECONDS = 120.0
LEAKY_SLOPE_MAX = 0.3  # as the README's "small slope"


# -- generation --------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    """The reference with one edit in one function."""

    key: str  # function:line:column:edit, unique
    function: str
    line: int
    change: str
    source: str  # the whole module, mutated function spliced in

    @property
    def affects(self) -> tuple[str, ...]:
        """Layer functions whose outputs the edit can change."""
        return HELPERS.get(self.function, (self.function,))

    @property
    def description(self) -> str:
        return f"{self.function} line {self.line}: {self.change}"


BINOPS: dict[type[ast.operator], tuple[type[ast.operator], ...]] = {
    ast.Add: (ast.Sub, ast.Mult),
    ast.Sub: (ast.Add,),
    ast.Mult: (ast.Add, ast.Div),
    ast.Div: (ast.Mult, ast.FloorDiv),
    ast.FloorDiv: (ast.Div, ast.Mult),
    ast.MatMult: (ast.Mult,),
    ast.Pow: (ast.Mult,),
}
NONCOMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.MatMult, ast.Pow)
COMPARISONS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt, ast.LtE),
    ast.Lt: (ast.LtE, ast.Gt),
    ast.LtE: (ast.Lt, ast.GtE),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
}
ATTRIBUTES = {
    "max": "min",
    "min": "max",
    "maximum": "minimum",
    "argmax": "argmin",
    "sum": "mean",
}
# Names that index the same kind of thing and are easy to mix up.
NAME_PAIRS = (("H", "W"), ("h", "w"), ("H2", "W2"), ("C1", "C2"), ("top", "left"))
SYMBOLS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.Pow: "**",
}

Edit = tuple[str, ast.AST]  # (what changed, the node that replaces the site)
Path_ = tuple[tuple[str, int | None], ...]  # fields from the function to a site


def _numbers(value: float) -> list[float]:
    """Replacements of a numeric constant: 0->1, 1->0 or 2, 2->1 or 3, n->n+1."""
    table = {0: [1], 1: [0, 2], 2: [1, 3]}
    found = table.get(value, [value + 1]) if value == int(value) else [value + 1]
    return [type(value)(v) for v in found]


def _swapped(items: list[ast.AST], i: int) -> list[ast.AST]:
    items = list(items)
    items[i], items[i + 1] = items[i + 1], items[i]
    return items


def _edits(node: ast.AST, names: set[str]) -> list[Edit]:
    """Every single edit of one node; `names` are the function's own names."""
    new = copy.deepcopy
    edits: list[Edit] = []
    if isinstance(node, ast.BinOp):
        symbol = SYMBOLS.get(type(node.op), "?")
        for op in BINOPS.get(type(node.op), ()):
            edits.append(
                (f"{symbol} -> {SYMBOLS[op]}", ast.BinOp(node.left, op(), node.right))
            )
        if isinstance(node.op, NONCOMMUTATIVE):
            edits.append(
                ("operands swapped", ast.BinOp(node.right, node.op, node.left))
            )
        edits.append(("right operand dropped", new(node.left)))
        edits.append(("left operand dropped", new(node.right)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        edits.append(("minus sign dropped", new(node.operand)))
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        for op in COMPARISONS.get(type(node.ops[0]), ()):
            edits.append(
                ("comparison changed", ast.Compare(node.left, [op()], node.comparators))
            )
    elif isinstance(node, ast.Constant) and not isinstance(node.value, bool):
        if isinstance(node.value, int | float):
            for value in _numbers(node.value):
                edits.append(("constant", ast.Constant(value)))
        elif node.value in ("F", "C"):
            other = "C" if node.value == "F" else "F"
            edits.append(("memory order", ast.Constant(other)))
    elif isinstance(node, ast.Attribute):
        if node.attr == "T":
            edits.append((".T dropped", new(node.value)))
        elif node.attr in ATTRIBUTES:
            renamed = ast.Attribute(node.value, ATTRIBUTES[node.attr], node.ctx)
            edits.append((f".{node.attr} -> .{ATTRIBUTES[node.attr]}", renamed))
    elif isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "copy" and not node.args:
            edits.append((".copy() dropped", new(func.value)))
        for i in range(len(node.args) - 1):
            call = ast.Call(func, _swapped(node.args, i), node.keywords)
            edits.append((f"arguments {i} and {i + 1} swapped", call))
        for i, keyword in enumerate(node.keywords):
            kept = node.keywords[:i] + node.keywords[i + 1 :]
            edits.append((f"{keyword.arg}= dropped", ast.Call(func, node.args, kept)))
    elif isinstance(node, ast.Subscript):
        edits.append(("subscript dropped", new(node.value)))
    elif isinstance(node, ast.Slice):
        if node.lower is not None:
            edits.append(
                ("slice start dropped", ast.Slice(None, node.upper, node.step))
            )
        if node.upper is not None:
            edits.append(("slice stop dropped", ast.Slice(node.lower, None, node.step)))
    elif isinstance(node, ast.Tuple):
        for i in range(len(node.elts) - 1):
            swapped = ast.Tuple(_swapped(node.elts, i), node.ctx)
            edits.append((f"items {i} and {i + 1} swapped", swapped))
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        for a, b in NAME_PAIRS:
            if node.id in (a, b) and {a, b} <= names:
                other = b if node.id == a else a
                edits.append(("name", ast.Name(other, node.ctx)))
    return edits


def _children(node: ast.AST) -> Iterator[tuple[ast.AST, str, int | None]]:
    for name, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield item, name, i
        elif isinstance(value, ast.AST):
            yield value, name, None


def _sites(function: ast.FunctionDef) -> Iterator[tuple[ast.AST, Path_]]:
    """Every node of the body after the docstring, with its path, pre-order."""
    first = 1 if ast.get_docstring(function) is not None else 0
    for index in range(first, len(function.body)):
        yield from _walk(function.body[index], (("body", index),))


def _walk(node: ast.AST, path: Path_) -> Iterator[tuple[ast.AST, Path_]]:
    yield node, path
    for child, name, index in _children(node):
        yield from _walk(child, (*path, (name, index)))


def _replace(function: ast.FunctionDef, path: Path_, node: ast.AST) -> ast.FunctionDef:
    """A copy of the function with the node at `path` replaced."""
    mutated = copy.deepcopy(function)
    parent: ast.AST = mutated
    for name, index in path[:-1]:
        value = getattr(parent, name)
        parent = value[index] if index is not None else value
    name, index = path[-1]
    if index is None:
        setattr(parent, name, node)
    else:
        getattr(parent, name)[index] = node
    return ast.fix_missing_locations(mutated)


def _names(function: ast.FunctionDef) -> set[str]:
    params = {a.arg for a in function.args.args}
    return params | {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}


def _snippet(node: ast.AST, width: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= width else text[: width - 3] + "..."


def splice(text: str, function: ast.FunctionDef, code: str) -> str:
    """The module text with one top-level function's lines replaced by code."""
    lines = text.splitlines(keepends=True)
    head, tail = lines[: function.lineno - 1], lines[function.end_lineno or 0 :]
    return "".join(head) + code.rstrip("\n") + "\n" + "".join(tail)


def reference_text() -> str:
    return REFERENCE.read_text(encoding="utf-8")


def _functions(text: str) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(text)
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def generate(text: str | None = None) -> list[Mutant]:
    """Every mutant of the layer functions and their helpers, sorted.

    An edit that leaves the function's code unchanged, or that gives the same
    code as an earlier edit, is dropped: each mutant is a distinct program.
    """
    text = reference_text() if text is None else text
    functions = _functions(text)
    found: list[tuple[tuple[int, int, int, int], Mutant]] = []
    for order, name in enumerate((*LAYERS, *HELPERS)):
        function = functions[name]
        original = ast.unparse(function)
        seen = {original}
        names = _names(function)
        for site, path in _sites(function):
            line = getattr(site, "lineno", function.lineno)
            column = getattr(site, "col_offset", 0)
            for rank, (what, node) in enumerate(_edits(site, names)):
                code = ast.unparse(_replace(function, path, node))
                if code in seen:
                    continue
                seen.add(code)
                change = f"`{_snippet(site)}` -> `{_snippet(node)}` ({what})"
                key = f"{name}:{line}:{column}:{len(seen) - 1}"
                mutant = Mutant(key, name, line, change, splice(text, function, code))
                found.append(((order, line, column, rank), mutant))
    return [m for _, m in sorted(found, key=lambda pair: pair[0])]


def variant(function: str, code: str, change: str = "hand-written") -> Mutant:
    """The reference with one function replaced by `code` (for tests)."""
    text = reference_text()
    node = _functions(text)[function]
    return Mutant(
        f"{function}:variant", function, node.lineno, change, splice(text, node, code)
    )


# -- probes: the inputs each function is called on ----------------------------
#
# Written here rather than taken from the grader's cases, so that a gap in
# those cases shows: the homework's shapes, other sizes, non-square images,
# odd kernels other than 3x3 (even ones make "same" padding ambiguous), n = m
# for fc, negative values, pooling ties, exact zeros at ReLU's kink, scores
# near +-1000, batch sizes larger than or dividing n. `tag` marks the probes
# that a survivor's report should name.


@dataclass(frozen=True)
class Probe:
    """One seeded call. `tag` names what is special about it, if anything."""

    label: str
    args: tuple[Any, ...]
    seed: int = 0
    tag: str = ""


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(7000 + seed)


def _one_hot(rng: np.random.Generator, n: int) -> np.ndarray:
    y = np.zeros((n, 1))
    y[rng.integers(n), 0] = 1.0
    return y


def _naive_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Zero-padded 'same' cross-correlation by loops (odd kernels)."""
    H, W, _ = x.shape
    h, k, _, C2 = w.shape
    pad = np.pad(x, ((h // 2, h // 2), (k // 2, k // 2), (0, 0)))
    y = np.empty((H, W, C2))
    for i, j in np.ndindex(H, W):
        y[i, j] = np.tensordot(pad[i : i + h, j : j + k], w, axes=3) + b.reshape(-1)
    return y


def _fc_probes(backward: bool) -> list[Probe]:
    found = []
    for seed, (m, n) in enumerate(
        ((196, 10), (147, 10), (196, 30), (7, 3), (3, 7), (5, 5))
    ):
        rng = _rng(seed)
        x, w, b = (
            rng.normal(size=(m, 1)),
            rng.normal(size=(n, m)),
            rng.normal(size=(n, 1)),
        )
        args: tuple[Any, ...] = (x, w, b)
        if backward:
            args = (rng.normal(size=(1, n)), x, w, b, w @ x + b)
        found.append(Probe(f"x ({m}, 1), w ({n}, {m})", args))
    return found


def _loss_probes(softmax: bool) -> list[Probe]:
    rng = _rng(20)
    found = [
        Probe("(10, 1), one-hot y", (rng.normal(size=(10, 1)) * 3, _one_hot(rng, 10))),
        Probe("(4, 1), one-hot y", (rng.normal(size=(4, 1)), _one_hot(rng, 4))),
        Probe("(1, 1)", (rng.normal(size=(1, 1)), np.ones((1, 1)))),
    ]
    if not softmax:
        found.append(
            Probe(
                "(10, 1), real y", (rng.normal(size=(10, 1)), rng.normal(size=(10, 1)))
            )
        )
        return found
    for label, centre in (
        ("near +-1000", None),
        ("near +1000", 1000.0),
        ("near -1000", -1000.0),
    ):
        x = rng.normal(size=(10, 1))
        x += np.round(rng.normal(size=(10, 1))) * 1000.0 if centre is None else centre
        found.append(
            Probe(f"scores {label}", (x, _one_hot(rng, 10)), tag="large scores")
        )
    return found


def _relu_probes(backward: bool) -> list[Probe]:
    found = []
    for seed, shape in enumerate(((30, 1), (14, 14, 3), (7, 7, 3), (5,))):
        rng = _rng(30 + seed)
        x = rng.normal(size=shape)
        x[np.abs(x) < 0.05] = 0.5
        args = (rng.normal(size=shape), x, np.maximum(x, 0)) if backward else (x,)
        found.append(Probe(f"x {shape}", args))
    rng = _rng(39)
    x = rng.integers(-2, 3, size=(4, 4, 2)).astype(np.float64)
    args = (rng.normal(size=x.shape), x, np.maximum(x, 0)) if backward else (x,)
    found.append(Probe("x (4, 4, 2) with zeros", args, tag="kink"))
    return found


CONV_SHAPES = (
    ((14, 14, 1), (3, 3, 1, 3), ""),
    ((8, 8, 2), (3, 3, 2, 4), ""),
    ((6, 10, 2), (3, 3, 2, 3), "non-square image"),
    ((10, 6, 1), (3, 3, 1, 2), "non-square image"),
    ((9, 7, 2), (5, 5, 2, 3), "5x5 kernel"),
    ((6, 8, 1), (3, 5, 1, 2), "3x5 kernel"),
    ((5, 5, 2), (1, 1, 2, 2), "1x1 kernel"),
)


def _conv_probes(backward: bool) -> list[Probe]:
    found = []
    for seed, (x_shape, w_shape, tag) in enumerate(CONV_SHAPES):
        rng = _rng(40 + seed)
        x, w = rng.normal(size=x_shape), rng.normal(size=w_shape)
        b = rng.normal(size=(w_shape[3], 1))
        args: tuple[Any, ...] = (x, w, b)
        if backward:
            dl_dy = rng.normal(size=(*x_shape[:2], w_shape[3]))
            args = (dl_dy, x, w, b, _naive_conv(x, w, b))
        found.append(Probe(f"x {x_shape}, w_conv {w_shape}", args, tag=tag))
    return found


POOL_SHAPES = (
    ((14, 14, 3), "distinct"),
    ((8, 8, 2), "distinct"),
    ((2, 8, 3), "distinct"),
    ((8, 2, 1), "distinct"),
    ((4, 6, 1), "negative"),
    ((6, 6, 2), "ties"),
    ((4, 4, 1), "all equal"),
)


def _pool_probes(backward: bool) -> list[Probe]:
    found = []
    for seed, (shape, kind) in enumerate(POOL_SHAPES):
        rng = _rng(50 + seed)
        if kind == "ties":
            x = rng.integers(0, 3, size=shape).astype(np.float64)
        elif kind == "all equal":
            x = np.full(shape, 0.5)
        elif kind == "negative":
            x = -rng.random(shape) - 0.5
        else:
            x = rng.permutation(int(np.prod(shape))).reshape(shape) / 10.0 - 3.0
        H, W, C = shape
        y = x.reshape(H // 2, 2, W // 2, 2, C).max(axis=(1, 3))
        args = (rng.normal(size=y.shape), x, y) if backward else (x,)
        tag = "ties" if kind in ("ties", "all equal") else ""
        found.append(Probe(f"x {shape}, {kind} values", args, tag=tag))
    return found


def _flat_probes(backward: bool) -> list[Probe]:
    found = []
    for seed, shape in enumerate(
        ((7, 7, 3), (4, 5, 2), (3, 2, 4), (2, 3, 1), (1, 4, 2))
    ):
        rng = _rng(60 + seed)
        x = rng.normal(size=shape)
        args = (
            (rng.normal(size=(1, x.size)), x, x.reshape(-1, 1, order="F"))
            if backward
            else (x,)
        )
        found.append(Probe(f"x {shape}", args))
    return found


def _batch_probes() -> list[Probe]:
    found = []
    for seed, (rows, n, size) in enumerate(
        ((196, 200, 32), (196, 70, 16), (20, 50, 8), (5, 7, 10), (196, 64, 32))
    ):
        rng = _rng(70 + seed)
        images = rng.random((rows, n))
        labels = rng.integers(0, 10, size=(1, n)).astype(np.uint8)
        found.append(
            Probe(
                f"im_train ({rows}, {n}), batch_size {size}",
                (images, labels, size),
                seed,
            )
        )
    return found


_BUILDERS: dict[str, Callable[[], list[Probe]]] = {
    "get_mini_batch": _batch_probes,
    "fc": lambda: _fc_probes(False),
    "fc_backward": lambda: _fc_probes(True),
    "loss_euclidean": lambda: _loss_probes(False),
    "loss_cross_entropy_softmax": lambda: _loss_probes(True),
    "relu": lambda: _relu_probes(False),
    "relu_backward": lambda: _relu_probes(True),
    "conv": lambda: _conv_probes(False),
    "conv_backward": lambda: _conv_probes(True),
    "pool2x2": lambda: _pool_probes(False),
    "pool2x2_backward": lambda: _pool_probes(True),
    "flattening": lambda: _flat_probes(False),
    "flattening_backward": lambda: _flat_probes(True),
}


@functools.cache
def probes(function: str) -> tuple[Probe, ...]:
    """The probes of one layer function, built once per process (every call
    works on copies of their arguments)."""
    return tuple(_BUILDERS[function]())


# -- judging one output ------------------------------------------------------

# Each output of each function and how its layouts may differ: "exact" (only
# the spec's shape), "vector" (column, row or flat), "scalar" (any one-element
# array), "dl_dw" (fc's weight gradient), "leaky" (ReLU), "ties" (pooling).
OUTPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "get_mini_batch": (("mini_batch_x", "batches"), ("mini_batch_y", "batches")),
    "fc": (("y", "vector"),),
    "fc_backward": (("dl_dx", "vector"), ("dl_dw", "dl_dw"), ("dl_db", "vector")),
    "loss_euclidean": (("l", "scalar"), ("dl_dy", "vector")),
    "loss_cross_entropy_softmax": (("l", "scalar"), ("dl_dy", "vector")),
    "relu": (("y", "leaky"),),
    "relu_backward": (("dl_dx", "leaky"),),
    "conv": (("y", "exact"),),
    "conv_backward": (("dl_dw", "exact"), ("dl_db", "vector")),
    "pool2x2": (("y", "exact"),),
    "pool2x2_backward": (("dl_dx", "ties"),),
    "flattening": (("y", "vector"),),
    "flattening_backward": (("dl_dx", "exact"),),
}


def _as_array(value: object) -> np.ndarray | None:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(
        np.isclose(a, b, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True).all()
    )


def _difference(obtained: np.ndarray, expected: np.ndarray) -> str:
    """What a person needs to see: shape, or how many entries differ and where."""
    if obtained.shape != expected.shape:
        return f"shape {obtained.shape}, expected {expected.shape}"
    with np.errstate(invalid="ignore", over="ignore"):
        bad = ~np.isclose(obtained, expected, rtol=TOLERANCE, atol=TOLERANCE)
        error = np.abs(obtained - expected)
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    largest = (
        np.nanmax(np.where(bad, error, 0.0)) if np.isfinite(error).any() else np.inf
    )
    return (
        f"{int(bad.sum())} of {bad.size} entries differ (largest {largest:.3g}); "
        f"at {index}: {obtained[index]:.6g}, expected {expected[index]:.6g}"
    )


def _flat(array: np.ndarray) -> bool:
    return sum(d > 1 for d in array.shape) <= 1


def _layouts(
    rule: str, obtained: np.ndarray, expected: np.ndarray, args: tuple[Any, ...]
) -> list[tuple[np.ndarray, str]]:
    """Readings of an answer in the spec's layout that the README allows."""
    readings = []
    if (
        rule in ("vector", "scalar")
        and obtained.size == expected.size
        and _flat(obtained)
    ):
        readings.append((obtained.reshape(expected.shape), f"shape {obtained.shape}"))
    if rule == "dl_dw" and obtained.size == expected.size:
        n, m = np.shape(args[2])
        if obtained.shape == (n, m):
            readings.append(
                (obtained.reshape(expected.shape), "dl_dw as the (n, m) matrix")
            )
        if _flat(obtained):
            flat = obtained.reshape(-1)
            readings.append(
                (flat.reshape(expected.shape), f"dl_dw of shape {obtained.shape}")
            )
            by_columns = flat.reshape((n, m), order="F").reshape(expected.shape)
            readings.append((by_columns, "dl_dw flattened column by column"))
    return readings


def _leaky(
    obtained: np.ndarray,
    expected: np.ndarray,
    x: np.ndarray,
    scale: np.ndarray,
    backward: bool,
) -> str:
    """Why the answer is an allowed ReLU, or "": a small slope times `scale` (x
    for relu, dl_dy for its backward) where x < 0, and, for the backward, any
    share of dl_dy at x == 0 (each one a subgradient at the kink)."""
    if obtained.shape != expected.shape:
        return ""
    positive, negative, zero = x > 0, x < 0, x == 0
    reasons = []
    if not _close(obtained[positive], expected[positive]):
        return ""
    if not _close(obtained[negative], expected[negative]):
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = float(np.median(obtained[negative] / scale[negative]))
        if not (
            0 < slope <= LEAKY_SLOPE_MAX
            and _close(obtained[negative], slope * scale[negative])
        ):
            return ""
        reasons.append(f"leaky ReLU, slope {slope:g}")
    if not _close(obtained[zero], expected[zero]):
        with np.errstate(divide="ignore", invalid="ignore"):
            share = obtained[zero] / scale[zero]
        if not backward or not np.all((share >= -TOLERANCE) & (share <= 1 + TOLERANCE)):
            return ""
        reasons.append("another subgradient at x = 0")
    return "; ".join(reasons)


def _ties(obtained: np.ndarray, x: np.ndarray, dl_dy: np.ndarray) -> str:
    """Why a pooling gradient is allowed, or "": all of each window's dl_dy
    split among that window's tied maxima, nothing elsewhere."""
    if obtained.shape != x.shape:
        return ""
    H, W, C = x.shape
    windows = x.reshape(H // 2, 2, W // 2, 2, C)
    is_max = windows == windows.max(axis=(1, 3), keepdims=True)
    got = obtained.reshape(windows.shape)
    off_max = np.where(is_max, 0.0, got)
    if _close(off_max, np.zeros_like(off_max)) and _close(
        got.sum(axis=(1, 3)), np.reshape(dl_dy, (H // 2, W // 2, C))
    ):
        return "ties: the gradient goes to another tied maximum"
    return ""


def judge_output(
    function: str,
    index: int,
    value: object,
    expected: np.ndarray,
    args: tuple[Any, ...],
) -> tuple[str, str]:
    """("same" | "allowed" | "differs", why) for one output of one call."""
    rule = OUTPUTS[function][index][1]
    obtained = _as_array(value)
    if obtained is None:
        return "differs", f"not numeric: {type(value).__name__}"
    if _close(obtained, expected):
        return "same", ""
    for reading, why in _layouts(rule, obtained, expected, args):
        if _close(reading, expected):
            return "allowed", why
    why = ""
    if rule == "leaky" and function == "relu":
        why = _leaky(obtained, expected, args[0], args[0], backward=False)
    elif rule == "leaky":
        why = _leaky(obtained, expected, args[1], np.asarray(args[0]), backward=True)
    elif rule == "ties":
        why = _ties(obtained, args[1], args[0])
    return ("allowed", why) if why else ("differs", _difference(obtained, expected))


def batches_problem(
    value: object, images: np.ndarray, labels: np.ndarray, size: int
) -> str:
    """What makes get_mini_batch's answer wrong, or "" when it is a valid
    shuffle: every column once, with its own one-hot label, in batches of
    `size` (the last may be smaller), not in the original order."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return f"returned {type(value).__name__}, expected (mini_batch_x, mini_batch_y)"
    xs, ys = (
        [_as_array(b) for b in part] if isinstance(part, list | tuple) else [None]
        for part in value
    )
    if any(b is None or b.ndim != 2 for b in (*xs, *ys)) or len(xs) != len(ys):
        return "not two equally long lists of 2-D numeric arrays"
    rows, n = images.shape
    sizes = [b.shape[1] for b in xs]
    if any(
        x.shape[0] != rows or y.shape != (10, x.shape[1])
        for x, y in zip(xs, ys, strict=True)
    ):
        return f"batch shapes {[x.shape for x in xs][:3]} / {[y.shape for y in ys][:3]}"
    if sum(sizes) != n or any(s != size for s in sizes[:-1]) or sizes[-1] > size:
        return f"batch sizes {sizes}, for {n} columns in batches of {size}"
    where = {images[:, j].tobytes(): j for j in range(n)}
    taken = np.concatenate(xs, axis=1)
    order = [where.get(taken[:, k].tobytes(), -1) for k in range(n)]
    if sorted(order) != list(range(n)):
        return "columns dropped, repeated or altered"
    one_hot = np.concatenate(ys, axis=1)
    want = np.zeros((10, n))
    want[labels.reshape(-1).astype(np.int64)[order], np.arange(n)] = 1.0
    if not _close(one_hot, want):
        return "labels are not the one-hot of each column's own label"
    if n > 1 and order == list(range(n)):
        return "not shuffled"
    return ""


# -- classifying ---------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One output of one probe on which a mutant and the reference disagree."""

    function: str
    probe: str
    output: str
    detail: str
    tag: str = ""

    def __str__(self) -> str:
        tag = f" [{self.tag}]" if self.tag else ""
        return f"{self.function}({self.probe}){tag} {self.output}: {self.detail}"


@dataclass(frozen=True)
class Classified:
    """Whether a mutant changes outputs: equivalent | allowed | changing."""

    verdict: str
    differences: tuple[Difference, ...] = ()
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Call:
    value: object = None
    raised: str = ""
    modified: tuple[int, ...] = ()


def _call(fn: object, probe: Probe) -> _Call:
    """One call on fresh copies of the probe's arguments, seeded as the grader
    seeds its calls; which arguments it changed in place is recorded."""
    if not callable(fn):
        return _Call(raised="not defined")
    args = copy.deepcopy(probe.args)
    np.random.seed(probe.seed)
    try:
        value = fn(*args)
    except Exception as err:  # the mutant's own failure is the finding
        return _Call(raised=f"{type(err).__name__}: {str(err)[:80]}")
    modified = tuple(
        i
        for i, (a, b) in enumerate(zip(args, probe.args, strict=True))
        if isinstance(b, np.ndarray) and not np.array_equal(a, b, equal_nan=True)
    )
    return _Call(value, modified=modified)


def _load(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "cnn"}
    exec(compile(source, "cnn.py", "exec"), namespace)  # our own mutants only
    return namespace


def _same_batches(a: object, b: object) -> bool:
    try:
        return all(
            len(p) == len(q)
            and all(
                _close(_as_array(u), _as_array(v)) for u, v in zip(p, q, strict=True)
            )
            for p, q in zip(a, b, strict=True)  # type: ignore[call-overload]
        )
    except (TypeError, ValueError, AttributeError):
        return False


def _judge_call(
    function: str, probe: Probe, want: _Call, got: _Call
) -> tuple[list[Difference], list[str]]:
    """The differences, and the allowed deviations, of one call."""

    def differs(output: str, detail: str) -> list[Difference]:
        return [Difference(function, probe.label, output, detail, probe.tag)]

    if want.raised or got.raised:
        if want.raised and got.raised:
            return [], []
        return differs("call", got.raised or f"the reference raises {want.raised}"), []
    if function == "get_mini_batch":
        if _same_batches(got.value, want.value):
            return [], []
        problem = batches_problem(got.value, *probe.args)
        return (differs("batches", problem), []) if problem else ([], ["a reshuffle"])
    names = [name for name, _ in OUTPUTS[function]]
    values = got.value if len(names) > 1 else (got.value,)
    expected = want.value if len(names) > 1 else (want.value,)
    if not isinstance(values, list | tuple) or len(values) != len(names):
        returned = type(got.value).__name__
        return differs("return", f"{returned}, expected {len(names)} values"), []
    found: list[Difference] = []
    reasons = []
    for index, name in enumerate(names):
        want_array = np.asarray(expected[index], dtype=np.float64)
        status, why = judge_output(
            function, index, values[index], want_array, probe.args
        )
        if status == "differs":
            found += differs(name, why)
        elif status == "allowed":
            reasons.append(f"{function} {name}: {why}")
    if got.modified and not want.modified:
        reasons.append(f"{function} changes argument(s) {list(got.modified)}")
    return found, reasons


def evaluate(
    source: str,
    affects: Sequence[str],
    reference: dict[str, Any],
    cache: dict[tuple[str, int], _Call],
) -> Classified:
    """Call the mutant's affected functions and the reference's on every probe
    (the reference's answers are cached across mutants)."""
    try:
        mutant = _load(source)
    except Exception as err:
        return Classified(
            "changing", (Difference(affects[0], "-", "import", repr(err)),)
        )
    differences: list[Difference] = []
    reasons: list[str] = []
    for function in affects:
        for index, probe in enumerate(probes(function)):
            if (function, index) not in cache:
                cache[function, index] = _call(reference[function], probe)
            got = _call(mutant.get(function), probe)
            found, why = _judge_call(function, probe, cache[function, index], got)
            differences += found
            reasons += [f"{r} ({probe.label})" for r in why]
    if differences:
        return Classified("changing", tuple(differences))
    verdict = "allowed" if reasons else "equivalent"
    return Classified(verdict, reasons=tuple(dict.fromkeys(reasons)))


def _classified_json(result: Classified) -> dict[str, Any]:
    return {
        "verdict": result.verdict,
        "differences": [d.__dict__ for d in result.differences],
        "reasons": list(result.reasons),
    }


def _lost(function: str, detail: str) -> Classified:
    return Classified("changing", (Difference(function, "-", "call", detail),))


def classify(
    mutants: Sequence[Mutant], workers: int = 2, seconds: float = MUTANT_SECONDS
) -> dict[str, Classified]:
    """Each mutant's verdict, keyed by mutant key, from `workers` processes.

    A mutant that takes more than `seconds` over all its probes, exhausts the
    worker's memory or kills it is output-changing: the reference answers
    every probe at once.
    """
    jobs = [
        {"source": m.source, "affects": list(m.affects), "seconds": seconds}
        for m in mutants
    ]
    answers = _pool("classify", jobs, workers, seconds + 30)
    found = {}
    for mutant, answer in zip(mutants, answers, strict=True):
        if "lost" in answer:
            found[mutant.key] = _lost(mutant.affects[0], answer["lost"])
        else:
            found[mutant.key] = Classified(
                answer["verdict"],
                tuple(Difference(**d) for d in answer["differences"]),
                tuple(answer["reasons"]),
            )
    return found


# -- grading -------------------------------------------------------------------


@dataclass(frozen=True)
class Graded:
    """The grader's verdict on one mutant's hand-in (functions only)."""

    failing: dict[str, str] = field(default_factory=dict)  # check: status, message
    error: str = ""  # the grader itself failed

    @property
    def killed(self) -> bool:
        return bool(self.failing)


def grade(
    sources: Sequence[str],
    root: Path,
    workers: int = 2,
    only: Sequence[Sequence[str]] | None = None,
) -> list[Graded]:
    """Grade each module text as the hand-in root/mNNNN/cnn.py, `--quick`.

    `only[i]` names the checks to run on hand-in i (default: every check): a
    mutant leaves the other functions as the reference has them, and their
    checks would only cost time. Each worker process calls
    `grader.grade.grade()` on one hand-in after another; the grader sandboxes
    each one in a child of its own.
    """
    jobs = [
        {
            "source": source,
            "folder": str(root / f"m{i:04d}"),
            "only": list(only[i]) if only is not None else [],
        }
        for i, source in enumerate(sources)
    ]
    answers = _pool("grade", jobs, workers, GRADE_SECONDS)
    return [
        Graded(error=a["lost"]) if "lost" in a else Graded(a["failing"], a["error"])
        for a in answers
    ]


def _grade_job(job: dict[str, Any]) -> dict[str, Any]:
    from grader import rubric
    from grader.grade import Options
    from grader.grade import grade as grade_handin

    folder = Path(job["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cnn.py").write_text(job["source"], encoding="utf-8")
    try:
        options = Options(rubric=rubric.load(), quick=True, only=tuple(job["only"]))
        result = grade_handin(folder, options)
    except Exception as err:  # a failure of the grader itself, reported
        return {"failing": {}, "error": f"{type(err).__name__}: {err}"}
    failing = {
        c.name: f"{c.status}: {c.message}"
        for c in result.checks
        if c.kind == "function" and c.status != "pass"
    }
    return {"failing": failing, "error": ""}


# -- worker processes ------------------------------------------------------------


class _Timeout(BaseException):
    """Raised by the worker's alarm; a BaseException, so that no `except
    Exception` on the way (the mutant's or ours) swallows it."""


def _worker(kind: str, jobs_file: str, start: int) -> None:
    """Answer jobs[start:] of a JSON file, one JSON line per job, in order.

    A classifying worker runs mutants in its own process: it caps its address
    space and gives each job an alarm, as a mutant may allocate or loop
    without end.
    """
    jobs = json.loads(Path(jobs_file).read_text(encoding="utf-8"))
    reference: dict[str, Any] = {}
    cache: dict[tuple[str, int], _Call] = {}
    if kind == "classify":
        # overflow and invalid-value warnings of mutants are findings, not news
        warnings.simplefilter("ignore")
        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signal.SIGALRM, _raise_timeout)
        reference = _load(reference_text())
    for index in range(start, len(jobs)):
        job = jobs[index]
        if kind == "grade":
            answer = _grade_job(job)
        else:
            signal.setitimer(signal.ITIMER_REAL, job["seconds"])
            try:
                classified = evaluate(job["source"], job["affects"], reference, cache)
            except (_Timeout, MemoryError, RecursionError) as err:
                classified = _lost(job["affects"][0], str(err) or type(err).__name__)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            answer = _classified_json(classified)
        print(json.dumps({"index": index, "answer": answer}), flush=True)


def _raise_timeout(signum: int, frame: object) -> None:
    raise _Timeout("no answer in time")


def _pool(
    kind: str, jobs: Sequence[dict[str, Any]], workers: int, job_seconds: float
) -> list[dict[str, Any]]:
    """Every job's answer, from `workers` worker processes at once; a job that
    hangs or kills its worker is answered {"lost": why}."""
    chunks = [list(range(i, len(jobs), workers)) for i in range(workers)]
    answers: list[dict[str, Any]] = [{} for _ in jobs]
    with tempfile.TemporaryDirectory(prefix="mutants-") as folder:

        def work(chunk: list[int]) -> None:
            jobs_file = Path(folder) / f"{kind}-{chunk[0]}.json"
            jobs_file.write_text(json.dumps([jobs[i] for i in chunk]))
            for index, answer in enumerate(
                _run_worker(kind, jobs_file, len(chunk), job_seconds)
            ):
                answers[chunk[index]] = answer

        with ThreadPoolExecutor(max(1, workers)) as pool:
            list(pool.map(work, [c for c in chunks if c]))
    return answers


def _run_worker(
    kind: str, jobs_file: Path, count: int, job_seconds: float
) -> list[dict[str, Any]]:
    """Run one worker over a jobs file, restarting it after a lost job.

    The worker's stderr goes to a file, not a pipe: a pipe nobody reads fills
    up with warnings and blocks the worker.
    """
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    script = str(Path(__file__).resolve())
    answers: list[dict[str, Any]] = []
    while len(answers) < count:
        command = [sys.executable, script, "worker", kind, str(jobs_file)]
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(
                [*command, str(len(answers))],
                stdout=subprocess.PIPE,
                stderr=errors,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=REPO,
            )
            assert proc.stdout is not None
            why = "the worker ended"
            buffer = b""
            while len(answers) < count:
                ready, _, _ = select.select([proc.stdout], [], [], job_seconds)
                if not ready:
                    why = f"no answer within {job_seconds:g} s"
                    break
                chunk = os.read(proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    break
                *lines, buffer = (buffer + chunk).split(b"\n")
                answers += [json.loads(line)["answer"] for line in lines]
            proc.kill()
            proc.communicate()
            if len(answers) < count:
                errors.seek(0)
                tail = errors.read().decode(errors="replace").strip()[-300:]
                lost = f"{why} (exit {proc.returncode}) {tail}".strip()
                answers.append({"lost": lost})
    return answers


# -- the whole run ---------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A mutant, whether it changes outputs, and the grader's verdict."""

    mutant: Mutant
    classified: Classified
    graded: Graded | None = None

    @property
    def survives(self) -> bool:
        """Output-changing, graded without error, and every function passed."""
        graded = self.graded
        return (
            self.classified.verdict == "changing"
            and graded is not None
            and not graded.killed
            and not graded.error
        )


def run(
    mutants: Sequence[Mutant],
    root: Path,
    workers: int = 2,
    grade_equivalent: bool = False,
    every_check: bool = False,
) -> list[Outcome]:
    """Classify every mutant, then grade the changing and allowed ones (and the
    equivalent ones when asked: a grader that fails one is too strict). Only
    the checks of the functions a mutant affects run, unless `every_check`."""
    classified = classify(mutants, workers)
    chosen = [
        m
        for m in mutants
        if grade_equivalent or classified[m.key].verdict != "equivalent"
    ]
    only = None if every_check else [m.affects for m in chosen]
    graded = grade([m.source for m in chosen], root, workers, only)
    by_key = dict(zip((m.key for m in chosen), graded, strict=True))
    return [Outcome(m, classified[m.key], by_key.get(m.key)) for m in mutants]


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "worker":
    _worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
