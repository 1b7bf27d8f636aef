"""The Gradescope autograder: the zip `grade package-gradescope` builds, and
its run_autograder tried in a folder laid out like Gradescope's /autograder."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from classes import case_source, grade

from grader.gradescope import results

VISIBLE_TO_ALL = "visible"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("package")
    archive = folder / "autograder.zip"
    run = grade(
        "package-gradescope",
        "--out",
        archive,
        "--quick",
        "--call-seconds",
        "5",
        "--instructor-only",
        "conv_backward",
    )
    assert run.returncode == 0, run.stderr
    assert f"wrote {archive}" in run.stdout
    return archive


def _autograder(tmp_path: Path, archive: Path, files: dict[str, bytes]) -> Path:
    """An /autograder-like folder: source unpacked, the submission's files."""
    root = tmp_path / "autograder"
    for name in ("source", "submission", "results"):
        (root / name).mkdir(parents=True)
    with zipfile.ZipFile(archive) as handle:
        for info in handle.infolist():
            handle.extract(info, root / "source")
            mode = info.external_attr >> 16
            os.chmod(root / "source" / info.filename, stat.S_IMODE(mode))
    for name, content in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_bytes(content)
    return root


def _run_autograder(root: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "AUTOGRADER_PYTHON": sys.executable,
    }
    run = subprocess.run(
        [str(root / "source" / "run_autograder")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    return run, json.loads((root / "results" / "results.json").read_text())


def test_the_zip_holds_what_gradescope_needs(package: Path) -> None:
    with zipfile.ZipFile(package) as handle:
        names = set(handle.namelist())
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in handle.infolist()}
        config = json.loads(handle.read("config.json"))
    for name in (
        "setup.sh",
        "run_autograder",
        "requirements.txt",
        "rubric.toml",
        "grader/grade.py",
        "grader/data/digits14.npz",
        "grader/templates/report.html.j2",
        "grader/sandbox/child.py",
        "reference/cnn.py",
    ):
        assert name in names, name
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert not any("__pycache__" in n for n in names)
    assert config["quick"] is True and config["instructor_only"] == ["conv_backward"]
    assert config["call_seconds"] == 5.0
    if shutil.which("bash"):
        with zipfile.ZipFile(package) as handle:
            for script in ("setup.sh", "run_autograder"):
                check = subprocess.run(
                    ["bash", "-n"], input=handle.read(script), capture_output=True
                )
                assert check.returncode == 0, check.stderr


def test_run_autograder_writes_valid_results(
    package: Path, shared_dir: Path, tmp_path: Path
) -> None:
    code = case_source(shared_dir, "flipped-kernel")
    root = _autograder(
        tmp_path, package, {"hw4/network.py": code, "hw4/cnn.mat": b"not a mat file"}
    )
    single = tmp_path / "single.json"
    (tmp_path / "alone").mkdir()
    (tmp_path / "alone" / "cnn.py").write_bytes(code)
    assert (
        grade(
            tmp_path / "alone",
            "--quick",
            "--call-seconds",
            "5",
            "--json",
            single,
            "--out",
            tmp_path / "reports",
        ).returncode
        == 1
    )

    run, payload = _run_autograder(root)

    assert run.returncode == 0, run.stderr
    assert results.validate(payload) == []
    expected = json.loads(single.read_text())
    tests = {t["name"]: t for t in payload["tests"]}
    for check in expected["checks"]:
        test = tests[check["name"]]
        assert (
            test["score"] == check["score"] and test["max_score"] == check["max_score"]
        )
        assert test["status"] == ("passed" if check["status"] == "pass" else "failed")
    assert payload["score"] == expected["score"]
    assert "flipped-kernel" in tests["conv"]["output"]
    assert tests["conv"]["visibility"] == VISIBLE_TO_ALL
    assert tests["conv_backward"]["visibility"] == results.INSTRUCTOR_ONLY
    weights = tests["submitted weights: cnn.mat"]
    assert weights["visibility"] == results.INSTRUCTOR_ONLY
    assert weights["max_score"] == 0 and weights["status"] == "failed"
    assert isinstance(payload["execution_time"], int)
    # run_autograder grades with the grader packaged in the zip
    which = subprocess.run(
        [sys.executable, "-c", "import grader; print(grader.__file__)"],
        cwd=root / "source",
        capture_output=True,
        text=True,
    )
    assert Path(which.stdout.strip()).is_relative_to(root / "source")


def test_forged_results_are_replaced(
    package: Path, shared_dir: Path, tmp_path: Path
) -> None:
    """hostile-forge writes a results.json with score 1000 into every parent
    of its working folder when imported (inside the sandbox only)."""
    root = _autograder(
        tmp_path,
        package,
        {"cnn.py": (shared_dir / "cases" / "hostile-forge" / "cnn.py").read_bytes()},
    )
    run, payload = _run_autograder(root)
    assert run.returncode == 0, run.stderr
    assert results.validate(payload) == []
    text = (root / "results" / "results.json").read_text()
    assert "FORGED-BY-SUBMISSION" not in text
    assert payload["score"] <= 100


def test_nothing_to_grade_still_writes_results(package: Path, tmp_path: Path) -> None:
    root = _autograder(tmp_path, package, {"report.pdf": b"%PDF-1.4"})
    run, payload = _run_autograder(root)
    assert run.returncode == 0
    assert results.validate(payload) == []
    assert payload["score"] == 0 and payload["tests"] == []
    assert "Nothing to grade: no Python or zip file handed in" in payload["output"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda p: p.pop("execution_time"), "execution_time"),
        (lambda p: p["tests"][0].update(status="ok"), "tests[0].status"),
        (lambda p: p["tests"][0].update(visibility="students"), "tests[0].visibility"),
        (lambda p: p["tests"][0].pop("output"), "tests[0].output"),
        (lambda p: p["tests"][0].update(score=9), "outside 0..3"),
        (lambda p: p.update(score=99), "is not the tests' sum"),
    ],
)
def test_validation_names_what_is_wrong(change: object, problem: str) -> None:
    payload = {
        "score": 3.0,
        "execution_time": 2,
        "output": "",
        "tests": [
            {
                "name": "fc",
                "score": 3.0,
                "max_score": 3.0,
                "status": "passed",
                "output": "",
                "visibility": "visible",
            }
        ],
    }
    assert results.validate(payload) == []
    change(payload)  # type: ignore[operator]
    assert any(problem in p for p in results.validate(payload))


def test_bad_packaging_options_exit_2(tmp_path: Path) -> None:
    run = grade(
        "package-gradescope",
        "--out",
        tmp_path / "a.zip",
        "--instructor-only",
        "softmax",
    )
    assert (
        run.returncode == 2 and "--instructor-only softmax: not a check" in run.stderr
    )
    run = grade("package-gradescope", "--out", tmp_path / "a.zip", "--data", tmp_path)
    assert run.returncode == 2 and "has no mnist_train.mat" in run.stderr
    assert "Traceback" not in run.stderr
