"""Recognising a class without grading it: layouts, LMS names, zips, staging."""

from __future__ import annotations

import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.batch import gradescope_export, layouts, lms, stage, unzip

ROOT = Path(__file__).resolve().parents[1]
MODULE = "def fc(x, w, b):\n    return w @ x + b\n\n\ndef relu(x):\n    return x\n"


@pytest.mark.parametrize(
    ("name", "lms_name", "student_id", "student", "original", "again"),
    [
        ("doejane_12345_67890_cnn.py", "canvas", "12345", "doejane", "cnn.py", 0),
        (
            "doejane_late_12345_67890_cnn-2.py",
            "canvas",
            "12345",
            "doejane",
            "cnn.py",
            2,
        ),
        (
            "doejane_12345_67890_my_cnn (1).py",
            "canvas",
            "12345",
            "doejane",
            "my_cnn.py",
            1,
        ),
        ("doejane_12345_67890_hw4.zip", "canvas", "12345", "doejane", "hw4.zip", 0),
        (
            "HW4_jdoe_attempt_2024-03-01-23-59-00_cnn.py",
            "blackboard",
            "jdoe",
            "",
            "cnn.py",
            0,
        ),
        (
            "12-345 - Jane Doe - Mar 1, 2024 1159 PM - cnn.py",
            "brightspace",
            "345",
            "Jane Doe",
            "cnn.py",
            0,
        ),
    ],
)
def test_lms_file_names(
    name: str, lms_name: str, student_id: str, student: str, original: str, again: int
) -> None:
    parsed = lms.parse(Path(name))
    assert parsed is not None
    assert (parsed.lms, parsed.student_id, parsed.name) == (
        lms_name,
        student_id,
        student,
    )
    assert (parsed.original, parsed.again) == (original, again)


@pytest.mark.parametrize("name", ["cnn.py", "notes_final.txt", "hw4.zip", "a_b_c.py"])
def test_names_of_no_lms(name: str) -> None:
    assert lms.parse(Path(name)) is None


def test_latest_upload_and_attempt_win() -> None:
    files = [
        lms.parse(Path(n))
        for n in (
            "HW4_jdoe_attempt_2024-03-01-10-00-00_cnn.py",
            "HW4_jdoe_attempt_2024-03-02-10-00-00_cnn.py",
            "HW4_jdoe_attempt_2024-03-02-10-00-00_utils.py",
        )
    ]
    chosen = lms.latest([f for f in files if f])
    assert [f.path.name for f in chosen] == [
        "HW4_jdoe_attempt_2024-03-02-10-00-00_cnn.py",
        "HW4_jdoe_attempt_2024-03-02-10-00-00_utils.py",
    ]
    canvas = [lms.parse(Path(f"a_1_2_cnn{s}.py")) for s in ("", "-1", "-2")]
    assert [f.path.name for f in lms.latest([f for f in canvas if f])] == [
        "a_1_2_cnn-2.py"
    ]


def test_a_folder_with_a_module_is_one_handin(tmp_path: Path) -> None:
    (tmp_path / "hw4.py").write_text(MODULE)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "cnn.py").write_text(MODULE)
    assert layouts.recognise(tmp_path) is None
    assert layouts.recognise(ROOT / "submission") is None
    assert layouts.recognise(ROOT / "reference") is None


def test_a_folder_without_code_is_not_a_class(tmp_path: Path) -> None:
    (tmp_path / "notes.py").write_text("print('hello')\n")
    (tmp_path / "empty").mkdir()
    assert layouts.recognise(tmp_path) is None


def test_flat_export_with_one_module_per_student(tmp_path: Path) -> None:
    for name in ("doe_1_10_cnn.py", "roe_2_20_hw.py", "roe_2_20_utils.py"):
        (tmp_path / name).write_text(MODULE)
    (tmp_path / "grades.csv").write_text("x\n")
    roster = layouts.recognise(tmp_path)
    assert roster is not None and roster.layout == "lms"
    assert [h.student for h in roster.handins] == ["doe_1", "roe_2"]
    assert [n for n, _ in roster.handins[1].files] == ["hw.py", "utils.py"]
    assert roster.ignored == ("grades.csv",)


def test_folders_skip_links_hidden_files_and_the_reports(tmp_path: Path) -> None:
    (tmp_path / "alice" / ".git").mkdir(parents=True)
    (tmp_path / "alice" / "cnn.py").write_text(MODULE)
    (tmp_path / "alice" / ".git" / "x.py").write_text(MODULE)
    (tmp_path / "alice" / "secret.py").symlink_to("/etc/hostname")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "report.pdf").write_bytes(b"%PDF")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "cnn.py").write_text(MODULE)
    roster = layouts.recognise(tmp_path, exclude=(tmp_path / "reports",))
    assert roster is not None and roster.layout == "folders"
    assert [h.student for h in roster.handins] == ["alice", "bob"]
    assert [n for n, _ in roster.handins[0].files] == ["cnn.py"]
    assert roster.handins[1].files == ()


