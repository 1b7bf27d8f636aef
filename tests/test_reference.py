"""The reference solution against independent computations.

Each layer is checked against explicit loops written here, and every backward
function and both losses against centred finite differences in float64, on the
homework's shapes and a few others. The trainers are checked step by step
against the layer functions, and (marked `training`) end to end on the course
data against the homework's accuracy targets.
"""

import importlib.util
import itertools
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
H_FD = 1e-6


def _load_reference() -> ModuleType:
    """Import reference/cnn.py by path, the way a hand-in is imported."""
    spec = importlib.util.spec_from_file_location(
        "reference_cnn_under_test", REPO / "reference" / "cnn.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cnn = _load_reference()


def numeric_grad(f: Callable[[], float], a: np.ndarray) -> np.ndarray:
    """Centred finite differences of the scalar f() with respect to a, which f
    reads; a is perturbed in place and restored."""
    grad = np.zeros(a.shape)
    for idx in np.ndindex(a.shape):
        saved = a[idx]
        a[idx] = saved + H_FD
        f_plus = f()
        a[idx] = saved - H_FD
        f_minus = f()
        a[idx] = saved
        grad[idx] = (f_plus - f_minus) / (2 * H_FD)
    return grad


def assert_close(obtained: np.ndarray, expected: np.ndarray, what: str) -> None:
    """Same shape and values; the message names the quantity (reference vs
    independent computation)."""
    obtained = np.asarray(obtained)
    expected = np.asarray(expected)
    assert obtained.shape == expected.shape, (
        f"{what}: reference shape {obtained.shape}, expected {expected.shape}"
    )
    np.testing.assert_allclose(
        obtained,
        expected,
        rtol=1e-5,
        atol=1e-7,
        err_msg=f"{what}: reference vs expected",
    )


# --- get_mini_batch -----------------------------------------------------------


@pytest.mark.parametrize(("n", "batch_size"), [(100, 32), (96, 32), (12, 5)])
def test_get_mini_batch_keeps_pairs_and_covers_every_column(
    n: int, batch_size: int
) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=(1, n))
    # Row 0 holds the column's own index, so each batch column can be traced back.
    im = np.vstack([np.arange(n), rng.integers(0, 256, size=(195, n))])
    np.random.seed(0)

    mini_batch_x, mini_batch_y = cnn.get_mini_batch(im, labels, batch_size)

    sizes = [x.shape[1] for x in mini_batch_x]
    expected_sizes = [batch_size] * (n // batch_size) + (
        [n % batch_size] if n % batch_size else []
    )
    assert sizes == expected_sizes
    assert [y.shape for y in mini_batch_y] == [(10, s) for s in sizes]
    seen = []
    for x, y in zip(mini_batch_x, mini_batch_y, strict=True):
        for col in range(x.shape[1]):
            source = int(x[0, col])
            assert_close(x[:, col], im[:, source], f"image column from {source}")
            one_hot = np.zeros(10)
            one_hot[labels[0, source]] = 1.0
            assert_close(y[:, col], one_hot, f"label of column {source}")
            seen.append(source)
    assert sorted(seen) == list(range(n))


# --- fc -----------------------------------------------------------------------

FC_SIZES = [(196, 10), (196, 30), (30, 10), (147, 10), (5, 3)]


@pytest.mark.parametrize(("m", "n"), FC_SIZES)
def test_fc_matches_loops(m: int, n: int) -> None:
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(m, 1)), rng.normal(size=(n, m)), rng.normal(size=(n, 1))

    y = cnn.fc(x, w, b)

    expected = np.zeros((n, 1))
    for i in range(n):
        expected[i, 0] = b[i, 0] + sum(w[i, j] * x[j, 0] for j in range(m))
    assert_close(y, expected, "fc y")


