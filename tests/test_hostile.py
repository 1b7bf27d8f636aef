"""Hostile hand-ins: the sandbox holds, the grade stays true, nothing is lost.

Each hand-in is the reference solution plus one attack (tests/hostile.py),
graded with the `grade` command; every check the attack does not break must
be graded exactly as on the same hand-in without the attack, and every check
it breaks must name the cause. Causes below are the words the grader uses
(its mistake names, or its message where it names no mistake).

At import (all 17 checks error, "import-error"):
- import-hang: loops forever -> "timeout" (after the 60 s import limit).
- import-flood: prints 1 GiB -> "output-flood".
- import-exit: os._exit(0) -> "exited (status 0) without a result".

At import, changing nothing the grader trusts (verdicts as without them):
- patch-numpy: numpy.allclose / array_equal / array_equiv / isclose and
  numpy.testing's asserts always "equal", hiding a wrong cross-entropy loss ->
  that loss fails, "wrong-cross-entropy-value" (comparisons run in the grader).
- patch-builtins: builtins.abs / all / any / isinstance lie, relu returns a
  string -> relu fails, "expected a numeric array".
- fake-modules: fake grader and reference modules in sys.modules and the
  child's own helpers patched, hiding a row-major flattening -> flattening and
  flattening_backward fail, "row-major-flattening".
- write-parents: forged results.json / index.html / ... in the working
  directory and every parent up to / -> nothing (scratch folder or refused).
- write-report-folder: forged reports at the absolute paths of the reports
  folder, its own report, a neighbour's report and the --json file -> nothing
  (the reports folder is hidden; the child's /tmp is its own).
- write-handin-folder: appends to its original module, adds forged results to
  its original folder -> nothing.
- atexit-forge: atexit, __del__, excepthook and SIGTERM/SIGINT/SIGHUP
  handlers that print and write forged results -> nothing (SIGKILL only).
- read-reference: `import reference`, open() and spec_from_file_location of
  the reference by absolute path, walking up from the working directory and
  the module's folder, through /proc/<parent>/root and cwd -> nothing found;
  its own wrong conv_backward fails; a warning names the import attempt.
- read-other-sandboxes: looks through /var/lib/hw4-grader for the
  import-hang hand-in graded at the same time -> nothing (each scratch folder
  belongs to its own sandbox user, mode 0700).
- network: TCP connect and UDP send to 127.0.0.1 ports this test listens on,
  at import and in fc -> OSError (no network); the listeners hear nothing.
- chdir: os.chdir("/") at import and ".." in relu, then writes -> nothing.
- giant-hello: writes its own hello to the grader's channel padded with a
  64 MiB JSON list -> every check error, "unusable answer" (headers over
  4 MiB are refused unread; the grader's memory stays small).

In one function (the others pass as without the attack):
- exit-in-function: fc calls os._exit(0) -> error, "process-exit".
- sys-exit-in-function: relu_backward raises SystemExit -> error, "SystemExit".
- hang-layer (relu), hang-backward (conv_backward): loop forever -> timeout,
  "no answer within the 2 s limit".
- ignore-sigterm: pool2x2_backward ignores SIGTERM/SIGINT/SIGHUP and sleeps
  -> timeout.
- self-stop: flattening_backward sends itself SIGSTOP -> timeout.
- fork-bomb: pool2x2 forks until the process limit refuses, children fork on
  and sleep -> error, "spawns-processes".
- detached-daemon: flattening double-forks a sleeper in a new session ->
  error, "spawns-processes".
- memory-bomb: conv hoards 128 MiB blocks, pages written (graded with
  --memory-mb 1024 to be quick) -> error, "memory-hog".
- recursion-bomb: relu_backward sets the recursion limit to 10**6 and
  recurses -> timeout (each call costs the child ~10 s, mostly extracting a
  traceback of 10**6 frames; graded with --call-seconds 2).
- c-stack-overflow: loss_euclidean recurses through map() -> error, "killed by
  signal SIGSEGV".
- output-flood: relu prints 1 GiB -> error, "output-flood".
- huge-array: fc returns a 2 GiB array -> error, "memory-hog" (the child
  cannot encode it under its 4 GiB limit).
- oversized-answer: fc_backward returns 640 MB (a broadcast view) -> error,
  "unusable answer: answer larger than 512 MiB" (refused before it is read).
- endless-view: relu returns a zero-stride view of 2**40 entries (graded with
  --memory-mb 1024) -> error, "memory-hog".
- repr-raises: flattening returns an object whose every dunder raises ->
  fail, "expected a numeric array".
- deep-nesting: flattening_backward returns a list nested 100,000 deep ->
  fail, "expected a numeric array".
- strings: fc_backward returns strings -> fail, "expected a numeric array".
- lying-ndarray: pool2x2 returns zeros as an ndarray subclass whose __eq__,
  __array__, __array_ufunc__, __float__, tolist, astype claim the right
  answer -> fail (the zeros cross, not the claims).
- lying-float: loss_euclidean's l is a float64 subclass holding 0 whose
  __float__ / __eq__ / __repr__ lie -> fail.
- protocol-garbage: relu writes a 2**63-byte length to the answer channel ->
  error, "unusable answer".

Trainers (one sandbox each, so four attacks share a hand-in; 15 s limit):
- trainers-exit-hang-flood: sys.exit(0) -> error "SystemExit"; SIGTERM
  ignored + sleep -> timeout ("too-slow"); SGD forever -> timeout,
  "never-returns"; 1 GiB printed -> error, "output-flood".
- trainers-spawn-exit-memory-huge: detached sleeper -> error,
  "spawns-processes"; os._exit(0) -> error, "process-exit"; 1 GiB blocks ->
  error, "memory-hog"; a 560 MB weight -> error, "answer larger than 512 MiB".

Faults these tests found and the grader now handles (each was an xfail):
a symbolic link to the reference in the hand-in folder (links are not
copied); a BaseException whose __str__ raises (reported, the child lives); a
64 MiB header from the child (headers are capped at 4 MiB); forged
mnist_*.mat beside the module (used only when they are the course's files);
one hand-in reading another's scratch folder (folders are closed to other
sandbox users); detached descendants of a SIGKILLed grader (a watchdog kills
the sandbox user's processes when the grader dies).

Every run must also end normally (exit 0 or 1, JSON and index.html written,
no traceback), write no forged content anywhere, leave no process of its
sandbox users, and keep the grader's own memory under 1 GiB.

To grade one by hand: `python tests/hostile.py KIND DIR` writes the hand-in
to DIR/handins/KIND (running nothing of it); then `grade` it, with the
options its test uses (shown in the test's failure message).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import handins
import hostile
import numpy as np
import pytest
import scipy.io
from hostile import Attack, Run, Targets

# Grader faults these tests expose, each a fix for the grader, not the test:
# why, and the words every problem it causes contains (any other problem
# fails the test outright instead of hiding behind the xfail).
KNOWN: dict[str, tuple[str, tuple[str, ...]]] = {}
WORKERS = 4
PROBE = """
import os, resource

