"""Fixtures shared by the grader's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

# The project's shared folder (acceptance cases, tools, course data) sits
# beside the repository; a bare clone of the repository has none.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder, or a skip saying why the test cannot run."""
    if not (SHARED / "cases").is_dir() or not (SHARED / "tools").is_dir():
        pytest.skip(f"no acceptance cases: {SHARED} (cases/ and tools/) is absent")
    return SHARED
