"""A job's life through the transition system: creation, binding, user calls, outcomes, faults."""

from __future__ import annotations

import pytest
from protocol_driver import CREATE, CREATE_REPLY, UPDATE, Driver, in_flight, only_call

from spec import actions as A
from spec.examples import default_catalog, default_requests
from spec.rules import resolve
from spec.state import (
    CAUSE_NODE_FAILURE,
    CAUSE_TIME_ALLOCATION,
    CAUSE_USER_CANCEL,
    ENDED,
    EXPIRED,
    FAILURE,
    IN_QUEUE,
    QUEUED,
    RUNNING,
    SUCCESS,
    Budgets,
)
from spec.system import Call, ProtocolModel, implied_state
from spec.world import RequestTemplate, World, default_world

WORLD = default_world()
BATCH, WEB, VM, REFUSED, SLURM = 0, 1, 2, 5, 7
LINK, LICENSE = "ingress:55", "license_server:77"
assert [WORLD.templates[i].name for i in (BATCH, WEB, VM, REFUSED, SLURM)] == [
    "batch",
    "web+link",
    "vm",
    "refused-by-provider",
    "slurm",
]


def driver(variant: str = "documented", budgets: Budgets | None = None, **kw: object) -> Driver:
    return Driver(ProtocolModel(WORLD, resolve(variant, **kw), budgets))  # type: ignore[arg-type]


def is_enabled(d: Driver, action: A.Action) -> bool:
    return d.model.enabled(d.s, action)


def calls(d: Driver) -> list[tuple[str, int]]:
    return [(c.call, c.status) for c in d.last.calls]  # type: ignore[union-attr]


# ----------------------------------------------------------------------------------- binding
def test_web_link_job_binds_only_after_the_provider_accepted_and_releases_when_final() -> None:
    d = driver()
    d.submit(WEB)
    assert d.s.bindings == {}
    assert d.s.reserved == {LINK: 1}  # documented: the exclusivity check reserves the link
    d.deliver(CREATE, 1)
    assert d.s.bindings == {}
    assert d.s.providers["k8s"].jobs[1].phase == QUEUED
    t = d.deliver(CREATE_REPLY, 1)
    assert t.calls == (Call("user:alice", "jobs.create", 1, 200, None, (WEB,)),)
    assert d.s.bindings == {LINK: (1,), LICENSE: (1,)}
    assert d.s.reserved == {}
    d.run(1)
    assert d.s.bound_to(LINK) == (1,)
    d.finish(1)
    assert d.job(1).state == SUCCESS
    assert d.s.bound_to(LINK) == ()
    assert d.s.bound_to(LICENSE) == ()


def test_the_link_is_free_again_for_a_new_job_once_the_holder_ended() -> None:
    d = driver()
    d.submit_confirmed(WEB)
    d.run(1)
    d.finish(1)
    assert d.submit_confirmed(WEB) == 2
    assert d.s.bindings[LINK] == (2,)


def test_core_refuses_a_second_web_link_job_while_the_first_runs() -> None:
    d = driver()
    d.submit_confirmed(WEB)
    before = d.s.jobs
    t = d.submit(WEB)
    assert t.calls == (
        Call("user:alice", "jobs.create", None, 403, "this link is already in use with 1", (WEB,)),
    )
    assert d.s.jobs == before
    assert d.s.next_id == 2


def test_refused_by_provider_deletes_the_job_and_answers_400() -> None:
    d = driver()
    d.submit(REFUSED)
    t = d.deliver(CREATE, 1)
    assert t.calls == (Call("ucloud", "jobs.provider.create", 1, 400, "no node can fit this job"),)
    assert d.s.providers["k8s"].jobs == {}
    t = d.deliver(CREATE_REPLY, 1)
    assert t.calls == (Call("user:alice", "jobs.create", 1, 400, "no node can fit this job", (REFUSED,)),)
    assert d.s.jobs == {}
    assert d.s.bindings == {}


