"""Smoke tests of the scripts in tools/: each runs, as ``python tools/NAME.py``, in a child
process of this interpreter, on tiny images made here, in ``tmp_path``, and prints what it is for.

They check that a tool still runs against the package as it is now (its imports, flags and the
public names it uses), not its figures: timings on a tiny input mean nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import svdcodec

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def run_tool(name: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python tools/<name>.py args`` in ``cwd``; fails the test unless it exits 0."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "TMPDIR": str(cwd)}
    done = subprocess.run([sys.executable, str(TOOLS / f"{name}.py"), *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done


def photo(path: Path, seed: int = 0, shape: tuple[int, int] = (48, 64)) -> Path:
    """A small smooth RGB image with noise, written as PNG."""
    h, w = shape
    i, j = np.mgrid[:h, :w]
    rng = np.random.default_rng(seed)
    planes = [100 + 50 * np.sin(j / 7 + seed) * np.cos(i / 5) + 20 * c + rng.normal(0, 5, (h, w))
              for c in range(3)]
    Image.fromarray(np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A folder of two 64x48 PNG photographs."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for seed in range(2):
        photo(folder / f"img{seed}.png", seed)
    return folder


def test_bench_thumbnail(tmp_path: Path) -> None:
    out = run_tool("bench_thumbnail", photo(tmp_path / "a.png"), "--size", "1040x1040",
                   "--rank", "4", "--runs", "1", cwd=tmp_path).stdout
    assert "upscaled to 1040x1040 RGB, rank 4" in out
    assert "draft decodes 520x520" in out  # draft() halves it: the branch the tool measures
    assert "open + thumbnail (draft)" in out and "draft speed-up" in out


def test_bench_factors(tmp_path: Path, corpus: Path) -> None:
    out = run_tool("bench_factors", corpus, "--rank", "8", "--speed-size", "96x64",
                   cwd=tmp_path).stdout
    lines = out.splitlines()
    assert lines[0] == "whole-image per-channel SVD, rank 8"
    assert lines[1].split()[:3] == ["image", "f16", "bytes"]
    assert [line.split()[0] for line in lines[2:5]] == ["img0", "img1", "median"]
    assert "96x64 RGB (img0 upscaled), rank 50" in out and "naive numpy.linalg.svd" in out


def test_measure_memory(tmp_path: Path) -> None:
    out = run_tool("measure_memory", "--width", "64", "--height", "48", "--rank", "8",
                   cwd=tmp_path).stdout
    rows = out.splitlines()
    assert rows[0].split()[:4] == ["case", "file", "output", "counted"]
    assert sum(row.startswith("64x48 RGB r8") and row.endswith("decoded") for row in rows) == 4
    bombs = [row for row in rows if row.startswith("bomb")]
    assert len(bombs) == 2 and all("LimitError" in row for row in bombs)


def test_measure_decode_memory(tmp_path: Path) -> None:
    """Two small sizes through the strip decoder and the whole-plane one: a table row each,
    the strip decoder's peak within issue 13's target."""
    out = run_tool("measure_decode_memory", "--sizes", "96x64", "200x120", "--whole",
                   "--source", photo(tmp_path / "src.png"), cwd=tmp_path).stdout
    rows = [row for row in out.splitlines() if row.startswith("| 96x64") or
            row.startswith("| 200x120")]
    assert [row.split("|")[6].strip() for row in rows] == ["strips", "whole"] * 2
    assert all(row.rstrip(" |").endswith("yes") for row in rows if "strips" in row)


def test_bench_decode_speed(tmp_path: Path, corpus: Path) -> None:
    out = run_tool("bench_decode_speed", corpus, "--repeats", "1", cwd=tmp_path).stdout
    rows = [row.split("|") for row in out.splitlines() if row.startswith("| 0.") or
            row.startswith("| 1 ")]
    # a wall-time table and a CPU-time table
    assert [row[1].strip() for row in rows] == ["0.25", "0.5", "1"] * 2
    assert all(float(row[i]) > 0 for row in rows for i in range(4, 11))  # times and ratios


def test_bench_speed(tmp_path: Path) -> None:
    out = run_tool("bench_speed", photo(tmp_path / "a.png"), "--quick", cwd=tmp_path).stdout
    assert "96x64 RGB, rank 16" in out
    assert "enc ms" in out and "dec ms" in out
    for label in ("svdcodec per-channel int8", "svdcodec stacked float16", "JPEG q90",
                  "naive numpy.linalg.svd"):
        assert f"\n{label} " in out, label
    assert "truncation PSNR, per channel, rank 16" in out and "encode floor" in out
    assert "== batch" not in out


def test_bench_rd(tmp_path: Path) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    photo(folder / "img0.png")
    done = run_tool("bench_rd", folder, "--jobs", "1", cwd=tmp_path)
    out = done.stdout
    assert "1 images; PSNR / SSIM over RGB" in out
    for codec in ("svd-patch", "svd-per-channel", "svd-stacked", "jpeg", "webp"):
        assert f"\n{codec} " in out, codec
    assert "BD against JPEG" in out and "svd-patch BD-PSNR per image: img0:" in out
    assert "decode time" in out and "median of" in out  # the timing table, after the sweeps
    assert "svdi auto" in out and "auto/AVIF" in out  # the default's encode time too
    assert "2T/WebP" in out  # the decoder with and without its second thread


def test_bench_stack(tmp_path: Path) -> None:
    """On a synthetic catData.mat (the real one is not read by tests): the table's rows."""
    import scipy.io

    rng = np.random.default_rng(5)
    y, x = np.mgrid[:16, :16]
    cats = [np.clip(90 + 4 * x + 3 * y + 20 * k + rng.normal(0, 6, (16, 16)), 0, 255)
            for k in range(4)]
    matrix = np.stack([c.astype(np.uint8).flatten(order="F") for c in cats], axis=1)
    scipy.io.savemat(tmp_path / "cats.mat", {"cat": matrix})
    out = run_tool("bench_stack", tmp_path / "cats.mat", "--quick", "--psnr", "30",
                   cwd=tmp_path).stdout
    assert out.startswith("4 frames of 16x16")
    row = [line for line in out.splitlines() if line.startswith("| 30.00 dB")]
    assert len(row) == 1 and row[0].endswith("% |")


