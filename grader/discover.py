"""Finding the student's module and the data to grade it on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from grader import source
from grader.homework.spec import ALL_NAMES, MODULE_HINT

EMBEDDED = Path(__file__).resolve().parent / "data" / "digits14.npz"
TRAIN_FILE, TEST_FILE = "mnist_train.mat", "mnist_test.mat"
# The course's own files. A hand-in's folder may carry copies, but a hand-in
# cannot be trusted to carry the course's test set: beside the module, only
# these exact files are used (an instructor's --data is used as given).
COURSE_SHA256 = {
    TRAIN_FILE: "5994ed5a95f8b6a93c6e3d936d9c0b10f64b9b8c9845e06679aecc06b822e4f0",
    TEST_FILE: "d2c5f71782bff57ef5f615615d0dc9e7e31b3fa5d019252a0dd4f56e4c25a938",
}


class UsageError(Exception):
    """Bad input from the user: shown as a message, exit status 2."""


def find_module(path: Path) -> Path:
    """The hand-in's module: the file given, or the .py that defines the most
    homework functions in the folder (cnn.py wins a tie)."""
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    if path.is_symlink() and path.is_file():
        raise UsageError(f"{path} is a symbolic link; give the file itself")
    if path.is_file():
        if path.suffix != ".py":
            raise UsageError(f"{path} is not a Python file (.py)")
        return path
    wanted = set(ALL_NAMES)
    scored = [
        (source.count_defined(p, wanted), p.name == MODULE_HINT, p.name, p)
        for p in sorted(path.glob("*.py"))
        if p.is_file() and not p.is_symlink()
    ]
    scored = [s for s in scored if s[0] > 0]
    if not scored:
        names = ", ".join(ALL_NAMES[:4])
        raise UsageError(
            f"no Python file in {path} defines any of the homework's functions "
            f"({names}, ...); pass the module itself: grade {path}/<module>.py"
        )
    return max(scored, key=lambda s: (s[0], s[1], [-ord(c) for c in s[2]]))[3]


@dataclass(frozen=True)
class Dataset:
    """Train and test images (196, n) in 0..1 and labels (1, n) as ints."""

    im_train: np.ndarray
    label_train: np.ndarray
    im_test: np.ndarray
    label_test: np.ndarray
    source: str
    embedded: bool
    warning: str = ""


def _load_mat(path: Path, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    import scipy.io  # only here: it costs a sixth of a second to import

    try:
        content = scipy.io.loadmat(str(path))
    except Exception as err:
        raise UsageError(f"cannot read {path}: {err}") from err
    missing = [n for n in names if n not in content]
    if missing:
        raise UsageError(f"{path} has no variable {', '.join(missing)}")
    return _validated(content[names[0]], content[names[1]], str(path))


def _validated(
    images: np.ndarray, labels: np.ndarray, where: str
) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images)
    labels = np.asarray(labels).reshape(1, -1)
    if images.ndim != 2 or images.shape[0] != 196:
        raise UsageError(
            f"{where}: images have shape {images.shape}, expected (196, n)"
        )
    if labels.shape[1] != images.shape[1]:
        raise UsageError(
            f"{where}: {labels.shape[1]} labels for {images.shape[1]} images"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise UsageError(f"{where}: labels must be 0..9")
    return images.astype(np.float64) / 255.0, labels.astype(np.uint8)


def check_data_dir(data_dir: Path) -> None:
    """Refuse a --data folder without the course's two files (even when no
    training will read them: a typo should not pass unnoticed)."""
    if not data_dir.is_dir():
        raise UsageError(f"--data {data_dir}: not a folder")
    for name in (TRAIN_FILE, TEST_FILE):
        if not (data_dir / name).is_file():
            raise UsageError(
                f"{data_dir} has no {name} (expected {TRAIN_FILE} and {TEST_FILE})"
            )


def load_data(data_dir: Path | None, module: Path) -> Dataset:
    """--data DIR, else the .mat files beside the module, else the embedded set."""
    if data_dir is not None:
        if not data_dir.is_dir():
            raise UsageError(f"--data {data_dir}: not a folder")
        folder = data_dir
    elif (module.parent / TRAIN_FILE).exists() and (module.parent / TEST_FILE).exists():
        folder = module.parent
        altered = [
            n for n in (TRAIN_FILE, TEST_FILE) if not _is_course_file(folder / n)
        ]
        if altered:
            embedded = load_embedded()
            warning = (
                f"{', '.join(altered)} beside the module differ from the course's "
                "files, so the embedded digits were used instead (pass the course "
                "data with --data)"
            )
            return replace(embedded, warning=warning)
    else:
        return load_embedded()
    for name in (TRAIN_FILE, TEST_FILE):
        if not (folder / name).is_file():
            raise UsageError(
                f"{folder} has no {name} (expected {TRAIN_FILE} and {TEST_FILE})"
            )
    im_train, label_train = _load_mat(folder / TRAIN_FILE, ("im_train", "label_train"))
    im_test, label_test = _load_mat(folder / TEST_FILE, ("im_test", "label_test"))
    return Dataset(im_train, label_train, im_test, label_test, str(folder), False)


def _is_course_file(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest == COURSE_SHA256[path.name]


def load_embedded() -> Dataset:
    with np.load(EMBEDDED, allow_pickle=False) as content:
        im_train, label_train = _validated(
            content["im_train"], content["label_train"], str(EMBEDDED)
        )
        im_test, label_test = _validated(
            content["im_test"], content["label_test"], str(EMBEDDED)
        )
    return Dataset(im_train, label_train, im_test, label_test, "embedded", True)
