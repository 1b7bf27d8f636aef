"""The HTML report: what it shows, in what order, and that student text stays data.

Results are built by hand (no sandbox), except the last tests, which run the
`grade` command on an acceptance case as a user would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader import report
from grader.compare import Mismatch, OutputCheck
from grader.result import CaseResult, CheckResult, GradeResult, GradientCheck, Training

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CASES = SHARED / "cases"
ATTACK = "<script>alert(1)</script>"
HINT = "Do not rotate the kernel: the layer is a cross-correlation."


def _passing(
    name: str, points: float = 4.0, notes: tuple[str, ...] = ()
) -> CheckResult:
    return CheckResult(
        name,
        "function",
        "pass",
        "all 3 cases pass",
        notes=notes,
        score=points,
        max_score=points,
        cases_passed=3,
    )


def _failing_conv(text: str = "") -> CheckResult:
    """conv with a flipped kernel: one failing case with full evidence."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 4, 1))
    w = rng.normal(size=(3, 3, 1, 2))
    b = np.zeros((2, 1))
    expected = rng.normal(size=(4, 4, 2))
    obtained = expected.copy()
    obtained[0, 0, 0] += 1.5
    mismatch = Mismatch(
        "values",
        "y: 1 of 32 entries differ",
        1,
        32,
        1.5,
        2.25,
        (((0, 0, 0), float(obtained[0, 0, 0]), float(expected[0, 0, 0])),),
    )
    output = OutputCheck(
        "y", False, mismatch=mismatch, obtained=obtained, expected=expected
    )
    case = CaseResult(
        f"x (4, 4, 1) {text}",
        True,
        "fail",
        f"y: 1 of 32 entries differ {text}",
        notes=(f"case note {text}",),
        outputs=(output,),
        inputs=(("x", x), ("w_conv", w), ("b_conv", b)),
    )
    return CheckResult(
        "conv",
        "function",
        "fail",
        f"1 of 1 cases fail {text}",
        ("flipped-kernel",),
        hints=(HINT,),
        notes=(f"check note {text}",),
        max_score=8.0,
        cases=(case,),
    )


def _trainer() -> CheckResult:
    confusion = np.zeros((10, 10), dtype=int)
    np.fill_diagonal(confusion, 20)
    confusion[4, 9] = 10  # a third of the nines are read as fours
    training = Training(
        accuracy=0.57,
        accuracy_own_forward=0.9365,
        target=0.92,
        seconds=84.0,
        limit=600.0,
        batches="own",
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
    )
    message = "test accuracy 57.00% <= target 92%"
    return CheckResult(
        "train_cnn",
        "training",
        "fail",
        message,
        max_score=11.0,
        score=5.5,
        training=training,
    )


def _result(checks: tuple[CheckResult, ...], **fields: Any) -> GradeResult:
    base = GradeResult(
        submission="hand-ins/alice",
        module="hand-ins/alice/cnn.py",
        data="/course/data",
        checks=checks,
        grader_version="0.1.0",
        seconds=3.5,
    )
    return replace(base, **fields)


def test_diagnosis_comes_before_the_evidence() -> None:
    page = report.render(_result((_passing("fc"), _failing_conv())))

    section = page.index('id="check-conv"')
    mistake = page.index("flipped-kernel", section)
    hint = page.index(HINT, section)
    message = page.index("1 of 1 cases fail", section)
    inputs = page.index("Inputs", section)
    table = page.index("First differing entries", section)
    assert section < mistake < hint < message < inputs < table
    assert 'Fix first: <a href="#check-conv">conv</a>' in page
    assert "largest absolute error 1.5, largest relative error 2.25" in page


def test_a_backward_function_shows_its_gradient_check() -> None:
    wrong = GradientCheck(
        "fail", "disagrees with finite differences of your conv", forward="conv"
    )
    check = replace(_failing_conv(), name="conv_backward", gradient=wrong)

    page = report.render(_result((check,)))

    gradient = page.index("disagrees with finite differences of your conv")
    assert page.index(HINT) < gradient < page.index("Evidence")
    assert "does not match even your own conv" in page


def test_a_consistent_backward_points_to_its_failing_forward() -> None:
    right = GradientCheck(
        "pass", "agrees with finite differences of your conv", forward="conv"
    )
    backward = replace(_failing_conv(), name="conv_backward", gradient=right)

    alone = report.render(_result((backward,)))
    after_conv = report.render(_result((_failing_conv(), backward)))

    assert "Fix conv first" not in alone
    assert "Fix conv first" in after_conv


def test_small_arrays_are_shown_whole_and_large_ones_by_their_first_entries() -> None:
    small = report.array_view(np.array([[1.0, -0.5], [2.0, 1e-7]]))
    large = report.array_view(np.arange(100.0).reshape(10, 10))

    assert small["whole"] and small["text"] == "    1   -0.5\n    2  1e-07"
    assert not large["whole"] and large["shape"] == "(10, 10)" and large["size"] == 100
    assert large["text"] == "0, 1, 2, 3, 4, 5, 6, 7, …"


def test_numbers_are_formatted_for_people() -> None:
    assert report.number(3.0) == "3"
    assert report.number(-0.0) == "0"
    assert report.number(1 / 3) == "0.333333"
    assert report.number(float("nan")) == "nan"
    assert report.number(float("-inf")) == "-inf"
    assert report.percent(0.92) == "92%"
    assert report.percent(0.9365) == "93.65%"
    assert report.duration(84.0) == "1 min 24 s"
    assert report.duration(600.0) == "10 min"


