"""The SimPy engine: time, hardware, queues, network and faults driving the specification at scale.

The simulator decides **when** things happen; the specification decides **what** is allowed and what
follows. Every change of protocol state is one ``ProtocolModel.step(state, action, now=ms)`` on a
small projection of the live tables (:mod:`simulator.protocol`), and every property is checked on
every step (``spec.properties.check_step``) unless switched off::

    from simulator.engine import Engine
    from simulator.scenario import load_default_scenario

    engine = Engine(load_default_scenario())
    result = engine.run()
    result.write(out_dir="out")            # jobs.csv, metrics.json, plots

What happens to a job
---------------------
1. **Arrival** (:mod:`simulator.workload`): the user calls ``jobs.create`` -> ``Submit``. Core refuses
   (counted by reason) or stores the job and sends ``jobs.provider.create``.
2. **Network** (:mod:`simulator.network`): the create travels to the provider (``Deliver``) or is lost;
   Core gives up after ``network.timeout_s`` (``Lose``: 504, the job is deleted, as core2 does). The
   provider's answer travels back the same way. Updates and usage reports from the provider are
   retried after ``update_retry_s`` when an attempt is lost, up to ``max_update_retries`` (then
   ``Lose``), and sometimes arrive twice (``Duplicate`` then two ``Deliver``).
3. **Provider**: an accepted job waits in the provider's scheduling policy
   (:mod:`simulator.policies`); after the events of each instant (completions first, then arrivals,
   then everything else) one scheduling pass per provider places jobs on its cluster
   (:mod:`simulator.cluster`). After ``start_delay_s``: ``Start``. The workload runs its true run time
   (``Exit`` with its exit code) unless its time allocation runs out first (``AllocationElapsed``:
   EXPIRED), its node fails (``NodeFail``), its user cancels it (``Terminate``) or its wallet is
   locked (``EnforceLock``). Running time is credited to the spec (``Tick(job, ms)``) just before
   every step that reads it. While it runs, its user may follow its logs (``Follow``), open an
   interactive session (``OpenSession``), and suspend a virtual machine (``Suspend``: the workload
   stops running but keeps its place; ``Unsuspend`` once Core shows it SUSPENDED), each counted by
   Core's answer in ``metrics.json`` (``user_actions``).
4. **Reports**: the provider looks at its jobs every ``monitor_interval_s`` and reports each job
   whose state changed (``Report`` -> ``jobs.control.update``), and reports absolute usage every
   ``usage_report_interval_s`` while a job runs (``ReportUsage``). When a wallet's usage reaches
   what it may spend, accounting locks it (``LockWallet``) and the provider stops its jobs.
5. **Faults** (:func:`simulator.workload.fault_events`): a provider crash (``Crash``: no reports, no
   scheduling, creates answered 502; workloads keep running; ``Restart`` after the delay, then what
   happened meanwhile is reported; with ``faults.vanish`` a workload that ends meanwhile may vanish
   instead of exiting, ``Vanish``, and the unknown-state rule of reference §7.2 decides what the
   restarted provider reports), a node failure (``NodeFail`` for every job on the node; capacity
   back after the repair), a Core restart (``CoreRestart``: unconfirmed jobs are lost; Core answers
   nothing while it is down, so providers retry and users wait).

A job leaves the live tables when Core's copy is final (or gone), its provider's workload has ended
and been reported, nothing about it is in flight and nothing is bound to it; its ``jobs.csv`` row is
written then. Memory therefore follows the number of *live* jobs, not the length of the run.

A job whose final update was lost for good (a partition that outlasts the provider's retries) never
leaves: Core holds it RUNNING for ever, since nothing in current UCloud resynchronises the two
(reference §7.3: no ``verify`` call). Such jobs are not hidden: ``metrics.json`` counts them in
``stuck_in_core`` (Core non-final, the workload ended and reported as final, nothing in flight).

Why callbacks, not a process per job
------------------------------------
SimPy's environment is the clock and the event queue. Per-job activity is scheduled as plain events
with a callback (:class:`_Timer`), not as one generator process per job: a million processes each
waiting on timeouts would cost several events and a generator frame per wait. Ordering within an
instant uses SimPy's event priorities (the ``P_*`` constants), so that completions come before
arrivals and one scheduling pass comes after both.

The run loop (:meth:`Engine._loop`) is ``Environment.step`` specialised for these timers: it pops
the environment's own heap (entries ``(time, priority, event id, event)``, pushed exactly as
``Environment.schedule`` pushes them, so the order of events is SimPy's), sets the clock and calls
the timer's function directly, without the generic callback machinery, the ``peek``/``step`` calls
and the bound-method hops per event. Any other SimPy event found on the heap (a process a test adds
to ``engine.env``, say) is handed back to ``Environment.step``, so the environment stays usable.
"""

from __future__ import annotations

import hashlib
import math
import os
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from heapq import heappop, heappush
from pathlib import Path
from typing import TYPE_CHECKING, Any

import simpy
from simpy.events import Event

from simulator.cluster import Cluster, Slice
from simulator.metrics import Coverage, RunMetrics
from simulator.network import TO_CORE, TO_PROVIDER, Link, Network
from simulator.outputs import JOBS_CSV_HEADER, SortedRows, ms_cell, write_json
from simulator.policies import QueuedJob, SchedulingPolicy, make_policy
from simulator.protocol import LiveJob, Tables
from simulator.rng import Streams
from simulator.workload import Arrival, FaultEvent, Workload, fault_events
from spec import actions as A
from spec.properties import LIVENESS, PROPERTIES, Property, StepChecker, Violation
from spec.state import (
    ACTIVE,
    CAUSE_EXIT,
    CREATE,
    CREATE_REPLY,
    ENDED,
    FINAL,
    PAUSED,
    QUEUED,
    RUNNING,
    SUSPENDED,
    UPDATE,
    USAGE,
    Msg,
)
from spec.system import ProtocolModel, Transition, implied_state

if TYPE_CHECKING:
    from simulator.scenario import Scenario
    from spec.rules import Config
    from spec.state import SystemState

__all__ = ["Engine", "FailFast", "RunResult", "StepHook"]

# Priorities of events at the same instant (lower first): see "What happens to a job".
P_END = 0  # workloads end, releasing capacity
P_FAULT = 1  # crashes, restarts, node failures and repairs
P_ARRIVAL = 2  # users submit
P_NET = 3  # deliveries, losses, retries
P_USER = 4  # cancellations, extensions
P_MONITOR = 5  # the providers' monitoring passes and usage reports
P_PASS = 6  # one scheduling pass per provider
P_START = 7  # placed jobs start (after the pass that placed them)
P_BACKGROUND = 8  # sampling for the plots

