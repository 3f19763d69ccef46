"""Every notebook runs from top to bottom, in a kernel of this very Python, in a temp folder.

The kernel is started from a kernel spec written for the test (``sys.executable -m
ipykernel_launcher``) rather than whatever "python3" spec the machine has, so the notebooks run
with the venv that runs pytest, on a fresh machine too. Each notebook runs in
``tmp/notebooks/`` so that its ``../outputs/`` lands in the temp folder; the shared data are
passed in ``LOMSONG_SHARED_DATA``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import require_module

nbformat = require_module("nbformat")
nbclient = require_module("nbclient")
require_module("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
KERNEL = "lomsong-test"
CELL_TIMEOUT_S = 300  # a reduced-demo cell takes seconds; a hung kernel fails in 5 min


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_notebooks_are_stored_without_outputs() -> None:
    assert [p.name for p in _notebooks()] == [
        "01_quickstart.ipynb", "02_dead_zones.ipynb", "03_site_ranking.ipynb",
        "04_batch_rerun.ipynb", "05_field_evidence.ipynb",
    ]  # fmt: skip
    for path in _notebooks():
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    root = tmp_path_factory.mktemp("kernels")
    spec = root / KERNEL
    spec.mkdir()
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "lomsong test kernel",
                "language": "python",
            }
        ),
        encoding="utf-8",
    )
    return KernelSpecManager(kernel_dirs=[str(root)])


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_notebook_runs(
    path: Path, kernel_specs: KernelSpecManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / "notebooks"
    workdir.mkdir()
    monkeypatch.setenv("LOMSONG_SHARED_DATA", str(SHARED_DATA))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    # one more cell at the end reports which Python the kernel is
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=kernel_specs)
    client = nbclient.NotebookClient(
        nb, km=km, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(workdir)}}
    )
    # raises CellExecutionError, naming the cell, on any error; cleanup_kc: the client shuts
    # down a kernel it did not create (the default keeps it alive until exit, sockets open)
    client.execute(cleanup_kc=True)
    # the kernel ran this very Python (not another "python3" on the machine)
    assert nb.cells[-1].outputs[0]["text"].strip() == sys.executable
    outputs = tmp_path / "outputs" / "notebooks" / path.stem
    assert outputs.is_dir(), "the notebook wrote its outputs under ../outputs/notebooks/"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]  # fmt: skip
    assert errors == []
