"""Known mistakes planted in the reference the way students write them.

Each `Plant` is one mistake of the catalogue (grader/homework/mistakes.py) or
one of its behaviour rules, written in one student's style: our own code, not
the catalogue's variant functions, so that a diagnosis test is independent
evidence that the grader recognises the *kind* of mistake, not one spelling.
Most mistakes are planted twice, in different styles (vectorised and loops,
(n, 1) columns and flat vectors).

Plants of layer functions are packed into hand-ins with tests/handins.py and
graded with `--quick`; trainer plants (`TRAINER_PLANTS`) replace the
placeholder trainers and are graded with training on the course data.

Run as a script to write one plant's hand-in and print the command that
grades it: `python tests/planted.py KIND FOLDER`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import handins
from handins import TRAINERS, HandIn, Variant, Verdict

# Gradings run at once: the brief of this suite is 3-4, whatever the cores.
WORKERS = 4
QUICK_SECONDS = 180.0
DATA = handins.REPO.parent / "shared" / "data"
CASES = handins.REPO.parent / "shared" / "cases"
EVERY_CHECK = handins.LAYERS + TRAINERS


@dataclass(frozen=True)
class Plant:
    """One mistake written in one style, and the diagnosis it must get.

    `function` must get `mistake` among its JSON mistakes, with a hint;
    `extra` lists other (function, mistake) pairs the same fault must also
    produce (a wrong forward beside its backward). `also` names mistakes the
    grader may add on those functions as further evidence of the same fault
    (a wrong backward also disagrees with finite differences). Every other
    check of the hand-in must name no mistake. `function` "module" means
    every check gets the mistake (the module does not compile or import).
    """

    mistake: str
    function: str
    style: str
    source: str = ""
    status: str = "fail"
    extra: tuple[tuple[str, str], ...] = ()
    also: frozenset[str] = frozenset()
    header: str = ""
    footer: str = ""
    removes: tuple[str, ...] = ()
    train_seconds: float = 120.0

    @property
    def kind(self) -> str:
        return f"{self.mistake}@{self.function}.{self.style}"

    def diagnoses(self) -> dict[str, str]:
        """Check name -> the mistake it must get."""
        if self.function == "module":
            return dict.fromkeys(EVERY_CHECK, self.mistake)
        return {self.function: self.mistake, **dict(self.extra)}

    def variant(self) -> Variant:
        """The handins.Variant that builds this plant.

        A gradient verdict marks a backward whose diagnosis assumes its
        forward right, so that pack() never puts it beside a broken forward.
        """
        checked = set(self.diagnoses()) & set(handins.FORWARD_OF)
        verdict = Verdict(self.status, self.mistake, gradient="fail" if checked else "")
        return Variant(
            self.kind,
            verdict,
            self.source,
            removes=self.removes,
            header=self.header,
            footer=self.footer,
            every_check=self.function == "module",
        )


def plant(
    mistake: str, function: str, style: str, **options: Any
) -> Callable[[str], Plant]:
    """A plant builder taking its source, so that an entry reads mistake,
    function, style, then code."""
    return lambda source: Plant(mistake, function, style, source, **options)


def module_plant(mistake: str, style: str, where: str) -> Callable[[str], Plant]:
    """A module that never gets as far as its functions: `where` (header or
    footer) is the text that breaks it."""
    return lambda text: Plant(mistake, "module", style, status="error", **{where: text})


DISAGREES = frozenset({"backward-disagrees-with-forward"})
MATCHES_WRONG = frozenset({"backward-matches-wrong-forward"})

# -- get_mini_batch -------------------------------------------------------------

BATCHES = [
    plant("scrambled-pairs", "get_mini_batch", "vectorised")("""
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
    plant("scrambled-pairs", "get_mini_batch", "loops")("""
        def get_mini_batch(im_train, label_train, batch_size):
            import random

            n = im_train.shape[1]
            order = list(range(n))
            random.shuffle(order)
            mini_batch_x, mini_batch_y = [], []
            for start in range(0, n, batch_size):
                stop = min(start + batch_size, n)
                x_batch = np.zeros((im_train.shape[0], stop - start))
                y_batch = np.zeros((10, stop - start))
                for k in range(start, stop):
                    x_batch[:, k - start] = im_train[:, order[k]]
                    y_batch[int(label_train[0, k]), k - start] = 1
                mini_batch_x.append(x_batch)
                mini_batch_y.append(y_batch)
            return mini_batch_x, mini_batch_y
    """),
    plant("batches-cover-part", "get_mini_batch", "vectorised")("""
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
    plant("batches-cover-part", "get_mini_batch", "loops")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            order = np.random.permutation(n)
            mini_batch_x, mini_batch_y = [], []
            start = 0
            while start + batch_size <= n:
                x_batch = np.zeros((im_train.shape[0], batch_size))
                y_batch = np.zeros((10, batch_size))
                for j in range(batch_size):
                    x_batch[:, j] = im_train[:, order[start + j]]
                    y_batch[int(label_train[0, order[start + j]]), j] = 1
                mini_batch_x.append(x_batch)
                mini_batch_y.append(y_batch)
                start += batch_size
            return mini_batch_x, mini_batch_y
    """),
    plant("batches-repeat-columns", "get_mini_batch", "random-draws")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            one_hot = np.eye(10)[:, np.ravel(label_train).astype(int)]
            mini_batch_x, mini_batch_y = [], []
            for _ in range(int(np.ceil(n / batch_size))):
                idx = np.random.randint(0, n, size=batch_size)
                mini_batch_x.append(im_train[:, idx])
                mini_batch_y.append(one_hot[:, idx])
            return mini_batch_x, mini_batch_y
    """),
    plant("batches-repeat-columns", "get_mini_batch", "choice-with-replacement")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            one_hot = np.eye(10)[:, np.ravel(label_train).astype(int)]
            order = np.random.choice(n, n)
            steps = range(0, n, batch_size)
            mini_batch_x = [im_train[:, order[k : k + batch_size]] for k in steps]
            mini_batch_y = [one_hot[:, order[k : k + batch_size]] for k in steps]
            return mini_batch_x, mini_batch_y
    """),
    plant("labels-not-one-hot", "get_mini_batch", "vectorised")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            order = np.random.permutation(n)
            steps = range(0, n, batch_size)
            mini_batch_x = [im_train[:, order[k : k + batch_size]] for k in steps]
            mini_batch_y = [label_train[:, order[k : k + batch_size]] for k in steps]
            return mini_batch_x, mini_batch_y
    """),
    plant("labels-not-one-hot", "get_mini_batch", "loops")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            order = np.random.permutation(n)
            mini_batch_x, mini_batch_y = [], []
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                mini_batch_x.append(im_train[:, idx])
                mini_batch_y.append(np.array([[label_train[0, k] for k in idx]]))
            return mini_batch_x, mini_batch_y
    """),
    plant("label-off-by-one", "get_mini_batch", "vectorised")("""
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
    plant("label-off-by-one", "get_mini_batch", "loops")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            order = np.random.permutation(n)
            mini_batch_x, mini_batch_y = [], []
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                y_batch = np.zeros((10, len(idx)))
                for j, k in enumerate(idx):
                    y_batch[int(label_train[0, k]) - 1, j] = 1
                mini_batch_x.append(im_train[:, idx])
                mini_batch_y.append(y_batch)
            return mini_batch_x, mini_batch_y
    """),
    plant("no-shuffle", "get_mini_batch", "vectorised")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            one_hot = np.eye(10)[:, np.ravel(label_train).astype(int)]
            steps = range(0, n, batch_size)
            mini_batch_x = [im_train[:, k : k + batch_size] for k in steps]
            mini_batch_y = [one_hot[:, k : k + batch_size] for k in steps]
            return mini_batch_x, mini_batch_y
    """),
    plant("no-shuffle", "get_mini_batch", "loops")("""
        def get_mini_batch(im_train, label_train, batch_size):
            n = im_train.shape[1]
            mini_batch_x, mini_batch_y = [], []
            for start in range(0, n, batch_size):
                stop = min(start + batch_size, n)
                y_batch = np.zeros((10, stop - start))
                for k in range(start, stop):
                    y_batch[int(label_train[0, k]), k - start] = 1
                mini_batch_x.append(im_train[:, start:stop].copy())
                mini_batch_y.append(y_batch)
            return mini_batch_x, mini_batch_y
    """),
    plant("numpy-removed-alias", "get_mini_batch", "astype-np.int", status="pass")("""
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
]

