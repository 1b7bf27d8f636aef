"""Unpacking a student's zip file without trusting it.

A zip from a student may name paths outside the folder it is unpacked into
(`../../x`, `/etc/x`), hold links, declare one size and inflate to another,
or hold thousands of files. Only the files the grader needs are taken
(`wanted` suffixes), each written under `dest` at its own relative path, with
counts and sizes capped; anything refused is named in the returned notes.
"""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

MAX_MEMBERS = 2000
MAX_FILE_BYTES = 32 << 20
MAX_TOTAL_BYTES = 256 << 20
_CHUNK = 1 << 16


def safe_relative(name: str) -> PurePosixPath | None:
    """The member's path when it stays inside the folder, else None."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or not path.parts or ".." in path.parts:
        return None
    if ":" in path.parts[0]:  # a Windows drive
        return None
    return path


def extract(
    archive: Path, dest: Path, wanted: Callable[[PurePosixPath], bool]
) -> tuple[list[Path], list[str]]:
    """Unpack the wanted members of `archive` under `dest`.

    Returns the files written and notes on what was refused.
    """
    written: list[Path] = []
    notes: list[str] = []
    try:
        with zipfile.ZipFile(archive) as handle:
            members = handle.infolist()
            if len(members) > MAX_MEMBERS:
                return [], [
                    f"{archive.name}: {len(members)} entries, more than "
                    f"{MAX_MEMBERS}; not unpacked"
                ]
            total = 0
            for member in members:
                relative = safe_relative(member.filename)
                if member.is_dir() or relative is None:
                    if relative is None:
                        notes.append(f"{archive.name}: unsafe path {member.filename!r}")
                    continue
                if stat.S_ISLNK(member.external_attr >> 16):
                    notes.append(f"{archive.name}: link {member.filename!r} skipped")
                    continue
                if not wanted(relative):
                    continue
                target = dest.joinpath(*relative.parts)
                size = _copy(handle, member, target)
                if size is None:
                    notes.append(
                        f"{archive.name}: {member.filename!r} larger than "
                        f"{MAX_FILE_BYTES >> 20} MiB; skipped"
                    )
                    continue
                total += size
                if total > MAX_TOTAL_BYTES:
                    target.unlink(missing_ok=True)
                    notes.append(
                        f"{archive.name}: more than "
                        f"{MAX_TOTAL_BYTES >> 20} MiB unpacked; stopped"
                    )
                    break
                written.append(target)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as err:
        notes.append(f"{archive.name}: not a readable zip file ({err})")
    except NotImplementedError as err:  # compression methods zipfile lacks
        notes.append(f"{archive.name}: cannot be unpacked ({err})")
    return written, notes


def _copy(handle: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path) -> int | None:
    """Write one member, counting what it inflates to (not what it declares)."""
    if member.file_size > MAX_FILE_BYTES:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with handle.open(member) as source, open(target, "wb") as out:
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                break
            out.write(chunk)
    if size > MAX_FILE_BYTES:
        target.unlink(missing_ok=True)
        return None
    return size
