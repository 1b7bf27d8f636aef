"""Build grader/data/digits14.npz, the grader's embedded default data set.

It serves machines that lack the course's mnist_train.mat and mnist_test.mat.
The source is scikit-learn's copy of the UCI "Optical Recognition of
Handwritten Digits" test set: 1797 images of 8x8 pixels, values 0..16. Each is
resampled to 10x10 by bilinear interpolation and framed by 2 empty pixels on
each side to 14x14 (as MNIST frames its 20x20 digits in 28x28, so that the
course's hyper-parameters suit it), scaled to 0..255 and stored as
uint8 in the course's layout: im_train (196, n) with one image per column,
where column.reshape((14, 14), order="F") is the upright digit, and
label_train (1, n) uint8 digits 0..9; im_test and label_test likewise. A seeded
draw of 30 images of each digit forms the test set (300), the rest the
training set (1497).

scikit-learn is needed to build the file, not to use it:

    pip install scikit-learn
    python tools/make_embedded_data.py [--out PATH] [--preview PNG]

--preview writes a grid of the first training images, read back from the
written file the way the grader reads it, to check their orientation by eye.
"""

from __future__ import annotations

import argparse
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np
from scipy import ndimage

SIDE = 14
DIGIT = 10  # the digit's own size inside the SIDE x SIDE frame
N_CLASSES = 10
TEST_PER_CLASS = 30
SEED = 14
SOURCE_MAX = 16.0
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "grader" / "data" / "digits14.npz"


def load_source() -> tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's digits: images (1797, 8, 8) 0..16, labels (1797,)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise SystemExit(
            "scikit-learn is needed to build the embedded data set: "
            "pip install scikit-learn"
        ) from exc

    digits = load_digits()
    return digits.images, digits.target


def resample(images: np.ndarray) -> np.ndarray:
    """Bilinear resampling of (n, 8, 8) images in 0..16 to (n, 14, 14) uint8:
    the digit DIGIT x DIGIT in the middle, an empty border around it.

    Order-1 interpolation only mixes neighbouring pixels, so the result stays
    within 0..16 before it is scaled to 0..255.
    """
    factor = DIGIT / images.shape[1]
    small = np.stack([ndimage.zoom(image, factor, order=1) for image in images])
    border = (SIDE - DIGIT) // 2
    big = np.zeros((len(images), SIDE, SIDE))
    big[:, border : border + DIGIT, border : border + DIGIT] = small

    scaled = np.rint(big * (255.0 / SOURCE_MAX))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: TEST_PER_CLASS images of each digit go to the test set.

    Returns the sorted train and test indices. RandomState keeps its stream
    fixed across NumPy versions, so the split rebuilds identically.
    """
    rng = np.random.RandomState(seed)
    test = []
    for digit in range(N_CLASSES):
        members = np.flatnonzero(labels == digit)
        test.append(rng.permutation(members)[:TEST_PER_CLASS])

    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(labels.size), test_idx)
    return train_idx, test_idx


def to_columns(images: np.ndarray) -> np.ndarray:
    """(n, 14, 14) -> (196, n), each image flattened column-major (MATLAB's way)."""
    n = images.shape[0]
    return images.transpose(0, 2, 1).reshape(n, -1).T.copy()


def build() -> dict[str, np.ndarray]:
    """Return im_train, label_train, im_test, label_test in the course layout."""
    images, labels = load_source()
    small = resample(images)
    train_idx, test_idx = split(labels, SEED)

    arrays = {
        "im_train": to_columns(small[train_idx]),
        "label_train": labels[train_idx].astype(np.uint8).reshape(1, -1),
        "im_test": to_columns(small[test_idx]),
        "label_test": labels[test_idx].astype(np.uint8).reshape(1, -1),
    }
    first = arrays["im_train"][:, 0].reshape((SIDE, SIDE), order="F")
    if not np.array_equal(first, small[train_idx[0]]):
        raise AssertionError("column layout does not round-trip with order='F'")
    return arrays


def png_bytes(gray: np.ndarray) -> bytes:
    """Encode a 2-D uint8 array as an 8-bit greyscale PNG."""
    height, width = gray.shape
    rows = b"".join(b"\x00" + gray[r].tobytes() for r in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def write_preview(npz: Path, png: Path, count: int = 40, per_row: int = 10) -> None:
    """Tile the first `count` training images of `npz`, enlarged 6x, into `png`.

    Each image is read as the grader reads a column, reshape order="F", so an
    upright digit in the picture means an upright digit for the grader.
    """
    with np.load(npz, allow_pickle=False) as data:
        columns = data["im_train"][:, :count]
        labels = data["label_train"][0, :count]

    scale, gap = 6, 2
    cell = SIDE * scale + gap
    n_rows = -(-count // per_row)
    canvas = np.full((n_rows * cell + gap, per_row * cell + gap), 128, np.uint8)
    for k in range(columns.shape[1]):
        image = columns[:, k].reshape((SIDE, SIDE), order="F")
        big = np.kron(image, np.ones((scale, scale), np.uint8))
        top, left = gap + (k // per_row) * cell, gap + (k % per_row) * cell
        canvas[top : top + SIDE * scale, left : left + SIDE * scale] = big

    png.write_bytes(png_bytes(canvas))
    for start in range(0, count, per_row):
        print("labels:", " ".join(str(v) for v in labels[start : start + per_row]))


def main() -> None:
    """Build the file, report its shapes and sha256, optionally preview it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--preview", type=Path, help="write a PNG grid here")
    args = parser.parse_args()

    arrays = build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)

    for name, array in arrays.items():
        print(f"{name}: {array.shape} {array.dtype}")
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"{args.out}: {args.out.stat().st_size} bytes, sha256 {digest}")
    if args.preview is not None:
        write_preview(args.out, args.preview)


if __name__ == "__main__":
    main()
