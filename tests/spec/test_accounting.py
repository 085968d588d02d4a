"""Accounting: the charge formula, absolute usage reports per job scope, and locked wallets."""

from __future__ import annotations

import copy

import pytest
from protocol_driver import CREATE, CREATE_REPLY, USAGE, Driver, in_flight, only_call

from spec import actions as A
from spec import examples as ex
from spec.catalog import Catalog
from spec.rules import resolve
from spec.state import CAUSE_NO_CREDITS, ENDED, SUCCESS, Budgets
from spec.system import Call, ProtocolModel, implied_state
from spec.wire import Application, Ingress, JobSpecification, JobSupport, License, ProductV2, PublicIP, Wallet
from spec.world import RequestTemplate, World, default_world

WORLD = default_world()
BATCH, WEB, REFUSED, SLURM = 0, 1, 5, 7
HALF_HOUR = 1_800_000


def is_enabled(d: Driver, action: A.Action) -> bool:
    return d.model.enabled(d.s, action)


# ----------------------------------------------------------------------------------- the formula
@pytest.mark.parametrize(
    ("template", "ran_ms", "usage"),
    [
        (BATCH, 0, 0),
        (BATCH, HALF_HOUR, 60),  # 2 replicas x 1 cpu x 1 x 30 minutes
        (BATCH, 30_000, 1),  # 2 x 30 s = one minute: multiply before dividing
        (BATCH, 29_999, 0),  # truncated to an integer
        (BATCH, 3_600_000, 120),
        (REFUSED, 90_000, 6),  # 1 replica x 4 cpu x 1.5 minutes
        (SLURM, HALF_HOUR, 32),  # 64 cpu x half an hour, charged per hour
        (SLURM, 1_000, 0),
    ],
)
def test_usage_formula_of_the_default_world(template: int, ran_ms: int, usage: int) -> None:
    assert WORLD.usage(template, ran_ms) == usage


def test_usage_formula_ignoring_replicas() -> None:
    assert WORLD.usage(BATCH, HALF_HOUR, ignore_replicas=True) == 30


def _daily_world() -> World:
    """A product of 3 cpu at price 7 charged per day, a 5-replica request, and a project request."""
    category = {
        **copy.deepcopy(ex.PRODUCTS[0]["category"]),
        "name": "u1-daily",
        "accountingFrequency": "PERIODIC_DAY",
    }
    product = {**copy.deepcopy(ex.PRODUCTS[0]), "category": category, "name": "daily-3", "cpu": 3, "price": 7}
    support = {
        **copy.deepcopy(ex.SUPPORT[0]),
        "product": {"id": "daily-3", "category": "u1-daily", "provider": "k8s"},
    }
    wallets = [
        {"owner": {"type": "user", "username": "alice"}, "paysFor": {"name": "u1-daily", "provider": "k8s"}, "quota": 9, "maxUsable": 9},
        {"owner": {"type": "project", "projectId": "p1"}, "paysFor": {"name": "u1-daily", "provider": "k8s"}, "quota": 9, "maxUsable": 9},
    ]  # fmt: skip
    catalog = Catalog.build(
        applications=[Application.model_validate(a) for a in ex.APPLICATIONS],
        products=[ProductV2.model_validate(p) for p in [*ex.PRODUCTS, product]],
        support=[JobSupport.model_validate(s) for s in [*ex.SUPPORT, support]],
        ingresses=[Ingress.model_validate(r) for r in ex.INGRESSES],
        public_ips=[PublicIP.model_validate(r) for r in ex.PUBLIC_IPS],
        licenses=[License.model_validate(r) for r in ex.LICENSES],
        wallets=[Wallet.model_validate(w) for w in wallets],
    )
    request = JobSpecification.model_validate(
        {
            "product": {"id": "daily-3", "category": "u1-daily", "provider": "k8s"},
            "application": {"name": "acme-batch", "version": "1.0.0"},
            "replicas": 5,
            "parameters": {"value": {"type": "text", "value": "x"}},
            "timeAllocation": {"hours": 1, "minutes": 0, "seconds": 0},
        }
    )
    return World(
        catalog=catalog,
        requests=[
            RequestTemplate("daily", "alice", request),
            RequestTemplate("daily-p1", "alice", request, "p1"),
        ],
        providers=("k8s",),
    )


@pytest.mark.parametrize(
    ("ran_ms", "usage"),
    [(43_200_000, 52), (3_600_000, 4), (HALF_HOUR, 2), (822_857, 0), (822_858, 1)],
)
def test_usage_formula_of_a_daily_product(ran_ms: int, usage: int) -> None:
    # 5 replicas x 3 cpu x price 7 = 105 per day: half a day 52.5 -> 52, an hour 4.375 -> 4
    world = _daily_world()
    t = world.templates[0]
    assert (t.replicas, t.cpu, t.price, t.interval_ms) == (5, 3, 7, 86_400_000)
    assert world.usage(0, ran_ms) == usage


# ----------------------------------------------------------------------------------- reporting
def running_batch(**kw: object) -> tuple[Driver, int]:
    d = Driver(ProtocolModel(WORLD, resolve(**kw)))  # type: ignore[arg-type]
    jid = d.submit_confirmed(BATCH)
    d.run(jid)
    d.do(A.Tick(jid))
    assert d.pjob(jid).ran_ms == HALF_HOUR
    return d, jid