def test_make_vectors(tmp_path: Path) -> None:
    outdir = tmp_path / "vectors"
    out = run_tool("make_vectors", outdir, cwd=tmp_path).stdout
    written = sorted(outdir.glob("*.svdi"))
    rows = {line.split("`")[1] for line in out.splitlines() if line.startswith("| `")}
    assert rows == {p.name for p in written}  # a README row for each file written
    decoded = [p for p in written if p.with_suffix(".png").exists()]
    assert len(decoded) >= 14
    for path in written:
        if path in decoded:  # each vector's expected decode beside it
            with Image.open(path.with_suffix(".png")) as im:
                expected = np.asarray(im)
            if "stack-" in path.name:  # spec section 14: the frames one under another
                frames = svdcodec.decode_stack(path.read_bytes())
                out_image = frames.reshape(-1, *frames.shape[2:])
            else:
                out_image = svdcodec.decode(path.read_bytes(), allow_truncated=True)
            if out_image.dtype == np.int16:  # I;16S: the PNG holds sample + 32768 (15.1)
                out_image = (out_image.astype(np.int32) + 32768).astype(np.uint16)
            assert np.array_equal(out_image, expected), path.name
        else:  # a vector that every decoder must reject
            with pytest.raises(svdcodec.SvdiError):
                svdcodec.decode(path.read_bytes())
    # committed vectors are never regenerated
    before = {p.name: p.stat().st_mtime_ns for p in outdir.iterdir()}
    assert run_tool("make_vectors", outdir, cwd=tmp_path).stdout.strip() == ""
    assert {p.name: p.stat().st_mtime_ns for p in outdir.iterdir()} == before


def test_svd_algorithms(tmp_path: Path) -> None:
    out = run_tool("svd_algorithms", photo(tmp_path / "a.png"), "--rank", "8",
                   cwd=tmp_path).stdout
    assert "scale 1: 1 images, luminance (BT.601), 48x64, rank 8" in out
    assert "scale 0.25: 1 images" in out and "scale 0.5: 1 images" in out
    lines = out.splitlines()
    head = lines.index(next(line for line in lines if line.startswith("scale 1:"))) + 1
    assert lines[head].split()[:3] == ["method", "time", "ms"]
    methods = [line.split("  ")[0] for line in lines[head + 2:]]
    for method in ("gesvd (QR iteration)", "gesdd (divide & conquer)",
                   "gejsv (one-sided Jacobi)", "randomized q=4", "gram eigh f64",
                   "gram eigh f32"):
        assert method in methods, method


def test_fuzz_atheris_python_fallback(tmp_path: Path) -> None:
    """The pure-Python mutator (no atheris needed), with the C/numpy differential check."""
    done = run_tool("fuzz_atheris", "--python", "--differential", tmp_path / "seeds",
                    "-max_total_time=2", cwd=tmp_path)
    assert "seeds written to" in done.stderr
    assert sorted((tmp_path / "seeds").glob("seed-*.svdi"))
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Done ") and last.endswith(" 0 crashes"), last
    assert int(last.split()[1]) > 0  # it ran some inputs
    assert not list(tmp_path.glob("crash-*"))


def test_fuzz_atheris_libfuzzer(tmp_path: Path) -> None:
    pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")
    done = run_tool("fuzz_atheris", tmp_path / "seeds", "-runs=300", cwd=tmp_path)
    assert "seeds written to" in done.stderr
    assert not list(tmp_path.glob("crash-*"))


