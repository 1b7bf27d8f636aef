"""Probes of a failing trainer: its first calls to the student's layers.

The sandbox records the first calls a trainer makes to the module's layer
functions (arguments and results); each probe here reads that record for
evidence of a known mistake in the training step itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Call = tuple[str, list[object], object]


def _first_layer_backward(calls: Sequence[Call], inputs: int) -> list[Call]:
    """fc_backward calls whose x has `inputs` rows (the model's first layer)."""
    return [
        c
        for c in calls
        if c[0] == "fc_backward" and len(c[1]) >= 5 and np.size(c[1][1]) == inputs
    ]


def mlp_missing_relu_gate(calls: Sequence[Call]) -> bool:
    """The first layer's fc_backward gets gradient where its output y < 0.

    With the ReLU between the layers, dl_dy of the first layer is zero wherever
    that layer's output (the ReLU's input) is negative.
    """
    first = _first_layer_backward(calls, 196)
    if not first:
        return False
    for _, args, _ in first:
        dl_dy = np.asarray(args[0], dtype=np.float64).reshape(-1)
        y = np.asarray(args[4], dtype=np.float64).reshape(-1)
        if dl_dy.shape != y.shape:
            return False
        if np.any(np.abs(dl_dy[y < 0]) > 1e-12):
            return True
    return False


# trainer -> (functions to watch, stop after this many calls of the first one,
# [(mistake, test on the recorded calls)])
PROBES: dict[
    str,
    tuple[
        tuple[str, ...], int, tuple[tuple[str, Callable[[Sequence[Call]], bool]], ...]
    ],
] = {
    "train_mlp": (
        ("fc_backward", "relu_backward", "relu", "fc"),
        6,
        (("mlp-missing-relu-gate", mlp_missing_relu_gate),),
    ),
}
