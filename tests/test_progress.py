"""encode's and decode's progress(done, total) hook and the command line's progress bar
(issues 11.17 and 13)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import svdcodec
from svdcodec import format as fmt
from svdcodec.cli import commands as cli
from svdcodec.cli import main
from svdcodec.patch import analysis as patch_analysis
from svdcodec.patch import decode as patch_decode
from svdcodec.progress import UNITS, Progress
from svdcodec.svdifile import open_svdi


def image(h: int = 48, w: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 3, yy * 5, (xx * yy) % 256], axis=2).astype(np.uint8)


@pytest.mark.parametrize("options", [
    {}, {"quality": 90, "subsampling": 1}, {"target_size": 2000}, {"target_psnr": 35},
    {"rank": 5}, {"rank": 5, "layout": "stacked"}, {"target_size": 3000, "layout": "stacked"},
    {"quality": 40, "layout": "stacked-vertical"},
])
def test_progress_is_monotone_and_reaches_one(options: dict) -> None:
    seen: list[tuple[int, int]] = []
    data = svdcodec.encode(image(), progress=lambda d, t: seen.append((d, t)), **options)
    assert data == svdcodec.encode(image(), **options)  # the hook changes nothing
    _check_calls(seen)


def _check_calls(seen: list[tuple[int, int]]) -> None:
    """Integers, done increasing to total, one total throughout, called once at the end."""
    assert seen and seen[-1][0] == seen[-1][1] and [d for d, _ in seen].count(seen[-1][1]) == 1
    assert {t for _, t in seen} == {seen[-1][1]}
    done = [d for d, _ in seen]
    assert all(isinstance(d, int) for d in done)
    assert all(0 <= a < b for a, b in zip([0, *done[:-1]], done, strict=True))


def test_progress_reports_each_plane_of_a_large_patch_encode() -> None:
    seen: list[tuple[int, int]] = []
    svdcodec.encode(image(256, 256), quality=80, progress=lambda d, t: seen.append((d, t)))
    assert len(seen) >= 6  # three analyses, three planes
    assert seen[-1] == (UNITS, UNITS)


@pytest.mark.parametrize("options", [{"quality": 60}, {"target_size": 3000},
                                     {"entropy": "zstd", "quality": 80}])
# (the chroma planes at full resolution: 8 strips each)
def test_progress_reports_every_strip(options: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # 64 x 64 pixels of patch rows 8 patches wide: strips of one patch row, 8 per plane
    monkeypatch.setattr(patch_analysis, "STRIP_SAMPLES", 8 * 64)
    seen: list[tuple[int, int]] = []
    svdcodec.encode(image(64, 64), progress=lambda d, t: seen.append((d, t)), subsampling=1,
                    **options)
    _check_calls(seen)
    assert len(seen) >= 3 * 8 * 3  # planes x strips x passes


@pytest.mark.parametrize("options", [{}, {"quality": 90, "subsampling": 1}, {"rank": 5},
                                     {"rank": 5, "layout": "stacked"}])
def test_decode_progress_is_monotone_and_reaches_total(options: dict) -> None:
    # 150 rows: the strip decoder (arith planes) reports strips of 64 rows
    data = svdcodec.encode(image(150, 64), **options)
    seen: list[tuple[int, int]] = []
    out = svdcodec.decode(data, progress=lambda d, t: seen.append((d, t)))
    assert np.array_equal(out, svdcodec.decode(data))
    _check_calls(seen)
    assert seen[-1] == (150, 150)  # image rows decoded of the height
    assert len(seen) >= 2  # each strip, plane or matrix, then the end


def test_decode_progress_must_be_callable() -> None:
    with pytest.raises(TypeError, match="progress"):
        svdcodec.decode(svdcodec.encode(image()), progress=1)  # type: ignore[arg-type]


def test_progress_must_be_callable() -> None:
    with pytest.raises(TypeError, match="progress"):
        svdcodec.encode(image(), progress=1)  # type: ignore[arg-type]


def test_progress_parts_map_onto_their_slice() -> None:
    seen: list[tuple[int, int]] = []
    p = Progress(lambda d, t: seen.append((d, t)))
    second = p.part(0.5, 1.0)
    second.part(0.5, 1.0)(0.5)  # 0.5 + 0.5 * (0.5 + 0.5 * 0.5)
    p(0.6)  # below what was reported: not repeated
    p(0.8755)  # less than a unit more: not reported
    p.done()
    assert seen == [(875, UNITS), (UNITS, UNITS)]
    Progress()(0.5)  # no callback: nothing to do


def test_progress_continues_a_progress_and_counts_in_its_total() -> None:
    seen: list[tuple[int, int]] = []
    p = Progress(lambda d, t: seen.append((d, t)), total=150)  # a decode: rows of 150
    inner = Progress(p.part(0.5, 1.0))  # an encode called with a Progress reports into it
    inner(0.5)  # 0.75 of 150
    p.count(140)
    p.count(100)  # below what was reported: not repeated
    p.count(999)  # clipped to the total
    p.done()  # the total was reported: not repeated
    assert seen == [(112, 150), (140, 150), (150, 150)]


def test_stack_frames_report_their_rows() -> None:
    frames = np.stack([image(40, 32), image(40, 32)[::-1], image(40, 32)[:, ::-1]])
    seen: list[tuple[int, int]] = []

    def hear(done: int, total: int) -> None:
        seen.append((done, total))

    for coding in ("frames", "tall", "snapshot"):
        data = svdcodec.encode_stack(frames, coding=coding, quality=60)
        for frame in (0, 2):
            seen.clear()
            svdcodec.decode(data, frame=frame, progress=hear)
            _check_calls(seen)
            assert seen[-1] == (40, 40)
            seen.clear()  # a viewer's tall frame, cut from the whole stack decoded once
            open_svdi(data).decode(frame=frame, progress=hear)
            _check_calls(seen)
            assert seen[-1] == (40, 40)


def test_cli_decode_bar_follows_the_strip_decoder(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    data = svdcodec.encode(image(150, 64), quality=60)
    if not patch_decode.strips_available(fmt.unpack(data, svdcodec.get_default_limits())):
        pytest.skip("the C strip decoder is not built")
    src = tmp_path / "tall.svdi"
    src.write_bytes(data)
    seen: list[tuple[str, int, int]] = []

    @contextlib.contextmanager
    def bar(args: object, desc: str) -> Iterator[Callable[[int, int], object]]:
        yield lambda d, t: seen.append((desc, d, t))

    monkeypatch.setattr(cli, "_bar", bar)
    assert main(["decode", str(src), str(tmp_path / "a.png")]) == 0
    # strips of patch_decode.STRIP_ROWS = 64 image rows
    assert seen == [("decode", 64, 150), ("decode", 128, 150), ("decode", 150, 150)]
    seen.clear()
    assert main(["decode", str(src), str(tmp_path / "a.npy")]) == 0
    assert seen[-1] == ("decode", 150, 150)


def test_cli_encode_bar_follows_a_stack_encode(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "anim.gif"  # several frames: encoded as one stack
    frames = [Image.fromarray(image(24, 32)[:, :, 0] // (k + 1)) for k in range(3)]
    frames[0].save(src, save_all=True, append_images=frames[1:])
    seen: list[tuple[str, int, int]] = []

    @contextlib.contextmanager
    def bar(args: object, desc: str) -> Iterator[Callable[[int, int], object]]:
        yield lambda d, t: seen.append((desc, d, t))

    monkeypatch.setattr(cli, "_bar", bar)
    assert main(["encode", str(src), str(tmp_path / "a.svdi")]) == 0
    assert svdcodec.read_header((tmp_path / "a.svdi").read_bytes()).frames == 3
    assert len(seen) >= 2 and seen[-1] == ("encode", UNITS, UNITS)
    _check_calls([(d, t) for _, d, t in seen])


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


def test_cli_progress_flag_draws_a_bar_on_any_stream(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    assert main([*_encode(tmp_path), "--progress"]) == 0
    assert "encode:" in capsys.readouterr().err
    out = tmp_path / "back.png"
    assert main(["decode", str(tmp_path / "out.svdi"), str(out), "--progress"]) == 0
    err = capsys.readouterr().err
    assert "decode:" in err and "%|" in err


def test_cli_no_progress_flag_draws_nothing_on_a_terminal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    assert main([*_encode(tmp_path), "--no-progress"]) == 0
    assert main(["decode", str(tmp_path / "out.svdi"), str(tmp_path / "b.png"),
                 "--no-progress"]) == 0
    assert "%|" not in terminal.getvalue()


def test_cli_decode_shows_a_bar_on_a_terminal_only(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(_encode(tmp_path)) == 0
    capsys.readouterr()
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    assert main(["decode", str(tmp_path / "out.svdi"), str(tmp_path / "a.png")]) == 0
    assert "%|" not in capsys.readouterr().err  # captured stderr is not a terminal
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["decode", str(tmp_path / "out.svdi"), str(tmp_path / "b.png")]) == 0
    shown = terminal.getvalue()
    assert "decode:" in shown and "%|" in shown and shown.endswith("\r")


def test_cli_bar_waits_for_the_delay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a quick encode (far below the default delay of a second) draws no bar on a terminal
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 3600.0)
    assert main(_encode(tmp_path)) == 0
    assert "%|" not in terminal.getvalue()
