"""The recorder: spec transitions in, trace lines out, and the trace reads back as what happened.

Walks of the spec (a job's life step by step, and seeded random walks with refusals, cancellations,
extensions, suspensions, duplicated and lost calls, crashes and Core restarts) are recorded, read back
with :func:`spec.trace.read_trace`, and every line is held against the step that made it: the call,
its answer, its payloads parsed by the wire models and written back byte for byte (so the recorder's
hand-assembled JSON is exactly the models' minimal form), and the facts against the state.
"""

from __future__ import annotations

import io
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from spec import actions as A
from spec.rules import resolve
from spec.state import CREATE_REPLY, JOB_STATES, Budgets, SystemState
from spec.system import Call, ProtocolModel, Transition
from spec.testing import drain
from spec.trace import (
    CORE_TO_PROVIDER_CALLS,
    CallLine,
    CatalogLine,
    TraceRecorder,
    TraceWriter,
    read_trace,
)
from spec.trace.format import _adapter
from spec.wire import CALL_NAMES, JobSpecification, ReportUsageRequest
from spec.world import World, default_world

RICH_BUDGETS = Budgets(submissions=3, duplicates=2, losses=1, crashes=1, core_restarts=1, locks=1)
GENTLE_BUDGETS = Budgets(submissions=4, duplicates=2, crashes=1)
SEEDS = range(24)

Step = tuple[Transition, int]  # a transition and the time it happened (ms)


# -- walking the spec ------------------------------------------------------------------------------


def random_walk(model: ProtocolModel, seed: int, depth: int = 150) -> list[Step]:
    """A seeded random walk over the enabled actions, then a fair drain; times never decrease."""
    rng = random.Random(seed)
    steps: list[Step] = []
    now = 0
    state = model.init_state()
    for _ in range(depth):
        enabled = list(model.actions(state))
        if not enabled:
            break
        now += rng.choice((0, 0, 1_000, 30_000))
        t = model.step(state, rng.choice(enabled), now)
        steps.append((t, now))
        state = t.state

    def on_step(old: SystemState, action: A.Action, t: Transition) -> None:
        nonlocal now
        now += 500
        steps.append((t, now))

    drain(model, state, on_step=on_step)
    return steps


def _uid(s: SystemState, kind: str) -> int:
    return next(m.uid for m in s.flight if m.kind == kind)


class Story:
    """Drive a model by hand, one action at a time, keeping every step and its time."""

    def __init__(self, model: ProtocolModel) -> None:
        self.model = model
        self.state = model.init_state()
        self.steps: list[Step] = []
        self.now = 0

    def do(self, action: A.Action, dt: int = 1_000) -> Transition:
        self.now += dt
        t = self.model.step(self.state, action, self.now)
        self.steps.append((t, self.now))
        self.state = t.state
        return t

    def deliver(self, kind: str) -> Transition:
        return self.do(A.Deliver(_uid(self.state, kind)))


def job_life(world: World) -> Story:
    """The life of ``ucsim/lifecycle.py``: web app with a public link, runs, is charged, exits 1."""
    story = Story(ProtocolModel(world))
    web = next(t.index for t in world.templates if t.name == "web+link")
    story.do(A.Submit(web))
    story.deliver("jobs.provider.create")
    story.deliver(CREATE_REPLY)
    story.do(A.Start(1))
    story.do(A.Report(1))
    story.deliver("jobs.control.update")
    story.do(A.Tick(1))
    story.do(A.ReportUsage(1))
    story.deliver("accounting.reportUsage")
    story.do(A.Exit(1, 1))
    story.do(A.Report(1))
    story.deliver("jobs.control.update")
    return story


def record(world: World, steps: list[Step], target: Any, *, facts: bool = True) -> TraceRecorder:
    with TraceRecorder(world, target, facts=facts) as recorder:
        recorder.write_catalog()
        for t, now in steps:
            recorder.record(t, now)
    return recorder


