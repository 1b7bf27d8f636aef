"""Calling a student function with the arguments its signature declares.

Other semesters of the course dropped the unused output `y` from the backward
functions (`relu_backward(dl_dy, x)`); such a function is called without it,
with a note. A required parameter the homework never passes cannot be filled
in: that is a named error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Trailing homework arguments a function may leave out: it only needs them
# in other layouts of the assignment (the forward output y of a backward).
DROPPABLE = ("y",)


@dataclass(frozen=True)
class Adapter:
    """How to call one student function, and what to tell the student."""

    call_args: Callable[[Sequence[object]], list[object]]
    note: str = ""
    error: str = ""
    mistake: str = ""


def _all(args: Sequence[object]) -> list[object]:
    return list(args)


def adapt(spec_params: Sequence[str], declared: object) -> Adapter:
    """An adapter from the homework's arguments to the student's signature.

    `declared` is the child's description: [[name, kind, has_default], ...],
    or None when the signature could not be read (then call as specified).
    """
    if not isinstance(declared, list):
        return Adapter(_all)
    params = [p for p in declared if isinstance(p, list) and len(p) == 3]
    positional = [
        p for p in params if p[1] in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")
    ]
    takes_any = any(p[1] == "VAR_POSITIONAL" for p in params)
    required = [p[0] for p in positional if not p[2]]
    keyword_required = [p[0] for p in params if p[1] == "KEYWORD_ONLY" and not p[2]]
    wanted = len(spec_params)
    shown = f"({', '.join(str(p[0]) for p in params)})"
    if keyword_required or len(required) > wanted:
        extra = keyword_required or required[wanted:]
        return Adapter(
            _all,
            error=(
                f"its signature {shown} requires {', '.join(map(str, extra))}, "
                "which the homework never passes: keep "
                f"({', '.join(spec_params)}), or give extra "
                "parameters a default"
            ),
            mistake="extra-required-argument",
        )
    if takes_any or len(positional) >= wanted:
        note = ""
        names = [str(p[0]) for p in positional[:wanted]]
        if names and names != list(spec_params)[: len(names)]:
            note = f"parameters named {shown}; called by position as the homework does"
        return Adapter(_all, note)
    dropped = list(spec_params[len(positional) :])
    if all(name in DROPPABLE for name in dropped):
        count = len(positional)
        return Adapter(
            lambda args: list(args)[:count],
            f"signature {shown} without {', '.join(dropped)} (another semester's API); "
            "called with the arguments it declares",
        )
    return Adapter(
        _all,
        error=(
            f"its signature {shown} takes {len(positional)} arguments; "
            "the homework passes "
            f"{wanted} ({', '.join(spec_params)})"
        ),
        mistake="wrong-signature",
    )
