"""The file names of an LMS's flat export: whose file it is, and which version.

An LMS that exports every student's files into one folder prefixes each file
with the student. Three conventions are read:

- Canvas: `lastnamefirstname_12345_67890_cnn.py` (name, user id, submission
  id, the file's own name), `_late_` after the name for a late hand-in, and
  `cnn-1.py` for the second upload of a file of the same name;
- Blackboard: `HW4_jdoe_attempt_2024-03-01-23-59-00_cnn.py` (one set of files
  per attempt, beside a `..._attempt_<time>.txt` that names the student);
- Brightspace: `12345-67890 - Jane Doe - Mar 1, 2024 1159 PM - cnn.py`.

A student's later upload wins: the latest attempt (Blackboard, Brightspace)
and, within it, the highest `-N` suffix of each file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_CANVAS = re.compile(
    r"^(?P<name>[^_]+?)(?:_(?i:late))?_(?P<id>\d+)_(?P<sub>\d+)_(?P<file>.+)$"
)
_BLACKBOARD = re.compile(
    r"^(?P<assignment>.+?)_(?P<id>[^_]+)_attempt_"
    r"(?P<when>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>.+)|\.txt)$"
)
_BRIGHTSPACE = re.compile(
    r"^(?P<id>\d+-\d+) - (?P<name>.+?) - "
    r"(?P<when>[A-Z][a-z]{2} \d{1,2}, \d{4} \d{3,4} [AP]M) - (?P<file>.+)$"
)
# "cnn-1.py", "cnn (2).py": the same file uploaded again
_AGAIN = re.compile(r"^(?P<stem>.+?)(?:-(?P<dash>\d+)| \((?P<paren>\d+)\))$")
_BLACKBOARD_NAME = re.compile(r"^Name:\s*(?P<name>.+?)\s*\(", re.MULTILINE)


@dataclass(frozen=True)
class LmsFile:
    """One file of a flat export, read from its name."""

    lms: str
    student_id: str
    name: str
    original: str  # the file's own name, upload suffix removed
    attempt: str  # orders a student's submissions: later sorts higher
    again: int  # the -N upload suffix (0 for none)
    path: Path

    @property
    def key(self) -> str:
        return f"{self.lms}:{self.student_id}"


def parse(path: Path) -> LmsFile | None:
    """The student and the file's own name, or None for a name of no LMS."""
    canvas = _CANVAS.match(path.name)
    if canvas:
        original, again = _upload(canvas["file"])
        return LmsFile(
            "canvas", canvas["id"], canvas["name"], original, "", again, path
        )
    blackboard = _BLACKBOARD.match(path.name)
    if blackboard and blackboard["file"]:
        original, again = _upload(blackboard["file"])
        return LmsFile(
            "blackboard",
            blackboard["id"],
            "",
            original,
            blackboard["when"],
            again,
            path,
        )
    brightspace = _BRIGHTSPACE.match(path.name)
    if brightspace:
        original, again = _upload(brightspace["file"])
        when = datetime.strptime(brightspace["when"], "%b %d, %Y %I%M %p")
        return LmsFile(
            "brightspace",
            brightspace["id"].split("-")[1],
            brightspace["name"],
            original,
            when.isoformat(),
            again,
            path,
        )
    return None


def _upload(file: str) -> tuple[str, int]:
    """("cnn.py", 1) for "cnn-1.py": the name as uploaded, and the suffix."""
    stem, dot, suffix = file.rpartition(".")
    if not dot:
        stem, suffix = file, ""
    again = _AGAIN.match(stem)
    if not again:
        return file, 0
    number = int(again["dash"] or again["paren"])
    return again["stem"] + (f".{suffix}" if dot else ""), number


def latest(files: list[LmsFile]) -> list[LmsFile]:
    """One student's files of their latest attempt, the last upload of each."""
    attempt = max(f.attempt for f in files)
    chosen: dict[str, LmsFile] = {}
    for file in files:
        if file.attempt != attempt:
            continue
        kept = chosen.get(file.original)
        if kept is None or file.again > kept.again:
            chosen[file.original] = file
    return sorted(chosen.values(), key=lambda f: f.original)


def blackboard_names(folder: Path) -> dict[str, str]:
    """Student names from Blackboard's per-attempt .txt files, by user id."""
    names: dict[str, str] = {}
    for path in sorted(folder.glob("*_attempt_*.txt")):
        match = _BLACKBOARD.match(path.name)
        if not match or match["file"] or path.stat().st_size > 1 << 20:
            continue
        found = _BLACKBOARD_NAME.search(path.read_text(errors="replace"))
        if found:
            names[match["id"]] = found["name"]
    return names
