"""Hostile hand-ins: the correct solution plus one attack, graded as a user would.

Each attack is written into a hand-in built from the reference (see
tests/handins.py), graded with the `grade` command in a subprocess, and judged
against the same hand-in without the attack. Hostile code runs only in the
grader's sandbox: nothing here imports or executes a hand-in.

Every hand-in's module has a name of its own (`hostile_<kind>_<token>.py`): it
is in the command line of each of its sandbox's processes, forks included, so
a survivor is found by that name alone, even while other gradings run.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import handins

REPO = handins.REPO
REFERENCE_MODULE = REPO / "reference" / "cnn.py"
FORGED = "FORGED-BY-SUBMISSION"
# Printed by attacks that end normally, so a test can tell that they ran.
RAN = "HOSTILE-ATTACK-RAN"
SANDBOX_UIDS = range(61000, 63000)
ALL_CHECKS = handins.LAYERS + handins.TRAINERS
GRADE_SECONDS = 240.0
# How long a process killed with the grader may take to be gone.
SURVIVOR_GRACE = 5.0
# The most the grader's own process may hold while grading any hand-in: a
# clean grading takes about 60 MiB; no attack here sends an answer the grader
# should accept that is larger than a few MiB.
GRADER_MEMORY = 1 << 30
# First lines of every hand-in, attacked or clean: each sandbox says which
# user it runs as, so the test can look for that user's processes afterwards.
UID_PROBE = """
    import os as _hostile_os
    print("SANDBOX-UID", _hostile_os.getuid(), flush=True)
"""


# -- what an attack is and what it must cost -------------------------------


@dataclass(frozen=True)
class Broken:
    """The verdict a check the attack breaks must get.

    One of `causes` must appear in the check's message or among its mistakes:
    the grader has to say why, not only that, the check failed.
    """

    status: str
    causes: tuple[str, ...]


@dataclass(frozen=True)
class Attack:
    """The correct solution plus one attack, and what the grader must say.

    `header` runs at import before the solution's code, `footer` after it
    (so it can wrap or replace a correct function). Placeholders, filled in
    per run: $OUT (the reports folder), $JSON (the --json file), $HOME (the
    hand-in's own folder), $PORT (a TCP and a UDP port the test listens on),
    $REFERENCE (the reference module's path), $FORGED and $RAN. `breaks`
    names every check whose verdict differs from the clean hand-in's;
    `unchecked_gradients` the backward checks whose finite differences call
    the attacked forward: their status must not change, but their gradient
    verdict may (unavailable, or fail against a forward that lies).
    """

    kind: str
    summary: str
    cause: str
    header: str = ""
    footer: str = ""
    breaks: Mapping[str, Broken] = field(default_factory=dict)
    unchecked_gradients: frozenset[str] = frozenset()
    trained: bool = False
    call_seconds: float | None = None
    memory_mb: int | None = None
    symlinks: Mapping[str, str] = field(default_factory=dict)
    # trainers it defines (with trained): the reference's for the others
    trainers: str = ""
    ran: bool = False  # prints RAN when its attack code completed
    # printed by the attack only when it succeeded: must not be in the report
    success: str = ""


@dataclass(frozen=True)
class Targets:
    """Paths and ports an attack aims at, all created by the test."""

    out: Path
    json: Path
    port: int
    token: str

    def fill(self, text: str, home: Path) -> str:
        return Template(text).safe_substitute(
            OUT=str(self.out),
            JSON=str(self.json),
            HOME=str(home),
            PORT=str(self.port),
            REFERENCE=str(REFERENCE_MODULE),
            TOKEN=self.token,
            FORGED=FORGED,
            RAN=RAN,
        )


# -- building a hand-in ------------------------------------------------------


def code(*pieces: str) -> str:
    """Source pieces, each dedented on its own, one after the other."""
    return "\n\n".join(textwrap.dedent(p).strip() for p in pieces if p) + "\n"


def wrapping(name: str, params: str, attack: str) -> str:
    """Footer code: `name` runs `attack`, then returns the correct answer."""
    body = textwrap.indent(textwrap.dedent(attack).strip(), "    ")
    return (
        f"_correct_{name} = {name}\n\n\n"
        f"def {name}({params}):\n{body}\n"
        f"    return _correct_{name}({params})\n"
    )


def _bound(node: ast.stmt) -> set[str]:
    """Top-level names a function, class, import or assignment binds."""
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    targets = node.targets if isinstance(node, ast.Assign) else []
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def reference_trainers(reference_source: str, left_out: Sequence[str]) -> str:
    """The reference's trainers with the helpers and constants only they use
    (what handins.layer_parts leaves out), minus the trainers in left_out."""
    layer_names = {
        name for key in handins.layer_parts(reference_source) for name in key.split(",")
    }
    lines = reference_source.splitlines(keepends=True)
    parts = []
    for node in ast.parse(reference_source).body:
        names = _bound(node)
        if names and not names & layer_names and not names & set(left_out):
            parts.append("".join(lines[node.lineno - 1 : node.end_lineno]).strip())
    return "\n\n\n".join(parts)


def module_text(
    reference_source: str,
    header: str = "",
    footer: str = "",
    trainers: str | None = None,
) -> str:
    """A hand-in's source: header, the reference's layer functions, footer,
    then the trainers.

    With trainers None, handins' placeholders (for --quick); else the
    reference's trainers with those `trainers` defines put in their place.
    """
    header = code(UID_PROBE, header)
    variant = handins.Variant("module", handins.PASS, header=header, footer=footer)
    text = handins.HandIn("module", (variant,)).source(reference_source)
    if trainers is None:
        return text
    own = code(trainers) if trainers else ""
    real = reference_trainers(reference_source, handins.defined_functions(own))
    body = text[: -len(handins.PLACEHOLDER_TRAINERS) - 1]
    return "\n\n\n".join(p for p in (body, real, own) if p) + "\n"


def build(
    attack: Attack | None,
    root: Path,
    targets: Targets,
    reference_source: str,
    trained: bool = False,
) -> tuple[Path, str]:
    """Write the hand-in under root/handins/<kind>: the attack's, or the clean
    one (attack None, with or without trainers). Returns folder and module."""
    kind = attack.kind if attack else "clean-trained" if trained else "clean"
    name = f"hostile_{kind.replace('-', '_')}_{targets.token}.py"
    home = root / "handins" / kind
    if attack is None:
        text = module_text(reference_source, trainers="" if trained else None)
    else:
        text = module_text(
            reference_source,
            targets.fill(attack.header, home),
            targets.fill(attack.footer, home),
            targets.fill(attack.trainers, home) if attack.trained else None,
        )
    home.mkdir(parents=True)
    (home / name).write_text(text, encoding="utf-8")
    for link, target in (attack.symlinks if attack else {}).items():
        (home / link).symlink_to(targets.fill(target, home))
    return home, name


# -- grading and watching ----------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One `grade` run: what it printed, wrote, cost and left behind."""

    kind: str
    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any] | None
    html: str
    report_json: str
    seconds: float
    peak_rss: int  # the grader's own peak resident memory, bytes
    survivors: tuple[str, ...]  # sandbox processes alive after it exited

    def checks(self) -> dict[str, dict[str, Any]]:
        if self.result is None:
            return {}
        return {c["name"]: c for c in self.result["checks"]}


@dataclass(frozen=True)
class Process:
    """What /proc says of one process."""

    pid: int
    uid: int
    state: str  # R, S, D, Z (zombie), ...
    started: int  # clock ticks after boot
    cmdline: str

    def __str__(self) -> str:
        return f"pid {self.pid} uid {self.uid} {self.state}: {self.cmdline[:200]}"


def processes() -> list[Process]:
    """Every process /proc shows, but this one (whose command line may hold
    the markers looked for)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            status = Path(f"/proc/{entry}/status").read_text()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        # the fields after the command name, which may hold spaces and ")"
        after_name = stat.rsplit(")", 1)[1].split()
        found.append(
            Process(
                int(entry),
                int(fields.get("Uid", "-1").split()[0]),
                after_name[0],
                int(after_name[19]),
                cmdline.replace(b"\0", b" ").decode("utf-8", "replace"),
            )
        )
    return found


def sandbox_processes(marker: str) -> list[Process]:
    """Processes of a sandbox user whose command line holds marker (a
    sandbox's processes, forks included, carry its module's name)."""
    return [p for p in processes() if p.uid in SANDBOX_UIDS and marker in p.cmdline]


def clock_ticks() -> int:
    """Now, in the clock ticks after boot that /proc/<pid>/stat counts in."""
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return int(uptime * os.sysconf("SC_CLK_TCK"))


def survivors(marker: str, uids: set[int], ended: int) -> tuple[str, ...]:
    """Sandbox processes still there SURVIVOR_GRACE seconds after a grading
    that ended at clock tick `ended`: by their module's name in their command
    line, or as live processes its sandbox users (leased to one grading at a
    time) started before it ended, whatever their command line."""

    def left() -> tuple[str, ...]:
        return tuple(
            str(p)
            for p in processes()
            if p.uid in SANDBOX_UIDS
            and p.state not in "ZX"
            and (marker in p.cmdline or (p.uid in uids and p.started <= ended))
        )

    deadline = time.monotonic() + SURVIVOR_GRACE
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    return left()


def _peak_rss(pid: int, done: threading.Event, peak: list[int]) -> None:
    """Poll a process's VmHWM (its own peak RSS) until it ends."""
    while not done.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]) << 10)
        except (OSError, ValueError):
            pass
        done.wait(0.05)


