"""Gradescope's submission export: who handed in each `submission_<id>` folder.

The export holds a folder per submission and `submission_metadata.yml`, a
YAML file keyed by folder name whose `:submitters:` list gives each member's
`:name:`, `:sid:` and `:email:`. Only that part is read, line by line, so the
grader needs no YAML library; the rest of the file (scores, autograder
results) is skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

METADATA_NAMES = ("submission_metadata.yml", "submission_metadata.yaml")
_TOP = re.compile(r"^(?P<key>[^\s#][^:]*):\s*$")
_ITEM = re.compile(r"^(?P<indent>\s*)(?P<dash>-\s+)?:(?P<key>\w+):\s*(?P<value>.*)$")


@dataclass(frozen=True)
class Submitter:
    """One member of a submission."""

    name: str = ""
    sid: str = ""
    email: str = ""


def metadata_file(folder: Path) -> Path | None:
    for name in METADATA_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def read_metadata(path: Path) -> dict[str, tuple[Submitter, ...]]:
    """Submitters of each submission folder, by folder name."""
    found: dict[str, list[dict[str, str]]] = {}
    folder: str | None = None
    submitters_indent: int | None = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        top = _TOP.match(line)
        if top:
            folder, submitters_indent = top["key"].strip().strip("'\""), None
            continue
        item = _ITEM.match(line)
        if folder is None or item is None:
            continue
        indent = len(item["indent"])
        if item["key"] == "submitters" and not item["dash"]:
            submitters_indent = indent
            found.setdefault(folder, [])
            continue
        if submitters_indent is None:
            continue
        if indent <= submitters_indent and not item["dash"]:
            submitters_indent = None  # the next key of the submission
            continue
        people = found[folder]
        if item["dash"] or not people:
            people.append({})
        people[-1][item["key"]] = _scalar(item["value"])
    return {
        key: tuple(
            Submitter(p.get("name", ""), p.get("sid", ""), p.get("email", ""))
            for p in people
        )
        for key, people in found.items()
    }


def _scalar(text: str) -> str:
    """A YAML scalar as plain text: quoted forms unquoted, comments dropped."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            return str(json.loads(text))
        except json.JSONDecodeError:
            return text[1:-1]
    return text.split(" #", 1)[0].strip()
