"""Batches on a Dask cluster (svdcodec.cli.dask_batch, svdcodec.cli.convert) and zarr arrays
written from Dask: one LocalCluster of 2 worker processes for the module."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

distributed = pytest.importorskip("distributed")

import svdcodec  # noqa: E402
from svdcodec.cli import dask_batch, main  # noqa: E402
from svdcodec.cli.convert import convert  # noqa: E402
from svdcodec.cli.dask_batch import LOCAL_CLUSTER  # noqa: E402


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  **LOCAL_CLUSTER) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def make_pngs(folder: Path, count: int = 4) -> list[Path]:
    """Small photo-like RGB images (gradients and noise), and one file that is not an image."""
    folder.mkdir()
    rng = np.random.default_rng(1)
    paths = []
    for i in range(count):
        yy, xx = np.mgrid[0:40 + 8 * i, 0:56]
        rgb = np.stack([xx * 4 + i, yy * 5, (xx + yy) * 2], axis=2) + rng.integers(0, 24, (
            40 + 8 * i, 56, 3))
        paths.append(folder / f"img{i}.png")
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(paths[-1])
    (folder / "broken.png").write_bytes(b"not an image")
    return [*paths, folder / "broken.png"]


def test_convert_on_a_cluster_writes_the_bytes_of_the_process_pool(
        client: distributed.Client, tmp_path: Path) -> None:
    pngs = make_pngs(tmp_path / "in")
    on_dask = convert(pngs, tmp_path / "dask", client=client, quality=40)
    in_pool = convert(pngs, tmp_path / "pool", jobs=2, quality=40)
    assert [o.task.source for o in on_dask] == pngs == [o.task.source for o in in_pool]
    assert [o.error is None for o in on_dask] == [True] * 4 + [False]
    assert "cannot identify image file" in on_dask[-1].error
    assert [(o.error, o.bytes_in, o.bytes_out) for o in on_dask] == \
        [(o.error, o.bytes_in, o.bytes_out) for o in in_pool]
    for png in pngs[:-1]:
        name = png.stem + ".svdi"
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes()
    assert not (tmp_path / "dask" / "broken.svdi").exists()


def test_convert_on_a_cluster_decodes_and_keeps_existing_outputs(
        client: distributed.Client, tmp_path: Path) -> None:
    pngs = make_pngs(tmp_path / "in", count=2)[:-1]
    convert(pngs, tmp_path / "svdi", client=client, rank=8, layout="per-channel")
    svdis = sorted((tmp_path / "svdi").iterdir())
    outcomes = convert(svdis, tmp_path / "png", to="png", client=client, rank=4)
    assert [o.error for o in outcomes] == [None, None]
    for svdi, outcome in zip(svdis, outcomes, strict=True):
        with Image.open(outcome.task.output) as im:
            assert im.size[::-1] == svdcodec.read(svdi).shape[:2]
        assert outcome.bytes_in == svdi.stat().st_size
    again = convert(svdis, tmp_path / "png", to="png", client=client)
    assert all("exists (use --force to replace it)" in o.error for o in again)
    assert [o.error for o in convert(svdis, tmp_path / "png", to="png", client=client,
                                     force=True)] == [None, None]


def test_relative_paths_are_the_clients(client: distributed.Client, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    make_pngs(tmp_path / "in", count=1)
    monkeypatch.chdir(tmp_path)
    outcomes = convert([Path("in/img0.png"), Path("in/missing.png")], "out", client=client)
    assert outcomes[0].error is None and (tmp_path / "out" / "img0.svdi").is_file()
    assert outcomes[1].error == "in/missing.png: no such file"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"to": "svdi", "allow_truncated": True}, "allow_truncated is a decode option"),
    ({"to": "png", "quality": 30}, r"encode options \['quality'\] need to='svdi'"),
    ({"to": "nope"}, "to must be 'svdi' or an image format"),
])
def test_convert_refuses_options_of_the_other_direction(tmp_path: Path, kwargs: dict,
                                                        match: str) -> None:
    with pytest.raises(ValueError, match=match):
        convert([tmp_path / "a.png"], tmp_path, **kwargs)


def test_cli_scheduler_local_matches_the_process_pool(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    """The done-when of issue 14: same bytes, the failing file reported, the rest converted."""
    pngs = [str(p) for p in make_pngs(tmp_path / "in")]
    assert main(["encode", *pngs, "--out-dir", str(tmp_path / "pool"), "-j", "2"]) == 1
    capsys.readouterr()
    assert main(["encode", *pngs, "--out-dir", str(tmp_path / "dask"), "--scheduler", "local",
                 "-j", "2"]) == 1
    out, err = capsys.readouterr()
    assert "encoded 4 files ok, 1 failed" in out and "(--scheduler local -j 2)" in out
    assert err.strip().splitlines() == [
        f"svdcodec: error: {pngs[-1]}: cannot identify image file {pngs[-1]!r}"]
    for name in (f"img{i}.svdi" for i in range(4)):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes()


def test_cli_runs_on_a_running_scheduler(client: distributed.Client, tmp_path: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    pngs = [str(p) for p in make_pngs(tmp_path / "in", count=2)[:-1]]
    address = client.scheduler.address
    assert main(["encode", *pngs, "--out-dir", str(tmp_path / "svdi"), "--scheduler", address,
                 "--quality", "20"]) == 0
    assert "encoded 2 files ok, 0 failed" in capsys.readouterr().out
    svdis = [str(p) for p in sorted((tmp_path / "svdi").iterdir())]
    assert main(["decode", *svdis, "--out-dir", str(tmp_path / "back"), "--scheduler",
                 address, "--format", "tif"]) == 0
    assert sorted(p.name for p in (tmp_path / "back").iterdir()) == ["img0.tif", "img1.tif"]
    # no overwrite without --force, on the workers too
    assert main(["decode", *svdis, "--out-dir", str(tmp_path / "back"), "--scheduler",
                 address, "--format", "tif"]) == 1
    assert capsys.readouterr().err.count("exists (use --force to replace it)") == 2


def test_cli_scheduler_errors(client: distributed.Client, tmp_path: Path,
                              capsys: pytest.CaptureFixture) -> None:
    png = str(make_pngs(tmp_path / "in", count=1)[0])
    assert main(["encode", png, str(tmp_path / "a.svdi"), "--scheduler", "local"]) == 2
    assert "--scheduler applies only with --out-dir" in capsys.readouterr().err
    assert main(["encode", png, "--out-dir", str(tmp_path), "--scheduler",
                 client.scheduler.address, "-j", "2"]) == 1
    assert "-j sets the workers of the local pool" in capsys.readouterr().err


def load_tool(name: str) -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"tools_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_worked_example_writes_a_dask_array_to_zarr_on_the_cluster(
        client: distributed.Client, tmp_path: Path) -> None:
    """docs/scaling.md at a small size: tiles -> Dask array -> zarr with the svdi codec ->
    read back lazily; each chunk stored as an .svdi file."""
    pytest.importorskip("zarr")
    example = load_tool("zarr_dask_example")
    r = example.run(client, tmp_path / "big.zarr", size=700, chunk=256, quality=60)
    assert r["shape"] == (700, 700, 3) and r["chunks"] == (256, 256, 3)
    assert r["raw_bytes"] == 700 * 700 * 3 and r["ratio"] > 8 and r["psnr"] > 32
    assert r["region_ok"] and len(r["rss_peak_mib"]) == 2
    chunk = svdcodec.read(tmp_path / "big.zarr" / "c" / "2" / "2" / "0")
    assert chunk.shape == (256, 256, 3)  # the edge chunk, padded to the chunk shape


def test_cli_reports_a_scheduler_it_cannot_reach(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dask_batch, "CONNECT_TIMEOUT", "1s")
    png = str(make_pngs(tmp_path / "in", count=1)[0])
    assert main(["encode", png, "--out-dir", str(tmp_path / "out"), "--scheduler",
                 "tcp://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("svdcodec: error: cannot connect to the Dask scheduler "
                          "'tcp://127.0.0.1:9': ") and err.count("\n") == 1


def test_cli_json_records_and_notes_are_those_of_the_pool(
        client: distributed.Client, tmp_path: Path, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each file's --json record and its notes come back from the workers, naming the paths
    as they were given (relative here), as the process pool's do."""
    make_pngs(tmp_path / "in", count=2)
    monkeypatch.chdir(tmp_path)
    pngs = ["in/img0.png", "in/img1.png"]
    results = []
    for out, engine in (("pool", ["-j", "1"]), ("dask", ["--scheduler",
                                                         client.scheduler.address])):
        assert main(["encode", *pngs, "--out-dir", out, "--rank", "500", "--json",
                     *engine]) == 0
        records = json.loads(capsys.readouterr().out)["files"]
        results.append(sorted((r["input"], r["output"].split("/")[1], r["bytes"], r["notes"])
                              for r in records))
    assert results[0] == results[1]
    assert results[1][0][:2] == ("in/img0.png", "img0.svdi")
    assert "--rank 500 is above the full rank" in results[1][0][3][0]


def test_a_task_decodes_on_one_thread(client: distributed.Client, tmp_path: Path) -> None:
    """The workers use every CPU already: run_task turns the decoder's second thread off in
    the worker, as the --jobs pool does through SVDCODEC_DECODE_THREADS."""
    src = make_pngs(tmp_path / "in", 1)[0]

    def job(source: Path, output: Path) -> None:
        from svdcodec.patch import decode as patchdecode

        output.write_text(str(patchdecode.DECODE_THREADS))

    future = client.submit(dask_batch.run_task, job, src, tmp_path / "threads.txt",
                           str(tmp_path), pure=False)
    assert future.result()[0] is None
    assert (tmp_path / "threads.txt").read_text() == "1"
