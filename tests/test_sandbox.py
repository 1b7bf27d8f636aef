"""The sandbox survives what student code does and names what happened."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import wire
from grader.sandbox.runner import Limits, Sandbox

FAST = Limits(call_seconds=5.0, import_seconds=20.0, output_bytes=1 << 20)


def handin(tmp_path: Path, body: str, name: str = "cnn.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def call(sandbox: Sandbox, fn: str, *args: object, seconds: float | None = None):
    return sandbox.request({"op": "call", "fn": fn, "seed": 0}, list(args), seconds)


def test_call_returns_plain_arrays_and_reports_mutation(tmp_path: Path) -> None:
    module = handin(
        tmp_path,
        """
        import numpy as np

        def relu(x):
            x[x < 0] = 0          # in place: the grader must notice
            return x
        """,
    )
    with Sandbox(module, FAST) as sandbox:
        assert sandbox.start()["ok"]
        reply = call(sandbox, "relu", np.array([[-1.0], [2.0]]))
    assert reply.failure is None
    value, mutated = reply.value
    assert type(value) is np.ndarray
    np.testing.assert_array_equal(value, [[0.0], [2.0]])
    assert mutated == [0]


def test_exception_names_type_message_and_line(tmp_path: Path) -> None:
    module = handin(
        tmp_path,
        """
        def fc(x, w, b):
            return undefined_name
        """,
    )
    with Sandbox(module, FAST) as sandbox:
        reply = call(sandbox, "fc", 1, 2, 3)
    assert reply.failure is not None
    assert reply.failure.cause == "exception"
    assert reply.failure.exc_type == "NameError"
    assert "undefined_name" in reply.failure.message
    assert "cnn.py, line 3" in reply.failure.where


def test_exit_zero_is_not_success_and_next_call_gets_a_fresh_child(
    tmp_path: Path,
) -> None:
    module = handin(
        tmp_path,
        """
        import os

        def fc(x, w, b):
            os._exit(0)

        def relu(x):
            return x
        """,
    )
    with Sandbox(module, FAST) as sandbox:
        reply = call(sandbox, "fc", 1, 2, 3)
        assert reply.failure is not None
        assert reply.failure.cause == "exit"
        assert "exited (status 0) without a result" in reply.failure.message
        again = call(sandbox, "relu", 3.0)
        assert again.failure is None
        assert sandbox.starts == 2


def test_sys_exit_is_an_exception_not_a_lost_child(tmp_path: Path) -> None:
    module = handin(tmp_path, "import sys\ndef fc(x, w, b):\n    sys.exit(3)\n")
    with Sandbox(module, FAST) as sandbox:
        reply = call(sandbox, "fc", 1, 2, 3)
    assert reply.failure is not None and reply.failure.exc_type == "SystemExit"


def test_hang_is_killed_at_the_limit(tmp_path: Path) -> None:
    module = handin(tmp_path, "def relu(x):\n    while True:\n        pass\n")
    with Sandbox(module, FAST) as sandbox:
        reply = call(sandbox, "relu", 1.0, seconds=1.0)
        assert reply.failure is not None
        assert reply.failure.cause == "timeout"
        assert not sandbox.alive


def test_crash_by_signal_is_named(tmp_path: Path) -> None:
    module = handin(
        tmp_path,
        "import os, signal\ndef relu(x):\n    os.kill(os.getpid(), signal.SIGSEGV)\n",
    )
    with Sandbox(module, FAST) as sandbox:
        reply = call(sandbox, "relu", 1.0)
    assert reply.failure is not None
    assert reply.failure.cause == "crash"
    assert "SIGSEGV" in reply.failure.message


def test_output_flood_kills_the_call_and_keeps_only_head_and_tail(
    tmp_path: Path,
) -> None:
    module = handin(
        tmp_path,
        """
        import sys

        def relu(x):
            for _ in range(64):
                sys.stdout.write("z" * (1 << 16))
            return x

        def fc(x, w, b):
            print("a small debug line")
            return x
        """,
    )
    with Sandbox(module, FAST) as sandbox:
        reply = call(sandbox, "relu", 1.0)
        assert reply.failure is not None and reply.failure.cause == "output-flood"
        assert call(sandbox, "fc", 1.0, 2.0, 3.0).failure is None
        text = sandbox.output.text()
    assert len(text) < 3 * sandbox.output.keep
    assert "bytes not kept" in text


def test_memory_limit_stops_a_memory_hog(tmp_path: Path) -> None:
    module = handin(
        tmp_path,
        "import numpy as np\ndef conv(x, w, b):\n    return np.ones((1 << 30,))\n",
    )
    limits = Limits(call_seconds=10.0, memory_bytes=512 << 20)
    with Sandbox(module, limits) as sandbox:
        reply = call(sandbox, "conv", 1, 2, 3)
    assert reply.failure is not None
    assert reply.failure.cause in ("memory", "crash")


def test_object_arrays_and_custom_objects_do_not_cross(tmp_path: Path) -> None:
    module = handin(
        tmp_path,
        """
        import numpy as np

        class Liar(np.ndarray):
            def __eq__(self, other):
                return True

        def fc(x, w, b):
            return np.array([object()], dtype=object)

        def relu(x):
            return np.zeros(3).view(Liar)

        def pool2x2(x):
            return lambda: 0
        """,
    )
    with Sandbox(module, FAST) as sandbox:
        obj, _ = call(sandbox, "fc", 1, 2, 3).value
        sub, _ = call(sandbox, "relu", 1.0).value
        fn, _ = call(sandbox, "pool2x2", 1.0).value
    assert isinstance(obj, wire.Opaque) and obj.type_name == "object array"
    assert type(sub) is np.ndarray
    assert isinstance(fn, wire.Opaque)


def test_pickled_arrays_are_refused() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(wire.WireError, match="unreadable array"):
        wire.decode({"t": "nd", "i": 0}, [buffer.getvalue()])


def test_missing_imports_get_stand_ins_and_display_libraries_never_block(
    tmp_path: Path,
) -> None:
    module = handin(
        tmp_path,
        """
        import cv2
        import matplotlib
        matplotlib.use("TkAgg")
        import matplotlib.pyplot as plt
        import main_functions as main
        from tqdm import tqdm
        import numpy as np

        plt.figure()
        plt.show()
        cv2.imshow("w", np.zeros((2, 2)))
        cv2.waitKey(0)

        def relu(x):
            for _ in tqdm(range(3)):
                pass
            return np.maximum(x, 0)
        """,
    )
    with Sandbox(module, FAST) as sandbox:
        hello = sandbox.start()
        assert hello["ok"], hello
        assert "cv2" in hello["replaced"] and "matplotlib" in hello["replaced"]
        assert "main_functions" in hello["missing"]
        value, _ = call(sandbox, "relu", np.array([-1.0, 1.0])).value
    np.testing.assert_array_equal(value, [0.0, 1.0])


def test_grader_packages_are_blocked_and_reported(tmp_path: Path) -> None:
    module = handin(
        tmp_path,
        """
        try:
            from reference import cnn
            FOUND = True
        except ImportError:
            FOUND = False

        def found():
            return FOUND
        """,
    )
    with Sandbox(module, FAST) as sandbox:
        hello = sandbox.start()
        value, _ = call(sandbox, "found").value
    assert value is False
    assert "reference" in hello["blocked"]


def test_latin1_source_and_removed_numpy_aliases(tmp_path: Path) -> None:
    path = tmp_path / "cnn.py"
    path.write_bytes(
        b"# r\xe9sum\xe9 du cours\nimport numpy as np\n"
        b"def get_n(x):\n    return np.int(x)\n"
    )
    with Sandbox(path, FAST) as sandbox:
        assert sandbox.start()["ok"]
        reply = call(sandbox, "get_n", 3.7)
    assert reply.value[0] == 3
    assert reply.legacy == ["np.int"]


def test_import_error_is_reported_not_raised(tmp_path: Path) -> None:
    module = handin(tmp_path, "raise RuntimeError('broken at import')\n")
    with Sandbox(module, FAST) as sandbox:
        hello = sandbox.start()
    assert not hello["ok"]
    assert hello["error"]["type"] == "RuntimeError"


def test_hang_at_import_is_a_timeout(tmp_path: Path) -> None:
    module = handin(tmp_path, "while True:\n    pass\n")
    with Sandbox(module, Limits(import_seconds=1.0)) as sandbox:
        hello = sandbox.start()
    assert not hello["ok"]
    assert hello["error"]["type"] == "timeout"


def test_scratch_folder_is_removed_and_hand_in_untouched(tmp_path: Path) -> None:
    module = handin(
        tmp_path,
        """
        import os
        open("written_by_student.txt", "w").write("x")
        def where():
            return os.getcwd()
        """,
    )
    with Sandbox(module, FAST) as sandbox:
        cwd, _ = call(sandbox, "where").value
    assert not Path(cwd).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cnn.py"]