def recorded_lines(world: World, steps: list[Step], tmp_path: Path, **kwargs: Any) -> list[CallLine]:
    path = tmp_path / "trace.jsonl"
    record(world, steps, path, **kwargs)
    lines = list(read_trace(path))
    assert isinstance(lines[0], CatalogLine)
    assert all(type(line) is CallLine for line in lines[1:])
    return lines[1:]  # type: ignore[return-value]


# -- what every recorded line must satisfy ---------------------------------------------------------


def check_payloads(line: CallLine) -> None:
    """The request (and a 2xx body) parse with the call's wire models and dump back byte for byte."""
    request_model = _adapter(line.call, "request")
    assert request_model is not None
    typed = line.typed_request()
    assert orjson.dumps(request_model.dump_python(typed, mode="json", by_alias=True, exclude_none=True)) == (
        orjson.dumps(line.request)
    ), line.call
    body = line.response.body
    if not line.response.ok:
        assert body is None and line.response.why, line
        return
    if body is not None:
        response_model = _adapter(line.call, "response")
        assert response_model is not None
        dumped = response_model.dump_python(
            line.typed_response(), mode="json", by_alias=True, exclude_none=True
        )
        assert orjson.dumps(dumped) == orjson.dumps(body), line.call


def job_of(line: CallLine) -> str | None:
    """The job id a line is about, read from its payload."""
    request = line.request
    if line.call == "jobs.create":
        body = line.response.body
        return body["responses"][0]["id"] if body else None
    if line.call == "jobs.follow":
        return request["id"]
    item = request["items"][0]
    if "job" in item:
        return item["job"]["id"]
    if "jobId" in item:
        return item["jobId"]
    if "description" in item:
        return item["description"]["scope"].removeprefix("job-")
    return item["id"]


def expected_facts(state: SystemState, jid: int) -> dict[str, Any]:
    """The ground truth the recorder should write for ``jid``, computed independently from the state."""
    facts: dict[str, Any] = {}
    pjobs = [p.jobs[jid] for p in state.providers.values() if jid in p.jobs]
    if pjobs:
        (pj,) = pjobs
        if pj.cause is not None:
            facts["cause"] = pj.cause
        if pj.cause == "exit" and pj.exit_code is not None:
            facts["exitCode"] = pj.exit_code
        facts["runningMs"] = pj.ran_ms
    core = state.jobs.get(jid)
    if core is not None and core.state in JOB_STATES:
        facts["coreState"] = core.state
    return facts


def check_trace(
    steps: list[Step], lines: list[CallLine], *, payloads: bool = True, facts: bool = True
) -> None:
    """Every line is the call of its step, in order, with valid payloads and true facts."""
    expected: list[tuple[Call, SystemState, int]] = [(c, t.state, now) for t, now in steps for c in t.calls]
    assert len(lines) == len(expected)
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1))
    for line, (call, state, now) in zip(lines, expected, strict=True):
        assert (line.actor, line.call, line.response.status, line.response.why, line.time) == (
            call.actor,
            call.call,
            call.status,
            call.why,
            now,
        )
        assert line.call in CALL_NAMES
        assert (line.provider is not None) == (line.call in CORE_TO_PROVIDER_CALLS)
        if line.provider is not None:
            assert line.provider == state.jobs[call.job].provider
        # a refused create names no job on the wire, even one Core had stored while asking the provider
        named = call.job is not None and (call.call != "jobs.create" or line.response.ok)
        assert job_of(line) == (str(call.job) if named else None), line
        if payloads:
            check_payloads(line)
        if line.call == "jobs.control.update" and facts:
            want = expected_facts(state, call.job)
            got = line.facts[str(call.job)].to_json() if line.facts else {}
            assert got == want, (line, want)
            assert list(line.facts or {}) in ([], [str(call.job)])
        else:
            assert line.facts is None


# -- a job's life ----------------------------------------------------------------------------------


