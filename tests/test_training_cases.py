"""Training checks on the course data, end to end (marked `training`).

The reference scores full marks with every trainer above its target, and a
few acceptance cases chosen to train quickly get the trainer verdicts (and
mistake names) their expected.toml gives: a correct vectorised hand-in, a
self-consistent row-major flattening, a ReLU backward gated by dl_dy, an
unfinished hand-in whose MLP forgets the ReLU gate, and an unstable softmax
that still trains. `../shared/tools/check-cases --train` runs all of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
CASES = (
    "correct-vectorised",
    "flatten-row-major",
    "relu-backward-sign",
    "unfinished",
    "unstable-softmax",
)
TRAINERS = ("train_slp_linear", "train_slp", "train_mlp", "train_cnn")

pytestmark = [
    pytest.mark.training,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"course data {DATA} is absent"),
]


def graded(folder: Path, out: Path) -> dict[str, dict[str, object]]:
    result = out / "result.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            str(folder),
            "--data",
            str(DATA),
            "--json",
            str(result),
            "--out",
            str(out / "reports"),
        ],
        capture_output=True,
        timeout=1800,
        check=False,
    )
    return {c["name"]: c for c in json.loads(result.read_text())["checks"]}


def test_reference_scores_full_marks(tmp_path: Path) -> None:
    checks = graded(ROOT / "reference", tmp_path)
    assert all(c["status"] == "pass" for c in checks.values()), checks
    assert sum(c["score"] for c in checks.values()) == 100
    for name in TRAINERS:
        assert checks[name]["accuracy"] > checks[name]["target"]
        assert checks[name]["batches"] == "own"


@pytest.fixture(scope="module")
def case_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    if not (SHARED / "cases").is_dir():
        pytest.skip(f"acceptance cases {SHARED / 'cases'} are absent")
    root = tmp_path_factory.mktemp("training-cases")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            case: pool.submit(graded, SHARED / "cases" / case, root / case)
            for case in CASES
        }
        return {case: future.result() for case, future in futures.items()}


@pytest.mark.parametrize("case", CASES)
def test_trainer_verdicts_match_the_case(case: str, case_results: dict) -> None:
    expected = tomllib.loads((SHARED / "cases" / case / "expected.toml").read_text())
    checks = case_results[case]
    for name in TRAINERS:
        want = expected["functions"][name]
        assert checks[name]["status"] == want["status"], (name, checks[name])
        if "mistake" in want:
            assert want["mistake"] in checks[name]["mistakes"], (name, checks[name])
        if want["status"] in ("pass", "fail") and "accuracy" in want:
            assert abs(checks[name]["accuracy"] - want["accuracy"]) < 0.03, name