def test_a_refused_web_link_job_binds_nothing_and_frees_its_reservation() -> None:
    web = default_requests()[WEB]
    world = World(
        catalog=default_catalog(),
        requests=[
            RequestTemplate("web+link refused", "alice", web.request, provider_refusal=(400, "no GPU"))
        ],
        providers=("k8s",),
    )
    d = Driver(ProtocolModel(world))
    d.submit(0)
    assert d.s.reserved == {LINK: 1}
    d.deliver(CREATE, 1)
    t = d.deliver(CREATE_REPLY, 1)
    assert only_call(t) == Call("user:alice", "jobs.create", 1, 400, "no GPU", (0,))
    assert (d.s.jobs, d.s.bindings, d.s.reserved) == ({}, {}, {})
    assert world.validate(0, d.s, resolve()) is None  # the link is free for the next request


def test_documented_reservation_refuses_a_concurrent_second_web_link_submit() -> None:
    d = driver()
    d.submit(WEB)
    t = d.submit(WEB)
    assert only_call(t) == Call(
        "user:alice", "jobs.create", None, 403, "this link is already in use with 1", (WEB,)
    )
    assert set(d.s.jobs) == {1}


@pytest.mark.parametrize("variant_kw", [{"variant": "ucloud-current"}, {"rules": {"check-then-bind": True}}])
def test_check_then_bind_lets_two_concurrent_web_link_jobs_through(variant_kw: dict) -> None:
    d = driver(**variant_kw)
    assert d.submit(WEB).calls == ()
    assert d.s.reserved == {}
    assert d.submit(WEB).calls == ()  # the race: the link is not bound yet, and nothing reserved it
    for jid in (1, 2):
        d.deliver(CREATE, jid)
    for jid in (1, 2):
        assert only_call(d.deliver(CREATE_REPLY, jid)).status == 200
    assert d.job(1).confirmed and d.job(2).confirmed
    assert d.s.bindings[LINK] == (2,)  # IngressBind overwrote boundTo with the later job
    # Both jobs run with the same link; job 1's end releases nothing (its unbind is a no-op).
    d.run(1)
    d.run(2)
    d.finish(1)
    assert d.s.bindings[LINK] == (2,)


# ----------------------------------------------------------------------------------- terminate
def test_terminate_of_a_queued_job_ends_it_with_user_cancel_and_success() -> None:
    d = driver()
    jid = d.submit_confirmed(BATCH)
    t = d.do(A.Terminate(jid))
    assert t.calls == (
        Call("user:alice", "jobs.terminate", jid, 200),
        Call("ucloud", "jobs.provider.terminate", jid, 200),
    )
    pj = d.pjob(jid)
    assert (pj.phase, pj.cause, pj.cancelled) == (ENDED, CAUSE_USER_CANCEL, True)
    assert d.job(jid).terminate_requested
    assert not is_enabled(d, A.Start(jid))
    d.report(jid)
    assert d.job(jid).state == SUCCESS


def test_terminate_of_a_final_job_is_not_forwarded_when_documented() -> None:
    d = driver()
    jid = d.submit_confirmed(BATCH)
    d.run(jid)
    d.finish(jid, A.NodeFail(jid))
    flight, pjobs = d.s.flight, d.s.providers
    t = d.do(A.Terminate(jid))
    assert t.calls == (Call("user:alice", "jobs.terminate", jid, 200),)
    assert (d.s.flight, d.s.providers) == (flight, pjobs)
    assert d.job(jid).state == FAILURE


def test_terminate_of_a_final_job_is_forwarded_under_ucloud_current() -> None:
    d = driver("ucloud-current")
    jid = d.submit_confirmed(BATCH)
    d.run(jid)
    d.finish(jid, A.NodeFail(jid))
    t = d.do(A.Terminate(jid))
    assert calls(d) == [("jobs.terminate", 200), ("jobs.provider.terminate", 200)]
    assert t.touched == (jid,)
    pushed = in_flight(d.s, UPDATE, jid)
    assert [m.payload for m in pushed] == [(SUCCESS, None, False, None, "Job cancelled")]
    d.do(A.Deliver(pushed[0].uid))
    assert d.job(jid).state == SUCCESS  # FAILURE -> SUCCESS: issue #762