# -- fc and fc_backward ---------------------------------------------------------

FULLY_CONNECTED = [
    plant("missing-bias", "fc", "vectorised")("""
        def fc(x, w, b):
            return w @ x
    """),
    plant("missing-bias", "fc", "loops")("""
        def fc(x, w, b):
            n, m = w.shape
            y = np.zeros((n, 1))
            for i in range(n):
                for j in range(m):
                    y[i, 0] += w[i, j] * x[j, 0]
            return y
    """),
    plant("bias-subtracted", "fc", "vectorised")("""
        def fc(x, w, b):
            return w @ x - b
    """),
    plant("bias-subtracted", "fc", "loops")("""
        def fc(x, w, b):
            n = w.shape[0]
            y = np.zeros((n, 1))
            for i in range(n):
                y[i, 0] = np.dot(w[i, :], x[:, 0]) - b[i, 0]
            return y
    """),
    plant("broadcast-to-matrix", "fc", "flatten-x")("""
        def fc(x, w, b):
            x = x.flatten()
            return w @ x + b
    """),
    plant("broadcast-to-matrix", "fc", "squeeze-dot")("""
        def fc(x, w, b):
            return np.dot(w, np.squeeze(x)) + b
    """),
    plant("numpy-array-to-scalar", "fc", "loops", status="error")("""
        def fc(x, w, b):
            n = w.shape[0]
            y = np.zeros((n, 1))
            for i in range(n):
                y[i, 0] = np.dot(w[i], x) + b[i]
            return y
    """),
    plant("gradient-sign-flipped", "fc_backward", "vectorised", also=DISAGREES)("""
        def fc_backward(dl_dy, x, w, b, y):
            # negated so that the update can add it
            dl_dx = -dl_dy @ w
            dl_dw = -(dl_dy.T @ x.T).reshape(1, -1)
            dl_db = -dl_dy
            return dl_dx, dl_dw, dl_db
    """),
    plant("gradient-sign-flipped", "fc_backward", "loops", also=DISAGREES)("""
        def fc_backward(dl_dy, x, w, b, y):
            n, m = w.shape
            dl_dx = np.zeros((1, m))
            dl_dw = np.zeros((1, n * m))
            dl_db = np.zeros((1, n))
            for i in range(n):
                dl_db[0, i] = -dl_dy[0, i]
                for j in range(m):
                    dl_dx[0, j] -= dl_dy[0, i] * w[i, j]
                    dl_dw[0, i * m + j] = -dl_dy[0, i] * x[j, 0]
            return dl_dx, dl_dw, dl_db
    """),
    plant("transposed-dl_dw", "fc_backward", "matmul", also=DISAGREES)("""
        def fc_backward(dl_dy, x, w, b, y):
            return dl_dy @ w, x @ dl_dy, dl_dy
    """),
    plant("transposed-dl_dw", "fc_backward", "outer-columns", also=DISAGREES)("""
        def fc_backward(dl_dy, x, w, b, y):
            g = dl_dy.reshape(-1, 1)
            dl_dx = w.T @ g
            dl_dw = np.outer(x, g)
            return dl_dx, dl_dw, g
    """),
    plant("backward-disagrees-with-forward", "fc_backward", "dl_db-ones")("""
        def fc_backward(dl_dy, x, w, b, y):
            dl_db = np.ones((1, w.shape[0]))  # dy/db = 1
            return dl_dy @ w, (dl_dy.T @ x.T).reshape(1, -1), dl_db
    """),
    plant(
        "backward-matches-wrong-forward",
        "fc_backward",
        "no-bias-anywhere",
        extra=(("fc", "missing-bias"),),
    )("""
        def fc(x, w, b):
            return w @ x


        def fc_backward(dl_dy, x, w, b, y):
            dl_dx = dl_dy @ w
            dl_dw = (dl_dy.T @ x.T).reshape(1, -1)
            dl_db = np.zeros_like(dl_dy)  # fc has no bias term to learn
            return dl_dx, dl_dw, dl_db
    """),
    plant("wrong-signature", "fc_backward", "drops-unused-b-and-y", status="error")("""
        def fc_backward(dl_dy, x, w):
            return dl_dy @ w, (dl_dy.T @ x.T).reshape(1, -1), dl_dy
    """),
]

# -- loss_euclidean -------------------------------------------------------------

