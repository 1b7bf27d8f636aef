"""Hand-ins built from the model solution, for grading end to end.

A hand-in here is a folder holding one module shaped like a student's: the
reference's 13 layer functions (with the imports, constants and helpers they
use, read from its source text) where a *variant* replaces some of them with
another correct style or with one planted mistake. The trainers are
placeholders: these hand-ins are graded with `--quick`, which never calls them.

Variants that touch different functions are packed into one hand-in, so that
a whole family of mistakes is graded in a few runs of the grader; each variant
still states the verdict it expects on each function it touches, and every
other function of its hand-in must pass with no mistake named.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import reference.cnn
from grader.homework.spec import FUNCTIONS
from grader.homework.spec import TRAINERS as SPEC_TRAINERS

REPO = Path(__file__).resolve().parents[1]
LAYERS = tuple(f.name for f in FUNCTIONS)
TRAINERS = tuple(t.name for t in SPEC_TRAINERS)
# The forward function each gradient-checked function is differentiated
# through: the grader's finite differences run on the hand-in's own forward.
FORWARD_OF = {
    "fc_backward": "fc",
    "loss_euclidean": "loss_euclidean",
    "loss_cross_entropy_softmax": "loss_cross_entropy_softmax",
    "relu_backward": "relu",
    "conv_backward": "conv",
    "pool2x2_backward": "pool2x2",
    "flattening_backward": "flattening",
}
GRADE_SECONDS = 120.0
# Gradings run at once: each is a grader and its sandboxed child taking turns,
# so one grading leaves a core partly idle.
WORKERS = min(8, 2 * (os.cpu_count() or 1))

# Defined, so `--quick` reports them skipped rather than missing, and never run.
PLACEHOLDER_TRAINERS = "".join(
    f"\n\ndef {name}(mini_batch_x, mini_batch_y):\n"
    '    raise NotImplementedError("not trained in these tests")\n'
    for name in TRAINERS
)


# -- the reference's layer functions, as source text ----------------------


def _bound(node: ast.stmt) -> set[str]:
    """Top-level names a statement binds."""
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _used(node: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def layer_parts(text: str) -> dict[str, str]:
    """The statements the 13 layer functions need, keyed by what they bind.

    Starting from the layer functions, every top-level import, constant and
    helper whose name they use is kept, transitively, in file order; the
    trainers and whatever only they use are left out.
    """
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    statements = [(node, _bound(node)) for node in tree.body]
    needed = set(LAYERS)
    kept: set[int] = set()
    grew = True
    while grew:
        grew = False
        for index, (node, names) in enumerate(statements):
            if index not in kept and names & needed:
                kept.add(index)
                needed |= _used(node)
                grew = True
    parts = {}
    for index in sorted(kept):
        node, names = statements[index]
        first = min(
            [node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]
        )
        parts[",".join(sorted(names))] = "".join(lines[first - 1 : node.end_lineno])
    missing = set(LAYERS) - set(parts)
    if missing:
        raise LookupError(f"the reference defines no {', '.join(sorted(missing))}")
    return parts


def reference_text() -> str:
    return Path(reference.cnn.__file__).read_text(encoding="utf-8")


def defined_functions(source: str) -> tuple[str, ...]:
    """Names of the top-level functions a variant's source defines."""
    return tuple(
        node.name
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef)
    )


# -- what a variant changes and what it expects ---------------------------


@dataclass(frozen=True)
class Verdict:
    """The grader's expected verdict on one check.

    `mistake`, when given, must be among the mistakes the grader names; a
    pass with no `mistake` must name none. `note` must appear in a note.
    `gradient`, when given, is the status of the finite-difference check on
    the hand-in's own forward (pass | fail | unavailable).
    """

    status: str
    mistake: str = ""
    note: str = ""
    gradient: str = ""


PASS = Verdict("pass")
CLEAN_GRADIENT = Verdict("pass", gradient="pass")


