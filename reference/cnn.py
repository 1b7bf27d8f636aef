"""Model solution of the homework, shaped exactly like a student's hand-in.

Every layer follows the homework's conventions (HOMEWORK.md): column vectors
(n, 1) for activations, row vectors (1, n) for gradients, dl_dw of a fully
connected layer flattened row by row to (1, n*m), images (H, W, C) with
column-major flattening. The grader uses these functions as its oracle, so
they favour clarity; the trainers vectorise over the mini-batch.
"""

import numpy as np

N_CLASSES = 10


def get_mini_batch(im_train, label_train, batch_size):
    """Cut the shuffled training set into mini-batches.

    im_train (196, n), label_train (1, n) integer labels 0..9, batch_size int.
    Returns a list of (196, b) image batches and a list of (10, b) one-hot
    label batches; one permutation orders images and labels alike, every
    column appears once, and only the last batch may be smaller.
    """
    n = im_train.shape[1]
    labels = np.asarray(label_train).reshape(-1).astype(np.int64)
    one_hot = np.zeros((N_CLASSES, n))
    one_hot[labels, np.arange(n)] = 1.0
    order = np.random.permutation(n)

    mini_batch_x = []
    mini_batch_y = []
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        mini_batch_x.append(im_train[:, idx])
        mini_batch_y.append(one_hot[:, idx])
    return mini_batch_x, mini_batch_y


def fc(x, w, b):
    """Fully connected layer y = w x + b: x (m, 1), w (n, m), b (n, 1) -> (n, 1)."""
    y = w @ x + b
    return y


def fc_backward(dl_dy, x, w, b, y):
    """Gradients of a fully connected layer.

    dl_dy (1, n), x (m, 1), w (n, m), b (n, 1), y (n, 1).
    Returns dl_dx (1, m) = dl_dy w, dl_dw (1, n*m) = (dl_dy^T x^T) flattened
    row by row, dl_db (1, n) = dl_dy.
    """
    dl_dy = np.reshape(dl_dy, (1, -1))

    dl_dx = dl_dy @ w
    dl_dw = (dl_dy.T @ np.reshape(x, (1, -1))).reshape(1, -1)
    dl_db = dl_dy.copy()
    return dl_dx, dl_dw, dl_db


def loss_euclidean(y_tilde, y):
    """Squared error l = ||y - y_tilde||^2 (no 1/2, no mean).

    y_tilde (n, 1), y (n, 1). Returns l (float) and dl_dy = 2 (y_tilde - y)^T,
    (1, n): the derivative with respect to the prediction y_tilde.
    """
    diff = y_tilde - y

    l = float(np.sum(diff**2))  # noqa: E741 (the homework names the loss l)
    dl_dy = 2.0 * diff.reshape(1, -1)
    return l, dl_dy


def loss_cross_entropy_softmax(x, y):
    """Softmax cross-entropy l = -sum_i y_i log softmax(x)_i.

    x (n, 1) scores, y (n, 1) one-hot. Returns l (float) and
    dl_dy = softmax(x) - y as (1, n). Shifting x by its maximum leaves softmax
    unchanged and keeps exp from overflowing for scores near 1000.
    """
    z = x - np.max(x)
    log_p = z - np.log(np.sum(np.exp(z)))

    l = float(-np.sum(y * log_p))  # noqa: E741 (the homework names the loss l)
    dl_dy = (np.exp(log_p) - y).reshape(1, -1)
    return l, dl_dy


def relu(x):
    """Rectified linear unit max(0, x), elementwise, any shape."""
    y = np.maximum(x, 0)
    return y


def relu_backward(dl_dy, x, y):
    """dl_dx = dl_dy where x > 0, else 0; dl_dy shaped like y, dl_dx like x."""
    dl_dx = np.reshape(dl_dy, np.shape(x)) * (x > 0)
    return dl_dx


def _im2col(x, h, w):
    """(H, W, C) -> (H*W, h*w*C): row (i, j) is the zero-padded h x w x C patch
    centred on pixel (i, j), laid out (di, dj, c) like w_conv's first axes."""
    H, W, C = x.shape
    top, left = (h - 1) // 2, (w - 1) // 2
    x_pad = np.pad(x, ((top, h - 1 - top), (left, w - 1 - left), (0, 0)))
    patches = np.lib.stride_tricks.sliding_window_view(x_pad, (h, w), axis=(0, 1))
    return patches.transpose(0, 1, 3, 4, 2).reshape(H * W, h * w * C)


