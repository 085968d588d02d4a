"""What current UCloud never resynchronises, made visible: final updates lost for good.

A provider retries a failed ``jobs.control.update`` ``max_update_retries`` times, ``update_retry_s``
apart, then gives up; its copy of the state already says the job is final, so no later monitoring
pass sends it again, and Core has no ``verify`` call (reference §7.3). A partition that outlasts the
retries therefore leaves jobs RUNNING in Core for ever. ``metrics.json`` counts them in
``stuck_in_core``; a partition shorter than the retries leaves none.
"""

from __future__ import annotations

from typing import Any

from simulator.engine import Engine
from simulator.examples import stress_scenario

CALM: dict[str, Any] = {
    "network__core_to_provider": {"latency_ms": 5},
    "network__provider_to_core": {"latency_ms": 5},
    "faults__provider_crash": {},
    "faults__node_failure": {},
    "faults__core_restart": {},
}


def _cut_k8s(start_s: float, end_s: float) -> dict[str, Any]:
    """Updates from k8s to Core are dropped during [start_s, end_s)."""
    return {
        "network__partitions": [
            {"provider": "k8s", "start_s": start_s, "end_s": end_s, "direction": "provider_to_core"}
        ]
    }


def test_a_partition_longer_than_the_retries_leaves_jobs_stuck_in_core() -> None:
    # k8s retries every 10 s, 5 times: a 2,000 s partition outlasts that by far.
    engine = Engine(stress_scenario(jobs=150, seed=5, **CALM, **_cut_k8s(1000, 3000)))
    result = engine.run()
    m = result.metrics
    assert result.stopped == "drained" and result.violation_count == 0
    assert m["stuck_in_core"] > 0
    # Every one of them is left RUNNING in Core although its workload ended, and is still live.
    stuck = [j for j in engine.tables.jobs.values() if j.core is not None and j.core.state == "RUNNING"]
    assert len(stuck) == m["stuck_in_core"] == m["jobs_live_at_end"]
    assert all(j.pj is not None and j.pj.phase == "ended" and j.template.provider == "k8s" for j in stuck)
    assert m["jobs_by_state"]["RUNNING"] == m["stuck_in_core"]
    # Liveness is not judged for them (a call lost for good breaks the fairness assumption).
    assert m["liveness_not_judged"] >= m["stuck_in_core"]


class _CountingFailures(Engine):
    """Counts the provider's failed attempts to reach Core (each is retried or given up)."""

    failed = 0

    def _attempt_failed(self, job: Any, uid: int, attempt: int) -> None:
        self.failed += 1
        super()._attempt_failed(job, uid, attempt)


def test_a_partition_shorter_than_the_retries_leaves_none() -> None:
    engine = _CountingFailures(stress_scenario(jobs=150, seed=5, **CALM, **_cut_k8s(1000, 1030)))
    result = engine.run()
    m = result.metrics
    assert engine.failed > 0  # the partition did cut updates off; the retries got them through
    assert result.stopped == "drained" and result.violation_count == 0
    assert m["stuck_in_core"] == 0 and m["jobs_live_at_end"] == 0