def probe():
    return [os.getuid(), resource.getrlimit(resource.RLIMIT_NPROC)[0],
            resource.getrlimit(resource.RLIMIT_AS)[0]]
"""


# -- hand-ins with data files, graded with the others -------------------------

ZERO_TRAINERS = """
def train_slp_linear(mini_batch_x, mini_batch_y):
    return np.zeros((10, 196)), np.zeros((10, 1))


def train_slp(mini_batch_x, mini_batch_y):
    return np.zeros((10, 196)), np.zeros((10, 1))


def train_mlp(mini_batch_x, mini_batch_y):
    shapes = ((30, 196), (30, 1), (10, 30), (10, 1))
    return tuple(np.zeros(shape) for shape in shapes)


def train_cnn(mini_batch_x, mini_batch_y):
    shapes = ((3, 3, 1, 3), (3, 1), (10, 147), (10, 1))
    return tuple(np.zeros(shape) for shape in shapes)
"""


def _forged_data(folder: Path) -> None:
    """A valid-looking course data set whose test labels are all 0: what a
    model that never learned anything (all scores 0) predicts for every image."""
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(196, 320), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(1, 320), dtype=np.uint8)
    scipy.io.savemat(
        folder / "mnist_train.mat", {"im_train": train, "label_train": labels}
    )
    test = np.zeros((196, 100), dtype=np.uint8)
    scipy.io.savemat(
        folder / "mnist_test.mat",
        {"im_test": test, "label_test": np.zeros((1, 100), dtype=np.uint8)},
    )


ZERO = Attack(
    "zero-trainers",
    "trainers that return all-zero weights (never trained)",
    "fail: about 10 % accuracy",
    trained=True,
    trainers=ZERO_TRAINERS,
)
FORGED_DATA = Attack(
    "forged-data-set",
    "the same, handing in mnist_train.mat and a mnist_test.mat whose every "
    "label is 0 (what all-zero scores predict)",
    "must fail as zero-trainers does",
    trained=True,
    trainers=ZERO_TRAINERS,
)


@dataclass
class Session:
    """Everything graded once for this module, and what it aimed at."""

    root: Path
    out: Path  # the reports folder every grading wrote to
    runs: dict[str, Run]
    before: dict[str, dict[str, bytes]]  # hand-in folders before grading
    neighbour: dict[str, bytes]  # another student's report, before
    tcp: socket.socket
    udp: socket.socket


def sandbox_enforces_limits(tmp: Path) -> list[str]:
    """Why the sandbox cannot be trusted with bombs here (empty: it can)."""
    from grader.sandbox.runner import Sandbox

    module = tmp / "probe.py"
    module.write_text(PROBE)
    with Sandbox(module) as sandbox:
        reply = sandbox.request({"op": "call", "fn": "probe", "seed": 0}, [])
    if reply.failure is not None:
        return [f"the probe failed: {reply.failure}"]
    uid, nproc, memory = reply.value[0]
    problems = []
    if uid == 0:
        problems.append("the sandbox runs as root")
    if not 0 < nproc <= 64:
        problems.append(f"process limit {nproc}")
    if not 0 < memory <= 8 << 30:
        problems.append(f"address-space limit {memory}")
    return problems


def _listeners() -> tuple[socket.socket, socket.socket, int]:
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    port = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    tcp.setblocking(False)
    udp.setblocking(False)
    return tcp, udp, port


@pytest.fixture(scope="module")
def sandbox_ready(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Hostile code runs only in a sandbox that enforces its limits: as root
    it must (fail otherwise); elsewhere these tests cannot run (skip)."""
    refused = sandbox_enforces_limits(tmp_path_factory.mktemp("probe"))
    if refused and os.geteuid() == 0:
        pytest.fail(f"not running hostile code: {'; '.join(refused)}")
    if refused:
        pytest.skip(f"the sandbox has no limits without root: {'; '.join(refused)}")


