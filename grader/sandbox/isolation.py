"""What the operating system lets the sandbox take away from a child.

Running as root on Linux, each child gets, before it runs a line of Python:
- its own network namespace (no interface but a downed loopback: no network);
- its own mount namespace, in which the grader's code, the reference and the
  reports folder are covered by empty read-only folders, and the interpreter
  is bind-mounted into the scratch folder (it lives under /root, which an
  unprivileged user cannot enter);
- private, size-limited /tmp, /var/tmp and /dev/shm, so what it writes there
  vanishes with it and its scratch folder's parents are not writable;
- an unprivileged user id of its own, leased for this child alone, so that the
  process-count limit applies (root ignores it), every process the child
  starts, detached or not, can be found and killed by that id, and files
  outside the scratch folder are read-only to it.
Elsewhere (not root, not Linux) the child runs as the grader's own user and
each missing protection is named, so the report can say so.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1

# Scratch folders of isolated children: outside /tmp, which each child gets
# as a private, size-limited tmpfs of its own.
SCRATCH_ROOT = Path("/var/lib/hw4-grader")
PRIVATE_TMP = (b"/tmp", b"/var/tmp", b"/dev/shm")

# Sandbox user ids are leased from this range; a lock file per id keeps two
# graders on one machine from sharing one.
UID_BASE, UID_COUNT = 61000, 2000
LEASES = Path("/tmp/hw4-grader-uids")


@dataclass(frozen=True)
class Plan:
    """The protections one child gets, and the ones it cannot get here."""

    uid: int | None = None
    network: bool = False
    hidden: tuple[str, ...] = ()
    python_home: str = ""  # the interpreter's prefix, bound into the scratch folder
    missing: tuple[str, ...] = ()


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


@functools.cache
def available() -> tuple[bool, str]:
    """Whether this process can build the full sandbox, and if not, why.

    Root is not enough (a container without CAP_SYS_ADMIN refuses new
    namespaces): a forked probe tries them once.
    """
    if not sys.platform.startswith("linux"):
        return False, "not Linux"
    if os.geteuid() != 0:
        return False, "the grader does not run as root"
    if _LIBC is None:
        return False, "no C library to call unshare() and mount()"
    pid = os.fork()
    if pid == 0:
        ok = _LIBC.unshare(CLONE_NEWNS | CLONE_NEWNET) == 0
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return False, "this machine refuses new namespaces (no CAP_SYS_ADMIN?)"
    return True, ""


class UidLease:
    """An exclusive lease of one sandbox user id, held by a lock file."""

    def __init__(self) -> None:
        LEASES.mkdir(mode=0o700, exist_ok=True)
        start = (os.getpid() * 7919 + int(time.monotonic() * 1000)) % UID_COUNT
        for offset in range(UID_COUNT):
            uid = UID_BASE + (start + offset) % UID_COUNT
            handle = open(LEASES / str(uid), "w")  # noqa: SIM115 - held for the lease
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self.uid = uid
            self._handle = handle
            # a grader killed outright (SIGKILL) cannot clean up: whatever it
            # left under this id goes now
            kill_user(uid)
            _remove_stale_folders(uid)
            self._lifeline, self._watchdog = _watchdog(uid)
            return
        raise RuntimeError("no free sandbox user id")

    def release(self) -> None:
        kill_user(self.uid)
        with contextlib.suppress(OSError):
            os.close(self._lifeline)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self._watchdog, 0)
        with contextlib.suppress(OSError):
            self._handle.close()


def _remove_stale_folders(uid: int) -> None:
    """Scratch folders of this id that a killed grader left behind."""
    if not SCRATCH_ROOT.is_dir():
        return
    for folder in SCRATCH_ROOT.iterdir():
        with contextlib.suppress(OSError):
            if folder.stat().st_uid == uid:
                shutil.rmtree(folder, ignore_errors=True)


def _watchdog(uid: int) -> tuple[int, int]:
    """A process that kills every process of `uid` once the grader is gone.

    It waits on a pipe whose only writer is the grader (the returned
    descriptor, with the watchdog's pid): when the grader closes it, or dies
    even by SIGKILL and the kernel closes it, the read returns and the
    watchdog sends the kill. So a hand-in's detached processes do not outlive
    a killed grader.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.closerange(0, read_end)
            os.closerange(read_end + 1, 65536)
            os.setsid()
            while os.read(read_end, 1):
                pass
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.close(read_end)
    os.set_inheritable(write_end, False)
    return write_end, pid


def kill_user(uid: int) -> None:
    """Kill every process of `uid`, wherever it went (new session, reparented).

    A helper process takes that uid and sends SIGKILL to -1: the kernel
    delivers it to every process the uid owns, in one step, so nothing can
    fork its way out between a scan and a kill.
    """
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def processes_of(uid: int, besides: int) -> list[int]:
    """Processes of `uid` other than `besides` (the child itself).

    Only pids above the child's are read: what the child starts comes after
    it (pid wrap-around aside, which merely delays the finding to close()).
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) <= besides:
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"Uid:"):
                        if int(line.split()[1]) == uid:
                            found.append(int(entry))
                        break
        except OSError:
            continue
    return found


def plan(hidden: list[Path], lease: UidLease | None) -> Plan:
    ok, why = available()
    if not ok or lease is None:
        return Plan(
            missing=(
                f"separate user and process-count limit ({why})",
                f"no network ({why})",
                f"grader files hidden from the hand-in ({why})",
            )
        )
    return Plan(
        uid=lease.uid,
        network=True,
        hidden=tuple(str(p) for p in hidden if p.is_dir()),
        python_home=sys.base_prefix,
    )


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _hidden_views(
    plan: Plan, python_mount: str, binds: list[tuple[str, str]]
) -> list[bytes]:
    """Each hidden folder, and where a bind mount shows it again."""
    sources = [(plan.python_home, python_mount), *binds]
    views = []
    for folder in plan.hidden:
        views.append(folder)
        for source, target in sources:
            if folder == source or folder.startswith(source.rstrip("/") + "/"):
                views.append(target + folder[len(source) :])
    return [v.encode() for v in views if os.path.isdir(v)]


def enter(plan: Plan, python_mount: str, binds: list[tuple[str, str]]) -> None:
    """In the forked child, before exec: namespaces, mounts, then the user.

    Runs between fork and exec (subprocess preexec_fn), so it only calls the
    C library and the os module.
    """
    if plan.uid is None or _LIBC is None:
        return
    libc = _LIBC
    flags = CLONE_NEWNS | (CLONE_NEWNET if plan.network else 0)
    _check(libc.unshare(flags), "unshare")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "private")
    read_only = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
    for source, target in [(plan.python_home, python_mount), *binds]:
        _check(
            libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None),
            f"bind {source}",
        )
        _check(libc.mount(None, target.encode(), None, read_only, None), "read-only")
    hidden = _hidden_views(plan, python_mount, binds)
    # a folder inside another hidden folder is hidden with it: cover the
    # deepest first, or the outer mount would hide the inner mount point
    for folder in sorted(hidden, key=len, reverse=True):
        _check(
            libc.mount(b"tmpfs", folder, b"tmpfs", MS_RDONLY | MS_NOSUID, b"size=4k"),
            "hide",
        )
    for folder in PRIVATE_TMP:
        if os.path.isdir(folder):
            _check(
                libc.mount(
                    b"tmpfs",
                    folder,
                    b"tmpfs",
                    MS_NOSUID | MS_NODEV,
                    b"size=64m,mode=1777",
                ),
                "private tmp",
            )
    os.setgroups([])
    os.setgid(plan.uid)
    os.setuid(plan.uid)
    # after setuid, which clears it: the child dies with the grader
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
