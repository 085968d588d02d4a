"""How Core applies ``jobs.control.update`` (reference §2.4), through ``ProtocolModel.step``.

Jobs are brought into the state a rule needs with the model's own actions (Submit, deliveries,
Start, Report, ...); the update under test is either one the provider sends (Report) or a
hand-made item put in flight and delivered (``update_msg``), so that every precondition can be
set exactly.
"""

from __future__ import annotations

import pytest
from protocol_driver import UPDATE, Driver, only_call, update_msg

from spec import actions as A
from spec.rules import resolve
from spec.state import EXPIRED, FAILURE, IN_QUEUE, RUNNING, SUCCESS, SUSPENDED, UIDS_PER_JOB, call_uid
from spec.system import Call, ProtocolModel
from spec.world import default_world

WORLD = default_world()  # k8s and slurm: two providers, so one can impersonate the other
BATCH, VM = 0, 2
HOUR = 3_600_000


def driver(variant: str = "documented", **kw: object) -> Driver:
    return Driver(ProtocolModel(WORLD, resolve(variant, **kw)))  # type: ignore[arg-type]


def queued(variant: str = "documented", **kw: object) -> tuple[Driver, int]:
    d = driver(variant, **kw)
    return d, d.submit_confirmed(BATCH)


def running(variant: str = "documented", now: int | None = None, **kw: object) -> tuple[Driver, int]:
    d, jid = queued(variant, **kw)
    d.run(jid, now=now)
    return d, jid


def final(state: str, variant: str = "documented", **kw: object) -> tuple[Driver, int]:
    """A job that ended in ``state`` for the reason the protocol gives that state."""
    d, jid = running(variant, **kw)
    ending = {SUCCESS: A.Exit(jid, 0), FAILURE: A.NodeFail(jid), EXPIRED: A.AllocationElapsed(jid)}[state]
    d.finish(jid, ending)
    assert d.job(jid).state == state
    return d, jid


def outcome(d: Driver) -> str:
    """What Core did with the update it just received: applied, dropped or retry."""
    c = only_call(d.last)  # type: ignore[arg-type]
    assert (c.call, c.status) == (UPDATE, 200), c
    return c.detail[-1]


# ----------------------------------------------------------------------------------- startedAt
def test_running_sets_started_at() -> None:
    d, jid = queued()
    assert d.job(jid).started_at is None
    d.do(A.Start(jid))
    t = d.report(jid)
    assert only_call(t) == Call(
        "provider:k8s",
        UPDATE,
        jid,
        200,
        None,
        (call_uid(jid, 1), RUNNING, None, False, None, "Your job is now running.", "applied"),
    )
    assert (d.job(jid).state, d.job(jid).started_at) == (RUNNING, 1)


def test_running_sets_started_at_to_the_clock_of_a_timed_driver() -> None:
    d, jid = running(now=93_000)
    assert d.job(jid).started_at == 93_000


def test_duplicate_running_does_not_move_started_at() -> None:
    d, jid = running(now=5_000)
    d.inject(update_msg(jid, RUNNING), now=9_000)
    assert outcome(d) == "applied"
    assert (d.job(jid).state, d.job(jid).started_at) == (RUNNING, 5_000)


def test_duplicate_running_moves_started_at_under_its_mutant() -> None:
    d, jid = running(now=5_000, mutant="startedat-on-duplicate")
    d.inject(update_msg(jid, RUNNING), now=9_000)
    assert d.job(jid).started_at == 9_000


def test_started_at_is_the_latest_change_into_running() -> None:
    d = driver()
    jid = d.submit_confirmed(VM)
    d.run(jid)
    d.do(A.Suspend(jid))
    d.report(jid)
    assert (d.job(jid).state, d.job(jid).started_at) == (SUSPENDED, 1)
    d.do(A.Unsuspend(jid))
    d.report(jid)
    assert (d.job(jid).state, d.job(jid).started_at) == (RUNNING, 2)


# ----------------------------------------------------------------------------------- preconditions
def test_expected_state_matching_is_applied() -> None:
    d, jid = queued()
    d.inject(update_msg(jid, RUNNING, expected=IN_QUEUE))
    assert outcome(d) == "applied"
    assert d.job(jid).state == RUNNING


@pytest.mark.parametrize("expected", [RUNNING, SUSPENDED, SUCCESS])
def test_expected_state_not_matching_drops_the_whole_update(expected: str) -> None:
    d, jid = queued()
    before = d.job(jid)
    msg = update_msg(jid, RUNNING, expected=expected, new_alloc=2 * HOUR)
    d.inject(msg)
    assert outcome(d) == "dropped"
    after = d.job(jid)
    assert (after.state, after.started_at, after.alloc_ms) == (IN_QUEUE, None, before.alloc_ms)
    assert after.handled == frozenset({msg.uid})


