"""The result cache: a graded hand-in is not graded again until something
that decides its grade changes.

The key hashes everything a verdict depends on: the hand-in's staged files
(names and bytes, weights included) and the student they belong to, the
grader (its version and the bytes of its own code, templates, embedded data
and reference solution), the rubric as loaded, the data files, and the
options that change verdicts (`--quick`, time and memory limits). An entry is
one JSON file, written atomically when a hand-in's grading completes: a batch
killed at any moment leaves every finished hand-in cached and nothing half
written, so re-running it grades only what was unfinished, changed or new.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import grader
import reference
from grader import atomic
from grader.grade import VERSION
from grader.rubric import Rubric

FORMAT = 1
_CODE_SUFFIXES = (".py", ".j2", ".toml", ".npz")


def _digest_files(paths: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@functools.cache
def grader_digest() -> str:
    """The grader's version and the bytes of everything it grades with."""
    parts = []
    for package in (grader, reference):
        root = Path(package.__file__).resolve().parent
        files = [p for p in root.rglob("*") if p.suffix in _CODE_SUFFIXES]
        parts.append(_digest_files(files, root))
    return f"{VERSION}:" + hashlib.sha256("".join(parts).encode()).hexdigest()


def data_digest(data_dir: Path | None) -> str:
    """The data the trainers use: the course files' bytes, or the embedded set
    (whose bytes are part of grader_digest)."""
    if data_dir is None:
        return "embedded"
    files = [data_dir / n for n in ("mnist_train.mat", "mnist_test.mat")]
    return _digest_files([f for f in files if f.is_file()], data_dir)


def settings_digest(
    rubric: Rubric, data_dir: Path | None, options: dict[str, Any]
) -> str:
    """Everything but the hand-in itself: the same for a whole class."""
    payload = {
        "format": FORMAT,
        "grader": grader_digest(),
        "rubric": {k: v for k, v in asdict(rubric).items() if k != "source"},
        "data": data_digest(data_dir),
        "options": options,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def key(settings: str, student: str, folder: Path, files: tuple[Path, ...]) -> str:
    """The cache key of one staged hand-in."""
    content = _digest_files(list(files), folder)
    return hashlib.sha256(f"{settings}\0{student}\0{content}".encode()).hexdigest()


class Cache:
    """Graded hand-ins as JSON files `<key>.json` in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored entry, or None when absent or unreadable."""
        try:
            entry = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and entry.get("key") == key else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        atomic.write_text(self.path(key), json.dumps({**entry, "key": key}))
