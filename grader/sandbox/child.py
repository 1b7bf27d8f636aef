"""The sandboxed child: imports a student module and answers calls on it.

Run by the grader as `python -I child.py PROTO_IN PROTO_OUT MODULE_PATH NAME`
in a scratch folder, under the limits the grader set. It speaks only through
the two protocol descriptors; whatever the student prints goes to stdout and
stderr, which the grader captures. Nothing here is trusted by the grader: every
answer is checked as plain data on the other side.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import random
import sys
import time
import traceback
import types
from pathlib import Path
from typing import Any

if __name__ == "__main__" and len(sys.argv) > 5:
    # NumPy and SciPy where the grader found them (bound read-only into the
    # scratch folder when the child has a user of its own): before importing
    # first, so that they win over another copy in the interpreter's own
    sys.path[0:0] = [p for p in sys.argv[5].split(os.pathsep) if p]

import numpy as np  # noqa: E402

_HERE = Path(__file__).resolve().parent


def _load_sibling(name: str) -> types.ModuleType:
    # Loaded by path under a private name: the sandbox folder is never put on
    # sys.path, so student code cannot shadow or import these helpers by name.
    spec = importlib.util.spec_from_file_location(
        f"_hw_sandbox_{name}", _HERE / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


wire = _load_sibling("wire")
standins = _load_sibling("standins")
shims = _load_sibling("shims")


def read_source(path: Path) -> str:
    """Source as text whatever its encoding: UTF-8, else Latin-1 (never fails)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def describe_error(err: BaseException, filename: str) -> dict[str, Any]:
    """The exception's type, message and the student's line where it arose."""
    where = ""
    for frame in traceback.extract_tb(err.__traceback__):
        if Path(frame.filename).name == filename:
            where = f"{filename}, line {frame.lineno}: {(frame.line or '').strip()}"
    if isinstance(err, SyntaxError):
        message = f"{err.msg} ({filename}, line {err.lineno})"
    else:
        try:
            message = str(err)
        except BaseException:  # noqa: BLE001 - a hostile __str__ may raise anything
            message = "<unprintable message>"
    if not isinstance(message, str):
        message = "<unprintable message>"
    name = type(err).__name__
    return {"type": str(name)[:100], "message": message[:2000], "where": where[:500]}


