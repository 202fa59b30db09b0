"""tools/svd_algorithms.py: the algorithm race, and the one-sided Jacobi wrapper it adds."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

TOOL = Path(__file__).resolve().parent.parent / "tools" / "svd_algorithms.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("svd_algorithms", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["svd_algorithms"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def _images(folder: Path) -> None:
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:24, 0:32]
    rgb = np.stack([(x * 8) % 256, (y * 10) % 256, (x * y) % 256], axis=2).astype(np.uint8)
    Image.fromarray(rgb).save(folder / "a.png")
    grey = rng.integers(0, 256, (20, 28), dtype=np.uint8)
    Image.fromarray(grey).save(folder / "b.png")


def test_race_runs_on_a_folder_and_prints_jacobi(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _images(tmp_path)
    plot = tmp_path / "race.png"
    assert tool.main([str(tmp_path), "--rank", "4", "--scales", "0.5,1", "--plot", str(plot),
                      "--check"]) == 0
    out = capsys.readouterr().out
    assert "gejsv (one-sided Jacobi)" in out
    assert out.count("gejsv (one-sided Jacobi)") == 2 + 1  # one median row per scale, --check
    assert "scale 0.5: 2 images" in out and "scale 1: 2 images" in out
    with Image.open(plot) as im:
        assert im.width > 500


def test_race_rows_are_accurate_for_the_exact_methods(tmp_path: Path) -> None:
    _images(tmp_path)
    a = tool.load_grey(tmp_path / "a.png")
    assert a.shape == (24, 32)
    rows = {r.method: r for r in tool.race(a, 5)}
    assert rows[tool.REFERENCE].err_smax == 0.0
    for name in ("gesdd (divide & conquer)", "gejsv (one-sided Jacobi)"):
        r = rows[name]
        assert r.err_smax < 1e-13 and r.err_smin < 1e-13 and abs(r.excess) < 1e-9
    assert np.isnan(rows["randomized q=4"].err_smin)  # truncated: no σ_min


def test_rank_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    _images(tmp_path)
    assert tool.main([str(tmp_path / "b.png"), "--rank", "99", "--scales", "1"]) == 2


def test_known_spectrum_check_holds_the_reference() -> None:
    for _name, err in tool.known_spectrum_check(60, 40):
        assert err < 1e-13


@settings(max_examples=25)
@given(m=st.integers(1, 12), n=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_jacobi_matches_lapack_svd(m: int, n: int, seed: int) -> None:
    a = np.random.default_rng(seed).standard_normal((m, n))
    u, s, vt = tool.svd_jacobi(a)
    r = min(m, n)
    assert u.shape == (m, r) and s.shape == (r,) and vt.shape == (r, n)
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), atol=1e-12)
    np.testing.assert_allclose((u * s) @ vt, a, atol=1e-12)
    np.testing.assert_allclose(u.T @ u, np.eye(r), atol=1e-12)


def test_jacobi_applies_lapacks_scale_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    """σ = (WORK(1)/WORK(2))·SVA: a driver that returns scaled values must be unscaled."""
    real = tool.scipy.linalg.lapack.dgejsv

    def scaled(a, **kw):
        sva, u, v, work, iwork, info = real(a, **kw)
        work = work.copy()
        work[0], work[1] = 8.0, 2.0
        return sva / 4.0, u, v, work, iwork, info

    a = np.random.default_rng(0).standard_normal((7, 5))
    monkeypatch.setattr(tool.scipy.linalg.lapack, "dgejsv", scaled)
    np.testing.assert_allclose(tool.svd_jacobi(a)[1], np.linalg.svd(a, compute_uv=False),
                               rtol=1e-13)
