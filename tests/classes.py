"""Classes of hand-ins built from the acceptance cases, in the three layouts
`grade DIR` recognises, and the single-hand-in verdicts to compare with.

Every student's hand-in is one acceptance case (`../shared/cases/<case>/
cnn.py`) handed in the way that layout hands files in: a folder per student
(module names and depths vary, one zip of a folder, Moodle-style names), an
LMS's flat export (Canvas names, late marks, `-1` re-uploads that must win
over the first upload, zips of folders) or Gradescope's export (metadata
file, a group submission, quoted names). Each class holds one hand-in that
hangs (`hang-relu`: hostile-infinite-loop's endless loop moved into relu, so
that grading without training meets it) and one that kills the child
(`hostile-exit`: fc calls os._exit). Hostile code only ever runs inside the
grader's sandbox.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HANG = "hang-relu"
CRASH = "hostile-exit"
ORDINARY = (
    "correct-vectorised",
    "flatten-row-major",
    "unfinished",
    "correct-loops",
    "relu-backward-sign",
    "scrambled-batches",
    "syntax-error",
    "flipped-kernel",
    "unstable-softmax",
    "extra-required-arg",
    "leaky-relu",
    "hostile-infinite-loop",  # loops only in train_slp: passes without training
)
# Options of every grading here: no training, and a short limit per call so
# the hanging hand-in costs seconds (the same for the single-hand-in runs).
OPTIONS = ("--quick", "--call-seconds", "2")


@dataclass(frozen=True)
class Student:
    """One member of a built class and the case they handed in."""

    student_id: str
    name: str
    case: str


def case_source(shared: Path, case: str) -> bytes:
    if case == HANG:
        text = (shared / "cases" / "hostile-infinite-loop" / "cnn.py").read_text()
        old = "def relu(x):\n    y = np.maximum(x, 0)\n"
        assert old in text, "hostile-infinite-loop's relu changed: update HANG"
        return text.replace(
            old, "def relu(x):\n    while True:\n        y = np.maximum(x, 0)\n"
        ).encode()
    return (shared / "cases" / case / "cnn.py").read_bytes()


def roster(size: int) -> list[Student]:
    """`size` students: the hang and the crash once each, then the other
    cases in turn."""
    cases = [HANG, CRASH] + [ORDINARY[i % len(ORDINARY)] for i in range(size - 2)]
    surnames = ("doe", "smith", "garcia", "nguyen", "okafor", "muller", "rossi")
    return [
        Student(str(1000 + i), f"{surnames[i % len(surnames)]}jane{i:02d}", case)
        for i, case in enumerate(cases)
    ]


def _zip(path: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)


def build_folders(root: Path, students: list[Student], shared: Path) -> dict[str, str]:
    """A folder per student; returns {student id: case}."""
    for i, student in enumerate(students):
        code = case_source(shared, student.case)
        if i % 9 == 4:  # a zip of a folder instead of a folder
            _zip(root / f"{student.student_id}.zip", {"hw4/cnn.py": code})
            continue
        folder = root / student.student_id
        if i % 5 == 3:  # Moodle's folder names
            moodle = f"{student.name} Jane_{student.student_id}_assignsubmission_file_"
            folder = root / moodle
        module = {0: "cnn.py", 1: "hw4/cnn.py", 2: "my_network.py"}[i % 3]
        target = folder / module
        target.parent.mkdir(parents=True)
        target.write_bytes(code)
        (folder / "notes.txt").write_text("my notes\n")
    return {s.student_id: s.case for s in students}


def build_lms(root: Path, students: list[Student], shared: Path) -> dict[str, str]:
    """Canvas's flat export; returns {student id: case}."""
    for i, student in enumerate(students):
        late = "_late" if i % 6 == 5 else ""
        prefix = f"{student.name}{late}_{student.student_id}_{5000 + i}_"
        code = case_source(shared, student.case)
        if i % 7 == 3:  # a zip of a folder, with macOS junk
            _zip(
                root / f"{prefix}hw4.zip",
                {"hw4/cnn.py": code, "__MACOSX/hw4/._cnn.py": b"\0\1junk"},
            )
        elif i % 5 == 2:  # uploaded twice: the -1 file is the one to grade
            stale = case_source(shared, "syntax-error")
            (root / f"{prefix}cnn.py").write_bytes(stale)
            (root / f"{prefix}cnn-1.py").write_bytes(code)
        else:
            (root / f"{prefix}{'solution.py' if i % 4 == 1 else 'cnn.py'}").write_bytes(
                code
            )
    (root / "README.txt").write_text("downloaded from the LMS\n")
    return {s.student_id: s.case for s in students}


def build_gradescope(
    root: Path, students: list[Student], shared: Path
) -> dict[str, str]:
    """Gradescope's export, the last two students one group; {student id: case}."""
    lines = []
    expected = {}
    groups = [[s] for s in students[:-2]] + [students[-2:]]
    for i, group in enumerate(groups):
        folder = root / f"submission_{900000 + i}"
        module = folder / ("cnn.py" if i % 2 else "code/cnn.py")
        module.parent.mkdir(parents=True)
        module.write_bytes(case_source(shared, group[0].case))
        lines.append(f"{folder.name}:")
        lines.append("  :submitters:")
        for member in group:
            name = f"O'{member.name}" if i % 4 == 0 else member.name
            quoted = "'" + name.replace("'", "''") + "'"
            lines.append(f"  - :name: {quoted}")
            lines.append(f"    :sid: '{member.student_id}'")
            lines.append(f"    :email: {member.name}@example.edu")
        lines.append("  :created_at: 2024-03-01 23:59:00.000000000 -08:00")
        lines.append("  :score: 0.0")
        lines.append("  :results:")
        lines.append("    :tests: []")
        expected.update({member.student_id: group[0].case for member in group})
    (root / "submission_metadata.yml").write_text("\n".join(lines) + "\n")
    return expected


def grade(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def single_verdicts(
    shared: Path, cases: set[str], folder: Path
) -> dict[str, dict[str, Any]]:
    """`grade CASE --json` (the single hand-in path) for each case."""

    def one(case: str) -> tuple[str, dict[str, Any]]:
        handin = folder / "handins" / case
        handin.mkdir(parents=True)
        (handin / "cnn.py").write_bytes(case_source(shared, case))
        out = folder / "json" / f"{case}.json"
        run = grade(handin, *OPTIONS, "--out", folder / "reports", "--json", out)
        assert run.returncode in (0, 1), run.stderr
        return case, json.loads(out.read_text())

    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(one, sorted(cases)))


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in result["checks"]}


def points(result: dict[str, Any]) -> dict[str, float]:
    return {c["name"]: c["score"] for c in result["checks"]}
