"""Many files at once: ``svdcodec encode|decode IN... --out-dir DIR [-j N]``, svdcodec.cli.batch."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import svdcodec
from svdcodec.cli import batch, main


def make_pngs(folder: Path, count: int = 3) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(count):
        yy, xx = np.mgrid[0:24 + 4 * i, 0:40]
        rgb = np.stack([xx * 5 + i, yy * 7, (xx + yy) * 3], axis=2).astype(np.uint8)
        paths.append(folder / f"img{i}.png")
        Image.fromarray(rgb).save(paths[-1])
    return paths


def run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_encode_then_decode_a_batch(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pngs = make_pngs(tmp_path / "in")
    code, out, err = run(["encode", *map(str, pngs), "--out-dir", str(tmp_path / "svdi"),
                          "-j", "2", "--rank", "5"], capsys)
    assert code == 0 and all(line.startswith("svdcodec: note: ") for line in err.splitlines())
    assert "encoded 3 files ok, 0 failed" in out and "bytes in" in out and " s (-j 2)" in out
    svdis = sorted((tmp_path / "svdi").iterdir())
    assert [p.name for p in svdis] == ["img0.svdi", "img1.svdi", "img2.svdi"]
    for png, svdi in zip(pngs, svdis, strict=True):
        with Image.open(png) as im:
            assert svdcodec.read(svdi).shape == (im.height, im.width, 3)
    code, out, err = run(["decode", *map(str, svdis), "--out-dir", str(tmp_path / "back"),
                          "--format", "png", "-j", "1", "--rank", "2"], capsys)
    assert code == 0 and "decoded 3 files ok, 0 failed" in out
    for png in pngs:
        with Image.open(tmp_path / "back" / png.name) as back, Image.open(png) as im:
            assert back.format == "PNG" and back.size == im.size and back.mode == "RGB"


def test_a_failing_file_does_not_stop_the_batch(tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    pngs = make_pngs(tmp_path / "in", 2)
    garbage = tmp_path / "in" / "garbage.png"
    garbage.write_bytes(b"not an image")
    missing = tmp_path / "in" / "missing.png"
    out_dir = tmp_path / "out"
    code, out, err = run(["encode", str(pngs[0]), str(garbage), str(missing), str(pngs[1]),
                          "--out-dir", str(out_dir), "-j", "2", "--rank", "3"], capsys)
    assert code == 1
    assert "encoded 2 files ok, 2 failed" in out
    lines = [line for line in err.splitlines() if not line.startswith("svdcodec: note: ")]
    assert sorted(line.split(": ")[2] for line in lines) == [str(garbage), str(missing)]
    assert all(line.startswith("svdcodec: error: ") for line in lines)
    # the good files were written, the bad ones left nothing behind (no temporary files either)
    assert sorted(p.name for p in out_dir.iterdir()) == ["img0.svdi", "img1.svdi"]


def test_existing_outputs_need_force(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pngs = make_pngs(tmp_path / "in", 2)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "img0.svdi").write_bytes(b"precious")
    argv = ["encode", *map(str, pngs), "--out-dir", str(out_dir), "-j", "2", "--rank", "3"]
    code, out, err = run(argv, capsys)
    assert code == 1 and "encoded 1 file ok, 1 failed" in out
    errors = [line for line in err.splitlines() if line.startswith("svdcodec: error: ")]
    assert len(errors) == 1 and "img0.png" in errors[0] and "--force" in errors[0]
    assert (out_dir / "img0.svdi").read_bytes() == b"precious"
    assert (out_dir / "img1.svdi").exists()
    code, out, err = run([*argv, "--force"], capsys)
    assert code == 0 and "svdcodec: error" not in err
    assert (out_dir / "img0.svdi").read_bytes()[:5] == b"\x89SVDI"


def test_two_jobs_write_the_same_bytes_as_one(tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    # every worker runs BLAS on one thread, so the factors do not depend on -j
    rng = np.random.default_rng(0)
    pngs = []
    for i in range(4):
        pngs.append(tmp_path / f"noise{i}.png")
        Image.fromarray(rng.integers(0, 256, (300, 260, 3), dtype=np.uint8)).save(pngs[-1])
    for jobs in ("1", "2"):
        code, _, _ = run(["encode", *map(str, pngs), "--out-dir", str(tmp_path / f"j{jobs}"),
                          "-j", jobs, "--quality", "60"], capsys)
        assert code == 0
    for png in pngs:
        name = png.stem + ".svdi"
        assert (tmp_path / "j1" / name).read_bytes() == (tmp_path / "j2" / name).read_bytes()


def test_outputs_that_collide_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    first = make_pngs(tmp_path / "a", 1)[0]
    second = make_pngs(tmp_path / "b", 1)[0]  # the same name: both would write img0.svdi
    code, out, err = run(["encode", str(first), str(second), "--out-dir", str(tmp_path / "o"),
                          "--rank", "2"], capsys)
    assert code == 1 and "encoded 1 file ok, 1 failed" in out
    assert str(second) in err and "also the output of" in err


def test_plan_never_writes_over_an_input(tmp_path: Path) -> None:
    sources = [tmp_path / "x.png", tmp_path / "x.svdi"]
    tasks = batch.plan(sources, tmp_path, ".svdi")
    assert tasks[0].error is not None and "overwrite the input" in tasks[0].error
    assert tasks[1].error is not None


@pytest.mark.parametrize("argv", [["encode", "a", "b", "c"], ["encode", "a"],
                                  ["encode", "a", "b", "-j", "2"],
                                  ["encode", "a", "--out-dir", "d", "-j", "0"],
                                  ["decode", "a", "--out-dir", "d", "--format", "nope"],
                                  ["decode", "a", "b", "--format", "png"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    assert main(argv) == 2


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_workers_run_blas_on_one_thread() -> None:
    before = os.environ.get("OPENBLAS_NUM_THREADS")
    with batch.pool(1) as executor:
        executor.submit(exec, "import numpy, scipy.linalg").result()  # both load an OpenBLAS
        assert executor.submit(os.getenv, "OPENBLAS_NUM_THREADS").result() == "1"
        assert len(executor.submit(os.listdir, "/proc/self/task").result()) == 1
        # nor a second decoding thread: the workers already use every CPU
        assert executor.submit(os.getenv, "SVDCODEC_DECODE_THREADS").result() == "1"
    assert os.environ.get("OPENBLAS_NUM_THREADS") == before  # the parent's is restored


def test_ctrl_c_stops_a_batch_and_leaves_only_complete_files(tmp_path: Path) -> None:
    """Issue 11.8: SIGINT to the process group (as a terminal's Ctrl-C sends it) once the first
    output exists: exit 130 with one line, queued files cancelled, no temporary file, every
    output a complete .svdi, nothing written after the exit."""
    import signal
    import subprocess
    import sys
    import time

    count = 16  # each a second or more of work: the old batch wrote them all after Ctrl-C
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:480, 0:640]
    sources = []
    for i in range(count):
        sources.append(tmp_path / "in" / f"n{i:02d}.png")
        sources[-1].parent.mkdir(exist_ok=True)
        texture = np.stack([xx % (200 + i), yy % 150, (xx + yy) % 90], axis=2)
        Image.fromarray((rng.integers(0, 60, (480, 640, 3)) + texture).astype(np.uint8)).save(
            sources[-1])
    out_dir = tmp_path / "out"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "svdcodec", "encode", *map(str, sources), "--out-dir",
         str(out_dir), "-j", "2", "--quality", "80"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True)  # its own process group, workers included
    try:
        deadline = time.monotonic() + 300
        while not (out_dir.is_dir() and any(p.suffix == ".svdi" for p in out_dir.iterdir())):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGINT)
        sent = time.monotonic()
        _, err = process.communicate(timeout=60)
        seconds = time.monotonic() - sent
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130 and err == "svdcodec: error: interrupted\n"
    assert seconds < 10  # a safety bound; it used to go on for 10-33 s
    names = sorted(p.name for p in out_dir.iterdir())
    assert all(n.endswith(".svdi") and not n.startswith(".") for n in names)  # no temp files
    assert 1 <= len(names) < count  # the queued files were cancelled
    for name in names:  # each one complete
        assert svdcodec.read_header(out_dir / name).width == 640
    time.sleep(1)
    assert sorted(p.name for p in out_dir.iterdir()) == names  # nothing after the exit


def test_closing_a_run_stops_the_workers_and_removes_temporaries(tmp_path: Path) -> None:
    """The generator's cleanup: temporary files of killed writes are removed."""
    pngs = make_pngs(tmp_path / "in", 2)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    tasks = batch.plan(pngs, out_dir, ".svdi")
    leftover = out_dir / ".img0.svdi.abc123.tmp"  # as atomic_write names it
    leftover.write_bytes(b"partial")
    other = out_dir / ".unrelated.tmp"
    other.write_bytes(b"")
    outcomes = batch.run(tasks, _slow_job, 1)
    next(outcomes)
    outcomes.close()
    assert not leftover.exists() and other.exists()


def _slow_job(source: Path, output: Path) -> None:
    output.write_bytes(b"done")


def test_remove_temporaries_covers_a_stacks_frame_files(tmp_path: Path) -> None:
    """decode --out-dir of a stack writes st-000.png, st-001.png, ... for the task whose
    output is st.png: a write killed there left .st-001.png.XXXX.tmp behind."""
    task = batch.Task(tmp_path / "st.svdi", tmp_path / "st.png")
    mine = [tmp_path / ".st-001.png.abc123.tmp", tmp_path / ".st-1234.png.x.tmp",
            tmp_path / ".st.png.q.tmp"]
    others = [tmp_path / ".stx-001.png.abc.tmp", tmp_path / ".st-abc.png.abc.tmp",
              tmp_path / ".st-001.tif.abc.tmp", tmp_path / "st-001.png"]
    for path in mine + others:
        path.write_bytes(b"")
    batch.remove_temporaries([task])
    assert [p.exists() for p in mine + others] == [False] * 3 + [True] * 4