def test_report_usage_records_the_absolute_usage_of_the_job_scope() -> None:
    d, jid = running_batch()
    assert is_enabled(d, A.ReportUsage(jid))
    d.do(A.ReportUsage(jid))
    (msg,) = in_flight(d.s, USAGE, jid)
    assert msg.payload == (60,)
    assert d.pjob(jid).charged == 60
    assert not is_enabled(d, A.ReportUsage(jid))  # nothing new to report
    t = d.do(A.Deliver(msg.uid))
    assert t.calls == (Call("provider:k8s", USAGE, jid, 200, None, (60, True)),)
    assert d.s.usage == {("user:alice", f"job-{jid}"): 60}


def test_nothing_to_report_while_queued() -> None:
    d = Driver(ProtocolModel(WORLD))
    jid = d.submit_confirmed(BATCH)
    assert not is_enabled(d, A.ReportUsage(jid))


def test_charge_in_queue_mutant_reports_usage_for_a_queued_job() -> None:
    d = Driver(ProtocolModel(WORLD, resolve(mutant="charge-in-queue")))
    jid = d.submit_confirmed(BATCH)
    assert is_enabled(d, A.ReportUsage(jid))
    d.do(A.ReportUsage(jid))
    assert in_flight(d.s, USAGE, jid)[0].payload == (60,)


def test_no_replica_charge_mutant_reports_one_replica() -> None:
    d, jid = running_batch(mutant="no-replica-charge")
    d.do(A.ReportUsage(jid))
    assert in_flight(d.s, USAGE, jid)[0].payload == (30,)


def test_re_sending_the_same_usage_is_idempotent() -> None:
    d, jid = running_batch()
    d.do(A.ReportUsage(jid))
    uid = in_flight(d.s, USAGE, jid)[0].uid
    d.do(A.Duplicate(uid))
    d.do(A.Deliver(uid))
    d.do(A.Deliver(uid))
    assert d.s.usage == {("user:alice", "job-1"): 60}
    d.do(A.ReportUsage(jid))  # the provider's next accounting pass sends the same total again
    d.do(A.Deliver(d.latest_uid(jid)))
    assert d.s.usage == {("user:alice", "job-1"): 60}


def test_a_later_report_replaces_the_total_rather_than_adding_to_it() -> None:
    d, jid = running_batch()
    d.do(A.ReportUsage(jid))
    d.do(A.Deliver(d.latest_uid(jid)))
    d.do(A.AllocationElapsed(jid))
    d.do(A.ReportUsage(jid))
    d.do(A.Deliver(d.latest_uid(jid)))
    assert d.s.usage == {("user:alice", "job-1"): 120}


def test_each_job_and_workspace_has_its_own_scope() -> None:
    world = _daily_world()
    d = Driver(ProtocolModel(world))
    for template in (0, 1):
        jid = d.submit_confirmed(template)
        d.run(jid)
        d.do(A.Tick(jid))
        d.do(A.ReportUsage(jid))
        d.do(A.Deliver(d.latest_uid(jid)))
    assert d.s.usage == {("user:alice", "job-1"): 2, ("project:p1", "job-2"): 2}


# ----------------------------------------------------------------------------------- locked wallets
def locking_driver() -> Driver:
    return Driver(ProtocolModel(WORLD, budgets=Budgets(locks=1)))


def test_locked_wallet_makes_the_provider_refuse_create_with_402() -> None:
    d = locking_driver()
    d.do(A.LockWallet("user:alice"))
    assert d.s.locked == frozenset({"user:alice"})
    assert d.submit(BATCH).calls == ()  # Core does not look at the balance (§8.3)
    t = d.deliver(CREATE, 1)
    assert t.calls == (
        Call("ucloud", "jobs.provider.create", 1, 402, "This workspace has reached the u1-standard quota."),
    )
    t = d.deliver(CREATE_REPLY, 1)
    assert only_call(t) == Call(
        "user:alice", "jobs.create", 1, 402, "This workspace has reached the u1-standard quota.", (BATCH,)
    )
    assert d.s.jobs == {}
    assert d.s.providers["k8s"].jobs == {}


def test_enforce_lock_ends_a_running_job_with_no_credits_and_success() -> None:
    d = locking_driver()
    jid = d.submit_confirmed(BATCH)
    d.run(jid)
    assert not is_enabled(d, A.EnforceLock(jid))
    d.do(A.LockWallet("user:alice"))
    assert is_enabled(d, A.EnforceLock(jid))
    d.do(A.EnforceLock(jid))
    pj = d.pjob(jid)
    assert (pj.phase, pj.cause) == (ENDED, CAUSE_NO_CREDITS)
    assert implied_state(pj, d.model.cfg) == SUCCESS
    d.report(jid)
    assert d.job(jid).state == SUCCESS
    assert not is_enabled(d, A.EnforceLock(jid))


def test_enforce_lock_only_for_the_locked_owner() -> None:
    d = Driver(ProtocolModel(default_world(), budgets=Budgets(locks=1)))
    jid = d.submit_confirmed(BATCH)
    d.do(A.LockWallet("user:bob"))
    assert not is_enabled(d, A.EnforceLock(jid))


def test_usage_reported_for_a_locked_wallet_is_answered_false() -> None:
    d = Driver(ProtocolModel(WORLD, budgets=Budgets(locks=1)))
    jid = d.submit_confirmed(BATCH)
    d.run(jid)
    d.do(A.Tick(jid))
    d.do(A.LockWallet("user:alice"))
    d.do(A.ReportUsage(jid))
    t = d.do(A.Deliver(d.latest_uid(jid)))
    assert t.calls == (Call("provider:k8s", USAGE, jid, 200, None, (60, False)),)
    assert d.s.usage == {("user:alice", "job-1"): 60}
