"""Frame durations and loop count (spec section 16) through Pillow, imageio and the command
line: GIF, APNG and WebP in, .svdi, and back out."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageSequence

import svdcodec
from svdcodec.cli import main

from .test_anim import _with_anim, frames, stack_file

COLOURS = [(30 * i, 200 - 40 * i, 90 + 20 * i) for i in range(4)]


def timings(im: Image.Image) -> list[Any]:
    """Every frame's ``info["duration"]`` (after its load: WebP sets it there)."""
    out = []
    for frame in ImageSequence.Iterator(im):
        frame.load()
        out.append(frame.info.get("duration"))
    return out


def gif_bytes(durations: list[int] | None, loop: int | None) -> bytes:
    images = [Image.new("RGB", (10, 6), c) for c in COLOURS]
    options: dict[str, Any] = {}
    if durations is not None:
        options["duration"] = durations
    if loop is not None:
        options["loop"] = loop
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], **options)
    return buffer.getvalue()


# --- Pillow ----------------------------------------------------------------------------------
def test_pillow_open_sets_duration_per_frame_and_loop() -> None:
    with Image.open(io.BytesIO(stack_file())) as im:
        assert im.info["loop"] == 0 and im.info["duration"] == 100
        im.seek(2)
        assert im.info["duration"] == 250
        im.seek(1)
        assert im.info["duration"] == 40
        assert timings(im) == [100, 40, 250]


def test_pillow_open_without_loop_count_sets_no_loop() -> None:
    with Image.open(io.BytesIO(stack_file((10, 20, 30), None))) as im:
        assert "loop" not in im.info and timings(im) == [10, 20, 30]


def test_pillow_broken_anim_opens_and_fails_on_load() -> None:
    with Image.open(io.BytesIO(_with_anim(b"\0" * 8))) as im:
        assert "duration" not in im.info
        with pytest.raises(OSError, match="anim length"):
            im.load()


@pytest.mark.parametrize(("duration", "expected"), [([100, 40, 250], [100, 40, 250]),
                                                    (80, [80, 80, 80])])
def test_pillow_save_all_writes_duration_and_loop(duration: Any, expected: list[int]) -> None:
    images = [Image.fromarray(f) for f in frames()]
    buffer = io.BytesIO()
    images[0].save(buffer, "SVDI", save_all=True, append_images=images[1:],
                   duration=duration, loop=2)
    info = svdcodec.read_header(buffer.getvalue())
    assert (list(info.durations or ()), info.loop) == (expected, 2)


def test_pillow_save_all_refuses_a_wrong_number_of_durations() -> None:
    images = [Image.fromarray(f) for f in frames()]
    with pytest.raises(ValueError, match="durations"):
        images[0].save(io.BytesIO(), "SVDI", save_all=True, append_images=images[1:],
                       duration=[100, 100])


def test_pillow_save_all_without_timing_writes_no_anim() -> None:
    images = [Image.fromarray(f) for f in frames()]
    buffer = io.BytesIO()
    images[0].save(buffer, "SVDI", save_all=True, append_images=images[1:])
    assert svdcodec.read_header(buffer.getvalue()).durations is None


def test_pillow_one_frame_keeps_no_duration() -> None:
    buffer = io.BytesIO()
    Image.fromarray(frames(1)[0]).save(buffer, "SVDI", save_all=True, duration=100, loop=0)
    with Image.open(buffer) as im:
        assert im.n_frames == 1 and "duration" not in im.info and "loop" not in im.info


@pytest.mark.parametrize(("durations", "loop"), [([100, 200, 30, 1000], 0),
                                                 ([50, 50, 70, 20], 3),
                                                 ([100, 200, 300, 40], None)])
def test_gif_to_svdi_to_gif_keeps_durations_and_loop(durations: list[int],
                                                     loop: int | None) -> None:
    """The whole trip through Pillow, asserted on the GIF read back (no loop: a GIF that
    plays once stays one)."""
    with Image.open(io.BytesIO(gif_bytes(durations, loop))) as gif:
        svdi = io.BytesIO()
        gif.save(svdi, "SVDI", save_all=True, quality=90)
    with Image.open(svdi) as im:
        out = io.BytesIO()
        im.save(out, "GIF", save_all=True)
    with Image.open(out) as back:
        assert back.n_frames == 4
        assert back.info.get("loop") == loop
        assert timings(back) == durations


@settings(max_examples=20)
@given(st.lists(st.integers(0, 6553).map(lambda cs: 10 * cs), min_size=4, max_size=4),
       st.none() | st.integers(0, 65535))