@pytest.mark.parametrize(("m", "n"), FC_SIZES)
def test_fc_backward_matches_finite_differences(m: int, n: int) -> None:
    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=(m, 1)), rng.normal(size=(n, m)), rng.normal(size=(n, 1))
    dl_dy = rng.normal(size=(1, n))

    def loss() -> float:
        return (dl_dy @ cnn.fc(x, w, b)).item()

    dl_dx, dl_dw, dl_db = cnn.fc_backward(dl_dy, x, w, b, cnn.fc(x, w, b))

    assert_close(dl_dx, numeric_grad(loss, x).T, "fc_backward dl_dx")
    assert dl_dw.shape == (1, n * m), f"fc_backward dl_dw shape {dl_dw.shape}"
    numeric_dw = numeric_grad(loss, w)
    for i in range(n):
        assert_close(
            dl_dw.reshape(n, m)[i], numeric_dw[i], f"fc_backward dl_dw row {i}"
        )
    assert_close(dl_db, numeric_grad(loss, b).T, "fc_backward dl_db")


# --- losses -------------------------------------------------------------------


@pytest.mark.parametrize("n", [10, 3])
def test_loss_euclidean_matches_loop_and_finite_differences(n: int) -> None:
    rng = np.random.default_rng(3)
    y_tilde, y = rng.normal(size=(n, 1)), rng.normal(size=(n, 1))

    loss, dl_dy = cnn.loss_euclidean(y_tilde, y)

    assert loss == pytest.approx(sum((y[i, 0] - y_tilde[i, 0]) ** 2 for i in range(n)))
    numeric = numeric_grad(lambda: cnn.loss_euclidean(y_tilde, y)[0], y_tilde)
    assert_close(dl_dy, numeric.T, "loss_euclidean dl_dy")


@pytest.mark.parametrize(("n", "scale"), [(10, 1.0), (3, 1.0), (10, 1000.0)])
def test_loss_cross_entropy_softmax_matches_loop_and_finite_differences(
    n: int, scale: float
) -> None:
    rng = np.random.default_rng(4)
    x = scale * rng.normal(size=(n, 1))
    y = np.zeros((n, 1))
    y[rng.integers(n), 0] = 1.0

    with np.errstate(over="raise"):
        loss, dl_dy = cnn.loss_cross_entropy_softmax(x, y)

    # log-sum-exp written out with its own shift, in Python floats.
    top = max(x[:, 0])
    log_z = top + np.log(sum(np.exp(x[i, 0] - top) for i in range(n)))
    expected_loss = -sum(y[i, 0] * (x[i, 0] - log_z) for i in range(n))
    assert loss == pytest.approx(expected_loss)
    if scale == 1.0:  # differences of scores near 1000 lose all precision
        numeric = numeric_grad(lambda: cnn.loss_cross_entropy_softmax(x, y)[0], x)
        assert_close(dl_dy, numeric.T, "loss_cross_entropy_softmax dl_dy")
    softmax = [np.exp(x[i, 0] - log_z) for i in range(n)]
    assert_close(dl_dy, np.array(softmax)[None] - y.T, "loss_cross_entropy dl_dy")