def conv(x, w_conv, b_conv):
    """Stride-1 cross-correlation with zero padding that keeps H x W.

    x (H, W, C1), w_conv (h, w, C1, C2), b_conv (C2, 1) -> y (H, W, C2) with
    y(i, j, c2) = sum_{di, dj, c1} x_pad(i + di, j + dj, c1) w(di, dj, c1, c2)
    + b(c2).
    """
    H, W, C1 = x.shape
    h, w, _, C2 = w_conv.shape

    cols = _im2col(x, h, w)
    y = cols @ w_conv.reshape(h * w * C1, C2) + np.reshape(b_conv, (1, C2))
    return y.reshape(H, W, C2)


def conv_backward(dl_dy, x, w_conv, b_conv, y):
    """Gradients of conv with respect to its weights and bias.

    dl_dy (H, W, C2), x (H, W, C1), w_conv (h, w, C1, C2), b_conv (C2, 1).
    Returns dl_dw (h, w, C1, C2) = sum_ij x_pad(i + di, j + dj, c1)
    dl_dy(i, j, c2) and dl_db (C2, 1) = sum_ij dl_dy(i, j, c2).
    """
    H, W, C1 = x.shape
    h, w, _, C2 = w_conv.shape

    cols = _im2col(x, h, w)
    g = np.reshape(dl_dy, (H * W, C2))
    dl_dw = (cols.T @ g).reshape(h, w, C1, C2)
    dl_db = g.sum(axis=0).reshape(C2, 1)
    return dl_dw, dl_db


