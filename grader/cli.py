"""The `grade` command: grade a hand-in, write its reports, print a summary.

Exit status: 0 when every check passed, 1 when any did not, 2 for a usage
error or a failure of the grader itself.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from pathlib import Path

from grader import atomic, rubric, terminal
from grader.discover import UsageError
from grader.grade import Options, grade
from grader.result import to_json
from grader.sandbox.runner import Limits

log = logging.getLogger("grader")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _names(text: str) -> tuple[str, ...]:
    """--only fc,conv: names of the homework's functions and trainers."""
    from grader.homework.spec import ALL_NAMES

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in ALL_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{', '.join(unknown) or text!r} is not a check; choose from "
            + ", ".join(ALL_NAMES)
        )
    return names


def add_limit_options(parser: argparse.ArgumentParser) -> None:
    """The sandbox's time and memory limits, shared with package-gradescope."""
    parser.add_argument(
        "--train-seconds",
        type=_positive,
        default=600.0,
        help="time limit per trainer in seconds (default: 600)",
    )
    parser.add_argument(
        "--call-seconds",
        type=_positive,
        default=Limits.call_seconds,
        help="time limit per function call in seconds (default: 30)",
    )
    parser.add_argument(
        "--memory-mb",
        type=_positive,
        default=Limits.memory_bytes >> 20,
        help="address-space limit of the sandbox in MiB (default: 4096)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grade",
        description="Grade a hand-in of the NumPy neural-network homework, or a "
        "class of them. `grade package-gradescope --help`: the Gradescope "
        "autograder.",
    )
    parser.add_argument(
        "path",
        type=Path,
        help="the hand-in (a folder or its .py module), or a folder of hand-ins",
    )
    parser.add_argument(
        "--data", type=Path, help="folder with mnist_train.mat and mnist_test.mat"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("reports"),
        help="folder for the reports (default: reports/)",
    )
    parser.add_argument(
        "--json", type=Path, help="also write the JSON result to this file"
    )
    parser.add_argument(
        "--quick", action="store_true", help="check functions only; no training"
    )
    parser.add_argument(
        "--rubric", type=Path, help="TOML file overriding the default rubric"
    )
    add_limit_options(parser)
    parser.add_argument(
        "--processes",
        type=_count,
        default=Limits.processes,
        help="processes the sandbox's user may run at once (default: 16; root only)",
    )
    parser.add_argument(
        "--only",
        type=_names,
        default=(),
        help="re-check only these functions/trainers, e.g. --only fc,conv",
    )
    batch = parser.add_argument_group("a class (a folder of hand-ins)")
    batch.add_argument(
        "--jobs",
        type=_count,
        help="hand-ins graded at once (default: the machine's cores)",
    )
    batch.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="local worker processes, or a dask.distributed cluster",
    )
    batch.add_argument(
        "--scheduler",
        help="dask scheduler address (default: a local cluster on 127.0.0.1)",
    )
    batch.add_argument(
        "--regrade",
        action="store_true",
        help="grade every hand-in again, ignoring cached results",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="grade: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["package-gradescope"]:
        from grader.gradescope import package

        return package.main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.path.is_dir():
        from grader.batch import command, layouts

        try:
            roster = layouts.recognise(args.path, exclude=(args.out,))
        except OSError as err:
            print(f"grade: cannot read {args.path}: {err}", file=sys.stderr)
            return 2
        if roster is not None:
            return command.run(args, roster)
    limits = Limits(
        call_seconds=args.call_seconds,
        memory_bytes=int(args.memory_mb) << 20,
        processes=args.processes,
    )
    try:
        options = Options(
            rubric=rubric.load(args.rubric),
            data_dir=args.data,
            quick=args.quick,
            limits=limits,
            train_seconds=args.train_seconds,
            hide=(args.out,),
            only=args.only,
        )
        result = grade(args.path, options, terminal.progress_printer())
    except UsageError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("grade: interrupted; nothing written", file=sys.stderr)
        return 2
    except Exception:
        log.error("internal error, please report it:\n%s", traceback.format_exc())
        return 2

    name = _report_name(args.path)
    folder = args.out / name
    # a re-check of a few functions must not replace the full report
    stem = "only" if args.only else "index"
    payload = json.dumps(to_json(result), indent=2)
    try:
        from grader import report

        atomic.write_text(folder / f"{stem}.html", report.render(result))
        atomic.write_text(folder / f"{'only' if args.only else 'result'}.json", payload)
        if args.json is not None:
            atomic.write_text(args.json, payload)
    except OSError as err:
        print(f"grade: cannot write the report: {err}", file=sys.stderr)
        return 2
    try:
        print(terminal.summary(result, folder / f"{stem}.html"), flush=True)
    except BrokenPipeError:
        # `grade ... | head`: the reader left; the reports are written
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0 if result.passed else 1


def _report_name(path: Path) -> str:
    resolved = path.resolve()
    return resolved.stem if resolved.is_file() else resolved.name or "submission"


if __name__ == "__main__":
    sys.exit(main())
