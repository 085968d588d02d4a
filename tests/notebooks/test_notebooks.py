"""Every notebook in ``notebooks/`` runs top to bottom on a fresh kernel with its CI parameters.

How a notebook is run here (see ``notebooks/README.md``):

* **Parameters.** Each notebook has one cell tagged ``parameters`` (a person's values) and, in its
  notebook metadata, ``ucsim.ci_parameters``: a JSON object of the small values CI uses. Like
  papermill, the runner inserts a cell right after the parameters cell that assigns the CI values,
  so the person's values stay visible and the CI values win.
* **Kernel.** The kernel is this test's own interpreter (``sys.executable -m ipykernel_launcher``),
  through a kernelspec written into a temporary directory. Nothing depends on which ``python3``
  kernelspec a machine happens to have installed (a user-wide one could point at another Python):
  on a fresh machine, ``make test`` installs the dev extra (ipykernel included) into ``.venv`` and
  the notebooks run in that same venv.
* **Failures.** A cell that raises fails the test with the notebook's name, the cell and the
  traceback (the notebooks end with assertions on what they computed).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402
from nbclient.exceptions import CellExecutionError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "ucsim-test"
# Each notebook must run in CI within this many seconds (with its CI parameters).
BUDGET_S = 60


def parameters_cell(nb) -> int:  # type: ignore[no-untyped-def]
    """Index of the one cell tagged ``parameters``; fail with advice if there is none or several."""
    found = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, (
        f"a notebook needs exactly one code cell tagged 'parameters' (found {len(found)}): "
        "in Jupyter, View > Cell Toolbar > Tags, then tag the cell that assigns the parameters"
    )
    return found[0]


def inject_ci_parameters(nb) -> dict:  # type: ignore[no-untyped-def]
    """Insert, after the parameters cell, a cell assigning ``metadata.ucsim.ci_parameters``."""
    i = parameters_cell(nb)
    ci = nb.metadata.get("ucsim", {}).get("ci_parameters")
    assert isinstance(ci, dict) and ci, "the notebook's metadata needs ucsim.ci_parameters (a JSON object)"
    assigned = set(re.findall(r"^([A-Za-z_]\w*)\s*(?::[^=]+)?=", nb.cells[i].source, re.M))
    unknown = sorted(set(ci) - assigned)
    assert not unknown, f"ci_parameters {unknown} are not assigned in the parameters cell"
    source = "# Injected by tests/notebooks: the CI parameters\n" + "\n".join(
        f"{k} = {json.loads(json.dumps(v))!r}" for k, v in ci.items()
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(i + 1, cell)
    return ci


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A kernelspec that runs ipykernel in *this* interpreter, in a directory of its own."""
    d = tmp_path_factory.mktemp("kernels") / KERNEL
    d.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ucsim (test interpreter)",
        "language": "python",
        # the repository first on the path, as pytest has it (the venv also has it installed editable)
        "env": {"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"},
    }
    (d / "kernel.json").write_text(json.dumps(spec))
    ksm = KernelSpecManager(kernel_dirs=[str(d.parent)], ensure_native_kernel=False)
    ksm.allowed_kernelspecs = {KERNEL}
    return ksm


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/ has no .ipynb"


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_with_ci_parameters(path: Path, kernel_specs: KernelSpecManager) -> None:
    nb = nbformat.read(path, as_version=4)
    stored = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not stored, f"{path.name} is committed with outputs in cells {stored}: clear them (see README)"
    inject_ci_parameters(nb)
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=kernel_specs)
    client = nbclient.NotebookClient(
        nb,
        km=km,
        timeout=BUDGET_S * 2,
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as e:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(e))  # the kernel's coloured traceback, in plain text
        pytest.fail(f"{path.name} failed:\n{plain}", pytrace=False)
    took = time.perf_counter() - started
    print(f"{path.name}: {took:.1f} s")
    assert took < BUDGET_S, f"{path.name} took {took:.0f} s with its CI parameters (budget {BUDGET_S} s)"


def test_injector_puts_ci_values_after_the_parameters_cell() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("jobs = 250\nseeds: int = 5", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(jobs)"),
    ]
    nb.metadata["ucsim"] = {"ci_parameters": {"jobs": 20, "seeds": 1}}
    inject_ci_parameters(nb)
    assert nb.cells[2].source.splitlines()[1:] == ["jobs = 20", "seeds = 1"]
    nb.metadata["ucsim"] = {"ci_parameters": {"job": 20}}
    nb.cells.pop(2)
    with pytest.raises(AssertionError, match="not assigned"):
        inject_ci_parameters(nb)
