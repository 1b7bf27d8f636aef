"""The catalogue of known mistakes: how each is recognised, and what to say.

A mistake is recognised by evidence, never by reading the student's source:
most have a *variant*, the faulty function a student with that mistake would
have written (built from the reference); when a student's wrong output equals
the variant's output on the same arguments, in any honest layout, the mistake
is named. A few are recognised by behaviour instead (nan where the scores are
large, right only on the homework's own sizes, a backward that agrees with the
student's own wrong forward); `grader.diagnose` applies those rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reference import cnn as ref


@dataclass(frozen=True)
class Mistake:
    """A known mistake in one function, with the hint shown to the student."""

    name: str
    function: str
    hint: str
    variant: Callable[..., object] | None = None


def _scaled(
    fn: Callable[..., object], factors: tuple[float, ...]
) -> Callable[..., object]:
    """fn with each of its outputs multiplied by a factor (1 leaves it alone)."""

    def variant(*args: object) -> object:
        values = fn(*args)
        outputs = values if isinstance(values, tuple) else (values,)
        scaled = tuple(
            np.asarray(v, dtype=float) * f
            for v, f in zip(outputs, factors, strict=True)
        )
        return scaled if isinstance(values, tuple) else scaled[0]

    return variant


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - np.max(x))
    return z / z.sum()


def _loss_variant(
    loss: Callable[[np.ndarray, np.ndarray], float],
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> Callable[..., object]:
    def variant(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        return loss(x, y), grad(x, y).reshape(1, -1)

    return variant


def _conv_flipped(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ref.conv(x, w[::-1, ::-1], b)


def _conv_backward_flipped(
    dl_dy: np.ndarray, x: np.ndarray, w: np.ndarray, b: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    dl_dw, dl_db = ref.conv_backward(dl_dy, x, w, b, y)
    return dl_dw[::-1, ::-1], dl_db


def _conv_shifted(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Zero padding on one side only (bottom/right), output cropped to H x W."""
    h, k = w.shape[:2]
    padded = np.pad(x, ((0, h - 1), (0, k - 1), (0, 0)))
    H, W = x.shape[:2]
    full = ref.conv(padded, w, b)
    top, left = (h - 1) // 2, (k - 1) // 2
    return full[top : top + H, left : left + W]


def _pool_every_cell(dl_dy: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(dl_dy, 2, axis=0), 2, axis=1)


