"""The example notebooks (examples/*.ipynb) run top to bottom, offline, and each draws at least one figure.

They are executed with nbclient on a python3 kernel (ipykernel in this interpreter), so a change to the
public API that breaks an example fails here instead of drifting unnoticed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
FIGURE_MIME = "application/vnd.plotly.v1+json"
CELL_TIMEOUT = 120  # seconds for one cell; the whole set takes far less


def _kernel_name() -> str:
    """python3 if a kernelspec for it is found, else register this interpreter's ipykernel for the user."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        from ipykernel.kernelspec import install

        install(user=True)
    return "python3"


@pytest.fixture(scope="module")
def offline_env():
    """No network: Hugging Face offline, and the kernel started from this interpreter's environment."""
    saved = dict(os.environ)
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
    # The kernel imports cnnviz from the repository even when it is not installed.
    root = str(EXAMPLES.parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, saved.get("PYTHONPATH")) if p)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_there_are_examples():
    assert len(NOTEBOOKS) >= 3, f"expected the example notebooks in {EXAMPLES}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_commit_ready(path: Path):
    """Stored without outputs or execution counts, so diffs show only the code."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"
    assert notebook.cells[0].cell_type == "markdown"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, offline_env):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, kernel_name=_kernel_name(), timeout=CELL_TIMEOUT,
                                     allow_errors=False, resources={"metadata": {"path": str(EXAMPLES)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:   # the failing cell and its traceback
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)
    figures = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
               if FIGURE_MIME in output.get("data", {})]
    assert figures, f"{path.name} drew no figure"
    errors = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if output.output_type == "error"]
    assert not errors