def test_student_text_is_escaped_everywhere() -> None:
    result = _result(
        (_passing("fc", notes=(f"layout note {ATTACK}",)), _failing_conv(ATTACK)),
        submission=f"hand-ins/{ATTACK}",
        module=f"hand-ins/{ATTACK}/{ATTACK}.py",
        warnings=(f"{ATTACK}: replaced by a stand-in",),
        output=f"printed {ATTACK}\n" * 3,
        output_bytes=100,
    )

    page = report.render(result)

    assert "<script" not in page.lower()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for shown in (
        f"hand-ins/{escaped}",  # the hand-in's path
        f"{escaped}.py",  # the module's file name
        f"{escaped}: replaced by a stand-in",  # a warning
        f"printed {escaped}",  # captured output
        f"1 of 1 cases fail {escaped}",  # the check's message
        f"check note {escaped}",
        f"layout note {escaped}",  # a note on a passing check
        f"x (4, 4, 1) {escaped}",  # a case label
        f"y: 1 of 32 entries differ {escaped}",  # a case message
        f"case note {escaped}",
    ):
        assert shown in page, shown


def test_the_page_loads_nothing_from_outside() -> None:
    checks = (_passing("fc"), _failing_conv(), _trainer())
    page = report.render(_result(checks, output="see https://example.org"))

    # the student's own output is the only place a URL may appear, escaped
    outside = page.replace("see https://example.org", "")
    for needle in (
        "http://",
        "https://",
        "src=",
        "<link",
        "<script",
        "@import",
        "url(",
    ):
        assert needle not in outside.lower(), needle


def test_a_trainers_confusion_matrix_is_drawn() -> None:
    page = report.render(_result((_passing("fc"), _trainer())))

    table = page[page.index('<table class="confusion">') :]
    table = table[: table.index("</table>")]
    cells = re.findall(r'<td style="([^"]*)">([^<]*)</td>', table)
    assert len(cells) == 100
    assert all(style.startswith("background") for style, _ in cells)
    # column "9" is normalised: 20 of 30 right (67%), 10 read as a four (33%)
    row4 = [text for _, text in cells[40:50]]
    row9 = [text for _, text in cells[90:100]]
    assert row4[9] == "33" and row9[9] == "67" and row4[4] == "100"
    assert "57%" in page and "93.65%" in page and "target above 92%" in page
    assert "from your get_mini_batch" in page and "1 min 24 s (limit 10 min)" in page
    assert "adapted to it" in page  # own forward beats the target, the spec's does not


def test_a_passing_result_renders_without_a_fix_first_line() -> None:
    checks = (
        _passing("fc"),
        _passing("relu", 3.0),
        CheckResult(
            "train_slp",
            "training",
            "skipped",
            "not trained (--quick)",
            max_score=8.0,
            training=Training(target=0.85),
        ),
    )

    page = report.render(_result(checks, quick=True, data="not loaded (--quick)"))

    assert "Fix first" not in page
    assert "Every check that was run passes" in page
    assert "7 / 15 points" in page
    assert "--quick" in page


def test_checks_failing_alike_share_one_section() -> None:
    message = "SyntaxError: expected ':' (cnn.py, line 92)"
    checks = tuple(
        CheckResult(
            name, "function", "error", message, ("syntax-error",), max_score=4.0
        )
        for name in ("fc", "relu", "conv")
    )

    page = report.render(_result(checks, extra={"embedded_data": True}))

    assert page.count(f"<p>{message.replace(chr(39), '&#39;')}</p>") == 1
    assert "fc, relu, conv" in page and "0 / 12 points in all" in page
    assert "embedded default digits" in page


class _Balance(HTMLParser):
    """Tracks open elements; void elements never close."""

    VOID = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1:]}>")
        else:
            self.stack.pop()


def test_the_page_is_well_formed() -> None:
    checks = (_passing("fc", notes=tuple(f"n{i}" for i in range(5))), _failing_conv())
    parser = _Balance()

    parser.feed(report.render(_result((*checks, _trainer()), output="x")))

    assert parser.errors == [] and parser.stack == []


# -- end to end: the `grade` command on an acceptance case ---------------------


def _grade_flipped_kernel(
    tmp_path: Path,
) -> tuple[subprocess.CompletedProcess[str], str]:
    source = CASES / "flipped-kernel" / "cnn.py"
    if not source.is_file():
        pytest.skip(f"the acceptance cases are not here: {source} is missing")
    hand_in = tmp_path / "flipped-kernel"
    hand_in.mkdir()
    shutil.copy(source, hand_in / "cnn.py")
    command = shutil.which("grade")
    argv = [command] if command else [sys.executable, "-m", "grader"]
    out = tmp_path / "reports"
    done = subprocess.run(
        [*argv, str(hand_in), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    page = out / "flipped-kernel" / "index.html"
    assert page.is_file(), done.stderr
    return done, page.read_text(encoding="utf-8")


def test_grade_writes_a_report_naming_the_failing_function(tmp_path: Path) -> None:
    done, page = _grade_flipped_kernel(tmp_path)

    assert done.returncode == 1, done.stderr
    assert 'Fix first: <a href="#check-conv">conv</a>' in page
    section = page.index('id="check-conv"')
    assert page.index("Evidence", section) > section
    assert "<script" not in page.lower()


def test_grade_writes_a_report_naming_the_mistake(tmp_path: Path) -> None:
    _, page = _grade_flipped_kernel(tmp_path)

    expected = tomllib.loads((CASES / "flipped-kernel" / "expected.toml").read_text())
    mistake = expected["functions"]["conv"]["mistake"]

    fix_first = page[
        page.index("Fix first") : page.index("</p>", page.index("Fix first"))
    ]
    assert mistake in fix_first