@pytest.fixture(scope="module")
def graded(
    sandbox_ready: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Session]:
    """Grade every hostile hand-in once, WORKERS at a time, slowest first."""
    root = tmp_path_factory.mktemp("hostile")
    tcp, udp, port = _listeners()
    token = f"{os.getpid()}{int(time.time()) % 10000}"
    out = root / "reports"
    source = handins.reference_text()

    neighbour = out / "neighbour"
    neighbour.mkdir(parents=True)
    (neighbour / "index.html").write_text("<p>another student's report</p>")
    (neighbour / "result.json").write_text('{"score": 42}')
    previous = out / "write-report-folder"
    previous.mkdir()
    (previous / "index.html").write_text("<p>the previous report</p>")

    jobs: list[tuple[str, Attack | None, bool]] = [("clean", None, False)]
    jobs += [("clean-trained", None, True)]
    jobs += [(a.kind, a, False) for a in hostile.ATTACKS]
    jobs += [(a.kind, a, True) for a in (*hostile.TRAINED_ATTACKS, ZERO, FORGED_DATA)]
    folders = {}
    for kind, attack, trained in jobs:
        own = Targets(out, root / "results" / f"{kind}.json", port, token)
        folders[kind] = (*hostile.build(attack, root, own, source, trained), own)
    _forged_data(folders[FORGED_DATA.kind][0])
    before = {kind: hostile.snapshot(f[0]) for kind, f in folders.items()}
    neighbour_before = hostile.snapshot(neighbour)

    def grade(job: tuple[str, Attack | None, bool]) -> Run:
        kind, attack, trained = job
        folder, module, own = folders[kind]
        return hostile.run_grade(
            kind,
            folder,
            module,
            out,
            own.json,
            quick=not trained,
            train_seconds=hostile.TRAINER_SECONDS if trained else None,
            call_seconds=attack.call_seconds if attack else None,
            memory_mb=attack.memory_mb if attack else None,
        )

    # the import-hang sandbox lives 60 s: the slowest, and the one that
    # read-other-sandboxes looks for, so both start first
    first = ("import-hang", "read-other-sandboxes")
    jobs.sort(key=lambda j: (j[0] not in first, not j[2]))
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        runs = {run.kind: run for run in pool.map(grade, jobs)}
    if os.environ.get("HOSTILE_TIMES"):  # with -s: each grading's cost
        for run in sorted(runs.values(), key=lambda r: -r.seconds):
            print(f"{run.kind:34s} {run.seconds:6.1f} s {run.peak_rss >> 20:6d} MiB")
    try:
        yield Session(root, out, runs, before, neighbour_before, tcp, udp)
    finally:
        tcp.close()
        udp.close()


