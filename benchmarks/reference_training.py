"""Time the reference trainers and compare them with the same models in PyTorch.

Usage: python benchmarks/reference_training.py [--data DIR]

For each trainer of reference/cnn.py this prints its wall time and the test
accuracy of the weights it returns (np.random.seed(0) before get_mini_batch and
again before the trainer, as the homework's driver runs it), evaluated image by
image with the module's own layer functions. Where torch is importable it also
prints how many seconds PyTorch (one CPU thread, plain SGD, batches of 32 drawn
at random) needs to first reach that accuracy, checking the test accuracy every
100 steps inside the timed region, and the ratio reference / PyTorch.
"""

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import scipy.io

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
TORCH_CAP_S = 60.0
TORCH_EVAL_EVERY = 100
TARGETS = {"slp_linear": 0.25, "slp": 0.85, "mlp": 0.90, "cnn": 0.92}


def load_reference() -> ModuleType:
    """Import reference/cnn.py by path, as a hand-in would be imported."""
    spec = importlib.util.spec_from_file_location(
        "reference_cnn", REPO / "reference" / "cnn.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_data(data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Course data: im_train (196, 12000) and im_test (196, 2000) divided by
    255, label_train (1, 12000) and label_test (2000,) integer labels."""
    train = scipy.io.loadmat(data_dir / "mnist_train.mat")
    test = scipy.io.loadmat(data_dir / "mnist_test.mat")
    return (
        train["im_train"] / 255.0,
        train["label_train"],
        test["im_test"] / 255.0,
        test["label_test"].reshape(-1).astype(np.int64),
    )


def predict(cnn: ModuleType, name: str, weights: tuple, x: np.ndarray) -> int:
    """Class of one (196, 1) image under trained weights, by the layer functions."""
    if name in ("slp_linear", "slp"):
        w, b = weights
        scores = cnn.fc(x, w, b)
    elif name == "mlp":
        w1, b1, w2, b2 = weights
        scores = cnn.fc(cnn.relu(cnn.fc(x, w1, b1)), w2, b2)
    else:
        w_conv, b_conv, w_fc, b_fc = weights
        image = x.reshape((14, 14, 1), order="F")
        pooled = cnn.pool2x2(cnn.relu(cnn.conv(image, w_conv, b_conv)))
        scores = cnn.fc(cnn.flattening(pooled), w_fc, b_fc)
    return int(np.argmax(scores))


def reference_run(cnn: ModuleType, name: str, data: tuple) -> tuple[float, float]:
    """Train one reference model; return (seconds, test accuracy)."""
    im_train, label_train, im_test, label_test = data
    np.random.seed(0)
    mini_batch_x, mini_batch_y = cnn.get_mini_batch(im_train, label_train, 32)
    np.random.seed(0)

    start = time.perf_counter()
    weights = getattr(cnn, f"train_{name}")(mini_batch_x, mini_batch_y)
    seconds = time.perf_counter() - start

    predicted = [
        predict(cnn, name, weights, im_test[:, [i]]) for i in range(im_test.shape[1])
    ]
    return seconds, float(np.mean(np.array(predicted) == label_test))


def torch_seconds_to_reach(name: str, data: tuple, target: float) -> float | None:
    """Seconds PyTorch needs to first reach `target` test accuracy, or None if it
    does not within TORCH_CAP_S. Data conversion happens before the clock."""
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(0)
    im_train, label_train, im_test, label_test = data
    x_train = torch.tensor(im_train.T, dtype=torch.float32)
    x_test = torch.tensor(im_test.T, dtype=torch.float32)
    labels = torch.tensor(label_train.reshape(-1).astype(np.int64))
    y_test = torch.tensor(label_test)
    if name == "cnn":
        # Column-major columns: (n, 14, 14) comes out transposed; swap to upright.
        x_train = x_train.reshape(-1, 1, 14, 14).transpose(2, 3).contiguous()
        x_test = x_test.reshape(-1, 1, 14, 14).transpose(2, 3).contiguous()

    if name in ("slp_linear", "slp"):
        model = nn.Linear(196, 10)
    elif name == "mlp":
        model = nn.Sequential(nn.Linear(196, 30), nn.ReLU(), nn.Linear(30, 10))
    else:
        model = nn.Sequential(
            nn.Conv2d(1, 3, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(147, 10),
        )
    if name == "slp_linear":
        one_hot = torch.eye(10)[labels]

        def loss_fn(scores: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            # The homework's ||y - y_tilde||^2 per image, averaged over the batch.
            return ((scores - one_hot[idx]) ** 2).sum(dim=1).mean()

        lr = 0.01
    else:
        cross_entropy = nn.CrossEntropyLoss()

        def loss_fn(scores: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            return cross_entropy(scores, labels[idx])

        lr = 0.1
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    n = x_train.shape[0]

    start = time.perf_counter()
    step = 0
    while time.perf_counter() - start < TORCH_CAP_S:
        idx = torch.randint(0, n, (32,))
        optimizer.zero_grad()
        loss_fn(model(x_train[idx]), idx).backward()
        optimizer.step()
        step += 1
        if step % TORCH_EVAL_EVERY == 0:
            with torch.no_grad():
                accuracy = (model(x_test).argmax(dim=1) == y_test).float().mean()
            if accuracy.item() >= target:
                return time.perf_counter() - start
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help=f"folder with mnist_train.mat and mnist_test.mat (default {DEFAULT_DATA})",
    )
    args = parser.parse_args(argv)
    missing = [
        f
        for f in ("mnist_train.mat", "mnist_test.mat")
        if not (args.data / f).is_file()
    ]
    if missing:
        print(
            f"error: {', '.join(missing)} not found in {args.data}; "
            "point --data at the folder holding the course's .mat files",
            file=sys.stderr,
        )
        return 2

    try:
        import torch
    except ImportError:
        torch = None
        print("torch is not importable: PyTorch columns skipped")
    else:
        print(f"torch {torch.__version__}, 1 thread, cap {TORCH_CAP_S:.0f} s")

    cnn = load_reference()
    data = load_data(args.data)
    header = f"{'model':<11} {'target':>6} {'ref s':>6} {'ref acc':>7}"
    if torch is not None:
        header += f" {'torch s':>10} {'ratio':>6}"
    print(header)
    for name, target in TARGETS.items():
        seconds, accuracy = reference_run(cnn, name, data)
        row = f"{name:<11} {target:>6.0%} {seconds:>6.2f} {accuracy:>7.2%}"
        if torch is not None:
            torch_s = torch_seconds_to_reach(name, data, accuracy)
            if torch_s is None:
                row += f" {'not reached':>10} {'-':>6}"
            else:
                row += f" {torch_s:>10.2f} {seconds / torch_s:>6.2f}"
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
