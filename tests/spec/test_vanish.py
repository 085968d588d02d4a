"""A workload that vanishes while its provider is down, and the unknown-state rule (reference §7.2).

The restarted provider cannot find the job's record, so it cannot tell how the job ended. The
documented protocol calls that cause ``vanished`` and wants SUCCESS; UCloud's integration module
(``unknown-state-wall-clock``, on under ``ucloud-current``) reports EXPIRED when the wall clock has
passed ``expiresAt``, whatever the job really ran.
"""

from __future__ import annotations

import pytest
from protocol_driver import Driver

from spec import actions as A
from spec.properties import PROPERTIES_BY_NAME, check_step
from spec.provider import implied_state
from spec.rules import resolve
from spec.state import CAUSE_VANISHED, ENDED, EXPIRED, IN_QUEUE, SUCCESS, ProviderJob
from spec.system import ProtocolModel
from spec.world import default_world

WORLD = default_world(providers=1, requests=["batch", "vm"], vanish=True)
BATCH, VM = 0, 1


def driver(variant: str = "documented", **kw: object) -> Driver:
    return Driver(ProtocolModel(WORLD, resolve(variant, **kw)))  # type: ignore[arg-type]


def vanishes(d: Driver) -> set[A.Vanish]:
    return {a for a in d.model.actions(d.s) if isinstance(a, A.Vanish)}


@pytest.mark.parametrize(
    ("variant", "past_expiry", "state"),
    [
        ("documented", False, SUCCESS),
        ("documented", True, SUCCESS),  # the documented protocol: a vanished workload is SUCCESS
        ("ucloud-current", False, SUCCESS),
        ("ucloud-current", True, EXPIRED),  # jobUnknownStateTerminationState: now > expiresAt
    ],
)
def test_implied_state_of_a_vanished_workload(variant: str, past_expiry: bool, state: str) -> None:
    pj = ProviderJob(
        1, 0, "alice", phase=ENDED, cause=CAUSE_VANISHED, alloc_ms=3_600_000, past_expiry=past_expiry
    )
    assert implied_state(pj, resolve(variant)) == state


def test_vanish_is_enabled_only_while_the_provider_is_down_and_only_in_worlds_that_allow_it() -> None:
    d = driver()
    jid = d.submit_confirmed(BATCH)
    assert vanishes(d) == set()  # the provider is up: it would see the job
    d.do(A.Crash("k8s"))
    assert vanishes(d) == {A.Vanish(jid)}  # queued: never started, so no expiresAt to pass
    off = Driver(ProtocolModel(default_world(providers=1, requests=["batch"]), resolve()), d.s)
    assert vanishes(off) == set()  # World.vanish is off by default
    d.do(A.Restart("k8s"))
    d.run(jid)
    d.do(A.Crash("k8s"))
    assert vanishes(d) == {A.Vanish(jid), A.Vanish(jid, True)}


def test_a_vm_without_an_allocation_cannot_be_past_expiry() -> None:
    d = driver()
    jid = d.submit_confirmed(VM)
    d.run(jid)
    d.do(A.Crash("k8s"))
    assert vanishes(d) == {A.Vanish(jid)}


@pytest.mark.parametrize("variant", ["documented", "ucloud-current"])
def test_found_missing_after_restart_and_reported(variant: str) -> None:
    d = driver(variant)
    jid = d.submit_confirmed(BATCH)
    d.run(jid)
    d.do(A.Crash("k8s"))
    d.do(A.Vanish(jid, True))
    pj = d.pjob(jid)
    assert (pj.phase, pj.cause, pj.ran_ms, pj.past_expiry) == (ENDED, CAUSE_VANISHED, 0, True)
    assert not d.model.enabled(d.s, A.Report(jid))  # down: nobody looks until the restart
    d.do(A.Restart("k8s"))
    d.do(A.Report(jid))
    old, action = d.s, A.Deliver(d.latest_uid(jid))
    t = d.do(action)
    violated = {v.prop.name for v in check_step(d.model, old, action, t)}
    if variant == "documented":
        assert d.job(jid).state == SUCCESS and violated == set()
    else:
        # EXPIRED after 0 ms of RUNNING time out of a one-hour allocation: wall clock, not running time.
        assert d.job(jid).state == EXPIRED
        assert violated == {"expired-only-after-allocation", "outcome-matches-cause"}


def test_core_that_never_heard_running_goes_straight_to_expired() -> None:
    """The shortest schedule (the model checker's counterexample, see tests/checking): the job starts,
    the provider crashes before reporting RUNNING, the workload vanishes, and after the restart Core
    applies IN_QUEUE -> EXPIRED (a transition of the protocol: only the outcome is wrong)."""
    d = driver("ucloud-current")
    jid = d.submit_confirmed(BATCH)
    d.do(A.Start(jid))
    d.do(A.Crash("k8s"))
    d.do(A.Vanish(jid, True))
    d.do(A.Restart("k8s"))
    d.do(A.Report(jid))
    assert d.job(jid).state == IN_QUEUE
    old, action = d.s, A.Deliver(d.latest_uid(jid))
    t = d.do(action)
    assert d.job(jid).state == EXPIRED
    prop = PROPERTIES_BY_NAME["expired-only-after-allocation"]
    assert "after 0 ms of RUNNING time" in prop.action(d.model, old, action, t)  # type: ignore[misc,operator]
    assert PROPERTIES_BY_NAME["valid-transition"].action(d.model, old, action, t) is None  # type: ignore[misc]