EUCLIDEAN = [
    plant("loss-halved", "loss_euclidean", "vectorised")("""
        def loss_euclidean(y_tilde, y):
            diff = y_tilde - y
            return 0.5 * float(np.sum(diff**2)), diff.T
    """),
    plant("loss-halved", "loss_euclidean", "loops")("""
        def loss_euclidean(y_tilde, y):
            n = y.shape[0]
            l = 0.0
            dl_dy = np.zeros((1, n))
            for i in range(n):
                diff = y_tilde[i, 0] - y[i, 0]
                l += 0.5 * diff**2
                dl_dy[0, i] = diff
            return l, dl_dy
    """),
    plant("loss-averaged", "loss_euclidean", "vectorised")("""
        def loss_euclidean(y_tilde, y):
            diff = y_tilde - y
            return float(np.mean(diff**2)), 2 * diff.T / diff.size
    """),
    plant("loss-averaged", "loss_euclidean", "loops")("""
        def loss_euclidean(y_tilde, y):
            n = y.shape[0]
            l = 0.0
            dl_dy = np.zeros((1, n))
            for i in range(n):
                diff = y_tilde[i, 0] - y[i, 0]
                l += diff**2 / n
                dl_dy[0, i] = 2 * diff / n
            return l, dl_dy
    """),
    plant(
        "gradient-missing-factor-2", "loss_euclidean", "vectorised", also=DISAGREES
    )("""
        def loss_euclidean(y_tilde, y):
            diff = y_tilde - y
            return float(np.sum(diff**2)), diff.T
    """),
    plant("gradient-missing-factor-2", "loss_euclidean", "loops", also=DISAGREES)("""
        def loss_euclidean(y_tilde, y):
            n = y.shape[0]
            l = 0.0
            dl_dy = np.zeros((1, n))
            for i in range(n):
                l += (y_tilde[i, 0] - y[i, 0]) ** 2
                dl_dy[0, i] = y_tilde[i, 0] - y[i, 0]
            return l, dl_dy
    """),
    plant("gradient-sign-flipped", "loss_euclidean", "vectorised", also=DISAGREES)("""
        def loss_euclidean(y_tilde, y):
            diff = y - y_tilde
            return float(np.sum(diff**2)), 2 * diff.T
    """),
    plant("gradient-sign-flipped", "loss_euclidean", "flat", also=DISAGREES)("""
        def loss_euclidean(y_tilde, y):
            diff = np.ravel(y_tilde) - np.ravel(y)
            return float(diff @ diff), -2 * diff
    """),
    plant("loss-not-squared", "loss_euclidean", "norm")("""
        def loss_euclidean(y_tilde, y):
            diff = y_tilde - y
            return float(np.linalg.norm(diff)), 2 * diff.T
    """),
    plant("loss-not-squared", "loss_euclidean", "sqrt-loops")("""
        def loss_euclidean(y_tilde, y):
            import math

            n = y.shape[0]
            total = 0.0
            dl_dy = np.zeros((1, n))
            for i in range(n):
                total += (y_tilde[i, 0] - y[i, 0]) ** 2
                dl_dy[0, i] = 2 * (y_tilde[i, 0] - y[i, 0])
            return math.sqrt(total), dl_dy
    """),
    plant("loss-not-summed", "loss_euclidean", "columns")("""
        def loss_euclidean(y_tilde, y):
            diff = y_tilde - y
            return diff**2, 2 * diff.T
    """),
    plant("loss-not-summed", "loss_euclidean", "flat-loops")("""
        def loss_euclidean(y_tilde, y):
            n = y.shape[0]
            l = np.zeros(n)
            dl_dy = np.zeros((1, n))
            for i in range(n):
                l[i] = (y_tilde[i, 0] - y[i, 0]) ** 2
                dl_dy[0, i] = 2 * (y_tilde[i, 0] - y[i, 0])
            return l, dl_dy
    """),
    plant("broadcast-to-matrix", "loss_euclidean", "flatten-y_tilde")("""
        def loss_euclidean(y_tilde, y):
            y_tilde = y_tilde.flatten()
            diff = y_tilde - y
            return float(np.sum(diff**2)), 2 * diff
    """),
    plant("broadcast-to-matrix", "loss_euclidean", "squeeze-y")("""
        def loss_euclidean(y_tilde, y):
            diff = y_tilde - np.squeeze(y)
            return float(np.sum(diff**2)), 2 * diff
    """),
]

# -- loss_cross_entropy_softmax ----------------------------------------------------

CROSS_ENTROPY = [
    plant("wrong-cross-entropy-value", "loss_cross_entropy_softmax", "vectorised")("""
        def loss_cross_entropy_softmax(x, y):
            z = x - np.max(x)
            log_p = z - np.log(np.sum(np.exp(z)))
            return float(-np.sum(log_p)), (np.exp(log_p) - y).T
    """),
    plant("wrong-cross-entropy-value", "loss_cross_entropy_softmax", "loops")("""
        def loss_cross_entropy_softmax(x, y):
            import math

            scores = [float(s) for s in np.ravel(x)]
            top = max(scores)
            log_total = math.log(sum(math.exp(s - top) for s in scores))
            l = 0.0
            dl_dy = np.zeros((1, len(scores)))
            for i, s in enumerate(scores):
                log_p = s - top - log_total
                l -= log_p
                dl_dy[0, i] = math.exp(log_p) - y[i, 0]
            return l, dl_dy
    """),
    plant("loss-sign-flipped", "loss_cross_entropy_softmax", "vectorised")("""
        def loss_cross_entropy_softmax(x, y):
            z = x - np.max(x)
            log_p = z - np.log(np.sum(np.exp(z)))
            return float(np.sum(y * log_p)), (np.exp(log_p) - y).T
    """),
    plant("loss-sign-flipped", "loss_cross_entropy_softmax", "loops")("""
        def loss_cross_entropy_softmax(x, y):
            import math

            scores = [float(s) for s in np.ravel(x)]
            top = max(scores)
            log_total = math.log(sum(math.exp(s - top) for s in scores))
            l = 0.0
            dl_dy = np.zeros((1, len(scores)))
            for i, s in enumerate(scores):
                log_p = s - top - log_total
                l += y[i, 0] * log_p
                dl_dy[0, i] = math.exp(log_p) - y[i, 0]
            return l, dl_dy
    """),
    plant(
        "gradient-sign-flipped",
        "loss_cross_entropy_softmax",
        "vectorised",
        also=DISAGREES,
    )("""
        def loss_cross_entropy_softmax(x, y):
            z = x - np.max(x)
            log_p = z - np.log(np.sum(np.exp(z)))
            return float(-np.sum(y * log_p)), (y - np.exp(log_p)).T
    """),
    plant(
        "gradient-sign-flipped", "loss_cross_entropy_softmax", "flat", also=DISAGREES
    )("""
        def loss_cross_entropy_softmax(x, y):
            s = np.ravel(x) - np.max(x)
            log_p = s - np.log(np.exp(s).sum())
            t = np.ravel(y)
            return -float(t @ log_p), t - np.exp(log_p)
    """),
    plant(
        "gradient-missing-minus-y",
        "loss_cross_entropy_softmax",
        "vectorised",
        also=DISAGREES,
    )("""
        def loss_cross_entropy_softmax(x, y):
            z = x - np.max(x)
            log_p = z - np.log(np.sum(np.exp(z)))
            return float(-np.sum(y * log_p)), np.exp(log_p).T
    """),
    plant(
        "gradient-missing-minus-y",
        "loss_cross_entropy_softmax",
        "loops",
        also=DISAGREES,
    )("""
        def loss_cross_entropy_softmax(x, y):
            import math

            scores = [float(s) for s in np.ravel(x)]
            top = max(scores)
            log_total = math.log(sum(math.exp(s - top) for s in scores))
            l = 0.0
            dl_dy = np.zeros((1, len(scores)))
            for i, s in enumerate(scores):
                log_p = s - top - log_total
                l -= y[i, 0] * log_p
                dl_dy[0, i] = math.exp(log_p)
            return l, dl_dy
    """),
    plant("loss-not-summed", "loss_cross_entropy_softmax", "columns")("""
        def loss_cross_entropy_softmax(x, y):
            z = x - np.max(x)
            log_p = z - np.log(np.sum(np.exp(z)))
            return -y * log_p, (np.exp(log_p) - y).T
    """),
    plant("loss-not-summed", "loss_cross_entropy_softmax", "flat")("""
        def loss_cross_entropy_softmax(x, y):
            s = np.ravel(x) - np.max(x)
            log_p = s - np.log(np.exp(s).sum())
            t = np.ravel(y)
            return -t * log_p, np.exp(log_p) - t
    """),
    plant("softmax-overflow", "loss_cross_entropy_softmax", "no-max-shift")("""
        def loss_cross_entropy_softmax(x, y):
            p = np.exp(x) / np.sum(np.exp(x))
            return float(-np.sum(y * np.log(p))), (p - y).T
    """),
    plant("softmax-overflow", "loss_cross_entropy_softmax", "log-sum-exp-unshifted")("""
        def loss_cross_entropy_softmax(x, y):
            log_p = x - np.log(np.sum(np.exp(x)))
            return float(-np.sum(y * log_p)), (np.exp(log_p) - y).T
    """),
    plant("softmax-overflow", "loss_cross_entropy_softmax", "math-exp-loops")("""
        def loss_cross_entropy_softmax(x, y):
            import math

            scores = [float(s) for s in np.ravel(x)]
            total = sum(math.exp(s) for s in scores)
            l = 0.0
            dl_dy = np.zeros((1, len(scores)))
            for i, s in enumerate(scores):
                l -= y[i, 0] * (s - math.log(total))
                dl_dy[0, i] = math.exp(s) / total - y[i, 0]
            return l, dl_dy
    """),
]

