"""Encoding large images in strips (issue 13): the patch encoder's strips give the bytes of one
pass, the arith payload coded strip by strip is the whole plane's, the whole-image layouts
factorize large images by strips or refuse them, and the CLI takes and writes .npy arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import svdcodec
from svdcodec.cli import main
from svdcodec.metrics import psnr
from svdcodec.patch import analysis as patch_analysis
from svdcodec.patch import decode as patch_decode
from svdcodec.patch import encode as patch_encode
from svdcodec.patch import symbols
from svdcodec.patch.transform import downsample
from svdcodec.whole import encode as whole_encode
from svdcodec.whole import stripsvd

CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "I;16": 1}


def image(h: int, w: int, mode: str, seed: int = 0) -> np.ndarray:
    """Smooth shapes, an edge and noise (a photograph's mix), in ``mode``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    peak = 65535 if mode == "I;16" else 255
    planes = [np.sin(xx / 5.0 + k) * np.cos(yy / 4.0 - k) + (xx > w // 3) * 0.5
              + 0.15 * rng.standard_normal((h, w)) for k in range(CHANNELS[mode])]
    x = np.clip((np.stack(planes, axis=2) + 1.5) / 3.5 * peak, 0, peak)
    x = x.astype(np.uint16 if mode == "I;16" else np.uint8)
    return x[:, :, 0] if CHANNELS[mode] == 1 else x


def encode_in_strips(img: np.ndarray, samples: int, monkeypatch: pytest.MonkeyPatch,
                     **options: object) -> bytes:
    with monkeypatch.context() as m:
        m.setattr(patch_analysis, "STRIP_SAMPLES", samples)
        return svdcodec.encode(img, **options)


# --- the patch layout: strips give the bytes of one pass ---------------------------------------
@pytest.mark.parametrize("mode", list(CHANNELS))
@pytest.mark.parametrize("options", [{}, {"quality": 85}, {"quality": 30, "entropy": "zstd"}])
def test_strips_give_the_bytes_of_one_pass(mode: str, options: dict,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # odd sizes: the last strip is short and padded, chroma rows are cut at even image rows
    img = image(75, 61, mode)
    whole = svdcodec.encode(img, **options)
    for samples in (1, 3000):  # one patch row per strip; two strips
        assert encode_in_strips(img, samples, monkeypatch, **options) == whole


@pytest.mark.parametrize("options", [
    {"patch_size": 4, "quality": 70}, {"patch_size": 16}, {"target_size": 2500},
    {"target_psnr": 34}, {"quality": 60, "subsampling": 1, "colour": "none"},
])
def test_strips_give_the_bytes_of_one_pass_with_every_option(
        options: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    img = image(75, 61, "RGB")
    assert encode_in_strips(img, 700, monkeypatch, **options) == svdcodec.encode(img, **options)


@settings(deadline=None, max_examples=10)
@given(st.integers(1, 70), st.integers(1, 70), st.sampled_from(["L", "RGB", "LA"]),
       st.integers(1, 4000), st.sampled_from([{}, {"quality": 90}, {"entropy": "zstd"}]))
def test_strip_size_does_not_change_the_bytes(h: int, w: int, mode: str, samples: int,
                                              options: dict) -> None:
    img = image(h, w, mode, seed=h * w)
    whole = svdcodec.encode(img, **options)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(patch_analysis, "STRIP_SAMPLES", samples)
        assert svdcodec.encode(img, **options) == whole


def test_strips_are_whole_patch_rows_of_about_strip_samples() -> None:
    an = patch_analysis.PlaneAnalysis(np.zeros((100, 40)), 8, 8, rows_per_strip=3)
    assert an.strips == [(0, 3), (3, 6), (6, 9), (9, 12), (12, 13)]
    assert patch_analysis.strip_rows(5, 8) == patch_analysis.STRIP_SAMPLES // (5 * 64)
    assert patch_analysis.strip_rows(10**9, 8) == 1


def test_quantized_plane_rows_across_strips() -> None:
    rng = np.random.default_rng(0)
    plane = rng.uniform(-100, 100, (37, 29))
    one = patch_encode.quantize_plane(patch_analysis.PlaneAnalysis(plane, 4, 8), 3.0)
    many = patch_encode.quantize_plane(
        patch_analysis.PlaneAnalysis(plane, 4, 8, rows_per_strip=2), 3.0)
    assert len(many.q_strips) == 5 and len(one.q_strips) == 1
    assert all(q.dtype == np.int8 for q in many.q_strips)  # compact
    q = one.coefficients().q
    assert np.array_equal(many.coefficients().q, q)
    assert np.array_equal(many.q_rows(3, 7), q[3 * 8:7 * 8])  # 8 patches per row
    assert (many.deblock, many.sse, many.shift) == (one.deblock, one.sse, one.shift)


def test_compact_keeps_values_in_the_smallest_type() -> None:
    q = np.array([[0, 300, 0, 0], [1, -2, 0, 0]])
    c = patch_encode._compact(q)
    assert c.dtype == np.int16 and c.tolist() == [[0, 300], [1, -2]]
    assert patch_encode._compact(np.zeros((2, 3), np.int64)).shape == (2, 0)
    assert patch_encode._compact(np.array([[2**40]])).dtype == np.int64


def test_downsample_matches_the_mean_of_each_block() -> None:
    rng = np.random.default_rng(2)
    for h, w in [(1, 1), (5, 1), (1000, 2), (7, 9), (64, 33)]:
        x = rng.normal(0, 80, (h, w))
        padded = np.pad(x, ((0, h % 2), (0, w % 2)), mode="edge")
        mean = padded.reshape(-1, 2, padded.shape[1] // 2, 2).mean(axis=(1, 3))
        assert np.array_equal(downsample(x, 2, 2), mean)


# --- the arith payload, strip by strip ---------------------------------------------------------
@pytest.mark.parametrize("gh, gw, k, half", [(7, 5, 10, 4), (1, 3, 3, 2), (9, 1, 0, 4),
                                             (12, 11, 63, 4)])
def test_arith_encoder_in_strips_writes_the_bytes_of_one_call(gh: int, gw: int, k: int,
                                                              half: int) -> None:
    rng = np.random.default_rng(gh * gw + k)
    mult = rng.integers(1, 100, k).astype(np.int64)
    par = rng.integers(0, 4, k).astype(np.int64)
    basis = rng.integers(-15, 16, (k, half, half)).astype(np.int8)
    basis[:, 0, 0] = 3
    dc = rng.integers(-500, 500, (gh, gw)).astype(np.int64)
    q = (rng.laplace(size=(gh * gw, k)) * 2).astype(np.int64)
    q[rng.random(q.shape) < 0.5] = 0
    h = half if k else 0
    _arithc = _c_coder()
    whole = _arithc.encode(mult, par, basis, dc, q, k, h, gh, gw)
    for split in ([gh], [1] * gh, [2, gh - 2] if gh > 2 else [gh]):
        encoder = _arithc.encoder_start(mult, par, basis, k, h, gh, gw)
        r0 = 0
        for rows in split:
            _arithc.encoder_rows(encoder, np.ascontiguousarray(dc[r0:r0 + rows]),
                                 np.ascontiguousarray(q[r0 * gw:(r0 + rows) * gw]), rows)
            r0 += rows
        assert _arithc.encoder_finish(encoder) == whole


def _c_coder() -> Any:
    if patch_decode._arithc is None:  # pragma: no cover - built wherever a C compiler is
        pytest.skip("the C range coder is not built")
    return patch_decode._arithc


def test_arith_encoder_in_strips_refuses_misuse() -> None:
    _arithc = _c_coder()
    one = np.ones(1, np.int64)
    basis = np.ones((1, 2, 2), np.int8)
    encoder = _arithc.encoder_start(one, np.zeros(1, np.int64), basis, 1, 2, 2, 3)
    with pytest.raises(ValueError, match="not every patch row"):
        _arithc.encoder_finish(encoder)
    with pytest.raises(ValueError, match="rows out of range"):
        _arithc.encoder_rows(encoder, np.zeros(9, np.int64), np.zeros(9, np.int64), 3)
    with pytest.raises(ValueError, match="coefficient out of range"):
        _arithc.encoder_rows(encoder, np.zeros(3, np.int64), np.full(3, 2**40), 1)
    with pytest.raises(ValueError, match="parameters out of range"):
        _arithc.encoder_start(one, one, basis, 1, 3, 2, 3)


def test_pack_payload_strips_is_pack_payload() -> None:
    rng = np.random.default_rng(1)
    q = rng.integers(-300, 300, (24, 5)) * (rng.random((24, 5)) < 0.4)
    q[:, 4] = 0
    pc = symbols.PlaneCoefficients(np.arange(1, 6), np.zeros(5, np.int64),
                                   np.ones((5, 2, 2), np.int8), rng.integers(-9, 9, (4, 6)), q)
    strips = [q[:6], q[6:18], q[18:]]
    assert symbols.pack_payload_strips(pc.multipliers, pc.parities, pc.basis, pc.dc, strips) \
        == symbols.pack_payload(pc)


# --- the whole-image layouts -------------------------------------------------------------------
def test_strip_matrix_products_are_those_of_the_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stripsvd, "STRIP_BYTES", 8 * 50)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (37, 23)).astype(np.uint8)
    m = stripsvd.StripMatrix(x)
    b, y = rng.standard_normal((23, 4)), rng.standard_normal((37, 4))
    assert np.allclose(m.matmul(b, np.float64), x @ b)
    assert np.allclose(m.rmatmul(y, np.float64), x.T @ y)
    assert m.squared_norm() == float((x.astype(np.int64) ** 2).sum())
    for shape in ((37, 23), (23, 37)):
        z = rng.integers(0, 256, shape).astype(np.uint8)
        u, s, vt = stripsvd.truncated_svd_strips(stripsvd.StripMatrix(z), 23, n_iter=2)
        assert np.allclose(u @ np.diag(s) @ vt, z, atol=1e-6)
        assert np.allclose(s, np.linalg.svd(z.astype(float), compute_uv=False))


@pytest.mark.parametrize("options", [{"rank": 8}, {"layout": "stacked", "quality": 30},
                                     {"layout": "stacked-vertical", "energy": 0.99},
                                     {"target_size": 6000}, {"target_psnr": 25}])
def test_large_images_factorize_by_strips_alike(options: dict,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    img = image(90, 120, "RGB")
    whole = svdcodec.decode(svdcodec.encode(img, **{"layout": "per-channel", **options}))
    monkeypatch.setattr(whole_encode, "STRIP_SAMPLES", 1000)
    monkeypatch.setattr(stripsvd, "STRIP_BYTES", 8 * 600)
    data = svdcodec.encode(img, **{"layout": "per-channel", **options})
    strips = svdcodec.decode(data)
    assert abs(psnr(img, strips) - psnr(img, whole)) < 0.3
    if "target_size" in options:
        assert len(data) <= options["target_size"]


def test_large_images_refuse_what_needs_an_exact_svd(monkeypatch: pytest.MonkeyPatch) -> None:
    img = image(40, 50, "L")
    monkeypatch.setattr(whole_encode, "STRIP_SAMPLES", 100)
    for options in ({"rank": "optimal"}, {"rank": 5, "svd": "gesdd"}, {"energy": 1.0}):
        with pytest.raises(ValueError, match="layout='patch'"):
            svdcodec.encode(img, **options)


def test_whole_layouts_refuse_images_above_max_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whole_encode, "MAX_PIXELS", 40 * 50 - 1)
    with pytest.raises(ValueError, match=r"at most 1,999 pixels.*layout='patch'"):
        svdcodec.encode(image(40, 50, "RGB"), rank=3)
    svdcodec.encode(image(40, 50, "RGB"))  # the patch layout: any size


# --- the command line: .npy in and out, decoder limits -----------------------------------------
@pytest.mark.parametrize("mode", ["L", "RGB", "I;16"])
def test_cli_round_trips_npy_arrays(tmp_path: Path, mode: str,
                                    capsys: pytest.CaptureFixture) -> None:
    img = image(30, 41, mode)
    np.save(tmp_path / "in.npy", img)
    assert main(["encode", str(tmp_path / "in.npy"), str(tmp_path / "a.svdi"),
                 "--quality", "80"]) == 0
    assert main(["decode", str(tmp_path / "a.svdi"), str(tmp_path / "out.npy")]) == 0
    out = np.load(tmp_path / "out.npy")
    assert out.dtype == img.dtype and out.shape == img.shape
    assert np.array_equal(out, svdcodec.decode((tmp_path / "a.svdi").read_bytes()))
    assert "out.npy: 41x30" in capsys.readouterr().out


def test_cli_npy_with_signed_samples_and_stacks(tmp_path: Path) -> None:
    # (merged with main: mode I;16S takes int16 .npy input; a stack's frames go to .npy too)
    signed = (image(30, 41, "I;16").astype(np.int32) - 30000).astype(np.int16)
    np.save(tmp_path / "ct.npy", signed)
    assert main(["encode", str(tmp_path / "ct.npy"), str(tmp_path / "ct.svdi")]) == 0
    assert svdcodec.read_header((tmp_path / "ct.svdi").read_bytes()).mode == "I;16S"
    assert main(["decode", str(tmp_path / "ct.svdi"), str(tmp_path / "back.npy")]) == 0
    back = np.load(tmp_path / "back.npy")
    assert back.dtype == np.int16
    assert np.array_equal(back, svdcodec.decode((tmp_path / "ct.svdi").read_bytes()))
    frames = np.stack([image(20, 24, "L"), image(20, 24, "L")[::-1]])
    stack = tmp_path / "s.svdi"
    stack.write_bytes(svdcodec.encode_stack(frames, coding="frames", quality=60))
    assert main(["decode", str(stack), str(tmp_path / "f.npy"), "--frame", "1"]) == 0
    assert np.array_equal(np.load(tmp_path / "f.npy"), svdcodec.decode(stack.read_bytes(),
                                                                       frame=1))
    assert main(["decode", str(stack), str(tmp_path / "g.npy"), "--frame", "1",
                 "--limit", "max_pixels=100"]) == 1  # the limits apply to stack frames


def test_cli_refuses_npy_arrays_that_are_not_images(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    np.save(tmp_path / "f.npy", np.zeros((4, 4), np.float32))
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    for name in ("f.npy", "junk.npy"):
        assert main(["encode", str(tmp_path / name), str(tmp_path / "o.svdi")]) == 1
        assert capsys.readouterr().err.startswith(f"svdcodec: error: {tmp_path / name}: ")


def test_cli_decode_limit_flag(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    svdi = tmp_path / "a.svdi"
    svdi.write_bytes(svdcodec.encode(image(30, 40, "L")))
    assert main(["decode", str(svdi), str(tmp_path / "o.png"), "--limit", "max_pixels=1000"]) \
        == 1
    assert "1000" in capsys.readouterr().err  # the limit it broke
    assert main(["decode", str(svdi), str(tmp_path / "o.png"), "--limit",
                 "max_pixels=1200"]) == 0
    assert main(["decode", str(svdi), str(tmp_path / "p.png"), "--limit", "pixels=5"]) == 2
    assert "FIELD=N" in capsys.readouterr().err


def test_cli_encodes_npy_images_beyond_the_default_decoder_limits(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # the encode reads its own file back (record, PSNR): not refused by the decoder's limits
    monkeypatch.setattr(svdcodec.limits, "_default", svdcodec.Limits(max_pixels=500))
    np.save(tmp_path / "in.npy", image(30, 41, "L"))
    assert main(["encode", str(tmp_path / "in.npy"), str(tmp_path / "a.svdi"),
                 "--target-psnr", "30"]) == 0
    assert "a.svdi: 41x30 L" in capsys.readouterr().out
    assert main(["decode", str(tmp_path / "a.svdi"), str(tmp_path / "o.npy")]) == 1
    assert "500" in capsys.readouterr().err
    assert main(["decode", str(tmp_path / "a.svdi"), str(tmp_path / "o.npy"),
                 "--limit", "max_pixels=1230"]) == 0
