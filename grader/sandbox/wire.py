"""The message format between the grader and its sandboxed child.

A message is a JSON header followed by binary blobs, each one length-prefixed
(8 bytes, big-endian). Arrays travel as `.npy` bytes and are read back with
pickles refused; everything else in a value is plain JSON. The child side loads
this file by path, so it imports nothing beyond the standard library and NumPy.

A value tree encodes as:
    {"t": "nd", "i": k}          the k-th blob, an .npy array
    {"t": "list" | "tuple", "v": [...]}
    {"t": "dict", "v": [[key, value], ...]}   (string keys only)
    {"t": "num", "v": x}         Python int, float (as repr for nan/inf) or bool
    {"t": "none"} | {"t": "str", "v": s}
    {"t": "other", "type": name, "repr": text}   anything else, for the message
"""

from __future__ import annotations

import io
import json
import os
import select
import struct
import time
from typing import Any

import numpy as np

_LEN = struct.Struct(">Q")
MAX_MESSAGE_BYTES = 1 << 30
# Headers are small (arrays travel as blobs); a larger one is an attack on the
# grader's memory, since parsing JSON takes many times its size.
MAX_HEADER_BYTES = 4 << 20
_REPR_CHARS = 200


class WireError(Exception):
    """The other side sent something that is not a well-formed message."""


class WireTimeoutError(Exception):
    """No complete message arrived before the deadline."""


class WireClosedError(Exception):
    """The other side closed the channel (usually: the process ended)."""


def encode(value: Any) -> tuple[Any, list[bytes]]:
    """Turn a Python value into a JSON-able tree and its list of .npy blobs."""
    blobs: list[bytes] = []
    return _encode(value, blobs, depth=0), blobs


def _encode(value: Any, blobs: list[bytes], depth: int) -> Any:
    if depth > 20:
        return {"t": "other", "type": "deep", "repr": "nested more than 20 levels"}
    if isinstance(value, np.ndarray | np.generic):
        # np.asarray drops ndarray subclasses: only plain data crosses.
        array = np.asarray(value)
        if array.dtype.hasobject:
            return {"t": "other", "type": "object array", "repr": _short(value)}
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        blobs.append(buffer.getvalue())
        return {"t": "nd", "i": len(blobs) - 1}
    if isinstance(value, bool | int | float) and type(value) in (bool, int, float):
        if isinstance(value, float) and not np.isfinite(value):
            return {"t": "num", "v": repr(value)}
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and abs(value) > 2**62
        ):
            return {"t": "num", "v": float(value)}
        return {"t": "num", "v": value}
    if value is None:
        return {"t": "none"}
    if type(value) is str:
        return {"t": "str", "v": value[:_REPR_CHARS]}
    if type(value) in (list, tuple):
        kind = "list" if type(value) is list else "tuple"
        return {"t": kind, "v": [_encode(v, blobs, depth + 1) for v in value[:10000]]}
    if type(value) is dict:
        items = [[str(k), _encode(v, blobs, depth + 1)] for k, v in value.items()]
        return {"t": "dict", "v": items[:1000]}
    return {"t": "other", "type": type(value).__name__[:80], "repr": _short(value)}


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except BaseException as err:  # noqa: BLE001 - a hostile __repr__ must not break encoding
        text = f"<unprintable: {type(err).__name__}>"
    return text[:_REPR_CHARS]


class Opaque:
    """A returned object that is not data (a function, a custom class...)."""

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"


def decode(tree: Any, blobs: list[bytes]) -> Any:
    """Rebuild a value from its tree; arrays are loaded with pickles refused."""
    if not isinstance(tree, dict) or "t" not in tree:
        raise WireError(f"malformed value node {str(tree)[:80]!r}")
    kind = tree["t"]
    if kind == "nd":
        index = tree.get("i")
        if not isinstance(index, int) or not 0 <= index < len(blobs):
            raise WireError("array reference out of range")
        try:
            array = np.load(io.BytesIO(blobs[index]), allow_pickle=False)
        except Exception as err:
            raise WireError(f"unreadable array: {err}") from err
        if not isinstance(array, np.ndarray) or type(array) is not np.ndarray:
            raise WireError("array blob is not a plain ndarray")
        return array
    if kind == "num":
        number = tree.get("v")
        if isinstance(number, str):
            return float(number)
        if not isinstance(number, bool | int | float):
            raise WireError("malformed number")
        return number
    if kind == "none":
        return None
    if kind == "str":
        return str(tree.get("v", ""))
    if kind in ("list", "tuple"):
        items = [decode(v, blobs) for v in tree.get("v", [])]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {str(k): decode(v, blobs) for k, v in tree.get("v", [])}
    if kind == "other":
        return Opaque(str(tree.get("type", "?")), str(tree.get("repr", "")))
    raise WireError(f"unknown value kind {kind!r}")


def pack(header: dict[str, Any], blobs: list[bytes]) -> bytes:
    """Serialise one message: header JSON and blobs, each length-prefixed."""
    header = dict(header, nblobs=len(blobs))
    raw = json.dumps(header).encode()
    parts = [_LEN.pack(len(raw)), raw]
    for blob in blobs:
        parts += [_LEN.pack(len(blob)), blob]
    return b"".join(parts)


def send(fd: int, header: dict[str, Any], blobs: list[bytes]) -> None:
    """Write one whole message to a file descriptor."""
    view = memoryview(pack(header, blobs))
    while view:
        written = os.write(fd, view)
        view = view[written:]


def receive(
    fd: int, deadline: float | None = None, limit: int = MAX_MESSAGE_BYTES
) -> tuple[dict[str, Any], list[bytes]]:
    """Read one message; `deadline` is a time.monotonic() value or None.

    Raises WireTimeoutError past the deadline, WireClosedError at end of file and
    WireError for a malformed or oversized message (more than `limit` bytes).
    """
    reader = _Reader(fd, deadline)
    size = _LEN.unpack(reader.read(_LEN.size))[0]
    if size > min(limit, MAX_HEADER_BYTES):
        raise WireError(f"message header of {size} bytes")
    try:
        header = json.loads(reader.read(size))
    except ValueError as err:
        raise WireError(f"header is not JSON: {err}") from err
    if not isinstance(header, dict):
        raise WireError("header is not a JSON object")
    count = header.get("nblobs", 0)
    if not isinstance(count, int) or count < 0 or count > 100000:
        raise WireError("bad blob count")
    blobs, total = [], size
    for _ in range(count):
        length = _LEN.unpack(reader.read(_LEN.size))[0]
        total += length
        if total > limit:
            raise WireError(f"answer larger than {limit >> 20} MiB")
        blobs.append(reader.read(length))
    return header, blobs


class _Reader:
    """Exact reads from a pipe, honouring a deadline."""

    def __init__(self, fd: int, deadline: float | None) -> None:
        self.fd = fd
        self.deadline = deadline

    def read(self, n: int) -> bytes:
        chunks, remaining = [], n
        while remaining:
            if self.deadline is not None:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise WireTimeoutError()
                ready, _, _ = select.select([self.fd], [], [], left)
                if not ready:
                    raise WireTimeoutError()
            chunk = os.read(self.fd, min(remaining, 1 << 20))
            if not chunk:
                raise WireClosedError()
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
