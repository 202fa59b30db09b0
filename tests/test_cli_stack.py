"""The command line on image stacks (spec section 14): animated inputs and ``--stack`` encode
every frame, ``decode --frame K`` / ``--out-dir``, ``info`` lists the frames."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

import svdcodec
from svdcodec.cli import main
from svdcodec.metrics import psnr

from .hostile import build, split

COLOURS = [(30 * i, 200 - 30 * i, 90) for i in range(4)]


@pytest.fixture()
def gif(tmp_path: Path) -> Path:
    frames = [Image.new("RGB", (20, 12), c) for c in COLOURS]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return path


def test_animated_input_encodes_every_frame(gif: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a.svdi"
    assert main(["encode", str(gif), str(out), "--coding", "tall", "--quality", "90"]) == 0
    assert "encoded 4 frames as one stack (coding tall)" in capsys.readouterr().err
    info = svdcodec.read_header(out)
    assert (info.frames, info.stack_coding) == (4, "tall")
    stack = svdcodec.decode_stack(out.read_bytes())
    for k, colour in enumerate(COLOURS):
        assert np.abs(stack[k, 5, 9].astype(int) - colour).max() <= 8
    assert main(["info", str(out)]) == 0
    assert "4 frames, stack coding tall, 16 rows per frame" in capsys.readouterr().out
    assert main(["info", str(out), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["frames"], record["stack_coding"]) == (4, "tall")


def test_stack_of_several_inputs_and_decode_by_frame(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    paths = []
    for k, colour in enumerate(COLOURS[:3]):
        paths.append(tmp_path / f"f{k}.png")
        Image.new("RGB", (9, 7), colour).save(paths[-1])
    out = tmp_path / "s.svdi"
    assert main(["encode", *map(str, paths), "--stack", str(out), "--coding", "frames"]) == 0
    assert svdcodec.read_header(out).frames == 3
    third = tmp_path / "third.png"
    assert main(["decode", str(out), str(third), "--frame", "2"]) == 0
    with Image.open(third) as im:
        assert np.abs(np.asarray(im)[3, 4].astype(int) - COLOURS[2]).max() <= 8
    first = tmp_path / "first.png"
    capsys.readouterr()
    assert main(["decode", str(out), str(first)]) == 0
    assert "decoded frame 0 of a stack of 3 frames" in capsys.readouterr().err
    assert main(["decode", str(out), str(tmp_path / "x.png"), "--frame", "3"]) == 1
    assert "--frame 3: the file holds 3 frames (0..2)" in capsys.readouterr().err
    assert main(["decode", str(out), "--out-dir", str(tmp_path / "d")]) == 0
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == \
        ["s-000.png", "s-001.png", "s-002.png"]


def test_stack_inputs_must_share_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.new("L", (5, 5)).save(a)
    Image.new("L", (6, 5)).save(b)
    assert main(["encode", str(a), str(b), "--stack", str(tmp_path / "s.svdi")]) == 1
    assert "frames of a stack share one size and mode" in capsys.readouterr().err
    assert not (tmp_path / "s.svdi").exists()


def test_stack_and_out_dir_exclude_each_other(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["encode", "a.png", "--stack", "s.svdi", "--out-dir", str(tmp_path)]) == 2
    assert "--stack and --out-dir exclude each other" in capsys.readouterr().err


# --- QA of issue 15: --out-dir collisions and failures -----------------------------------------
def _stack_and_single(tmp_path: Path) -> tuple[Path, Path]:
    frames = np.stack([np.full((6, 8, 3), c, np.uint8) for c in COLOURS[:3]])
    stack = tmp_path / "st.svdi"
    stack.write_bytes(svdcodec.encode_stack(frames, coding="frames", quality=90))
    single = tmp_path / "st-001.svdi"  # its output, st-001.png, is also the stack's frame 1
    single.write_bytes(svdcodec.encode(np.full((5, 5, 3), 255, np.uint8), quality=90))
    return stack, single


@pytest.mark.parametrize("order", [0, 1])
def test_out_dir_refuses_a_frame_name_that_another_input_writes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], order: int) -> None:
    """st.svdi (3 frames: st-000.png ... st-002.png) and st-001.svdi (st-001.png) into one
    --out-dir: with --force the second silently replaced the first's frame 1 and the batch
    said "2 files ok"; the second claimant must be refused before anything runs."""
    stack, single = _stack_and_single(tmp_path)
    inputs = [stack, single][::1 - 2 * order]
    out = tmp_path / "out"
    assert main(["decode", *map(str, inputs), "--out-dir", str(out), "-j", "1", "--force"]) == 1
    err = capsys.readouterr().err
    assert f"{inputs[1]}: output {out / 'st-001.png'} is also the output of {inputs[0]}" in err
    # the first claimant's files are whole and its own
    if inputs[0] == stack:
        with Image.open(out / "st-001.png") as im:
            assert im.size == (8, 6)
    else:
        with Image.open(out / "st-001.png") as im:
            assert im.size == (5, 5)


def test_out_dir_writes_no_frame_of_a_stack_that_fails_to_decode(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A frames stack whose last run is corrupt (behind a valid CRC): frames 0 and 1 were
    written (with --force over the files already there) before frame 2 failed. A failed
    decode must leave the output directory as it was."""
    frames = np.stack([np.full((6, 8), 40 * (k + 1), np.uint8) for k in range(3)])
    chunks = split(svdcodec.encode_stack(frames, coding="frames", rank=1))
    last = max(i for i, (ctype, _) in enumerate(chunks) if ctype == b"FACT")
    body = bytearray(chunks[last][1])
    body[-1] ^= 0xFF  # the zstd frame's content checksum
    chunks[last] = (b"FACT", bytes(body))
    src = tmp_path / "st.svdi"
    src.write_bytes(build(chunks))
    with pytest.raises(svdcodec.SvdiError):
        svdcodec.decode(src.read_bytes(), frame=2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "st-000.png").write_bytes(b"old")
    assert main(["decode", str(src), "--out-dir", str(out), "--force"]) == 1
    assert "st.svdi" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["st-000.png"]
    assert (out / "st-000.png").read_bytes() == b"old"


