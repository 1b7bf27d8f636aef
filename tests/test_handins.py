"""Whole hand-ins graded as a user grades them: `python -m grader DIR --quick`.

Each variant below is one kind of hand-in the course sees: a correct one in
another style, which must pass with no false mistake, or one planted mistake,
which must get its status (and, where the grader names it, its mistake) on
every function it touches. The hand-ins are built from the reference's layer
functions (tests/handins.py) and graded in parallel once per session.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import handins
import pytest
from handins import PASS, Variant, Verdict

# Each builder takes the expected verdict and returns a function of the
# variant's source, so that a catalogue entry reads kind, verdict, then code.
Build = Callable[[str], Variant]


def _build(kind: str, verdict: Verdict) -> Build:
    return lambda source: Variant(kind, verdict, source)


def passes(
    kind: str, note: str = "", mistake: str = "", gradient: str = "pass"
) -> Build:
    """A correct variant; a backward or a loss among its functions also agrees
    with finite differences of its forward (unless `gradient` says otherwise)."""
    return _build(kind, Verdict("pass", mistake, note, gradient))


def fails(kind: str, mistake: str = "", gradient: str = "fail") -> Build:
    """A planted mistake; a wrong backward or loss also disagrees with finite
    differences of its (right) forward unless `gradient` says otherwise."""
    return _build(kind, Verdict("fail", mistake, gradient=gradient))


def errs(kind: str, mistake: str = "") -> Build:
    """Raises on the homework's own shapes, or cannot be called as specified."""
    return _build(kind, Verdict("error", mistake))


def unfinished(kind: str) -> Build:
    """Still the skeleton's TO DO stub."""
    return _build(kind, Verdict("missing", "unfinished"))


# -- get_mini_batch -----------------------------------------------------------