def _clean(graded: Session, attack: Attack) -> Run:
    return graded.runs["clean-trained" if attack.trained else "clean"]


def _marks(attack: Attack) -> list[pytest.MarkDecorator]:
    if attack.kind not in KNOWN:
        return []
    reason = KNOWN[attack.kind][0]
    return [pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)]


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param(a, id=a.kind, marks=_marks(a))
        for a in hostile.ATTACKS + hostile.TRAINED_ATTACKS
    ],
)
def test_attack_costs_only_what_it_breaks(graded: Session, attack: Attack) -> None:
    run = graded.runs[attack.kind]
    problems = hostile.all_problems(attack, run, _clean(graded, attack))
    folder = graded.root / "handins" / attack.kind
    if hostile.snapshot(folder) != graded.before[attack.kind]:
        problems.append(f"the hand-in's own folder {folder} changed")
    command = " ".join(
        hostile.grade_command(
            folder,
            Path("/tmp/reports"),
            Path("/tmp/result.json"),
            quick=not attack.trained,
            train_seconds=hostile.TRAINER_SECONDS if attack.trained else None,
            call_seconds=attack.call_seconds,
            memory_mb=attack.memory_mb,
        )
    )
    report = f"{attack.kind} ({command}):\n" + "\n".join(problems)
    if attack.kind in KNOWN:
        symptoms = KNOWN[attack.kind][1]
        if any(not any(s in p for s in symptoms) for p in problems):
            pytest.fail(f"beyond the known fault: {report}")
    assert not problems, report


def test_clean_hand_ins_pass_every_check(graded: Session) -> None:
    """The baselines themselves: without an attack, full marks (the trainers
    skipped under --quick), so every difference above is the attack's."""
    for kind in ("clean", "clean-trained"):
        run = graded.runs[kind]
        assert not hostile.exit_problems(run), kind
        statuses = {c["status"] for c in run.checks().values()}
        assert statuses == ({"pass", "skipped"} if kind == "clean" else {"pass"})


def test_nothing_forged_outside_the_sandbox(graded: Session) -> None:
    """The reports folder holds only the grader's reports; a neighbour's is
    untouched; no parent of a scratch folder got a forged file."""
    out = graded.out
    assert hostile.snapshot(out / "neighbour") == graded.neighbour
    forged = [
        str(path)
        for path in out.rglob("*")
        if path.is_file() and hostile.FORGED.encode() in path.read_bytes()
    ]
    forged += [
        str(path)
        for path in (graded.root / "results").iterdir()
        if hostile.FORGED.encode() in path.read_bytes()
    ]
    from grader.sandbox import isolation

    for folder in (isolation.SCRATCH_ROOT, *isolation.SCRATCH_ROOT.parents):
        for name in ("results.json", "result.json", "grade.json", "index.html"):
            path = folder / name
            if path.is_file() and hostile.FORGED.encode() in path.read_bytes():
                forged.append(str(path))
    assert not forged
    assert (
        "the previous report"
        not in (out / "write-report-folder" / "index.html").read_text()
    )


def test_network_listeners_heard_nothing(graded: Session) -> None:
    """The child has no network: our listeners on 127.0.0.1 got nothing,
    though they work (a connection from this process is accepted)."""
    with pytest.raises(BlockingIOError):
        graded.tcp.accept()
    with pytest.raises(BlockingIOError):
        graded.udp.recv(64)
    port = graded.tcp.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        time.sleep(0.1)
        connection, _ = graded.tcp.accept()
        connection.close()


def test_import_of_the_grader_is_warned(graded: Session) -> None:
    run = graded.runs["read-reference"]
    assert run.result is not None
    assert any("tried to import reference" in w for w in run.result["warnings"])


# -- a hand-in's own data files ----------------------------------------------


def test_a_hand_in_cannot_supply_its_own_test_set(graded: Session) -> None:
    """Trainers that return zeros fail on the course data; beside a forged
    mnist_test.mat (every label 0) they must fail just the same."""
    honest, forged = graded.runs["zero-trainers"], graded.runs["forged-data-set"]
    broken = hostile.exit_problems(honest) + hostile.exit_problems(forged)
    honest_checks, forged_checks = honest.checks(), forged.checks()
    if broken or {honest_checks[t]["status"] for t in handins.TRAINERS} != {"fail"}:
        pytest.fail(f"the baseline is not as expected: {broken}")
    passed = [t for t in handins.TRAINERS if forged_checks[t]["status"] == "pass"]
    assert not passed, (
        f"with its own mnist_test.mat, {passed} pass "
        f"(data: {forged.result and forged.result['data']})"
    )


