"""The simulator's protocol state: live, mutable, per job; stepped through small projections.

The specification's :class:`~spec.state.SystemState` is immutable, and a step copies the dicts it
changes (``jobs``, ``providers``...). A driver that kept *one* global state for a million jobs would
copy tables of thousands of live jobs at every step. The simulator instead keeps its tables mutable
and per job (:class:`LiveJob`: Core's job, the provider's job, the calls in flight, the usage scope),
and for each step builds a **projection**: a small ``SystemState`` holding only what that step can
read. It steps the projection with the spec's own ``ProtocolModel.step``, checks the properties on
that transition, and writes the changed parts back (:meth:`Tables.apply`).

What a step on job ``j`` can read (every handler of :mod:`spec.system` was read for this), and so
what :meth:`Tables.project` puts in:

* ``jobs``: ``j``'s Core job; the Core jobs that reference one of the *exclusive* resources of ``j``'s
  request (the ``exclusive-binding`` property looks at every live holder of such a resource); the
  jobs ``j``'s request names as peers (Core's validation reads their state);
* ``bindings`` and ``reserved``: the entries of the resources ``j``'s request references (a job is
  only ever bound to, and only ever reserves, resources its request names);
* ``providers``: every provider with its ``up`` flag and restart count, and ``j``'s provider job
  under its provider (steps look a job up in every provider's table; only its own holds it);
* ``flight``: ``j``'s calls in flight (a call belongs to the job it is about; ``Deliver`` finds it
  by uid); ``usage``: ``j``'s scope; ``locked``, ``next_id`` and the budgets: the engine's own.

Steps that are not about one job get their own projections: ``Crash``, ``Restart`` and
``LockWallet`` read nothing of any job; ``CoreRestart`` reads the unconfirmed jobs and every
reservation (:meth:`Tables.project_core_restart`).

That the projection is exact is not taken on trust: ``tests/simulator/test_engine_projection.py``
drives a full global state with the same actions and compares every job's Core and provider state,
the calls and the verdicts of the properties after every step.

Budgets: the untimed drivers bound nondeterminism with :class:`~spec.state.Budgets`; the simulator
bounds it with time, so its budgets are practically unlimited (:data:`UNBOUNDED`).

Reusing what the last step built
--------------------------------
A job is stepped about eighteen times, and most of its projection is the same from one step to the
next. Two parts cost more than the rest to build: the ``providers`` mapping (a copy of the shared
job-less records plus a fresh :class:`~spec.state.Provider` holding the job, a frozen dataclass) and
the ``usage`` mapping. Both are immutable by contract (the spec never mutates a state; a step
returns new mappings), so :meth:`Tables.apply` keeps the step's own result as the job's *view* for
its next projection when it is exactly what :meth:`Tables.project` would build: for ``providers``,
the other providers' records untouched and the job's provider holding that job alone with its flags
unchanged; for ``usage``, a mapping holding just the job's scope. A view of the providers is valid
for one *epoch* of the providers' flags (``up``, ``restarts``): a crash or restart starts a new
epoch, and every view built before it is rebuilt when next needed. So a projection costs one
``SystemState`` and, for a job with exclusive resources or peers, the few entries it gathers.

Often not even that: a job is usually stepped several times at one instant (running time credited,
then the update delivered; an enabledness check, then the step), and nothing another job does can
change the projection of a job whose request names no resource and no peer, except what every
projection shares (``next_id``, ``locked``, the budgets, the providers' flags). Those move on a
*generation* counter; such a job keeps its projection (the step's own result, when it is exactly
what :meth:`Tables.project` would build) until its next step or the next generation.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spec.state import Budgets, CoreJob, Msg, Provider, ProviderJob, SystemState

if TYPE_CHECKING:
    from simulator.workload import Arrival
    from spec.system import Transition
    from spec.world import Template

__all__ = ["UNBOUNDED", "LiveJob", "Tables"]

_BIG = 1 << 62
UNBOUNDED = Budgets(
    submissions=_BIG, duplicates=_BIG, losses=_BIG, crashes=_BIG, core_restarts=_BIG, locks=_BIG
)
"""Budgets a simulation never runs out of: time, not a budget, bounds what happens."""

_EMPTY: dict[Any, Any] = {}  # shared by projections that have nothing of a kind; the spec never mutates


@dataclass(slots=True, eq=False)
class LiveJob:
    """Everything the simulator knows about one job while it is live (see the module docstring).

    Protocol state (read and written only through projections): ``core`` (Core's job, ``None``
    before it exists or once Core deleted it), ``pj`` (the provider's job), ``flight`` (its calls
    in flight), ``usage`` (the absolute usage Core holds for its scope).

    Ground truth and engine bookkeeping (the simulator's, never the spec's): when it was submitted,
    placed, started and ended (ms, -1 while unknown), since when its running time is not yet
    credited to the spec (``run_since``), the version of its end timer, and its recent steps
    (``history``) for violation reports.
    """

    id: int
    arrival: Arrival
    template: Template
    submit_ms: int
    core: CoreJob | None = None
    pj: ProviderJob | None = None
    flight: tuple[Msg, ...] = ()
    usage: int | None = None
    accepted: bool = False  # Core confirmed it at some point: it gets a row in jobs.csv
    placed: bool = False  # holds capacity on its provider's cluster
    place_ms: int = -1
    start_ms: int = -1
    end_ms: int = -1
    run_since: int = -1  # RUNNING since (ms) and not yet credited with a Tick; -1 when not running
    timer: int = 0  # version of the end timer: a stale timer finds a different number and does nothing
    overdue: bool = False  # its allocation ran out while its provider was down
    ignore_alloc: bool = False  # its provider let it run past the allocation (a mutant)
    cancel_pending: bool = False  # the user wants to cancel it as soon as Core confirms it
    create_deadline: int = 0  # when Core stops waiting for the provider's answer to the create
    unfair: bool = False  # one of its provider's calls was lost for good: liveness is not judged
    ticking: bool = False  # a chain of usage reports is scheduled for it
    history: deque[tuple[int, Any, tuple[Any, ...]]] = field(default_factory=lambda: deque(maxlen=20))
    # What the last step left for the next projection (see "Reusing what the last step built"):
    # the providers mapping (valid while view_epoch is the tables' epoch) and the usage mapping.
    view: dict[str, Provider] | None = None
    view_epoch: int = -1
    usage_view: dict[tuple[str, str], int] | None = None
    scope: tuple[str, str] | None = None  # (owner, "job-<id>"), the usage scope, made once
    proj: SystemState | None = None  # its whole projection, valid while proj_gen is the tables' generation
    proj_gen: int = -1


class Tables:
    """The live protocol state of a simulation, and the projections a step is taken on."""

    def __init__(self, providers: tuple[str, ...]) -> None:
        self.jobs: dict[int, LiveJob] = {}
        self.bindings: dict[str, tuple[int, ...]] = {}
        self.reserved: dict[str, int] = {}
        # exclusive resource -> the live jobs Core holds that reference it (see exclusive-binding)
        self.users_of: dict[str, dict[int, LiveJob]] = {}
        self.up: dict[str, bool] = dict.fromkeys(providers, True)
        self.restarts: dict[str, int] = dict.fromkeys(providers, 0)
        self.locked: frozenset[str] = frozenset()
        self.next_id = 1
        self.budgets = UNBOUNDED
        self._bare: dict[str, Provider] = {}
        self._epoch = 0
        self._gen = 0  # generation of what every projection shares (see the module docstring)
        self._refresh_providers()

    # -- providers ------------------------------------------------------------------------------
    def _refresh_providers(self) -> None:
        """Rebuild the job-less Provider records that every projection shares; a new epoch of
        the providers' flags begins (every job's view of the providers is stale)."""
        self._bare = {p: Provider(p, self.up[p], self.restarts[p], _EMPTY) for p in self.up}
        self._epoch += 1
        self._gen += 1

    def _providers_with(self, job: LiveJob) -> dict[str, Provider]:
        pj = job.pj
        if pj is None:
            return self._bare
        view = job.view
        if view is not None and job.view_epoch == self._epoch:
            return view
        pid = job.template.provider
        providers = dict(self._bare)
        providers[pid] = Provider(pid, self.up[pid], self.restarts[pid], {job.id: pj})
        job.view = providers
        job.view_epoch = self._epoch
        return providers

    def _usage_of(self, job: LiveJob) -> dict[tuple[str, str], int]:
        """The usage mapping of ``job``'s projection: its scope alone, or nothing before a charge."""
        usage = job.usage
        if usage is None:
            return _EMPTY
        view = job.usage_view
        if view is None:
            view = job.usage_view = {self.scope(job): usage}
        return view

    @staticmethod
    def scope(job: LiveJob) -> tuple[str, str]:
        """The job's usage scope, ``(owner, "job-<id>")`` (made once per job)."""
        scope = job.scope
        if scope is None:
            scope = job.scope = (job.template.owner, f"job-{job.id}")
        return scope

    # -- live jobs ------------------------------------------------------------------------------
    def add(self, job: LiveJob) -> None:
        self.jobs[job.id] = job

    def remove(self, job: LiveJob) -> None:
        del self.jobs[job.id]
        self._forget_user(job)

    def _note_user(self, job: LiveJob) -> None:
        for r in job.template.exclusive:
            users = self.users_of.get(r)
            if users is None:
                users = self.users_of[r] = {}
            users[job.id] = job

    def _forget_user(self, job: LiveJob) -> None:
        for r in job.template.exclusive:
            users = self.users_of.get(r)
            if users is not None:
                users.pop(job.id, None)

    def holds_resources(self, job: LiveJob) -> bool:
        """Whether a resource is still bound to or reserved for the job."""
        t = job.template
        jid = job.id
        for r in t.exclusive:
            if jid in self.bindings.get(r, ()) or self.reserved.get(r) == jid:
                return True
        return any(jid in self.bindings.get(r, ()) for r in t.shared)

    # -- projections ----------------------------------------------------------------------------
    def project(self, job: LiveJob) -> SystemState:
        """The projection for a step about ``job`` (see the module docstring).

        Most jobs reference no exclusive or shared resource and name no peer: their projection is
        their own records alone, built here directly (the general case is :meth:`_project`)."""
        t = job.template
        if t.exclusive or t.shared or t.peers:
            return self._project(t, job)
        state = job.proj
        if state is not None and job.proj_gen == self._gen:
            return state
        core = job.core
        providers = self._bare
        if job.pj is not None:
            providers = job.view  # type: ignore[assignment]
            if providers is None or job.view_epoch != self._epoch:
                providers = self._providers_with(job)
        usage: dict[tuple[str, str], int] = _EMPTY
        if job.usage is not None:
            usage = job.usage_view or self._usage_of(job)
        state = job.proj = SystemState(
            _EMPTY if core is None else {job.id: core},
            _EMPTY,
            _EMPTY,
            providers,
            job.flight,
            usage,
            self.locked,
            self.next_id,
            self.budgets,
        )
        job.proj_gen = self._gen
        return state

    def project_submit(self, template: Template) -> SystemState:
        """The projection for ``Submit(template)``: no job yet, its resources and peers."""
        return self._project(template, None)

    def _project(self, t: Template, job: LiveJob | None) -> SystemState:
        jobs: dict[int, CoreJob] = _EMPTY
        if job is not None and job.core is not None:
            jobs = {job.id: job.core}
        bindings: dict[str, tuple[int, ...]] = _EMPTY
        reserved: dict[str, int] = _EMPTY
        if t.exclusive or t.shared or t.peers:
            jobs = dict(jobs)
            bindings, reserved = {}, {}
            for r in t.exclusive:
                if r in self.bindings:
                    bindings[r] = self.bindings[r]
                if r in self.reserved:
                    reserved[r] = self.reserved[r]
                for other in self.users_of.get(r, _EMPTY).values():
                    if other.core is not None:
                        jobs.setdefault(other.id, other.core)
            for r in t.shared:
                if r in self.bindings:
                    bindings[r] = self.bindings[r]
            for peer in t.peers:
                other = self.jobs.get(int(peer)) if peer.isdigit() else None
                if other is not None and other.core is not None:
                    jobs.setdefault(other.id, other.core)
            if len(jobs) > 1:  # in id order, as in a global state, so that reasons list them alike
                jobs = dict(sorted(jobs.items()))
        if job is None:
            return SystemState(
                jobs, bindings, reserved, self._bare, (), _EMPTY, self.locked, self.next_id, self.budgets
            )
        return SystemState(
            jobs,
            bindings,
            reserved,
            self._providers_with(job),
            job.flight,
            self._usage_of(job),
            self.locked,
            self.next_id,
            self.budgets,
        )

    def project_global(self) -> SystemState:
        """A projection with no job in it: for ``Crash``, ``Restart``, ``LockWallet``."""
        return SystemState(
            _EMPTY, _EMPTY, _EMPTY, self._bare, (), _EMPTY, self.locked, self.next_id, self.budgets
        )

    def project_core_restart(self) -> tuple[SystemState, list[LiveJob]]:
        """The projection for ``CoreRestart``: every unconfirmed job and every reservation and binding."""
        lost = [j for j in self.jobs.values() if j.core is not None and not j.core.confirmed]
        state = SystemState(
            {j.id: j.core for j in lost},  # type: ignore[misc]
            dict(self.bindings),
            dict(self.reserved),
            self._bare,
            tuple(m for j in lost for m in j.flight),
            _EMPTY,
            self.locked,
            self.next_id,
            self.budgets,
        )
        return state, lost

    # -- writing back ---------------------------------------------------------------------------
    def apply(self, job: LiveJob | None, old: SystemState, t: Transition) -> None:
        """Write what the step changed in its projection back into the live tables."""
        s = t.state
        if s is old:
            return
        if s.jobs is not old.jobs:
            for jid, core in s.jobs.items():
                if old.jobs.get(jid) is not core:
                    live = self.jobs[jid]
                    if live.core is None:
                        self._note_user(live)
                    live.core = core
                    live.proj = None
            for jid in old.jobs:
                if jid not in s.jobs:
                    live = self.jobs[jid]
                    live.core = None
                    live.proj = None
                    self._forget_user(live)
        if s.bindings is not old.bindings:
            for r in old.bindings.keys() | s.bindings.keys():
                bound = s.bindings.get(r)
                if bound:
                    self.bindings[r] = bound
                else:
                    self.bindings.pop(r, None)
        if s.reserved is not old.reserved:
            for r in old.reserved.keys() - s.reserved.keys():
                self.reserved.pop(r, None)
            self.reserved.update(s.reserved)
        if s.providers is not old.providers:
            self._apply_providers(job, old.providers, s.providers)
        if s.next_id != self.next_id or s.locked is not self.locked or s.budgets is not self.budgets:
            self.locked = s.locked
            self.next_id = s.next_id
            self.budgets = s.budgets
            self._gen += 1
        if job is not None:
            if s.flight is not old.flight:
                job.flight = s.flight
            if s.usage is not old.usage:
                usage = job.usage = s.usage.get(job.scope or self.scope(job))
                # the step's mapping is the next projection's if it holds this scope alone
                job.usage_view = s.usage if usage is not None and len(s.usage) == 1 else None
            job.proj = s if self._is_projection(job, s) else None
            job.proj_gen = self._gen

    def _is_projection(self, job: LiveJob, s: SystemState) -> bool:
        """Whether ``s``, the result of a step about ``job`` just written back, is exactly the
        projection :meth:`project` would build for the job's next step (so it can be kept)."""
        t = job.template
        if t.exclusive or t.shared or t.peers or s.bindings or s.reserved:
            return False
        core = job.core
        if core is None:
            if s.jobs:
                return False
        elif len(s.jobs) != 1:  # (the one is the job's own: write-back took job.core from it)
            return False
        if job.pj is None:
            if s.providers is not self._bare:
                return False
        elif s.providers is not job.view or job.view_epoch != self._epoch:
            return False
        if job.usage is None:
            return not s.usage
        return s.usage is job.usage_view

    def _apply_providers(
        self, job: LiveJob | None, old: dict[str, Provider], new: dict[str, Provider]
    ) -> None:
        """Write back the providers of a step: the job's provider job, the flags, and the job's view.

        ``new`` becomes the job's view of the providers when it is what :meth:`project` would build
        next (see "Reusing what the last step built"): same providers, every other one's record the
        very object the projection held, the job's own holding that job alone with unchanged flags."""
        own = job.template.provider if job is not None else None
        reusable = own is not None and len(new) == len(old)
        flags = False
        up, restarts = self.up, self.restarts
        for pid, p in new.items():
            if p is old.get(pid):
                continue
            if p.up != up[pid] or p.restarts != restarts[pid]:
                up[pid] = p.up
                restarts[pid] = p.restarts
                flags = True
            if pid != own:
                reusable = False
        if flags:
            self._refresh_providers()
            reusable = False
        if job is None:
            return
        mine = new[own]  # type: ignore[index]
        pj = job.pj = mine.jobs.get(job.id)
        if reusable and pj is not None and len(mine.jobs) == 1:
            job.view = new
            job.view_epoch = self._epoch
        else:
            job.view = None
