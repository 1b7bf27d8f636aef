"""A class graded on a dask.distributed cluster (a local one: worker
processes on 127.0.0.1) gets the same verdicts as with local workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from classes import CRASH, OPTIONS, case_source, grade

pytest.importorskip(
    "distributed",
    reason="dask.distributed is not installed: pip install -e '.[dask]'",
)

CASES = ("correct-vectorised", "flatten-row-major", CRASH, "unfinished")


def test_dask_executor_matches_local_workers(shared_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "class"
    for case in CASES:
        (root / case).mkdir(parents=True)
        (root / case / "cnn.py").write_bytes(case_source(shared_dir, case))
    found = {}
    for executor in ("dask", "local"):
        report = tmp_path / f"{executor}.json"
        run = grade(
            root,
            *OPTIONS,
            "--executor",
            executor,
            "--jobs",
            "2",
            "--out",
            tmp_path / executor,
            "--json",
            report,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        found[executor] = {
            s["student"]: (s["score"], [c["status"] for c in s["checks"]])
            for s in json.loads(report.read_text())["submissions"]
        }
    assert found["dask"] == found["local"]
    assert set(found["dask"]) == set(CASES)
    assert (tmp_path / "dask" / CRASH / "index.html").is_file()


def test_bad_scheduler_address_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "class" / "a").mkdir(parents=True)
    (tmp_path / "class" / "a" / "cnn.py").write_text("def fc(x, w, b):\n    pass\n")
    run = grade(
        tmp_path / "class",
        "--quick",
        "--executor",
        "dask",
        "--scheduler",
        "nonsense://127.0.0.1:9",
        "--out",
        tmp_path / "r",
        timeout=120,
    )
    assert run.returncode == 2
    assert "--scheduler nonsense://127.0.0.1:9: cannot connect" in run.stderr
    assert "unknown address scheme" in run.stderr
    assert "Traceback" not in run.stderr