# ----------------------------------------------------------------------------------- extend, suspend
def test_extend_needs_the_extension_feature() -> None:
    d = driver()
    jid = d.submit_confirmed(SLURM)
    d.run(jid)
    before = d.s
    t = d.do(A.Extend(jid))
    assert t.calls == (
        Call(
            "user:alice",
            "jobs.extend",
            jid,
            400,
            "time extension is not supported by this provider",
            (WORLD.extension_ms,),
        ),
    )
    assert d.s is before


def test_extend_with_the_feature_reaches_the_provider() -> None:
    d = driver()
    jid = d.submit_confirmed(BATCH)
    d.run(jid)
    d.do(A.Extend(jid))
    assert calls(d) == [("jobs.extend", 200), ("jobs.provider.extend", 200)]
    assert d.pjob(jid).alloc_ms == 3_600_000 + WORLD.extension_ms


def test_suspend_of_a_batch_container_is_400_when_documented() -> None:
    d = driver()
    jid = d.submit_confirmed(BATCH)
    d.run(jid)
    t = d.do(A.Suspend(jid))
    assert t.calls == (Call("user:alice", "jobs.suspend", jid, 400, "Feature not supported"),)
    assert d.job(jid).suspends == 0


def test_suspend_of_a_batch_container_is_a_200_no_op_under_ucloud_current() -> None:
    d = driver("ucloud-current")
    jid = d.submit_confirmed(BATCH)
    d.run(jid)
    d.do(A.Suspend(jid))
    assert calls(d) == [("jobs.suspend", 200), ("jobs.provider.suspend", 200)]
    assert d.pjob(jid).phase == "running"
    assert implied_state(d.pjob(jid), d.model.cfg) == RUNNING


def test_suspend_of_a_vm_pauses_it_when_documented() -> None:
    d = driver()
    jid = d.submit_confirmed(VM)
    d.run(jid)
    d.do(A.Suspend(jid))
    assert calls(d) == [("jobs.suspend", 200), ("jobs.provider.suspend", 200)]
    d.report(jid)
    assert d.job(jid).state == "SUSPENDED"


# ----------------------------------------------------------------------------------- sessions and logs
def test_sessions_and_logs_only_while_running() -> None:
    d = driver()
    jid = d.submit_confirmed(WEB)

    def session(kind: str = "WEB") -> tuple[int, str | None]:
        c = only_call(d.do(A.OpenSession(jid, kind)))
        return c.status, c.why

    def follow() -> bool:
        return only_call(d.do(A.Follow(jid))).detail[0]

    assert session() == (400, "job is not running")
    assert follow() is False
    d.run(jid)
    assert session() == (200, None)
    assert session("SHELL") == (200, None)
    assert follow() is True
    d.finish(jid)
    assert session() == (400, "job is not running")
    assert follow() is False


def test_sessions_need_the_backend_feature() -> None:
    d = driver()
    jid = d.submit_confirmed(SLURM)
    d.run(jid)
    c = only_call(d.do(A.OpenSession(jid, "SHELL")))
    assert (c.status, c.why) == (400, "terminal access is not supported by this provider")
    assert only_call(d.do(A.Follow(jid))).detail == (True,)  # slurm declares logs


def test_session_while_queued_mutant_opens_one() -> None:
    d = driver(mutant="session-while-queued")
    jid = d.submit_confirmed(WEB)
    assert only_call(d.do(A.OpenSession(jid, "WEB"))).status == 200


# ----------------------------------------------------------------------------------- outcomes
@pytest.mark.parametrize(
    ("cfg", "code", "state"),
    [
        ({}, 0, SUCCESS),
        ({}, 1, SUCCESS),
        ({"rules": {"nonzero-exit-failure": True}}, 1, FAILURE),
        ({"rules": {"nonzero-exit-failure": True}}, 0, SUCCESS),
        ({"variant": "ucloud-current"}, 1, FAILURE),
        ({"mutant": "exit-code-failure"}, 1, FAILURE),
    ],
)
def test_exit_code_outcome(cfg: dict, code: int, state: str) -> None:
    d = driver(**cfg)
    jid = d.submit_confirmed(BATCH)
    d.run(jid)
    d.finish(jid, A.Exit(jid, code))
    assert d.pjob(jid).exit_code == code
    assert d.job(jid).state == state