# --- relu ---------------------------------------------------------------------


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal values pushed at least 0.01 from 0, where relu has no derivative."""
    x = rng.normal(size=shape)
    return x + 0.01 * np.sign(x)


@pytest.mark.parametrize("shape", [(30, 1), (14, 14, 3), (4, 5)])
def test_relu_matches_loop(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(5).normal(size=shape)

    y = cnn.relu(x)

    expected = np.zeros(shape)
    for idx in np.ndindex(shape):
        expected[idx] = x[idx] if x[idx] > 0 else 0.0
    assert_close(y, expected, "relu y")


@pytest.mark.parametrize("shape", [(30, 1), (14, 14, 3), (4, 5)])
def test_relu_backward_matches_finite_differences(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(6)
    x = _away_from_zero(rng, shape)
    dl_dy = rng.normal(size=shape)

    dl_dx = cnn.relu_backward(dl_dy, x, cnn.relu(x))

    numeric = numeric_grad(lambda: float(np.sum(dl_dy * cnn.relu(x))), x)
    assert_close(dl_dx, numeric, "relu_backward dl_dx")


# --- conv ---------------------------------------------------------------------

CONV_SHAPES = [
    ((14, 14, 1), (3, 3, 1, 3)),
    ((8, 8, 2), (3, 3, 2, 4)),
    ((7, 9, 3), (5, 5, 3, 2)),
]


def _conv_case(
    seed: int, x_shape: tuple[int, ...], w_shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=x_shape),
        rng.normal(size=w_shape),
        rng.normal(size=(w_shape[3], 1)),
    )


@pytest.mark.parametrize(("x_shape", "w_shape"), CONV_SHAPES)
def test_conv_matches_loops(x_shape: tuple, w_shape: tuple) -> None:
    x, w, b = _conv_case(7, x_shape, w_shape)
    H, W, C1 = x_shape
    h, k, _, C2 = w_shape

    y = cnn.conv(x, w, b)

    # Cross-correlation, zero padding (h - 1) // 2 on top, (k - 1) // 2 on the left.
    expected = np.zeros((H, W, C2))
    for i, j, c2 in itertools.product(range(H), range(W), range(C2)):
        total = b[c2, 0]
        for di, dj, c1 in itertools.product(range(h), range(k), range(C1)):
            row, col = i + di - (h - 1) // 2, j + dj - (k - 1) // 2
            if 0 <= row < H and 0 <= col < W:
                total += x[row, col, c1] * w[di, dj, c1, c2]
        expected[i, j, c2] = total
    assert_close(y, expected, "conv y")


@pytest.mark.parametrize(("x_shape", "w_shape"), CONV_SHAPES)
def test_conv_backward_matches_finite_differences(
    x_shape: tuple, w_shape: tuple
) -> None:
    x, w, b = _conv_case(8, x_shape, w_shape)
    dl_dy = np.random.default_rng(9).normal(size=(*x_shape[:2], w_shape[3]))

    def loss() -> float:
        return float(np.sum(dl_dy * cnn.conv(x, w, b)))

    dl_dw, dl_db = cnn.conv_backward(dl_dy, x, w, b, cnn.conv(x, w, b))

    assert_close(dl_dw, numeric_grad(loss, w), "conv_backward dl_dw")
    assert_close(dl_db, numeric_grad(loss, b), "conv_backward dl_db")


# --- pool2x2 ------------------------------------------------------------------

POOL_SHAPES = [(14, 14, 3), (8, 6, 2), (2, 2, 1)]


@pytest.mark.parametrize("shape", POOL_SHAPES)
def test_pool2x2_matches_loops(shape: tuple[int, int, int]) -> None:
    x = np.random.default_rng(10).normal(size=shape)
    H, W, C = shape

    y = cnn.pool2x2(x)

    expected = np.zeros((H // 2, W // 2, C))
    for i, j, c in itertools.product(range(H // 2), range(W // 2), range(C)):
        expected[i, j, c] = max(
            x[2 * i + a, 2 * j + d, c] for a, d in itertools.product(range(2), range(2))
        )
    assert_close(y, expected, "pool2x2 y")


@pytest.mark.parametrize("shape", POOL_SHAPES)
def test_pool2x2_backward_matches_finite_differences(
    shape: tuple[int, int, int],
) -> None:
    rng = np.random.default_rng(11)
    # Distinct values at least 0.01 apart, so no window holds a near tie.
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01
    dl_dy = rng.normal(size=(shape[0] // 2, shape[1] // 2, shape[2]))

    dl_dx = cnn.pool2x2_backward(dl_dy, x, cnn.pool2x2(x))

    numeric = numeric_grad(lambda: float(np.sum(dl_dy * cnn.pool2x2(x))), x)
    assert_close(dl_dx, numeric, "pool2x2_backward dl_dx")


def test_pool2x2_backward_sends_a_tie_to_the_first_maximum() -> None:
    x = np.zeros((4, 4, 1))
    x[0:2, 2:4, 0] = [[1.0, 5.0], [5.0, 5.0]]  # tie at (0,3), (1,2), (1,3)
    dl_dy = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1)

    dl_dx = cnn.pool2x2_backward(dl_dy, x, cnn.pool2x2(x))

    expected = np.zeros((4, 4, 1))
    expected[0, 0, 0] = 1.0  # all-zero window: its first cell
    expected[0, 3, 0] = 2.0
    expected[2, 0, 0] = 3.0
    expected[2, 2, 0] = 4.0
    assert_close(dl_dx, expected, "pool2x2_backward dl_dx with ties")


# --- flattening ---------------------------------------------------------------


@pytest.mark.parametrize("shape", [(7, 7, 3), (2, 3, 4)])
def test_flattening_is_column_major(shape: tuple[int, int, int]) -> None:
    x = np.random.default_rng(12).normal(size=shape)
    H, W, C = shape

    y = cnn.flattening(x)

    expected = np.zeros((H * W * C, 1))
    for i, j, c in itertools.product(range(H), range(W), range(C)):
        expected[i + H * j + H * W * c, 0] = x[i, j, c]
    assert_close(y, expected, "flattening y")


@pytest.mark.parametrize("shape", [(7, 7, 3), (2, 3, 4)])
def test_flattening_backward_matches_finite_differences(
    shape: tuple[int, int, int],
) -> None:
    rng = np.random.default_rng(13)
    x = rng.normal(size=shape)
    dl_dy = rng.normal(size=(1, int(np.prod(shape))))

    dl_dx = cnn.flattening_backward(dl_dy, x, cnn.flattening(x))

    numeric = numeric_grad(lambda: (dl_dy @ cnn.flattening(x)).item(), x)
    assert_close(dl_dx, numeric, "flattening_backward dl_dx")


# --- trainers, one step at a time -----------------------------------------------


def _layer_grads(name: str, params: tuple, x: np.ndarray, y: np.ndarray) -> list:
    """Gradients of one image's loss, by the layer functions alone."""
    if name in ("slp_linear", "slp"):
        w, b = params
        s = cnn.fc(x, w, b)
        if name == "slp":
            _, dl_ds = cnn.loss_cross_entropy_softmax(s, y)
        else:
            _, dl_ds = cnn.loss_euclidean(s, y)
        _, dl_dw, dl_db = cnn.fc_backward(dl_ds, x, w, b, s)
        return [dl_dw.reshape(w.shape), dl_db.T]
    if name == "mlp":
        w1, b1, w2, b2 = params
        a = cnn.fc(x, w1, b1)
        h = cnn.relu(a)
        s = cnn.fc(h, w2, b2)
        _, dl_ds = cnn.loss_cross_entropy_softmax(s, y)
        dl_dh, dl_dw2, dl_db2 = cnn.fc_backward(dl_ds, h, w2, b2, s)
        dl_da = cnn.relu_backward(dl_dh.T, a, h)
        _, dl_dw1, dl_db1 = cnn.fc_backward(dl_da.T, x, w1, b1, a)
        return [dl_dw1.reshape(w1.shape), dl_db1.T, dl_dw2.reshape(w2.shape), dl_db2.T]
    w_conv, b_conv, w_fc, b_fc = params
    image = x.reshape((14, 14, 1), order="F")
    z = cnn.conv(image, w_conv, b_conv)
    r = cnn.relu(z)
    p = cnn.pool2x2(r)
    f = cnn.flattening(p)
    s = cnn.fc(f, w_fc, b_fc)
    _, dl_ds = cnn.loss_cross_entropy_softmax(s, y)
    dl_df, dl_dw_fc, dl_db_fc = cnn.fc_backward(dl_ds, f, w_fc, b_fc, s)
    dl_dp = cnn.flattening_backward(dl_df, p, f)
    dl_dz = cnn.relu_backward(cnn.pool2x2_backward(dl_dp, r, p), z, r)
    dl_dw_conv, dl_db_conv = cnn.conv_backward(dl_dz, image, w_conv, b_conv, z)
    return [dl_dw_conv, dl_db_conv, dl_dw_fc.reshape(w_fc.shape), dl_db_fc.T]