def _pool_mean(x: np.ndarray) -> np.ndarray:
    H, W, C = x.shape
    return x.reshape(H // 2, 2, W // 2, 2, C).mean(axis=(1, 3))


def _pool_max_from_zero(x: np.ndarray) -> np.ndarray:
    return np.maximum(ref.pool2x2(x), 0)


def _flattening_c(x: np.ndarray) -> np.ndarray:
    return np.reshape(x, (-1, 1))


def _flattening_backward_c(
    dl_dy: np.ndarray, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    return np.reshape(dl_dy, x.shape)


_SUM_SQUARES = lambda a, b: float(np.sum((a - b) ** 2))  # noqa: E731


CATALOGUE: tuple[Mistake, ...] = (
    # fc
    Mistake("missing-bias", "fc", "Add the bias: y = w x + b.", lambda x, w, b: w @ x),
    Mistake(
        "bias-subtracted",
        "fc",
        "The layer adds its bias: y = w x + b, not w x - b.",
        lambda x, w, b: w @ x - b,
    ),
    Mistake(
        "broadcast-to-matrix",
        "fc",
        "A flat (n,) vector plus an (n, 1) bias broadcasts to an (n, n) matrix: keep "
        "x and y as (m, 1) and (n, 1) columns (w @ x + b with x of shape (m, 1)).",
        lambda x, w, b: (w @ x).reshape(-1) + b,
    ),
    # fc_backward
    Mistake(
        "gradient-sign-flipped",
        "fc_backward",
        "Return the gradient itself, not its negative: the update step subtracts it.",
        _scaled(ref.fc_backward, (-1, -1, -1)),
    ),
    # loss_euclidean
    Mistake(
        "loss-halved",
        "loss_euclidean",
        "The homework's loss is ||y - y_tilde||^2 with no 1/2 in front; its "
        "gradient is 2 (y_tilde - y).",
        _scaled(ref.loss_euclidean, (0.5, 0.5)),
    ),
    Mistake(
        "loss-averaged",
        "loss_euclidean",
        "Sum the squared errors over the n outputs; do not divide by n.",
        lambda yt, y: (
            _SUM_SQUARES(yt, y) / yt.size,
            ref.loss_euclidean(yt, y)[1] / yt.size,
        ),
    ),
    Mistake(
        "gradient-missing-factor-2",
        "loss_euclidean",
        "d/dy_tilde of (y_tilde - y)^2 is 2 (y_tilde - y): the factor 2 is missing.",
        _scaled(ref.loss_euclidean, (1, 0.5)),
    ),
    Mistake(
        "gradient-sign-flipped",
        "loss_euclidean",
        "dl_dy is the derivative with respect to the prediction: 2 (y_tilde - y), "
        "not 2 (y - y_tilde).",
        _scaled(ref.loss_euclidean, (1, -1)),
    ),
    Mistake(
        "loss-not-squared",
        "loss_euclidean",
        "The loss is the squared norm ||y - y_tilde||^2: sum the squares, without "
        "a square root.",
        lambda yt, y: (
            float(np.sqrt(_SUM_SQUARES(yt, y))),
            ref.loss_euclidean(yt, y)[1],
        ),
    ),
    Mistake(
        "loss-not-summed",
        "loss_euclidean",
        "Return l as one number: sum the squared errors.",
        lambda yt, y: ((yt - y) ** 2, ref.loss_euclidean(yt, y)[1]),
    ),
    # loss_cross_entropy_softmax
    Mistake(
        "wrong-cross-entropy-value",
        "loss_cross_entropy_softmax",
        "The loss is -sum(y * log softmax(x)): multiply by the one-hot y (you summed "
        "log p over every class).",
        lambda x, y: (
            float(-np.sum(np.log(_softmax(x)))),
            ref.loss_cross_entropy_softmax(x, y)[1],
        ),
    ),
    Mistake(
        "loss-sign-flipped",
        "loss_cross_entropy_softmax",
        "The loss is -sum(y log p), a positive number: the minus sign is missing.",
        _scaled(ref.loss_cross_entropy_softmax, (-1, 1)),
    ),
    Mistake(
        "gradient-sign-flipped",
        "loss_cross_entropy_softmax",
        "dl_dy = softmax(x) - y, not y - softmax(x).",
        _scaled(ref.loss_cross_entropy_softmax, (1, -1)),
    ),
    Mistake(
        "gradient-missing-minus-y",
        "loss_cross_entropy_softmax",
        "dl_dy = softmax(x) - y: subtract the one-hot label.",
        _loss_variant(
            lambda x, y: ref.loss_cross_entropy_softmax(x, y)[0],
            lambda x, y: _softmax(x),
        ),
    ),
    Mistake(
        "loss-not-summed",
        "loss_cross_entropy_softmax",
        "Return l as one number: -sum(y * log softmax(x)).",
        lambda x, y: (
            -(y * np.log(_softmax(x))),
            ref.loss_cross_entropy_softmax(x, y)[1],
        ),
    ),
    # relu
    Mistake(
        "relu-returns-mask",
        "relu",
        "relu returns max(0, x), not the mask x > 0.",
        lambda x: (x > 0).astype(float),
    ),
    Mistake(
        "relu-inverted",
        "relu",
        "Keep the positive values: max(0, x), not min(0, x).",
        lambda x: np.minimum(x, 0),
    ),
    # relu_backward
    Mistake(
        "relu-backward-gated-by-dl_dy",
        "relu_backward",
        "Gate the incoming gradient by the sign of the ReLU input x (dl_dx = dl_dy "
        "where x > 0, else 0), not by the sign of dl_dy.",
        lambda dl_dy, x, y: np.where(dl_dy > 0, dl_dy, 0.0),
    ),
    Mistake(
        "relu-backward-returns-mask",
        "relu_backward",
        "Multiply the mask by the incoming gradient: dl_dx = dl_dy * (x > 0).",
        lambda dl_dy, x, y: (x > 0).astype(float),
    ),
    Mistake(
        "relu-backward-inverted-gate",
        "relu_backward",
        "Pass the gradient where x > 0 and block it where x < 0, not the reverse.",
        lambda dl_dy, x, y: dl_dy * (x < 0),
    ),
    # conv
    Mistake(
        "flipped-kernel",
        "conv",
        "Do not rotate the kernel: the layer is a cross-correlation, y(i,j,c2) = "
        "sum x(i+di, j+dj, c1) w(di, dj, c1, c2) + b(c2).",
        _conv_flipped,
    ),
    Mistake(
        "missing-bias",
        "conv",
        "Add b_conv[c2] to every pixel of output channel c2.",
        lambda x, w, b: ref.conv(x, w, np.zeros_like(b)),
    ),
    Mistake(
        "padding-one-side",
        "conv",
        "Pad (h-1)//2 rows above and below and (w-1)//2 columns left and right, so "
        "the kernel is centred on each pixel.",
        _conv_shifted,
    ),
    # conv_backward
    Mistake(
        "flipped-kernel",
        "conv_backward",
        "dl_dw(di,dj,c1,c2) = sum_ij x_pad(i+di, j+dj, c1) dl_dy(i,j,c2), without "
        "flipping.",
        _conv_backward_flipped,
    ),
    Mistake(
        "dl_db-not-summed",
        "conv_backward",
        "dl_db(c2) sums dl_dy over every pixel of channel c2.",
        lambda dl_dy, x, w, b, y: (
            ref.conv_backward(dl_dy, x, w, b, y)[0],
            dl_dy[0, 0, :].reshape(-1, 1),
        ),
    ),
    Mistake(
        "dl_db-not-summed",
        "conv_backward",
        "dl_db(c2) sums dl_dy over every pixel of channel c2 (+=, not =).",
        lambda dl_dy, x, w, b, y: (
            ref.conv_backward(dl_dy, x, w, b, y)[0],
            dl_dy[-1, -1, :].reshape(-1, 1),
        ),
    ),
    # pool2x2
    Mistake(
        "average-pooling",
        "pool2x2",
        "Take the maximum of each 2x2 window, not its mean.",
        _pool_mean,
    ),
    Mistake(
        "max-starts-at-zero",
        "pool2x2",
        "Start each window's maximum from its first cell (or -inf), not from 0: "
        "windows of negative values must give their (negative) maximum.",
        _pool_max_from_zero,
    ),
    # pool2x2_backward
    Mistake(
        "pool-gradient-to-every-cell",
        "pool2x2_backward",
        "Route each window's gradient only to the cell that held the maximum; the "
        "other three cells get 0.",
        _pool_every_cell,
    ),
    Mistake(
        "pool-gradient-split-in-four",
        "pool2x2_backward",
        "The whole gradient goes to the maximum's cell: do not share it out (that "
        "is the gradient of average pooling).",
        lambda dl_dy, x, y: _pool_every_cell(dl_dy, x, y) / 4,
    ),
    # flattening
    Mistake(
        "row-major-flattening",
        "flattening",
        "Flatten in column-major order, x.reshape((-1, 1), order='F'); NumPy's "
        "default reshape is row-major.",
        _flattening_c,
    ),
    Mistake(
        "row-major-flattening",
        "flattening_backward",
        "Undo the column-major flattening: dl_dy.reshape(x.shape, order='F').",
        _flattening_backward_c,
    ),
)

# Mistakes recognised by behaviour or context, with their hints. The keys are
# also the names used in the JSON `mistakes` list.
RULES: dict[str, str] = {
    "softmax-overflow": (
        "Subtract max(x) before exp (and compute log-softmax as z - log(sum(exp(z)))): "
        "exp(1000) overflows to inf and inf/inf is nan."
    ),
    "hard-coded-sizes": (
        "Take the sizes from the arguments (x.shape, w.shape) instead of the "
        "homework's 14, 7 or 3: the function is right only on those sizes."
    ),
    "backward-matches-wrong-forward": (
        "This backward agrees with finite differences of your own {forward}, which "
        "fails its checks: fix {forward} first, then make this one agree with it."
    ),
    "backward-disagrees-with-forward": (
        "This backward disagrees with finite differences of your own {forward}: the "
        "gradient computation itself is wrong."
    ),
    "numpy-array-to-scalar": (
        "A one-element array (such as b_conv[c2] of a (C2, 1) bias) is stored into one "
        "pixel; current NumPy refuses that: index it fully, e.g. b_conv[c2, 0]."
    ),
    "numpy-removed-alias": (
        "np.int, np.float and the like no longer exist in current NumPy: use int, "
        "float."
    ),
    "modifies-input": (
        "Do not change the arrays you are given (x[x < 0] = 0 changes the caller's x): "
        "work on a copy, e.g. np.maximum(x, 0)."
    ),
    "extra-required-argument": (
        "Keep the skeleton's signature: graders and the course driver call it with the "
        "homework's arguments. Give any extra parameter a default."
    ),
    "wrong-signature": "Keep the skeleton's signature: the homework passes {params}.",
    "unfinished": (
        "{name} is not written yet (missing, or still the skeleton's stub)."
    ),
    "syntax-error": (
        "The module does not compile, so no function can be graded until it does."
    ),
    "import-error": "The module fails while it is imported, so nothing can be graded.",
    "scrambled-pairs": (
        "Shuffle images and labels with the same permutation (index both with one "
        "perm); two permutations pair each image with a random label."
    ),
    "batches-cover-part": (
        "Keep the last, smaller batch: the batches together must hold every training "
        "column once."
    ),
    "batches-repeat-columns": (
        "Each training column must appear exactly once: cut one permutation into "
        "consecutive slices."
    ),
    "labels-not-one-hot": (
        "mini_batch_y holds one-hot columns: a 1 in the row of the label, 0 elsewhere."
    ),
    "label-off-by-one": (
        "Labels are already 0..9: use them as row indices without -1 or +1."
    ),
    "no-shuffle": "Shuffle the columns (np.random.permutation) before cutting batches.",
    "process-exit": "{name} ends the process (exit) instead of returning its result.",
    "output-flood": (
        "{name} prints too much (over the output limit); remove the prints."
    ),
    "too-slow": (
        "{name} did not finish within the time limit: vectorise the layers it calls "
        "(or loop over the 3x3 kernel offsets instead of pixels) and check its "
        "iteration count."
    ),
    "never-returns": (
        "{name} was still iterating far beyond any training length when stopped: "
        "loop for a fixed number of iterations."
    ),
    "spawns-processes": (
        "{name} starts processes that outlive it; a layer function needs none."
    ),
    "memory-hog": (
        "{name} allocates far more memory than the computation needs (over the "
        "sandbox's limit): remove caches and giant temporary arrays."
    ),
    "broadcast-to-matrix": (
        "With the homework's (n, 1) columns your function returns an (n, n) matrix: "
        "a flat (n,) vector met an (n, 1) one. It works only with flat inputs; "
        "give both operands the same shape."
    ),
    "transposed-dl_dw": "dl_dw has the shape of w, (n, m); you returned its transpose.",
    "mlp-missing-relu-gate": (
        "In train_mlp, pass the gradient through relu_backward before the first "
        "layer's fc_backward; units whose input was negative must get no gradient."
    ),
    "row-major-flattening@train_cnn": (
        "Your trained w_fc expects row-major flattened features; with the spec's "
        "column-major flattening it classifies at chance."
    ),
    "flipped-kernel@train_cnn": (
        "Your trained kernels are rotated by 180 degrees relative to the spec's "
        "cross-correlation."
    ),
    "trained-with-faulty-layer": (
        "Your weights fit a faulty forward pass ({mistake}): fix that layer first "
        "(see its check), then retrain."
    ),
}


def for_function(name: str) -> tuple[Mistake, ...]:
    return tuple(m for m in CATALOGUE if m.function == name)


def hint(mistake: str, function: str = "", **fields: str) -> str:
    """The hint for a mistake, the function's own where the catalogue has one."""
    for entry in CATALOGUE:
        if entry.name == mistake and entry.function == function:
            return entry.hint
    text = RULES.get(f"{mistake}@{function}", RULES.get(mistake, ""))
    if not text and function.startswith("train_"):
        text = RULES["trained-with-faulty-layer"]
    try:
        return text.format(name=function, mistake=mistake, **fields)
    except (KeyError, IndexError):
        return text
