"""Ready-made scenarios for tests, benchmarks and notebooks, derived from the default scenario.

* :func:`stress_scenario`: everything that can go wrong, often: a lossy, duplicating, reordering
  network with a partition, provider crashes, node failures, two Core restarts, a wallet that runs
  dry, many cancellations and extensions. Small and short, so a few hundred jobs see every path of
  the engine. The users' calls on running jobs (follow, sessions, suspensions) of the default
  scenario are off here, so that its runs stay what the tests built on them expect; turn them on
  with overrides (``workload__suspensions={"fraction": 0.5}``).
* :func:`bench_scenario`: a plain synthetic workload at a given offered load under ``easy``, for
  measuring speed: two providers, a realistic network, no faults.

>>> stress_scenario(jobs=50).run.jobs
50
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulator.scenario import Scenario, load_default_scenario

__all__ = ["bench_scenario", "stress_scenario"]

_UNSTABLE = ("slurm-wide", "gpu")
_NO_USER_CALLS = {
    "workload.follow.fraction": 0.0,
    "workload.sessions.fraction": 0.0,
    "workload.suspensions.fraction": 0.0,
}
_SHORT = {"kind": "lognormal", "mean": 600, "sigma": 1.0, "max": 7200}


def stress_scenario(jobs: int = 200, seed: int = 1, **overrides: Any) -> Scenario:
    """The default scenario made hostile (see the module docstring); ``overrides`` are dotted keys
    as for :meth:`Scenario.with_overrides`, applied last. Run times are short and usage reports
    sparse, so the global twin of the differential test stays small."""
    changes: dict[str, Any] = {
        "seed": seed,
        "run.jobs": jobs,
        "workload.runtime_s": _SHORT,
        "workload.mix.2.runtime_s": {"kind": "exponential", "mean": 300},
        "workload.mix.2.time_allocation_s": 600,  # web jobs often outlive their allocation: EXPIRED
        "workload.mix.3.runtime_s": {"kind": "exponential", "mean": 300},
        "workload.mix.5.runtime_s": _SHORT,
        "workload.arrivals": {"kind": "poisson", "offered_load": 0.9},
        "workload.cancellations": {"probability": 0.2, "delay_s": {"kind": "exponential", "mean": 300}},
        "workload.extensions": {"probability": 0.5, "amount_s": 600, "at_fraction_min": 0.1},
        "workload.invalid.fraction": 0.1,
        **_NO_USER_CALLS,
        "providers.0.behaviour.usage_report_interval_s": 300,
        "providers.1.behaviour.usage_report_interval_s": 300,
        "providers.0.behaviour.restart_delay_s": 120,
        "providers.1.behaviour.restart_delay_s": 300,
        "wallets.2.quota": 1_000,  # bob's u1-standard wallet runs dry part-way through
        "network.core_to_provider": _lossy(),
        "network.provider_to_core": _lossy(),
        "network.partitions": [{"provider": "slurm", "start_s": 3000, "end_s": 3300}],
        "faults.provider_crash": {"mtbf_s": 6000},
        "faults.node_failure": {"mtbf_s": 30_000, "repair_s": 600},
        "faults.core_restart": {"times_s": [1500, 4000], "downtime_s": 20},
    }
    return load_default_scenario().with_overrides({**changes, **_dotted(overrides)})


def _lossy() -> dict[str, Any]:
    return {
        "latency_ms": {"kind": "lognormal", "median": 20, "sigma": 1.0, "max": 5000},
        "loss": 0.03,
        "duplicate": 0.05,
        "reorder": True,
    }


def bench_scenario(jobs: int, load: float = 0.85, seed: int = 7, **overrides: Any) -> Scenario:
    """A synthetic workload of ``jobs`` jobs at offered ``load`` with ``easy`` on both providers, a
    realistic network (5 ms median latency, no loss) and no faults; usage is reported every 10 min.

    The default mix's whole-node Slurm jobs and GPU jobs are left out, and the Slurm jobs weigh more
    so that both providers see the same load: whole-node jobs next to 16-core jobs fragment the
    machine, and a GPU job at the head of an EASY queue holds everything behind it, so much that
    queues grow without bound at 0.85; a benchmark of a run whose live state keeps growing would
    measure the backlog, not the simulator."""
    base = load_default_scenario()
    mix = [
        e
        for e in base.model_dump(by_alias=True, exclude_none=True)["workload"]["mix"]
        if e["name"] not in _UNSTABLE
    ]
    for e in mix:
        if e["name"] == "slurm":
            e["weight"] *= 1.7  # both providers at the same offered load
    changes: dict[str, Any] = {
        "workload.mix": mix,
        "seed": seed,
        "run.jobs": jobs,
        "workload.arrivals": {"kind": "poisson", "offered_load": load},
        "providers.0.scheduling": {"policy": "easy"},
        "providers.1.scheduling": {"policy": "easy"},
        "providers.0.behaviour.usage_report_interval_s": 600,
        "providers.1.behaviour.usage_report_interval_s": 600,
        "workload.invalid.fraction": 0.0,
        **_NO_USER_CALLS,
        "network.core_to_provider.loss": 0.0,
        "network.core_to_provider.duplicate": 0.0,
        "network.provider_to_core.loss": 0.0,
        "network.provider_to_core.duplicate": 0.0,
        "faults.provider_crash": {},
        "faults.node_failure": {},
        # no wallet runs dry part-way through a long run
        **{f"wallets.{i}.quota": 10**15 for i in range(4)},
    }
    return base.with_overrides({**changes, **_dotted(overrides)})


def _dotted(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments cannot contain dots: ``faults__core_restart`` means ``faults.core_restart``."""
    return {k.replace("__", "."): v for k, v in overrides.items()}