def test_a_jobs_life_is_recorded_in_order_with_its_facts(tmp_path: Path) -> None:
    world = default_world(providers=1)
    story = job_life(world)
    lines = recorded_lines(world, story.steps, tmp_path)
    check_trace(story.steps, lines)

    def what(line: CallLine) -> tuple[str, str | None]:
        update = line.request["items"][0].get("update", {}) if line.call == "jobs.control.update" else {}
        return line.call, update.get("state")

    assert [what(line) for line in lines] == [
        # the spec's order: Core answers jobs.create once the provider's answer is back
        ("jobs.provider.create", None),
        ("jobs.create", None),
        ("jobs.control.update", "RUNNING"),
        ("accounting.reportUsage", None),
        ("jobs.control.update", "SUCCESS"),
    ]
    create, user_create, running, usage, final = lines
    # jobs.provider.create carries Core's whole job: id, owner, the user's specification, IN_QUEUE
    job = create.typed_request().items[0]
    template = world.templates[1]
    assert (job.id, job.owner.created_by, job.owner.project, job.state.value) == (
        "1",
        "alice",
        None,
        "IN_QUEUE",
    )
    assert job.specification == template.request
    assert job.created_at == story.steps[0][1]  # the Submit step: when Core received the request
    assert create.provider == "k8s" and create.actor == "ucloud"
    assert user_create.request == {"items": [template.request.to_wire()]}
    assert user_create.response.body == {"responses": [{"id": "1"}]}
    assert running.facts is not None and running.facts["1"].to_json() == {
        "runningMs": 0,
        "coreState": "RUNNING",
    }
    report = usage.typed_request().items[0]
    assert isinstance(report, ReportUsageRequest)
    assert (report.is_delta_charge, report.owner.username, report.description.scope) == (
        False,
        "alice",
        "job-1",
    )
    assert (report.category_id_v2.name, report.category_id_v2.provider) == ("u1-standard", "k8s")
    assert report.usage == world.usage(1, world.tick_ms) and usage.response.body == {"responses": [True]}
    assert final.request["items"][0]["update"] == {
        "state": "SUCCESS",
        "status": "Your job has finished.",
        "timestamp": 0,
    }
    assert final.facts is not None and final.facts["1"].to_json() == {
        "cause": "exit",
        "exitCode": 1,
        "runningMs": world.tick_ms,
        "coreState": "SUCCESS",
    }


def test_the_catalog_is_line_one_and_is_the_worlds(tmp_path: Path) -> None:
    world = default_world()
    path = tmp_path / "trace.jsonl.gz"
    record(world, job_life(default_world()).steps, path)
    catalog = next(iter(read_trace(path)))
    assert isinstance(catalog, CatalogLine)
    c = world.catalog
    assert catalog.applications == list(c.applications.values())
    assert catalog.products == list(c.products.values())
    assert catalog.support == list(c.support.values())
    assert catalog.wallets == list(c.wallets.values())
    assert [(r.type, r.id) for r in catalog.resources] == [
        ("ingress", "55"),
        ("network_ip", "31"),
        ("license", "77"),
    ]


