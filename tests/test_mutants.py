"""Generic mutants of the reference: the grader must catch every one that
changes what a layer function returns.

The fast tests check the machinery of tests/mutants.py: generation, the
judgement of outputs against hand-written variants whose verdict is known,
the worker's limits, and the grading of one mutant per layer function. The
full run (marked `training`, which CI runs once) grades every mutant and
asserts that no output-changing one survives; benchmarks/mutation_score.py
runs the same and prints the score per function.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import mutants
import pytest
from mutants import Mutant, Outcome


@pytest.fixture(scope="module")
def generated() -> list[Mutant]:
    return mutants.generate()


def _variant(function: str, code: str) -> Mutant:
    return mutants.variant(function, textwrap.dedent(code).strip())


def _functions(source: str) -> dict[str, str]:
    tree = ast.parse(source)
    return {n.name: ast.unparse(n) for n in tree.body if isinstance(n, ast.FunctionDef)}


# -- generation ---------------------------------------------------------------


def test_generation_is_deterministic_and_covers_every_layer(
    generated: list[Mutant],
) -> None:
    again = mutants.generate()
    assert [m.key for m in again] == [m.key for m in generated]
    assert len({m.key for m in generated}) == len(generated), "duplicate keys"
    assert 300 <= len(generated) <= 800, f"{len(generated)} mutants"
    counted = {m.function for m in generated}
    assert counted == set(mutants.LAYERS) | set(mutants.HELPERS)


def test_each_mutant_changes_exactly_its_own_function(
    generated: list[Mutant],
) -> None:
    reference = _functions(mutants.reference_text())
    seen = set()
    for mutant in generated[::7]:
        functions = _functions(mutant.source)
        changed = [n for n in reference if functions[n] != reference[n]]
        assert changed == [mutant.function], mutant.description
        assert functions[mutant.function] not in seen, "two mutants, one program"
        seen.add(functions[mutant.function])


# -- judging outputs: variants whose verdict is known -------------------------

VARIANTS = [
    (
        "changing",
        "fc",
        """
        def fc(x, w, b):
            return w @ x
        """,
        "",
    ),
    (
        "allowed",
        "fc_backward",
        """
        def fc_backward(dl_dy, x, w, b, y):
            dl_dy = np.reshape(dl_dy, (1, -1))
            return dl_dy @ w, dl_dy.T @ x.T, dl_dy.reshape(-1)
        """,
        "dl_dw as the (n, m) matrix",
    ),
    (
        "changing",
        "fc_backward",
        """
        def fc_backward(dl_dy, x, w, b, y):
            dl_dy = np.reshape(dl_dy, (1, -1))
            return dl_dy @ w, x @ dl_dy, dl_dy
        """,
        "",
    ),
    (
        "allowed",
        "relu",
        """
        def relu(x):
            return np.where(x > 0, x, 0.01 * x)
        """,
        "slope 0.01",
    ),
    (
        "changing",
        "relu_backward",
        """
        def relu_backward(dl_dy, x, y):
            return dl_dy * (dl_dy > 0)
        """,
        "",
    ),
    (
        "allowed",
        "pool2x2_backward",
        """
        def pool2x2_backward(dl_dy, x, y):
            H, W, C = x.shape
            dl_dx = np.zeros(x.shape)
            for i, j, c in np.ndindex(H // 2, W // 2, C):
                window = x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, c]
                di, dj = np.argwhere(window == window.max())[-1]
                dl_dx[2 * i + di, 2 * j + dj, c] = dl_dy[i, j, c]
            return dl_dx
        """,
        "another tied maximum",
    ),
    (
        "changing",
        "loss_cross_entropy_softmax",
        """
        def loss_cross_entropy_softmax(x, y):
            p = np.exp(x) / np.sum(np.exp(x))
            return float(-np.sum(y * np.log(p))), (p - y).reshape(1, -1)
        """,
        "large scores",
    ),
    (
        "allowed",
        "get_mini_batch",
        """
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            labels = np.asarray(label_train).reshape(-1).astype(np.int64)
            one_hot = np.eye(10)[:, labels]
            order = np.random.permutation(n)[::-1]
            starts = range(0, n, batch_size)
            xs = [im_train[:, order[s : s + batch_size]] for s in starts]
            ys = [one_hot[:, order[s : s + batch_size]] for s in starts]
            return xs, ys
        """,
        "a reshuffle",
    ),
    (
        "changing",
        "get_mini_batch",
        """
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            one_hot = np.eye(10)[:, np.asarray(label_train).reshape(-1)]
            starts = range(0, n, batch_size)
            xs = [im_train[:, s : s + batch_size] for s in starts]
            ys = [one_hot[:, s : s + batch_size] for s in starts]
            return xs, ys
        """,
        "not shuffled",
    ),
    (
        "equivalent",
        "conv",
        """
        def conv(x, w_conv, b_conv):
            H, W, C1 = x.shape
            h, w, _, C2 = w_conv.shape
            pad = np.pad(x, ((h // 2, h // 2), (w // 2, w // 2), (0, 0)))
            y = np.zeros((H, W, C2))
            for i, j in np.ndindex(H, W):
                patch = pad[i : i + h, j : j + w]
                y[i, j] = np.tensordot(patch, w_conv, axes=3) + b_conv.reshape(-1)
            return y
        """,
        "",
    ),
]


@pytest.fixture(scope="module")
def judged() -> dict[str, mutants.Classified]:
    variants = [_variant(function, code) for _, function, code, _ in VARIANTS]
    keyed = [
        Mutant(f"{i}:{m.key}", m.function, m.line, m.change, m.source)
        for i, m in enumerate(variants)
    ]
    found = mutants.classify(keyed, workers=2)
    return {k.split(":", 1)[0]: v for k, v in found.items()}


@pytest.mark.parametrize(
    ("index", "verdict", "function", "why"),
    [(i, v, f, w) for i, (v, f, _, w) in enumerate(VARIANTS)],
    ids=[f"{v}-{f}-{i}" for i, (v, f, _, _) in enumerate(VARIANTS)],
)
def test_known_variant_is_judged_right(
    judged: dict[str, mutants.Classified],
    index: int,
    verdict: str,
    function: str,
    why: str,
) -> None:
    found = judged[str(index)]
    assert found.verdict == verdict, (
        f"{function}: {found.verdict}, expected {verdict}; "
        f"{[str(d) for d in found.differences[:3]]} {found.reasons[:3]}"
    )
    text = " ".join(
        [*found.reasons, *(f"{d.detail} {d.tag}" for d in found.differences)]
    )
    assert why in text, f"{function}: no {why!r} in {text!r}"


def test_worker_survives_a_mutant_that_hangs_hogs_or_exits() -> None:
    hang = _variant("relu", "def relu(x):\n    while True:\n        pass")
    hog = _variant("relu", "def relu(x):\n    return np.ones((1 << 20, 1 << 20))")
    exits = _variant("relu", "def relu(x):\n    import os\n    os._exit(3)")
    fine = _variant("relu", "def relu(x):\n    return np.maximum(0, x)")
    names = ("hang", "hog", "exits", "fine")
    batch = [
        Mutant(f"{n}:{m.key}", m.function, m.line, n, m.source)
        for n, m in zip(names, (hang, hog, exits, fine), strict=True)
    ]
    found = mutants.classify(batch, workers=1, seconds=1.0)
    verdicts = {k.split(":")[0]: v for k, v in found.items()}
    assert verdicts["fine"].verdict == "equivalent"
    for name in ("hang", "hog", "exits"):
        assert verdicts[name].verdict == "changing", name
    assert "no answer in time" in str(verdicts["hang"].differences[0])
    assert "MemoryError" in str(verdicts["hog"].differences[0])
    assert "exit 3" in str(verdicts["exits"].differences[0])


# -- grading ----------------------------------------------------------------


def _survivors(outcomes: list[Outcome]) -> str:
    lines = []
    for o in outcomes:
        if o.survives:
            lines.append(o.mutant.description)
            lines += [f"    {d}" for d in o.classified.differences[:3]]
    return "\n".join(lines)


def test_one_mutant_per_layer_function_is_graded_as_judged(
    generated: list[Mutant], tmp_path: Path
) -> None:
    """The first mutant of each layer function: killed when it changes
    outputs, passed when not; the unmutated reference passes."""
    control = mutants.grade([mutants.reference_text()], tmp_path / "control")[0]
    assert not control.killed and not control.error, control
    sample = [next(m for m in generated if m.function == f) for f in mutants.LAYERS]
    outcomes = mutants.run(sample, tmp_path, workers=2, grade_equivalent=True)
    for outcome in outcomes:
        graded = outcome.graded
        assert graded is not None and not graded.error, outcome.mutant.description
        changing = outcome.classified.verdict == "changing"
        assert graded.killed == changing, (
            f"{outcome.mutant.description}: {outcome.classified.verdict}, "
            f"grader: {graded.failing or 'every check passes'}"
        )


@pytest.mark.training
def test_no_output_changing_mutant_survives(
    generated: list[Mutant], tmp_path: Path
) -> None:
    outcomes = mutants.run(generated, tmp_path, workers=2)
    errors = [o for o in outcomes if o.graded is not None and o.graded.error]
    assert not errors, "\n".join(
        f"{o.mutant.description}: {o.graded.error}"  # type: ignore[union-attr]
        for o in errors
    )
    false_alarms = [
        o
        for o in outcomes
        if o.classified.verdict == "allowed" and o.graded and o.graded.killed
    ]
    assert not false_alarms, [o.mutant.description for o in false_alarms]
    changing = [o for o in outcomes if o.classified.verdict == "changing"]
    survivors = [o for o in changing if o.survives]
    if survivors:
        pytest.fail(
            f"{len(survivors)} of {len(changing)} output-changing mutants pass "
            "every check (python benchmarks/mutation_score.py says more):\n"
            + _survivors(outcomes),
            pytrace=False,
        )