@dataclass(frozen=True)
class Variant:
    """One kind of hand-in: another style, or one planted mistake.

    `source` holds the functions that replace the reference's (helpers it
    defines are added); `removes` names layer functions left out. Module-level
    changes (header, footer, file name, encoding, line ends, extra files)
    make a variant a hand-in of its own. `verdict` is expected on every layer
    function it touches, and on all 17 checks when `every_check`; a
    module-level variant that passes expects every layer function to pass.
    """

    kind: str
    verdict: Verdict
    source: str = ""
    removes: tuple[str, ...] = ()
    header: str = ""
    footer: str = ""
    module_name: str = "cnn.py"
    encoding: str = "utf-8"
    newline: str = "\n"
    extra_files: Mapping[str, str] = field(default_factory=dict)
    every_check: bool = False

    @cached_property
    def code(self) -> str:
        return textwrap.dedent(self.source).strip()

    @cached_property
    def replaces(self) -> tuple[str, ...]:
        return tuple(n for n in defined_functions(self.code) if n in LAYERS)

    @cached_property
    def touches(self) -> frozenset[str]:
        """Every module-level function name this variant defines or removes."""
        return frozenset(defined_functions(self.code)) | frozenset(self.removes)

    @cached_property
    def breaks(self) -> frozenset[str]:
        """Functions it replaces or removes that do not pass."""
        return frozenset(n for n, v in self.expected().items() if v.status != "pass")

    @cached_property
    def needs(self) -> frozenset[str]:
        """Forward functions its gradient verdicts assume right (not its own)."""
        return (
            frozenset(
                FORWARD_OF[name]
                for name, verdict in self.expected().items()
                if verdict.gradient and name in FORWARD_OF
            )
            - self.touches
        )

    def clashes(self, other: Variant) -> bool:
        """Whether the two cannot share a hand-in."""
        return bool(
            self.touches & other.touches
            or self.breaks & other.needs
            or other.breaks & self.needs
        )

    @cached_property
    def module_level(self) -> bool:
        """Changes more than functions (or nothing at all): graded alone."""
        return bool(
            self.header
            or self.footer
            or self.extra_files
            or self.every_check
            or self.module_name != "cnn.py"
            or self.encoding != "utf-8"
            or self.newline != "\n"
            or not self.touches
        )

    def expected(self) -> dict[str, Verdict]:
        """The verdict on each check this variant decides."""
        if self.every_check:
            return {name: self.verdict for name in LAYERS + TRAINERS}
        if self.module_level and self.verdict == PASS:
            decided = {n: CLEAN_GRADIENT if n in FORWARD_OF else PASS for n in LAYERS}
        else:
            decided = {}
        for name in self.replaces + self.removes:
            checked = name in FORWARD_OF
            decided[name] = (
                self.verdict if checked else replace(self.verdict, gradient="")
            )
        return decided


@dataclass(frozen=True)
class HandIn:
    """A module built from the reference and the variants packed into it."""

    name: str
    variants: tuple[Variant, ...]

    def expected(self) -> dict[str, Verdict]:
        """Every layer function's verdict: a variant's, else a clean pass
        (with a passing gradient check when its forward passes too)."""
        decided = {}
        for variant in self.variants:
            decided.update(variant.expected())
        for name in LAYERS:
            if name not in decided:
                forward = decided.get(FORWARD_OF.get(name, ""), PASS)
                clean = name in FORWARD_OF and forward.status == "pass"
                decided[name] = CLEAN_GRADIENT if clean else PASS
        return decided

    def untouched(self) -> tuple[str, ...]:
        """Layer functions none of its variants decides."""
        decided = {n for v in self.variants for n in v.expected()}
        return tuple(n for n in LAYERS if n not in decided)

    def source(self, reference_source: str) -> str:
        parts = layer_parts(reference_source)
        for variant in self.variants:
            for name in variant.replaces + variant.removes:
                del parts[name]
        module_level = next((v for v in self.variants if v.module_level), None)
        pieces = []
        if module_level and module_level.header:
            pieces.append(textwrap.dedent(module_level.header).strip())
        pieces += [part.strip() for part in parts.values()]
        pieces += [v.code for v in self.variants if v.code]
        if module_level and module_level.footer:
            pieces.append(textwrap.dedent(module_level.footer).strip())
        return "\n\n\n".join(pieces) + PLACEHOLDER_TRAINERS + "\n"

    def write(self, folder: Path, reference_source: str) -> Path:
        """Write the hand-in into folder/<name>/ and return that folder.

        File name, encoding, line ends and extra files come from its
        module-level variant, which is alone in its hand-in (see pack).
        """
        home = folder / self.name
        home.mkdir(parents=True)
        layout = self.variants[0]
        text = self.source(reference_source).replace("\n", layout.newline)
        (home / layout.module_name).write_bytes(text.encode(layout.encoding))
        for name, content in layout.extra_files.items():
            (home / name).write_text(textwrap.dedent(content), encoding="utf-8")
        return home