def test_gradescope_metadata(tmp_path: Path) -> None:
    metadata = tmp_path / "submission_metadata.yml"
    metadata.write_text(
        "submission_1:\n"
        "  :submitters:\n"
        "  - :name: 'O''Brien, Pat'\n"
        "    :sid: '042'\n"
        "    :email: pat@example.edu\n"
        '  - :name: "Lee \\u00e9"\n'
        "    :sid: ''\n"
        "    :email: lee@example.edu\n"
        "  :created_at: 2024-03-01 23:59:00.000000000 -08:00\n"
        "  :results:\n"
        "    :tests:\n"
        "    - :name: fc  # not a submitter\n"
        "submission_2:\n"
        "  :submitters:\n"
        "  - :name: Sam  # a comment\n"
    )
    found = gradescope_export.read_metadata(metadata)
    assert found["submission_1"] == (
        gradescope_export.Submitter("O'Brien, Pat", "042", "pat@example.edu"),
        gradescope_export.Submitter("Lee é", "", "lee@example.edu"),
    )
    assert found["submission_2"] == (gradescope_export.Submitter("Sam"),)
    for name in ("submission_1", "submission_2", "submission_3"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "cnn.py").write_text(MODULE)
    roster = layouts.recognise(tmp_path)
    assert roster is not None and roster.layout == "gradescope"
    assert [h.student for h in roster.handins] == ["042", "Sam", "submission_3"]
    assert [p.student_id for p in roster.handins[0].people] == [
        "042",
        "lee@example.edu",
    ]


def _zip(path: Path, members: dict[str, bytes], links: tuple[str, ...] = ()) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")


def test_unzip_refuses_what_escapes_or_is_not_needed(tmp_path: Path) -> None:
    archive = tmp_path / "hw.zip"
    _zip(
        archive,
        {
            "hw4/cnn.py": MODULE.encode(),
            "hw4/cnn.mat": b"MATLAB",
            "hw4/mnist_train.mat": b"data",
            "../evil.py": b"x",
            "/abs.py": b"x",
            "C:/win.py": b"x",
            "hw4\\back.py": b"y",
        },
        links=("hw4/link.py",),
    )
    dest = tmp_path / "out"
    written, notes = unzip.extract(
        archive, dest, lambda p: layouts.wanted(p.as_posix())
    )
    assert sorted(p.relative_to(dest).as_posix() for p in written) == [
        "hw4/back.py",
        "hw4/cnn.mat",
        "hw4/cnn.py",
    ]
    assert not (tmp_path / "evil.py").exists()
    assert sum("unsafe path" in n for n in notes) == 3
    assert any("link" in n for n in notes)


def test_unzip_stops_at_what_a_member_inflates_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unzip, "MAX_FILE_BYTES", 1000)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("big.py", b"#" * 100_000)
    written, notes = unzip.extract(archive, tmp_path / "out", lambda p: True)
    assert written == [] and "larger than" in notes[0]
    (tmp_path / "broken.zip").write_bytes(b"PK\3\4 not really")
    _, notes = unzip.extract(tmp_path / "broken.zip", tmp_path / "out", lambda p: True)
    assert "not a readable zip file" in notes[0]


def test_staging_finds_the_module_by_its_functions(tmp_path: Path) -> None:
    handin = tmp_path / "alice"
    (handin / "old").mkdir(parents=True)
    (handin / "main_functions.py").write_text("import cnn\n\ndef main():\n    pass\n")
    (handin / "my homework.py").write_text(
        MODULE + "\ndef conv(x, w, b):\n    return x\n"
    )
    (handin / "old" / "cnn.py").write_text(MODULE)
    (handin / "mnist_test.mat").write_bytes(b"not graded data")
    (handin / "cnn.mat").write_bytes(b"weights")
    _zip(handin / "later.zip", {"later/slp.mat": b"w", "later/x.zip": b"PK"})
    roster = layouts.recognise(tmp_path)
    assert roster is not None
    staged = stage.stage(roster.handins[0], tmp_path / "staged")
    assert staged.module == tmp_path / "staged" / "my homework.py"
    assert [n for n, _ in staged.weights] == ["cnn.mat", "slp.mat"]
    names = sorted(p.relative_to(staged.folder).as_posix() for p in staged.files)
    assert names == [
        "cnn.mat",
        "later/slp.mat",
        "main_functions.py",
        "my homework.py",
        "old/cnn.py",
    ]


def test_staging_without_a_module_says_why(tmp_path: Path) -> None:
    handin = layouts.Handin("bob", (), tmp_path, ())
    assert "no Python or zip file" in stage.stage(handin, tmp_path / "s").problem
    (tmp_path / "notes.py").write_text("x = 1\n")
    handin = layouts.Handin("bob", (), tmp_path, layouts.tree(tmp_path))
    assert (
        "defines any of the homework's functions"
        in stage.stage(handin, tmp_path / "s2").problem
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jobs", "0"], "must be greater than 0"),
        (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler is for --executor dask"),
        (["--data", "/"], "has no mnist_train.mat"),
        (["--rubric", "/nonexistent.toml"], "cannot read it"),
        (["--only", "fc"], "--only re-checks part of one hand-in"),
    ],
)
def test_class_usage_errors_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    for student in ("a", "b"):
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "cnn.py").write_text(MODULE)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            str(tmp_path / "class"),
            "--quick",
            "--out",
            str(tmp_path / "out"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out" / "gradebook.csv").exists()