def test_node_failure_is_failure() -> None:
    d = driver()
    jid = d.submit_confirmed(BATCH)
    d.run(jid)
    d.finish(jid, A.NodeFail(jid))
    assert d.pjob(jid).cause == CAUSE_NODE_FAILURE
    assert d.job(jid).state == FAILURE


def test_allocation_elapsed_is_expired_after_the_whole_allocation() -> None:
    d = driver()
    jid = d.submit_confirmed(BATCH)
    d.run(jid)
    d.do(A.Tick(jid))
    assert d.pjob(jid).ran_ms == 1_800_000
    d.finish(jid, A.AllocationElapsed(jid))
    pj = d.pjob(jid)
    assert (pj.cause, pj.ran_ms) == (CAUSE_TIME_ALLOCATION, 3_600_000)
    assert d.job(jid).state == EXPIRED


def test_allocation_elapsed_is_not_enabled_in_the_queue() -> None:
    d = driver()
    jid = d.submit_confirmed(BATCH)
    assert not is_enabled(d, A.AllocationElapsed(jid))
    d.do(A.Start(jid))
    assert is_enabled(d, A.AllocationElapsed(jid))


def test_allocation_elapsed_in_the_queue_under_the_expire_early_mutant() -> None:
    d = driver(mutant="expire-early")
    jid = d.submit_confirmed(BATCH)
    assert is_enabled(d, A.AllocationElapsed(jid))
    d.finish(jid, A.AllocationElapsed(jid))
    assert (d.pjob(jid).ran_ms, d.job(jid).state) == (0, EXPIRED)


def test_enabled_tells_action_kinds_apart() -> None:
    # Actions are named tuples: Start(1) == Submit(1) as tuples. `enabled` must compare kinds too.
    d = driver()
    assert A.Start(1) == A.Submit(1)
    assert d.model.enabled(d.s, A.Submit(1))
    assert not d.model.enabled(d.s, A.Start(1))
    assert d.model.enabled(d.s, A.Crash("k8s"))
    assert not d.model.enabled(d.s, A.Restart("k8s"))
    d.submit(BATCH)
    uid = d.s.flight[0].uid
    assert d.model.enabled(d.s, A.Deliver(uid))
    assert not d.model.enabled(d.s, A.Duplicate(uid))  # Core never retries a create
    assert not d.model.enabled(d.s, A.Lose(uid))  # no loss budget by default


# ----------------------------------------------------------------------------------- faults
def test_create_delivered_to_a_crashed_provider_fails_with_502_and_the_job_is_gone() -> None:
    d = driver()
    d.submit(WEB)
    d.do(A.Crash("k8s"))
    assert d.s.providers["k8s"].up is False
    t = d.deliver(CREATE, 1)
    assert t.calls == (Call("user:alice", "jobs.create", 1, 502, "could not contact the provider", (WEB,)),)
    assert (d.s.jobs, d.s.reserved, d.s.bindings, d.s.flight) == ({}, {}, {}, ())
    assert d.s.providers["k8s"].jobs == {}


def test_terminate_while_the_provider_is_down_is_502() -> None:
    d = driver()
    jid = d.submit_confirmed(BATCH)
    d.do(A.Crash("k8s"))
    t = d.do(A.Terminate(jid))
    assert t.calls == (Call("user:alice", "jobs.terminate", jid, 502, "provider unavailable"),)
    assert not d.job(jid).terminate_requested


def test_core_restart_drops_unconfirmed_jobs_and_their_reservations() -> None:
    d = driver(budgets=Budgets(core_restarts=1))
    kept = d.submit_confirmed(BATCH)
    d.submit(WEB)
    assert d.s.reserved == {LINK: 2}
    t = d.do(A.CoreRestart())
    assert t.touched == (2,)
    assert set(d.s.jobs) == {kept}
    assert d.s.reserved == {}
    assert d.s.budgets.core_restarts == 0
    # The create still in flight reaches the provider, which never hears of the job.
    t = d.deliver(CREATE, 2)
    assert t.calls == ()
    assert 2 not in d.s.providers["k8s"].jobs
    assert d.job(kept).state == IN_QUEUE
