"""The users' calls on running jobs in the engine: follow, interactive sessions, suspend and unsuspend.

Each goes through the spec's step (``Follow``, ``OpenSession``, ``Suspend``, ``Unsuspend``) when the
spec enables it, is counted in ``metrics.json`` (``user_actions``: call -> Core's answer -> count),
and breaks no property under ``documented``. A suspended virtual machine does not run: its true
running time, and so its charge and its end, exclude the time it spent suspended.
"""

from __future__ import annotations

from typing import Any

import pytest

from simulator.engine import Engine
from simulator.scenario import load_default_scenario
from spec import actions as A
from spec.state import ACTIVE, PAUSED

USERS: dict[str, Any] = {
    "run.jobs": 600,
    "workload.mix.5.weight": 40,  # more virtual machines, so that many are suspended
    "workload.follow": {"fraction": 0.3},
    "workload.sessions": {"fraction": 0.3},
    "workload.suspensions": {"fraction": 0.6, "after_s": 300, "for_s": 900},
}


class _Watching(Engine):
    """Notes when each job started, how long each was suspended, and what it had run when it exited."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started: dict[int, tuple[int, float]] = {}  # job -> (start ms, true run time in s)
        self.paused_ms: dict[int, int] = {}
        self.exits: dict[int, tuple[int, int]] = {}  # job -> (running time credited, exit ms)
        self._since: dict[int, int] = {}
        self.on_step = self._note

    def _start(self, jid: int) -> None:
        super()._start(jid)
        job = self.tables.jobs.get(jid)
        if job is not None and job.start_ms == self.now:
            self.started[jid] = (job.start_ms, job.arrival.runtime_s)

    def _note(self, action: A.Action, now: int, old: Any, t: Any) -> None:
        if not isinstance(action, A.Suspend | A.Unsuspend | A.Exit):
            return
        pj = t.state.providers[self.tables.jobs[action.job].template.provider].jobs[action.job]
        if isinstance(action, A.Suspend) and pj.phase == PAUSED:
            self._since[action.job] = now
        elif isinstance(action, A.Unsuspend) and pj.phase == ACTIVE:
            self.paused_ms[action.job] = now - self._since.pop(action.job)
        elif isinstance(action, A.Exit):
            self.exits[action.job] = (pj.ran_ms, now)


@pytest.mark.parametrize("variant", ["documented", "ucloud-current"])
def test_user_calls_are_counted_and_suspended_time_does_not_run(variant: str) -> None:
    engine = _Watching(load_default_scenario().with_overrides({**USERS, "variant": variant}))
    result = engine.run()
    m = result.metrics
    ua = m["user_actions"]
    if variant == "documented":
        assert result.violation_count == 0, result.violations[:1]
    assert result.stopped == "drained" and m["jobs_live_at_end"] == 0
    # (a few suspended VMs are cancelled by their users before they resume them)
    assert ua["jobs.suspend"]["200"] >= ua["jobs.unsuspend"]["200"] == len(engine.paused_ms) > 5
    assert ua["jobs.follow"]["200 streaming"] > 0 and ua["jobs.interactiveSession"]["200"] > 0
    assert any(answer.startswith("400") for answer in ua["jobs.interactiveSession"])  # feature gates
    # Every suspended VM that then exited ran exactly its true run time, and ended that much later
    # than it would have without the suspension.
    checked = 0
    for jid, paused in engine.paused_ms.items():
        if jid not in engine.exits:
            continue  # cancelled, or stopped otherwise
        ran, ended = engine.exits[jid]
        start_ms, runtime_s = engine.started[jid]
        runtime_ms = round(runtime_s * 1000)
        assert abs(ran - runtime_ms) <= 1, (jid, ran, runtime_ms)
        assert abs((ended - start_ms) - (runtime_ms + paused)) <= 1, jid
        checked += 1
    assert checked > 3
