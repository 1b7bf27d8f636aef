"""The report as a page people read, checked in headless Chromium.

Skipped where Debian's `chromium` is not installed (CI installs it). The page
is served from 127.0.0.1 by the test so that every request it makes is seen.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import reference.cnn

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a hand-in with a flipped kernel in conv (and conv_backward)."""
    root = tmp_path_factory.mktemp("browser")
    folder = root / "flipped"
    folder.mkdir()
    source = Path(reference.cnn.__file__).read_text()
    anchor = "cols = _im2col(x, h, w)\n    y = cols @ w_conv.reshape"
    flip = "w_conv = w_conv[::-1, ::-1]\n    "
    assert anchor in source
    source = source.replace(anchor, anchor.replace("y = ", flip + "y = "))
    (folder / "cnn.py").write_text(source)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            str(folder),
            "--quick",
            "--out",
            str(root / "out"),
        ],
        capture_output=True,
        timeout=300,
        check=False,
    )
    page = root / "out" / "flipped" / "index.html"
    assert page.is_file()
    return page


class _Recorder(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(report: Path) -> Iterator[tuple[str, list[str]]]:
    _Recorder.requests = []
    handler = functools.partial(_Recorder, directory=str(report.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", _Recorder.requests
    finally:
        server.shutdown()


def chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={cwd / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_page_renders_and_requests_nothing_else(
    served: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, requests = served
    run = chromium("--dump-dom", base + "index.html", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "flipped-kernel" in run.stdout
    assert "Fix first" in run.stdout
    # the page itself, and the favicon the browser asks for on its own
    assert set(requests) <= {"/index.html", "/favicon.ico"}, requests


def test_diagnosis_is_above_the_fold(report: Path, tmp_path: Path) -> None:
    """In a 1280 x 800 window, the fix-first box (with the hint) is visible."""
    probe = tmp_path / "probe.html"
    probe.write_text(
        report.read_text()
        + "<script>const r = document.querySelector('.fix').getBoundingClientRect();"
        "document.title = 'BOX' + JSON.stringify({top: r.top, bottom: r.bottom,"
        " text: document.querySelector('.fix').innerText});</script>"
    )
    run = chromium("--window-size=1280,800", "--dump-dom", probe.as_uri(), cwd=tmp_path)
    found = re.search(r"<title>BOX(.*?)</title>", run.stdout)
    assert found, run.stdout[:2000]
    box = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert box["bottom"] <= 800
    assert "conv" in box["text"] and "Do not rotate the kernel" in box["text"]


def test_screenshot_is_written(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    chromium(
        "--window-size=1280,800", f"--screenshot={shot}", report.as_uri(), cwd=tmp_path
    )
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