def test_expected_state_ignored_under_its_mutant() -> None:
    d, jid = queued(mutant="ignore-expected-state")
    d.inject(update_msg(jid, RUNNING, expected=SUSPENDED))
    assert d.job(jid).state == RUNNING


def test_expected_different_state_drops_an_update_that_changes_nothing() -> None:
    d, jid = running()
    d.inject(update_msg(jid, RUNNING, different=True))
    assert outcome(d) == "dropped"
    assert d.job(jid).state == RUNNING


def test_expected_different_state_applies_an_update_that_changes_the_state() -> None:
    d, jid = queued()
    d.inject(update_msg(jid, RUNNING, different=True))
    assert outcome(d) == "applied"
    assert d.job(jid).state == RUNNING


def test_expected_different_state_without_a_state_is_applied() -> None:
    d, jid = running()
    d.inject(update_msg(jid, None, different=True, new_alloc=2 * HOUR))
    assert outcome(d) == "applied"
    assert d.job(jid).alloc_ms == 2 * HOUR


def test_expected_different_state_ignored_under_its_mutant() -> None:
    d, jid = running(mutant="ignore-expected-different-state")
    d.inject(update_msg(jid, RUNNING, different=True))
    assert outcome(d) == "applied"


def test_expected_state_takes_precedence_when_it_matches() -> None:
    # expectedDifferentState alone would drop RUNNING -> RUNNING; the matching expectedState wins.
    d, jid = running()
    d.inject(update_msg(jid, RUNNING, expected=RUNNING, different=True))
    assert outcome(d) == "applied"


def test_expected_state_takes_precedence_when_it_does_not_match() -> None:
    # expectedDifferentState alone would apply IN_QUEUE -> SUCCESS; the failing expectedState wins.
    d, jid = queued()
    d.inject(update_msg(jid, SUCCESS, expected=RUNNING, different=True))
    assert outcome(d) == "dropped"
    assert d.job(jid).state == IN_QUEUE


# ----------------------------------------------------------------------------------- final states
@pytest.mark.parametrize("variant", ["documented", "ucloud-current"])
@pytest.mark.parametrize("ended", [SUCCESS, FAILURE, EXPIRED])
@pytest.mark.parametrize("new", [IN_QUEUE, RUNNING, SUSPENDED])
def test_final_to_non_final_is_dropped_under_both_variants(variant: str, ended: str, new: str) -> None:
    d, jid = final(ended, variant)
    d.inject(update_msg(jid, new))
    assert outcome(d) == "dropped"
    assert d.job(jid).state == ended


def test_final_to_non_final_is_applied_under_the_no_terminal_guard_mutant() -> None:
    d, jid = final(SUCCESS, mutant="no-terminal-guard")
    d.inject(update_msg(jid, RUNNING))
    assert d.job(jid).state == RUNNING


@pytest.mark.parametrize(("ended", "new"), [(SUCCESS, FAILURE), (FAILURE, SUCCESS), (EXPIRED, SUCCESS)])
def test_final_to_final_is_dropped_when_documented(ended: str, new: str) -> None:
    d, jid = final(ended)
    d.inject(update_msg(jid, new))
    assert outcome(d) == "dropped"
    assert d.job(jid).state == ended


@pytest.mark.parametrize(("ended", "new"), [(SUCCESS, FAILURE), (FAILURE, SUCCESS), (EXPIRED, SUCCESS)])
def test_final_to_final_is_applied_under_ucloud_current(ended: str, new: str) -> None:
    d, jid = final(ended, "ucloud-current")
    d.inject(update_msg(jid, new))
    assert outcome(d) == "applied"
    assert d.job(jid).state == new


def test_final_to_final_is_applied_with_only_the_rule_switched_on() -> None:
    d, jid = final(FAILURE, rules={"final-to-final": True})
    d.inject(update_msg(jid, SUCCESS))
    assert d.job(jid).state == SUCCESS


@pytest.mark.parametrize(("variant", "alloc"), [("documented", HOUR), ("ucloud-current", 2 * HOUR)])
def test_a_state_less_update_after_the_end(variant: str, alloc: int) -> None:
    d, jid = final(SUCCESS, variant)
    d.inject(update_msg(jid, None, new_alloc=2 * HOUR))
    assert outcome(d) == ("dropped" if variant == "documented" else "applied")
    assert d.job(jid).alloc_ms == alloc


# ----------------------------------------------------------------------------------- newTimeAllocation
def test_extension_is_exact_when_documented() -> None:
    d, jid = running()
    t = d.do(A.Extend(jid))
    extension = WORLD.extension_ms
    assert extension == 30 * 60_000 + 30_000
    assert [(c.call, c.status) for c in t.calls] == [("jobs.extend", 200), ("jobs.provider.extend", 200)]
    d.do(A.Deliver(d.latest_uid(jid)))
    assert outcome(d) == "applied"
    assert d.job(jid).alloc_ms == HOUR + extension == 5_430_000
    assert d.job(jid).requested_ms == 5_430_000