# -- relu and relu_backward ---------------------------------------------------------

RELU = [
    plant("relu-returns-mask", "relu", "vectorised")("""
        def relu(x):
            return (x > 0).astype(float)
    """),
    plant("relu-returns-mask", "relu", "loops")("""
        def relu(x):
            y = np.zeros(x.shape)
            for index in np.ndindex(x.shape):
                y[index] = 1.0 if x[index] > 0 else 0.0
            return y
    """),
    plant("relu-inverted", "relu", "vectorised")("""
        def relu(x):
            return np.minimum(x, 0)
    """),
    plant("relu-inverted", "relu", "loops")("""
        def relu(x):
            y = np.zeros(x.shape)
            for index in np.ndindex(x.shape):
                if x[index] < 0:
                    y[index] = x[index]
            return y
    """),
    plant("modifies-input", "relu", "mask-assignment", status="pass")("""
        def relu(x):
            x[x < 0] = 0
            return x
    """),
    plant("modifies-input", "relu", "maximum-out", status="pass")("""
        def relu(x):
            return np.maximum(x, 0, out=x)
    """),
    plant(
        "extra-required-argument", "relu", "leaky-slope-parameter", status="error"
    )("""
        def relu(x, epsilon):
            return np.where(x > 0, x, epsilon * x)
    """),
    plant("relu-backward-gated-by-dl_dy", "relu_backward", "where", also=DISAGREES)("""
        def relu_backward(dl_dy, x, y):
            return np.where(dl_dy > 0, dl_dy, 0)
    """),
    plant(
        "relu-backward-gated-by-dl_dy", "relu_backward", "maximum", also=DISAGREES
    )("""
        def relu_backward(dl_dy, x, y):
            return np.maximum(dl_dy, 0)
    """),
    plant(
        "relu-backward-returns-mask", "relu_backward", "vectorised", also=DISAGREES
    )("""
        def relu_backward(dl_dy, x, y):
            return (x > 0).astype(float)
    """),
    plant("relu-backward-returns-mask", "relu_backward", "loops", also=DISAGREES)("""
        def relu_backward(dl_dy, x, y):
            dl_dx = np.zeros(x.shape)
            for index in np.ndindex(x.shape):
                if x[index] > 0:
                    dl_dx[index] = 1.0
            return dl_dx
    """),
    plant("relu-backward-inverted-gate", "relu_backward", "mask", also=DISAGREES)("""
        def relu_backward(dl_dy, x, y):
            return dl_dy * (x < 0)
    """),
    plant("relu-backward-inverted-gate", "relu_backward", "where", also=DISAGREES)("""
        def relu_backward(dl_dy, x, y):
            return np.where(x > 0, 0.0, dl_dy)
    """),
    plant("modifies-input", "relu_backward", "zeroes-dl_dy", status="pass")("""
        def relu_backward(dl_dy, x, y):
            dl_dy[x <= 0] = 0
            return dl_dy
    """),
]

# -- conv and conv_backward ---------------------------------------------------------

# The im2col both vectorised conv plants share: (H, W, C1, h, w) windows.
WINDOWS = """
            h, w, C1, C2 = w_conv.shape
            x_pad = np.pad(x, ((h // 2, h // 2), (w // 2, w // 2), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(x_pad, (h, w), (0, 1))"""