# -- a grader killed mid-run ---------------------------------------------------

SLOW_TRAINER = """
def train_slp_linear(mini_batch_x, mini_batch_y):
    import time
    for k in range(100_000):  # ends by itself after two minutes or so
        mini_batch_x[k % len(mini_batch_x)]
        time.sleep(0.001)
"""
# The same, after leaving a sleeper in a session of its own (adopted by init).
DETACHING_TRAINER = """
def train_slp_linear(mini_batch_x, mini_batch_y):
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(150)
        os._exit(0)
    os.wait()
    for k in range(100_000):  # ends by itself after two minutes or so
        mini_batch_x[k % len(mini_batch_x)]
        time.sleep(0.001)
"""


def _training(module: str) -> bool:
    """Whether a sandbox of this module runs a trainer: the child opens
    .runtime/progress (its count of fetched mini-batches) when training."""
    from grader.sandbox import isolation

    return any(
        (path.parent.parent / ".runtime" / "progress").exists()
        for path in isolation.SCRATCH_ROOT.glob(f"*/work/{module}")
    )


def _wait_for(condition: Callable[[], object], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@dataclass(frozen=True)
class Killed:
    """A grader SIGKILLed while a trainer trained, and what it left."""

    report: Path
    previous: dict[str, bytes]
    json_file: Path
    marker: str
    before: list[hostile.Process]  # the sandbox's processes just before


def _kill_while_training(tmp_path: Path, trainer: str, kind: str) -> Killed:
    """Grade a hand-in whose train_slp_linear is `trainer`, over a previous
    complete report, and SIGKILL `grade` once the trainer runs."""
    token = f"{os.getpid()}{int(time.time()) % 10000}"
    module = f"hostile_{kind}_{token}.py"
    folder = tmp_path / kind
    folder.mkdir()
    text = hostile.module_text(handins.reference_text(), trainers=trainer)
    (folder / module).write_text(text)
    report = tmp_path / "reports" / kind
    report.mkdir(parents=True)
    previous = {"index.html": b"<p>previous</p>", "result.json": b'{"score": 1}'}
    for name, content in previous.items():
        (report / name).write_bytes(content)
    json_file = tmp_path / "result.json"
    command = hostile.grade_command(
        folder, report.parent, json_file, quick=False, train_seconds=120
    )
    proc = subprocess.Popen(
        command,
        cwd=hostile.REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker = Path(module).stem
    try:
        if not _wait_for(lambda: _training(module), 90):
            pytest.fail("the trainer never started")
        time.sleep(1.0)
        before = hostile.sandbox_processes(marker)
    except BaseException:
        proc.kill()
        proc.wait(timeout=10)
        hostile.kill_survivors(marker)
        raise
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    return Killed(report, previous, json_file, marker, before)


def test_sigkilled_grader_leaves_whole_reports_and_no_child(
    sandbox_ready: None, tmp_path: Path
) -> None:
    """Kill `grade` while a trainer trains: the reports folder holds the
    previous complete report (temporary files aside), no half-written JSON,
    and the sandbox's child dies with the grader."""
    killed = _kill_while_training(tmp_path, SLOW_TRAINER, "sigkill")
    try:
        assert killed.before, "no sandbox process seen while training"
        for name, content in killed.previous.items():
            path = killed.report / name
            assert not path.exists() or path.read_bytes() == content, name
        strays = [
            p.name
            for p in killed.report.iterdir()
            if p.name not in killed.previous and not p.name.startswith(".")
        ]
        assert not strays
        assert not killed.json_file.exists()
        gone = _wait_for(lambda: not hostile.sandbox_processes(killed.marker), 10)
        assert gone, hostile.sandbox_processes(killed.marker)
    finally:
        hostile.kill_survivors(killed.marker)


def test_sigkilled_grader_leaves_no_detached_descendant(
    sandbox_ready: None, tmp_path: Path
) -> None:
    """The same with a trainer that first detached a sleeper: nothing of the
    sandbox may outlive the grader for long (the sleeper ends by itself after
    150 s; this test kills it by pid when done)."""
    killed = _kill_while_training(tmp_path, DETACHING_TRAINER, "sigkill_detached")
    try:
        if len(killed.before) < 2:
            pytest.fail(f"the sleeper was not running: {killed.before}")
        gone = _wait_for(lambda: not hostile.sandbox_processes(killed.marker), 10)
        survivors = hostile.sandbox_processes(killed.marker)
        assert gone, f"outlived the SIGKILLed grader: {survivors}"
    finally:
        hostile.kill_survivors(killed.marker)
