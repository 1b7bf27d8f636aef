"""Laying out a hand-in for grading: its code and weights, nothing else.

Each hand-in is copied into a folder of its own under the reports folder
(`.handins/<student>/`): its `.py` files and driver weights at their names
within the hand-in, its zip files unpacked in place. The copy is what gets
graded and hashed for the cache, so that:
- a file the LMS renamed (`doe_1_2_cnn-1.py`) is graded under its own name
  (`cnn.py`), which the student's imports expect;
- data files a student left beside the module (`mnist_test.mat`) are not
  picked up: every hand-in of a class is graded on the same data;
- links and hidden files of the original never reach the sandbox.
The module is the `.py` file that defines the most homework functions, at
any depth (`cnn.py` wins a tie, then the shallower file).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader import source
from grader.batch import unzip
from grader.batch.layouts import WEIGHT_FILES, Handin, tree, wanted
from grader.homework.spec import ALL_NAMES, MODULE_HINT

MAX_FILE_BYTES = 16 << 20


@dataclass(frozen=True)
class Staged:
    """A hand-in laid out for grading."""

    folder: Path
    module: Path | None
    weights: tuple[tuple[str, Path], ...]  # ("cnn.mat", staged path)
    files: tuple[Path, ...]  # every staged file, for the cache key
    notes: tuple[str, ...]  # what was refused or skipped
    problem: str  # why there is no module ("" when there is one)


def stage(handin: Handin, folder: Path) -> Staged:
    """Copy (and unpack) the hand-in into `folder`, replacing what was there."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    notes: list[str] = []
    for name, path in handin.files:
        relative = unzip.safe_relative(name)
        if relative is None:
            notes.append(f"{name}: unsafe file name; skipped")
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            notes.append(f"{name}: larger than {MAX_FILE_BYTES >> 20} MiB; skipped")
            continue
        if relative.suffix.lower() == ".zip":
            _, refused = unzip.extract(
                path, folder.joinpath(*relative.parent.parts), _unpacked
            )
            notes += refused
            continue
        target = folder.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    files = tuple(p for _, p in tree(folder))
    module = find_module(files)
    weights = _weights(files, module)
    problem = "" if module else _no_module(handin, files)
    return Staged(folder, module, weights, files, tuple(notes), problem)


def _unpacked(relative: PurePosixPath) -> bool:
    # no zip inside a zip: one level is what students hand in
    return wanted(relative.as_posix()) and relative.suffix.lower() != ".zip"


def find_module(files: tuple[Path, ...]) -> Path | None:
    """The .py file defining the most homework functions, or None."""
    wanted_names = set(ALL_NAMES)
    scored = [
        (source.count_defined(p, wanted_names), p.name == MODULE_HINT, p)
        for p in files
        if p.suffix == ".py"
    ]
    scored = [s for s in scored if s[0] > 0]
    if not scored:
        return None
    best = max(scored, key=lambda s: (s[0], s[1], -len(s[2].parts), str(s[2])))
    return best[2]


def _weights(
    files: tuple[Path, ...], module: Path | None
) -> tuple[tuple[str, Path], ...]:
    """The driver's weight files: beside the module first, else the shallowest."""
    found: dict[str, Path] = {}
    ranked = sorted(
        files,
        key=lambda p: (module is None or p.parent != module.parent, len(p.parts)),
    )
    for path in ranked:
        if path.name in WEIGHT_FILES and path.name not in found:
            found[path.name] = path
    return tuple(sorted(found.items()))


def _no_module(handin: Handin, files: tuple[Path, ...]) -> str:
    python = [p for p in files if p.suffix == ".py"]
    if not handin.files:
        return "no Python or zip file handed in"
    if not python:
        return "no Python file handed in (nor in its zip files)"
    names = ", ".join(ALL_NAMES[:4])
    return f"no Python file defines any of the homework's functions ({names}, ...)"
