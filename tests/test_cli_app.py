"""svdcodec.cli.app: exit codes, and user errors told apart from bugs (issue 16)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from svdcodec.cli import commands, main


def _png(tmp_path: Path) -> Path:
    src = tmp_path / "in.png"
    Image.fromarray(np.arange(48 * 64, dtype=np.uint8).reshape(48, 64)).save(src)
    return src


def test_a_bug_prints_its_traceback_and_exits_3(tmp_path: Path, capsys, monkeypatch) -> None:
    """A ValueError raised inside numpy (here: a shape mismatch) is not the user's fault."""
    def broken(*args, **kwargs):
        return np.zeros(3) + np.zeros(4)  # ValueError from numpy's broadcasting

    monkeypatch.setattr(commands, "encode_file", broken)
    assert main(["encode", str(_png(tmp_path)), str(tmp_path / "x.svdi")]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "svdcodec: internal error: ValueError: operands could not be broadcast" in err
    assert "please report it" in err


@pytest.mark.parametrize("exc", [KeyError("k"), ZeroDivisionError("d"), AttributeError("a")])
def test_other_exceptions_are_internal_errors(tmp_path: Path, capsys, monkeypatch,
                                              exc: Exception) -> None:
    def broken(*args, **kwargs):
        raise exc

    monkeypatch.setattr(commands, "encode_file", broken)
    assert main(["encode", str(_png(tmp_path)), str(tmp_path / "x.svdi")]) == 3
    assert f"svdcodec: internal error: {type(exc).__name__}" in capsys.readouterr().err


def test_a_deliberate_value_error_is_one_line(tmp_path: Path, capsys) -> None:
    """svdcodec's own checks speak to the user: one line, exit 1, no traceback."""
    code = main(["encode", str(_png(tmp_path)), str(tmp_path / "x.svdi"), "--layout",
                 "per-channel", "--target-size", "10"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err.startswith("svdcodec: error: target_size 10 is below the smallest file")


def test_debug_prints_the_traceback_of_a_user_error(tmp_path: Path, capsys) -> None:
    code = main(["--debug", "decode", str(tmp_path / "missing.svdi"), str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback (most recent call last)" in err and "svdcodec: error:" in err


def test_without_debug_a_user_error_has_no_traceback(tmp_path: Path, capsys) -> None:
    code = main(["decode", str(tmp_path / "missing.svdi"), str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err.count("\n") == 1 and "missing.svdi" in err


@pytest.mark.parametrize("command", ["decode", "info"])
def test_a_damaged_file_is_named_in_its_error(tmp_path: Path, capsys, command: str) -> None:
    """A single-file decode or info of a damaged file names the file, as a batch does."""
    import svdcodec

    data = bytearray(svdcodec.encode(np.arange(48 * 64, dtype=np.uint8).reshape(48, 64)))
    data[60] ^= 0xFF  # inside the first PTCH chunk: its CRC no longer matches
    bad = tmp_path / "flip.svdi"
    bad.write_bytes(bytes(data))
    args = [command, str(bad)] + ([str(tmp_path / "x.png")] if command == "decode" else [])
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"svdcodec: error: {bad}: ") and err.count("\n") == 1
