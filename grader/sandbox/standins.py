"""Stand-in modules for imports a grading machine lacks or must not run.

Loaded by path inside the sandboxed child, so it imports only the standard
library. Display-bound libraries (OpenCV, matplotlib, Tk, IPython) are always
replaced: a window or `plt.show()` would block a grading run, and
`matplotlib.use('TkAgg')` fails without a display. Any other module that is
simply not installed is replaced by a permissive stand-in as a last resort, so
an unused `import tqdm` costs no points. Every replacement is recorded and
reported to the student as a warning.

The grader's own packages are blocked instead: importing them raises
ModuleNotFoundError, as it would on a machine without them, and the attempt is
recorded.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import types
from collections.abc import Iterator, Sequence
from typing import Any

ALWAYS_REPLACED = (
    "cv2",
    "matplotlib",
    "mpl_toolkits",
    "pylab",
    "seaborn",
    "tkinter",
    "_tkinter",
    "turtle",
    "IPython",
)
BLOCKED = ("reference", "grader", "hw4_grader")


class StandIn:
    """Accepts any attribute, call, index or context use and does nothing."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr: str) -> StandIn:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return StandIn(f"{self._name}.{attr}")

    def __setattr__(self, attr: str, value: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._name.endswith("subplots"):
            return StandIn("figure"), StandIn("axes")
        return StandIn(f"{self._name}()")

    def __getitem__(self, key: Any) -> StandIn:
        return StandIn(f"{self._name}[]")

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return False

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __repr__(self) -> str:
        return f"<stand-in {self._name}>"


class _StandInModule(types.ModuleType):
    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return StandIn(f"{self.__name__}.{attr}")


def _progress(iterable: Any = None, *args: Any, **kwargs: Any) -> Any:
    """tqdm(iterable) -> the iterable itself; tqdm(total=n) -> a no-op bar."""
    return StandIn("tqdm()") if iterable is None else iterable


def _specialise(module: types.ModuleType) -> None:
    """Give the few stand-ins whose return values students use a real shape."""
    name = module.__name__
    if name == "matplotlib":
        module.use = lambda *args, **kwargs: None  # type: ignore[attr-defined]
    if name.split(".")[0] == "tqdm":
        module.tqdm = _progress  # type: ignore[attr-defined]
        module.trange = lambda *args, **kwargs: range(*args)  # type: ignore[attr-defined]


class StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Blocks, replaces or (as a last resort) stands in for modules."""

    def __init__(self, last_resort: bool, student_dir: str = "") -> None:
        self.last_resort = last_resort
        self.student_dir = student_dir
        self.replaced: list[str] = []
        self.blocked: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        top = fullname.split(".")[0]
        if not self.last_resort:
            if top in BLOCKED:
                self.blocked.append(fullname)
                raise ModuleNotFoundError(f"No module named {fullname!r}")
            if top not in ALWAYS_REPLACED:
                return None
        elif not self._imported_by_student():
            # A library probing for an optional dependency must see it missing.
            return None
        self.replaced.append(fullname)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def _imported_by_student(self) -> bool:
        """Whether the import statement that got here is in the student's files."""
        frame = sys._getframe(1)
        while frame is not None:
            filename = frame.f_code.co_filename
            if not filename.startswith("<frozen") and filename != __file__:
                return os.path.dirname(os.path.abspath(filename)) == self.student_dir
            frame = frame.f_back
        return False

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StandInModule(spec.name)
        module.__path__ = []
        _specialise(module)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def install(student_dir: str) -> tuple[StandInFinder, StandInFinder]:
    """Put the blocking/replacing finder first and the last-resort one last.

    Only imports written in the student's own files (in `student_dir`) get a
    last-resort stand-in.
    """
    first = StandInFinder(last_resort=False)
    last = StandInFinder(last_resort=True, student_dir=os.path.abspath(student_dir))
    for name in list(sys.modules):
        if name.split(".")[0] in ALWAYS_REPLACED + BLOCKED:
            del sys.modules[name]
    sys.meta_path.insert(0, first)
    sys.meta_path.append(last)
    return first, last