BATCHES = [
    passes("get_mini_batch-loops")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            order = np.random.permutation(n)
            mini_batch_x, mini_batch_y = [], []
            for start in range(0, n, batch_size):
                stop = min(start + batch_size, n)
                x_batch = np.zeros((im_train.shape[0], stop - start))
                y_batch = np.zeros((10, stop - start))
                for k in range(start, stop):
                    x_batch[:, k - start] = im_train[:, order[k]]
                    y_batch[int(label_train[0, order[k]]), k - start] = 1
                mini_batch_x.append(x_batch)
                mini_batch_y.append(y_batch)
            return mini_batch_x, mini_batch_y
    """),
    passes("get_mini_batch-np.int", mistake="numpy-removed-alias")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            labels = np.asarray(label_train).reshape(-1).astype(np.int)
            one_hot = np.zeros((10, n))
            one_hot[labels, np.arange(n)] = 1
            order = np.random.permutation(n)
            steps = range(0, n, batch_size)
            mini_batch_x = [im_train[:, order[k : k + batch_size]] for k in steps]
            mini_batch_y = [one_hot[:, order[k : k + batch_size]] for k in steps]
            return mini_batch_x, mini_batch_y
    """),
    passes("get_mini_batch-tuples")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            one_hot = np.eye(10)[:, np.ravel(label_train).astype(int)]
            order = np.random.permutation(n)
            steps = range(0, n, batch_size)
            mini_batch_x = tuple(im_train[:, order[k : k + batch_size]] for k in steps)
            mini_batch_y = tuple(one_hot[:, order[k : k + batch_size]] for k in steps)
            return mini_batch_x, mini_batch_y
    """),
    passes("get_mini_batch-python-random")("""
        def get_mini_batch(im_train, label_train, batch_size):
            import random

            n = im_train.shape[1]
            order = list(range(n))
            random.shuffle(order)
            one_hot = np.eye(10)[:, np.ravel(label_train).astype(int)]
            steps = range(0, n, batch_size)
            mini_batch_x = [im_train[:, order[k : k + batch_size]] for k in steps]
            mini_batch_y = [one_hot[:, order[k : k + batch_size]] for k in steps]
            return mini_batch_x, mini_batch_y
    """),
    fails("get_mini_batch-scrambled-pairs", "scrambled-pairs")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            one_hot = np.eye(10)[:, np.ravel(label_train).astype(int)]
            images = im_train[:, np.random.permutation(n)]
            labels = one_hot[:, np.random.permutation(n)]
            steps = range(0, n, batch_size)
            mini_batch_x = [images[:, k : k + batch_size] for k in steps]
            mini_batch_y = [labels[:, k : k + batch_size] for k in steps]
            return mini_batch_x, mini_batch_y
    """),
    fails("get_mini_batch-shuffles-images-in-place", "scrambled-pairs")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            np.random.shuffle(im_train.T)  # the labels stay where they were
            one_hot = np.eye(10)[:, np.ravel(label_train).astype(int)]
            steps = range(0, n, batch_size)
            mini_batch_x = [im_train[:, k : k + batch_size] for k in steps]
            mini_batch_y = [one_hot[:, k : k + batch_size] for k in steps]
            return mini_batch_x, mini_batch_y
    """),
    fails("get_mini_batch-drops-last-batch", "batches-cover-part")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            one_hot = np.eye(10)[:, np.ravel(label_train).astype(int)]
            order = np.random.permutation(n)
            mini_batch_x, mini_batch_y = [], []
            for k in range(n // batch_size):
                idx = order[k * batch_size : (k + 1) * batch_size]
                mini_batch_x.append(im_train[:, idx])
                mini_batch_y.append(one_hot[:, idx])
            return mini_batch_x, mini_batch_y
    """),
    fails("get_mini_batch-no-shuffle", "no-shuffle")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            one_hot = np.eye(10)[:, np.ravel(label_train).astype(int)]
            steps = range(0, n, batch_size)
            mini_batch_x = [im_train[:, k : k + batch_size] for k in steps]
            mini_batch_y = [one_hot[:, k : k + batch_size] for k in steps]
            return mini_batch_x, mini_batch_y
    """),
    fails("get_mini_batch-integer-labels")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            order = np.random.permutation(n)
            steps = range(0, n, batch_size)
            mini_batch_x = [im_train[:, order[k : k + batch_size]] for k in steps]
            mini_batch_y = [label_train[:, order[k : k + batch_size]] for k in steps]
            return mini_batch_x, mini_batch_y
    """),
    fails("get_mini_batch-labels-off-by-one", "label-off-by-one")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            labels = np.ravel(label_train).astype(int) - 1  # MATLAB labels 1..10
            one_hot = np.zeros((10, n))
            one_hot[labels, np.arange(n)] = 1
            order = np.random.permutation(n)
            steps = range(0, n, batch_size)
            mini_batch_x = [im_train[:, order[k : k + batch_size]] for k in steps]
            mini_batch_y = [one_hot[:, order[k : k + batch_size]] for k in steps]
            return mini_batch_x, mini_batch_y
    """),
]

# -- fc and fc_backward -------------------------------------------------------

FULLY_CONNECTED = [
    passes("fc-loops")("""
        def fc(x, w, b):
            n, m = w.shape
            y = np.zeros((n, 1))
            for i in range(n):
                total = b[i, 0]
                for j in range(m):
                    total += w[i, j] * x[j, 0]
                y[i, 0] = total
            return y
    """),
    passes("fc-flat-vectors", note="flat")("""
        def fc(x, w, b):
            return w @ np.ravel(x) + np.ravel(b)
    """),
    passes("fc-renamed-parameters", note="parameters named")("""
        def fc(inputs, weights, bias):
            return weights @ inputs + bias
    """),
    passes("fc-modifies-input", note="in place", mistake="modifies-input")("""
        def fc(x, w, b):
            b += w @ x
            return b
    """),
    fails("fc-transposed-weight")("""
        def fc(x, w, b):
            return np.reshape(w.T, w.shape) @ x + b
    """),
    errs("fc-raises-on-homework-shape")("""
        def fc(x, w, b):
            return x.T @ w + b.T
    """),
    passes("fc_backward-columns", note="(n, 1) column")("""
        def fc_backward(dl_dy, x, w, b, y):
            dl_dx = w.T @ dl_dy
            dl_dw = dl_dy @ x.T
            dl_db = dl_dy
            return dl_dx, dl_dw, dl_db
    """),
    passes("fc_backward-flat-vectors", note="flat")("""
        def fc_backward(dl_dy, x, w, b, y):
            g = np.ravel(dl_dy)
            return g @ w, np.outer(g, np.ravel(x)).ravel(), g
    """),
    passes("fc_backward-dl_dw-column-major", note="column by column")("""
        def fc_backward(dl_dy, x, w, b, y):
            dl_dx = dl_dy @ w
            dl_dw = np.reshape(dl_dy.T @ x.T, (1, -1), order="F")
            return dl_dx, dl_dw, dl_dy
    """),
    passes("fc_backward-loops")("""
        def fc_backward(dl_dy, x, w, b, y):
            n, m = w.shape
            dl_dx = np.zeros((1, m))
            dl_dw = np.zeros((1, n * m))
            dl_db = np.zeros((1, n))
            for i in range(n):
                dl_db[0, i] = dl_dy[0, i]
                for j in range(m):
                    dl_dx[0, j] += dl_dy[0, i] * w[i, j]
                    dl_dw[0, i * m + j] = dl_dy[0, i] * x[j, 0]
            return dl_dx, dl_dw, dl_db
    """),
    passes("fc_backward-without-y", note="without y")("""
        def fc_backward(dl_dy, x, w, b):
            return dl_dy @ w, (dl_dy.T @ x.T).reshape(1, -1), dl_dy
    """),
    fails("fc_backward-transposed-dl_dw", "transposed-dl_dw")("""
        def fc_backward(dl_dy, x, w, b, y):
            return dl_dy @ w, x @ dl_dy, dl_dy
    """),
    fails("fc_backward-dl_db-missing-dl_dy")("""
        def fc_backward(dl_dy, x, w, b, y):
            dl_db = np.ones((1, w.shape[0]))  # dy/db = 1
            return dl_dy @ w, (dl_dy.T @ x.T).reshape(1, -1), dl_db
    """),
]

# -- the two losses ------------------------------------------------------------

LOSSES = [
    passes("loss_euclidean-loops")("""
        def loss_euclidean(y_tilde, y):
            n = y.shape[0]
            l = 0.0
            dl_dy = np.zeros((1, n))
            for i in range(n):
                diff = y_tilde[i, 0] - y[i, 0]
                l += diff * diff
                dl_dy[0, i] = 2 * diff
            return l, dl_dy
    """),
    passes("loss_euclidean-column-gradient", note="column")("""
        def loss_euclidean(y_tilde, y):
            diff = y_tilde - y
            return np.sum(diff**2), 2 * diff
    """),
    passes("loss_euclidean-1x1-array", note="array of shape (1, 1)")("""
        def loss_euclidean(y_tilde, y):
            diff = y_tilde - y
            return diff.T @ diff, 2 * diff.T
    """),
    fails("loss_euclidean-half", gradient="pass")("""
        def loss_euclidean(y_tilde, y):
            diff = y_tilde - y
            return 0.5 * float(np.sum(diff**2)), diff.T
    """),
    fails("loss_euclidean-gradient-without-2")("""
        def loss_euclidean(y_tilde, y):
            diff = y_tilde - y
            return float(np.sum(diff**2)), diff.T
    """),
    fails("loss_euclidean-mean", gradient="pass")("""
        def loss_euclidean(y_tilde, y):
            diff = y_tilde - y
            return float(np.mean(diff**2)), 2 * diff.T / diff.size
    """),
    fails("loss_euclidean-wrong-sign")("""
        def loss_euclidean(y_tilde, y):
            diff = y - y_tilde
            return float(np.sum(diff**2)), 2 * diff.T
    """),
    fails("loss_euclidean-unsummed", gradient="unavailable")("""
        def loss_euclidean(y_tilde, y):
            diff = y_tilde - y
            return diff**2, 2 * diff.T
    """),
    passes("loss_cross_entropy_softmax-loops")("""
        def loss_cross_entropy_softmax(x, y):
            import math

            scores = [float(s) for s in np.ravel(x)]
            labels = [float(t) for t in np.ravel(y)]
            top = max(scores)
            log_total = math.log(sum(math.exp(s - top) for s in scores))
            l = 0.0
            dl_dy = np.zeros((1, len(scores)))
            for i, s in enumerate(scores):
                log_p = s - top - log_total
                l -= labels[i] * log_p
                dl_dy[0, i] = math.exp(log_p) - labels[i]
            return l, dl_dy
    """),
    passes("loss_cross_entropy_softmax-flat-vectors", note="flat")("""
        def loss_cross_entropy_softmax(x, y):
            z = np.ravel(x) - np.max(x)
            log_p = z - np.log(np.sum(np.exp(z)))
            return -np.dot(np.ravel(y), log_p), np.exp(log_p) - np.ravel(y)
    """),
    fails("loss_cross_entropy_softmax-no-max-shift", gradient="pass")("""
        def loss_cross_entropy_softmax(x, y):
            p = np.exp(x) / np.sum(np.exp(x))
            return float(-np.sum(y * np.log(p))), (p - y).T
    """),
    fails("loss_cross_entropy_softmax-wrong-sign")("""
        def loss_cross_entropy_softmax(x, y):
            z = x - np.max(x)
            log_p = z - np.log(np.sum(np.exp(z)))
            return float(-np.sum(y * log_p)), (y - np.exp(log_p)).T
    """),
    fails("loss_cross_entropy_softmax-mean", gradient="pass")("""
        def loss_cross_entropy_softmax(x, y):
            z = x - np.max(x)
            log_p = z - np.log(np.sum(np.exp(z)))
            n = x.shape[0]
            return float(-np.sum(y * log_p)) / n, (np.exp(log_p) - y).T / n
    """),
    fails("loss_cross_entropy_softmax-unsummed", gradient="unavailable")("""
        def loss_cross_entropy_softmax(x, y):
            z = x - np.max(x)
            log_p = z - np.log(np.sum(np.exp(z)))
            return -y * log_p, (np.exp(log_p) - y).T
    """),
]

# -- relu and relu_backward -----------------------------------------------------

RELU = [
    passes("relu-leaky", note="leaky")("""
        def relu(x):
            return np.where(x > 0, x, 0.01 * x)


        def relu_backward(dl_dy, x, y):
            return dl_dy * np.where(x > 0, 1.0, 0.01)
    """),
    passes("relu-loops")("""
        def relu(x):
            y = np.zeros(x.shape)
            for index in np.ndindex(x.shape):
                y[index] = x[index] if x[index] > 0 else 0.0
            return y
    """),
    passes("relu-modifies-input", note="in place", mistake="modifies-input")("""
        def relu(x):
            x[x < 0] = 0
            return x
    """),
    fails("relu_backward-gated-by-dl_dy", "relu-backward-gated-by-dl_dy")("""
        def relu_backward(dl_dy, x, y):
            return np.where(dl_dy > 0, dl_dy, 0)
    """),
    passes("relu_backward-gate-x-at-least-0")("""
        def relu_backward(dl_dy, x, y):
            return dl_dy * (x >= 0)
    """),
    passes("relu_backward-gate-by-y")("""
        def relu_backward(dl_dy, x, y):
            return np.where(y > 0, dl_dy, 0.0)
    """),
    passes("relu_backward-without-y", note="without y")("""
        def relu_backward(dl_dy, x):
            return np.where(x > 0, dl_dy, 0)
    """),
    passes(
        "relu_backward-modifies-input", note="in place", mistake="modifies-input"
    )("""
        def relu_backward(dl_dy, x, y):
            dl_dy[x <= 0] = 0
            return dl_dy
    """),
    passes("relu_backward-loops")("""
        def relu_backward(dl_dy, x, y):
            dl_dx = np.zeros(x.shape)
            for index in np.ndindex(x.shape):
                if x[index] > 0:
                    dl_dx[index] = dl_dy[index]
            return dl_dx
    """),
]

# -- conv and conv_backward -------------------------------------------------------

CONV = [
    passes("conv-loops")("""
        def conv(x, w_conv, b_conv):
            H, W, C1 = x.shape
            h, w, _, C2 = w_conv.shape
            top, left = (h - 1) // 2, (w - 1) // 2
            x_pad = np.zeros((H + h - 1, W + w - 1, C1))
            x_pad[top : top + H, left : left + W, :] = x
            y = np.zeros((H, W, C2))
            for c2 in range(C2):
                for i in range(H):
                    for j in range(W):
                        patch = x_pad[i : i + h, j : j + w, :]
                        y[i, j, c2] = np.sum(patch * w_conv[:, :, :, c2])
                        y[i, j, c2] += b_conv[c2, 0]
            return y
    """),
    passes("conv-scipy-correlate2d")("""
        def conv(x, w_conv, b_conv):
            from scipy.signal import correlate2d

            H, W, C1 = x.shape
            C2 = w_conv.shape[3]
            y = np.zeros((H, W, C2))
            for c2 in range(C2):
                for c1 in range(C1):
                    kernel = w_conv[:, :, c1, c2]
                    y[:, :, c2] += correlate2d(x[:, :, c1], kernel, mode="same")
                y[:, :, c2] += b_conv[c2, 0]
            return y
    """),
    fails("conv-flipped-kernel")("""
        def conv(x, w_conv, b_conv):
            h, w, C1, C2 = w_conv.shape
            x_pad = np.pad(x, ((h // 2, h // 2), (w // 2, w // 2), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(x_pad, (h, w), (0, 1))
            kernel = w_conv[::-1, ::-1]  # convolution turns the kernel
            return np.einsum("ijcab,abcd->ijd", windows, kernel) + np.ravel(b_conv)
    """),
    fails("conv-missing-bias")("""
        def conv(x, w_conv, b_conv):
            h, w, C1, C2 = w_conv.shape
            x_pad = np.pad(x, ((h // 2, h // 2), (w // 2, w // 2), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(x_pad, (h, w), (0, 1))
            return np.einsum("ijcab,abcd->ijd", windows, w_conv)
    """),
    fails("conv-padding-one-side")("""
        def conv(x, w_conv, b_conv):
            h, w, C1, C2 = w_conv.shape
            x_pad = np.pad(x, ((0, h - 1), (0, w - 1), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(x_pad, (h, w), (0, 1))
            return np.einsum("ijcab,abcd->ijd", windows, w_conv) + np.ravel(b_conv)
    """),
    fails("conv-no-padding")("""
        def conv(x, w_conv, b_conv):
            h, w, C1, C2 = w_conv.shape
            windows = np.lib.stride_tricks.sliding_window_view(x, (h, w), (0, 1))
            return np.einsum("ijcab,abcd->ijd", windows, w_conv) + np.ravel(b_conv)
    """),
    fails("conv-hard-coded-sizes")("""
        def conv(x, w_conv, b_conv):
            x_pad = np.zeros((16, 16))
            x_pad[1:15, 1:15] = x[:, :, 0]
            y = np.zeros((14, 14, 3))
            for c2 in range(3):
                for i in range(14):
                    for j in range(14):
                        patch = x_pad[i : i + 3, j : j + 3]
                        y[i, j, c2] = np.sum(patch * w_conv[:, :, 0, c2])
                        y[i, j, c2] += b_conv[c2, 0]
            return y
    """),
    passes("conv_backward-loops")("""
        def conv_backward(dl_dy, x, w_conv, b_conv, y):
            H, W, C1 = x.shape
            h, w, _, C2 = w_conv.shape
            top, left = (h - 1) // 2, (w - 1) // 2
            x_pad = np.zeros((H + h - 1, W + w - 1, C1))
            x_pad[top : top + H, left : left + W, :] = x
            dl_dw = np.zeros((h, w, C1, C2))
            dl_db = np.zeros((C2, 1))
            for c2 in range(C2):
                dl_db[c2, 0] = np.sum(dl_dy[:, :, c2])
                for c1 in range(C1):
                    for di in range(h):
                        for dj in range(w):
                            shifted = x_pad[di : di + H, dj : dj + W, c1]
                            dl_dw[di, dj, c1, c2] = np.sum(shifted * dl_dy[:, :, c2])
            return dl_dw, dl_db
    """),
    passes("conv_backward-flat-dl_db", note="flat")("""
        def conv_backward(dl_dy, x, w_conv, b_conv, y):
            h, w, C1, C2 = w_conv.shape
            x_pad = np.pad(x, ((h // 2, h // 2), (w // 2, w // 2), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(x_pad, (h, w), (0, 1))
            dl_dw = np.einsum("ijcab,ijd->abcd", windows, dl_dy)
            return dl_dw, dl_dy.sum(axis=(0, 1))
    """),
    passes("conv_backward-without-y", note="without y")("""
        def conv_backward(dl_dy, x, w_conv, b_conv):
            h, w, C1, C2 = w_conv.shape
            x_pad = np.pad(x, ((h // 2, h // 2), (w // 2, w // 2), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(x_pad, (h, w), (0, 1))
            dl_dw = np.einsum("ijcab,ijd->abcd", windows, dl_dy)
            return dl_dw, dl_dy.sum(axis=(0, 1)).reshape(-1, 1)
    """),
    fails("conv_backward-transposed-channels")("""
        def conv_backward(dl_dy, x, w_conv, b_conv, y):
            h, w, C1, C2 = w_conv.shape
            x_pad = np.pad(x, ((h // 2, h // 2), (w // 2, w // 2), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(x_pad, (h, w), (0, 1))
            dl_dw = np.einsum("ijcab,ijd->abdc", windows, dl_dy)  # (h, w, C2, C1)
            return dl_dw, dl_dy.sum(axis=(0, 1)).reshape(-1, 1)
    """),
    fails("conv_backward-flipped-kernel")("""
        def conv_backward(dl_dy, x, w_conv, b_conv, y):
            h, w, C1, C2 = w_conv.shape
            x_pad = np.pad(x, ((h // 2, h // 2), (w // 2, w // 2), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(x_pad, (h, w), (0, 1))
            dl_dw = np.einsum("ijcab,ijd->abcd", windows, dl_dy)[::-1, ::-1]
            return dl_dw, dl_dy.sum(axis=(0, 1)).reshape(-1, 1)
    """),
    fails("conv_backward-hard-coded-sizes", gradient="")("""
        def conv_backward(dl_dy, x, w_conv, b_conv, y):
            x_pad = np.zeros((16, 16))
            x_pad[1:15, 1:15] = x[:, :, 0]
            dl_dw = np.zeros((3, 3, 1, 3))
            dl_db = np.zeros((3, 1))
            for c2 in range(3):
                dl_db[c2, 0] = np.sum(dl_dy[:, :, c2])
                for di in range(3):
                    for dj in range(3):
                        shifted = x_pad[di : di + 14, dj : dj + 14]
                        dl_dw[di, dj, 0, c2] = np.sum(shifted * dl_dy[:, :, c2])
            return dl_dw, dl_db
    """),
]

# -- pool2x2 and pool2x2_backward ------------------------------------------------

POOLING = [
    passes("pool2x2-loops")("""
        def pool2x2(x):
            H, W, C = x.shape
            y = np.zeros((H // 2, W // 2, C))
            for i in range(H // 2):
                for j in range(W // 2):
                    for c in range(C):
                        y[i, j, c] = max(
                            x[2 * i, 2 * j, c], x[2 * i, 2 * j + 1, c],
                            x[2 * i + 1, 2 * j, c], x[2 * i + 1, 2 * j + 1, c],
                        )
            return y
    """),
    fails("pool2x2-mean")("""
        def pool2x2(x):
            H, W, C = x.shape
            return x.reshape(H // 2, 2, W // 2, 2, C).mean(axis=(1, 3))
    """),
    fails("pool2x2-hard-coded-sizes")("""
        def pool2x2(x):
            y = np.zeros((7, 7, 3))
            for i in range(7):
                for j in range(7):
                    for c in range(3):
                        y[i, j, c] = np.max(x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, c])
            return y
    """),
    errs("pool2x2-raises-on-homework-shape")("""
        def pool2x2(x):
            H, W, C = x.shape
            return x.reshape(H / 2, 2, W / 2, 2, C).max(axis=(1, 3))
    """),
    passes("pool2x2_backward-loops")("""
        def pool2x2_backward(dl_dy, x, y):
            H, W, C = x.shape
            dl_dx = np.zeros((H, W, C))
            for i in range(H // 2):
                for j in range(W // 2):
                    for c in range(C):
                        best = (2 * i, 2 * j)
                        for di in range(2):
                            for dj in range(2):
                                if x[2 * i + di, 2 * j + dj, c] > x[best + (c,)]:
                                    best = (2 * i + di, 2 * j + dj)
                        dl_dx[best + (c,)] = dl_dy[i, j, c]
            return dl_dx
    """),
    passes("pool2x2_backward-ties-to-last-max")("""
        def pool2x2_backward(dl_dy, x, y):
            H, W, C = x.shape
            dl_dx = np.zeros((H, W, C))
            for i in range(H // 2):
                for j in range(W // 2):
                    for c in range(C):
                        cells = np.ravel(x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, c])
                        k = 3 - int(np.argmax(cells[::-1]))  # the last maximum
                        dl_dx[2 * i + k // 2, 2 * j + k % 2, c] = dl_dy[i, j, c]
            return dl_dx
    """),
    passes("pool2x2_backward-ties-shared")("""
        def pool2x2_backward(dl_dy, x, y):
            H, W, C = x.shape
            windows = x.reshape(H // 2, 2, W // 2, 2, C)
            is_max = windows == windows.max(axis=(1, 3), keepdims=True)
            share = is_max / is_max.sum(axis=(1, 3), keepdims=True)
            dl_dx = share * np.reshape(dl_dy, (H // 2, 1, W // 2, 1, C))
            return dl_dx.reshape(H, W, C)
    """),
    passes("pool2x2_backward-without-y", note="without y")("""
        def pool2x2_backward(dl_dy, x):
            H, W, C = x.shape
            windows = x.reshape(H // 2, 2, W // 2, 2, C).transpose(0, 2, 4, 1, 3)
            first = np.argmax(windows.reshape(H // 2, W // 2, C, 4), axis=3)
            routed = np.zeros((H // 2, W // 2, C, 4))
            np.put_along_axis(routed, first[..., None], dl_dy[..., None], axis=3)
            routed = routed.reshape(H // 2, W // 2, C, 2, 2)
            return routed.transpose(0, 3, 1, 4, 2).reshape(H, W, C)
    """),
    passes("pool2x2_backward-optional-stride")("""
        def pool2x2_backward(dl_dy, x, y, stride=2):
            H, W, C = x.shape
            dl_dx = np.zeros((H, W, C))
            for i in range(0, H, stride):
                for j in range(0, W, stride):
                    for c in range(C):
                        window = x[i : i + stride, j : j + stride, c]
                        di, dj = np.unravel_index(np.argmax(window), window.shape)
                        dl_dx[i + di, j + dj, c] = dl_dy[i // stride, j // stride, c]
            return dl_dx
    """),
    errs("pool2x2_backward-extra-required-argument", "extra-required-argument")("""
        def pool2x2_backward(dl_dy, x, y, stride):
            H, W, C = x.shape
            dl_dx = np.zeros((H, W, C))
            for i in range(0, H, stride):
                for j in range(0, W, stride):
                    for c in range(C):
                        window = x[i : i + stride, j : j + stride, c]
                        di, dj = np.unravel_index(np.argmax(window), window.shape)
                        dl_dx[i + di, j + dj, c] = dl_dy[i // stride, j // stride, c]
            return dl_dx
    """),
    fails("pool2x2_backward-to-every-cell")("""
        def pool2x2_backward(dl_dy, x, y):
            return np.repeat(np.repeat(dl_dy, 2, axis=0), 2, axis=1)
    """),
    fails("pool2x2_backward-split-in-four")("""
        def pool2x2_backward(dl_dy, x, y):
            return np.repeat(np.repeat(dl_dy / 4, 2, axis=0), 2, axis=1)
    """),
    fails("pool2x2_backward-hard-coded-sizes", gradient="")("""
        def pool2x2_backward(dl_dy, x, y):
            dl_dx = np.zeros((14, 14, 3))
            for i in range(7):
                for j in range(7):
                    for c in range(3):
                        window = x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, c]
                        di, dj = np.unravel_index(np.argmax(window), (2, 2))
                        dl_dx[2 * i + di, 2 * j + dj, c] = dl_dy[i, j, c]
            return dl_dx
    """),
]

# -- flattening and flattening_backward --------------------------------------------

FLATTENING = [
    passes("flattening-loops")("""
        def flattening(x):
            H, W, C = x.shape
            y = np.zeros((H * W * C, 1))
            k = 0
            for c in range(C):
                for j in range(W):
                    for i in range(H):
                        y[k, 0] = x[i, j, c]
                        k += 1
            return y
    """),
    passes("flattening-flat-vector", note="flat")("""
        def flattening(x):
            return x.flatten(order="F")
    """),
    fails("flattening-row-major", "row-major-flattening")("""
        def flattening(x):
            return x.reshape(-1, 1)
    """),
    fails("flattening-hard-coded-sizes")("""
        def flattening(x):
            return np.reshape(x, (147, 1), order="F")
    """),
    errs("flattening-required-keyword", "extra-required-argument")("""
        def flattening(x, *, order):
            return np.reshape(x, (-1, 1), order=order)
    """),
    passes("flattening_backward-without-y", note="without y")("""
        def flattening_backward(dl_dy, x):
            return np.reshape(dl_dy, x.shape, order="F")
    """),
    fails("flattening_backward-row-major", "row-major-flattening")("""
        def flattening_backward(dl_dy, x, y):
            return np.reshape(dl_dy, x.shape)
    """),
    fails("flattening_backward-hard-coded-sizes", gradient="")("""
        def flattening_backward(dl_dy, x, y):
            return np.reshape(dl_dy, (7, 7, 3), order="F")
    """),
]

# -- unfinished functions --------------------------------------------------------

UNFINISHED = [
    unfinished("stub-returns-undefined-names")("""
        def conv_backward(dl_dy, x, w_conv, b_conv, y):
            \"\"\"Backward pass of conv: dl_dw (h, w, C1, C2), dl_db (C2, 1).\"\"\"
            # TO DO
            return dl_dw, dl_db
    """),
    unfinished("stub-pass")("""
        def flattening_backward(dl_dy, x, y):
            # TO DO
            pass
    """),
    Variant("not-defined", Verdict("missing"), removes=("loss_euclidean",)),
]

# -- whole modules -----------------------------------------------------------------

LATIN_1_HEADER = """
    # Devoir 4 : réseau de neurones, écrit à la main (fichier enregistré en Latin-1)
    import numpy as np
"""

SKELETON_IMPORTS = """
    import math
    import os
    import time
    import tkinter as tk

    import cv2
    import main_functions as main
    import matplotlib
    import matplotlib.pyplot as plt
    import numpy as np
    import scipy.io as sio
    from tqdm import tqdm

    matplotlib.use("TkAgg")
    plt.plot([0, 1], [1, 0])
    plt.show()
"""

MODULES = [
    Variant("reference-as-is", PASS),
    Variant("latin-1-comment", PASS, header=LATIN_1_HEADER, encoding="latin-1"),
    Variant(
        "utf-8-bom-crlf",
        PASS,
        header="# é\nimport numpy as np",
        encoding="utf-8-sig",
        newline="\r\n",
    ),
    Variant("skeleton-imports-and-plt-show", PASS, header=SKELETON_IMPORTS),
    Variant(
        "thousands-of-prints",
        PASS,
        """
        def fc(x, w, b):
            print("fc", x.shape, w.shape, b.shape)
            y = w @ x + b
            print("y =", y.ravel())
            return y
    """,
        header="""
        import numpy as np

        for epoch in range(5000):
            print("epoch", epoch, "loss", 1.0 / (epoch + 1))
    """,
    ),
    Variant(
        "module-not-named-cnn",
        PASS,
        module_name="hw4_solution_final.py",
        extra_files={
            "cnn_draft.py": "def fc(x, w, b):\n    return w @ x + b\n",
            "scratch.py": "print('trying things out')\n",
        },
    ),
    Variant(
        "syntax-error",
        Verdict("error", "syntax-error"),
        every_check=True,
        footer="""
        if __name__ == "__main__"
            print("training")
    """,
    ),
    Variant(
        "raises-at-import",
        Verdict("error", "import-error"),
        every_check=True,
        header="""
        import numpy as np
        import scipy.io as sio

        data = sio.loadmat("mnist_train.mat")
    """,
    ),
]

VARIANTS = (
    BATCHES
    + FULLY_CONNECTED
    + LOSSES
    + RELU
    + CONV
    + POOLING
    + FLATTENING
    + UNFINISHED
    + MODULES
)
HANDINS = handins.pack(VARIANTS)

# What the grader gets wrong today, per test, by variant kind -> why: marked
# strictly expected to fail, so that a fix shows up as an XPASS. None now.
VERDICT_BUGS: dict[str, str] = {}
GRADIENT_BUGS: dict[str, str] = {}
MESSAGE_BUGS: dict[str, str] = {}


def _params(variants: list[Variant], bugs: dict[str, str]) -> list[object]:
    """One pytest param per variant, strictly expected to fail where the
    grader is known to be wrong."""
    unknown = set(bugs) - {v.kind for v in variants}
    assert not unknown, f"bugs listed for no variant: {sorted(unknown)}"
    return [
        pytest.param(
            v,
            id=v.kind,
            marks=[pytest.mark.xfail(strict=True, reason=bugs[v.kind])]
            if v.kind in bugs
            else [],
        )
        for v in variants
    ]


GRADIENT_VARIANTS = [
    v for v in VARIANTS if any(w.gradient for w in v.expected().values())
]
FAILING_VARIANTS = [
    v
    for v in VARIANTS
    if any(w.status in ("fail", "error") for w in v.expected().values())
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, handins.Graded]:
    """Every hand-in, graded once (in parallel) for the whole module."""
    return handins.grade_all(HANDINS, tmp_path_factory.mktemp("graded"))


def _graded_home(variant: Variant, graded: dict[str, handins.Graded]) -> handins.Graded:
    return graded[handins.home_of(variant, HANDINS).name]


@pytest.mark.parametrize("variant", _params(VARIANTS, VERDICT_BUGS))
def test_variant_gets_its_verdict(
    variant: Variant, graded: dict[str, handins.Graded]
) -> None:
    """Status, named mistake and note on every function the variant decides."""
    result = _graded_home(variant, graded)
    problems = [
        f"{name}: {problem}"
        for name, want in variant.expected().items()
        for problem in handins.verdict_problems(result.check(name), want)
    ]
    assert not problems, f"{result.folder}:\n" + "\n".join(problems)


@pytest.mark.parametrize("variant", _params(GRADIENT_VARIANTS, GRADIENT_BUGS))
def test_gradient_check_tells_forward_from_backward(
    variant: Variant, graded: dict[str, handins.Graded]
) -> None:
    """Finite differences on the hand-in's own forward agree with a right
    backward (whatever its layout) and disagree with a wrong one."""
    result = _graded_home(variant, graded)
    problems = [
        f"{name}: {problem}"
        for name, want in variant.expected().items()
        for problem in handins.gradient_problems(result.check(name), want)
    ]
    assert not problems, f"{result.folder}:\n" + "\n".join(problems)


@pytest.mark.parametrize("variant", _params(FAILING_VARIANTS, MESSAGE_BUGS))
def test_failure_message_says_what_differs(
    variant: Variant, graded: dict[str, handins.Graded]
) -> None:
    """A failing check's message ends with what went wrong, not a bare label."""
    result = _graded_home(variant, graded)
    failing = [n for n, w in variant.expected().items() if w.status != "pass"]
    messages = {name: result.check(name)["message"] for name in failing}
    bare = {n: m for n, m in messages.items() if m.rstrip().endswith(":")}
    assert not bare, f"{result.folder}: messages that explain nothing: {bare}"


@pytest.mark.parametrize("handin", HANDINS, ids=lambda h: h.name)
def test_untouched_functions_pass_cleanly(
    handin: handins.HandIn, graded: dict[str, handins.Graded]
) -> None:
    """No false mistake, and a passing gradient check where the forward is
    right, on every function that no variant of the hand-in changed."""
    result = graded[handin.name]
    expected = handin.expected()
    problems = [
        f"{name}: {problem}"
        for name in handin.untouched()
        for problem in handins.verdict_problems(result.check(name), expected[name])
        + handins.gradient_problems(result.check(name), expected[name])
    ]
    assert not problems, f"{result.folder}:\n" + "\n".join(problems)


@pytest.mark.parametrize("handin", HANDINS, ids=lambda h: h.name)
def test_exit_status_tells_whether_all_passed(
    handin: handins.HandIn, graded: dict[str, handins.Graded]
) -> None:
    """Exit 0 exactly when every check passed (trainers are skipped)."""
    result = graded[handin.name]
    all_pass = all(v.status == "pass" for v in handin.expected().values())
    assert result.returncode == (0 if all_pass else 1), result.output[-2000:]
    assert result.result is not None and result.result["quick"] is True


def test_acceptance_cases_agree(shared_dir: Path) -> None:
    """The non-hostile acceptance cases' statuses, through the project's own
    checker (`check-cases`, quick mode), split into WORKERS shards run at
    once. It grades with this interpreter's `-m grader`, run from the
    repository, so that the checkout under test is what grades."""
    tool = shared_dir / "tools" / "check-cases"
    cases = sorted(
        p.parent
        for p in (shared_dir / "cases").glob("*/expected.toml")
        if not p.parent.name.startswith("hostile-")
    )
    assert cases, f"no acceptance cases in {shared_dir / 'cases'}"
    shards = [cases[k :: handins.WORKERS] for k in range(handins.WORKERS)]
    grade_command = f"{shlex.quote(sys.executable)} -m grader"

    def check(shard: list[Path]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(tool), "--grade", grade_command, *map(str, shard)],
            capture_output=True,
            text=True,
            cwd=handins.REPO,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )

    with ThreadPoolExecutor(max_workers=len(shards)) as pool:
        runs = list(pool.map(check, [s for s in shards if s]))
    disagreements = [(r.stdout + r.stderr)[-4000:] for r in runs if r.returncode != 0]
    assert not disagreements, "\n".join(disagreements)
