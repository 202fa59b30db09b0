"""encode's progress hook and the command line's progress bar (issue 11.17)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import svdcodec
from svdcodec.cli import commands as cli
from svdcodec.cli import main
from svdcodec.progress import Progress


def image(h: int = 48, w: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 3, yy * 5, (xx * yy) % 256], axis=2).astype(np.uint8)


@pytest.mark.parametrize("options", [
    {}, {"quality": 90, "subsampling": 1}, {"target_size": 2000}, {"target_psnr": 35},
    {"rank": 5}, {"rank": 5, "layout": "stacked"}, {"target_size": 3000, "layout": "stacked"},
    {"quality": 40, "layout": "stacked-vertical"},
])
def test_progress_is_monotone_and_reaches_one(options: dict) -> None:
    seen: list[float] = []
    data = svdcodec.encode(image(), progress=seen.append, **options)
    assert data == svdcodec.encode(image(), **options)  # the hook changes nothing
    assert seen and seen[-1] == 1.0 and seen.count(1.0) == 1
    assert all(0 <= a < b <= 1 for a, b in zip([0.0, *seen[:-1]], seen, strict=True))


def test_progress_reports_each_plane_of_a_large_patch_encode() -> None:
    seen: list[float] = []
    svdcodec.encode(image(256, 256), quality=80, progress=seen.append)
    assert len(seen) >= 6  # three analyses, three planes


def test_progress_must_be_callable() -> None:
    with pytest.raises(TypeError, match="progress"):
        svdcodec.encode(image(), progress=1)  # type: ignore[arg-type]


def test_progress_parts_map_onto_their_slice() -> None:
    seen: list[float] = []
    p = Progress(seen.append)
    second = p.part(0.5, 1.0)
    second.part(0.5, 1.0)(0.5)  # 0.5 + 0.5 * (0.5 + 0.5 * 0.5)
    p(0.6)  # below what was reported: not repeated
    p.done()
    assert seen == [0.875, 1.0]
    Progress()(0.5)  # no callback: nothing to do


def _encode(tmp_path: Path) -> list[str]:
    src, out = tmp_path / "in.png", tmp_path / "out.svdi"
    Image.fromarray(image()).save(src)
    return ["encode", str(src), str(out), "--quality", "60"]


def test_cli_encode_prints_no_bar_when_stderr_is_not_a_terminal(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(_encode(tmp_path)) == 0
    captured = capsys.readouterr()
    # notes may be printed (a tiny PNG grows as .svdi); a bar never
    assert all(line.startswith("svdcodec: note: ") for line in captured.err.splitlines())
    assert "\r" not in captured.err and "%|" not in captured.err
    assert captured.out.count("\n") == 1 and "out.svdi: 64x48 RGB, patch" in captured.out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cli_encode_shows_a_bar_on_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)  # shown at once, whatever the speed
    assert main(_encode(tmp_path)) == 0
    shown = terminal.getvalue()
    bar = shown.split("svdcodec: note:")[0]  # notes (a tiny PNG grows) follow the bar
    assert "encode:" in bar and "%|" in bar and bar.endswith("\r")  # drawn, then cleared
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "%" not in out.split("bpp")[0]  # stdout: the one line