CONV = [
    plant("flipped-kernel", "conv", "einsum")(f"""
        def conv(x, w_conv, b_conv):{WINDOWS}
            kernel = w_conv[::-1, ::-1]  # convolution turns the kernel
            return np.einsum("ijcab,abcd->ijd", windows, kernel) + np.ravel(b_conv)
    """),
    plant("flipped-kernel", "conv", "scipy-convolve2d")("""
        def conv(x, w_conv, b_conv):
            from scipy.signal import convolve2d

            H, W, C1 = x.shape
            C2 = w_conv.shape[3]
            y = np.zeros((H, W, C2))
            for c2 in range(C2):
                for c1 in range(C1):
                    y[:, :, c2] += convolve2d(x[:, :, c1], w_conv[:, :, c1, c2], "same")
                y[:, :, c2] += b_conv[c2, 0]
            return y
    """),
    plant("missing-bias", "conv", "einsum")(f"""
        def conv(x, w_conv, b_conv):{WINDOWS}
            return np.einsum("ijcab,abcd->ijd", windows, w_conv)
    """),
    plant("missing-bias", "conv", "loops")("""
        def conv(x, w_conv, b_conv):
            H, W, C1 = x.shape
            h, w, _, C2 = w_conv.shape
            x_pad = np.zeros((H + h - 1, W + w - 1, C1))
            x_pad[h // 2 : h // 2 + H, w // 2 : w // 2 + W, :] = x
            y = np.zeros((H, W, C2))
            for c2 in range(C2):
                for i in range(H):
                    for j in range(W):
                        patch = x_pad[i : i + h, j : j + w, :]
                        y[i, j, c2] = np.sum(patch * w_conv[:, :, :, c2])
            return y
    """),
    plant("padding-one-side", "conv", "np.pad")("""
        def conv(x, w_conv, b_conv):
            h, w, C1, C2 = w_conv.shape
            x_pad = np.pad(x, ((0, h - 1), (0, w - 1), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(x_pad, (h, w), (0, 1))
            return np.einsum("ijcab,abcd->ijd", windows, w_conv) + np.ravel(b_conv)
    """),
    plant("padding-one-side", "conv", "loops")("""
        def conv(x, w_conv, b_conv):
            H, W, C1 = x.shape
            h, w, _, C2 = w_conv.shape
            x_pad = np.zeros((H + h - 1, W + w - 1, C1))
            x_pad[:H, :W, :] = x
            y = np.zeros((H, W, C2))
            for c2 in range(C2):
                for i in range(H):
                    for j in range(W):
                        patch = x_pad[i : i + h, j : j + w, :]
                        total = np.sum(patch * w_conv[:, :, :, c2])
                        y[i, j, c2] = total + b_conv[c2, 0]
            return y
    """),
    plant("numpy-array-to-scalar", "conv", "loops", status="pass")("""
        def conv(x, w_conv, b_conv):
            H, W, C1 = x.shape
            h, w, _, C2 = w_conv.shape
            x_pad = np.zeros((H + h - 1, W + w - 1, C1))
            x_pad[h // 2 : h // 2 + H, w // 2 : w // 2 + W, :] = x
            y = np.zeros((H, W, C2))
            for c2 in range(C2):
                for i in range(H):
                    for j in range(W):
                        patch = x_pad[i : i + h, j : j + w, :]
                        y[i, j, c2] = np.sum(patch * w_conv[:, :, :, c2]) + b_conv[c2]
            return y
    """),
    plant("flipped-kernel", "conv_backward", "einsum", also=DISAGREES)(f"""
        def conv_backward(dl_dy, x, w_conv, b_conv, y):{WINDOWS}
            dl_dw = np.einsum("ijcab,ijd->abcd", windows, dl_dy)[::-1, ::-1]
            return dl_dw, dl_dy.sum(axis=(0, 1)).reshape(-1, 1)
    """),
    plant("flipped-kernel", "conv_backward", "loops", also=DISAGREES)("""
        def conv_backward(dl_dy, x, w_conv, b_conv, y):
            H, W, C1 = x.shape
            h, w, _, C2 = w_conv.shape
            x_pad = np.pad(x, ((h // 2, h // 2), (w // 2, w // 2), (0, 0)))
            dl_dw = np.zeros((h, w, C1, C2))
            dl_db = np.zeros((C2, 1))
            for c2 in range(C2):
                dl_db[c2, 0] = np.sum(dl_dy[:, :, c2])
                for c1 in range(C1):
                    for di in range(h):
                        for dj in range(w):
                            shifted = x_pad[di : di + H, dj : dj + W, c1]
                            total = np.sum(shifted * dl_dy[:, :, c2])
                            dl_dw[h - 1 - di, w - 1 - dj, c1, c2] = total
            return dl_dw, dl_db
    """),
    plant("dl_db-not-summed", "conv_backward", "first-pixel", also=DISAGREES)(f"""
        def conv_backward(dl_dy, x, w_conv, b_conv, y):{WINDOWS}
            dl_dw = np.einsum("ijcab,ijd->abcd", windows, dl_dy)
            dl_db = dl_dy[0, 0, :].reshape(-1, 1)
            return dl_dw, dl_db
    """),
    plant(
        "dl_db-not-summed", "conv_backward", "loops-assign-not-add", also=DISAGREES
    )("""
        def conv_backward(dl_dy, x, w_conv, b_conv, y):
            H, W, C1 = x.shape
            h, w, _, C2 = w_conv.shape
            x_pad = np.pad(x, ((h // 2, h // 2), (w // 2, w // 2), (0, 0)))
            dl_dw = np.zeros((h, w, C1, C2))
            dl_db = np.zeros((C2, 1))
            for c2 in range(C2):
                for i in range(H):
                    for j in range(W):
                        dl_db[c2, 0] = dl_dy[i, j, c2]
                        patch = x_pad[i : i + h, j : j + w, :]
                        dl_dw[:, :, :, c2] += patch * dl_dy[i, j, c2]
            return dl_dw, dl_db
    """),
    plant("backward-disagrees-with-forward", "conv_backward", "padding-one-side")("""
        def conv_backward(dl_dy, x, w_conv, b_conv, y):
            h, w, C1, C2 = w_conv.shape
            x_pad = np.pad(x, ((0, h - 1), (0, w - 1), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(x_pad, (h, w), (0, 1))
            dl_dw = np.einsum("ijcab,ijd->abcd", windows, dl_dy)
            return dl_dw, dl_dy.sum(axis=(0, 1)).reshape(-1, 1)
    """),
    plant(
        "backward-matches-wrong-forward",
        "conv_backward",
        "no-bias-anywhere",
        extra=(("conv", "missing-bias"),),
    )(f"""
        def conv(x, w_conv, b_conv):{WINDOWS}
            return np.einsum("ijcab,abcd->ijd", windows, w_conv)


        def conv_backward(dl_dy, x, w_conv, b_conv, y):{WINDOWS}
            dl_dw = np.einsum("ijcab,ijd->abcd", windows, dl_dy)
            return dl_dw, np.zeros((C2, 1))  # conv adds no bias
    """),
    plant(
        "wrong-signature", "conv_backward", "drops-unused-b-and-y", status="error"
    )(f"""
        def conv_backward(dl_dy, x, w_conv):{WINDOWS}
            dl_dw = np.einsum("ijcab,ijd->abcd", windows, dl_dy)
            return dl_dw, dl_dy.sum(axis=(0, 1)).reshape(-1, 1)
    """),
    plant("unfinished", "conv_backward", "skeleton-stub", status="missing")("""
        def conv_backward(dl_dy, x, w_conv, b_conv, y):
            # TO DO
            return dl_dw, dl_db
    """),
]

# -- pool2x2 and pool2x2_backward ----------------------------------------------------

