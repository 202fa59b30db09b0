"""The Python examples of README.md and docs/*.md run as written against the package as it is.

Each ```python block of a page runs in order in one namespace (a later block may use an earlier
one's imports), in a scratch directory holding the small inputs the examples name: ``image``,
``frames``, ``photo.png``, ``anim.gif``. A renamed module or function, or an option that no
longer exists, fails here (docs/patch-layout.md imported ``svdcodec.patchplot`` after it moved
to ``svdcodec.teach.basis``). The figures the pages quote are measured on real photographs and
are not pinned here; what a block states about its own result is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import svdcodec

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]
# blocks not run, by a line they contain: why
SKIP = {
    "LocalCluster(n_workers=2": "a 20000 x 20000 image on a Dask cluster: "
                                "tests/test_dask_batch.py runs it at 700 x 700",
    ">>> import numpy as np": "a 1920 x 1080 compare with every peer codec (seconds of work)",
}
NEEDS = {"zarr": "zarr", "numcodecs": "numcodecs", "LocalCluster": "distributed"}


def fenced(page: str) -> list[tuple[str, str]]:
    """The fenced blocks of ``page`` in order: (info string, text)."""
    blocks: list[tuple[str, str]] = []
    info, lines = None, []
    for line in (ROOT / page).read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if info is None:
                info, lines = line[3:].strip(), []
            else:
                blocks.append((info, "\n".join(lines) + "\n"))
                info = None
        elif info is not None:
            lines.append(line)
    return blocks


def python_blocks(page: str) -> list[str]:
    """The ```python blocks of ``page``, in order."""
    return [text for info, text in fenced(page) if info == "python"]


def photo(h: int = 48, w: int = 64, shift: int = 0) -> np.ndarray:
    """A small smooth RGB image with some noise."""
    i, j = np.mgrid[:h, :w]
    rng = np.random.default_rng(shift)
    planes = [100 + 60 * np.sin((j + shift) / 6 + c) * np.cos(i / 5) + rng.normal(0, 4, (h, w))
              for c in range(3)]
    return np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)


def scratch(folder: Path) -> dict[str, Any]:
    """The inputs the examples name, written in ``folder``; the namespace they run in."""
    frames = np.stack([photo(shift=k) for k in range(3)])
    Image.fromarray(photo()).save(folder / "photo.png")
    gif = [Image.fromarray(f) for f in frames]
    gif[0].save(folder / "anim.gif", save_all=True, append_images=gif[1:],
                duration=[100, 40, 250], loop=0)
    (folder / "svdi").mkdir()
    return {"image": photo(), "frames": frames, "tile": photo(1024, 1024), "Image": Image,
            "svdcodec": svdcodec, "np": np, "Path": Path, "client": None,
            "paths": [folder / "photo.png"]}


def runnable(page: str) -> list[str]:
    """The blocks of ``page`` that this test runs."""
    return [b for b in python_blocks(page) if not any(line in b for line in SKIP)]


# the examples open files as Pillow's own docs do, Image.open(...).save(...), left to the GC
@pytest.mark.filterwarnings("ignore::ResourceWarning",
                            "ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("page", [p for p in PAGES if runnable(p)])
def test_the_python_examples_run(page: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = scratch(tmp_path)
    for number, block in enumerate(runnable(page)):
        for word, module in NEEDS.items():
            if word in block:
                pytest.importorskip(module)
        exec(compile(block, f"{page}, python block {number}", "exec"), namespace)
    check = CHECKS.get(page)
    if check is not None:
        check(namespace, tmp_path)


def _readme(namespace: dict[str, Any], folder: Path) -> None:
    # "same shape and dtype as encoded", "at most 20,000 bytes", a read back of x.svdi
    image = namespace["image"]
    assert namespace["out"].shape == image.shape and namespace["out"].dtype == image.dtype
    assert len(svdcodec.encode(image, target_size=20_000)) <= 20_000
    assert namespace["info"].layout == "per-channel" and namespace["info"].ranks == (40,) * 3
    assert namespace["img"].shape == image.shape
    assert (folder / "photo.svdi").exists()


def _patch_layout(namespace: dict[str, Any], folder: Path) -> None:
    b = namespace["b"]
    k = b.vectors.shape[0]
    assert b.vectors.shape == (k, 8, 8) and len(b.nonzero) == k  # "(k, 8, 8)": as stored
    assert k == svdcodec.read_header(namespace["data"]).planes[0].components


def _stacks(namespace: dict[str, Any], folder: Path) -> None:
    info = svdcodec.read_header(namespace["data"])
    assert (info.durations, info.loop) == ((100, 40, 250), 0)  # the comment's values
    with Image.open(folder / "x.svdi") as im:
        assert im.n_frames == 3 and im.info["duration"] == 100  # carried over from the GIF
    snap = namespace["snap"]
    assert snap.eigen_images(3).shape == (3, 48, 64, 3) and snap.time_courses(3).shape == (3, 3)


def _scaling(namespace: dict[str, Any], folder: Path) -> None:
    assert namespace["region"].shape == (500, 700, 3)
    assert not namespace["failed"] and (folder / "svdi" / "photo.svdi").exists()


CHECKS = {"README.md": _readme, "docs/patch-layout.md": _patch_layout,
          "docs/stacks.md": _stacks, "docs/scaling.md": _scaling}


def command_lines(page: str) -> list[str]:
    """The ``svdcodec ...`` lines of the ```sh and plain ``` blocks of ``page``, as shown
    (``$ `` removed)."""
    lines = [line.strip().removeprefix("$ ")
             for info, block in fenced(page) if info in {"", "sh"}
             for line in block.splitlines()]
    return [line for line in lines if line.startswith("svdcodec ")]


def as_arguments(line: str) -> list[str]:
    """A shown command as arguments: the comment cut, ``[a | b]`` as ``a``, ``…`` and the
    placeholder ``N`` of ``--limit FIELD=N`` dropped or filled in."""
    import shlex

    command = line.split(" #")[0]
    command = re.sub(r"\|[^\]]*\]", "]", command).replace("[", "").replace("]", "")
    return [a.replace("=N", "=1") for a in shlex.split(command)[1:] if a not in {"…", "..."}]


@pytest.mark.parametrize("page", [p for p in PAGES if command_lines(p)])
def test_the_command_lines_shown_parse(page: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every option a page shows exists and takes the value shown (argparse exits 2 else)."""
    from svdcodec.cli.parser import build_parser

    parser = build_parser()
    refused = []
    for line in command_lines(page):
        try:
            parser.parse_args(as_arguments(line))
        except SystemExit:
            refused.append((line, capsys.readouterr().err.strip().splitlines()[-1]))
    assert not refused


def test_a_command_line_with_an_option_that_does_not_exist_is_refused(
        capsys: pytest.CaptureFixture[str]) -> None:
    from svdcodec.cli.parser import build_parser

    assert as_arguments("svdcodec info x.svdi [--json | --text] [--limit max_pixels=N]  # ok") \
        == ["info", "x.svdi", "--json", "--limit", "max_pixels=1"]
    with pytest.raises(SystemExit):
        build_parser().parse_args(as_arguments("svdcodec encode a.png b.svdi --qualty 60"))