@pytest.mark.parametrize(("second", "words"), [
    (Image.new("L", (5, 4)), "5x4 L after 5x4 RGB"),
    (Image.new("RGBA", (5, 4)), "5x4 RGBA after 5x4 RGB"),
    (Image.new("RGB", (4, 5)), "4x5 RGB after 5x4 RGB"),
])
def test_stack_inputs_of_another_mode_name_the_modes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], second: Image.Image,
        words: str) -> None:
    """An L input after an RGB one was refused with '(5, 4) uint8 after (5, 4) uint8': the
    sizes alike and the difference (the mode) not said."""
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.new("RGB", (5, 4)).save(a)
    second.save(b)
    assert main(["encode", str(a), str(b), "--stack", str(tmp_path / "s.svdi")]) == 1
    assert f"{b}: frames of a stack share one size and mode: {words}" in \
        capsys.readouterr().err


def test_an_animated_input_with_frames_of_two_sizes_is_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tif = tmp_path / "pages.tif"
    Image.new("RGB", (6, 4)).save(tif, save_all=True, append_images=[Image.new("RGB", (3, 3))])
    out = tmp_path / "p.svdi"  # without --stack: its first frame, with a note (test below)
    assert main(["encode", str(tif), "--stack", str(out)]) == 1
    assert f"{tif}: frames of a stack share one size and mode: 3x3 RGB after 6x4 RGB" in \
        capsys.readouterr().err
    assert not out.exists()


def test_stack_encode_measures_target_psnr_and_says_when_not_reached(
        gif: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """README: --json's psnr is "measured for --target-psnr", and a target not reached is a
    note. A stack gave psnr null and no note however far the target was missed."""
    out = tmp_path / "a.svdi"
    assert main(["encode", str(gif), str(out), "--target-psnr", "99", "--json",
                 "--coding", "tall"]) == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    with Image.open(gif) as im:
        stack = np.stack([np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)])
    assert record["psnr"] == pytest.approx(psnr(stack, svdcodec.decode_stack(out.read_bytes())))
    assert record["psnr"] < 99
    assert "--target-psnr 99 dB not reached" in captured.err


def test_animated_input_says_its_timing_is_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing silent: an animated GIF's frame durations and loop count are stored (spec
    section 16), and the encode says so."""
    frames = [Image.new("RGB", (8, 6), c) for c in COLOURS]
    src = tmp_path / "anim.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=120, loop=0)
    assert main(["encode", str(src), str(tmp_path / "a.svdi")]) == 0
    assert "with their durations and loop count" in capsys.readouterr().err
    info = svdcodec.read_header(tmp_path / "a.svdi")
    assert (info.durations, info.loop) == ((120,) * 4, 0)


def test_stack_inputs_whose_metadata_differ_say_which_is_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A stack stores one set of metadata, the first input's: a later input with another
    dpi (or ICC profile, Exif, XMP) lost its own without a word."""
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.new("RGB", (5, 4), (9, 9, 9)).save(a, dpi=(72, 72))
    Image.new("RGB", (5, 4), (9, 9, 9)).save(b, dpi=(300, 300))
    out = tmp_path / "s.svdi"
    assert main(["encode", str(a), str(b), "--stack", str(out)]) == 0
    assert f"{b}: its dpi differs from the first input's; the stack keeps the first's" in \
        capsys.readouterr().err
    assert main(["encode", str(a), str(a), "--stack", str(out), "--force"]) == 0
    assert "differs" not in capsys.readouterr().err


