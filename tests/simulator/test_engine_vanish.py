"""Workloads that vanish while their provider is down (``faults.vanish``), and the unknown-state rule.

The provider crashes and stays down for 15 minutes; a workload that ends meanwhile vanishes with the
fault's probability (its record is gone when the restarted provider looks). The documented protocol
reports it SUCCESS; ``ucloud-current`` (UCloud's IM, reference §7.2) reports EXPIRED when the wall
clock has passed ``expiresAt`` -- for a job that ran shorter than its allocation too, which the
``expired-only-after-allocation`` property catches online.
"""

from __future__ import annotations

from typing import Any

from simulator.engine import Engine
from simulator.examples import stress_scenario
from spec import actions as A
from spec.state import CAUSE_VANISHED

LONG_CRASHES: dict[str, Any] = {
    "network__core_to_provider": {"latency_ms": 5},
    "network__provider_to_core": {"latency_ms": 5},
    "network__partitions": [],
    "faults__provider_crash": {"mtbf_s": 3000},
    "faults__node_failure": {},
    "faults__core_restart": {},
    "providers__0__behaviour__restart_delay_s": 900,
    "providers__1__behaviour__restart_delay_s": 900,
}


def _run(variant: str, probability: float) -> tuple[Engine, Any, list[A.Vanish]]:
    scenario = stress_scenario(
        jobs=250, seed=21, variant=variant, faults__vanish={"probability": probability}, **LONG_CRASHES
    )
    engine = Engine(scenario)
    seen: list[A.Vanish] = []

    def hook(action: A.Action, now: int, old: Any, t: Any) -> None:
        if isinstance(action, A.Vanish):
            provider = next(p for p in old.providers.values() if action.job in p.jobs)
            assert not provider.up  # only while its provider is down
            seen.append(action)

    engine.on_step = hook
    return engine, engine.run(), seen


def test_vanished_workloads_are_success_under_documented() -> None:
    _, result, seen = _run("documented", 0.5)
    m = result.metrics
    assert m["faults"]["vanish"] == len(seen) > 0
    assert any(a.past_expiry for a in seen)  # some were found missing after their expiresAt...
    assert result.violation_count == 0, result.violations[:1]  # ...and still reported SUCCESS
    assert result.stopped == "drained" and m["jobs_live_at_end"] == 0


def test_the_unknown_state_rule_expires_jobs_early_under_ucloud_current() -> None:
    _, calm, _ = _run("ucloud-current", 0.0)
    assert "expired-only-after-allocation" not in calm.metrics["violations"]["by_property"]
    engine, result, seen = _run("ucloud-current", 0.5)
    assert result.metrics["faults"]["vanish"] == len(seen) > 0
    assert engine.violations_by_property.get("expired-only-after-allocation", 0) > 0
    first = next(v for v in result.violations if v["property"] == "expired-only-after-allocation")
    assert "EXPIRED after" in first["reason"]
    assert any("Vanish(" in line and "past_expiry=True" in line for line in first["trace"])


def test_vanish_draws_on_its_own_stream() -> None:
    """Common random numbers: turning the fault on changes neither the crashes nor the workload."""
    plain, _, _ = _run("documented", 0.0)
    vanishing, _, seen = _run("documented", 1.0)
    assert seen and plain.metrics.faults["provider-crash"] == vanishing.metrics.faults["provider-crash"]
    assert plain.metrics.submitted == vanishing.metrics.submitted


def test_trace_facts_name_the_cause(tmp_path: Any) -> None:
    import orjson

    scenario = stress_scenario(jobs=120, seed=21, faults__vanish={"probability": 1.0}, **LONG_CRASHES)
    Engine(scenario, trace=tmp_path / "t.jsonl").run()
    causes = set()
    for line in (tmp_path / "t.jsonl").read_bytes().splitlines()[1:]:
        rec = orjson.loads(line)
        for fact in (rec.get("facts") or {}).values():
            causes.add(fact.get("cause"))
    assert CAUSE_VANISHED in causes
