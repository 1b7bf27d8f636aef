"""Old NumPy names, restored inside the sandbox and recorded when used.

Hand-ins written for an older NumPy use aliases that current NumPy removed
(`np.int`, `np.float`, ...). The algorithm is not wrong, so the child answers
those names as old NumPy did and records each use; the grader then tells the
student that the code breaks on current NumPy instead of zeroing the function.
Loaded by path inside the child; imports only the standard library.
"""

from __future__ import annotations

import builtins
import types
from typing import Any

REMOVED_ALIASES: dict[str, Any] = {
    "int": builtins.int,
    "float": builtins.float,
    "bool": builtins.bool,
    "complex": builtins.complex,
    "object": builtins.object,
    "str": builtins.str,
    "long": builtins.int,
    "unicode": builtins.str,
}

used: set[str] = set()


def install(numpy: types.ModuleType) -> list[str]:
    """Answer removed aliases through numpy's module __getattr__; return them."""
    original = getattr(numpy, "__getattr__", None)
    restored = [n for n in REMOVED_ALIASES if n not in vars(numpy)]

    def legacy_getattr(attr: str) -> Any:
        if attr in restored:
            used.add(f"np.{attr}")
            return REMOVED_ALIASES[attr]
        if original is None:
            raise AttributeError(f"module 'numpy' has no attribute {attr!r}")
        return original(attr)

    numpy.__getattr__ = legacy_getattr  # type: ignore[attr-defined]
    return restored