MAX_DETAILED_VIOLATIONS = 50
"""Violations reported with their story; beyond that they are only counted."""

USER_RETRY_MS = 60_000
"""A user whose call Core could not forward (its provider is down) tries again after this long."""

StepHook = Callable[[A.Action, int, "SystemState", Transition], None]
"""``on_step(action, now_ms, old_projection, transition)``: sees every step (for tests)."""


class FailFast(Exception):
    """Raised inside the run to stop at the first violation (``fail_fast=True``)."""


class _Timer(Event):
    """An already-triggered SimPy event that calls ``fn(*args)`` when the clock reaches it.

    ``work`` says whether it is part of the simulated work (arrivals, jobs, network, repairs) or
    background (the next fault, the next sample): the run ends when no work is left.
    """

    def __init__(self, env: simpy.Environment, callback: Any, fn: Any, args: tuple[Any, ...], work: bool):
        self.env = env
        self.callbacks = [callback]
        self._value = None
        self._ok = True
        self.fn = fn
        self.args = args
        self.work = work


@dataclass(eq=False)
class _ProviderSim:
    """One provider's machinery: its cluster and queue, and what its process is about to do."""

    name: str
    cluster: Cluster
    policy: SchedulingPolicy
    monitor_ms: int
    usage_ms: int
    retry_ms: int
    max_retries: int
    start_delay: Callable[[float], float]
    rng: Any
    index: int
    to_provider: Link  # the network link from Core to this provider
    to_core: Link  # and back
    jobs: dict[int, LiveJob] = field(default_factory=dict)  # live jobs with a provider job here
    dirty: dict[int, LiveJob] = field(default_factory=dict)  # to look at on the next monitoring pass
    monitor_at: int = -1
    pass_pending: bool = False
    overdue: list[int] = field(default_factory=list)  # allocations that ran out while it was down
    deferred_starts: list[int] = field(default_factory=list)
    vanish_p: float = 0.0  # a workload that ends while the provider is down vanishes with this probability
    vanish_rng: Any = None
    restart_at: int = -1  # when the provider comes back from its current crash (ms)