def pool2x2(x):
    """2x2 max pooling with stride 2: (H, W, C) -> (H/2, W/2, C)."""
    H, W, C = x.shape
    y = x.reshape(H // 2, 2, W // 2, 2, C).max(axis=(1, 3))
    return y


def pool2x2_backward(dl_dy, x, y):
    """Route each window's gradient to the cell that held its maximum.

    dl_dy (H/2, W/2, C), x (H, W, C) -> dl_dx (H, W, C). A tie goes to the
    first maximum in scan order (0,0), (0,1), (1,0), (1,1), as np.argmax does.
    """
    H, W, C = x.shape
    H2, W2 = H // 2, W // 2

    windows = x.reshape(H2, 2, W2, 2, C).transpose(0, 2, 4, 1, 3).reshape(H2, W2, C, 4)
    first_max = np.argmax(windows, axis=3)
    mask = np.zeros(windows.shape)
    np.put_along_axis(mask, first_max[..., None], 1.0, axis=3)

    routed = mask * np.reshape(dl_dy, (H2, W2, C))[..., None]
    dl_dx = routed.reshape(H2, W2, C, 2, 2).transpose(0, 3, 1, 4, 2).reshape(H, W, C)
    return dl_dx


def flattening(x):
    """(H, W, C) -> (H*W*C, 1) in column-major (MATLAB) order."""
    y = np.reshape(x, (-1, 1), order="F")
    return y


def flattening_backward(dl_dy, x, y):
    """Undo the column-major flattening: dl_dy with H*W*C entries -> (H, W, C)."""
    dl_dx = np.reshape(dl_dy, np.shape(x), order="F")
    return dl_dx


# Trainers: mini-batch SGD, gradients summed over the batch (not averaged), the
# learning rate multiplied by "decay" every _DECAY_EVERY iterations. Initial
# weights are Gaussian with the given standard deviation per layer, drawn from
# the global np.random; biases start at zero. Tuned on the course data with
# benchmarks/reference_training.py.
_DECAY_EVERY = 1000
_HYPER_SLP_LINEAR = {"lr": 6e-4, "decay": 0.5, "n_iters": 3000, "std": (0.1,)}
_HYPER_SLP = {"lr": 0.02, "decay": 0.5, "n_iters": 3000, "std": (0.1,)}
_HYPER_MLP = {"lr": 0.015, "decay": 0.5, "n_iters": 3000, "std": (0.1, 0.25)}
_HYPER_CNN = {"lr": 0.012, "decay": 0.7, "n_iters": 3000, "std": (0.25, 0.03)}


def _lr_schedule(hyper: dict) -> np.ndarray:
    """Learning rate of each iteration, (n_iters,)."""
    steps = np.arange(hyper["n_iters"]) // _DECAY_EVERY
    return hyper["lr"] * hyper["decay"] ** steps


def _init(hyper: dict, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """[w, b, w, b, ...]: one Gaussian weight array per shape, with its std from
    hyper["std"], each followed by a zero bias (n_out, 1). n_out is the last
    axis of a conv kernel (h, w, C1, C2) and the first of an fc matrix (n, m)."""
    params = []
    for shape, std in zip(shapes, hyper["std"], strict=True):
        n_out = shape[-1] if len(shape) == 4 else shape[0]
        params.append(std * np.random.randn(*shape))
        params.append(np.zeros((n_out, 1)))
    return params


def _softmax_ce_grad(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Batched dl/dscores of the softmax cross-entropy: softmax - y, (n, b).

    scores (n, b), y (n, b) one-hot columns; each column is what
    loss_cross_entropy_softmax returns, transposed.
    """
    z = np.exp(scores - scores.max(axis=0))
    return z / z.sum(axis=0) - y


def _fc_grads(dl_dy: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batch sums of fc's dl_dw (n, m) and dl_db (n, 1): dl_dy (n, b), x (m, b)."""
    return dl_dy @ x.T, dl_dy.sum(axis=1, keepdims=True)


def _sgd_step(params: list[np.ndarray], grads: tuple, lr: float) -> None:
    """In place: each param -= lr * its gradient."""
    for param, grad in zip(params, grads, strict=True):
        param -= lr * grad


def train_slp_linear(mini_batch_x, mini_batch_y):
    """Single linear layer trained with the Euclidean loss.

    mini_batch_x: list of (196, b) images, mini_batch_y: list of (10, b) one-hot
    labels. Returns w (10, 196), b (10, 1).
    """
    params = _init(_HYPER_SLP_LINEAR, (N_CLASSES, 196))
    w, b = params

    n_batches = len(mini_batch_x)
    for it, lr in enumerate(_lr_schedule(_HYPER_SLP_LINEAR)):
        x, y = mini_batch_x[it % n_batches], mini_batch_y[it % n_batches]
        dl_dy = 2.0 * (w @ x + b - y)
        _sgd_step(params, _fc_grads(dl_dy, x), lr)
    return w, b


def train_slp(mini_batch_x, mini_batch_y):
    """Single linear layer trained with the softmax cross-entropy loss.

    Shapes as train_slp_linear.
    """
    params = _init(_HYPER_SLP, (N_CLASSES, 196))
    w, b = params

    n_batches = len(mini_batch_x)
    for it, lr in enumerate(_lr_schedule(_HYPER_SLP)):
        x, y = mini_batch_x[it % n_batches], mini_batch_y[it % n_batches]
        dl_dy = _softmax_ce_grad(w @ x + b, y)
        _sgd_step(params, _fc_grads(dl_dy, x), lr)
    return w, b


def train_mlp(mini_batch_x, mini_batch_y):
    """fc(30), ReLU, fc(10) trained with the softmax cross-entropy loss.

    Returns w1 (30, 196), b1 (30, 1), w2 (10, 30), b2 (10, 1).
    """
    params = _init(_HYPER_MLP, (30, 196), (N_CLASSES, 30))
    w1, b1, w2, b2 = params

    n_batches = len(mini_batch_x)
    for it, lr in enumerate(_lr_schedule(_HYPER_MLP)):
        x, y = mini_batch_x[it % n_batches], mini_batch_y[it % n_batches]
        h = np.maximum(w1 @ x + b1, 0)
        dl_dy = _softmax_ce_grad(w2 @ h + b2, y)
        # h > 0 exactly where the pre-activation is > 0: relu_backward's gate.
        dl_dh = (w2.T @ dl_dy) * (h > 0)
        _sgd_step(params, _fc_grads(dl_dh, x) + _fc_grads(dl_dy, h), lr)
    return w1, b1, w2, b2


def _pooled_im2col_index() -> np.ndarray:
    """Rows of a zero-padded 16 x 16 image feeding each conv tap, (9, 4, 49).

    The padded batch is stored (16, 16, b) as [j, i, b] (a 14 x 14 image column
    reshaped in C order is its transpose), so pixel (i, j) is row 16 j + i of
    its (256, b) view. Entry [q, k, p] serves kernel tap q = 3 di + dj (w_conv's
    row-major order), pooling slot k = 2 ki + kj (pool2x2_backward's scan order)
    and pooled cell p = i2 + 7 j2 (flattening's column-major order): output
    pixel (2 i2 + ki, 2 j2 + kj) reads padded pixel (i + di, j + dj).
    """
    di, dj, ki, kj, i2, j2 = np.ix_(*(range(n) for n in (3, 3, 2, 2, 7, 7)))
    i = 2 * i2 + ki + di
    j = 2 * j2 + kj + dj
    return (16 * j + i).transpose(0, 1, 2, 3, 5, 4).reshape(9, 4, 49)


def _pad_batch(x: np.ndarray) -> np.ndarray:
    """Zero-pad a (196, b) batch of 14 x 14 column-major images to (256, b)
    laid out as _pooled_im2col_index expects."""
    x_pad = np.zeros((16, 16, x.shape[1]))
    x_pad[1:15, 1:15] = x.reshape(14, 14, -1)
    return x_pad.reshape(256, -1)


def _first_max(z: np.ndarray, z_max: np.ndarray) -> np.ndarray:
    """One-hot of the first maximum of each pooling window, (c, 4, n) bool.

    z (c, 4, n) holds each window's four cells in pool2x2_backward's scan order,
    z_max (c, n) their maximum. Ties (identical patches, as in a saturated
    stroke) go to the first cell, as np.argmax in pool2x2_backward does; argmax
    over the middle axis itself is several times slower than these masks.
    """
    hit = z == z_max[:, None]
    free = ~hit[:, 0]
    for k in range(1, 4):
        hit[:, k] &= free
        free &= ~hit[:, k]
    return hit


def _cnn_grads(
    params: list[np.ndarray], x_pad: np.ndarray, index: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Summed gradients of the CNN's softmax cross-entropy over one batch.

    params: w_conv (3, 3, 1, 3), b_conv (3, 1), w_fc (10, 147), b_fc (10, 1);
    x_pad (256, b) from _pad_batch, index (9, 4, 49) from _pooled_im2col_index,
    y (10, b). Returns dl_dw_conv, dl_db_conv, dl_dw_fc, dl_db_fc shaped like
    the params.

    Max pooling commutes with adding the per-channel bias and with relu (both
    monotone), so the bias-free conv output z is pooled first:
    pool(relu(z + b)) = relu(z_max + b), and the gradient reaches the window's
    first maximum only where z_max + b > 0, as pool2x2_backward then
    relu_backward route it.
    """
    w_conv, b_conv, w_fc, b_fc = params
    cols = np.take(x_pad, index, axis=0).reshape(9, -1)
    z = (w_conv.reshape(9, 3).T @ cols).reshape(3, 4, -1)
    z_max = z.max(axis=1)
    f = np.maximum(z_max + b_conv, 0)
    dl_dy = _softmax_ce_grad(w_fc @ f.reshape(147, -1) + b_fc, y)

    dl_df = (w_fc.T @ dl_dy).reshape(3, -1) * (f > 0)
    dl_dz = _first_max(z, z_max) * dl_df[:, None]
    dl_dw_conv = (cols @ dl_dz.reshape(3, -1).T).reshape(3, 3, 1, 3)
    dl_db_conv = dl_df.sum(axis=1, keepdims=True)
    return (dl_dw_conv, dl_db_conv, *_fc_grads(dl_dy, f.reshape(147, -1)))


def train_cnn(mini_batch_x, mini_batch_y):
    """conv 3x3x1x3, ReLU, pool 2x2, flatten (147), fc(10), softmax CE.

    Returns w_conv (3, 3, 1, 3), b_conv (3, 1), w_fc (10, 147), b_fc (10, 1).
    Each batch is zero-padded once up front; each step's conv is one matmul
    over an im2col whose columns are grouped by pooling window.
    """
    params = _init(_HYPER_CNN, (3, 3, 1, 3), (N_CLASSES, 147))
    index = _pooled_im2col_index()
    padded = [_pad_batch(x) for x in mini_batch_x]

    n_batches = len(mini_batch_x)
    for it, lr in enumerate(_lr_schedule(_HYPER_CNN)):
        k = it % n_batches
        grads = _cnn_grads(params, padded[k], index, mini_batch_y[k])
        _sgd_step(params, grads, lr)
    w_conv, b_conv, w_fc, b_fc = params
    return w_conv, b_conv, w_fc, b_fc
