"""docs/tutorial.ipynb runs from top to bottom (its cells assert the lesson's numbers).

Needs the ``notebook`` extra (nbclient, nbformat, ipykernel), which the ``test`` extra includes;
skipped only where nbclient is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "tutorial.ipynb"


def test_tutorial_is_stored_without_outputs() -> None:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) >= 8
    assert all(not c.outputs and c.execution_count is None for c in code)


def test_tutorial_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbclient = pytest.importorskip("nbclient")
    import nbformat

    # jupyter_core warns (an error under filterwarnings) unless told to use platformdirs
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    # The kernel is a child process: without dev mode, whose asyncio debug checks trip over
    # ipykernel's own shutdown (a traceback on stderr, not a failure of the notebook).
    monkeypatch.delenv("PYTHONDEVMODE", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on any failing cell or assert
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "Xapprox: 3,145,728 bytes (float64) -- the same" in text
    assert "Gavish-Donoho threshold" in text and "best rank by search" in text
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                 for o in c.outputs)
    assert images >= 4