def pack(variants: Sequence[Variant]) -> list[HandIn]:
    """Hand-ins for all variants: module-level ones alone, the others packed
    first-fit into hand-ins where no two clash (see Variant.clashes)."""
    kinds = [v.kind for v in variants]
    duplicated = sorted({k for k in kinds if kinds.count(k) > 1})
    if duplicated:
        raise ValueError(f"variant kinds used twice: {', '.join(duplicated)}")
    alone = [HandIn(v.kind, (v,)) for v in variants if v.module_level]
    rest = [v for v in variants if not v.module_level]
    # The most constrained first: fewer hand-ins than in the given order.
    clashes = {v.kind: sum(v.clashes(w) for w in rest if w is not v) for v in rest}
    bins: list[list[Variant]] = []
    for variant in sorted(rest, key=lambda v: -clashes[v.kind]):
        home = next((b for b in bins if not any(variant.clashes(v) for v in b)), None)
        if home is None:
            bins.append([variant])
        else:
            home.append(variant)
    packed = [HandIn(f"packed-{i:02d}", tuple(b)) for i, b in enumerate(bins, 1)]
    return alone + packed


def home_of(variant: Variant, handins: Iterable[HandIn]) -> HandIn:
    """The hand-in a variant was packed into."""
    return next(h for h in handins if any(v.kind == variant.kind for v in h.variants))


# -- grading, as a user runs it ---------------------------------------------


@dataclass(frozen=True)
class Graded:
    """What `grade FOLDER --quick --json FILE` produced for one hand-in."""

    handin: HandIn
    folder: Path
    returncode: int
    result: dict[str, Any] | None
    output: str
    seconds: float

    def check(self, name: str) -> dict[str, Any]:
        if self.result is None:
            raise AssertionError(
                f"{self.handin.name}: no JSON result (exit {self.returncode}):\n"
                f"{self.output[-2000:]}"
            )
        checks = {c["name"]: c for c in self.result["checks"]}
        if name not in checks:
            raise AssertionError(f"{self.handin.name}: no check named {name}")
        return checks[name]


def grade(handin: HandIn, root: Path, reference_source: str) -> Graded:
    """Build one hand-in under root and grade it with the CLI, in a subprocess."""
    folder = handin.write(root / "handins", reference_source)
    json_file = root / "results" / f"{handin.name}.json"
    command = [
        sys.executable,
        "-m",
        "grader",
        str(folder),
        "--quick",
        "--json",
        str(json_file),
        "--out",
        str(root / "reports"),
    ]
    started = time.monotonic()
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=GRADE_SECONDS,
        stdin=subprocess.DEVNULL,
    )
    seconds = time.monotonic() - started
    result = json.loads(json_file.read_text()) if json_file.exists() else None
    return Graded(
        handin, folder, proc.returncode, result, proc.stdout + proc.stderr, seconds
    )


def grade_all(handins: Sequence[HandIn], root: Path) -> dict[str, Graded]:
    """Grade every hand-in, WORKERS at a time; results keyed by hand-in name."""
    source = reference_text()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        graded = pool.map(lambda h: grade(h, root, source), handins)
        return {g.handin.name: g for g in graded}


def verdict_problems(check: Mapping[str, Any], want: Verdict) -> list[str]:
    """How one check of the JSON result differs from the expected status,
    mistake and note."""
    problems = []
    mistakes = list(check.get("mistakes", []))
    notes = list(check.get("notes", []))
    if check.get("status") != want.status:
        problems.append(
            f"status {check.get('status')!r}, expected {want.status!r} "
            f"({check.get('message', '')[:300]})"
        )
    if want.mistake and want.mistake not in mistakes:
        problems.append(f"mistakes {mistakes}, expected {want.mistake!r} among them")
    if want.status == "pass" and not want.mistake and mistakes:
        problems.append(f"passes but names mistakes {mistakes}")
    if want.note and not any(want.note in n for n in notes):
        problems.append(f"notes {notes}, expected one mentioning {want.note!r}")
    return problems


def gradient_problems(check: Mapping[str, Any], want: Verdict) -> list[str]:
    """How the finite-difference verdict differs from the expected one."""
    got = check.get("gradient_check")
    if not want.gradient or got == want.gradient:
        return []
    message = check.get("gradient_message", "")
    return [f"gradient check {got!r} ({message}), expected {want.gradient!r}"]
