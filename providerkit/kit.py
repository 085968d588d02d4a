"""The provider test kit: Hypothesis plays UCloud/Core against a provider and the spec judges it.

:func:`run_kit` drives a provider through a :class:`~providerkit.adapter.ProviderAdapter` with
schedules that Hypothesis generates and shrinks. Each example is a short story told by Core and the
world around the provider:

* users submit jobs (the world's requests for this provider; Core validates them as
  :mod:`spec.validation` does and calls ``jobs.provider.create`` with the ``Job`` it stored),
  terminate, extend, suspend and unsuspend them (Core forwards each call to the provider);
* the world makes things happen through the provider's test hooks: ``advance`` its clock (queued jobs
  start, allocations run out), ``finish`` a running job with an exit code, ``fail`` its node.

Everything Core sees is written as a trace (DESIGN "The trace format"): the user's calls, Core's
calls on the provider with the provider's answers, and the provider's ``jobs.control.update`` calls,
with ``facts`` where the kit knows why a job ended (it asked for the exit, the node failure or the
cancellation). After each step the trace so far goes through the trace checker
(:func:`spec.conformance.check_trace`) under the chosen :class:`~spec.rules.Config`; so the provider
is judged by the same properties, with the same names, as a recorded trace would be. At the end of
each example the kit waits for the provider to settle and checks the liveness obligation it can
observe: every job whose cancellation the provider accepted is final in Core
(``cancelled-eventually-terminal``).

On a failure Hypothesis shrinks the schedule; the kit prints it as a numbered story and writes the
shrunk example's trace, which ``ucsim check`` refuses for the same reason. It always reports a
coverage table: the state changes the provider was seen to make, and the calls and hooks exercised.

The kit's Core applies each update by the trace checker's rule (:func:`spec.conformance.apply_update`:
``expectedState`` guards and the terminal guard under the judged config), and it submits no request
that binds an exclusive resource (public links and IPs are Core's business, not the provider's).
"""

from __future__ import annotations

import io
import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, rule

from providerkit.adapter import HOOKS, NOT_IMPLEMENTED, Answer, ProviderAdapter
from spec.conformance import TraceChecker, TraceViolation, apply_update
from spec.properties import PROPERTIES_BY_NAME
from spec.rules import DEFAULT, Config
from spec.state import FINAL, IN_QUEUE, JOB_STATES, RUNNING, SUSPENDED, CoreJob, replace
from spec.trace import CallLine, TraceReader
from spec.trace.record import TraceRecorder
from spec.trace.writer import TraceWriter
from spec.validation import NOTHING_BUSY, validate_submission
from spec.world import Template, World

__all__ = ["KitFailure", "KitReport", "KitSettings", "kit_machine", "run_kit"]

EXIT_CODES = (0, 1, 137)
ADVANCE_MS = (60_000, 30 * 60_000, 2 * 3_600_000)
EXTENSION_MS = 30 * 60_000
NEVER_EXERCISED = (
    "wallet locks: the kit locks no wallet (locked-eventually-stopped is not checked)",
    "usage: reports are judged as the trace checker judges them; the kit does not ask for any",
    "suspension of jobs whose product lacks the suspension feature is not tried",
    "requests that bind an exclusive resource (public links, IPs) are not submitted",
)
"""What the kit never does, whatever the provider: listed in every report."""


class KitFailure(AssertionError):
    """The provider broke a property; the message is the report (property, line, story)."""

    def __init__(self, message: str, trace: bytes, prop: str) -> None:
        super().__init__(message)
        self.trace = trace
        self.prop = prop


@dataclass(frozen=True)
class KitSettings:
    """How hard the kit tries. ``settle_s``: how long the provider may stay quiet before the kit
    takes its updates as complete (0 for an in-process provider, which reports synchronously).

    ``tolerance_ms`` is the trace checker's allowance for network reordering. The kit's clock is
    virtual (it moves by ``advance`` and by 1 ms per call Core handles) and the kit receives a
    provider's updates in the order they arrive, so the default is 0: an update that follows a
    final state is the provider's doing. Raise it for a provider that sends updates concurrently.
    """

    examples: int = 100
    steps: int = 25
    settle_s: float = 0.0
    tolerance_ms: int = 0
    shrink: bool = True


