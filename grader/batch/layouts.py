"""Recognising a class of hand-ins in a folder, whatever exported it.

Three layouts are told apart without flags:

- Gradescope's export: `submission_metadata.yml` beside a folder per
  submission (`gradescope_export`);
- an LMS's flat export: every file prefixed with its student, zip files of
  folders among them (`lms`);
- a folder per student (zip files of folders count as folders), the folder
  named after the student; Moodle's `Jane Doe_12345_assignsubmission_file_`
  names give the name and id.

A folder in which a `.py` file directly defines homework functions is one
hand-in, not a class, unless those files carry the LMS prefixes of two or
more students. `recognise` returns None for a folder that is not a class, so
that the single hand-in path (and its messages) apply unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader import source
from grader.batch import gradescope_export, lms
from grader.homework.spec import ALL_NAMES

# The weights the course driver saves, and the trainer each belongs to.
WEIGHT_FILES = {
    "slp_linear.mat": "train_slp_linear",
    "slp.mat": "train_slp",
    "mlp.mat": "train_mlp",
    "cnn.mat": "train_cnn",
}
_SKIPPED_PARTS = {"__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints"}
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_\w*$")
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Person:
    """A student named by the layout; either field may be unknown ("")."""

    student_id: str = ""
    name: str = ""


@dataclass(frozen=True)
class Handin:
    """One student's (or group's) hand-in, before it is unpacked.

    `files` pairs each file's name within the hand-in (LMS prefixes and
    upload suffixes removed) with where it is now.
    """

    student: str  # unique in the class: the report folder's name
    people: tuple[Person, ...]
    path: Path  # what was handed in, as shown to people
    files: tuple[tuple[str, Path], ...]


@dataclass(frozen=True)
class Roster:
    """The hand-ins of a class, and what in its folder belongs to no one."""

    layout: str  # folders | lms | gradescope
    handins: tuple[Handin, ...]
    ignored: tuple[str, ...] = ()


def wanted(name: str) -> bool:
    """A file the grader takes from a hand-in: code, zips, driver weights."""
    lower = name.lower()
    base = lower.rsplit("/", 1)[-1]
    return lower.endswith((".py", ".zip")) or base in WEIGHT_FILES


def recognise(folder: Path, exclude: tuple[Path, ...] = ()) -> Roster | None:
    """The class in `folder`, or None when it is a single hand-in (or nothing).

    `exclude` lists folders that are not hand-ins (the reports folder when it
    lies inside the class folder).
    """
    skipped = {p.resolve() for p in exclude}
    metadata = gradescope_export.metadata_file(folder)
    if metadata is not None:
        return _gradescope(folder, metadata, skipped)
    entries = [p for p in sorted(folder.iterdir()) if _visible(p, skipped)]
    files = [p for p in entries if p.is_file()]
    parsed = [f for f in (lms.parse(p) for p in files) if f and wanted(f.original)]
    students = {f.key for f in parsed}
    modules = [p for p in files if p.suffix == ".py" and _defines(p)]
    if len(students) >= 2:
        return _lms(folder, files, parsed)
    if modules:
        return None
    folders = _folders(entries)
    if folders:
        return folders
    return _lms(folder, files, parsed) if students else None


def _visible(path: Path, skipped: set[Path]) -> bool:
    if path.name.startswith(".") or path.name in _SKIPPED_PARTS or path.is_symlink():
        return False
    return path.resolve() not in skipped


def _defines(path: Path) -> bool:
    return source.count_defined(path, set(ALL_NAMES)) > 0


def tree(root: Path) -> tuple[tuple[str, Path], ...]:
    """The wanted files under `root`, by relative name; no links, no hidden."""
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(p.startswith(".") or p in _SKIPPED_PARTS for p in relative.parts):
            continue
        if path.is_symlink() or not path.is_file():
            continue
        if wanted(relative.as_posix()):
            found.append((relative.as_posix(), path))
    return tuple(found)


# the class's own outputs beside the students' report folders
_RESERVED = {"index.html", "gradebook.csv"}


def slug(text: str) -> str:
    """A folder name made of safe characters only, clear of the outputs."""
    cleaned = _SLUG.sub("_", text).strip("._-")[:80] or "student"
    return f"student-{cleaned}" if cleaned.lower() in _RESERVED else cleaned


def _unique(handins: list[Handin]) -> tuple[Handin, ...]:
    """The hand-ins sorted by student, names made unique (case aside)."""
    taken: set[str] = set()
    unique = []
    for handin in sorted(handins, key=lambda h: h.student):
        name, count = handin.student, 1
        while name.lower() in taken:
            count += 1
            name = f"{handin.student}-{count}"
        taken.add(name.lower())
        unique.append(Handin(name, handin.people, handin.path, handin.files))
    return tuple(unique)


def _folders(entries: list[Path]) -> Roster | None:
    """A folder (or a zip of one) per student; None when none holds code."""
    handins, ignored = [], []
    for entry in entries:
        if entry.is_dir():
            contents = tree(entry)
        elif entry.suffix.lower() == ".zip":
            contents = ((entry.name, entry),)
        else:
            ignored.append(entry.name)
            continue
        stem = entry.name if entry.is_dir() else entry.stem
        moodle = _MOODLE.match(stem)
        person = Person(moodle["id"], moodle["name"]) if moodle else Person(stem, "")
        handins.append(Handin(slug(stem), (person,), entry, contents))
    if not any(name.endswith((".py", ".zip")) for h in handins for name, _ in h.files):
        return None
    return Roster("folders", _unique(handins), tuple(ignored))


def _lms(folder: Path, files: list[Path], parsed: list[lms.LmsFile]) -> Roster:
    names = lms.blackboard_names(folder)
    by_student: dict[str, list[lms.LmsFile]] = {}
    for file in parsed:
        by_student.setdefault(file.key, []).append(file)
    handins = []
    for group in by_student.values():
        chosen = lms.latest(group)
        first = chosen[0]
        name = first.name or names.get(first.student_id, "")
        label = f"{first.name}_{first.student_id}" if first.name else first.student_id
        handins.append(
            Handin(
                slug(label),
                (Person(first.student_id, name),),
                first.path,
                tuple((f.original, f.path) for f in chosen),
            )
        )
    taken = {f.path for f in parsed}
    ignored = tuple(
        p.name
        for p in files
        if p not in taken and not (p.suffix == ".txt" and "_attempt_" in p.name)
    )
    return Roster("lms", _unique(handins), ignored)


def _gradescope(folder: Path, metadata: Path, skipped: set[Path]) -> Roster:
    submitters = gradescope_export.read_metadata(metadata)
    handins, ignored = [], []
    for entry in sorted(folder.iterdir()):
        if not entry.is_dir() or not _visible(entry, skipped):
            if entry != metadata and _visible(entry, skipped):
                ignored.append(entry.name)
            continue
        members = submitters.get(entry.name, ())
        people = tuple(Person(m.sid or m.email, m.name) for m in members)
        first = members[0] if members else None
        label = (first.sid or first.name) if first else ""
        student = slug(label) if label else slug(entry.name)
        handins.append(
            Handin(student, people or (Person(entry.name, ""),), entry, tree(entry))
        )
    return Roster("gradescope", _unique(handins), tuple(ignored))
