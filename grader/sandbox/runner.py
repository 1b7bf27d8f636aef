"""The grader's side of the sandbox: start a child, call it, survive it.

Student code runs only in a child process started here, in a scratch folder
holding a copy of the hand-in, in its own process group, under resource limits
set before it runs. Every request has a wall-clock deadline; a child that
overruns it, floods its output, dies or answers garbage is killed (the whole
process group) and the request's result says which of those happened. The next
request starts a fresh child.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.sandbox import isolation, wire

_CHILD = Path(__file__).resolve().parent / "child.py"
_RUNTIME = ("child.py", "wire.py", "standins.py", "shims.py")
# Environment passed through to the child: the rest of the grader's is not.
_KEPT_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "TMPDIR",
)


@dataclass(frozen=True)
class Limits:
    """Per-child resource limits; every value can be overridden from the CLI."""

    call_seconds: float = 30.0
    import_seconds: float = 60.0
    memory_bytes: int = 4 << 30
    output_bytes: int = 128 << 20
    file_bytes: int = 64 << 20
    answer_bytes: int = 512 << 20
    processes: int = 16


@dataclass(frozen=True)
class Failure:
    """Why a request produced no usable answer.

    cause is one of: exception (the student's code raised), timeout, exit (the
    process ended by itself), crash (killed by a signal), output-flood, garbage
    (an answer that is not a well-formed message), import (the module did not
    import), memory (MemoryError at the limit), spawned (processes left
    running after the call).
    """

    cause: str
    message: str
    exc_type: str = ""
    where: str = ""

    def text(self) -> str:
        """The failure in words, with the student's line for an exception."""
        if self.cause == "exception":
            where = f" at {self.where}" if self.where else ""
            return f"{self.exc_type}: {self.message}{where}"
        return self.message


@dataclass
class Reply:
    """One request's outcome: a value, or the failure that replaced it."""

    value: Any = None
    failure: Failure | None = None
    seconds: float = 0.0
    legacy: list[str] = field(default_factory=list)


class CapturedOutput:
    """Keeps the head and tail of everything the child printed, and counts it."""

    def __init__(self, keep: int = 16 << 10) -> None:
        self.keep = keep
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.lock = threading.Lock()

    def add(self, chunk: bytes) -> None:
        with self.lock:
            self.total += len(chunk)
            room = self.keep - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            self.tail += chunk
            del self.tail[: max(0, len(self.tail) - self.keep)]

    def text(self) -> str:
        """The kept output as text, with a marker where the middle was dropped."""
        with self.lock:
            dropped = self.total - len(self.head) - len(self.tail)
            middle = f"\n[... {dropped:,} bytes not kept ...]\n" if dropped > 0 else ""
            raw = bytes(self.head).decode("utf-8", "replace")
            return raw + middle + bytes(self.tail).decode("utf-8", "replace")


