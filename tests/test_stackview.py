"""``svdcodec stack``: reading a stack (svdcodec.cli.stackview), the table and JSON
(svdcodec.teach.stackreport) and the figure (svdcodec.teach.stackplots)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

import svdcodec
from svdcodec import codec
from svdcodec.cli import main
from svdcodec.cli.stackview import load_stack
from svdcodec.teach import stackreport


def drifting(n: int = 6, h: int = 24, w: int = 32) -> np.ndarray:
    """A grey 'time-lapse': a smooth scene under light that brightens while a shadow fades."""
    yy, xx = np.mgrid[0:h, 0:w]
    scene = 90 + 40 * np.sin(xx / 5.0) * np.cos(yy / 4.0)
    shadow = np.exp(-((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / 60.0)
    frames = [scene * (0.8 + 0.08 * j) - 50 * shadow * (1 - j / n) for j in range(n)]
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


@pytest.fixture()
def gif(tmp_path: Path) -> Path:
    path = tmp_path / "lapse.gif"
    first, *rest = (Image.fromarray(f) for f in drifting())
    first.save(path, save_all=True, append_images=rest, duration=100, loop=0)
    return path


def _files_bytes(frames: np.ndarray, **options: Any) -> int:
    return sum(len(svdcodec.encode(f, **options)) for f in frames)


def test_animated_gif_table(gif: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = load_stack([gif])
    assert frames.shape == (6, 24, 32) and frames.dtype == np.uint8  # grey GIF read as L
    np.testing.assert_array_equal(frames, drifting())  # a GIF holds 256 greys exactly
    assert main(["stack", str(gif)]) == 0
    captured = capsys.readouterr()
    assert "the frames are grey (R = G = B): read as L" in captured.err
    out = captured.out
    assert out.startswith("lapse.gif: 6 frames of 32x24, 1 channel(s), uint8")
    files = next(line for line in out.splitlines() if line.startswith("N files"))
    assert f"{_files_bytes(frames):,}" in files and "100.0%" in files
    assert "snapshot matrix X: 768 x 6" in out and "6 x 6 Gram matrix" in out
    for coding in ("stack: frames", "stack: tall", "stack: snapshot"):
        assert coding in out


def test_json_holds_the_right_values(gif: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stack", str(gif), "--json", "--quality", "70", "--codings", "snapshot"]) == 0
    record = json.loads(capsys.readouterr().out)
    frames = drifting()
    files = record["rows"][0]
    assert files["coding"] == "files" and files["options"] == {"quality": 70.0}
    assert files["total_bytes"] == _files_bytes(frames, quality=70.0)
    assert files["bytes_per_frame"] == pytest.approx(files["total_bytes"] / 6)
    assert record["shape"] == [6, 24, 32]
    assert len(record["snapshot"]["sigma"]) == 6
    assert record["snapshot"]["energy"][-1] == pytest.approx(1.0)
    # a smooth, slowly lit scene: two modes hold nearly all of it
    assert record["snapshot"]["energy"][2] > 0.999
    assert [t["psnr"] for t in record["targets"]] == [30.0, 35.0, 40.0]


def _fake_stack_api(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """A lossless stand-in for encode_stack/decode_stack (.npy bytes), recording its calls."""
    calls: list[dict[str, Any]] = []

    def encode_stack(frames: np.ndarray, *, coding: str = "auto", **options: Any) -> bytes:
        calls.append({"coding": coding, **options})
        buffer = io.BytesIO()
        np.save(buffer, frames)
        return buffer.getvalue()

    def decode_stack(data: bytes) -> np.ndarray:
        return np.asarray(np.load(io.BytesIO(data)))

    monkeypatch.setattr(codec, "encode_stack", encode_stack, raising=False)
    monkeypatch.setattr(codec, "decode_stack", decode_stack, raising=False)
    return calls


def test_stack_rows_at_the_files_mean_psnr(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_stack_api(monkeypatch)
    frames = drifting()
    c = stackreport.compare_stack(frames, codings=["tall", "snapshot"])
    assert [r.coding for r in c.rows] == ["files", "stack:tall", "stack:snapshot"]
    target = round(c.rows[0].psnr_mean, 2)
    assert calls == [{"coding": "tall", "target_psnr": target},
                     {"coding": "snapshot", "target_psnr": target}]
    row = c.row("stack:snapshot")
    assert row is not None and row.total_bytes == frames.nbytes + 128  # .npy: 128-byte header
    assert row.psnr_mean == row.psnr_min == row.psnr_pooled == float("inf")
    assert c.notes == (f"stack codings asked for target_psnr={target}, the N files' mean PSNR; "
                       "frames aims at it in each frame, tall in its coded image, snapshot over "
                       "all samples (spec 14.6)",)
    calls.clear()
    stackreport.compare_stack(frames, codings=["frames"], equal_psnr=False)
    assert calls == [{"coding": "frames"}]
    text = stackreport.format_stack_table(stackreport.compare_stack(frames, quality=40),
                                          "lapse")
    assert "stack: frames" in text and "inf" in text and "quality=40" in text


def test_webp_row_reaches_each_frames_psnr() -> None:
    c = stackreport.compare_stack(drifting(), codings=[], webp=True)
    files, webp = c.rows[0], c.row("webp")
    assert webp is not None and webp.frames == 6
    assert webp.psnr_min >= files.psnr_min - 1e-9  # each WebP file reaches its frame's PSNR
    assert 0 < webp.total_bytes


def test_npy_colour_stack_and_tiff_pages(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    grey = drifting(n=4)
    colour = np.stack([grey, grey[:, ::-1], 255 - grey], axis=-1)
    np.save(tmp_path / "c.npy", colour)
    assert main(["stack", str(tmp_path / "c.npy"), "--codings", "frames"]) == 0
    assert "4 frames of 32x24, 3 channel(s), uint8" in capsys.readouterr().out
    pages = tmp_path / "pages.tif"
    images = [Image.fromarray(f.astype(np.uint16) * 257) for f in grey]
    images[0].save(pages, save_all=True, append_images=images[1:])
    stack = load_stack([pages])
    assert stack.dtype == np.uint16 and stack.shape == (4, 24, 32)
    np.testing.assert_array_equal(stack, grey.astype(np.uint16) * 257)
    for i, f in enumerate(grey[:2]):
        Image.fromarray(f).save(tmp_path / f"f{i}.png")
    assert load_stack([tmp_path / "f0.png", tmp_path / "f1.png"]).shape == (2, 24, 32)


def test_plot_file_is_written(gif: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "eigen.png"
    assert main(["stack", str(gif), "--plot", str(out), "--center", "--components", "3"]) == 0
    assert f"plot: {out}" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.width == 1400 and im.height > 700
    assert main(["stack", str(gif), "--plot", str(out)]) == 1  # exists, no --force
    assert "exists (use --force" in capsys.readouterr().err


def test_figure_of_a_colour_stack() -> None:
    pytest.importorskip("matplotlib")
    from svdcodec.teach.snapshot import snapshot_svd
    from svdcodec.teach.stackplots import stack_figure

    grey = drifting(n=5)
    frames = np.stack([grey, 255 - grey, grey], axis=-1)
    fig = stack_figure(snapshot_svd(frames), frames, components=20)
    images = [ax for ax in fig.axes if ax.images]
    labels = [ax.get_xlabel().split(":")[0] for ax in images]
    # every eigen-image (5 < 20); frame 0 at ranks 1, 3, 10 -> 5 (all) and 2 (99 % energy)
    assert labels == ["u1", "u2", "u3", "u4", "u5", "frame 0", "rank 1", "rank 2", "rank 3",
                      "rank 5"]
    with pytest.raises(ValueError, match=r"frame must be in 0\.\.4"):
        stack_figure(snapshot_svd(frames), frames, frame=5)


def test_plot_without_matplotlib_names_the_extra(gif: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    out = tmp_path / "fig.png"
    assert main(["stack", str(gif), "--plot", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.err == ("svdcodec: error: stack --plot needs matplotlib: "
                            "pip install 'svdcodec[plot]'\n")
    assert captured.out == "" and not out.exists()


@pytest.mark.parametrize("argv", [
    ["stack"],
    ["stack", "a.gif", "--quality", "101"],
    ["stack", "a.gif", "--quality", "50", "--target-psnr", "30"],
    ["stack", "a.gif", "--codings", "snapshot,zip"],
    ["stack", "a.gif", "--plot", "out.xyz"],
    ["stack", "a.gif", "--components", "0"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: svdcodec stack" in capsys.readouterr().err


def test_bad_stacks_exit_1(gif: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(small)
    np.save(tmp_path / "f.npy", np.zeros((3, 4, 4), np.float32))
    np.save(tmp_path / "one.npy", np.zeros((4, 4), np.uint8))
    np.save(tmp_path / "deep.npy", np.zeros((2, 4, 4), np.uint16))
    cases = {(str(gif), str(small)): "every frame must have the first frame's shape",
             (str(tmp_path / "f.npy"),): "expected a uint8 or uint16 array, got float32",
             (str(tmp_path / "one.npy"),): "a stack needs at least 2 frames, got 1",
             (str(tmp_path / "missing.gif"),): "missing.gif: no such file",
             (str(gif), str(tmp_path / "one.npy")): "image files or .npy arrays, not both",
             (str(tmp_path / "deep.npy"), "--webp"): "--webp needs 8-bit frames, got uint16"}
    for paths, message in cases.items():
        assert main(["stack", *paths]) == 1, paths
        err = capsys.readouterr().err
        assert err.startswith("svdcodec: error: ") and message in err, err


def test_stack_rows_are_encode_stack_files() -> None:
    frames = drifting()
    c = stackreport.compare_stack(frames, quality=60, codings=["tall", "snapshot", "auto"])
    assert [r.coding for r in c.rows] == ["files", "stack:tall", "stack:snapshot", "stack:auto"]
    for row in c.rows[1:]:
        coding = row.coding.split(":")[1]
        data = svdcodec.encode_stack(frames, coding=coding, quality=60)
        assert row.total_bytes == len(data) and row.options == {"quality": 60}
        decoded = svdcodec.decode_stack(data)
        assert row.psnr_pooled == pytest.approx(svdcodec.metrics.psnr(frames, decoded))
    auto = c.row("stack:auto")
    assert auto is not None and auto.stored in ("frames", "tall", "snapshot")
    text = stackreport.format_stack_table(c)
    assert f"stack: auto = {auto.stored}" in text


@settings(deadline=None, max_examples=30)
@given(st.sampled_from([np.uint8, np.uint16]).flatmap(lambda dtype: hnp.arrays(
    dtype, st.tuples(st.integers(2, 4), st.integers(1, 5), st.integers(1, 5),
                     st.integers(1, 4)))), st.booleans())
def test_npy_stacks_load_as_saved(frames: np.ndarray, grey: bool) -> None:
    import tempfile

    if grey:
        frames = frames[..., 0]
    with tempfile.TemporaryDirectory() as folder:  # not tmp_path: one per example
        path = Path(folder) / "s.npy"
        np.save(path, frames)
        loaded = load_stack([path])
    expected = frames[..., 0] if frames.ndim == 4 and frames.shape[3] == 1 else frames
    assert loaded.dtype == frames.dtype
    np.testing.assert_array_equal(loaded, expected)  # (N, H, W, 1) is read as grey


def test_an_svdi_stack_is_read_frame_by_frame(tmp_path: Path) -> None:
    data = svdcodec.encode_stack(drifting(n=3), coding="tall")
    (tmp_path / "s.svdi").write_bytes(data)
    np.testing.assert_array_equal(load_stack([tmp_path / "s.svdi"]), svdcodec.decode_stack(data))


# --- signed 16-bit stacks (qa7) -----------------------------------------------------------------
def _signed_frames(n: int = 3, h: int = 10, w: int = 12) -> np.ndarray:
    """CT-like slices in Hounsfield units: the first below zero, the last all above."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([(xx * 90 + yy * 7 - 900 + 1000 * j) for j in range(n)]).astype(np.int16)


