"""`grade package-gradescope`: build the autograder zip for Gradescope.

The zip holds, at its root: `setup.sh` and `run_autograder` (`scripts`),
`requirements.txt` (NumPy, SciPy and Jinja2 at the versions this grader runs
with), the `grader` and `reference` packages, `config.json` (the grading
options), the rubric as `rubric.toml`, and the course data under `data/`
when `--data` is given. Entries are written in a fixed order with fixed
dates, so the same inputs give the same zip.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import grader
import reference
from grader import rubric
from grader.discover import TEST_FILE, TRAIN_FILE, UsageError, load_data
from grader.gradescope.scripts import RUN_AUTOGRADER, SETUP_SH
from grader.homework.spec import ALL_NAMES

_DATE = (2020, 1, 1, 0, 0, 0)
_REQUIREMENTS = ("numpy", "scipy", "jinja2")


def build_parser() -> argparse.ArgumentParser:
    from grader.cli import add_limit_options

    parser = argparse.ArgumentParser(
        prog="grade package-gradescope",
        description="Build the autograder zip of a Gradescope programming "
        "assignment: each submission is graded in its own container and the "
        "result written as Gradescope's results.json.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("gradescope-autograder.zip"),
        help="the zip to write (default: gradescope-autograder.zip)",
    )
    parser.add_argument("--rubric", type=Path, help="TOML file overriding the rubric")
    parser.add_argument(
        "--data",
        type=Path,
        help="folder with mnist_train.mat and mnist_test.mat to ship in the zip "
        "(default: the grader's embedded digits)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="check functions only; no training"
    )
    # keep the trainers' total under the assignment's autograder timeout
    add_limit_options(parser)
    parser.add_argument(
        "--instructor-only",
        action="append",
        default=[],
        metavar="CHECK",
        help="a check students see only once grades are published (repeatable); "
        "submitted-weights checks always are",
    )
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        unknown = [n for n in args.instructor_only if n not in ALL_NAMES]
        if unknown:
            raise UsageError(
                f"--instructor-only {unknown[0]}: not a check; one of "
                f"{', '.join(ALL_NAMES)}"
            )
        rubric.load(args.rubric)
        if args.data is not None:
            load_data(args.data, args.data)
        build(args)
    except UsageError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"grade: cannot write {args.out}: {err}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.out}: upload it as the autograder of a Gradescope "
        "programming assignment"
    )
    return 0


def config(args: argparse.Namespace) -> dict[str, object]:
    """The grading options run_autograder reads, paths relative to the zip."""
    return {
        "rubric": "rubric.toml",
        "data": "data" if args.data is not None else None,
        "quick": args.quick,
        "train_seconds": args.train_seconds,
        "call_seconds": args.call_seconds,
        "memory_bytes": int(args.memory_mb) << 20,
        "instructor_only": sorted(set(args.instructor_only)),
    }


def build(args: argparse.Namespace) -> None:
    entries: list[tuple[str, bytes, int]] = [
        ("setup.sh", SETUP_SH.encode(), 0o755),
        ("run_autograder", RUN_AUTOGRADER.encode(), 0o755),
        ("requirements.txt", _requirements().encode(), 0o644),
        ("config.json", json.dumps(config(args), indent=2).encode(), 0o644),
        ("rubric.toml", (args.rubric or rubric.DEFAULT).read_bytes(), 0o644),
    ]
    for package in (grader, reference):
        root = Path(package.__file__).resolve().parent
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root.parent)
            if path.is_file() and "__pycache__" not in relative.parts:
                entries.append((relative.as_posix(), path.read_bytes(), 0o644))
    if args.data is not None:
        for name in (TRAIN_FILE, TEST_FILE):
            entries.append((f"data/{name}", (args.data / name).read_bytes(), 0o644))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(f".{args.out.name}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content, mode in entries:
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    shutil.move(partial, args.out)


def _requirements() -> str:
    """The libraries the grader needs, at the versions it was packaged with."""
    lines = []
    for name in _REQUIREMENTS:
        try:
            lines.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(name)
    return "\n".join(lines) + "\n"
