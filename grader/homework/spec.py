"""What this homework asks for: its functions, trainers, models and targets.

Everything specific to the assignment lives in this package (`grader.homework`);
the engine around it (sandbox, comparison, reports) knows only the names it is
given here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FunctionSpec:
    """A layer function: its parameters and the names of what it returns."""

    name: str
    params: tuple[str, ...]
    outputs: tuple[str, ...]
    forward: str = ""  # the forward function whose gradient this one computes


@dataclass(frozen=True)
class TrainerSpec:
    """A trainer, the weights it returns and the model they define.

    `steps` is the forward pass as the course driver runs it with the
    student's own functions: [function, [argument, ...]] where an argument is
    "x" (one test image, shaped `image_shape` in `image_order`), "prev" (the
    previous step's output) or the index of a returned weight.
    """

    name: str
    weights: tuple[tuple[str, tuple[int, ...]], ...]
    steps: tuple[tuple[str, tuple[object, ...]], ...]
    target: float
    image_shape: tuple[int, ...] = (196, 1)
    image_order: str = "C"
    uses: tuple[str, ...] = ()


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "get_mini_batch",
        ("im_train", "label_train", "batch_size"),
        ("mini_batch_x", "mini_batch_y"),
    ),
    FunctionSpec("fc", ("x", "w", "b"), ("y",)),
    FunctionSpec(
        "fc_backward", ("dl_dy", "x", "w", "b", "y"), ("dl_dx", "dl_dw", "dl_db"), "fc"
    ),
    FunctionSpec("loss_euclidean", ("y_tilde", "y"), ("l", "dl_dy")),
    FunctionSpec("loss_cross_entropy_softmax", ("x", "y"), ("l", "dl_dy")),
    FunctionSpec("relu", ("x",), ("y",)),
    FunctionSpec("relu_backward", ("dl_dy", "x", "y"), ("dl_dx",), "relu"),
    FunctionSpec("conv", ("x", "w_conv", "b_conv"), ("y",)),
    FunctionSpec(
        "conv_backward",
        ("dl_dy", "x", "w_conv", "b_conv", "y"),
        ("dl_dw", "dl_db"),
        "conv",
    ),
    FunctionSpec("pool2x2", ("x",), ("y",)),
    FunctionSpec("pool2x2_backward", ("dl_dy", "x", "y"), ("dl_dx",), "pool2x2"),
    FunctionSpec("flattening", ("x",), ("y",)),
    FunctionSpec("flattening_backward", ("dl_dy", "x", "y"), ("dl_dx",), "flattening"),
)

_FC = ("fc", ("x", 0, 1))

TRAINERS: tuple[TrainerSpec, ...] = (
    TrainerSpec(
        "train_slp_linear",
        (("w", (10, 196)), ("b", (10, 1))),
        (_FC,),
        0.25,
        uses=("fc", "fc_backward", "loss_euclidean"),
    ),
    TrainerSpec(
        "train_slp",
        (("w", (10, 196)), ("b", (10, 1))),
        (_FC,),
        0.85,
        uses=("fc", "fc_backward", "loss_cross_entropy_softmax"),
    ),
    TrainerSpec(
        "train_mlp",
        (("w1", (30, 196)), ("b1", (30, 1)), ("w2", (10, 30)), ("b2", (10, 1))),
        (_FC, ("relu", ("prev",)), ("fc", ("prev", 2, 3))),
        0.90,
        uses=(
            "fc",
            "fc_backward",
            "relu",
            "relu_backward",
            "loss_cross_entropy_softmax",
        ),
    ),
    TrainerSpec(
        "train_cnn",
        (
            ("w_conv", (3, 3, 1, 3)),
            ("b_conv", (3, 1)),
            ("w_fc", (10, 147)),
            ("b_fc", (10, 1)),
        ),
        (
            ("conv", ("x", 0, 1)),
            ("relu", ("prev",)),
            ("pool2x2", ("prev",)),
            ("flattening", ("prev",)),
            ("fc", ("prev", 2, 3)),
        ),
        0.92,
        image_shape=(14, 14, 1),
        image_order="F",
        uses=(
            "conv",
            "conv_backward",
            "relu",
            "relu_backward",
            "pool2x2",
            "pool2x2_backward",
            "flattening",
            "flattening_backward",
            "fc",
            "fc_backward",
            "loss_cross_entropy_softmax",
        ),
    ),
)

# Targets on the embedded digits (grader/data/digits14.npz), used when no course
# data is given. They are not the course's: they were calibrated from the
# reference solution on that set (seed 0: 92.0 %, 94.0 %, 96.3 %, 96.7 % of the
# 300 test images; seeds 1-4 within 1.3 points), less a margin like the
# course's (the linear model keeps the assignment's low bar). The report says so.
EMBEDDED_TARGETS: dict[str, float] = {
    "train_slp_linear": 0.25,
    "train_slp": 0.89,
    "train_mlp": 0.93,
    "train_cnn": 0.94,
}

BATCH_SIZE = 32
TRAINING_SEED = 0
N_CLASSES = 10
MODULE_HINT = "cnn.py"

ALL_NAMES: tuple[str, ...] = tuple(f.name for f in FUNCTIONS) + tuple(
    t.name for t in TRAINERS
)


def function(name: str) -> FunctionSpec:
    return next(f for f in FUNCTIONS if f.name == name)


def trainer(name: str) -> TrainerSpec:
    return next(t for t in TRAINERS if t.name == name)


@dataclass(frozen=True)
class GradientSpec:
    """How to check a backward function against its own forward numerically.

    The forward takes the backward's arguments at `forward_args` (positions);
    output `outputs[k]` of the backward is the gradient with respect to the
    forward's argument `wrt[k]`. For a loss, the function is its own forward:
    its first output (the loss) is differentiated directly.
    """

    forward: str
    forward_args: tuple[int, ...]
    outputs: tuple[int, ...]
    wrt: tuple[int, ...]
    is_loss: bool = False


GRADIENTS: dict[str, GradientSpec] = {
    "fc_backward": GradientSpec("fc", (1, 2, 3), (0, 1, 2), (0, 1, 2)),
    "loss_euclidean": GradientSpec("loss_euclidean", (0, 1), (1,), (0,), True),
    "loss_cross_entropy_softmax": GradientSpec(
        "loss_cross_entropy_softmax", (0, 1), (1,), (0,), True
    ),
    "relu_backward": GradientSpec("relu", (1,), (0,), (0,)),
    "conv_backward": GradientSpec("conv", (1, 2, 3), (0, 1), (1, 2)),
    "pool2x2_backward": GradientSpec("pool2x2", (1,), (0,), (0,)),
    "flattening_backward": GradientSpec("flattening", (1,), (0,), (0,)),
}
