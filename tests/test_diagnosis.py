"""Every known mistake, planted in the reference, gets its diagnosis.

The catalogue (grader/homework/mistakes.py) names mistakes by evidence; these
tests plant each one the way students write it (tests/planted.py: our own
code, most in two styles), grade the hand-in as a user does, and assert that
the function gets the mistake with a hint, and that no other function gets
one. The reference and the correct acceptance cases must get no mistake at
all. Trainer-level diagnoses train on the course data (marked `training`).
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import handins
import planted
import pytest
from planted import Graded, Job, Plant

from grader.homework import mistakes as catalogue
from grader.sandbox import isolation
from reference import cnn as reference_cnn

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORRECT_CASES = (
    "correct-loops",
    "correct-vectorised",
    "leaky-relu",
    "api-newer",
    "print-heavy",
    "tkagg-import",
)
# Processes left behind are found by the sandbox's user id, which only a
# grader running as root on Linux can lease.
ISOLATED, NOT_ISOLATED = isolation.available()
NEEDS_ISOLATION = frozenset({"spawns-processes"})
QUICK_PLANTS = [
    p for p in planted.PLANTS if ISOLATED or p.mistake not in NEEDS_ISOLATION
]
HANDINS = planted.packed(QUICK_PLANTS)
TRAINING_SECONDS = 900.0

# Rules no hand-in can produce on its own, with why.
NOT_PLANTED = {
    "trained-with-faulty-layer": (
        "the hint's fallback for a trainer-level mistake without a rule of its "
        "own; never a name in the JSON"
    ),
}

# Mistakes planted in one style only, with why a second would add nothing.
ONE_STYLE = {
    ("memory-hog", ""): (
        "the homework's arrays are tiny: only a deliberate giant allocation "
        "passes the sandbox's limit, and a gradual one would take real memory"
    ),
    ("output-flood", ""): (
        "any flood is the same bytes on the pipe; a second spelling costs "
        "another 128 MiB of printing"
    ),
    ("row-major-flattening", "train_cnn"): "each costs a CNN training",
    ("flipped-kernel", "train_cnn"): "each costs a CNN training",
}

# What the grader gets wrong today, by plant kind -> why: strictly expected
# to fail, so that a fix shows up as an XPASS. `python tests/planted.py KIND
# DIR` writes the hand-in and prints the command that grades it.
BUGS: dict[str, str] = {
    "mlp-missing-relu-gate@train_mlp.vectorised": (
        "the probe sees the missing gate only in per-image fc_backward calls; a "
        "vectorised trainer makes none, so its failure is left unexplained"
    ),
}
# Checks whose JSON lists a mistake twice, by plant kind -> why.
REPEATS: dict[str, str] = {}


def _params(plants: Sequence[Plant], bugs: Mapping[str, str]) -> list[Any]:
    """One pytest param per plant, strictly expected to fail where the grader
    is known to be wrong."""
    unknown = set(bugs) - set(planted.BY_KIND)
    assert not unknown, f"bugs listed for no plant: {sorted(unknown)}"
    params = []
    for p in plants:
        marks = []
        if p.kind in bugs:
            marks.append(pytest.mark.xfail(strict=True, reason=bugs[p.kind]))
        if p.mistake in NEEDS_ISOLATION and not ISOLATED:
            marks.append(pytest.mark.skip(reason=f"no full sandbox: {NOT_ISOLATED}"))
        params.append(pytest.param(p, id=p.kind, marks=marks))
    return params


# -- what a verdict must show --------------------------------------------------


def diagnosis_problems(plants: Iterable[Plant], graded: Graded) -> list[str]:
    """How the checks the plants decide differ from their diagnoses.

    Each must name its mistake, carry a hint with its fields filled in, and
    name nothing else but what its plants allow.
    """
    plants = list(plants)
    wanted: dict[str, set[str]] = {}
    for p in plants:
        for name, mistake in p.diagnoses().items():
            wanted.setdefault(name, set()).add(mistake)
    allowed = set().union(*(p.also for p in plants))
    problems = []
    for name, mistakes in wanted.items():
        check = graded.check(name)
        named = set(check.get("mistakes", []))
        hints = list(check.get("hints", []))
        if not mistakes <= named:
            problems.append(f"{name}: mistakes {sorted(named)}, expected {mistakes}")
        stray = named - mistakes - allowed
        if stray:
            problems.append(f"{name}: also names {sorted(stray)}")
        if not hints or not all(h.strip() for h in hints):
            problems.append(f"{name}: hints {hints}, expected one per mistake")
        unfilled = [h for h in hints if "{" in h]
        if unfilled:
            problems.append(f"{name}: hints with unfilled fields: {unfilled}")
    return problems


def stray_mistakes(
    graded: Graded, decided: Iterable[str], allowed: Mapping[str, set[str]]
) -> list[str]:
    """Checks outside `decided` that name a mistake beyond `allowed`."""
    decided = set(decided)
    problems = []
    for name, check in graded.checks.items():
        named = set(check.get("mistakes", [])) - allowed.get(name, set())
        if name not in decided and named:
            problems.append(f"{name} ({check['status']}): names {sorted(named)}")
    if graded.result is None:
        problems.append(f"no JSON result (exit {graded.returncode})")
    return problems


def _report(graded: Graded, problems: list[str]) -> str:
    return f"{graded.command()}\n" + "\n".join(problems)


# -- the quick part: layer functions, the reference, the correct cases ---------


def _correct_cases() -> list[Path]:
    return [SHARED / "cases" / name for name in CORRECT_CASES]


def _has_cases() -> bool:
    return all((case / "expected.toml").is_file() for case in _correct_cases())


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Graded]:
    """Every packed hand-in, the reference and the correct acceptance cases
    (copied), graded once with --quick, WORKERS at a time."""
    root = tmp_path_factory.mktemp("diagnosis")
    jobs = [Job(h.name, planted.write(h, root / "handins")) for h in HANDINS]
    reference = root / "reference"
    reference.mkdir()
    shutil.copy(Path(reference_cnn.__file__), reference / "cnn.py")
    jobs.append(Job("reference", reference))
    if _has_cases():
        for case in _correct_cases():
            copy = shutil.copytree(case, root / "cases" / case.name)
            jobs.append(Job(f"case-{case.name}", copy))
    return planted.grade_all(jobs, root)


def _home(plant: Plant) -> handins.HandIn:
    return handins.home_of(plant.variant(), HANDINS)


@pytest.mark.parametrize("plant", _params(planted.PLANTS, BUGS))
def test_planted_mistake_is_diagnosed(plant: Plant, graded: dict[str, Graded]) -> None:
    """The planted function names the mistake, with a hint in plain words."""
    result = graded[_home(plant).name]
    problems = diagnosis_problems([plant], result)
    assert not problems, _report(result, problems)


@pytest.mark.parametrize("handin", HANDINS, ids=lambda h: h.name)
def test_no_mistake_beside_the_planted_ones(
    handin: handins.HandIn, graded: dict[str, Graded]
) -> None:
    """Functions no plant of the hand-in touched name no mistake."""
    plants = planted.plants_of(handin)
    decided = {name for p in plants for name in p.diagnoses()}
    problems = stray_mistakes(graded[handin.name], decided, {})
    assert not problems, _report(graded[handin.name], problems)


def test_reference_names_no_mistake(graded: dict[str, Graded]) -> None:
    """The model solution itself: every check passes or is skipped, silently."""
    result = graded["reference"]
    problems = stray_mistakes(result, (), {})
    statuses = {c["status"] for c in result.checks.values()}
    assert statuses <= {"pass", "skipped"}, _report(result, [str(statuses)])
    assert not problems, _report(result, problems)


def _expected_warnings(case: Path) -> dict[str, set[str]]:
    """Mistakes expected.toml names on passing functions (warnings)."""
    expected = tomllib.loads((case / "expected.toml").read_text(encoding="utf-8"))
    return {
        name: {verdict["mistake"]}
        for name, verdict in expected.get("functions", {}).items()
        if verdict.get("status") == "pass" and verdict.get("mistake")
    }


@pytest.mark.parametrize("case", CORRECT_CASES)
def test_correct_case_names_no_mistake(case: str, graded: dict[str, Graded]) -> None:
    """A correct hand-in in another style gets no false diagnosis."""
    if not _has_cases():
        pytest.skip(f"no acceptance cases: {SHARED / 'cases'} is absent")
    folder = SHARED / "cases" / case
    result = graded[f"case-{case}"]
    problems = stray_mistakes(result, (), _expected_warnings(folder))
    assert not problems, _report(result, problems)


# -- completeness: a new catalogue entry or rule needs a new plant ------------------


def _required() -> set[tuple[str, str]]:
    """(mistake, function) pairs some plant must produce; function "" for a
    rule any function may show."""
    pairs = {(m.name, m.function) for m in catalogue.CATALOGUE}
    for key in catalogue.RULES:
        if key in NOT_PLANTED:
            continue
        name, _, function = key.partition("@")
        pairs.add((name, function))
    return pairs


def _styles(pair: tuple[str, str]) -> list[str]:
    """Kinds of the plants whose own mistake is this pair."""
    mistake, function = pair
    return [
        p.kind
        for p in planted.PLANTS + planted.TRAINER_PLANTS
        if p.mistake == mistake and function in ("", p.function)
    ]


def test_every_known_mistake_is_planted() -> None:
    """Each catalogue entry and each rule a hand-in can produce has a plant."""
    missing = sorted(pair for pair in _required() if not _styles(pair))
    assert not missing, f"mistakes with no planted test: {missing}"
    stale = sorted(set(NOT_PLANTED) - set(catalogue.RULES))
    assert not stale, f"NOT_PLANTED names no rule: {stale}"


def test_every_known_mistake_is_planted_in_two_styles() -> None:
    """A second spelling shows the whole kind is caught, unless stated why not."""
    single = {pair for pair in _required() if len(_styles(pair)) < 2}
    unexplained = sorted(single - set(ONE_STYLE))
    assert not unexplained, f"mistakes planted in one style only: {unexplained}"
    stale = sorted(set(ONE_STYLE) - single)
    assert not stale, f"ONE_STYLE lists mistakes with two styles or none: {stale}"


# -- trainers: trained on the course data ----------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Graded]:
    """Every trainer plant, alone in its hand-in, graded with training."""
    if not (planted.DATA / "mnist_train.mat").is_file():
        pytest.skip(f"no course data: {planted.DATA} is absent")
    root = tmp_path_factory.mktemp("trained")
    jobs = [
        Job(
            p.kind,
            planted.write(p, root / "handins"),
            planted.training_flags(p),
            TRAINING_SECONDS,
        )
        for p in planted.TRAINER_PLANTS
    ]
    return planted.grade_all(jobs, root)


@pytest.mark.training
@pytest.mark.parametrize("plant", _params(planted.TRAINER_PLANTS, BUGS))
def test_trainer_mistake_is_diagnosed(plant: Plant, trained: dict[str, Graded]) -> None:
    """The trainer (and the layers it shares the fault with) names the
    mistake; no other check names one."""
    result = trained[plant.kind]
    problems = diagnosis_problems([plant], result)
    problems += stray_mistakes(result, plant.diagnoses(), {})
    assert not problems, _report(result, problems)


def repeated_mistakes(graded: Graded) -> list[str]:
    """Checks whose mistakes list names one mistake more than once."""
    return [
        f"{name}: {check['mistakes']}"
        for name, check in graded.checks.items()
        if len(set(check["mistakes"])) != len(check["mistakes"])
    ]


@pytest.mark.parametrize("handin", HANDINS, ids=lambda h: h.name)
def test_each_mistake_is_named_once(
    handin: handins.HandIn, graded: dict[str, Graded]
) -> None:
    """A mistake list is a set: the report shows each name once."""
    problems = repeated_mistakes(graded[handin.name])
    assert not problems, _report(graded[handin.name], problems)


@pytest.mark.training
@pytest.mark.parametrize("plant", _params(planted.TRAINER_PLANTS, REPEATS))
def test_trainer_names_each_mistake_once(
    plant: Plant, trained: dict[str, Graded]
) -> None:
    """A mistake list is a set, for trainers as for layer functions."""
    problems = repeated_mistakes(trained[plant.kind])
    assert not problems, _report(trained[plant.kind], problems)