def test_a_signed_svdi_stack_is_read_as_the_other_lessons_read_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An I;16S stack (what encode --stack writes of CT slices) opens in Pillow as mode I
    frames, which become int16 where a frame has a negative value and uint16 where not:
    'svdcodec stack' refused the file svdcodec wrote ('every frame must have the first
    frame's shape and type (10, 12) int16, got (10, 12) uint16'), and a stack of signed
    frames alone failed in the spectrum ('image dtype must be uint8 or uint16, got int16').
    It reads them as compare, animate and basis do: I;16 of sample + 32768, with a note."""
    data = svdcodec.encode_stack(_signed_frames(), coding="tall", quality=90)
    path = tmp_path / "ct.svdi"
    path.write_bytes(data)
    expected = (svdcodec.decode_stack(data).astype(np.int32) + 32768).astype(np.uint16)
    np.testing.assert_array_equal(load_stack([path]), expected)
    assert main(["stack", str(path)]) == 0
    assert "signed 16-bit (I;16S): shown as I;16 of sample + 32768" in capsys.readouterr().err
    pages = tmp_path / "ct.tif"
    first, *rest = (Image.fromarray(f.astype(np.int32), mode="I") for f in _signed_frames())
    first.save(pages, save_all=True, append_images=rest)
    assert main(["stack", str(pages)]) == 0
    np.testing.assert_array_equal(
        load_stack([pages]), (_signed_frames().astype(np.int32) + 32768).astype(np.uint16))


@settings(deadline=None, max_examples=20)
@given(hnp.arrays(np.int16, st.tuples(st.integers(2, 3), st.integers(1, 6),
                                      st.integers(1, 6))))
def test_signed_stacks_load_as_one_uint16_stack(frames: np.ndarray) -> None:
    """Whatever the signs of each frame's values, an I;16S stack loads as one uint16 stack:
    sample + 32768 (the samples its layouts code, spec section 15.1) where a value is
    negative, else the values themselves, as Pillow's mode I frames become I;16 when every
    value fits 0 .. 65535 (README: inputs), and as compare reads such a single image."""
    import tempfile

    data = svdcodec.encode_stack(frames, coding="tall", quality=90)
    with tempfile.TemporaryDirectory() as folder:  # not tmp_path: one per example
        path = Path(folder) / "s.svdi"
        path.write_bytes(data)
        loaded = load_stack([path])
    signed = svdcodec.decode_stack(data).astype(np.int32)
    assert loaded.dtype == np.uint16
    np.testing.assert_array_equal(loaded, signed + 32768 if signed.min() < 0 else signed)
