"""accasim (``pip install accasim``, a dev dependency) as an oracle and a speed baseline for the
classic SWF replay: the FCFS agreement test and ``benchmarks/bench_sched.py`` run it through here.

accasim still imports ``Mapping`` and friends from :mod:`collections` (removed in Python 3.10);
:func:`accasim_available` aliases them before importing it.
"""

from __future__ import annotations

import collections
import collections.abc
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["accasim_available", "run_accasim"]

_ALIASES = ("Mapping", "MutableMapping", "Sequence", "Iterable", "Callable")


def accasim_available() -> bool:
    """Alias what accasim needs in :mod:`collections`, then say whether it imports."""
    for alias in _ALIASES:
        if not hasattr(collections, alias):
            setattr(collections, alias, getattr(collections.abc, alias))
    try:
        import accasim.base.simulator_class  # noqa: F401
    except ImportError:
        return False
    return True


def run_accasim(
    workload: Path,
    processors: int,
    folder: Path,
    scheduler: str = "fcfs",
    additional_data: Iterable[Any] = (),
) -> None:
    """Run accasim's ``scheduler`` (``fcfs``: ``FirstInFirstOut``, ``easy``: ``EASYBackfilling``)
    with the ``FirstFit`` allocator on ``processors`` identical single-core nodes over the SWF file
    ``workload``, writing accasim's files into ``folder``. ``additional_data``: accasim
    ``AdditionalData`` classes (hooks, e.g. to collect start times)."""
    if not accasim_available():
        raise ImportError("accasim is not installed (pip install accasim)")
    from accasim.base.allocator_class import FirstFit
    from accasim.base.scheduler_class import EASYBackfilling, FirstInFirstOut
    from accasim.base.simulator_class import Simulator

    dispatcher = {"fcfs": FirstInFirstOut, "easy": EASYBackfilling}[scheduler]
    config = folder / "system.json"
    config.write_text(json.dumps({"groups": {"g": {"core": 1}}, "resources": {"g": processors}}))
    extra: dict[str, Any] = {"additional_data": list(additional_data)} if additional_data else {}
    simulator = Simulator(
        str(workload),
        str(config),
        dispatcher(FirstFit()),
        RESULTS_FOLDER_PATH=str(folder),
        LOG_LEVEL="WARNING",
        scheduling_output=False,
        statistics_output=False,
        show_statistics=False,
        **extra,
    )
    try:
        simulator.start_simulation()
    finally:
        logging.getLogger("accasim").handlers.clear()  # accasim adds a handler per simulator
