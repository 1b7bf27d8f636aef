"""Reading a hand-in's source without running it: encoding, syntax, stubs.

Parsing is safe (no student code runs), so the grader's own process does it:
it decides which file is the module, whether it compiles, and which functions
are still the skeleton's stub.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path


def read_text(path: Path) -> str:
    """The file as text: UTF-8 when it is, else Latin-1 (which never fails)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@dataclass(frozen=True)
class SourceInfo:
    """What the source says before anything runs."""

    syntax_error: str  # "" when it compiles
    defined: frozenset[str]  # top-level function names
    stubs: frozenset[str]  # defined, but only the skeleton's TO DO body


def inspect_source(path: Path) -> SourceInfo:
    text = read_text(path)
    try:
        tree = ast.parse(text, filename=path.name)
    except SyntaxError as err:
        message = f"SyntaxError: {err.msg} ({path.name}, line {err.lineno})"
        names = frozenset(re.findall(r"^def\s+(\w+)\s*\(", text, re.MULTILINE))
        return SourceInfo(message, names, frozenset())
    last: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            last[node.name] = node
    stubs = frozenset(name for name, node in last.items() if is_stub(node))
    return SourceInfo("", frozenset(last), stubs)


def is_stub(node: ast.FunctionDef) -> bool:
    """A body that, docstring aside, only passes or returns names it never assigns.

    The skeleton's `# TO DO` bodies look like `return dl_dx, dl_dw, dl_db`
    with none of those names bound: calling them raises NameError.
    """
    body = list(node.body)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
    ):
        body = body[1:]
    if not body:
        return True
    if all(isinstance(stmt, ast.Pass) for stmt in body):
        return True
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return False
    value = body[0].value
    if value is None:
        return True
    returned = value.elts if isinstance(value, ast.Tuple) else [value]
    params = {
        a.arg for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs
    }
    return all(isinstance(v, ast.Name) and v.id not in params for v in returned)


def count_defined(path: Path, wanted: set[str]) -> int:
    """How many of the wanted functions a file defines (syntax errors allowed)."""
    try:
        text = read_text(path)
    except OSError:
        return 0
    names = set(re.findall(r"^def\s+(\w+)\s*\(", text, re.MULTILINE))
    return len(names & wanted)