def test_refusals_extension_suspension_and_termination(tmp_path: Path) -> None:
    world = default_world(providers=1)
    story = Story(ProtocolModel(world))
    names = {t.name: t.index for t in world.templates}
    story.do(A.Submit(names["replicas=0"]))  # Core refuses: 400
    story.do(A.Submit(names["no-allocation"]))  # 402
    story.do(A.Submit(names["refused-by-provider"]))  # Core accepts, the provider answers 400
    story.deliver("jobs.provider.create")
    story.deliver(CREATE_REPLY)
    story.do(A.Submit(names["batch"]))  # job 2
    story.deliver("jobs.provider.create")
    story.deliver(CREATE_REPLY)
    story.do(A.Start(2))
    story.do(A.Report(2))
    story.deliver("jobs.control.update")
    story.do(A.Extend(2))
    story.do(A.Suspend(2))  # a container: Core forwards, the provider does nothing
    story.do(A.OpenSession(2, "WEB"))
    story.do(A.Follow(2))
    story.deliver("jobs.control.update")  # newTimeAllocation reaches Core
    story.do(A.Terminate(2))
    story.do(A.Report(2))
    story.deliver("jobs.control.update")
    lines = recorded_lines(world, story.steps, tmp_path)
    check_trace(story.steps, lines)
    by_call = [(line.call, line.response.status) for line in lines]
    assert by_call[:4] == [
        ("jobs.create", 400),
        ("jobs.create", 402),
        ("jobs.provider.create", 400),
        ("jobs.create", 400),
    ]
    assert lines[0].response.body is None and lines[0].response.why == "you must request at least 1 node"
    assert lines[3].response.body is None and lines[3].response.why == "no node can fit this job"
    one_hour = world.templates[names["batch"]].alloc_ms
    assert one_hour is not None
    extend = next(line for line in lines if line.call == "jobs.extend")
    assert extend.request == {
        "items": [{"jobId": "2", "requestedTime": {"hours": 0, "minutes": 30, "seconds": 30}}]
    }
    p_extend = next(line for line in lines if line.call == "jobs.provider.extend")
    assert p_extend.request["items"][0]["requestedTime"] == extend.request["items"][0]["requestedTime"]
    assert p_extend.request["items"][0]["job"]["specification"]["timeAllocation"] == {
        "hours": 1,
        "minutes": 0,
        "seconds": 0,
    }
    updates = [line.request["items"][0]["update"] for line in lines if line.call == "jobs.control.update"]
    assert updates[1] == {
        "status": "Extended",
        "newTimeAllocation": one_hour + world.extension_ms,
        "timestamp": 0,
    }
    # Core applied the new total: the Job it sends to terminate carries it, and it is RUNNING
    p_terminate = next(line for line in lines if line.call == "jobs.provider.terminate")
    job = p_terminate.request["items"][0]
    assert job["specification"]["timeAllocation"] == {"hours": 1, "minutes": 30, "seconds": 30}
    assert job["status"]["state"] == "RUNNING"
    assert JobSpecification.model_validate(job["specification"]).time_allocation.to_millis() == (
        one_hour + world.extension_ms
    )
    session = next(line for line in lines if line.call == "jobs.interactiveSession")
    assert session.request == {"items": [{"id": "2", "rank": 0, "sessionType": "WEB"}]}
    assert next(line for line in lines if line.call == "jobs.follow").request == {"id": "2"}
    final = lines[-1]
    assert final.facts is not None and final.facts["2"].cause == "user-cancel"
    assert final.facts["2"].exit_code is None and final.facts["2"].core_state == "SUCCESS"


def test_suspension_and_a_locked_wallet(tmp_path: Path) -> None:
    world = default_world(providers=1)
    story = Story(ProtocolModel(world, budgets=Budgets(locks=1)))
    vm = next(t.index for t in world.templates if t.name == "vm")
    story.do(A.Submit(vm))  # job 1: a virtual machine (suspendable, no time allocation)
    story.deliver("jobs.provider.create")
    story.deliver(CREATE_REPLY)
    story.do(A.Start(1))
    story.do(A.Report(1))
    story.deliver("jobs.control.update")
    story.do(A.Suspend(1))
    story.do(A.Report(1))
    story.deliver("jobs.control.update")
    story.do(A.Unsuspend(1))
    story.do(A.Submit(0))  # job 2: a batch job, whose owner's wallet gets locked while it runs
    story.deliver("jobs.provider.create")
    story.deliver(CREATE_REPLY)
    story.do(A.Start(2))
    story.do(A.Tick(2))
    story.do(A.LockWallet("user:alice"))
    story.do(A.ReportUsage(2))
    story.deliver("accounting.reportUsage")
    story.do(A.EnforceLock(2))
    story.do(A.Report(2))
    story.deliver("jobs.control.update")
    lines = recorded_lines(world, story.steps, tmp_path)
    check_trace(story.steps, lines)
    suspend = next(line for line in lines if line.call == "jobs.provider.suspend")
    job = suspend.request["items"][0]["job"]
    assert job["status"]["state"] == "RUNNING" and "timeAllocation" not in job["specification"]
    suspended = next(
        line for line in lines if line.request["items"][0].get("update", {}).get("state") == "SUSPENDED"
    )
    assert suspended.facts is not None and suspended.facts["1"].to_json() == {
        "runningMs": 0,
        "coreState": "SUSPENDED",
    }
    unsuspend = next(line for line in lines if line.call == "jobs.provider.unsuspend")
    assert unsuspend.request["items"][0]["job"]["status"]["state"] == "SUSPENDED"
    usage = next(line for line in lines if line.call == "accounting.reportUsage")
    assert usage.response.body == {"responses": [False]}  # the wallet is locked
    assert lines[-1].facts is not None and lines[-1].facts["2"].to_json() == {
        "cause": "no-credits",
        "runningMs": world.tick_ms,
        "coreState": "SUCCESS",
    }


