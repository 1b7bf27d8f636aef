"""How long a student's self-check takes: `grade FOLDER --quick`, whole process.

Runs the command several times on a correct hand-in (the reference solution,
copied alone into a temporary folder, or a folder you name) and prints the
median, minimum and maximum wall time, start-up included. The goal is 2 s on
a 2-core machine.

    python benchmarks/self_check.py [--runs 7] [FOLDER ...]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def time_runs(folder: Path, runs: int, out: Path) -> list[float]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "grader", str(folder), "--quick", "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folders = list(args.folders)
        if not folders:
            correct = Path(tmp) / "correct"
            correct.mkdir()
            shutil.copy(ROOT / "reference" / "cnn.py", correct / "cnn.py")
            folders = [correct, ROOT / "submission"]
        print(f"{'hand-in':24s} {'median s':>9s} {'min s':>7s} {'max s':>7s}  runs")
        for folder in folders:
            seconds = time_runs(folder, args.runs, Path(tmp) / "reports")
            print(
                f"{folder.name:24s} {statistics.median(seconds):9.2f} "
                f"{min(seconds):7.2f} {max(seconds):7.2f}  {len(seconds)}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