@dataclass
class KitReport:
    """What a kit run found. ``failure`` is ``None`` when the provider passed every example."""

    provider: str
    config: str
    examples: int
    steps: int
    failure: str | None = None
    prop: str | None = None
    trace: bytes | None = None
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    missing_hooks: list[str] = field(default_factory=list)
    steps_run: int = 0  # steps taken over all examples (shrinking included)
    accepted: int = 0  # creates the provider accepted
    first_failure: KitFailure | None = field(default=None, repr=False)
    current_story: list[str] = field(default_factory=list, repr=False)
    current_trace: Callable[[], bytes] = field(default=lambda: b"", repr=False)

    def found(self, failure: KitFailure) -> KitFailure:
        """Remember the first failure (reported if Hypothesis cannot replay it) and return it."""
        if self.first_failure is None:
            self.first_failure = failure
        return failure

    @property
    def verdict(self) -> str:
        """``passed``, ``failed``, or ``inconclusive`` when the provider was never really exercised."""
        if self.failure is not None:
            return "failed"
        return "inconclusive" if self.inconclusive() else "passed"

    def inconclusive(self) -> str | None:
        """Why a run without failures proves little, or None: a provider that accepts no job (a wrong
        URL or provider id answering 404, say) can break no property."""
        if self.accepted == 0:
            return "the provider accepted no job: check --provider-url and --provider"
        if not self.transitions:
            return "the provider never reported a state change: were its updates sent to the kit's endpoint?"
        return None

    @property
    def passed(self) -> bool:
        return self.failure is None

    def unexercised(self) -> list[str]:
        """What the kit could not exercise, in words (a missing hook limits the schedules)."""
        what = {
            "reset": "examples are not isolated: each starts with the jobs of the ones before",
            "finish": "no job was made to exit: outcomes of exit codes were not checked",
            "fail": "no node failed: FAILURE outcomes were not checked",
            "advance": "the clock never moved: jobs only reached the states the provider reaches on its own",
        }
        return [f"{h}: {what[h]}" for h in HOOKS if h in self.missing_hooks] + list(NEVER_EXERCISED)

    def coverage_table(self) -> str:
        """The state changes the provider was seen to report, and the calls the kit made."""
        lines = ["state changes reported by the provider:"]
        if not self.transitions:
            lines.append("  (none)")
        lines += [f"  {a:>10} -> {b:<10} {n:>6}" for (a, b), n in sorted(self.transitions.items())]
        lines.append("calls and hooks exercised:")
        lines += [f"  {name:<28} {n:>6}" for name, n in sorted(self.calls.items())]
        return "\n".join(lines)


@dataclass
class _Job:
    """Core's view of one job, plus what the kit knows about why it ended (for ``facts``)."""

    core: CoreJob
    template: Template
    terminated: bool = False
    cause: str | None = None
    exit_code: int | None = None
    reported: str = IN_QUEUE  # the last state the provider reported (coverage)
    running_ms: int = 0  # the clock's advances while Core saw the job RUNNING
    hook_ended: bool = False  # a finish or fail hook ended it (answered 2xx)


class _Core:
    """The kit's Core: answers control calls (any thread) and keeps the trace of one example."""

    def __init__(self, world: World, provider_id: str, cfg: Config, tolerance_ms: int) -> None:
        self.world = world
        self.provider_id = provider_id
        self.cfg = cfg
        self.tolerance_ms = tolerance_ms
        self.known: dict[str, int] = {}  # job id -> example number (guarded by lock)
        self.lock = threading.Lock()
        self.example = 0
        self.next_id = 1

    def answer(self, call: str, request: Any) -> Answer:
        """Core's answer to a provider's control call: 404 for a job that is not the provider's
        (core2 ResourceValidateProviderBatch), else 200 (Core answers 200 even to a dropped update)."""
        items = request.get("items") if isinstance(request, dict) else None
        if not isinstance(items, list):
            return Answer(400, None, 'the request must be a BulkRequest: {"items": [...]}')
        with self.lock:
            for item in items:
                jid = item.get("id") if isinstance(item, dict) else None
                if call == "accounting.reportUsage" and isinstance(item, dict):
                    description = item.get("description")
                    scope = description.get("scope") if isinstance(description, dict) else None
                    jid = scope.removeprefix("job-") if isinstance(scope, str) else None
                if not isinstance(jid, str) or jid not in self.known:
                    return Answer(404, None, f"not found or permission denied ({jid})")
        if call == "accounting.reportUsage":
            return Answer(200, {"responses": [True for _ in items]})
        return Answer(200, None)