def _enter_sandbox(
    limits: Limits, plan: isolation.Plan, python_dir: str, binds: list[tuple[str, str]]
) -> Callable[[], None]:
    """What the forked child does before exec: limits, then isolation."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if plan.uid is not None:
            # counted per user: it holds once the child is no longer root
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes,) * 2)
        isolation.enter(plan, python_dir, binds)

    return apply


class Sandbox:
    """A restartable child process that has imported one student module."""

    def __init__(
        self, module: Path, limits: Limits | None = None, hide: tuple[Path, ...] = ()
    ) -> None:
        self.module = module
        self.limits = limits or Limits()
        self.hide = hide
        self._lease: isolation.UidLease | None = None
        self.missing: tuple[str, ...] = ()
        self.output = CapturedOutput()
        self.hello: dict[str, Any] | None = None
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._folder: Path | None = None
        self._flood = threading.Event()
        self._call_output_start = 0
        # how many mini-batches a trainer had fetched when it was stopped
        self.progress: int | None = None

    # -- lifecycle -------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """Start a child and import the module; returns the child's hello.

        When the import itself hangs, crashes or floods, the hello is a
        synthetic one with ok False and the failure as its error.
        """
        self.close()
        self.starts += 1
        self._folder, target, plan = self._prepare()
        work = target.parent
        runtime = self._folder / ".runtime"
        python_dir = self._folder / "python"

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        out_r, out_w = os.pipe()
        env = {k: os.environ[k] for k in _KEPT_ENV if k in os.environ}
        env.update(
            HOME=str(work),
            PYTHONHASHSEED="0",
            PYTHONDONTWRITEBYTECODE="1",
            OPENBLAS_NUM_THREADS="1",
            OMP_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            MPLBACKEND="Agg",
        )
        python = sys.executable
        if plan.uid is not None:
            # the interpreter as bound into the scratch folder (see isolation)
            relative = Path(os.path.realpath(sys.executable)).relative_to(
                plan.python_home
            )
            python = str(python_dir / relative)
            env["LD_LIBRARY_PATH"] = str(python_dir / "lib")
        command = [
            python,
            "-I",
            "-X",
            "utf8",
            str(runtime / "child.py"),
            str(to_child_r),
            str(from_child_w),
            str(target),
            target.stem,
            os.pathsep.join(self._site_paths(plan)),
        ]
        self._proc = subprocess.Popen(
            command,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=out_w,
            pass_fds=(to_child_r, from_child_w),
            start_new_session=True,
            preexec_fn=_enter_sandbox(
                self.limits, plan, str(python_dir), self._site_mounts(plan)
            ),
        )
        for fd in (to_child_r, from_child_w, out_w):
            os.close(fd)
        self._to_child, self._from_child = to_child_w, from_child_r
        self._flood.clear()
        self._call_output_start = self.output.total
        threading.Thread(target=self._drain, args=(out_r,), daemon=True).start()

        deadline = time.monotonic() + self.limits.import_seconds
        try:
            header, _ = wire.receive(
                self._from_child, deadline, self.limits.answer_bytes
            )
            hello = header["hello"]
            if not isinstance(hello, dict):
                raise wire.WireError("hello is not an object")
        except (
            wire.WireError,
            wire.WireTimeoutError,
            wire.WireClosedError,
            KeyError,
        ) as err:
            failure = self._failure_from(err, self.limits.import_seconds)
            self.close()
            hello = {
                "ok": False,
                "error": {
                    "type": failure.cause,
                    "message": failure.message,
                    "where": "",
                },
                "functions": {},
            }
        self.hello = hello
        return hello

    def _prepare(self) -> tuple[Path, Path, isolation.Plan]:
        """The scratch folder: the runtime, a copy of the hand-in, mount points."""
        if self._lease is None and isolation.available()[0]:
            self._lease = isolation.UidLease()
        scratch = None
        if self._lease is not None:
            isolation.SCRATCH_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
            scratch = isolation.SCRATCH_ROOT
        folder = Path(tempfile.mkdtemp(prefix="hw4-sandbox-", dir=scratch))
        runtime = folder / ".runtime"
        work = folder / "work"
        for sub_folder in (runtime, work, folder / "python"):
            sub_folder.mkdir()
        for name in _RUNTIME:
            shutil.copy2(_CHILD.parent / name, runtime / name)
        for source in self.module.parent.glob("*.py"):
            # never a link: the grader copies as root, and a link could point
            # at the reference or another student's work
            if source.is_file() and not source.is_symlink():
                shutil.copyfile(source, work / source.name, follow_symlinks=False)
        target = work / self.module.name
        plan = isolation.plan(self._hidden(folder), self._lease)
        if plan.uid is not None:
            # the child's own folder, closed to every other sandbox's user
            os.chown(folder, plan.uid, plan.uid)
            os.chmod(folder, 0o700)
            for path in (runtime, work, *work.iterdir()):
                os.chown(path, plan.uid, plan.uid)
            for index, _ in enumerate(self._site_sources(plan)):
                (folder / f"site{index}").mkdir()
        self.missing = plan.missing
        return folder, target, plan

    def _hidden(self, folder: Path) -> list[Path]:
        """Folders the child must not see: the grader, the reference, /root."""
        import grader
        import reference

        packages = [Path(grader.__file__).parent, Path(reference.__file__).parent]
        project = packages[0].parent
        candidates = [*packages, Path("/root"), *self.hide]
        if (project / "pyproject.toml").exists():
            candidates.append(project)
        keep = {folder, *folder.parents}
        return [c.resolve() for c in candidates if c.resolve() not in keep]

    def _site_sources(self, plan: isolation.Plan) -> list[Path]:
        """Folders holding NumPy and SciPy outside the interpreter's own prefix."""
        import numpy
        import scipy

        found = []
        for module in (numpy, scipy):
            site = Path(module.__file__).resolve().parents[1]
            if plan.python_home and site.is_relative_to(plan.python_home):
                continue
            if site not in found:
                found.append(site)
        return found

    def _site_paths(self, plan: isolation.Plan) -> list[str]:
        """Where the child finds NumPy and SciPy, as it sees the filesystem."""
        import numpy
        import scipy

        if plan.uid is None:
            sites = {str(Path(m.__file__).resolve().parents[1]) for m in (numpy, scipy)}
            return sorted(sites)
        assert self._folder is not None
        paths = [
            str(self._folder / f"site{i}")
            for i, _ in enumerate(self._site_sources(plan))
        ]
        return paths

    def _site_mounts(self, plan: isolation.Plan) -> list[tuple[str, str]]:
        if plan.uid is None or self._folder is None:
            return []
        return [
            (str(source), str(self._folder / f"site{i}"))
            for i, source in enumerate(self._site_sources(plan))
        ]

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def close(self) -> None:
        """Kill the child's whole process group (and, when it has a user of its
        own, every process of that user) and remove its scratch folder."""
        if self._lease is not None:
            isolation.kill_user(self._lease.uid)
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
            for fd in (self._to_child, self._from_child):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._proc = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Close the child and give its user id back."""
        self.close()
        if self._lease is not None:
            self._lease.release()
            self._lease = None

    # -- requests --------------------------------------------------------

    def request(
        self, header: dict[str, Any], args: Any = None, seconds: float | None = None
    ) -> Reply:
        """Send one request and wait for its answer, at most `seconds`."""
        if not self.alive:
            hello = self.start()
            if not hello.get("ok"):
                error = hello.get("error") or {}
                return Reply(failure=Failure("import", error.get("message", "")))
        limit = seconds if seconds is not None else self.limits.call_seconds
        blobs: list[bytes] = []
        if args is not None:
            header = dict(header)
            header["args"], blobs = wire.encode(args)
        self._call_output_start = self.output.total
        started = time.monotonic()
        try:
            wire.send(self._to_child, header, blobs)
            reply, answer_blobs = wire.receive(
                self._from_child, started + limit, self.limits.answer_bytes
            )
        except (
            OSError,
            wire.WireError,
            wire.WireTimeoutError,
            wire.WireClosedError,
        ) as err:
            failure = self._failure_from(err, limit)
            self.progress = self._read_progress()
            self.close()
            return Reply(failure=failure, seconds=time.monotonic() - started)
        elapsed = time.monotonic() - started
        if self._lease is not None and self._proc is not None:
            left = isolation.processes_of(self._lease.uid, self._proc.pid)
            if left:
                self.close()
                message = (
                    f"left {len(left)} child process(es) running after it returned"
                )
                return Reply(failure=Failure("spawned", message), seconds=elapsed)
        legacy = [str(x) for x in reply.get("legacy", []) if isinstance(x, str)]
        if not reply.get("ok"):
            error = reply.get("error") or {}
            if error.get("type") == "MemoryError":
                # the child may hold what it allocated: start afresh
                self.close()
                limit_mib = self.limits.memory_bytes >> 20
                message = (
                    f"ran out of memory (MemoryError at the {limit_mib} MiB limit)"
                )
                return Reply(failure=Failure("memory", message), seconds=elapsed)
            failure = Failure(
                "exception",
                str(error.get("message", "")),
                str(error.get("type", "")),
                str(error.get("where", "")),
            )
            return Reply(failure=failure, seconds=elapsed, legacy=legacy)
        try:
            value = wire.decode(reply.get("value"), answer_blobs)
        except (wire.WireError, RecursionError) as err:
            self.close()
            return Reply(failure=Failure("garbage", str(err)), seconds=elapsed)
        return Reply(value=value, seconds=elapsed, legacy=legacy)

    def _failure_from(self, err: BaseException, limit: float) -> Failure:
        """Name what happened to a child that did not answer."""
        if self._flood.is_set():
            return Failure(
                "output-flood",
                f"printed more than {self.limits.output_bytes >> 20} MiB in one call",
            )
        if isinstance(err, wire.WireTimeoutError):
            return Failure("timeout", f"no answer within the {limit:g} s limit")
        if isinstance(err, wire.WireError):
            return Failure("garbage", f"unusable answer: {err}")
        status = self._exit_status()
        if status is None:
            return Failure("crash", f"the channel to the process broke ({err})")
        if status < 0:
            name = (
                signal.Signals(-status).name
                if -status in signal.valid_signals()
                else ""
            )
            hint = " (often: out of memory)" if -status == signal.SIGKILL else ""
            return Failure(
                "crash", f"the process was killed by signal {name or -status}{hint}"
            )
        return Failure("exit", f"the process exited (status {status}) without a result")

    def _read_progress(self) -> int | None:
        if self._folder is None:
            return None
        try:
            return int((self._folder / ".runtime" / "progress").read_text())
        except (OSError, ValueError):
            return None

    def _exit_status(self) -> int | None:
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None

    def _drain(self, fd: int) -> None:
        """Collect the child's output; kill it when one call prints too much."""
        proc = self._proc
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            self.output.add(chunk)
            if self.output.total - self._call_output_start > self.limits.output_bytes:
                self._flood.set()
                if proc is not None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, signal.SIGKILL)
                break
        os.close(fd)
