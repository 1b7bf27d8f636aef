"""Grade a generated class with 1 worker and with all cores; print the speed-up
and the grader's own overhead per hand-in beyond the student's code.

Usage: python benchmarks/batch.py [--n 16] [--jobs N] [--repeat 3]
                                  [--train-seconds S] [--data DIR] [--keep]

The class is made from the reference solution with training shortened (600
iterations instead of 3000 for every trainer: enough to beat every target on
the embedded digits), in four kinds, one in turn: correct; broken (row-major
flattening and a relu_backward gated by dl_dy: functions fail, trainers still
train); correct but slow (train_cnn at the full 3000 iterations); and broken
again. Each run grades the whole class (`grade DIR --jobs J`, training on,
the embedded digits unless --data) into a fresh reports folder, so nothing
comes from the cache. Runs with 1 and with J workers alternate, `--repeat`
times each, and the fastest of each counts: other work on a shared machine
only ever slows a run down.

Figures:
- wall time of each run and the speed-up, 1 worker against J;
- the student's code per hand-in: what the course driver runs, timed in a
  plain process without the grader: get_mini_batch, the four trainers, and
  the test set classified with the hand-in's own forward functions (the
  trainers' seconds as the sandbox measured them are shown too);
- the overhead per hand-in: the 1-worker wall time per hand-in minus the
  student's code. It holds the grading itself (the unit and gradient checks,
  with their calls into the student's functions, and the reference forward
  pass on the test set) and its machinery (sandboxes, reports, cache,
  workers).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHORT = '"n_iters": 600,'
BROKEN = (
    ('y = np.reshape(x, (-1, 1), order="F")', 'y = np.reshape(x, (-1, 1), order="C")'),
    (
        "dl_dx = np.reshape(dl_dy, np.shape(x)) * (x > 0)",
        "dl_dx = np.reshape(dl_dy, np.shape(x)) * (np.reshape(dl_dy, np.shape(x)) > 0)",
    ),
)


def handin(kind: str) -> str:
    """The reference module, shortened, with the kind's changes."""
    text = (REPO / "reference" / "cnn.py").read_text()
    for line in text.splitlines():
        if line.startswith("_HYPER_") and (kind != "slow" or "_CNN" not in line):
            text = text.replace(line, line.replace('"n_iters": 3000,', SHORT))
    if kind == "broken":
        for old, new in BROKEN:
            assert old in text, f"the reference changed: {old!r}"
            text = text.replace(old, new)
    return text


def build(root: Path, count: int) -> dict[str, str]:
    kinds = ("correct", "broken", "slow", "broken")
    made = {}
    for index in range(count):
        kind = kinds[index % len(kinds)]
        folder = root / f"student{index:03d}"
        folder.mkdir(parents=True)
        (folder / "cnn.py").write_text(handin(kind))
        made[folder.name] = kind
    return made


def run(
    root: Path, out: Path, jobs: int, args: argparse.Namespace
) -> tuple[float, dict]:
    """Grade the class into a fresh `out`: (wall seconds, the class JSON)."""
    shutil.rmtree(out, ignore_errors=True)
    report = out.with_suffix(".json")
    command = [sys.executable, "-m", "grader", str(root), "--jobs", str(jobs)]
    command += ["--out", str(out), "--json", str(report)]
    command += ["--train-seconds", str(args.train_seconds)]
    if args.data:
        command += ["--data", str(args.data)]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"grade failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds, json.loads(report.read_text())


def trainer_seconds(entry: dict) -> float:
    return sum(c["seconds"] or 0.0 for c in entry["checks"] if c["kind"] == "training")


# What the course driver does with a hand-in, timed with nothing else around.
DRIVER = """
import importlib.util, sys, time
from pathlib import Path
import numpy as np
from grader.discover import load_data, load_embedded
from grader.homework.spec import TRAINERS
spec = importlib.util.spec_from_file_location("cnn", sys.argv[1])
cnn = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cnn)
data = load_data(Path(sys.argv[2]), Path(sys.argv[2])) if sys.argv[2] \\
    else load_embedded()
started = time.perf_counter()
np.random.seed(0)
batches = cnn.get_mini_batch(data.im_train, data.label_train, 32)
for trainer in TRAINERS:
    np.random.seed(0)
    weights = getattr(cnn, trainer.name)(*batches)
    for k in range(data.im_test.shape[1]):
        x = data.im_test[:, k].reshape(trainer.image_shape, order=trainer.image_order)
        prev = x
        for fn, arg_specs in trainer.steps:
            args = [x if a == "x" else prev if a == "prev" else weights[a]
                    for a in arg_specs]
            prev = getattr(cnn, fn)(*args)
print(time.perf_counter() - started)
"""


def driver_seconds(module: Path, data: Path | None) -> float:
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(module), str(data or "")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="hand-ins (default 16)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (min)")
    parser.add_argument("--train-seconds", type=float, default=60.0)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the class folder")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="hw4-batch-bench-"))
    walls: dict[int, list[float]] = {1: [], args.jobs: []}
    try:
        kinds = build(folder / "class", args.n)
        load = os.getloadavg()[0]
        # alternate the two, keep the fastest of each: other work on the
        # machine only ever slows a run down
        for _ in range(args.repeat):
            for jobs in walls:
                wall, result = run(folder / "class", folder / "out", jobs, args)
                walls[jobs].append(wall)
        examples = {kind: name for name, kind in sorted(kinds.items())}
        driver = {
            kind: min(
                driver_seconds(folder / "class" / name / "cnn.py", args.data)
                for _ in range(args.repeat)
            )
            for kind, name in examples.items()
        }
        load_after = os.getloadavg()[0]
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    entries = result["submissions"]
    count = len(entries)
    student = sum(driver[kinds[e["student"]]] for e in entries) / count
    trained = sum(trainer_seconds(e) for e in entries) / count
    one, many = min(walls[1]), min(walls[args.jobs])
    print(
        f"class: {count} hand-ins ({', '.join(sorted(set(kinds.values())))}),"
        f" training 600 iterations (slow: train_cnn 3000), data: "
        f"{args.data or 'embedded digits'}; {os.cpu_count()} cores, "
        f"load average before {load:.1f}, after {load_after:.1f}; fastest of "
        f"{args.repeat} runs each"
    )
    for jobs, wall in ((1, one), (args.jobs, many)):
        print(
            f"{jobs:2d} worker(s): {wall:6.1f} s wall ({wall / count:.2f} s per "
            f"hand-in; all runs: {', '.join(f'{w:.1f}' for w in walls[jobs])})"
        )
    print(f"speed-up: {one / many:.2f}x")
    print(
        f"student's code per hand-in (the driver's work alone): {student:.2f} s"
        f" (trainers as the sandbox timed them: {trained:.2f} s)"
    )
    print(
        f"grader's overhead per hand-in (1 worker, wall - student's code): "
        f"{one / count - student:.2f} s"
    )
    by_kind: dict[str, list[dict]] = {}
    for entry in entries:
        by_kind.setdefault(kinds[entry["student"]], []).append(entry)
    for kind, group in sorted(by_kind.items()):
        score = sum(e["score"] for e in group) / len(group)
        seconds = sum(e["seconds"] for e in group) / len(group)
        print(
            f"  {kind:8s} {len(group):3d} hand-ins: mean score {score:5.1f}, "
            f"graded in {seconds:.2f} s, student's code {driver[kind]:.2f} s"
        )


if __name__ == "__main__":
    main()