def _digit_like_batch(seed: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """(196, b) images in [0, 1], and (10, b) one-hot labels. Blank borders, a
    blank image and a saturated block give pooling windows whose cells tie."""
    rng = np.random.default_rng(seed)
    x = np.zeros((14, 14, b))
    x[3:11, 3:11] = rng.random((8, 8, b)) * (rng.random((8, 8, b)) < 0.5)
    x[..., 0] = 0.0
    x[4:12, 4:12, 1] = 1.0
    y = np.zeros((10, b))
    y[rng.integers(0, 10, b), np.arange(b)] = 1.0
    return x.reshape(196, b, order="F"), y


@pytest.mark.parametrize("name", ["slp_linear", "slp", "mlp", "cnn"])
def test_trainer_step_is_the_summed_layer_gradient(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = _digit_like_batch(14, 6)
    train = getattr(cnn, f"train_{name}")
    hyper = getattr(cnn, f"_HYPER_{name.upper()}")
    monkeypatch.setitem(hyper, "n_iters", 0)
    np.random.seed(0)
    initial = train([x], [y])
    monkeypatch.setitem(hyper, "n_iters", 1)
    np.random.seed(0)

    stepped = train([x], [y])

    summed = [np.zeros(p.shape) for p in initial]
    for n in range(x.shape[1]):
        for total, g in zip(
            summed, _layer_grads(name, initial, x[:, [n]], y[:, [n]]), strict=True
        ):
            total += g
    for k, (before, after, grad) in enumerate(
        zip(initial, stepped, summed, strict=True)
    ):
        assert_close(after, before - hyper["lr"] * grad, f"{name} parameter {k}")


def test_cnn_batch_gradient_with_tied_pooling_windows() -> None:
    # Identical patches (the saturated block) tie in all four cells of a window;
    # only the first maximum may pass its gradient on, as pool2x2_backward does.
    # A positive conv bias lets blank windows pass some as well.
    rng = np.random.default_rng(15)
    x, y = _digit_like_batch(16, 5)
    params = [
        rng.normal(size=(3, 3, 1, 3)),
        np.array([[0.5], [-0.2], [0.1]]),
        rng.normal(size=(10, 147)),
        rng.normal(size=(10, 1)),
    ]

    grads = cnn._cnn_grads(params, cnn._pad_batch(x), cnn._pooled_im2col_index(), y)

    expected = [np.zeros(p.shape) for p in params]
    for n in range(x.shape[1]):
        grads_n = _layer_grads("cnn", params, x[:, [n]], y[:, [n]])
        for total, g in zip(expected, grads_n, strict=True):
            total += g
    for k, (got, want) in enumerate(zip(grads, expected, strict=True)):
        assert_close(got, want, f"cnn batch gradient {k}")


# --- trainers on the course data -----------------------------------------------

TARGETS = {"slp_linear": 0.25, "slp": 0.85, "mlp": 0.90, "cnn": 0.92}


def _accuracy(
    name: str, weights: tuple, im_test: np.ndarray, labels: np.ndarray
) -> float:
    """Test accuracy of trained weights, image by image with the layer functions."""
    correct = 0
    for n in range(im_test.shape[1]):
        x = im_test[:, [n]]
        if name == "mlp":
            w1, b1, w2, b2 = weights
            scores = cnn.fc(cnn.relu(cnn.fc(x, w1, b1)), w2, b2)
        elif name == "cnn":
            w_conv, b_conv, w_fc, b_fc = weights
            image = x.reshape((14, 14, 1), order="F")
            pooled = cnn.pool2x2(cnn.relu(cnn.conv(image, w_conv, b_conv)))
            scores = cnn.fc(cnn.flattening(pooled), w_fc, b_fc)
        else:
            scores = cnn.fc(x, *weights)
        correct += int(np.argmax(scores)) == int(labels[n])
    return correct / im_test.shape[1]


@pytest.mark.training
def test_trainers_beat_the_homework_targets_on_the_course_data() -> None:
    files = [DATA / "mnist_train.mat", DATA / "mnist_test.mat"]
    if not all(f.is_file() for f in files):
        pytest.skip(
            f"course data not found in {DATA} (mnist_train.mat, mnist_test.mat)"
        )
    scipy_io = pytest.importorskip("scipy.io")
    train = scipy_io.loadmat(files[0])
    test = scipy_io.loadmat(files[1])
    im_train = train["im_train"] / 255.0
    im_test = test["im_test"] / 255.0
    labels = test["label_test"].reshape(-1)
    np.random.seed(0)
    mini_batch_x, mini_batch_y = cnn.get_mini_batch(im_train, train["label_train"], 32)

    accuracies = {}
    for name in TARGETS:
        np.random.seed(0)
        weights = getattr(cnn, f"train_{name}")(mini_batch_x, mini_batch_y)
        accuracies[name] = _accuracy(name, weights, im_test, labels)

    missed = {n: a for n, a in accuracies.items() if a <= TARGETS[n]}
    assert not missed, f"below target: {missed} (targets {TARGETS}, all {accuracies})"
