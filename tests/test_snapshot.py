"""svdcodec.teach.snapshot: the snapshot SVD of a stack (frames as the columns of X)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from svdcodec.teach.snapshot import as_frames, frame_ranks, snapshot_svd


def rank2_stack(n: int = 7, h: int = 12, w: int = 10, seed: int = 0) -> np.ndarray:
    """Frames a_j A + b_j B with small integer images and weights: exactly rank 2 as uint8."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 50, (2, h, w))
    weights = rng.integers(0, 3, (n, 2))
    weights[:2] = [[1, 0], [0, 1]]  # both images occur, so the rank is 2, not 1
    return np.stack([p * a + q * b for p, q in weights]).astype(np.uint8)


def test_rank2_stack_has_rank_2() -> None:
    snap = snapshot_svd(rank2_stack())
    energy = snap.energy()
    assert energy[0] == 0.0 and energy[1] < 0.999
    assert energy[2] == pytest.approx(1.0, abs=1e-12)
    assert snap.rank_for_energy(1.0) == 2
    assert snap.s[2:].max() < 1e-6 * snap.s[0]
    assert snap.psnr()[2] > 100  # the rest is round-off


def test_eigen_images_are_orthonormal_and_time_courses_rebuild_the_frames() -> None:
    frames = rank2_stack()
    snap = snapshot_svd(frames)
    assert snap.u.shape == (12 * 10, 7) and snap.vt.shape == (7, 7)
    np.testing.assert_allclose(snap.u.T @ snap.u, np.eye(7), atol=1e-9)
    np.testing.assert_allclose(snap.vt @ snap.vt.T, np.eye(7), atol=1e-9)
    images, courses = snap.eigen_images(2), snap.time_courses(2)
    assert images.shape == (2, 12, 10) and courses.shape == (2, 7)
    rebuilt = np.einsum("ihw,ij->jhw", images, courses)  # frame j = sum_i u_i (s_i v_i[j])
    np.testing.assert_allclose(rebuilt, frames, atol=1e-8)
    np.testing.assert_allclose(snap.reconstruct(2), frames, atol=1e-8)


def test_singular_values_match_numpy_and_the_tail_is_eckart_young() -> None:
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (9, 8, 6, 3), dtype=np.uint8)
    snap = snapshot_svd(frames)
    x = frames.transpose(3, 1, 2, 0).reshape(-1, 9).astype(np.float64)  # channel planes
    np.testing.assert_allclose(snap.s, np.linalg.svd(x, compute_uv=False), rtol=1e-9)
    for k in (0, 1, 4, 9):
        err = float(np.sum((snap.reconstruct(k) - frames) ** 2))
        assert snap.tail()[k] == pytest.approx(err, rel=1e-7, abs=1e-6)
    assert snap.eigen_images(3).shape == (3, 8, 6, 3)
    assert snap.values_fraction(2) == pytest.approx(2 * (144 + 9 + 1) / (144 * 9))


def test_centred_stack_loses_one_rank_and_keeps_the_mean() -> None:
    frames = rank2_stack(n=6)
    snap = snapshot_svd(frames, center=True)
    assert snap.mean is not None
    np.testing.assert_allclose(snap.mean, frames.mean(axis=0))
    np.testing.assert_allclose(snap.reconstruct(0), np.broadcast_to(snap.mean, frames.shape))
    # a_j A + b_j B minus its mean spans at most 2 directions; energy of rank 2 is all of it
    assert snap.energy()[2] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(snap.reconstruct(2), frames, atol=1e-8)


def test_identical_frames_centred_have_no_energy() -> None:
    frames = np.full((4, 3, 5), 9, np.uint8)
    snap = snapshot_svd(frames, center=True)
    assert snap.norm2 == 0 and not snap.s.any()
    assert snap.energy().tolist() == [1.0] * 5
    np.testing.assert_allclose(snap.reconstruct(0), frames)


def test_more_frames_than_pixels() -> None:
    frames = np.random.default_rng(1).integers(0, 256, (10, 2, 2), dtype=np.uint8)
    snap = snapshot_svd(frames)
    assert snap.u.shape == (4, 4) and snap.vt.shape == (4, 10)
    np.testing.assert_allclose(snap.reconstruct(4), frames, atol=1e-8)


def test_frame_ranks_one_image_as_a_matrix() -> None:
    outer = np.outer(np.arange(1, 9), np.arange(1, 7)).astype(np.uint8)  # each frame rank 1
    frames = np.stack([outer, 2 * outer, np.outer(np.arange(8, 0, -1), [3] * 6).astype(np.uint8)])
    ranks, numbers = frame_ranks(frames, 40.0)
    assert ranks == [1, 1, 1]
    assert numbers == 3 * 1 * (8 + 6 + 1)
    grey16 = (frames.astype(np.uint16) * 257)[..., None]  # (N, H, W, 1): one channel
    assert frame_ranks(grey16, 40.0) == (ranks, numbers)


@settings(deadline=None, max_examples=25)
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 6), st.integers(1, 5),
                                      st.integers(1, 5))), st.booleans())
def test_full_rank_rebuilds_any_stack(frames: np.ndarray, center: bool) -> None:
    snap = snapshot_svd(frames, center=center)
    energy = snap.energy()
    assert np.all(np.diff(energy) >= -1e-12) and energy[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(snap.reconstruct(len(snap.s)), frames, atol=1e-6)


@pytest.mark.parametrize(("frames", "error", "match"), [
    ([], ValueError, "at least one frame"),
    ([np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8)], ValueError, "shape and dtype"),
    (np.zeros((2, 3, 3), np.float32), TypeError, "uint8 or uint16"),
    (np.zeros((3, 3), np.uint8), ValueError, r"\(N, H, W\)"),
    (np.zeros((2, 3, 3, 5), np.uint8), ValueError, "C in 1..4"),
    (np.zeros((0, 3, 3), np.uint8), ValueError, "at least one frame"),
])
def test_bad_stacks_are_caller_errors(frames: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        as_frames(frames)  # type: ignore[arg-type]
    with pytest.raises(error, match=match):
        snapshot_svd(frames)  # type: ignore[arg-type]


def test_x_is_the_snapshot_codings_matrix_and_eigen_images_have_frame_shape() -> None:
    from svdcodec.whole.snapshot import to_snapshot

    rng = np.random.default_rng(4)
    image = rng.integers(1, 80, (5, 7, 3))
    frames = np.stack([k * image for k in (1, 2, 3)]).astype(np.uint8)  # rank 1, colour
    snap = snapshot_svd(frames)
    column = to_snapshot(image[None].astype(np.uint8))[:, 0]  # layout 5's row order
    np.testing.assert_allclose(snap.u[:, 0], column / np.linalg.norm(column), atol=1e-12)
    eigen = snap.eigen_images(1)[0]
    np.testing.assert_allclose(eigen * np.linalg.norm(image), image, atol=1e-9)
    np.testing.assert_allclose(snap.time_courses(1)[0],
                               np.linalg.norm(image) * np.array([1, 2, 3]))