def grade_command(
    folder: Path,
    out: Path,
    json_file: Path,
    quick: bool = True,
    train_seconds: float | None = None,
    call_seconds: float | None = None,
    memory_mb: int | None = None,
) -> list[str]:
    command = [sys.executable, "-m", "grader", str(folder)]
    command += ["--json", str(json_file), "--out", str(out)]
    if quick:
        command.append("--quick")
    if train_seconds is not None:
        command += ["--train-seconds", f"{train_seconds:g}"]
    if call_seconds is not None:
        command += ["--call-seconds", f"{call_seconds:g}"]
    if memory_mb is not None:
        command += ["--memory-mb", str(memory_mb)]
    return command


def run_grade(
    kind: str,
    folder: Path,
    module: str,
    out: Path,
    json_file: Path,
    quick: bool = True,
    train_seconds: float | None = None,
    call_seconds: float | None = None,
    memory_mb: int | None = None,
) -> Run:
    """Grade a hand-in with the CLI and record everything the checks need."""
    command = grade_command(
        folder, out, json_file, quick, train_seconds, call_seconds, memory_mb
    )
    started = time.monotonic()
    proc = subprocess.Popen(
        command,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    done, peak = threading.Event(), [0]
    watcher = threading.Thread(target=_peak_rss, args=(proc.pid, done, peak))
    watcher.start()
    try:
        stdout, stderr = proc.communicate(timeout=GRADE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        stderr += f"\n[test] grade did not finish within {GRADE_SECONDS:g} s"
    finally:
        done.set()
        watcher.join()
    ended = clock_ticks()
    seconds = time.monotonic() - started
    report = out / folder.name
    html = _read(report / "index.html")
    # the grader has exited: what of its sandbox is still there survived it
    uids = {int(u) for u in re.findall(r"SANDBOX-UID (\d+)", html)}
    left = survivors(Path(module).stem, uids, ended)
    result = None
    with contextlib.suppress(OSError, ValueError):
        result = json.loads(json_file.read_text())
    return Run(
        kind,
        proc.returncode,
        stdout,
        stderr,
        result,
        html,
        _read(report / "result.json"),
        seconds,
        peak[0],
        left,
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def kill_survivors(marker: str) -> list[int]:
    """SIGKILL, one by one by pid, the sandbox processes a test left behind."""
    killed = []
    for process in sandbox_processes(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
            killed.append(process.pid)
    return killed


# -- judging a run -----------------------------------------------------------


def exit_problems(run: Run) -> list[str]:
    """(c) and (d): a normal exit, both reports written, nothing left running."""
    problems = []
    if run.returncode not in (0, 1):
        problems.append(f"grade exited {run.returncode}: {run.stderr[-1500:]}")
    if run.result is None:
        problems.append("no JSON result written")
    if not run.html:
        problems.append("no index.html written")
    if "Traceback" in run.stderr or "Traceback" in run.stdout:
        problems.append(f"a traceback in the grader's output: {run.stderr[-1500:]}")
    if run.survivors:
        problems.append(f"sandbox processes survived: {list(run.survivors)}")
    return problems


def forged_problems(run: Run) -> list[str]:
    """No forged content in anything the grader wrote or printed.

    The JSON results and the terminal carry no student text that could hold
    the marker; the HTML report shows student output, escaped, but no attack
    here prints the marker, so it must not appear there either.
    """
    places = {
        "JSON result": json.dumps(run.result) if run.result else "",
        "result.json": run.report_json,
        "index.html": run.html,
        "stdout": run.stdout,
        "stderr": run.stderr,
    }
    return [
        f"{FORGED} in the {where}" for where, text in places.items() if FORGED in text
    ]


def _cause_named(check: Mapping[str, Any], causes: Sequence[str]) -> bool:
    said = (
        check.get("message", "") + " " + " ".join(check.get("mistakes", []))
    ).lower()
    return any(c.lower() in said for c in causes)


def verdict_problems(attack: Attack, run: Run, clean: Run) -> list[str]:
    """(a) and (b): every check the attack does not break is graded exactly as
    on the clean hand-in; every check it breaks gets its status and cause;
    the total is the clean total minus what the broken checks lost."""
    got, base = run.checks(), clean.checks()
    if not got or not base:
        return ["no checks to compare"]
    problems = []
    lost = 0.0
    for name in ALL_CHECKS:
        mine, theirs = got.get(name), base.get(name)
        if mine is None or theirs is None:
            problems.append(f"{name}: no check in the result")
            continue
        want = attack.breaks.get(name)
        if want is None:
            for key in ("status", "score", "mistakes"):
                if mine.get(key) != theirs.get(key):
                    problems.append(
                        f"{name}: {key} {mine.get(key)!r}, clean hand-in "
                        f"{theirs.get(key)!r} ({mine.get('message', '')[:200]})"
                    )
            gradient = mine.get("gradient_check")
            if name not in attack.unchecked_gradients and gradient != theirs.get(
                "gradient_check"
            ):
                problems.append(
                    f"{name}: gradient check {gradient!r}, clean hand-in "
                    f"{theirs.get('gradient_check')!r} "
                    f"({mine.get('gradient_message', '')[:200]})"
                )
            continue
        lost += theirs["score"] - mine["score"]
        if mine["status"] != want.status:
            problems.append(
                f"{name}: status {mine['status']!r}, expected {want.status!r} "
                f"({mine.get('message', '')[:300]})"
            )
        if not _cause_named(mine, want.causes):
            problems.append(
                f"{name}: none of {list(want.causes)} named in "
                f"{mine.get('message', '')[:300]!r} / {mine.get('mistakes')}"
            )
        if mine["status"] != "pass" and mine["score"] >= mine["max_score"] > 0:
            problems.append(f"{name}: full points for a broken check")
    if run.result and clean.result:
        expected_total = round(clean.result["score"] - lost, 2)
        if round(run.result["score"], 2) != expected_total:
            problems.append(
                f"score {run.result['score']}, expected {expected_total} "
                f"(clean {clean.result['score']} minus {lost:g} lost by broken checks)"
            )
    return problems


def all_problems(attack: Attack, run: Run, clean: Run) -> list[str]:
    problems = exit_problems(run) + forged_problems(run)
    if run.peak_rss > GRADER_MEMORY:
        problems.append(
            f"the grader's own memory reached {run.peak_rss >> 20} MiB "
            f"(bound {GRADER_MEMORY >> 20} MiB)"
        )
    problems += verdict_problems(attack, run, clean)
    if attack.success and attack.success in run.html:
        lines = [line for line in run.html.splitlines() if attack.success in line]
        problems.append(f"the attack succeeded: {lines[:3]}")
    if attack.ran and RAN not in run.html:
        problems.append(f"the attack never reported that it ran ({RAN} not printed)")
    return problems


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder (symlinks as their target), by relative path."""
    files = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            files[key] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            files[key] = path.read_bytes()
    return files


# -- the attacks ---------------------------------------------------------------


def error(*causes: str) -> Broken:
    return Broken("error", causes)


def fail(*causes: str) -> Broken:
    return Broken("fail", causes)


TIMEOUT = Broken("timeout", ("timeout", "limit"))


FLOOD = """
    import sys
    line = "x" * (1 << 20) + "\\n"
    for _ in range(1024):  # 1 GiB
        sys.stdout.write(line)
"""

FORGE_FILES = """
    import json, os
    _FORGED_RESULT = json.dumps({
        "score": 1000, "max_score": 100, "passed": True, "note": "$FORGED",
        "tests": [{"name": "all", "score": 1000, "status": "passed"}],
    })
    _FORGED_HTML = "<h1>Score 1000 / 100</h1><p>$FORGED</p>"


    def _forge(folder):
        for name, text in (("results.json", _FORGED_RESULT),
                           ("result.json", _FORGED_RESULT),
                           ("grade.json", _FORGED_RESULT),
                           ("index.html", _FORGED_HTML),
                           ("report.html", _FORGED_HTML)):
            try:
                with open(os.path.join(folder, name), "w") as handle:
                    handle.write(text)
            except OSError:
                pass
"""


ATTACKS: tuple[Attack, ...] = (
    # -- at import -------------------------------------------------------------
    Attack(
        "import-hang",
        "loops forever at import",
        "timeout (import)",
        header="while True:\n    pass",
        breaks={n: error("timeout") for n in ALL_CHECKS},
    ),
    Attack(
        "import-flood",
        "prints 1 GiB at import",
        "output-flood (import)",
        header=FLOOD,
        breaks={n: error("output-flood") for n in ALL_CHECKS},
    ),
    Attack(
        "import-exit",
        "ends the process with os._exit(0) at import",
        "exit (import): the process exited (status 0) without a result",
        header="import os\nos._exit(0)",
        breaks={n: error("exited") for n in ALL_CHECKS},
    ),
    Attack(
        "patch-numpy",
        "at import makes numpy.allclose/array_equal/array_equiv/isclose and "
        "numpy.testing's asserts say 'equal'; hides a wrong cross-entropy loss",
        "the hidden fault is found: wrong-cross-entropy-value",
        header="""
            import numpy, numpy.testing

            def _yes(*args, **kwargs):
                return True

            def _same_shape_yes(a, b, *args, **kwargs):
                return numpy.ones(numpy.broadcast(a, b).shape, dtype=bool)

            def _silent(*args, **kwargs):
                return None

            numpy.allclose = numpy.array_equal = numpy.array_equiv = _yes
            numpy.isclose = _same_shape_yes
            for _name in dir(numpy.testing):
                if _name.startswith("assert_"):
                    setattr(numpy.testing, _name, _silent)
        """,
        footer="""
            def loss_cross_entropy_softmax(x, y):
                z = x - np.max(x)
                log_p = z - np.log(np.sum(np.exp(z)))
                l = float(-np.sum(log_p))  # the one-hot y is left out
                dl_dy = (np.exp(log_p) - y).reshape(1, -1)
                return l, dl_dy
        """,
        breaks={
            "loss_cross_entropy_softmax": fail("wrong-cross-entropy-value"),
        },
    ),
    Attack(
        "patch-builtins",
        "at import makes builtins.abs return 0, all True, any False and "
        "isinstance call a string an array; relu returns a string",
        "relu fails: a str is not numeric data",
        header="""
            import builtins

            _real_isinstance = builtins.isinstance

            def _lying_isinstance(obj, cls):
                return type(obj) is str or _real_isinstance(obj, cls)

            builtins.abs = lambda value: 0 * value
            builtins.all = lambda items: True
            builtins.any = lambda items: False
            builtins.isinstance = _lying_isinstance
        """,
        footer=wrapping("relu", "x", "return str(_correct_relu(x))"),
        breaks={"relu": fail("str", "numeric")},
        unchecked_gradients=frozenset({"relu_backward"}),
    ),
    Attack(
        "fake-modules",
        "puts fake grader, grader.compare, grader.sandbox.wire, reference and "
        "reference.cnn modules in sys.modules (every comparison 'equal', the "
        "reference 'returning' the hand-in's answers) and patches the child's "
        "own helpers; hides a row-major flattening",
        "the hidden fault is found: row-major-flattening",
        header="""
            import sys, types

            def _yes(*args, **kwargs):
                return True

            for _name in ("grader", "grader.compare", "grader.checks",
                          "grader.sandbox", "grader.sandbox.wire",
                          "reference", "reference.cnn", "hw4_grader"):
                _fake = types.ModuleType(_name)
                _fake.check_output = _fake.differ = _fake.allclose = _yes
                _fake.function_status = lambda cases: "pass"
                sys.modules[_name] = _fake
            _main = sys.modules.get("__main__")
            if _main is not None and hasattr(_main, "_same"):
                _main._same = _yes
        """,
        footer="""
            def flattening(x):
                return np.reshape(x, (-1, 1))  # C order: row-major


            def flattening_backward(dl_dy, x, y):
                return np.reshape(dl_dy, np.shape(x))
        """,
        breaks={
            "flattening": fail("row-major-flattening"),
            "flattening_backward": fail("row-major-flattening"),
        },
    ),
    Attack(
        "write-parents",
        "at import writes forged results.json, result.json, grade.json, "
        "index.html and report.html into its working directory and every "
        "parent up to /",
        "none: the writes land in its scratch folder or are refused",
        header=code(
            FORGE_FILES,
            """
            _folder = os.getcwd()
            while True:
                _forge(_folder)
                if _folder == os.path.dirname(_folder):
                    break
                _folder = os.path.dirname(_folder)
            print("$RAN write-parents")
            """,
        ),
        ran=True,
    ),
    Attack(
        "write-report-folder",
        "at import writes forged reports into the absolute paths of the "
        "reports folder, its own report folder, the --json file and a "
        "neighbour's report",
        "none: the reports folder is hidden from the sandbox",
        header=code(
            FORGE_FILES,
            """
            for _folder in ("$OUT", "$OUT/write-report-folder", "$OUT/neighbour"):
                try:
                    os.makedirs(_folder, exist_ok=True)
                except OSError:
                    pass
                _forge(_folder)
            try:
                with open("$JSON", "w") as _handle:
                    _handle.write(_FORGED_RESULT)
            except OSError:
                pass
            print("$RAN write-report-folder")
            """,
        ),
        ran=True,
    ),
    Attack(
        "write-handin-folder",
        "at import overwrites its own original module and adds forged "
        "results to the hand-in's original folder (absolute path)",
        "none: the original folder is out of the sandbox's reach",
        header=code(
            FORGE_FILES,
            """
            _forge("$HOME")
            for _name in os.listdir("$HOME") if os.path.isdir("$HOME") else ():
                try:
                    with open(os.path.join("$HOME", _name), "a") as _handle:
                        _handle.write("\\n# $FORGED\\n")
                except OSError:
                    pass
            print("$RAN write-handin-folder")
            """,
        ),
        ran=True,
    ),
    Attack(
        "atexit-forge",
        "registers atexit handlers, a __del__ and SIGTERM/SIGINT/SIGHUP "
        "handlers that print forged results and write them to its folder, "
        "the reports folder and the --json file",
        "none: the sandbox is killed with SIGKILL; nothing runs at exit",
        header=code(
            FORGE_FILES,
            """
            import atexit, signal, sys

            def _at_exit(*args):
                sys.stdout.write(_FORGED_RESULT + "\\n")
                sys.stdout.flush()
                for _folder in (os.getcwd(), "$OUT", "$OUT/atexit-forge", "$HOME"):
                    _forge(_folder)
                try:
                    with open("$JSON", "w") as handle:
                        handle.write(_FORGED_RESULT)
                except OSError:
                    pass

            class _Haunt:
                def __del__(self):
                    _at_exit()

            _HAUNT = _Haunt()
            atexit.register(_at_exit)
            for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(_sig, _at_exit)
            sys.excepthook = lambda *args: _at_exit()
            """,
        ),
    ),
    Attack(
        "read-reference",
        "reads the reference solution: `import reference`, open() and "
        "importlib.util.spec_from_file_location on its absolute path, on "
        "paths walked up from the working directory and the module's folder, "
        "and through /proc/<parent>/root and /proc/<parent>/cwd; a found "
        "conv_backward would replace its own wrong one",
        "the wrong conv_backward is graded: fail; the import attempt is warned",
        header="""
            import importlib.util, os, sys

            _found = []


            def _try_load(path):
                try:
                    spec = importlib.util.spec_from_file_location("_stolen", path)
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
                    if hasattr(module, "conv_backward"):
                        _found.append(module)
                except BaseException:
                    pass
                try:
                    with open(path) as handle:
                        if "def conv_backward" in handle.read():
                            _found.append(path)
                except BaseException:
                    pass


            try:
                import reference.cnn as _ref
                _found.append(_ref)
            except BaseException:
                pass
            _candidates = ["$REFERENCE"]
            for _start in (os.getcwd(), os.path.dirname(os.path.abspath(__file__))):
                _folder = _start
                for _ in range(12):
                    _candidates.append(os.path.join(_folder, "reference", "cnn.py"))
                    _candidates.append(
                        os.path.join(_folder, "main", "reference", "cnn.py")
                    )
                    _folder = os.path.dirname(_folder)
            _parent = os.getppid()
            for _proc in (f"/proc/{_parent}/root", f"/proc/1/root"):
                _candidates.append(_proc + "$REFERENCE")
            _candidates.append(f"/proc/{_parent}/cwd/reference/cnn.py")
            for _path in _candidates:
                _try_load(_path)
            if _found:
                print("STOLEN the reference:", _found)
            print("$RAN read-reference", len(_found), "found")
        """,
        footer="""
            def conv_backward(dl_dy, x, w_conv, b_conv, y):
                return np.zeros_like(w_conv), np.zeros_like(b_conv)  # wrong


            for _thing in _found:
                if hasattr(_thing, "conv_backward"):
                    conv_backward = _thing.conv_backward
        """,
        breaks={"conv_backward": fail("fail")},
        ran=True,
        success="STOLEN",
    ),
    Attack(
        "symlink-reference",
        "hands in zz_helpers.py, a symbolic link to the reference module's "
        "absolute path, and imports conv_backward from it over its own wrong "
        "one",
        "the wrong conv_backward must be graded: fail",
        footer="""
            def conv_backward(dl_dy, x, w_conv, b_conv, y):
                return np.zeros_like(w_conv), np.zeros_like(b_conv)  # wrong


            try:
                from zz_helpers import conv_backward
                # a stand-in for a missing module is not the reference
                if type(conv_backward).__name__ == "function":
                    print("$RAN symlink-reference: STOLEN the reference")
                else:
                    print("$RAN symlink-reference: got a stand-in")
            except BaseException as _err:
                print("$RAN symlink-reference:", type(_err).__name__)
        """,
        symlinks={"zz_helpers.py": "$REFERENCE"},
        breaks={"conv_backward": fail("fail")},
        ran=True,
        success="STOLEN",
    ),
    Attack(
        "read-other-sandboxes",
        "at import, for up to 30 s, looks through the other sandboxes' "
        "scratch folders for the import-hang hand-in graded at the same time "
        "and reads it",
        "none: another hand-in is out of reach",
        header="""
            import glob, os, time

            _deadline = time.monotonic() + 30
            _stolen = []
            while not _stolen and time.monotonic() < _deadline:
                for _path in glob.glob("/var/lib/hw4-grader/*/work/*.py"):
                    # only this test's own hand-ins, never anyone else's
                    if "_$TOKEN" not in _path or "import_hang" not in _path:
                        continue
                    try:
                        with open(_path) as _handle:
                            _stolen.append(len(_handle.read()))
                    except OSError as _err:
                        print("$RAN read-other-sandboxes:", type(_err).__name__)
                        _stolen.append(0)
                time.sleep(0.2)
            if any(_stolen):
                print("STOLEN another hand-in:", _stolen, "characters")
            print("$RAN read-other-sandboxes", _stolen)
        """,
        ran=True,
        success="STOLEN",
    ),
    Attack(
        "network",
        "at import and in fc connects over TCP and sends over UDP to ports "
        "the test listens on at 127.0.0.1",
        "none: the sandbox has no network (the listeners receive nothing)",
        header="""
            import socket

            def _call_home():
                errors = []
                try:
                    with socket.create_connection(("127.0.0.1", $PORT), 2) as s:
                        s.sendall(b"$FORGED")
                    errors.append("tcp connected")
                except OSError as err:
                    errors.append(type(err).__name__)
                try:
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                        s.sendto(b"$FORGED", ("127.0.0.1", $PORT))
                    errors.append("udp sent")
                except OSError as err:
                    errors.append(type(err).__name__)
                return errors

            print("$RAN network", _call_home())
        """,
        footer=wrapping("fc", "x, w, b", "_call_home()"),
        ran=True,
    ),
    Attack(
        "chdir",
        "changes the working directory to / at import and to .. in relu, "
        "then writes a forged result there",
        "none",
        header=code(FORGE_FILES, "os.chdir('/')\n_forge(os.getcwd())"),
        footer=wrapping(
            "relu",
            "x",
            """
            try:
                os.chdir("..")
            except OSError:
                pass
            _forge(os.getcwd())
            """,
        ),
    ),
    # -- in a function ---------------------------------------------------------
    Attack(
        "exit-in-function",
        "fc ends the process with os._exit(0)",
        "exit: the process exited (status 0) without a result; process-exit",
        header="import os",
        footer=wrapping("fc", "x, w, b", "os._exit(0)"),
        breaks={"fc": error("process-exit", "exited")},
        unchecked_gradients=frozenset({"fc_backward"}),
    ),
    Attack(
        "sys-exit-in-function",
        "relu_backward raises SystemExit(0) (sys.exit)",
        "SystemExit",
        header="import sys",
        footer=wrapping("relu_backward", "dl_dy, x, y", "sys.exit(0)"),
        breaks={"relu_backward": error("SystemExit")},
    ),
    Attack(
        "hang-layer",
        "relu loops forever",
        "timeout",
        footer=wrapping("relu", "x", "while True:\n    pass"),
        breaks={"relu": TIMEOUT},
        unchecked_gradients=frozenset({"relu_backward"}),
        call_seconds=2.0,
    ),
    Attack(
        "hang-backward",
        "conv_backward loops forever",
        "timeout",
        footer=wrapping(
            "conv_backward", "dl_dy, x, w_conv, b_conv, y", "while 1: pass"
        ),
        breaks={"conv_backward": TIMEOUT},
        call_seconds=2.0,
    ),
    Attack(
        "ignore-sigterm",
        "pool2x2_backward ignores SIGTERM, SIGINT and SIGHUP, then sleeps forever",
        "timeout (killed with SIGKILL)",
        header="import signal, time",
        footer=wrapping(
            "pool2x2_backward",
            "dl_dy, x, y",
            """
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            while True:
                time.sleep(1)
            """,
        ),
        breaks={"pool2x2_backward": TIMEOUT},
        call_seconds=2.0,
    ),
    Attack(
        "self-stop",
        "flattening_backward stops its own process with SIGSTOP",
        "timeout",
        header="import os, signal",
        footer=wrapping(
            "flattening_backward", "dl_dy, x, y", "os.kill(os.getpid(), signal.SIGSTOP)"
        ),
        breaks={"flattening_backward": TIMEOUT},
        call_seconds=2.0,
    ),
    Attack(
        "fork-bomb",
        "pool2x2 forks until the process limit refuses; every child forks "
        "too, then sleeps 15 minutes",
        "spawns-processes",
        header="import os, time",
        footer="""
            _correct_pool2x2 = pool2x2


            def pool2x2(x):
                parent = os.getpid()
                spawned = 0
                while spawned < 10000:
                    try:
                        pid = os.fork()
                    except OSError:
                        break
                    if pid == 0:
                        spawned = 0  # the child forks on
                    else:
                        spawned += 1
                if os.getpid() != parent:
                    time.sleep(900)
                    os._exit(0)
                return _correct_pool2x2(x)
        """,
        breaks={"pool2x2": error("spawns-processes")},
        unchecked_gradients=frozenset({"pool2x2_backward"}),
    ),
    Attack(
        "detached-daemon",
        "flattening double-forks a grandchild in a new session (adopted by "
        "init) that keeps the output pipe and sleeps 15 minutes",
        "spawns-processes",
        header="import os, time",
        footer=wrapping(
            "flattening",
            "x",
            """
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    time.sleep(900)
                os._exit(0)
            os.wait()
            """,
        ),
        breaks={"flattening": error("spawns-processes")},
        unchecked_gradients=frozenset({"flattening_backward"}),
    ),
    Attack(
        "memory-bomb",
        "conv keeps allocating 128 MiB blocks (pages written) until refused "
        "(under a 1 GiB limit, to keep the test fast)",
        "memory-hog",
        header="_HOARD = []",
        footer=wrapping(
            "conv",
            "x, w_conv, b_conv",
            """
            while len(_HOARD) < 512:
                _HOARD.append(np.ones(1 << 24))
            """,
        ),
        breaks={"conv": error("memory-hog")},
        memory_mb=1024,
        unchecked_gradients=frozenset({"conv_backward"}),
    ),
    Attack(
        "recursion-bomb",
        "relu_backward raises the recursion limit to 10**6 and recurses without "
        "end (each call costs the child ~10 s, most of it in extracting the "
        "traceback of 10**6 frames: a 2 s call limit makes it a timeout)",
        "timeout",
        call_seconds=2.0,
        header="import sys",
        footer=code(
            """
            def _deeper(n):
                return _deeper(n + 1) + 1
            """,
            wrapping(
                "relu_backward",
                "dl_dy, x, y",
                "sys.setrecursionlimit(10**6)\n_deeper(0)",
            ),
        ),
        breaks={"relu_backward": TIMEOUT},
    ),
    Attack(
        "c-stack-overflow",
        "loss_euclidean recurses through a C function (map) with the "
        "recursion limit at 10**6, overflowing the C stack",
        "crash: killed by signal SIGSEGV",
        header="import sys",
        footer=code(
            """
            def _through_c(n):
                return list(map(_through_c, [n + 1]))
            """,
            wrapping(
                "loss_euclidean",
                "y_tilde, y",
                "sys.setrecursionlimit(10**6)\n_through_c(0)",
            ),
        ),
        breaks={"loss_euclidean": error("SIGSEGV", "RecursionError", "crash")},
    ),
    Attack(
        "output-flood",
        "relu writes 1 GiB to stdout",
        "output-flood",
        footer=wrapping("relu", "x", FLOOD),
        breaks={"relu": error("output-flood")},
        unchecked_gradients=frozenset({"relu_backward"}),
    ),
    Attack(
        "huge-array",
        "fc returns a 2 GiB array (calloc'd: its pages are not written)",
        "memory-hog (the child cannot even encode it)",
        footer=wrapping("fc", "x, w, b", "return np.zeros(1 << 28)"),
        breaks={"fc": error("memory-hog", "larger than", "unusable")},
        unchecked_gradients=frozenset({"fc_backward"}),
    ),
    Attack(
        "oversized-answer",
        "fc_backward returns a 640 MB array (a broadcast view: its .npy fits "
        "in the child)",
        "unusable answer: answer larger than the answer limit",
        footer=wrapping(
            "fc_backward",
            "dl_dy, x, w, b, y",
            "return np.broadcast_to(np.float64(1.0), (80_000_000,))",
        ),
        breaks={"fc_backward": error("larger than", "unusable")},
    ),
    Attack(
        "endless-view",
        "relu returns a zero-stride view claiming 2**40 entries",
        "memory-hog",
        footer=wrapping(
            "relu",
            "x",
            "return np.lib.stride_tricks.as_strided("
            "np.zeros(1), shape=(1 << 40,), strides=(0,))",
        ),
        breaks={"relu": error("memory-hog", "larger than", "unusable")},
        unchecked_gradients=frozenset({"relu_backward"}),
        memory_mb=1024,
    ),
    Attack(
        "giant-hello",
        "at import writes its own hello to the grader's channel, padded with "
        "a 64 MiB JSON list of 22 million empty objects, and drops the real "
        "one",
        "every check error: an import that writes to the grader's channel "
        "breaks the hand-in (unusable answer); the grader's memory stays bounded",
        breaks={n: error("unusable answer") for n in ALL_CHECKS},
        # the child is stopped on the forged header, before its output is read
        ran=False,
        header="""
            import json, os, struct, sys

            _wire = sys.modules.get("_hw_sandbox_wire")
            if _wire is not None and len(sys.argv) > 2:
                _hello = {"hello": {
                    "ok": True, "error": None, "replaced": [], "missing": [],
                    "blocked": [], "legacy": [], "numpy": "",
                    "functions": {name: None for name in (
                        "get_mini_batch fc fc_backward loss_euclidean "
                        "loss_cross_entropy_softmax relu relu_backward conv "
                        "conv_backward pool2x2 pool2x2_backward flattening "
                        "flattening_backward train_slp_linear train_slp "
                        "train_mlp train_cnn").split()},
                }, "nblobs": 0}
                _raw = json.dumps(_hello).encode()
                _pad = b', "pad": [' + b"{}, " * (22 << 20) + b"{}]}"
                _raw = _raw[:-1] + _pad
                with os.fdopen(int(sys.argv[2]), "wb", closefd=False) as _out:
                    _out.write(struct.pack(">Q", len(_raw)) + _raw)
                del _raw, _pad
                _real_send = _wire.send

                def _drop_the_real_hello(fd, header, blobs):
                    _wire.send = _real_send
                    if "hello" not in header:
                        _real_send(fd, header, blobs)

                _wire.send = _drop_the_real_hello
                print("$RAN giant-hello", flush=True)
        """,
    ),
    Attack(
        "repr-raises",
        "flattening returns an object whose __repr__, __str__, __len__, "
        "__iter__, __array__, __float__, __bool__ and __getattr__ raise",
        "fail: not numeric data",
        footer="""
            class _Hostile:
                def _boom(self, *args, **kwargs):
                    raise RuntimeError("boom")

                __repr__ = __str__ = __len__ = __iter__ = _boom
                __array__ = __float__ = __index__ = __bool__ = _boom
                __getattr__ = _boom


            def flattening(x):
                return _Hostile()
        """,
        breaks={"flattening": fail("numeric")},
        unchecked_gradients=frozenset({"flattening_backward"}),
    ),
    Attack(
        "repr-raises-base",
        "as repr-raises, but what is raised is a KeyboardInterrupt subclass "
        "whose own __str__ raises it again",
        "should be as repr-raises; the child's runtime dies instead (exit)",
        footer="""
            class _Poison(KeyboardInterrupt):
                def __str__(self):
                    raise _Poison()


            class _Hostile:
                def _boom(self, *args, **kwargs):
                    raise _Poison()

                __repr__ = __str__ = __len__ = __iter__ = _boom
                __array__ = __float__ = __index__ = __bool__ = _boom
                __getattr__ = _boom


            def flattening(x):
                return _Hostile()
        """,
        breaks={"flattening": fail("numeric")},
        unchecked_gradients=frozenset({"flattening_backward"}),
    ),
    Attack(
        "deep-nesting",
        "flattening_backward returns a list nested 100,000 levels deep",
        "fail: not numeric data",
        footer="""
            def flattening_backward(dl_dy, x, y):
                nested = 0.0
                for _ in range(100_000):
                    nested = [nested]
                return nested
        """,
        breaks={"flattening_backward": fail("deep", "numeric", "nested")},
    ),
    Attack(
        "strings",
        "fc_backward returns three strings",
        "fail: not numeric data",
        footer=wrapping(
            "fc_backward",
            "dl_dy, x, w, b, y",
            "return tuple(np.array2string(np.asarray(v)) for v in "
            "_correct_fc_backward(dl_dy, x, w, b, y))",
        ),
        breaks={"fc_backward": fail("str", "numeric")},
    ),
    Attack(
        "lying-ndarray",
        "pool2x2 returns zeros as an ndarray subclass whose __eq__, "
        "__array__, __array_ufunc__, __float__, tolist and astype claim the "
        "right answer",
        "fail: the data crosses, not the object's claims",
        footer="""
            class _Liar(np.ndarray):
                def __eq__(self, other):
                    return np.ones(np.shape(other), dtype=bool)

                def __ne__(self, other):
                    return np.zeros(np.shape(other), dtype=bool)

                def __array__(self, dtype=None, copy=None):
                    return self.truth

                def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
                    return self.truth

                def __float__(self):
                    return float(self.truth.flat[0])

                def tolist(self):
                    return self.truth.tolist()

                def astype(self, *args, **kwargs):
                    return self.truth.astype(*args, **kwargs)


            _correct_pool2x2 = pool2x2


            def pool2x2(x):
                truth = _correct_pool2x2(x)
                liar = np.zeros(truth.shape).view(_Liar)
                liar.truth = truth
                return liar
        """,
        breaks={"pool2x2": fail("fail")},
        unchecked_gradients=frozenset({"pool2x2_backward"}),
    ),
    Attack(
        "lying-float",
        "loss_euclidean returns its loss as a numpy.float64 subclass holding "
        "0 whose __float__, __eq__ and __repr__ claim the right value",
        "fail: the value 0 crosses",
        footer="""
            class _LyingLoss(np.float64):
                def __float__(self):
                    return self.truth

                def __eq__(self, other):
                    return True

                def __repr__(self):
                    return repr(self.truth)


            _correct_loss_euclidean = loss_euclidean


            def loss_euclidean(y_tilde, y):
                l, dl_dy = _correct_loss_euclidean(y_tilde, y)
                lie = _LyingLoss(0.0)
                lie.truth = l
                return lie, dl_dy
        """,
        breaks={"loss_euclidean": fail("fail")},
    ),
    Attack(
        "protocol-garbage",
        "relu writes garbage (a 2**63-byte length) to the grader's answer "
        "channel, then returns",
        "garbage: unusable answer",
        header="import os, sys",
        footer=wrapping(
            "relu", "x", "os.write(int(sys.argv[2]), b'\\x7f' + b'\\xff' * 15)"
        ),
        breaks={"relu": error("unusable", "garbage")},
        unchecked_gradients=frozenset({"relu_backward"}),
    ),
)


# -- trainers: each runs in a sandbox of its own, so one hand-in holds four ----

TRAINER_SECONDS = 15.0
TRAINED_ATTACKS: tuple[Attack, ...] = (
    Attack(
        "trainers-exit-hang-flood",
        "train_slp_linear calls sys.exit(0); train_slp ignores SIGTERM, "
        "SIGINT and SIGHUP and sleeps forever; train_mlp runs SGD steps "
        "forever; train_cnn prints 1 GiB",
        "SystemExit; timeout; timeout (never-returns); output-flood",
        trained=True,
        trainers="""
            def train_slp_linear(mini_batch_x, mini_batch_y):
                import sys
                sys.exit(0)


            def train_slp(mini_batch_x, mini_batch_y):
                import signal, time
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_IGN)
                while True:
                    time.sleep(0.5)


            def train_mlp(mini_batch_x, mini_batch_y):
                w = np.zeros((10, 196))
                while True:
                    for k in range(len(mini_batch_x)):
                        x, y = mini_batch_x[k], mini_batch_y[k]
                        w -= 1e-3 * 2.0 * (w @ x - y) @ x.T


            def train_cnn(mini_batch_x, mini_batch_y):
                import sys
                line = "x" * (1 << 20) + "\\n"
                for _ in range(1024):  # 1 GiB
                    sys.stdout.write(line)
        """,
        breaks={
            "train_slp_linear": error("SystemExit"),
            "train_slp": TIMEOUT,
            "train_mlp": Broken("timeout", ("never-returns",)),
            "train_cnn": error("output-flood"),
        },
    ),
    Attack(
        "trainers-spawn-exit-memory-huge",
        "train_slp_linear leaves a detached sleeper behind; train_slp ends "
        "its process with os._exit(0); train_mlp allocates 1 GiB blocks "
        "(unwritten) until refused; train_cnn returns a 560 MB weight array",
        "spawns-processes; process-exit; memory-hog; answer larger than the limit",
        trained=True,
        trainers="""
            def train_slp_linear(mini_batch_x, mini_batch_y):
                import os, time
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        time.sleep(900)
                    os._exit(0)
                os.wait()
                return np.zeros((10, 196)), np.zeros((10, 1))


            def train_slp(mini_batch_x, mini_batch_y):
                import os
                os._exit(0)


            def train_mlp(mini_batch_x, mini_batch_y):
                hoard = []
                while len(hoard) < 64:
                    hoard.append(np.empty(1 << 27))  # pages left unwritten


            def train_cnn(mini_batch_x, mini_batch_y):
                w_conv = np.broadcast_to(np.float64(1.0), (70_000_000,))
                return w_conv, np.zeros((3, 1)), 0, 0
        """,
        breaks={
            "train_slp_linear": error("spawns-processes"),
            "train_slp": error("process-exit"),
            "train_mlp": error("memory-hog"),
            "train_cnn": error("larger than", "unusable"),
        },
    ),
)


def main(argv: Sequence[str]) -> int:
    """`python tests/hostile.py KIND... FOLDER`: write those hostile hand-ins
    under FOLDER/handins/ (aimed at FOLDER/reports), to grade them by hand.
    Writing one runs nothing of it."""
    if len(argv) < 2:
        kinds = ", ".join(a.kind for a in ATTACKS + TRAINED_ATTACKS)
        print(f"usage: hostile.py KIND... FOLDER\nkinds: {kinds}", file=sys.stderr)
        return 2
    root = Path(argv[-1]).resolve()
    catalogue = {a.kind: a for a in ATTACKS + TRAINED_ATTACKS}
    unknown = [k for k in argv[:-1] if k not in catalogue]
    if unknown:
        print(f"hostile.py: no attack named {', '.join(unknown)}", file=sys.stderr)
        return 2
    targets = Targets(root / "reports", root / "result.json", 9, "byhand")
    source = handins.reference_text()
    for kind in argv[:-1]:
        attack = catalogue[kind]
        folder, _ = build(attack, root, targets, source, attack.trained)
        print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