class Child:
    """Holds the student module and serves requests on it."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self.filename = path.name
        self.module: types.ModuleType | None = None
        self.import_error: dict[str, Any] | None = None
        self.first, self.last = standins.install(str(path.parent))
        self.shimmed = shims.install(np)

    def import_module(self) -> None:
        module = types.ModuleType(self.name)
        module.__file__ = str(self.path)
        sys.modules[self.name] = module
        try:
            code = compile(read_source(self.path), self.filename, "exec")
            exec(code, module.__dict__)
        except BaseException as err:  # noqa: BLE001 - SystemExit at import too
            self.import_error = describe_error(err, self.filename)
            return
        finally:
            _flush()
        self.module = module

    def hello(self) -> dict[str, Any]:
        functions = {}
        if self.module is not None:
            for attr, value in list(vars(self.module).items()):
                if attr.startswith("_") or not callable(value):
                    continue
                functions[attr] = _signature(value)
        return {
            "ok": self.import_error is None,
            "error": self.import_error,
            "functions": functions,
            "replaced": sorted(set(self.first.replaced)),
            "missing": sorted(set(self.last.replaced)),
            "blocked": sorted(set(self.first.blocked)),
            "legacy": sorted(shims.used),
            "numpy": np.__version__,
        }

    def function(self, name: str) -> Any:
        value = getattr(self.module, name, None)
        if not callable(value):
            raise LookupError(f"{name} is not defined in {self.filename}")
        return value

    def handle(self, header: dict[str, Any], blobs: list[bytes]) -> Any:
        op = header.get("op")
        args = wire.decode(header["args"], blobs) if "args" in header else []
        _seed(header.get("seed"))
        if op == "call":
            return self.call(header["fn"], args, header.get("kwargs") or {})
        if op == "map":
            return [self.call(header["fn"], list(a), {})[0] for a in args]
        if op == "predict":
            return self.predict(header["steps"], header["layout"], *args)
        if op == "train":
            return self.train(header, args)
        if op == "trace":
            return self.trace(header, args)
        raise ValueError(f"unknown request {op!r}")

    def call(self, name: str, args: list[Any], kwargs: dict[str, int]) -> Any:
        """Call a student function; also report which arguments it modified."""
        copies = [a.copy() if isinstance(a, np.ndarray) else None for a in args]
        value = self.function(name)(*args, **kwargs)
        mutated = [
            i
            for i, (a, c) in enumerate(zip(args, copies, strict=True))
            if c is not None and not _same(a, c)
        ]
        return value, mutated

    def predict(
        self, steps: list[list[Any]], layout: dict[str, Any], images: Any, *consts: Any
    ) -> np.ndarray:
        """Run a forward pipeline of student functions on every image column.

        `steps` is [[function, [argument, ...]], ...] where an argument is
        "x" (the image), "prev" (the last step's output) or an int (the index
        of a constant such as a weight). Returns the argmax of the last output.
        """
        shape, order = tuple(layout["shape"]), layout.get("order", "C")
        labels = np.empty(images.shape[1], dtype=np.int64)
        for k in range(images.shape[1]):
            x = images[:, k].reshape(shape, order=order)
            prev: Any = x
            for fn, arg_specs in steps:
                call_args = [
                    x if a == "x" else prev if a == "prev" else consts[a]
                    for a in arg_specs
                ]
                prev = self.function(fn)(*call_args)
            labels[k] = int(np.argmax(np.asarray(prev, dtype=np.float64)))
        return labels

    def train(self, header: dict[str, Any], args: list[Any]) -> Any:
        """Make mini-batches (the student's own or given) and train on them.

        The image batches are handed over in a list that counts how often the
        trainer fetches one, so a trainer stopped at the time limit can be
        told apart: slow, or looping far beyond any training length.
        """
        if header["batches"] == "own":
            _seed(header.get("seed"))
            mini_batch_x, mini_batch_y = self.function("get_mini_batch")(*args)
        else:
            mini_batch_x, mini_batch_y = args
        if type(mini_batch_x) is list:
            mini_batch_x = _CountingList(mini_batch_x, _HERE / "progress")
        _seed(header.get("seed"))
        return self.function(header["fn"])(mini_batch_x, mini_batch_y)

    def trace(self, header: dict[str, Any], args: list[Any]) -> Any:
        """Record the first calls a trainer makes to the module's functions.

        The watched functions are wrapped in the module's namespace (where the
        trainer looks them up); after `stop_after` calls of `stop_fn` the run
        is cut short. Returns [[function, arguments, output], ...].
        """
        calls: list[list[Any]] = []
        stop_fn, stop_after = header["stop_fn"], int(header["stop_after"])
        originals = {name: self.function(name) for name in header["watch"]}

        def wrap(name: str, fn: Any) -> Any:
            def recorded(*call_args: Any) -> Any:
                out = fn(*call_args)
                if len(calls) < 200:
                    calls.append([name, list(call_args), out])
                if (
                    name == stop_fn
                    and sum(c[0] == stop_fn for c in calls) >= stop_after
                ):
                    raise _TraceDone()
                return out

            return recorded

        for name, fn in originals.items():
            setattr(self.module, name, wrap(name, fn))
        try:
            self.function(header["fn"])(*args)
        except _TraceDone:
            pass
        finally:
            for name, fn in originals.items():
                setattr(self.module, name, fn)
        return calls


class _TraceDone(BaseException):
    """Ends a traced run once enough calls are recorded."""


class _CountingList(list):
    """A list that writes how many items were fetched to a file, now and then."""

    def __init__(self, items: list[Any], path: Path) -> None:
        super().__init__(items)
        self._fetched = 0
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)

    def __getitem__(self, index: Any) -> Any:
        self._fetched += 1
        if self._fetched % 64 == 0:
            # fixed width, written in place: a reader never sees it half-written
            with contextlib.suppress(OSError):
                os.pwrite(self._fd, b"%020d" % self._fetched, 0)
        return super().__getitem__(index)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    try:
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))
    except Exception:
        return False


def _signature(fn: Any) -> list[list[Any]] | None:
    """[[name, kind, has_default], ...] or None when it cannot be read."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    return [[p.name, p.kind.name, p.default is not p.empty] for p in params]


def _seed(seed: Any) -> None:
    if isinstance(seed, int):
        np.random.seed(seed)
        random.seed(seed)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def serve(child: Child, proto_in: int, proto_out: int) -> None:
    wire.send(proto_out, {"hello": child.hello()}, [])
    while True:
        try:
            header, blobs = wire.receive(proto_in)
        except wire.WireClosedError:
            return
        start = time.perf_counter()
        shims.used.clear()
        try:
            result = child.handle(header, blobs)
            tree, out_blobs = wire.encode(result)
            reply = {"ok": True, "value": tree}
        except BaseException as err:  # noqa: BLE001 - sys.exit in student code too
            try:
                error = describe_error(err, child.filename)
            except BaseException:  # noqa: BLE001 - a traceback that cannot be read
                error = {"type": "unprintable", "message": "", "where": ""}
            reply = {"ok": False, "error": error}
            out_blobs = []
        _flush()
        reply["seconds"] = time.perf_counter() - start
        reply["legacy"] = sorted(shims.used)
        wire.send(proto_out, reply, out_blobs)


def main() -> None:
    proto_in, proto_out = int(sys.argv[1]), int(sys.argv[2])
    path, name = Path(sys.argv[3]), sys.argv[4]
    sys.path.insert(0, str(path.parent))
    child = Child(path, name)
    child.import_module()
    serve(child, proto_in, proto_out)


if __name__ == "__main__":
    main()