POOLING = [
    plant("average-pooling", "pool2x2", "reshape")("""
        def pool2x2(x):
            H, W, C = x.shape
            return x.reshape(H // 2, 2, W // 2, 2, C).mean(axis=(1, 3))
    """),
    plant("average-pooling", "pool2x2", "loops")("""
        def pool2x2(x):
            H, W, C = x.shape
            y = np.zeros((H // 2, W // 2, C))
            for i in range(H // 2):
                for j in range(W // 2):
                    for c in range(C):
                        window = x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, c]
                        y[i, j, c] = np.sum(window) / 4
            return y
    """),
    plant("max-starts-at-zero", "pool2x2", "loops")("""
        def pool2x2(x):
            H, W, C = x.shape
            y = np.zeros((H // 2, W // 2, C))
            for i in range(H // 2):
                for j in range(W // 2):
                    for c in range(C):
                        best = 0
                        for di in range(2):
                            for dj in range(2):
                                best = max(best, x[2 * i + di, 2 * j + dj, c])
                        y[i, j, c] = best
            return y
    """),
    plant("max-starts-at-zero", "pool2x2", "running-maximum")("""
        def pool2x2(x):
            H, W, C = x.shape
            y = np.zeros((H // 2, W // 2, C))
            for di in range(2):
                for dj in range(2):
                    y = np.maximum(y, x[di::2, dj::2, :])
            return y
    """),
    plant("hard-coded-sizes", "pool2x2", "loops")("""
        def pool2x2(x):
            y = np.zeros((7, 7, 3))
            for i in range(7):
                for j in range(7):
                    for c in range(3):
                        y[i, j, c] = np.max(x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, c])
            return y
    """),
    plant("numpy-removed-alias", "pool2x2", "dtype-np.float", status="pass")("""
        def pool2x2(x):
            H, W, C = x.shape
            y = np.zeros((H // 2, W // 2, C), dtype=np.float)
            for i in range(H // 2):
                for j in range(W // 2):
                    window = x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, :]
                    y[i, j, :] = window.max(axis=(0, 1))
            return y
    """),
    plant(
        "pool-gradient-to-every-cell", "pool2x2_backward", "repeat", also=DISAGREES
    )("""
        def pool2x2_backward(dl_dy, x, y):
            return np.repeat(np.repeat(dl_dy, 2, axis=0), 2, axis=1)
    """),
    plant(
        "pool-gradient-to-every-cell", "pool2x2_backward", "loops", also=DISAGREES
    )("""
        def pool2x2_backward(dl_dy, x, y):
            H, W, C = x.shape
            dl_dx = np.zeros((H, W, C))
            for i in range(H // 2):
                for j in range(W // 2):
                    dl_dx[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, :] = dl_dy[i, j, :]
            return dl_dx
    """),
    plant("pool-gradient-split-in-four", "pool2x2_backward", "kron", also=DISAGREES)("""
        def pool2x2_backward(dl_dy, x, y):
            return np.kron(dl_dy, np.ones((2, 2, 1))) / 4
    """),
    plant(
        "pool-gradient-split-in-four", "pool2x2_backward", "loops", also=DISAGREES
    )("""
        def pool2x2_backward(dl_dy, x, y):
            H, W, C = x.shape
            dl_dx = np.zeros((H, W, C))
            for i in range(H // 2):
                for j in range(W // 2):
                    for c in range(C):
                        for di in range(2):
                            for dj in range(2):
                                dl_dx[2 * i + di, 2 * j + dj, c] = dl_dy[i, j, c] / 4
            return dl_dx
    """),
    plant(
        "extra-required-argument",
        "pool2x2_backward",
        "stride-parameter",
        status="error",
    )("""
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
    plant("unfinished", "pool2x2_backward", "pass-body", status="missing")("""
        def pool2x2_backward(dl_dy, x, y):
            # TO DO
            pass
    """),
]

# -- flattening and flattening_backward ----------------------------------------------

FLATTENING = [
    plant("row-major-flattening", "flattening", "reshape")("""
        def flattening(x):
            return x.reshape(-1, 1)
    """),
    plant("row-major-flattening", "flattening", "loops")("""
        def flattening(x):
            H, W, C = x.shape
            y = np.zeros((H * W * C, 1))
            k = 0
            for i in range(H):
                for j in range(W):
                    for c in range(C):
                        y[k, 0] = x[i, j, c]
                        k += 1
            return y
    """),
    plant("hard-coded-sizes", "flattening", "reshape-147")("""
        def flattening(x):
            return np.reshape(x, (147, 1), order="F")
    """),
    plant("row-major-flattening", "flattening_backward", "reshape", also=DISAGREES)("""
        def flattening_backward(dl_dy, x, y):
            return np.reshape(dl_dy, x.shape)
    """),
    plant("row-major-flattening", "flattening_backward", "loops", also=DISAGREES)("""
        def flattening_backward(dl_dy, x, y):
            H, W, C = x.shape
            g = np.ravel(dl_dy)
            dl_dx = np.zeros((H, W, C))
            k = 0
            for i in range(H):
                for j in range(W):
                    for c in range(C):
                        dl_dx[i, j, c] = g[k]
                        k += 1
            return dl_dx
    """),
    Plant(
        "unfinished",
        "flattening_backward",
        "not-defined",
        status="missing",
        removes=("flattening_backward",),
    ),
    plant(
        "numpy-removed-alias", "flattening_backward", "astype-np.float", status="pass"
    )("""
        def flattening_backward(dl_dy, x, y):
            return np.reshape(dl_dy.astype(np.float), x.shape, order="F")
    """),
]

# -- what ends or swamps the process -----------------------------------------------

HOSTILE = [
    plant("process-exit", "fc", "os._exit", status="error")("""
        def fc(x, w, b):
            import os

            y = w @ x + b
            print("fc:", y.shape)
            os._exit(0)  # stop here while debugging
            return y
    """),
    plant("process-exit", "relu", "exit-after-debug-print", status="error")("""
        def relu(x):
            print(x.shape, x.min(), x.max())
            exit()
            return np.maximum(x, 0)
    """),
    plant("output-flood", "pool2x2", "debug-loop-without-increment", status="error")("""
        def pool2x2(x):
            H, W, C = x.shape
            i, bar = 0, ""
            while i < H // 2:  # a progress bar per row; the i += 1 is missing
                bar += "#"
                print("pooling", bar)
            return x.reshape(H // 2, 2, W // 2, 2, C).max(axis=(1, 3))
    """),
    plant("spawns-processes", "conv", "pool-never-closed", status="error")("""
        def conv(x, w_conv, b_conv):
            import multiprocessing

            h, w, C1, C2 = w_conv.shape
            x_pad = np.pad(x, ((h // 2, h // 2), (w // 2, w // 2), (0, 0)))
            windows = np.lib.stride_tricks.sliding_window_view(x_pad, (h, w), (0, 1))
            workers = multiprocessing.Pool(2)  # never closed
            kernels = [w_conv[..., c2] for c2 in range(C2)]
            sums = workers.starmap(np.tensordot, [(windows, k, 3) for k in kernels])
            return np.stack(sums, axis=2) + np.ravel(b_conv)
    """),
    plant("spawns-processes", "flattening", "background-helper", status="error")("""
        def flattening(x):
            import subprocess

            subprocess.Popen(["sleep", "60"])  # a progress beeper, say
            return np.reshape(x, (-1, 1), order="F")
    """),
    plant("memory-hog", "relu_backward", "giant-lookup-table", status="error")("""
        def relu_backward(dl_dy, x, y):
            # every possible (dl_dy, x) pair, precomputed once
            table = np.zeros((1 << 20, 1 << 12))
            return np.where(x > 0, dl_dy, table[0, 0])
    """),
]

# -- whole modules ------------------------------------------------------------------

MODULES = [
    module_plant("syntax-error", "missing-colon", "footer")("""
        if __name__ == "__main__"
            print("training")
    """),
    module_plant("syntax-error", "python-2-print", "footer")("""
        def report(accuracy):
            print "accuracy", accuracy
    """),
    module_plant("import-error", "loads-data-at-import", "header")("""
        import numpy as np
        import scipy.io as sio

        data = sio.loadmat("mnist_train.mat")
    """),
    module_plant("import-error", "notebook-leftover", "footer")("""
        print("training on", im_train.shape[1], "images")
    """),
]

PLANTS: tuple[Plant, ...] = tuple(
    BATCHES
    + FULLY_CONNECTED
    + EUCLIDEAN
    + CROSS_ENTROPY
    + RELU
    + CONV
    + POOLING
    + FLATTENING
    + HOSTILE
    + MODULES
)


def source_of(kind: str) -> str:
    """The source of a layer plant, to reuse beside a trainer."""
    return next(p.source for p in PLANTS if p.kind == kind)


# -- trainers (graded with training on the course data) ------------------------------

# A vectorised CNN trainer, the student's own: {kernel} and {dl_dkernel} say
# how its conv reads w_conv, {features} and {dl_dpooled} how it flattens.
CNN_TRAINER = """
        def train_cnn(mini_batch_x, mini_batch_y):
            w_conv = 0.25 * np.random.randn(3, 3, 1, 3)
            b_conv = np.zeros((3, 1))
            w_fc = 0.03 * np.random.randn(10, 147)
            b_fc = np.zeros((10, 1))
            for it in range(3000):
                lr = 0.012 * 0.7 ** (it // 1000)
                k = it % len(mini_batch_x)
                x, y = mini_batch_x[k], mini_batch_y[k]
                b = x.shape[1]
                images = x.reshape((14, 14, b), order="F")
                padded = np.pad(images, ((1, 1), (1, 1), (0, 0)))
                view = np.lib.stride_tricks.sliding_window_view
                patches = view(padded, (3, 3), (0, 1))
                kernel = {kernel}
                z = np.einsum("ijbpq,pqc->ijbc", patches, kernel) + b_conv.ravel()
                r = np.maximum(z, 0)
                windows = r.reshape(7, 2, 7, 2, b, 3)
                pooled = windows.max(axis=(1, 3))
                features = {features}
                scores = w_fc @ features + b_fc
                p = np.exp(scores - scores.max(axis=0))
                dl_ds = p / p.sum(axis=0) - y
                dl_df = w_fc.T @ dl_ds
                dl_dp = {dl_dpooled}
                hit = windows == pooled[:, None, :, None]
                dl_dr = (hit * dl_dp[:, None, :, None]).reshape(14, 14, b, 3)
                dl_dz = dl_dr * (z > 0)
                dl_dk = np.einsum("ijbpq,ijbc->pqc", patches, dl_dz)
                w_fc -= lr * dl_ds @ features.T
                b_fc -= lr * dl_ds.sum(axis=1, keepdims=True)
                w_conv[:, :, 0, :] -= lr * {dl_dkernel}
                b_conv -= lr * dl_dz.sum(axis=(0, 1, 2)).reshape(3, 1)
            return w_conv, b_conv, w_fc, b_fc
"""
ROW_MAJOR = {
    "features": "pooled.transpose(0, 1, 3, 2).reshape(147, b)",
    "dl_dpooled": "dl_df.reshape(7, 7, 3, b).transpose(0, 1, 3, 2)",
}
COLUMN_MAJOR = {
    "features": "pooled.transpose(3, 1, 0, 2).reshape(147, b)",
    "dl_dpooled": "dl_df.reshape(3, 7, 7, b).transpose(2, 1, 3, 0)",
}
CROSS_CORRELATION = {"kernel": "w_conv[:, :, 0, :]", "dl_dkernel": "dl_dk"}
CONVOLUTION = {
    "kernel": "w_conv[::-1, ::-1, 0, :]",
    "dl_dkernel": "dl_dk[::-1, ::-1]",
}

# One SGD step of a single linear layer on a whole batch, Euclidean loss.
SLP_LINEAR_STEP = """
                scores = w @ x + b
                dl_ds = 2 * (scores - y)
                w -= 0.0006 * dl_ds @ x.T
                b -= 0.0006 * dl_ds.sum(axis=1, keepdims=True)"""

TRAINER_PLANTS: tuple[Plant, ...] = (
    Plant(
        "row-major-flattening",
        "train_cnn",
        "vectorised",
        source_of("row-major-flattening@flattening.reshape")
        + source_of("row-major-flattening@flattening_backward.reshape")
        + CNN_TRAINER.format(**ROW_MAJOR, **CROSS_CORRELATION),
        extra=(
            ("flattening", "row-major-flattening"),
            ("flattening_backward", "row-major-flattening"),
        ),
        also=MATCHES_WRONG,
    ),
    Plant(
        "flipped-kernel",
        "train_cnn",
        "vectorised",
        source_of("flipped-kernel@conv.einsum")
        + source_of("flipped-kernel@conv_backward.einsum")
        + CNN_TRAINER.format(**COLUMN_MAJOR, **CONVOLUTION),
        extra=(("conv", "flipped-kernel"), ("conv_backward", "flipped-kernel")),
        also=MATCHES_WRONG,
    ),
    plant("mlp-missing-relu-gate", "train_mlp", "per-image-layers", status="fail")("""
        def train_mlp(mini_batch_x, mini_batch_y):
            w1 = 0.1 * np.random.randn(30, 196)
            b1 = np.zeros((30, 1))
            w2 = 0.25 * np.random.randn(10, 30)
            b2 = np.zeros((10, 1))
            for it in range(3000):
                lr = 0.015 * 0.5 ** (it // 1000)
                k = it % len(mini_batch_x)
                grads = [np.zeros(w1.shape), np.zeros(b1.shape)]
                grads += [np.zeros(w2.shape), np.zeros(b2.shape)]
                for j in range(mini_batch_x[k].shape[1]):
                    x = mini_batch_x[k][:, [j]]
                    a1 = fc(x, w1, b1)
                    h = relu(a1)
                    a2 = fc(h, w2, b2)
                    l, dl_da2 = loss_cross_entropy_softmax(a2, mini_batch_y[k][:, [j]])
                    dl_dh, dl_dw2, dl_db2 = fc_backward(dl_da2, h, w2, b2, a2)
                    dl_dx, dl_dw1, dl_db1 = fc_backward(dl_dh, x, w1, b1, a1)
                    grads[0] += dl_dw1.reshape(w1.shape)
                    grads[1] += dl_db1.reshape(b1.shape)
                    grads[2] += dl_dw2.reshape(w2.shape)
                    grads[3] += dl_db2.reshape(b2.shape)
                for param, grad in zip([w1, b1, w2, b2], grads):
                    param -= lr * grad
            return w1, b1, w2, b2
    """),
    plant("mlp-missing-relu-gate", "train_mlp", "vectorised", status="fail")("""
        def train_mlp(mini_batch_x, mini_batch_y):
            w1 = 0.1 * np.random.randn(30, 196)
            b1 = np.zeros((30, 1))
            w2 = 0.25 * np.random.randn(10, 30)
            b2 = np.zeros((10, 1))
            for it in range(3000):
                lr = 0.015 * 0.5 ** (it // 1000)
                k = it % len(mini_batch_x)
                x, y = mini_batch_x[k], mini_batch_y[k]
                h = np.maximum(w1 @ x + b1, 0)
                scores = w2 @ h + b2
                p = np.exp(scores - scores.max(axis=0))
                dl_ds = p / p.sum(axis=0) - y
                dl_dh = w2.T @ dl_ds
                w2 -= lr * dl_ds @ h.T
                b2 -= lr * dl_ds.sum(axis=1, keepdims=True)
                w1 -= lr * dl_dh @ x.T
                b1 -= lr * dl_dh.sum(axis=1, keepdims=True)
            return w1, b1, w2, b2
    """),
    plant(
        "never-returns",
        "train_slp_linear",
        "while-true",
        status="timeout",
        train_seconds=10.0,
    )("""
        def train_slp_linear(mini_batch_x, mini_batch_y):
            w = 0.1 * np.random.randn(10, 196)
            b = np.zeros((10, 1))
            n = len(mini_batch_x)
            k = 0
            while True:
                x = mini_batch_x[k % n]
                k += 1
            return w, b
    """),
    plant(
        "never-returns",
        "train_slp_linear",
        "until-converged",
        status="timeout",
        # each step is real work: give it time to pass 50,000 fetches even on
        # a loaded machine
        train_seconds=40.0,
    )(f"""
        def train_slp_linear(mini_batch_x, mini_batch_y):
            w = 0.1 * np.random.randn(10, 196)
            b = np.zeros((10, 1))
            n = len(mini_batch_x)
            loss = np.inf
            k = 0
            while loss > 1e-3:  # train until it has converged
                x, y = mini_batch_x[k % n], mini_batch_y[k % n]{SLP_LINEAR_STEP}
                loss = float(np.sum((scores - y) ** 2))
                k += 1
            return w, b
    """),
    plant(
        "too-slow",
        "train_slp_linear",
        "sleep-per-iteration",
        status="timeout",
        train_seconds=10.0,
    )(f"""
        def train_slp_linear(mini_batch_x, mini_batch_y):
            import time

            w = 0.1 * np.random.randn(10, 196)
            b = np.zeros((10, 1))
            n = len(mini_batch_x)
            for it in range(3000):
                x, y = mini_batch_x[it % n], mini_batch_y[it % n]{SLP_LINEAR_STEP}
                time.sleep(0.05)  # time to read the printed loss
            return w, b
    """),
    plant(
        "too-slow",
        "train_slp_linear",
        "per-image-epochs",
        status="timeout",
        train_seconds=10.0,
    )("""
        def train_slp_linear(mini_batch_x, mini_batch_y):
            w = 0.1 * np.random.randn(10, 196)
            b = np.zeros((10, 1))
            for epoch in range(200):
                for k in range(len(mini_batch_x)):
                    x_batch, y_batch = mini_batch_x[k], mini_batch_y[k]
                    for j in range(x_batch.shape[1]):
                        x = x_batch[:, [j]]
                        y_tilde = fc(x, w, b)
                        l, dl_dy = loss_euclidean(y_tilde, y_batch[:, [j]])
                        dl_dx, dl_dw, dl_db = fc_backward(dl_dy, x, w, b, y_tilde)
                        w -= 0.0006 * dl_dw.reshape(w.shape)
                        b -= 0.0006 * dl_db.reshape(b.shape)
            return w, b
    """),
)


# -- building hand-ins -----------------------------------------------------------------


def kinds_unique(plants: Sequence[Plant]) -> None:
    kinds = [p.kind for p in plants]
    duplicated = sorted({k for k in kinds if kinds.count(k) > 1})
    if duplicated:
        raise ValueError(f"plants named twice: {', '.join(duplicated)}")


kinds_unique(PLANTS + TRAINER_PLANTS)
BY_KIND: dict[str, Plant] = {p.kind: p for p in PLANTS + TRAINER_PLANTS}


def packed(plants: Sequence[Plant] = PLANTS) -> list[HandIn]:
    """Layer plants, packed into as few hand-ins as never clash."""
    return handins.pack([p.variant() for p in plants])


def plants_of(handin: HandIn) -> list[Plant]:
    return [BY_KIND[v.kind] for v in handin.variants]


def _drop_shadowed(text: str) -> str:
    """The module without later definitions of a name defined earlier.

    HandIn.source appends placeholder trainers after the planted code; a
    planted trainer must not be shadowed by its placeholder.
    """
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text  # a planted syntax error: nothing is shadowed
    seen: set[str] = set()
    drop: list[tuple[int, int]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            if node.name in seen:
                drop.append((node.lineno, node.end_lineno or node.lineno))
            seen.add(node.name)
    lines = text.splitlines(keepends=True)
    for first, last in reversed(drop):
        del lines[first - 1 : last]
    return "".join(lines)


def write(plant_or_handin: Plant | HandIn, folder: Path) -> Path:
    """Write one hand-in (a packed one, or a plant alone) under folder."""
    if isinstance(plant_or_handin, Plant):
        handin = HandIn(plant_or_handin.kind, (plant_or_handin.variant(),))
    else:
        handin = plant_or_handin
    home = handin.write(folder, handins.reference_text())
    module = home / "cnn.py"
    if module.exists():
        module.write_text(_drop_shadowed(module.read_text()), encoding="utf-8")
    return home


# -- grading, as a user runs it --------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One folder to grade, with the flags it needs beyond --json/--out."""

    name: str
    folder: Path
    flags: tuple[str, ...] = ("--quick",)
    timeout: float = QUICK_SECONDS


@dataclass(frozen=True)
class Graded:
    """What `python -m grader FOLDER ... --json FILE` produced."""

    job: Job
    returncode: int
    result: dict[str, Any] | None
    output: str
    seconds: float
    checks: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    def check(self, name: str) -> dict[str, Any]:
        if self.result is None:
            raise AssertionError(
                f"{self.job.name}: no JSON result (exit {self.returncode}):\n"
                f"{self.output[-2000:]}"
            )
        if name not in self.checks:
            raise AssertionError(f"{self.job.name}: no check named {name}")
        return self.checks[name]

    def command(self) -> str:
        """The command that graded it, for a failure message."""
        flags = " ".join(self.job.flags)
        return f"python -m grader {self.job.folder} {flags} --json result.json"


def grade(job: Job, root: Path) -> Graded:
    """Grade one folder with the CLI, in a subprocess, from the repository."""
    json_file = root / "results" / f"{job.name}.json"
    command = [
        sys.executable,
        "-m",
        "grader",
        str(job.folder),
        *job.flags,
        "--json",
        str(json_file),
        "--out",
        str(root / "reports"),
    ]
    started = time.monotonic()
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=handins.REPO,
        timeout=job.timeout,
        stdin=subprocess.DEVNULL,
    )
    seconds = time.monotonic() - started
    result = json.loads(json_file.read_text()) if json_file.exists() else None
    checks = {c["name"]: c for c in (result or {}).get("checks", [])}
    output = proc.stdout + proc.stderr
    return Graded(job, proc.returncode, result, output, seconds, checks)


def grade_all(jobs: Sequence[Job], root: Path) -> dict[str, Graded]:
    """Grade every job, WORKERS at a time; results keyed by job name."""
    (root / "results").mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return {g.job.name: g for g in pool.map(lambda j: grade(j, root), jobs)}


def training_flags(plant: Plant) -> tuple[str, ...]:
    return ("--data", str(DATA), "--train-seconds", f"{plant.train_seconds:g}")


def main(argv: Sequence[str]) -> int:
    """Write one plant's hand-in and print the command that grades it."""
    if len(argv) != 2 or argv[0] not in BY_KIND:
        print("usage: python tests/planted.py KIND FOLDER; kinds:", file=sys.stderr)
        print("\n".join(sorted(BY_KIND)), file=sys.stderr)
        return 2
    chosen = BY_KIND[argv[0]]
    home = write(chosen, Path(argv[1]))
    trains = chosen in TRAINER_PLANTS
    flags = " ".join(training_flags(chosen) if trains else ("--quick",))
    print(f"python -m grader {home} {flags} --json {home}.json --out {home}-report")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
