"""The command line keeps the layers apart: spec-only commands never load the simulator (DESIGN, Layers)."""

from __future__ import annotations

import subprocess
import sys


def test_starting_ucsim_loads_no_simulator_simpy_or_plotting() -> None:
    code = (
        "import sys, ucsim.cli\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {'simulator', 'simpy', 'matplotlib', 'pandas'}]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_the_spec_never_imports_the_simulator() -> None:
    code = (
        "import sys, spec.explore, spec.testing, spec.trace\n"
        "print(','.join(m for m in sys.modules if m.split('.')[0] in {'simulator', 'simpy', 'matplotlib'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