def test_stack_examples(tmp_path: Path, corpus: Path) -> None:
    import scipy.io

    faces = np.random.default_rng(2).integers(0, 256, (5, 4, 4), dtype=np.uint8)
    # the book's layout: one face per column, each in Fortran (column-major) order
    scipy.io.savemat(tmp_path / "cats.mat", {"cat": np.stack([f.ravel(order="F") for f in faces],
                                                             axis=1)})
    out = run_tool("stack_examples", tmp_path / "ex", "--cats", tmp_path / "cats.mat",
                   "--kodak", corpus, "--frames", "3", cwd=tmp_path).stdout
    assert "cats.npy: (5, 4, 4) uint8" in out and "lapse.npy: (3, 128, 128, 3) uint8" in out
    np.testing.assert_array_equal(np.load(tmp_path / "ex" / "cats.npy"), faces)
    assert np.load(tmp_path / "ex" / "shaky.npy").shape == (3, 128, 128, 3)
    assert np.load(tmp_path / "ex" / "unrelated.npy").shape == (2, 128, 128, 3)


def test_bench_dicom_stack(tmp_path: Path) -> None:
    """On pydicom's 2-frame RLE file (shipped in its wheel): one table row per quality."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    path = get_testdata_file("SC_rgb_rle_2frame.dcm", download=False)
    if path is None:
        pytest.skip("SC_rgb_rle_2frame.dcm is not shipped with this pydicom")
    assert pydicom.dcmread(path).NumberOfFrames == 2
    out = run_tool("bench_dicom_stack", path, "--quick", "--quality", "40", "80",
                   cwd=tmp_path).stdout
    assert out.startswith("SC_rgb_rle_2frame.dcm: 2 frames of 100x100 uint8 RGB")
    rows = [line for line in out.splitlines() if line.startswith("| 40 | tall |")
            or line.startswith("| 80 | tall |")]
    assert len(rows) == 2 and all(r.endswith(" s |") for r in rows)


def test_ctx_study(tmp_path: Path, corpus: Path) -> None:
    """On two tiny photographs (one studied, one training the initial probabilities) and a
    synthetic catData.mat: the trace equals the reference coder's bins, and the tables print."""
    import scipy.io

    rng = np.random.default_rng(7)
    y, x = np.mgrid[:64, :64]
    cats = [np.clip(90 + x + y + 20 * k + rng.normal(0, 6, (64, 64)), 0, 255) for k in range(3)]
    matrix = np.stack([c.astype(np.uint8).flatten(order="F") for c in cats], axis=1)
    scipy.io.savemat(tmp_path / "cats.mat", {"cat": matrix})
    out = run_tool("ctx_study", "--kodak", corpus, "--images", "img0", "--bpp", "1", "2",
                   "--cats", tmp_path / "cats.mat", "--cache", tmp_path / "cache", "--validate",
                   "--only", "rate 4/8", "trained init n0=14", cwd=tmp_path).stdout
    checks = [line for line in out.splitlines() if "trace == reference" in line]
    assert checks and all("trace == reference: True" in line for line in checks)
    assert "| rate 4/8 |" in out and "| trained init n0=14 |" in out
    assert "cats auto = tall" in out


def test_bench_synthetic(tmp_path: Path) -> None:
    out = run_tool("bench_synthetic", "--size", "64x96", "--out", tmp_path / "images",
                   cwd=tmp_path).stdout
    rows = {row.split("|")[1].strip(): row.split("|") for row in out.splitlines()
            if row.startswith("| ") and not row.startswith("| image")}
    assert set(rows) == {"text", "tiled", "chart", "checker", "ramp"}
    for cells in rows.values():
        arith, auto = (int(cells[i].replace(",", "")) for i in (3, 5))
        assert auto <= arith  # auto keeps the smaller payload of its coefficients
        assert float(cells[11]) >= 1.0
    assert len(list((tmp_path / "images").glob("*.png"))) == 5


@pytest.mark.parametrize("args", [("--size", "1x1"), ("--size", "0x5"), ("--size", "8x-3"),
                                  ("--quality", "150", "--size", "8x8")])
def test_bench_synthetic_refuses_sizes_and_qualities_it_cannot_run(args: tuple[str, ...],
                                                                   tmp_path: Path) -> None:
    """--size 1x1 ended in a traceback drawing the chart (y1 must be greater than or equal
    to y0), 0x5 and --quality 150 in tracebacks from svdcodec.encode: usage errors (exit 2)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(TOOLS / "bench_synthetic.py"), *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "error: argument --" in done.stderr


def test_bench_synthetic_runs_at_its_smallest_size(tmp_path: Path) -> None:
    out = run_tool("bench_synthetic", "--size", "2x2", cwd=tmp_path).stdout
    assert sum(row.startswith("| ") and not row.startswith("| image")
               for row in out.splitlines()) == 5


def test_measure_dicom_series_makes_the_same_series_every_run() -> None:
    """The README quotes tools/measure_dicom_series.py's bytes: the series it makes must not
    change from run to run (random UIDs made ``dser`` differ by tens of bytes)."""
    pytest.importorskip("pydicom")
    import importlib.util

    spec = importlib.util.spec_from_file_location("measure_dicom_series",
                                                  TOOLS / "measure_dicom_series.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    first = tool.ct_small_series(2)
    assert len(first) == 2 and first[0] != first[1]
    assert tool.ct_small_series(2) == first