def kit_machine(
    adapter: ProviderAdapter,
    world: World,
    config: Config = DEFAULT,
    kit: KitSettings | None = None,
    report: KitReport | None = None,
) -> type[RuleBasedStateMachine]:
    """The state machine class that drives ``adapter``; run it with its ``.TestCase``.

    ``report`` (optional) accumulates coverage and hook support across examples.
    """
    kit = kit or KitSettings()
    pid = adapter.provider_id
    if pid not in world.providers:
        raise ValueError(f"provider {pid!r} is not in the world; known: {', '.join(world.providers)}")
    core = _Core(world, pid, config, kit.tolerance_ms)
    adapter.attach(core.answer)
    # The requests users may send: this provider's, binding no exclusive resource (see module doc).
    templates = [t for t in world.templates if t.provider == pid and not t.exclusive]
    if not templates:
        raise ValueError(f"the world has no request for provider {pid!r} that the kit can submit")
    rep = report if report is not None else KitReport(pid, config.describe(), kit.examples, kit.steps)
    missing: set[str] = set(rep.missing_hooks)
    catalog: list[Any] = []  # the catalog line, parsed once (by the first example)

    class ProviderMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            core.example += 1
            self.jobs: dict[int, _Job] = {}
            self.clock = 0
            self.story: list[str] = []
            rep.current_story = self.story
            rep.current_trace = self._trace_so_far
            self.buffer = io.BytesIO()
            self.writer = TraceWriter(self.buffer)
            self.recorder = TraceRecorder(world, self.writer)
            self.recorder.write_catalog()
            self.writer.flush()
            self.written = self.buffer.tell()  # bytes of the trace already fed to the checker
            if not catalog:
                catalog.append(TraceReader(io.BytesIO(self.buffer.getvalue())).catalog)
            self.checker = TraceChecker(catalog[0], config, kit.tolerance_ms)
            self.seq = 0
            self.failed = False
            if "reset" not in missing:
                self._hook("reset", {})
            adapter.control_calls(kit.settle_s)  # drop what an earlier example left behind

        # -- the trace -----------------------------------------------------------------------------
        def _line(self, actor: str, call: str, request: Any, answer: Answer, **extra: Any) -> None:
            self.seq += 1
            self.clock += 1  # Core handles one call at a time: each line is 1 ms after the one before
            self.writer.write_call(
                seq=self.seq,
                time=self.clock,
                actor=actor,
                call=call,
                request=request,
                status=answer.status,
                body=answer.body if answer.ok else None,
                why=answer.why if not answer.ok else None,
                **extra,
            )

        def _provider_call(self, call: str, job: _Job, request: Any) -> Answer:
            answer = adapter.call(call, request)
            rep.calls[call] += 1
            self._line("ucloud", call, request, answer, provider=pid)
            self._collect()
            return answer

        def _hook(self, name: str, body: dict[str, Any]) -> Answer | None:
            answer = adapter.hook(name, body)
            if answer.status in NOT_IMPLEMENTED:
                missing.add(name)
                if name not in rep.missing_hooks:
                    rep.missing_hooks.append(name)
                return None
            rep.calls[f"test/{name}"] += 1
            return answer

        def _collect(self, settle_s: float | None = None) -> int:
            """Write the provider's control calls received so far and apply them in Core; return how
            many there were."""
            calls = adapter.control_calls(kit.settle_s if settle_s is None else settle_s)
            for c in calls:
                items = c.request.get("items") if isinstance(c.request, dict) else None
                ids = [_id_of(i) for i in items if isinstance(i, dict)] if isinstance(items, list) else []
                mine = [j for j in ids if j is not None and int(j) in self.jobs]
                with core.lock:
                    earlier = [j for j in ids if j in core.known and core.known[j] != core.example]
                if earlier and not mine:
                    continue  # a late update about a job of an earlier example (no reset hook)
                facts = {}
                for j in mine:
                    job = self.jobs[int(j)]
                    if job.cause is not None:
                        facts[j] = {"cause": job.cause}
                        if job.exit_code is not None:
                            facts[j]["exitCode"] = job.exit_code
                self._line(f"provider:{pid}", c.call, c.request, c.answer, facts=facts or None)
                if c.call == "jobs.control.update" and c.answer.ok:
                    for item in items or []:
                        self._apply(item)
            return len(calls)

        def _apply(self, item: Any) -> None:
            jid = _id_of(item)
            job = self.jobs.get(int(jid)) if jid is not None else None
            update = item.get("update") if isinstance(item, dict) else None
            if job is None or not isinstance(update, dict):
                return
            state = update.get("state")
            if isinstance(state, str):
                rep.transitions[(job.reported, state)] += 1
                job.reported = state
            if job.core.state in FINAL and not config.final_to_final:
                return  # the terminal guard: a final job receives no more updates
            changes: dict[str, Any] = {}
            if isinstance(state, str) and state in JOB_STATES:
                # Core's rule for one update, as the trace checker applies it (guards, terminal guard)
                changes["state"] = apply_update(job.core.state, update, state, config)
            alloc = update.get("newTimeAllocation")
            if isinstance(alloc, int) and not isinstance(alloc, bool):
                changes["alloc_ms"] = alloc
            if changes:
                job.core = replace(job.core, **changes)

        def _trace_so_far(self) -> bytes:
            self.writer.flush()
            return self.buffer.getvalue()

        def _judge(self) -> None:
            """Feed the lines written since the last time to the trace checker; raise
            :class:`KitFailure` on the first violation."""
            self.writer.flush()
            data = self.buffer.getvalue()
            fresh = data[self.written :]
            if not fresh:
                return
            self.written = len(data)
            for raw in fresh.splitlines():
                line = CallLine.from_json(orjson.loads(raw))
                self.checker.feed(line.seq + 1, line)  # line 1 is the catalog; seq counts from 1
            if self.checker.violations:
                raise rep.found(
                    KitFailure(
                        _explain(self.checker.violations[0], self.story),
                        data,
                        self.checker.violations[0].prop.name,
                    )
                )

        # -- the one rule: draw the kind of step, then its arguments --------------------------------
        @rule(data=st.data())
        def step(self, data: st.DataObject) -> None:
            live = [j for j in self.jobs.values() if j.core.state not in FINAL]
            kinds: dict[str, list[Any]] = {"submit": templates}
            kinds["terminate"] = [j for j in live if not j.terminated]
            kinds["extend"] = [
                j for j in live if j.core.alloc_ms is not None and "extension" in j.template.features
            ]
            kinds["suspend"] = [
                j for j in live if j.core.state == RUNNING and "suspension" in j.template.features
            ]
            kinds["unsuspend"] = [j for j in live if j.core.state == SUSPENDED]
            if "finish" not in missing:
                kinds["finish"] = [j for j in live if j.core.state == RUNNING]
            if "fail" not in missing:
                kinds["fail"] = [j for j in live if j.core.state == RUNNING]
            if "advance" not in missing:
                kinds["advance"] = list(ADVANCE_MS)
            choices = sorted(k for k, v in kinds.items() if v)
            kind = data.draw(st.sampled_from(choices), label="kind")
            arg = data.draw(st.sampled_from(kinds[kind]), label=kind)
            self.failed = True  # until the step has passed its checks
            rep.steps_run += 1
            getattr(self, f"_do_{kind}")(arg, data)
            self._judge()
            self.failed = False

        def _do_submit(self, t: Template, data: st.DataObject) -> None:
            jid = core.next_id
            core.next_id += 1
            self.story.append(f"{t.user} submits {t.name!r} (job {jid})")
            request = self.recorder.create_request(t.index)
            refusal = validate_submission(t.request, t.user, t.project, world.catalog, NOTHING_BUSY, config)
            actor = f"user:{t.user}"
            if refusal is not None:
                self._line(actor, "jobs.create", request, Answer(refusal.status, None, refusal.why))
                return
            job = _Job(
                CoreJob(
                    id=jid,
                    template=t.index,
                    provider=pid,
                    owner=t.owner,
                    alloc_ms=t.alloc_ms,
                    requested_ms=t.alloc_ms,
                    confirmed=True,
                ),
                t,
            )
            with core.lock:
                core.known[str(jid)] = core.example
            payload = {"items": [self.recorder.job_json(job.core, self.clock)]}
            answer = adapter.call("jobs.provider.create", payload)
            rep.calls["jobs.provider.create"] += 1
            # Core answers the user with the provider's verdict (core2 jobCreateThroughProvider). Lines
            # in the order of spec.trace.record (the answer to jobs.create is known only once the
            # provider has answered), which is the order the trace checker replays.
            user_answer = Answer(200, {"responses": [{"id": str(jid)}]}) if answer.ok else answer
            self._line("ucloud", "jobs.provider.create", payload, answer, provider=pid)
            self._line(actor, "jobs.create", request, user_answer)
            if answer.ok:
                self.jobs[jid] = job
                rep.accepted += 1
            else:
                self.story.append(f"  the provider refused it: {answer.status} {answer.why or ''}".rstrip())
                with core.lock:
                    core.known.pop(str(jid), None)
            self._collect()

        def _user_call(self, job: _Job, call: str, item: dict[str, Any]) -> None:
            self._line(f"user:{job.template.user}", call, {"items": [item]}, Answer(200, {"responses": [{}]}))

        def _do_terminate(self, job: _Job, data: st.DataObject) -> None:
            self.story.append(f"{job.template.user} terminates job {job.core.id}")
            self._user_call(job, "jobs.terminate", {"id": str(job.core.id)})
            request = {"items": [self.recorder.job_json(job.core, self.clock)]}
            ended_before = job.reported in FINAL
            answer = self._provider_call("jobs.provider.terminate", job, request)
            if answer.ok:
                job.terminated = True
                if job.cause is None and not ended_before:
                    job.cause = "user-cancel"

        def _do_extend(self, job: _Job, data: st.DataObject) -> None:
            self.story.append(
                f"{job.template.user} extends job {job.core.id} by {EXTENSION_MS // 60_000} min"
            )
            duration = {"hours": 0, "minutes": EXTENSION_MS // 60_000, "seconds": 0}
            self._user_call(job, "jobs.extend", {"jobId": str(job.core.id), "requestedTime": duration})
            item = {"job": self.recorder.job_json(job.core, self.clock), "requestedTime": duration}
            self._provider_call("jobs.provider.extend", job, {"items": [item]})

        def _do_suspend(self, job: _Job, data: st.DataObject, call: str = "suspend") -> None:
            self.story.append(f"{job.template.user} {call}s job {job.core.id}")
            self._user_call(job, f"jobs.{call}", {"id": str(job.core.id)})
            item = {"job": self.recorder.job_json(job.core, self.clock)}
            self._provider_call(f"jobs.provider.{call}", job, {"items": [item]})

        def _do_unsuspend(self, job: _Job, data: st.DataObject) -> None:
            self._do_suspend(job, data, "unsuspend")

        def _do_finish(self, job: _Job, data: st.DataObject) -> None:
            code = data.draw(st.sampled_from(EXIT_CODES), label="exit code")
            self.story.append(f"job {job.core.id}'s application exits with code {code}  [test/finish]")
            answer = self._hook("finish", {"id": str(job.core.id), "exitCode": code})
            if answer is not None and answer.ok:
                # 2xx: the job was still running, so this exit ends it, whatever was asked before (a
                # provider may end a cancelled job a little later)
                job.cause, job.exit_code, job.hook_ended = "exit", code, True
            self._collect()

        def _do_fail(self, job: _Job, data: st.DataObject) -> None:
            self.story.append(f"a node under job {job.core.id} fails  [test/fail]")
            answer = self._hook("fail", {"id": str(job.core.id)})
            if answer is not None and answer.ok:
                job.cause, job.exit_code, job.hook_ended = "node-failure", None, True
            self._collect()

        def _do_advance(self, ms: int, data: st.DataObject) -> None:
            self.story.append(f"the provider's clock advances {ms // 60_000} min  [test/advance]")
            for j in self.jobs.values():
                if j.core.state == RUNNING:
                    j.running_ms += ms
            self.clock += ms
            self._hook("advance", {"ms": ms})
            self._collect()

        def teardown(self) -> None:
            # Hypothesis calls teardown after a step raised too: judging the end of the example then
            # would replace the real failure with a second, unrelated one.
            if self.failed:
                return
            self._collect()
            # Give a slow provider a few more chances to report what it owes.
            for _ in range(5):
                owed = any(
                    (j.terminated or j.hook_ended) and j.core.state not in FINAL for j in self.jobs.values()
                )
                if not owed or kit.settle_s == 0 or self._collect(kit.settle_s * 4) == 0:
                    break
            self._judge()
            for j in self.jobs.values():
                if j.terminated and j.core.state not in FINAL:
                    self._unfulfilled(
                        "cancelled-eventually-terminal",
                        f"job {j.core.id} was terminated (the provider answered 200) but is still "
                        f"{j.core.state} in Core",
                    )
                elif j.hook_ended and j.core.state not in FINAL:
                    self._unfulfilled(
                        "ended-eventually-reported",
                        f"job {j.core.id} ended ({j.cause}: the provider answered 200 to the hook) but is "
                        f"still {j.core.state} in Core",
                    )
                alloc = j.core.alloc_ms
                if j.core.state == RUNNING and alloc is not None and j.running_ms >= alloc + kit.tolerance_ms:
                    self._unfulfilled(
                        "expiry-eventually-final",
                        f"job {j.core.id} has run {j.running_ms} ms of its {alloc} ms allocation and is "
                        "still RUNNING in Core",
                    )

        def _unfulfilled(self, name: str, what: str) -> None:
            prop = PROPERTIES_BY_NAME[name]
            raise rep.found(
                KitFailure(
                    f"property {name!r} violated at the end of the example: {what}\n"
                    f"  meaning: {prop.meaning}\n  source:  {prop.source}\nschedule:\n{_story(self.story)}",
                    self.buffer.getvalue(),
                    name,
                )
            )

    ProviderMachine.__name__ = ProviderMachine.__qualname__ = f"ProviderMachine[{pid}]"
    return ProviderMachine


def run_kit(
    adapter: ProviderAdapter,
    world: World,
    config: Config = DEFAULT,
    kit: KitSettings | None = None,
    trace_out: str | os.PathLike[str] | None = None,
) -> KitReport:
    """Run the kit against ``adapter``; return the report (never raises for a provider's fault).

    On a failure, the shrunk example's trace is written to ``trace_out`` (if given) and kept in
    ``report.trace``; ``ucsim check`` refuses it for the reason ``report.failure`` gives.
    """
    kit = kit or KitSettings()
    report = KitReport(adapter.provider_id, config.describe(), kit.examples, kit.steps)
    machine = kit_machine(adapter, world, config, kit, report)
    # Phase.explain (which reruns the failure many times to annotate it) is left out: the kit
    # explains a failure itself, and explain took most of the time of a failing run.
    phases = (
        (Phase.explicit, Phase.generate, Phase.shrink) if kit.shrink else (Phase.explicit, Phase.generate)
    )
    machine.TestCase.settings = settings(
        max_examples=kit.examples,
        stateful_step_count=kit.steps,
        phases=phases,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    failure: KitFailure | None = None
    try:
        machine.TestCase().runTest()
    except KitFailure as found:
        failure = found
    except Flaky:
        # The provider did not behave the same way twice on the same schedule (normal over a network),
        # so Hypothesis could not replay, let alone shrink, what it found: report the first failure.
        failure = report.first_failure
        if failure is None:
            raise
        failure = KitFailure(
            f"{failure}\n(not shrunk: the provider behaved differently when the same schedule was replayed)",
            failure.trace,
            failure.prop,
        )
    except ConnectionError as lost:  # the provider stopped answering (e.g. a call timed out)
        failure = KitFailure(
            f"the provider stopped answering during an example: {lost}\nschedule so far:\n"
            f"{_story(report.current_story)}",
            report.current_trace(),
            "provider-answers",
        )
    if failure is not None:
        report.failure = str(failure)
        report.prop = failure.prop
        report.trace = failure.trace
        if trace_out is not None:
            with open(trace_out, "wb") as f:
                f.write(failure.trace)
    return report


# -- helpers ---------------------------------------------------------------------------------------


def _id_of(item: Any) -> str | None:
    """The job id of an update item if it is one of UCloud's (a decimal string), else None."""
    jid = item.get("id") if isinstance(item, dict) else None
    return jid if type(jid) is str and jid.isdecimal() and jid.isascii() else None


def _story(story: list[str]) -> str:
    return "\n".join(f"  {i:>3}. {s}" for i, s in enumerate(story, 1))


def _explain(v: TraceViolation, story: list[str]) -> str:
    history = "\n".join(f"      {h}" for h in v.history)
    return (
        f"property {v.prop.name!r} violated at trace line {v.line} (job {v.job}): {v.reason}\n"
        f"  meaning: {v.prop.meaning}\n  source:  {v.prop.source}\n  rule:    {v.rule}\n"
        f"  the job's history:\n{history}\nschedule:\n{_story(story)}"
    )
