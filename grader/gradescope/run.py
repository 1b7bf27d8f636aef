"""What run_autograder runs: grade the submission, write results.json.

`python -m grader.gradescope.run --root /autograder` grades the hand-in in
ROOT/submission (the module found by its functions, at any depth, zip files
unpacked) with the options in ROOT/source/config.json, and writes
ROOT/results/results.json. It writes that file whatever happens: a
submission with nothing to grade, or a failure of the grader itself, gets a
score of 0 and a message saying why. The file is written last, replacing
anything a submission may have put there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from grader import atomic
from grader.batch import stage, work
from grader.batch.layouts import Handin, tree
from grader.gradescope import results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m grader.gradescope.run",
        description="Grade a Gradescope submission and write results.json.",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")),
        help="the autograder folder (default: /autograder)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root: Path = args.root
    target = root / "results" / "results.json"
    started = time.monotonic()
    try:
        payload = grade_submission(root, started)
    except Exception:
        print(traceback.format_exc(), file=sys.stderr)
        payload = results.failure(
            "The autograder itself failed on this submission; the course staff "
            "has the details. Your score is not final.",
            time.monotonic() - started,
        )
    atomic.write_text(target, json.dumps(payload, indent=2))
    print(payload["output"])
    return 0


def grade_submission(root: Path, started: float) -> dict[str, Any]:
    submission, source = root / "submission", root / "source"
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="hw4-gradescope-") as scratch:
        handin = Handin("submission", (), submission, tree(submission))
        staged = stage.stage(handin, Path(scratch) / "submission")
        if staged.module is None:
            return results.failure(
                f"Nothing to grade: {staged.problem}.", time.monotonic() - started
            )
        settings = work.Settings(
            rubric=str(source / config["rubric"]),
            data=str(source / config["data"]) if config.get("data") else None,
            quick=bool(config["quick"]),
            train_seconds=float(config["train_seconds"]),
            call_seconds=float(config["call_seconds"]),
            memory_bytes=int(config["memory_bytes"]),
            hide=(str(source), str(root / "results")),
        )
        outcome = work.grade_one(
            work.job("submission", staged.module, submission, staged.weights, settings)
        )
    seconds = time.monotonic() - started
    if "error" in outcome:
        print(outcome["error"], file=sys.stderr)
        return results.failure(
            f"The submission could not be graded: {outcome['error'].splitlines()[0]}",
            seconds,
        )
    return results.from_result(
        outcome["result"],
        outcome["weights"],
        seconds,
        config.get("instructor_only", ()),
    )


if __name__ == "__main__":
    sys.exit(main())
