"""Reading a student's `.mat` weights in a child process under limits.

A `.mat` file from a student is data, but its parser is large native code and
a compressed variable can inflate far beyond the file's size. So the file is
parsed by this module run as a script (`python -I matfile.py FILE NAME...`),
in a child with an address-space and CPU limit and a wall-clock deadline. It
prints the wanted variables as JSON (shape and values, numeric only); the
grader validates that answer as it would any other.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

MAX_FILE_BYTES = 16 << 20
MAX_ENTRIES = 1 << 20  # per variable: far above any of the homework's weights
MEMORY_BYTES = 1 << 30
SECONDS = 30


def read(path: Path, names: tuple[str, ...]) -> tuple[dict[str, np.ndarray], str]:
    """The named variables of `path` as float arrays, or ({}, what went wrong)."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        return {}, f"{size:,} bytes, more than a weights file can need"
    try:
        run = subprocess.run(
            [sys.executable, "-I", str(Path(__file__).resolve()), str(path), *names],
            capture_output=True,
            timeout=SECONDS,
            preexec_fn=_limits,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return {}, f"not read within {SECONDS} s"
    if run.returncode != 0:
        return {}, "not a readable MATLAB file"
    try:
        answer = json.loads(run.stdout)
        if "error" in answer:
            return {}, str(answer["error"])
        arrays = {}
        for name in names:
            entry = answer[name]
            values = np.asarray(entry["values"], dtype=np.float64)
            arrays[name] = values.reshape([int(n) for n in entry["shape"]])
    except (ValueError, KeyError, TypeError) as err:
        return {}, f"unusable answer from the reader ({err})"
    return arrays, ""


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (SECONDS, SECONDS))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _main(path: str, names: list[str]) -> dict[str, object]:
    import scipy.io

    content = scipy.io.loadmat(path)
    missing = [n for n in names if n not in content]
    if missing:
        return {"error": f"has no variable {', '.join(missing)}"}
    answer: dict[str, object] = {}
    for name in names:
        value = np.asarray(content[name])
        if value.dtype.kind not in "biuf" or value.size > MAX_ENTRIES:
            return {"error": f"{name} is not a numeric array ({value.dtype})"}
        answer[name] = {
            "shape": list(value.shape),
            "values": value.astype(np.float64).reshape(-1).tolist(),
        }
    return answer


if __name__ == "__main__":
    try:
        result = _main(sys.argv[1], sys.argv[2:])
    except Exception as err:  # a malformed file: say so as data
        result = {"error": f"not a readable MATLAB file ({type(err).__name__})"}
    json.dump(result, sys.stdout)
