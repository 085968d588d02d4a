"""The engine's projections are exact: a differential test against one global SystemState.

The engine steps each action on a small projection of its live tables (``simulator.protocol``). Here
the same actions, at the same times, also drive one full global ``SystemState`` (what an untimed
driver would keep), and after every step the two must agree on everything the step could see or
change: the calls Core made, the touched jobs, every projected job's Core and provider records, the
job's calls in flight, the bindings and reservations of its resources, its usage scope, the provider
flags, the wallet locks and the next job id, and the verdict of every property. At the end, every job
still live in the engine equals its global twin, and the liveness obligations agree.

The scenario is the hostile one (:func:`simulator.examples.stress_scenario`), so every path is taken:
lost, duplicated and reordered calls, partitions, create time-outs, provider crashes and restarts,
node failures, Core restarts, a wallet running dry, cancellations and extensions, an exclusive link.
"""

from __future__ import annotations

from collections import Counter

from simulator.engine import Engine
from simulator.examples import stress_scenario
from simulator.protocol import UNBOUNDED
from spec import actions as A
from spec.properties import check_step, pending_obligations
from spec.state import UIDS_PER_JOB, SystemState
from spec.system import Transition


class GlobalTwin:
    """One global state driven by the engine's actions (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.model = engine.model
        self.state = self.model.init_state().replace(budgets=UNBOUNDED)
        self.steps = 0
        self.kinds: Counter[str] = Counter()

    def __call__(self, action: A.Action, now: int, old: SystemState, t: Transition) -> None:
        g = self.state
        tg = self.model.step(g, action, now)
        s, gs = t.state, tg.state
        where = f"step {self.steps} at {now} ms: {action!r}"
        assert t.calls == tg.calls, where
        assert t.touched == tg.touched, where
        # Core's jobs the projection held, before and after
        for jid in old.jobs:
            assert g.jobs.get(jid) == old.jobs[jid], f"{where}: job {jid} differed before the step"
        for jid in old.jobs.keys() | s.jobs.keys():
            assert s.jobs.get(jid) == gs.jobs.get(jid), f"{where}: Core's job {jid}"
        # the provider records and flags
        for pid, p in s.providers.items():
            gp = gs.providers[pid]
            assert (p.up, p.restarts) == (gp.up, gp.restarts), where
            for jid, pj in p.jobs.items():
                assert gp.jobs.get(jid) == pj, f"{where}: provider job {jid}"
        for pid, p in old.providers.items():
            for jid in p.jobs:
                assert s.providers[pid].jobs.get(jid) == gs.providers[pid].jobs.get(jid), where
        # the calls in flight of the jobs concerned, in order
        concerned = {m.job for m in old.flight} | {m.job for m in s.flight} | set(t.touched)
        about = getattr(action, "job", None)
        if about is None and hasattr(action, "uid"):
            about = action.uid // UIDS_PER_JOB
        if about is not None:
            concerned.add(about)
        for jid in concerned:
            mine = [m for m in s.flight if m.job == jid]
            theirs = [m for m in gs.flight if m.job == jid]
            assert mine == theirs, f"{where}: calls in flight of job {jid}"
        # resources, usage, locks, ids
        for r in old.bindings.keys() | s.bindings.keys():
            assert s.bindings.get(r, ()) == gs.bindings.get(r, ()), f"{where}: bindings of {r}"
        for r in old.reserved.keys() | s.reserved.keys():
            assert s.reserved.get(r) == gs.reserved.get(r), f"{where}: reservation of {r}"
        for key in old.usage.keys() | s.usage.keys():
            assert s.usage.get(key) == gs.usage.get(key), f"{where}: usage {key}"
        assert s.locked == gs.locked and s.next_id == gs.next_id, where
        # and the global step changed nothing outside what the projection held
        changed = {j for j, c in gs.jobs.items() if g.jobs.get(j) is not c} | (g.jobs.keys() - gs.jobs.keys())
        assert changed <= old.jobs.keys() | s.jobs.keys(), f"{where}: changed jobs {changed}"
        for pid, gp in gs.providers.items():
            moved = {j for j, pj in gp.jobs.items() if g.providers[pid].jobs.get(j) is not pj}
            assert moved <= s.providers[pid].jobs.keys(), f"{where}: changed provider jobs {moved}"
        keys = {r for r, v in gs.bindings.items() if g.bindings.get(r) != v}
        assert keys <= old.bindings.keys() | s.bindings.keys(), f"{where}: changed bindings {keys}"
        keys = {r for r, v in gs.reserved.items() if g.reserved.get(r) != v} | (
            g.reserved.keys() - gs.reserved.keys()
        )
        assert keys <= old.reserved.keys() | s.reserved.keys(), f"{where}: changed reservations {keys}"
        others = Counter(m for m in g.flight if m.job not in concerned)
        assert others == Counter(m for m in gs.flight if m.job not in concerned), f"{where}: other calls"
        # the engine's unrolled check is check_step, and the properties see the same thing
        assert [str(v) for v in self.engine._check(old, action, t) or ()] == [
            str(v) for v in check_step(self.model, old, action, t)
        ], where
        mine_v = sorted(str(v) for v in check_step(self.model, old, action, t))
        theirs_v = sorted(str(v) for v in check_step(self.model, g, action, tg))
        assert mine_v == theirs_v, where
        # no job makes more calls than the spec numbers per job (uids would collide in the twin)
        for p in gs.providers.values():
            for pj in p.jobs.values():
                assert pj.sent < UIDS_PER_JOB - 2, f"job {pj.id} made {pj.sent} calls"
        self.state = gs
        self.steps += 1
        self.kinds[type(action).__name__] += 1


CONTENDED = {
    # most requests want the one public link, and creates travel slowly: under check-then-bind two
    # creates for the link are often in flight at once, so exclusive-binding must see both holders
    "workload__mix__3__weight": 300,
    "network__core_to_provider__latency_ms": {"kind": "uniform", "low": 1000, "high": 5000},
}


def run_with_twin(seed: int, variant: str, **overrides: object) -> tuple[Engine, GlobalTwin]:
    scenario = stress_scenario(jobs=250, seed=seed, variant=variant, **overrides)
    engine = Engine(scenario)
    twin = GlobalTwin(engine)
    engine.on_step = twin
    result = engine.run()
    assert result.stopped == "drained"
    g = twin.state
    for jid, job in engine.tables.jobs.items():
        assert g.jobs.get(jid) == job.core
        assert g.providers[job.template.provider].jobs.get(jid) == job.pj
    for r, bound in engine.tables.bindings.items():
        assert g.bindings.get(r) == bound
    # the engine's liveness verdict at the end is the global one
    live = {(v["property"], v["job"]) for v in result.violations if v["kind"] == "liveness"}
    assert live == {(v.prop.name, v.job) for v in pending_obligations(engine.model, g)}
    return engine, twin


def test_projection_agrees_with_a_global_state() -> None:
    kinds: Counter[str] = Counter()
    for seed, variant in ((1, "documented"), (2, "documented"), (3, "ucloud-current")):
        _, twin = run_with_twin(seed, variant)
        kinds += twin.kinds
    engine, twin = run_with_twin(4, "ucloud-current", **CONTENDED)
    assert engine.violations_by_property.get("exclusive-binding", 0) > 0  # the contention did happen
    # every kind of step the engine takes was compared (the hostile scenario reaches them all)
    for kind in [
        "Submit",
        "Deliver",
        "Lose",
        "Duplicate",
        "Start",
        "Exit",
        "NodeFail",
        "Tick",
        "AllocationElapsed",
        "Report",
        "ReportUsage",
        "EnforceLock",
        "Terminate",
        "Extend",
        "Crash",
        "Restart",
        "CoreRestart",
        "LockWallet",
    ]:
        assert kinds[kind] > 0, f"no {kind} step in these runs: the scenario no longer reaches it"


USERS_AND_VANISHING = {
    # the users' calls on running jobs (VMs are suspended), and workloads that vanish during long
    # provider crashes; more VMs so that suspensions are common
    "workload__mix__5__weight": 60,
    "workload__follow": {"fraction": 0.3},
    "workload__sessions": {"fraction": 0.3},
    "workload__suspensions": {"fraction": 0.8, "after_s": 60, "for_s": 300},
    "faults__vanish": {"probability": 0.5},
    "providers__0__behaviour__restart_delay_s": 900,
}


def test_projection_agrees_with_a_global_state_for_user_calls_and_vanished_workloads() -> None:
    kinds: Counter[str] = Counter()
    for seed, variant in ((5, "documented"), (6, "ucloud-current")):
        _, twin = run_with_twin(seed, variant, **USERS_AND_VANISHING)
        kinds += twin.kinds
    for kind in ["Suspend", "Unsuspend", "Follow", "OpenSession", "Vanish"]:
        assert kinds[kind] > 0, f"no {kind} step in these runs: the scenario no longer reaches it"