# -- random walks ----------------------------------------------------------------------------------


def walk_models(world: World, variant: str) -> Iterator[tuple[int, ProtocolModel]]:
    """Seeds and models: even seeds are gentle (long lives), odd ones spend every fault budget."""
    gentle = ProtocolModel(world, resolve(variant), GENTLE_BUDGETS)
    rich = ProtocolModel(world, resolve(variant), RICH_BUDGETS)
    for seed in SEEDS:
        yield seed, gentle if seed % 2 == 0 else rich


def test_random_walks_read_back_as_the_calls_that_were_made(tmp_path: Path) -> None:
    world = default_world()
    calls: Counter[tuple[str, bool]] = Counter()
    verdicts: Counter[Any] = Counter()
    causes: Counter[str | None] = Counter()
    for variant in ("documented", "ucloud-current"):
        for seed, model in walk_models(world, variant):
            steps = random_walk(model, seed)
            lines = recorded_lines(world, steps, tmp_path)
            check_trace(steps, lines)
            calls.update((line.call, line.response.ok) for line in lines)
            for t, _ in steps:
                for c in t.calls:
                    if c.call == "jobs.control.update":
                        verdicts[c.detail[-1] if c.status == 200 else c.status] += 1
            causes.update(f.cause for line in lines for f in (line.facts or {}).values())
    # the walks exercised every call the spec makes, refusals, and every way Core handles an update
    assert {call for call, _ in calls} == CALL_NAMES - {
        "jobs.provider.follow",  # the spec answers follow and sessions in Core: no provider call
        "jobs.provider.interactiveSession",
    }
    for call in (
        "jobs.create",
        "jobs.provider.create",
        "jobs.extend",
        "jobs.interactiveSession",
        "jobs.suspend",
    ):
        assert calls[(call, False)], (call, calls)
    assert set(verdicts) == {"applied", "dropped", "retry", 404}
    assert {"exit", "user-cancel", "node-failure", "time-allocation", None} <= set(causes)


def test_the_same_walk_gives_the_same_bytes(tmp_path: Path) -> None:
    def trace_of(seed: int) -> bytes:
        world = default_world()  # a fresh world and model each time: nothing carried over
        out = io.BytesIO()
        record(world, random_walk(ProtocolModel(world, resolve(), GENTLE_BUDGETS), seed), TraceWriter(out))
        return out.getvalue()

    total = 0
    for seed in range(6):
        first = trace_of(seed)
        assert first == trace_of(seed)
        total += first.count(b"\n")
    assert total > 60
    world = default_world()
    steps = random_walk(ProtocolModel(world, resolve(), GENTLE_BUDGETS), 4)
    gz1, gz2 = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    record(world, steps, gz1)
    record(world, steps, gz2)
    assert gz1.read_bytes() == gz2.read_bytes()


