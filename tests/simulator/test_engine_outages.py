"""Outages and the spec's guards in the engine (cases found in review).

* A run drains even when faults keep coming: repairs and restarts keep it alive only while a job or
  a call may be waiting for them (before, an idle run with a pending repair never ended).
* A node failure hits only running workloads: a job placed but not yet started goes back to the
  queue (the spec enables ``NodeFail`` only for running workloads).
* The engine takes ``Extend`` and ``ReportUsage`` only when the spec enables them.
"""

from __future__ import annotations

from collections import Counter

from simulator.engine import Engine
from simulator.examples import stress_scenario
from spec import actions as A


def test_a_run_with_frequent_node_failures_still_drains() -> None:
    faults = {
        "faults.node_failure": {"mtbf_s": 500, "repair_s": 600},
        "faults.provider_crash": {"mtbf_s": 10**9},
    }
    engine = Engine(stress_scenario(jobs=20, seed=3, **faults), check=False)
    result = engine.run()
    assert result.stopped == "drained"
    assert result.metrics["run"]["simulated_s"] < 100_000  # the 20 jobs end within about 2,000 s
    assert not engine.tables.jobs


def test_node_failures_hit_only_running_workloads_and_steps_are_enabled() -> None:
    seen: Counter[tuple[str, str]] = Counter()
    disabled: list[A.Action] = []

    def hook(action, now, old, t):  # type: ignore[no-untyped-def]
        kind = type(action).__name__
        if kind in ("NodeFail", "Extend", "ReportUsage") and not engine.model.enabled(old, action):
            disabled.append(action)
        if kind == "NodeFail":
            pj = next(p.jobs[action.job] for p in old.providers.values() if action.job in p.jobs)
            seen[(kind, pj.phase)] += 1

    delay = {"kind": "exponential", "mean": 120}
    scenario = stress_scenario(
        jobs=120,
        seed=3,
        **{
            "faults.node_failure": {"mtbf_s": 3000, "repair_s": 600},
            "providers.0.behaviour.start_delay_s": delay,
            "providers.1.behaviour.start_delay_s": delay,
        },
    )
    engine = Engine(scenario, on_step=hook)
    result = engine.run()
    assert result.violation_count == 0
    assert engine.metrics.faults["node-failure"] > 0
    assert seen and set(seen) == {("NodeFail", "running")}
    assert disabled == []