def test_coding_on_a_single_frame_input_is_a_note(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--coding snapshot on a one-frame PNG wrote a single patch-layout image without a word
    (encode_stack refuses one frame with coding='snapshot')."""
    src = tmp_path / "one.png"
    Image.new("RGB", (6, 5), (1, 2, 3)).save(src)
    out = tmp_path / "one.svdi"
    assert main(["encode", str(src), str(out), "--coding", "snapshot"]) == 0
    assert "--coding snapshot applies to stacks: one.png has one frame, encoded as a single " \
        "image" in capsys.readouterr().err
    assert svdcodec.read_header(out).frames == 1


def test_a_refused_int16_frame_is_named_i16s(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A stack refused for mixing a signed 16-bit frame with an 8-bit one called the signed
    frame "L": 'frames of a stack share one size and mode: 8x8 L after 8x8 L'."""
    np.save(tmp_path / "s.npy", np.full((8, 8), -5, np.int16))
    Image.new("L", (8, 8), 3).save(tmp_path / "g.png")
    out = tmp_path / "x.svdi"
    assert main(["encode", str(tmp_path / "g.png"), str(tmp_path / "s.npy"),
                 "--stack", str(out)]) == 1
    assert "8x8 I;16S after 8x8 L" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("multipage", [False, True])
def test_signed_mode_i_frames_whose_first_has_no_negative_value_make_one_stack(
        tmp_path: Path, multipage: bool, capsys: pytest.CaptureFixture[str]) -> None:
    """Mode I frames (a CT series as 32-bit TIFF pages) are stored as I;16 when their values fit
    0..65535, so a stack whose first frame had no negative value was refused: 'frames of a
    stack share one size and mode: 8x8 L after 8x8 I;16'. Every frame fits I;16S."""
    values = [np.full((8, 8), v, np.int32) for v in (0, 2000, -1000)]
    images = [Image.fromarray(v) for v in values]
    if multipage:
        paths = [tmp_path / "pages.tif"]
        images[0].save(paths[0], save_all=True, append_images=images[1:])
    else:
        paths = [tmp_path / f"s{k}.tif" for k in range(3)]
        for im, path in zip(images, paths, strict=True):
            im.save(path)
    out = tmp_path / "x.svdi"
    assert main(["encode", *map(str, paths), "--stack", str(out), "--quality", "95"]) == 0, \
        capsys.readouterr().err
    stack = svdcodec.decode_stack(out.read_bytes())
    assert stack.dtype == np.int16
    assert np.abs(stack.astype(int) - np.stack(values)).max() <= 40


def test_unsigned_frames_above_int16_and_signed_frames_are_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Image.fromarray(np.full((8, 8), 60000, np.int32)).save(tmp_path / "u.tif")
    Image.fromarray(np.full((8, 8), -5, np.int32)).save(tmp_path / "s.tif")
    out = tmp_path / "x.svdi"
    assert main(["encode", str(tmp_path / "u.tif"), str(tmp_path / "s.tif"),
                 "--stack", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("svdcodec: error: ") and err.count("\n") == 1
    assert "values -5 .. 60000 share no stored mode" in err
    assert not out.exists()


@pytest.mark.parametrize("coding", [None, "frames", "tall", "snapshot"])
def test_stack_of_one_frame_is_a_single_image_with_a_note(
        tmp_path: Path, coding: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    """--stack with one frame in all: --coding snapshot failed with the API's "coding='snapshot'
    needs at least 2 frames" (exit 1), any other coding or none wrote a single image without a
    word, whereas encode IN OUT --coding gives a note."""
    src = tmp_path / "one.png"
    Image.new("RGB", (6, 5), (1, 2, 3)).save(src)
    out = tmp_path / "x.svdi"
    coding_args = ["--coding", coding] if coding else []
    assert main(["encode", str(src), "--stack", str(out), *coding_args]) == 0
    err = capsys.readouterr().err
    assert "--stack: one.png has one frame, encoded as a single image" in err
    assert (f"--coding {coding} applies to stacks" in err) == (coding is not None)
    assert svdcodec.read_header(out).frames == 1


@pytest.mark.parametrize("second", [(10, 6, "RGB"), (20, 12, "L")])
def test_an_input_whose_frames_cannot_stack_encodes_its_first_frame_with_a_note(
        tmp_path: Path, second: tuple[int, int, str], capsys: pytest.CaptureFixture[str]
        ) -> None:
    """A multi-page TIFF whose pages differ in size or mode (a page and its thumbnail) could not
    be encoded at all since stacks came: 'frames of a stack share one size and mode: 10x6 RGB
    after 20x12 RGB', with no way to pick a page. Before, encode wrote its first page with a
    note; it does again, saying why."""
    w, h, mode = second
    src = tmp_path / "pages.tif"
    first = Image.new("RGB", (20, 12), (200, 40, 90))
    first.save(src, save_all=True, append_images=[Image.new(mode, (w, h), 77)])
    out = tmp_path / "x.svdi"
    assert main(["encode", str(src), str(out), "--quality", "90"]) == 0
    err = capsys.readouterr().err
    assert f"pages.tif: its 2 frames cannot make one stack (frames of a stack share one size " \
        f"and mode: {w}x{h} {mode} after 20x12 RGB): encoded frame 1 as a single image" in err
    info = svdcodec.read_header(out)
    assert (info.frames, info.width, info.height, info.mode) == (1, 20, 12, "RGB")
    assert np.abs(svdcodec.decode(out.read_bytes())[5, 9].astype(int) - (200, 40, 90)).max() <= 8
    # --stack asks for one stack: still refused
    assert main(["encode", str(src), "--stack", str(tmp_path / "s.svdi")]) == 1
    assert "share one size and mode" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["decode", "info"])
def test_a_stack_refused_for_its_size_names_the_limit_that_decodes_it(
        tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The hint of a stack refused at HEAD named the one frame's pixels ('2000 pixels exceed
    the limit of 100 (... --limit max_pixels=2000 raises it)'); with that limit the stack's
    N·W·H was refused next (spec 14.5), a second round trip. It names N·W·H at once."""
    frames = np.stack([np.full((40, 50), 30 * k, np.uint8) for k in range(5)])
    src = tmp_path / "s.svdi"
    src.write_bytes(svdcodec.encode_stack(frames, coding="tall"))
    out = [str(tmp_path / "f.png")] if command == "decode" else []
    assert main([command, str(src), *out, "--limit", "max_pixels=100"]) == 1
    assert "--limit max_pixels=10000 raises it" in capsys.readouterr().err
    assert main([command, str(src), *out, "--limit", "max_pixels=10000"]) == 0


@pytest.mark.parametrize("coding, options", [("snapshot", {}), ("frames", {"rank": 3}),
                                             ("tall", {"rank": 3})])
@pytest.mark.parametrize("command", ["info", "decode"])
def test_a_cut_stack_is_not_promised_a_salvage(
        tmp_path: Path, coding: str, options: dict[str, int], command: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A cut stack of a whole-image layout said 'decode --allow-truncated decodes what precedes
    the cut'; with it the decode failed the same way (stacks are not salvaged, spec 14.5)."""
    frames = np.stack([np.full((12, 16, 3), 40 * k, np.uint8) for k in range(4)])
    data = svdcodec.encode_stack(frames, coding=coding, **options)
    src = tmp_path / "cut.svdi"
    src.write_bytes(data[:-30])
    out = [str(tmp_path / "x.png")] if command == "decode" else []
    for extra in ([], ["--allow-truncated"]) if command == "decode" else ([],):
        assert main([command, str(src), *out, *extra]) == 1
        err = capsys.readouterr().err
        assert "--allow-truncated decodes" not in err
        assert "cannot be salvaged, spec section 14.5" in err or "not salvaged" in err


def _stack_frames(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Frames of smooth ramps, each shifted, that a lossy stack keeps within a few levels."""
    n, h, w = shape[:3]
    top = {"uint8": 200, "uint16": 50000, "int16": 20000}[dtype]
    ramp = np.add.outer(np.arange(h), np.arange(w)) * top // (h + w)
    frames = np.stack([ramp + 5 * k for k in range(n)])
    if len(shape) == 4:
        frames = np.stack([frames + 3 * c for c in range(shape[3])], axis=-1)
    return (frames - (top // 2 if dtype == "int16" else 0)).astype(dtype)


@pytest.mark.parametrize(("shape", "dtype"), [((3, 12, 10), "uint8"), ((2, 9, 11, 3), "uint8"),
                                              ((4, 8, 8, 4), "uint8"), ((3, 10, 7), "uint16"),
                                              ((2, 8, 9), "int16")])
def test_decode_of_a_stack_to_npy_holds_every_frame(shape: tuple[int, ...], dtype: str,
                                                    tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A .npy output of a stack is (N, H, W[, C]), as ``encode X.npy --stack`` takes it; the
    round trip gives back the frames; ``--frame K`` is still one frame."""
    frames = _stack_frames(shape, dtype)
    np.save(tmp_path / "in.npy", frames)
    src = tmp_path / "s.svdi"
    assert main(["encode", str(tmp_path / "in.npy"), "--stack", str(src), "--quality", "95"]) == 0
    out = tmp_path / "out.npy"
    capsys.readouterr()
    assert main(["decode", str(src), str(out)]) == 0
    assert "decoded frame 0" not in capsys.readouterr().err
    back = np.load(out)
    assert back.shape == frames.shape and back.dtype == frames.dtype
    tolerance = 4 if dtype == "uint8" else 4 * 257
    assert np.abs(back.astype(np.int64) - frames).max() <= tolerance
    again = tmp_path / "again.svdi"
    assert main(["encode", str(out), "--stack", str(again)]) == 0
    assert svdcodec.read_header(again).frames == shape[0]
    one = tmp_path / "one.npy"
    assert main(["decode", str(src), str(one), "--frame", "1"]) == 0
    assert np.array_equal(np.load(one), back[1])


@pytest.mark.parametrize(("shape", "dtype"), [((3, 12, 10), "uint8"), ((2, 9, 11, 3), "uint8"),
                                              ((3, 10, 7), "uint16")])
def test_decode_of_a_stack_to_tif_writes_every_frame_as_a_page(
        shape: tuple[int, ...], dtype: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    frames = _stack_frames(shape, dtype)
    np.save(tmp_path / "in.npy", frames)
    src = tmp_path / "s.svdi"
    assert main(["encode", str(tmp_path / "in.npy"), "--stack", str(src), "--quality", "95"]) == 0
    expected = svdcodec.decode_stack(src.read_bytes())
    out = tmp_path / "out.tif"
    capsys.readouterr()
    assert main(["decode", str(src), str(out)]) == 0
    err = capsys.readouterr().err
    assert "decoded frame 0" not in err and f"wrote the {shape[0]} frames as pages" in err
    with Image.open(out) as im:
        pages = [np.asarray(page) for page in ImageSequence.Iterator(im)]
    assert len(pages) == shape[0]
    for page, frame in zip(pages, expected, strict=True):
        assert np.array_equal(page, frame)
    again = tmp_path / "again.svdi"
    assert main(["encode", str(out), str(again)]) == 0  # a multi-page TIFF: one stack again
    assert svdcodec.read_header(again).frames == shape[0]
    one = tmp_path / "one.tif"
    assert main(["decode", str(src), str(one), "--frame", "1"]) == 0
    with Image.open(one) as im:
        assert getattr(im, "n_frames", 1) == 1
        assert np.array_equal(np.asarray(im), expected[1])


ENCODE_KEYS = {"input", "output", "bytes", "input_bytes", "width", "height", "mode", "layout",
               "factors", "ranks", "bpp", "seconds", "psnr", "notes", "frames", "stack_coding",
               "durations", "loop"}


def _encode_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(["encode", *args, "--json"]) == 0
    record: dict[str, object] = json.loads(capsys.readouterr().out)
    return record


def test_encode_json_names_one_input_as_a_string_and_several_as_a_list(
        gif: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``input`` is a string for one input (a still image, an animation, a --stack of one
    file) and a list only for --stack of several files; every record has the same keys."""
    png = tmp_path / "still.png"
    Image.new("RGB", (9, 7), (10, 200, 30)).save(png)
    still = _encode_json(capsys, str(png), str(tmp_path / "a.svdi"))
    animated = _encode_json(capsys, str(gif), str(tmp_path / "b.svdi"))
    one = _encode_json(capsys, str(gif), "--stack", str(tmp_path / "c.svdi"))
    several = _encode_json(capsys, str(png), str(png), "--stack", str(tmp_path / "d.svdi"))
    assert (still["input"], animated["input"], one["input"]) == (str(png), str(gif), str(gif))
    assert several["input"] == [str(png), str(png)]
    for record in (still, animated, one, several):
        assert set(record) == ENCODE_KEYS
    assert (still["frames"], still["stack_coding"], still["durations"], still["loop"]) == \
        (1, None, None, None)
    assert (animated["frames"], several["frames"]) == (4, 2)