def test_any_gif_timing_survives_svdi(durations: list[int], loop: int | None) -> None:
    """GIF stores centiseconds (u16) and a u16 loop count; a delay of 0 may be written as
    no graphic control extension at all, which Pillow reads as no duration."""
    with Image.open(io.BytesIO(gif_bytes(durations, loop))) as gif:
        source = [d or 0 for d in timings(gif)]
        svdi = io.BytesIO()
        gif.save(svdi, "SVDI", save_all=True, coding="frames", rank=1)
    with Image.open(svdi) as im:
        out = io.BytesIO()
        im.save(out, "GIF", save_all=True)
    with Image.open(out) as back:
        assert [d or 0 for d in timings(back)] == source == durations
        assert back.info.get("loop") == loop


def test_apng_to_svdi_keeps_float_durations_rounded() -> None:
    images = [Image.new("RGB", (10, 6), c) for c in COLOURS]
    apng = io.BytesIO()
    images[0].save(apng, "PNG", save_all=True, append_images=images[1:],
                   duration=[100 / 3, 50, 20, 10], loop=1)
    with Image.open(apng) as im:
        svdi = io.BytesIO()
        im.save(svdi, "SVDI", save_all=True)
    info = svdcodec.read_header(svdi.getvalue())
    assert (info.durations, info.loop) == ((33, 50, 20, 10), 1)


def test_imageio_reads_and_writes_timing() -> None:
    iio = pytest.importorskip("imageio.v3")
    data = iio.imwrite("<bytes>", frames(), extension=".svdi", duration=[30, 60, 90], loop=0)
    info = svdcodec.read_header(data)
    assert (info.durations, info.loop) == ((30, 60, 90), 0)
    assert iio.immeta(data, extension=".svdi", index=1)["duration"] == 60


# --- command line ----------------------------------------------------------------------------
@pytest.mark.parametrize(("durations", "loop"), [([100, 200, 30, 1000], 0),
                                                 ([60, 60, 60, 60], None)])