@dataclass
class RunResult:
    """What a run produced: the metrics, the violations, and where the outputs are."""

    metrics: dict[str, Any]
    violations: list[dict[str, Any]]
    violation_count: int
    stopped: str  # "drained", "until", "last-arrival" or "fail-fast"
    wall_s: float
    rows: SortedRows
    series: list[tuple[float, tuple[int, ...], tuple[int, ...]]]
    providers: tuple[str, ...]
    waits: Any
    cores: dict[str, int] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)

    def write(self, out_dir: str | os.PathLike[str], plots: bool = True) -> list[Path]:
        """Write ``jobs.csv``, ``metrics.json`` and (with ``plots``) the PNG plots into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "jobs.csv", "w", encoding="utf-8", newline="") as f:
            self.rows.write(f, JOBS_CSV_HEADER)
        write_json(out / "metrics.json", self.metrics)
        written = [out / "jobs.csv", out / "metrics.json"]
        if plots:
            from simulator.plots import write_plots

            written += write_plots(out, self.providers, self.series, self.waits, self.cores)
        self.written = written
        return written


def scenario_hash(scenario: Scenario) -> str:
    """sha256 of the scenario's canonical JSON (after overrides): two runs with equal hashes ran the
    same scenario."""
    return hashlib.sha256(scenario.model_dump_json(by_alias=True).encode()).hexdigest()


class Engine:
    """One simulation of a scenario. Build it, :meth:`run` it once, then write the result.

    * ``config``: the protocol's rules and mutant (default: the scenario's);
    * ``check``: check every property on every step, and the liveness obligations at the end;
    * ``fail_fast``: stop at the first violation;
    * ``trace``: a path for ``trace.jsonl`` (gzip if it ends in ``.gz``), facts on every update;
    * ``on_step``: a hook that sees every step (the differential test uses it).
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        config: Config | None = None,
        check: bool = True,
        fail_fast: bool = False,
        trace: str | os.PathLike[str] | None = None,
        on_step: StepHook | None = None,
        properties: tuple[Property, ...] = PROPERTIES,
    ) -> None:
        self.scenario = scenario
        self.cfg = config if config is not None else scenario.config()
        self.world = scenario.world()
        self.model = ProtocolModel(self.world, self.cfg)
        self._mstep = self.model.step
        self.tables = Tables(self.world.providers)
        self.env = simpy.Environment()
        self.streams = Streams(scenario.seed)
        self.net = Network(scenario, self.streams)
        self.check = check
        self.fail_fast = fail_fast
        self.on_step = on_step
        self._props = tuple(p for p in properties if p.kind != "liveness")
        # (is an invariant, property, its predicate): check_step's loop, unrolled once (see _check)
        self._checker = StepChecker(self._props)
        self.coverage = Coverage(self.world) if check else None
        self._count = self.coverage.count if self.coverage is not None else None
        self._fire_cb = self._fire
        self._work = 0
        self._recoveries = 0

        self.providers: dict[str, _ProviderSim] = {}
        vanish = scenario.faults.vanish
        for i, p in enumerate(scenario.providers):
            b = p.behaviour
            vanishes = vanish.probability > 0 and (not vanish.providers or p.name in vanish.providers)
            self.providers[p.name] = _ProviderSim(
                name=p.name,
                cluster=p.build_cluster(),
                policy=make_policy(p.scheduling.policy, **p.scheduling.params),
                monitor_ms=max(1, round(b.monitor_interval_s * 1000)),
                usage_ms=max(1, round(b.usage_report_interval_s * 1000)),
                retry_ms=max(1, round(b.update_retry_s * 1000)),
                max_retries=b.max_update_retries,
                start_delay=b.start_delay_s.quantile,
                rng=self.streams[f"providers:{p.name}:start-delay"],
                index=i,
                to_provider=self.net.link(p.name, TO_PROVIDER),
                to_core=self.net.link(p.name, TO_CORE),
                vanish_p=vanish.probability if vanishes else 0.0,
                vanish_rng=self.streams[f"faults:vanish:{p.name}"] if vanishes else None,
            )
        self._slices: list[Slice | None] = []
        for t in self.world.templates:
            ref = t.request.product
            product = next(
                (x for x in scenario.products if x.name == ref.id and x.provider == ref.provider), None
            )
            self._slices.append(product.slice() if product is not None else None)
        # wallets: (owner, category, provider) -> what it may spend, and what its jobs used so far
        self._wallet_limit = {k: w.max_usable for k, w in self.world.catalog.wallets.items()}
        self._wallet_used: dict[tuple[str, str, str], int] = dict.fromkeys(self._wallet_limit, 0)

        self.workload = Workload(scenario)
        self._arrivals = iter(self.workload)
        self._arrivals_done = False
        self._faults = fault_events(scenario)
        self.core_down = False
        self._deferred: list[tuple[Any, tuple[Any, ...]]] = []  # user calls waiting for Core to return

        total_cores = {name: ps.cluster.total_cores for name, ps in self.providers.items()}
        rate = self.workload.rate_per_s or 1.0
        expected_span_s = (self.workload.jobs or 1000) / rate
        if self.workload.until_s is not None:
            expected_span_s = min(expected_span_s, self.workload.until_s)
        self.metrics = RunMetrics(total_cores, sample_ms=max(60_000, round(expected_span_s * 1000 / 2000)))
        self.rows = SortedRows()
        self.violations: list[dict[str, Any]] = []
        self.violation_count = 0
        self.violations_by_property: dict[str, int] = {}
        self.expect_mismatches = 0
        self.liveness_not_judged = 0
        self.recorder: Any = None
        self._trace_path = trace
        self._ran = False

    # ================================================================================ the event queue
    def _at(self, delay: int, prio: int, fn: Any, *args: Any) -> None:
        """Call ``fn(*args)`` after ``delay`` ms, at priority ``prio`` (part of the work).

        This is ``env.schedule(timer, prio, delay)`` written out: the same heap entry, one call less
        on the path every event of the run takes."""
        self._work += 1
        env = self.env
        heappush(
            env._queue, (env._now + delay, prio, next(env._eid), _Timer(env, self._fire_cb, fn, args, True))
        )

    def _background(self, delay: int, fn: Any, *args: Any) -> None:
        self.env.schedule(_Timer(self.env, self._fire_cb, fn, args, False), P_BACKGROUND, delay)

    def _recovery(self, delay: int, fn: Any, *args: Any) -> None:
        """Schedule the end of an outage (a provider restart, a node repair, Core back up). It keeps
        the run going only while something may wait for it (live jobs, deferred calls): faults keep
        coming for ever, so counting recoveries as work would keep an idle run from ever ending."""
        self._recoveries += 1
        self.env.schedule(_Timer(self.env, self._fire_cb, self._recovered, (fn, args), False), P_FAULT, delay)

    def _recovered(self, fn: Any, args: tuple[Any, ...]) -> None:
        self._recoveries -= 1
        fn(*args)

    def _busy(self) -> bool:
        """Whether the run has anything left to do (see :meth:`_recovery`)."""
        return self._work > 0 or (self._recoveries > 0 and bool(self.tables.jobs or self._deferred))

    def _fire(self, ev: _Timer) -> None:
        if ev.work:
            self._work -= 1
        ev.fn(*ev.args)

    @property
    def now(self) -> int:
        return self.env.now  # type: ignore[return-value]

    # ================================================================================ stepping the spec
    def _step(self, job: LiveJob | None, action: A.Action, old: SystemState) -> Transition:
        """One spec step on a projection: count it, keep it in the job's story, record it in the
        trace, show it to ``on_step``, count the properties' preconditions and check them."""
        now = self.env._now
        t = self._mstep(old, action, now)
        self.metrics.steps += 1
        if job is not None:
            job.history.append((now, action, t.calls))
        self._observe(job, action, old, t, now)
        return t

    def _observe(
        self, job: LiveJob | None, action: A.Action, old: SystemState, t: Transition, now: int
    ) -> None:
        """What every step goes through after the spec: the trace, ``on_step``, the properties."""
        if self.recorder is not None:
            self.recorder.record(t, now)
        if self.on_step is not None:
            self.on_step(action, now, old, t)
        if self.check:
            self._count(old, action, t)  # type: ignore[misc]
            bad = self._checker(self.model, old, action, t)  # _check without the extra call
            if bad:
                self._violated(bad, job, now)

    def _check(self, old: SystemState, action: A.Action, t: Transition) -> list[Violation] | None:
        """Every per-step property on this step (``spec.properties.check_step`` with the table
        resolved once); ``None`` when all hold."""
        return self._checker(self.model, old, action, t) or None

    def _do(self, job: LiveJob, action: A.Action) -> Transition:
        """Step ``action`` about ``job`` on its projection, write back, and send the calls it made.

        The most frequent operation of a run (every step about a job): :meth:`_step` is written out
        here, and the calls to send are found without a set when nothing else was in flight."""
        before = job.flight
        tables = self.tables
        old = tables.project(job)
        now = self.env._now
        t = self._mstep(old, action, now)
        self.metrics.steps += 1
        job.history.append((now, action, t.calls))
        if self.check or self.recorder is not None or self.on_step is not None:
            self._observe(job, action, old, t, now)
        tables.apply(job, old, t)
        flight = job.flight
        if flight is not before and flight:
            if not before:
                for m in flight:
                    self._transmit(job, m)
            else:
                sent = {id(m) for m in before}
                for m in flight:
                    if id(m) not in sent:
                        self._transmit(job, m)
        return t

    def _enabled(self, job: LiveJob, action: A.Action) -> bool:
        """Whether the spec enables ``action`` for ``job`` now (the simulator decides *when*; the
        spec decides *whether*)."""
        return self.model.enabled(self.tables.project(job), action)

    def _global_step(self, action: A.Action) -> Transition:
        old = self.tables.project_global()
        t = self._step(None, action, old)
        self.tables.apply(None, old, t)
        return t

    def _violated(self, bad: list[Violation], job: LiveJob | None, now: int) -> None:
        for v in bad:
            self.violation_count += 1
            name = v.prop.name
            self.violations_by_property[name] = self.violations_by_property.get(name, 0) + 1
            if len(self.violations) < MAX_DETAILED_VIOLATIONS:
                jid = v.job if v.job is not None else (job.id if job is not None else None)
                story_of = self.tables.jobs.get(jid) if jid is not None else None
                if story_of is None:
                    story_of = job
                self.violations.append(
                    {
                        "property": name,
                        "kind": v.prop.kind,
                        "job": jid,
                        "time_s": now / 1000,
                        "reason": v.reason,
                        "meaning": v.prop.meaning,
                        "source": v.prop.source,
                        "trace": _story(story_of) if story_of is not None else [],
                    }
                )
        if self.fail_fast:
            raise FailFast(str(bad[0]))

    # ================================================================================ arrivals and Core
    def _next_arrival(self) -> None:
        a = next(self._arrivals, None)
        if a is None:
            self._arrivals_done = True
            return
        self._at(max(0, round(a.time_s * 1000) - self.env._now), P_ARRIVAL, self._arrive, a)

    def _arrive(self, a: Arrival) -> None:
        self._next_arrival()
        self.metrics.submit(self.env._now)
        self._submit(a, round(a.time_s * 1000))

    def _submit(self, a: Arrival, submit_ms: int) -> None:
        if self.core_down:
            self._deferred.append((self._submit, (a, submit_ms)))
            return
        t = self.world.templates[a.template]
        old = self.tables.project_submit(t)
        tr = self._step(None, A.Submit(a.template), old)
        if tr.calls:  # Core refused: nothing was created
            c = tr.calls[0]
            self.metrics.refuse(c.status, c.why)
            if a.expect is not None and a.expect != c.status:
                self.expect_mismatches += 1
            return
        if a.expect is not None:
            self.expect_mismatches += 1
        job = LiveJob(old.next_id, a, t, submit_ms)
        job.history.append((self.env.now, A.Submit(a.template), tr.calls))
        self.tables.add(job)
        self.tables.apply(job, old, tr)
        for m in job.flight:
            self._transmit(job, m)
        if a.cancel_after_s is not None:
            delay = max(0, submit_ms + round(a.cancel_after_s * 1000) - self.env._now)
            self._at(delay, P_USER, self._user_cancel, job.id, 0)

    def _core_restart(self, ev: FaultEvent) -> None:
        self.metrics.faults["core-restart"] += 1
        old, lost = self.tables.project_core_restart()
        t = self._step(None, A.CoreRestart(), old)
        self.tables.apply(None, old, t)
        for job in lost:
            if job.core is None:
                self.metrics.refuse(None, "lost in a Core restart before it was confirmed")
                self._maybe_leave(job)
        self.core_down = True
        self._recovery(round(ev.duration_s * 1000), self._core_up)

    def _core_up(self) -> None:
        self.core_down = False
        deferred, self._deferred = self._deferred, []
        for fn, args in deferred:
            fn(*args)

    # ================================================================================ the network
    def _transmit(self, job: LiveJob, m: Msg) -> None:
        kind = m.kind
        if kind == CREATE:
            self._send_create(job, m.uid)
        elif kind == CREATE_REPLY:
            self._send_reply(job, m.uid)
        else:
            self._send_to_core(job, m.uid, 0)

    def _send_create(self, job: LiveJob, uid: int) -> None:
        now = self.env._now
        deadline = job.create_deadline = now + self.net.timeout_ms
        at, _ = self.providers[job.template.provider].to_provider.transmit(now)
        if at is None or at > deadline:
            self._at(deadline - now, P_NET, self._lose, job.id, uid)  # Core times out: 504
        else:
            self._at(at - now, P_NET, self._deliver, job.id, uid)

    def _send_reply(self, job: LiveJob, uid: int) -> None:
        now = self.env._now
        deadline = max(job.create_deadline, now)
        at, _ = self.providers[job.template.provider].to_core.transmit(now)
        if at is None or at > deadline:
            self._at(deadline - now, P_NET, self._lose, job.id, uid)
        else:
            self._at(at - now, P_NET, self._deliver_to_core, job.id, uid, -1)

    def _send_to_core(self, job: LiveJob, uid: int, attempt: int) -> None:
        """One attempt to send a provider's call (update or usage) to Core; see the module docstring."""
        ps = self.providers[job.template.provider]
        now = self.env._now
        at, duplicated = ps.to_core.transmit(now)
        if at is None:
            self._attempt_failed(job, uid, attempt)
            return
        self._at(at - now, P_NET, self._deliver_to_core, job.id, uid, attempt)
        if duplicated:
            # Core handles the call but its answer is lost: the provider sends it again after its retry delay.
            self._do(job, A.Duplicate(uid))
            self._at(at + ps.retry_ms - now, P_NET, self._deliver_to_core, job.id, uid, ps.max_retries)

    def _attempt_failed(self, job: LiveJob, uid: int, attempt: int) -> None:
        ps = self.providers[job.template.provider]
        if 0 <= attempt < ps.max_retries:
            self._at(ps.retry_ms, P_NET, self._resend, job.id, uid, attempt + 1)
        else:
            self._lose(job.id, uid)  # the sender gives up (or a create's answer never came back)

    def _resend(self, jid: int, uid: int, attempt: int) -> None:
        job = self.tables.jobs.get(jid)
        if job is not None and _message(job, uid) is not None:
            self._send_to_core(job, uid, attempt)

    def _deliver_to_core(self, jid: int, uid: int, attempt: int) -> None:
        job = self.tables.jobs.get(jid)
        if job is None:
            return
        m = _message(job, uid)
        if m is None:
            return
        if self.core_down:  # nobody answers: the attempt failed
            self._attempt_failed(job, uid, attempt)
            return
        self._deliver_message(job, m)

    def _lose(self, jid: int, uid: int) -> None:
        job = self.tables.jobs.get(jid)
        if job is None or _message(job, uid) is None:
            return
        copies = [m for m in job.flight if m.uid == uid]
        if len(copies) == 1 and copies[0].kind in (UPDATE, USAGE):
            # The last copy of a provider's call is lost for good (a duplicate still on its way
            # would deliver it): liveness is not judged for this job, see _check_liveness.
            job.unfair = True
        t = self._do(job, A.Lose(uid))
        self._count_refusals(job, t)
        self._maybe_leave(job)

    def _deliver(self, jid: int, uid: int) -> None:
        job = self.tables.jobs.get(jid)
        if job is None:
            return
        m = _message(job, uid)
        if m is not None:
            self._deliver_message(job, m)

    def _deliver_message(self, job: LiveJob, m: Msg) -> None:
        """``Deliver`` of ``m``, one of ``job``'s calls in flight, and what the engine does after."""
        jid, uid = job.id, m.uid
        kind = m.kind
        if kind == UPDATE:
            self._credit(job)  # so that the update's facts carry the true running time
        had_pj = job.pj is not None
        old_usage = job.usage
        t = self._do(job, A.Deliver(uid))
        if kind == CREATE:
            self._count_refusals(job, t)
            if job.pj is not None and not had_pj:
                self._provider_accepted(job)
        elif kind == CREATE_REPLY:
            core = job.core
            if core is not None and core.confirmed and not job.accepted:
                job.accepted = True
                self.metrics.accepted += 1
                if job.cancel_pending:
                    self._at(0, P_USER, self._user_cancel, jid, 0)
            else:
                self._count_refusals(job, t)
        elif kind == USAGE:
            self._charged(job, old_usage)
        self._maybe_leave(job)

    def _count_refusals(self, job: LiveJob, t: Transition) -> None:
        for c in t.calls:
            if c.call == "jobs.create" and c.status != 200:
                self.metrics.refuse(c.status, c.why)

    # ================================================================================ accounting
    def _charged(self, job: LiveJob, old_usage: int | None) -> None:
        t = job.template
        key = (t.owner, t.category, t.provider)
        limit = self._wallet_limit.get(key)
        if limit is None:
            return
        used = self._wallet_used[key] + (job.usage or 0) - (old_usage or 0)
        self._wallet_used[key] = used
        if used >= limit and t.owner not in self.tables.locked:
            # Accounting locks the wallet (maxUsable reached 0); the providers stop its jobs.
            self._global_step(A.LockWallet(t.owner))
            for live in list(self.tables.jobs.values()):
                pj = live.pj
                if pj is not None and pj.owner == t.owner and pj.phase in (QUEUED, ACTIVE):
                    self._dirty(live)

    # ================================================================================ providers
    def _provider_accepted(self, job: LiveJob) -> None:
        ps = self.providers[job.template.provider]
        ps.jobs[job.id] = job
        self._enqueue(ps, job)

    def _enqueue(self, ps: _ProviderSim, job: LiveJob) -> None:
        """Put a job in its provider's scheduling queue."""
        sl = self._slices[job.template.index]
        if sl is None or job.template.replicas < 1:
            return  # only a mutant lets such a job through Core; no scheduler could ever place it
        q = QueuedJob(
            job.id,
            job.template.replicas,
            sl,
            self.env._now / 1000,
            job.arrival.estimate_s,
            job.template.owner,
            job.id,
        )
        ps.policy.enqueue(q, self.env._now / 1000)
        self._request_pass(ps)

    def _request_pass(self, ps: _ProviderSim) -> None:
        if not ps.pass_pending:
            ps.pass_pending = True
            self._at(0, P_PASS, self._pass, ps)

    def _pass(self, ps: _ProviderSim) -> None:
        ps.pass_pending = False
        if not self.tables.up[ps.name]:
            return  # the scheduler is part of the provider's process; the restart asks for a pass
        now = self.env._now
        for q in ps.policy.schedule(now / 1000, ps.cluster):
            job = self.tables.jobs[q.id]
            job.placed = True
            job.place_ms = now
            delay = max(0, round(ps.start_delay(ps.rng.random()) * 1000))
            self._at(delay, P_START, self._start, job.id)

    def _start(self, jid: int) -> None:
        job = self.tables.jobs.get(jid)
        if job is None or not job.placed or job.pj is None or job.pj.phase != QUEUED:
            return
        ps = self.providers[job.template.provider]
        if not self.tables.up[ps.name]:
            ps.deferred_starts.append(jid)
            return
        self._do(job, A.Start(jid))
        now = self.env._now
        job.start_ms = job.run_since = now
        self._arm_end(job)
        if self.world.accounting:
            job.ticking = True
            self._at(ps.usage_ms, P_MONITOR, self._usage_tick, jid)
        a = job.arrival
        for at_s, _amount in a.extensions:
            self._at(round(at_s * 1000), P_USER, self._user_extend, jid)
        if a.follow_s is not None:
            self._at(round(a.follow_s * 1000), P_USER, self._user_follow, jid)
        if a.session is not None:
            self._at(round(a.session[0] * 1000), P_USER, self._user_session, jid, a.session[1])
        if a.suspend is not None:
            self._at(round(a.suspend[0] * 1000), P_USER, self._user_suspend, jid, 0)
        self._dirty(job)

    def _arm_end(self, job: LiveJob) -> None:
        """(Re)schedule the end of a running workload: its exit, or its allocation running out."""
        pj = job.pj
        assert pj is not None
        now = self.env._now
        ran = pj.ran_ms + (now - job.run_since if job.run_since >= 0 else 0)
        remaining = round(job.arrival.runtime_s * 1000) - ran
        alloc = None if (job.overdue or job.ignore_alloc) else pj.alloc_ms
        job.timer += 1
        if alloc is not None and alloc - ran < remaining:
            self._at(max(0, alloc - ran), P_END, self._end, job.id, job.timer, False)
        else:
            self._at(max(0, remaining), P_END, self._end, job.id, job.timer, True)

    def _end(self, jid: int, version: int, exits: bool) -> None:
        job = self.tables.jobs.get(jid)
        if job is None or job.timer != version or job.pj is None or job.pj.phase != ACTIVE:
            return
        ps = self.providers[job.template.provider]
        if exits:
            if ps.vanish_p and not self.tables.up[ps.name] and ps.vanish_rng.random() < ps.vanish_p:
                self._vanish(ps, job)
            else:
                self._workload_step(job, A.Exit(jid, job.arrival.exit_code))
            return
        if not self.tables.up[ps.name]:
            # The provider enforces allocations; while it is down the workload runs on.
            job.overdue = True
            ps.overdue.append(jid)
            self._arm_end(job)
            return
        self._workload_step(job, A.AllocationElapsed(jid))
        if job.pj is not None and job.pj.phase == ACTIVE:  # the provider let it run on
            job.ignore_alloc = True
            self._arm_end(job)

    def _vanish(self, ps: _ProviderSim, job: LiveJob) -> None:
        """The workload ended while its provider is down, and its record is gone by the time the
        restarted provider's first monitoring pass looks for it (``Vanish``). Whether the wall clock
        has then passed the job's ``expiresAt`` (latest start + allocation, as the IM computes it) is
        decided here, from the clock: the spec's unknown-state rule does the rest."""
        self.metrics.faults["vanish"] += 1
        pj = job.pj
        assert pj is not None
        first_pass = (ps.restart_at // ps.monitor_ms + 1) * ps.monitor_ms  # as _dirty schedules it
        past = pj.alloc_ms is not None and job.start_ms >= 0 and first_pass > job.start_ms + pj.alloc_ms
        self._workload_step(job, A.Vanish(job.id, past))

    def _credit(self, job: LiveJob) -> None:
        """Credit the running time since the last credit to the spec (``Tick(job, ms)``)."""
        since = job.run_since
        if since >= 0 and job.pj is not None and job.pj.phase == ACTIVE:
            now = self.env._now
            if now > since:
                self._do(job, A.Tick(job.id, now - since))
                job.run_since = now

    def _workload_step(self, job: LiveJob, action: A.Action) -> Transition:
        """A step that may end the workload: credit running time first, release capacity after."""
        self._credit(job)
        t = self._do(job, action)
        self._after_workload_change(job)
        return t

    def _after_workload_change(self, job: LiveJob) -> None:
        pj = job.pj
        if pj is None or pj.phase != ENDED or job.end_ms >= 0:
            return
        job.end_ms = self.env._now
        job.run_since = -1
        job.timer += 1  # cancels the end timer
        ps = self.providers[job.template.provider]
        if job.placed:
            ps.cluster.release(job.id)
            self._released(ps, job)
        else:
            ps.policy.remove(job.id)
        self._dirty(job)

    def _released(self, ps: _ProviderSim, job: LiveJob) -> None:
        sl = self._slices[job.template.index]
        cores = sl.cores * job.template.replicas if sl is not None else 0
        self.metrics.busy_core_ms[ps.name] += cores * (self.env._now - job.place_ms)
        job.placed = False
        ps.policy.job_ended(job.id, self.env._now / 1000)
        self._request_pass(ps)

    # -- monitoring and reports ------------------------------------------------------------------
    def _dirty(self, job: LiveJob) -> None:
        """Have the provider look at ``job`` on its next monitoring pass."""
        ps = self.providers[job.template.provider]
        ps.dirty[job.id] = job
        if ps.monitor_at < 0 and self.tables.up[ps.name]:
            now = self.env._now
            ps.monitor_at = (now // ps.monitor_ms + 1) * ps.monitor_ms
            self._at(ps.monitor_at - now, P_MONITOR, self._monitor, ps)

    def _monitor(self, ps: _ProviderSim) -> None:
        ps.monitor_at = -1
        if not self.tables.up[ps.name]:
            return
        dirty, ps.dirty = ps.dirty, {}
        jobs = self.tables.jobs
        for jid, job in dirty.items():
            if jobs.get(jid) is job and job.pj is not None:
                self._look_at(job)

    def _look_at(self, job: LiveJob) -> None:
        """What the provider's monitoring pass does for one job: stop it if its wallet is locked
        (k8s monitoring.go, lock section), then report its state if it changed (TrackState)."""
        pj = job.pj
        assert pj is not None
        if (
            pj.owner in self.tables.locked
            and pj.phase in (QUEUED, ACTIVE)
            and not self.cfg.m_provider_ignores_lock
        ):
            self._workload_step(job, A.EnforceLock(job.id))
            pj = job.pj
            assert pj is not None
        if implied_state(pj, self.cfg) != pj.reported:
            self._do(job, A.Report(job.id))
            pj = job.pj
            assert pj is not None
            if implied_state(pj, self.cfg) != pj.reported:
                self._dirty(job)  # one more report next time (the legacy CANCELING state)
        self._maybe_leave(job)

    def _usage_tick(self, jid: int) -> None:
        job = self.tables.jobs.get(jid)
        if job is None or job.pj is None or job.pj.phase != ACTIVE:
            if job is not None:
                job.ticking = False  # an unsuspend starts a new chain
            return
        ps = self.providers[job.template.provider]
        if self.tables.up[ps.name]:
            self._credit(job)
            if self._enabled(job, A.ReportUsage(jid)):
                self._do(job, A.ReportUsage(jid))
        self._at(ps.usage_ms, P_MONITOR, self._usage_tick, jid)

    # ================================================================================ users
    def _user_cancel(self, jid: int, tries: int) -> None:
        job = self.tables.jobs.get(jid)
        if job is None or job.core is None:
            return
        core = job.core
        if core.terminate_requested or core.state in FINAL:
            return  # the job is final by then: its user does nothing
        if not core.confirmed:
            job.cancel_pending = True  # the user has no job id yet: cancel once Core confirms
            return
        if self.core_down:
            self._deferred.append((self._user_cancel, (jid, tries)))
            return
        self._credit(job)
        t = self._do(job, A.Terminate(jid))
        if t.calls and t.calls[0].status == 502 and tries < 10:
            self._at(USER_RETRY_MS, P_USER, self._user_cancel, jid, tries + 1)
        self._after_workload_change(job)
        self._maybe_leave(job)

    def _user_extend(self, jid: int) -> None:
        job = self.tables.jobs.get(jid)
        if job is None or job.core is None or job.pj is None:
            return
        if not job.core.confirmed or job.core.state in FINAL or job.pj.phase != ACTIVE:
            return
        if self.core_down:
            self._deferred.append((self._user_extend, (jid,)))
            return
        if not self._enabled(job, A.Extend(jid)):
            return  # e.g. the spec's bound of one extension per job, or no timeExtension support
        alloc = job.pj.alloc_ms
        self._do(job, A.Extend(jid))
        if job.pj is not None and job.pj.alloc_ms != alloc and job.pj.phase == ACTIVE:
            self._arm_end(job)

    def _user_call(self, job: LiveJob, action: A.Action) -> Transition | None:
        """A user's call about ``job`` (follow, session, suspend, unsuspend), through the spec, when the
        spec enables it; counted by call and answer in ``metrics.json`` (``user_actions``)."""
        if not self._enabled(job, action):
            return None  # e.g. the job became final, or the spec's bound of suspensions per job
        if type(action) is A.Suspend:
            self._credit(job)  # a suspension stops the running time: credit it first
        t = self._do(job, action)
        if t.calls:
            c = t.calls[0]
            answer = f"{c.status} {c.why}" if c.why else str(c.status)
            if c.call == "jobs.follow" and c.status == 200:
                answer += " streaming" if c.detail and c.detail[0] else " nothing to stream"
            self.metrics.user_actions[(c.call, answer)] += 1
        return t

    def _user_ready(self, jid: int, retry: Any, *args: Any) -> LiveJob | None:
        """The job, if its user can call about it now: Core confirmed it and it is not final. While
        Core is down the call waits for it (``retry(jid, *args)`` once it is back)."""
        job = self.tables.jobs.get(jid)
        if job is None or job.core is None or not job.core.confirmed or job.core.state in FINAL:
            return None
        if self.core_down:
            self._deferred.append((retry, (jid, *args)))
            return None
        return job

    def _user_follow(self, jid: int) -> None:
        job = self._user_ready(jid, self._user_follow)
        if job is not None:
            self._user_call(job, A.Follow(jid))

    def _user_session(self, jid: int, kind: str) -> None:
        job = self._user_ready(jid, self._user_session, kind)
        if job is not None:
            self._user_call(job, A.OpenSession(jid, kind))

    def _user_suspend(self, jid: int, tries: int) -> None:
        """The user suspends a running job (reference §7.7), then unsuspends it ``for_s`` later."""
        job = self._user_ready(jid, self._user_suspend, tries)
        if job is None or job.core is None or job.arrival.suspend is None:
            return
        if job.core.state != RUNNING:
            if tries < 10:  # Core does not show it RUNNING yet: the user looks again later
                self._at(USER_RETRY_MS, P_USER, self._user_suspend, jid, tries + 1)
            return
        t = self._user_call(job, A.Suspend(jid))
        if t is None:
            return
        if t.calls and t.calls[0].status == 502 and tries < 10:  # the provider is down
            self._at(USER_RETRY_MS, P_USER, self._user_suspend, jid, tries + 1)
            return
        pj = job.pj
        if pj is not None and pj.phase == PAUSED:
            job.run_since = -1
            job.timer += 1  # the workload does not run while suspended: no end until it resumes
            self._dirty(job)
            self._at(round(job.arrival.suspend[1] * 1000), P_USER, self._user_unsuspend, jid)

    def _user_unsuspend(self, jid: int) -> None:
        """The user resumes a suspended job. They wait until Core shows it SUSPENDED, until the
        provider answers (502 while it is down) and until the job has its place on the cluster back
        (a node failure while it was off sends it back to the queue). If the provider's SUSPENDED
        update was lost for good, Core never shows it and the user cannot resume it (the job then
        stays live, its row in jobs.csv showing where it got stuck)."""
        job = self._user_ready(jid, self._user_unsuspend)
        pj = job.pj if job is not None else None
        if job is None or job.core is None or pj is None or pj.phase != PAUSED:
            return
        if not job.placed or (job.core.state != SUSPENDED and (job.flight or pj.reported != SUSPENDED)):
            self._at(USER_RETRY_MS, P_USER, self._user_unsuspend, jid)  # wait for a place, or for Core
            return
        t = self._user_call(job, A.Unsuspend(jid))
        if t is not None and t.calls and t.calls[0].status == 502:
            self._at(USER_RETRY_MS, P_USER, self._user_unsuspend, jid)
            return
        if job.pj is not None and job.pj.phase == ACTIVE:
            job.run_since = self.env._now
            self._arm_end(job)
            if self.world.accounting and not job.ticking:
                job.ticking = True
                self._at(self.providers[job.template.provider].usage_ms, P_MONITOR, self._usage_tick, jid)
            self._dirty(job)

    # ================================================================================ faults
    def _next_fault(self) -> None:
        ev = next(self._faults, None)
        if ev is not None:
            self._background(max(0, round(ev.time_s * 1000) - self.env._now), self._fault, ev)

    def _fault(self, ev: FaultEvent) -> None:
        self._next_fault()
        if ev.kind == "provider-crash":
            self._crash(ev)
        elif ev.kind == "node-failure":
            self._node_failure(ev)
        else:
            self._core_restart(ev)

    def _crash(self, ev: FaultEvent) -> None:
        pid = ev.provider
        assert pid is not None
        if not self.tables.up[pid]:
            return
        self.metrics.faults["provider-crash"] += 1
        self._global_step(A.Crash(pid))
        down_ms = round(ev.duration_s * 1000)
        self.providers[pid].restart_at = self.env._now + down_ms
        self._recovery(down_ms, self._restart, pid)

    def _restart(self, pid: str) -> None:
        self._global_step(A.Restart(pid))
        ps = self.providers[pid]
        jobs = self.tables.jobs
        overdue, ps.overdue = ps.overdue, []
        for jid in overdue:
            job = jobs.get(jid)
            if job is not None and job.pj is not None and job.pj.phase == ACTIVE:
                self._workload_step(job, A.AllocationElapsed(jid))
        starts, ps.deferred_starts = ps.deferred_starts, []
        for jid in starts:
            self._start(jid)
        # The restarted provider reloads its durable table and reports what happened meanwhile.
        for job in list(ps.jobs.values()):
            if jobs.get(job.id) is job:
                self._dirty(job)
        self._request_pass(ps)

    def _node_failure(self, ev: FaultEvent) -> None:
        pid, node = ev.provider, ev.node
        assert pid is not None and node is not None
        ps = self.providers[pid]
        if ps.cluster.is_failed(node):
            return
        self.metrics.faults["node-failure"] += 1
        for jid in ps.cluster.fail_node(node):  # the cluster has released them everywhere
            job = self.tables.jobs[jid]  # type: ignore[index]
            self._released(ps, job)
            if job.pj is not None and job.pj.phase in (QUEUED, PAUSED):
                # Placed but not started yet, or suspended (powered off): nothing ran, so nothing
                # failed (the spec enables NodeFail only for running workloads). The job goes back to
                # the queue for a place; a pending start finds it unplaced or not queued and does
                # nothing, and a suspended job's user waits for the place before resuming it.
                self._enqueue(ps, job)
                continue
            self._workload_step(job, A.NodeFail(job.id))
        self._recovery(round(ev.duration_s * 1000), self._repair, ps, node)

    def _repair(self, ps: _ProviderSim, node: str) -> None:
        ps.cluster.repair_node(node)
        self._request_pass(ps)

    # ================================================================================ leaving
    def _maybe_leave(self, job: LiveJob) -> None:
        """Drop a job from the live tables once nothing about it can happen any more."""
        if job.flight or job.placed:
            return
        core = job.core
        if core is not None and core.state not in FINAL:
            return
        pj = job.pj
        if pj is not None and (pj.phase != ENDED or implied_state(pj, self.cfg) != pj.reported):
            return
        if self.tables.holds_resources(job) or self.tables.jobs.get(job.id) is not job:
            return
        self.tables.remove(job)
        self.providers[job.template.provider].jobs.pop(job.id, None)
        if self.recorder is not None:
            self.recorder.forget(job.id)
        self._row(job)

    def _row(self, job: LiveJob) -> None:
        if not job.accepted:
            return
        t = job.template
        pj = job.pj
        state = job.core.state if job.core is not None else "DELETED"
        code: Any = ""
        if pj is not None and pj.cause == CAUSE_EXIT and pj.exit_code is not None:
            code = pj.exit_code
        self.rows.add(
            (job.submit_ms, job.id),
            (
                job.id,
                t.user,
                t.provider,
                t.request.product.id,
                t.replicas,
                ms_cell(job.submit_ms),
                ms_cell(job.start_ms),
                ms_cell(job.end_ms),
                state,
                code,
            ),
        )
        self.metrics.job_done(state, job.submit_ms, job.start_ms, job.end_ms)

    # ================================================================================ sampling
    def _sample(self) -> None:
        ps = self.providers.values()
        self.metrics.sample(
            self.env._now,
            tuple(len(p.policy) for p in ps),
            tuple(p.cluster.busy_cores for p in ps),
        )
        self._background(self.metrics.sample_ms, self._sample)

    # ================================================================================ the run
    def run(self, progress: Callable[[int, float], None] | None = None) -> RunResult:
        """Run the scenario to its end; ``progress(jobs submitted, simulated seconds)`` is called now
        and then. Returns the :class:`RunResult` (write it with :meth:`RunResult.write`)."""
        if self._ran:
            raise RuntimeError("an Engine runs once; build a new one")
        self._ran = True
        started = _time.perf_counter()
        if self._trace_path is not None:
            from spec.trace.record import TraceRecorder

            self.recorder = TraceRecorder(self.world, self._trace_path, facts=True)
            self.recorder.write_catalog()
        run_cfg = self.scenario.run
        stop_at = math.inf
        if not run_cfg.drain and run_cfg.until_s is not None:
            stop_at = round(run_cfg.until_s * 1000)
        self._next_arrival()
        self._next_fault()
        self._sample()
        try:
            stopped = self._loop(stop_at, not run_cfg.drain and run_cfg.until_s is None, progress)
        except FailFast:
            stopped = "fail-fast"
        finally:
            if self.recorder is not None:
                self.recorder.close()
        if progress is not None:
            progress(self.metrics.submitted, self.env._now / 1000)
        if stopped == "drained" and self.check:
            self._check_liveness()
        live = sorted(self.tables.jobs)
        stuck = sum(1 for jid in live if _stuck_in_core(self.tables.jobs[jid]))
        for jid in live:  # still live at the end: their rows show where they got stuck
            self._row(self.tables.jobs[jid])
        wall = _time.perf_counter() - started
        return RunResult(
            metrics=self._metrics_json(stopped, wall, len(live), stuck),
            violations=self.violations,
            violation_count=self.violation_count,
            stopped=stopped,
            wall_s=wall,
            rows=self.rows,
            series=self.metrics.series,
            providers=tuple(self.providers),
            waits=self.metrics.waits,
            cores=dict(self.metrics.cores),
        )

    def _loop(
        self, stop_at: float, at_last_arrival: bool, progress: Callable[[int, float], None] | None
    ) -> str:
        """Process events until the run is over; returns why it stopped (see :class:`RunResult`).

        ``Environment.step`` specialised for :class:`_Timer` (see "Why callbacks" in the module
        docstring): pop the earliest ``(time, priority, id, event)``, set the clock, call the timer's
        function. ``_busy`` is inlined; ``tables.jobs`` is never rebound, ``_deferred`` is."""
        env = self.env
        queue = env._queue
        jobs = self.tables.jobs
        step = env.step
        timer = _Timer
        n = 0
        while self._work > 0 or (self._recoveries > 0 and bool(jobs or self._deferred)):
            entry = queue[0]
            if entry[0] > stop_at:
                return "until"
            if at_last_arrival and self._arrivals_done:
                return "last-arrival"
            ev = entry[3]
            if type(ev) is timer:
                heappop(queue)
                env._now = entry[0]
                ev.callbacks = None
                if ev.work:
                    self._work -= 1
                ev.fn(*ev.args)
            else:
                step()  # not one of ours: SimPy processes it (it is the same heap entry)
            n += 1
            if progress is not None and not n & 4095:
                progress(self.metrics.submitted, self.env._now / 1000)
        return "drained"

    def _check_liveness(self) -> None:
        """At the end of a drained run every open obligation is a violation, on the jobs for which the
        properties' fairness assumption held: none of whose provider's calls was lost for good (a
        provider that gives up retrying may leave Core behind for ever; that is the scenario's
        doing, not the protocol's). The others are counted in ``liveness_not_judged``."""
        for jid in sorted(self.tables.jobs):
            job = self.tables.jobs[jid]
            if job.unfair:
                self.liveness_not_judged += 1
                continue
            state = self.tables.project(job)
            bad = [
                Violation(p, jid, "still pending when the run ended")
                for p in LIVENESS
                if jid in p.pending(self.model, state)  # type: ignore[misc]
            ]
            if bad:
                fail_fast, self.fail_fast = self.fail_fast, False
                self._violated(bad, job, self.env._now)
                self.fail_fast = fail_fast

    def _metrics_json(self, stopped: str, wall: float, live: int, stuck: int) -> dict[str, Any]:
        from ucsim import __version__

        m = self.metrics.summary()
        m["jobs_live_at_end"] = live
        m["stuck_in_core"] = stuck
        m["violations"] = {
            "total": self.violation_count,
            "by_property": dict(sorted(self.violations_by_property.items())),
            "first": self.violations,
        }
        if self.coverage is not None:
            m["property_preconditions"] = self.coverage.by_property()
        m["liveness_not_judged"] = self.liveness_not_judged
        if self.expect_mismatches:
            m["expected_status_mismatches"] = self.expect_mismatches
        m["run"] = {
            "stopped": stopped,
            "simulated_s": self.env._now / 1000,
            "wall_s": round(wall, 3),
            "properties_checked": self.check,
        }
        cfg = self.cfg
        m["provenance"] = {
            "scenario": self.scenario.name,
            "scenario_sha256": scenario_hash(self.scenario),
            "seed": self.scenario.seed,
            "variant": cfg.variant,
            "rules": dict(sorted(cfg.overrides.items())),
            "switches": dict(sorted(cfg.switches.items())),
            "mutant": cfg.mutant,
            "policies": {name: repr(ps.policy) for name, ps in self.providers.items()},
            "ucsim_version": __version__,
        }
        return m


def _stuck_in_core(job: LiveJob) -> bool:
    """Whether Core will hold ``job`` non-final for ever: its workload ended, its provider believes it
    reported the final state (its copy of the state is final: ``TrackState`` will not send it again),
    and no call about it is in flight. That is what a final update lost for good leaves behind (a
    partition that outlasts the provider's retries): current UCloud has no ``verify`` call that would
    resynchronise Core (reference §7.3), so nothing ever repairs it."""
    core, pj = job.core, job.pj
    return (
        core is not None
        and core.state not in FINAL
        and pj is not None
        and pj.phase == ENDED
        and pj.reported in FINAL
        and not job.flight
    )


def _message(job: LiveJob, uid: int) -> Msg | None:
    """The first of ``job``'s calls in flight with this uid (``None``: none is, any more)."""
    for m in job.flight:
        if m.uid == uid:
            return m
    return None


def _story(job: LiveJob) -> list[str]:
    """The job's last steps, one line each: time, action, and the calls Core saw."""
    lines = []
    for now, action, calls in job.history:
        text = f"{now / 1000:.3f}s {action!r}"
        for c in calls:
            why = f" ({c.why})" if c.why else ""
            text += f"; {c.actor} {c.call} -> {c.status}{why}"
        lines.append(text)
    return lines