def test_a_state_outside_jobstate_is_recorded_but_never_claimed_as_core_state(tmp_path: Path) -> None:
    """Under the legacy-canceling mutant a provider reports CANCELING: the line is written as it was
    sent (for the checker to judge), and ``coreState`` is left out while Core holds CANCELING."""
    world = default_world(providers=1)
    story = Story(ProtocolModel(world, resolve(mutant="legacy-canceling")))
    story.do(A.Submit(0))
    story.deliver("jobs.provider.create")
    story.deliver(CREATE_REPLY)
    story.do(A.Start(1))
    story.do(A.Terminate(1))
    story.do(A.Report(1))
    story.deliver("jobs.control.update")
    assert story.state.jobs[1].state == "CANCELING"
    lines = recorded_lines(world, story.steps, tmp_path)
    check_trace(story.steps, lines, payloads=False)
    assert lines[-1].request["items"][0]["update"]["state"] == "CANCELING"
    assert lines[-1].facts is not None and lines[-1].facts["1"].core_state is None


def test_facts_can_be_left_out(tmp_path: Path) -> None:
    world = default_world(providers=1)
    steps = job_life(world).steps
    lines = recorded_lines(world, steps, tmp_path, facts=False)
    check_trace(steps, lines, facts=False)
    assert all(line.facts is None for line in lines)


# -- the recorder's own contract -------------------------------------------------------------------


def test_record_returns_lines_written_and_counts_them() -> None:
    world = default_world(providers=1)
    story = job_life(world)
    out = io.BytesIO()
    recorder = TraceRecorder(world, TraceWriter(out))
    recorder.write_catalog()
    counts = [recorder.record(t, now) for t, now in story.steps]
    assert counts == [len(t.calls) for t, _ in story.steps]
    assert recorder.lines_written == 1 + sum(counts) == out.getvalue().count(b"\n")


def test_time_going_backwards_is_refused_and_writes_nothing() -> None:
    world = default_world(providers=1)
    story = job_life(world)
    out = io.BytesIO()
    recorder = TraceRecorder(world, TraceWriter(out))
    (t1, _), (t2, _) = story.steps[1], story.steps[2]
    recorder.record(t1, 5_000)
    before = out.getvalue()
    with pytest.raises(ValueError, match="time must not decrease: got 4999 ms after 5000 ms"):
        recorder.record(t2, 4_999)
    assert out.getvalue() == before
    assert recorder.record(t2, 5_000) == 1  # equal times are fine


def test_an_unknown_call_is_refused() -> None:
    world = default_world(providers=1)
    state = ProtocolModel(world).init_state()
    recorder = TraceRecorder(world, TraceWriter(io.BytesIO()))
    with pytest.raises(ValueError, match=r"'jobs\.bogus' has no trace form"):
        recorder.record(Transition(state, (Call("ucloud", "jobs.bogus", 1, 200),), ()), 0)


def test_close_closes_only_what_the_recorder_opened(tmp_path: Path) -> None:
    world = default_world(providers=1)
    steps = job_life(world).steps
    writer = TraceWriter(io.BytesIO())
    with TraceRecorder(world, writer) as recorder:
        recorder.record(*steps[1])
    writer.write_call(
        seq=99, time=steps[1][1], actor="user:alice", call="jobs.follow", request={"id": "1"}, status=200
    )
    path = tmp_path / "owned.jsonl"
    with TraceRecorder(world, path) as recorder:
        recorder.record(*steps[1])
    assert len(list(read_trace(path))) == 1
    with pytest.raises(ValueError, match="closed"):
        recorder.record(*steps[2])
    with pytest.raises(TypeError, match="TraceWriter or a path"):
        TraceRecorder(world, io.BytesIO())  # type: ignore[arg-type]


def test_forget_drops_what_the_recorder_remembers_about_a_job(tmp_path) -> None:
    from spec import actions as A
    from spec.system import ProtocolModel
    from spec.trace import TraceRecorder
    from spec.world import default_world

    model = ProtocolModel(default_world(providers=1))
    s = model.init_state()
    with TraceRecorder(model.world, tmp_path / "t.jsonl") as recorder:
        t = model.step(s, A.Submit(0))
        recorder.record(t, 0)
        assert 1 in recorder._created
        recorder.forget(1)
        recorder.forget(99)  # unknown ids are fine
        assert recorder._created == {}