def test_cli_gif_round_trip_keeps_timing(tmp_path: Path, durations: list[int],
                                         loop: int | None,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "a.gif"
    src.write_bytes(gif_bytes(durations, loop))
    assert main(["encode", str(src), str(tmp_path / "a.svdi"), "--quality", "90"]) == 0
    assert main(["info", str(tmp_path / "a.svdi")]) == 0
    out = capsys.readouterr().out
    shown = "loops without end" if loop == 0 else "no loop count"
    assert f"animation: {shown}; durations" in out
    assert main(["decode", str(tmp_path / "a.svdi"), str(tmp_path / "b.gif")]) == 0
    assert "as an animation" in capsys.readouterr().err
    with Image.open(tmp_path / "b.gif") as back:
        assert back.n_frames == 4 and back.info.get("loop") == loop
        assert timings(back) == durations
        back.seek(2)
        assert np.abs(np.asarray(back.convert("RGB"))[3, 5].astype(int)
                      - COLOURS[2]).max() <= 12


@pytest.mark.parametrize(("suffix", "loop"), [(".webp", 0), (".png", 0), (".webp", None),
                                              (".png", None)])
def test_cli_decodes_an_animation_to_webp_and_apng(tmp_path: Path, suffix: str,
                                                    loop: int | None) -> None:
    """No loop count (a GIF that played once) is one play there: loop 1."""
    src = tmp_path / "a.svdi"
    src.write_bytes(stack_file((100, 40, 250), loop))
    out = tmp_path / f"b{suffix}"
    assert main(["decode", str(src), str(out)]) == 0
    with Image.open(out) as im:
        assert im.n_frames == 3 and im.info["loop"] == (1 if loop is None else loop)
        assert timings(im) == [100, 40, 250]


def test_cli_stack_without_anim_still_decodes_frame_0(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    src = tmp_path / "a.svdi"
    src.write_bytes(stack_file(None, None))
    assert main(["decode", str(src), str(tmp_path / "b.gif")]) == 0
    assert "decoded frame 0 of a stack of 3 frames" in capsys.readouterr().err
    with Image.open(tmp_path / "b.gif") as im:
        assert getattr(im, "n_frames", 1) == 1


def test_cli_frame_option_decodes_one_frame_of_an_animation(tmp_path: Path) -> None:
    src = tmp_path / "a.svdi"
    src.write_bytes(stack_file())
    assert main(["decode", str(src), str(tmp_path / "b.gif"), "--frame", "1"]) == 0
    with Image.open(tmp_path / "b.gif") as im:
        assert getattr(im, "n_frames", 1) == 1


def test_cli_info_json_has_timing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "a.svdi"
    src.write_bytes(stack_file())
    assert main(["info", str(src), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["durations"], record["loop"]) == ([100, 40, 250], 0)


def test_cli_stack_of_several_inputs_pads_durations(tmp_path: Path) -> None:
    """--stack a.gif b.png: the PNG's frame has no duration (0), the GIF's loop is kept."""
    gif = tmp_path / "a.gif"
    gif.write_bytes(gif_bytes([100, 200, 300, 40], 5))
    png = tmp_path / "b.png"
    Image.new("RGB", (10, 6), (1, 2, 3)).save(png)
    out = tmp_path / "s.svdi"
    assert main(["encode", str(gif), str(png), "--stack", str(out)]) == 0
    info = svdcodec.read_header(out)
    assert (info.durations, info.loop) == ((100, 200, 300, 40, 0), 5)


@pytest.mark.parametrize(("suffix", "durations", "loop", "expected_durations", "expected_loop"), [
    # GIF: a 16-bit loop count and delays of 16-bit centiseconds
    (".gif", (100, 40, 250), 70000, [100, 40, 250], 65535),
    (".gif", (700000, 40, 2**32 - 1), 0, [655350, 40, 655350], 0),
    # WebP: a 16-bit loop count and 24-bit milliseconds
    (".webp", (100, 40, 250), 2**32 - 2, [100, 40, 250], 65535),
    (".webp", (2**24 + 5, 40, 250), 3, [2**24 - 1, 40, 250], 3),
    # APNG: a delay of a 16-bit numerator over a 16-bit denominator, at most 65,535 s
    (".png", (2**32 - 1, 40, 40000600), 2**32 - 2, [65535000, 40, 40001000], 2**32 - 2),
])
def test_cli_animation_timing_beyond_the_output_format_is_clamped_with_a_note(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str,
        durations: tuple[int, ...], loop: int, expected_durations: list[int],
        expected_loop: int) -> None:
    """Every u32 is a valid loop count and duration (spec section 16, rule 4), but GIF, WebP
    and APNG hold less: decode to them was an internal error (exit 3: OverflowError, 'ERROR
    assembling WebP: -1') or 'svdcodec: error: cannot write duration'. Now the nearest value
    the format holds, and a note saying so."""
    src = tmp_path / "a.svdi"
    src.write_bytes(stack_file(durations, loop))
    out = tmp_path / f"b{suffix}"
    assert main(["decode", str(src), str(out)]) == 0
    with Image.open(out) as im:
        assert im.n_frames == 3 and im.info["loop"] == expected_loop
        assert timings(im) == expected_durations
    err = capsys.readouterr().err
    assert "note:" in err and ("above" in err or "rounded" in err)


def test_cli_sixteen_bit_animation_to_apng_keeps_every_frame(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Pillow's APNG writer compares frames converted to 8-bit RGBA, where 16-bit samples
    above 255 all read 255: frames that differ only there were merged into the one before
    (3 frames written as 2) and others cropped to the 8-bit difference (samples of 3000 read
    back as 1000), while the note said 'wrote the 3 frames'. Written 8-bit, as GIF and WebP
    are, every frame is there as decoded."""
    stack = np.zeros((3, 16, 16), np.uint16)
    stack[:, :, :8] = 100
    for i in range(3):
        stack[i, :, 8:] = 1000 * (i + 1)
    data = svdcodec.encode_stack(stack, quality=100, durations=[10, 20, 30], loop=0)
    src = tmp_path / "a.svdi"
    src.write_bytes(data)
    out = tmp_path / "b.png"
    assert main(["decode", str(src), str(out)]) == 0
    decoded = svdcodec.decode_stack(data)
    expected = np.round(decoded / 257.0).astype(np.uint8)
    with Image.open(out) as im:
        assert im.n_frames == 3
        assert timings(im) == [10, 20, 30]
        for k, frame in enumerate(ImageSequence.Iterator(im)):
            assert np.array_equal(np.asarray(frame.convert("L")), expected[k])
    assert "16 -> 8 bits" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".gif", ".png", ".webp"])
def test_cli_animation_note_counts_the_frames_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str) -> None:
    """Pillow's GIF, APNG and WebP writers merge identical consecutive frames, adding their
    durations (the animation plays the same): a stack of 3 frames was written as 2 while the
    note said 'wrote the 3 frames'."""
    stack = np.stack([np.full((8, 8, 3), v, np.uint8) for v in (10, 10, 200)])
    src = tmp_path / "a.svdi"
    src.write_bytes(svdcodec.encode_stack(stack, durations=[100, 200, 300], loop=0))
    out = tmp_path / f"b{suffix}"
    assert main(["decode", str(src), str(out)]) == 0
    with Image.open(out) as im:
        assert im.n_frames == 2
        assert timings(im) == [300, 300]
    assert "wrote the 3 frames as 2" in capsys.readouterr().err
