"""Stub detection, encodings and syntax errors, without running anything."""

from __future__ import annotations

from pathlib import Path

from grader import source


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "cnn.py"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_skeleton_bodies_are_stubs_and_real_ones_are_not(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '''
def fc(x, w, b):
    """y = w x + b"""
    # TO DO
    return y

def fc_backward(dl_dy, x, w, b, y):
    return dl_dx, dl_dw, dl_db

def relu(x):
    pass

def relu_backward(dl_dy, x, y):
    return dl_dy

def pool2x2(x):
    y = x[::2, ::2]
    return y
''',
    )
    info = source.inspect_source(path)
    assert info.syntax_error == ""
    assert info.stubs == {"fc", "fc_backward", "relu"}
    assert info.defined >= {"relu_backward", "pool2x2"}


def test_a_later_definition_replaces_a_stub(tmp_path: Path) -> None:
    path = write(tmp_path, "def relu(x):\n    return y\n\ndef relu(x):\n    return x\n")
    assert source.inspect_source(path).stubs == frozenset()


def test_syntax_error_message_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "def fc(x, w, b):\n    for i in range(3)\n        pass\n")
    info = source.inspect_source(path)
    assert info.syntax_error == "SyntaxError: expected ':' (cnn.py, line 2)"
    assert "fc" in info.defined


def test_latin1_source_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, b"# \xe9t\xe9\ndef fc(x, w, b):\n    return w @ x + b\n")
    assert source.inspect_source(path).syntax_error == ""
    assert "été" in source.read_text(path)