@pytest.mark.parametrize(
    "cfg",
    [{"rules": {"extension-drops-seconds": True}}, {"variant": "ucloud-current"}],
    ids=["rule", "variant"],
)
def test_extension_drops_the_seconds_with_the_rule(cfg: dict) -> None:
    d, jid = running(**cfg)
    d.do(A.Extend(jid))
    d.do(A.Deliver(d.latest_uid(jid)))
    assert d.job(jid).alloc_ms == 5_400_000
    assert d.job(jid).requested_ms == 5_430_000


@pytest.mark.parametrize(("rule", "alloc"), [(False, 3_723_000), (True, 3_720_000)])
def test_new_time_allocation_of_a_hand_made_update(rule: bool, alloc: int) -> None:
    d, jid = running(rules={"extension-drops-seconds": rule})
    d.inject(update_msg(jid, None, new_alloc=3_723_000))
    assert d.job(jid).alloc_ms == alloc


# ----------------------------------------------------------------------------------- who may update
def test_update_from_a_provider_that_does_not_own_the_job_is_404_and_not_applied() -> None:
    d, jid = running()
    before = d.s.jobs
    d.do(A.Impersonate("slurm", jid))
    t = d.do(A.Deliver(call_uid(jid, UIDS_PER_JOB - 1)))
    assert t.calls == (
        Call(
            "provider:slurm",
            UPDATE,
            jid,
            404,
            f"not found or permission denied ({jid})",
            (call_uid(jid, UIDS_PER_JOB - 1), FAILURE, None, False, None, ""),
        ),
    )
    assert d.s.jobs == before
    assert t.touched == ()


def test_update_from_a_foreign_provider_is_applied_under_its_mutant() -> None:
    d, jid = running(mutant="accept-foreign-provider")
    d.do(A.Impersonate("slurm", jid))
    d.do(A.Deliver(call_uid(jid, UIDS_PER_JOB - 1)))
    assert d.job(jid).state == FAILURE


def test_update_for_an_unknown_job_is_404() -> None:
    d, _ = running()
    before = d.s.jobs
    t = d.inject(update_msg(99, SUCCESS))
    c = only_call(t)
    assert (c.actor, c.call, c.job, c.status, c.why) == (
        "provider:k8s",
        UPDATE,
        99,
        404,
        "not found or permission denied (99)",
    )
    assert d.s.jobs == before


def test_update_for_a_job_core_lost_in_a_restart_is_404() -> None:
    from spec.state import Budgets

    d = Driver(ProtocolModel(WORLD, budgets=Budgets(core_restarts=1)))
    d.submit(BATCH)
    d.deliver("jobs.provider.create", 1)  # the provider created it; its answer is still in flight
    d.do(A.CoreRestart())
    assert d.s.jobs == {}
    d.do(A.Start(1))
    t = d.report(1)
    assert (only_call(t).status, only_call(t).why) == (404, "not found or permission denied (1)")


# ----------------------------------------------------------------------------------- retries
def _retry_after_suspension(variant: str) -> Driver:
    """A VM's RUNNING report is delivered twice; the second copy arrives after it was SUSPENDED."""
    d = driver(variant)
    jid = d.submit_confirmed(VM)
    d.do(A.Start(jid))
    d.do(A.Report(jid))
    running_uid = d.latest_uid(jid)
    d.do(A.Duplicate(running_uid))
    d.do(A.Deliver(running_uid))
    assert outcome(d) == "applied"
    d.do(A.Suspend(jid))
    d.report(jid)
    assert d.job(jid).state == SUSPENDED
    d.do(A.Deliver(running_uid))  # the retried copy
    return d


def test_a_retried_update_is_applied_once_when_documented() -> None:
    d = _retry_after_suspension("documented")
    assert outcome(d) == "retry"
    assert d.last.touched == ()  # type: ignore[union-attr]
    assert (d.job(1).state, d.job(1).started_at) == (SUSPENDED, 1)


def test_a_retried_update_is_applied_again_under_ucloud_current() -> None:
    d = _retry_after_suspension("ucloud-current")
    assert outcome(d) == "applied"
    assert (d.job(1).state, d.job(1).started_at) == (RUNNING, 2)


def test_duplicate_then_deliver_twice_applies_once() -> None:
    d, jid = queued()
    d.do(A.Start(jid))
    d.do(A.Report(jid))
    uid = d.latest_uid(jid)
    d.do(A.Duplicate(uid))
    assert [m.uid for m in d.s.flight] == [uid, uid]
    d.do(A.Deliver(uid))
    first = d.job(jid)
    d.do(A.Deliver(uid))
    assert outcome(d) == "retry"
    assert d.job(jid) == first
    assert (first.state, first.started_at, first.handled) == (RUNNING, 1, frozenset({uid}))
    assert d.s.flight == ()
