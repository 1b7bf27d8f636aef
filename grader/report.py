"""Placeholder HTML report (replaced by the templated report)."""

from __future__ import annotations

import html

from grader.result import GradeResult


def render(result: GradeResult) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(c.name)}</td><td>{html.escape(c.status)}</td></tr>"
        for c in result.checks
    )
    return f"<!doctype html><table>{rows}</table>"
