"""The state of the transition system: Core, the providers and the network, as lean immutable records.

The wire models (:mod:`spec.wire`) are what crosses the edges; this is what the checkers hash, copy
and compare millions of times. Every record is a frozen, slotted dataclass of plain values (states
are plain strings, not enum members, because hashing and comparing strings is several times cheaper).

Layout::

    SystemState
      jobs:      {job id -> CoreJob}        Core's job store (UCloud/Core, core2 job.go)
      bindings:  {resource -> (job ids)}    boundTo of every exclusive or shared resource
      reserved:  {resource -> job id}       resources reserved by a validated, not yet accepted create
      providers: {provider id -> Provider}  each with {job id -> ProviderJob} (its durable table)
      flight:    (Msg, ...)                 calls in flight between Core and the providers
      usage:     {(owner, scope) -> int}    absolute usage per scope (accounting, reference §8.2)
      next_id, budgets                      counters that keep the untimed state space finite

A step never mutates a state: it returns a new one sharing every record it did not touch (see
:meth:`SystemState.replace`). The simulator, which never looks back, uses the same records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from spec.wire.jobs import FINAL_STATES, JobState

# -- Job states, as UCloud spells them (orchestrators/jobs.go: JobState), as plain strings on purpose:
# derived from the wire enum, so the two cannot drift apart.
IN_QUEUE: str = JobState.IN_QUEUE.value
RUNNING: str = JobState.RUNNING.value
SUCCESS: str = JobState.SUCCESS.value
FAILURE: str = JobState.FAILURE.value
EXPIRED: str = JobState.EXPIRED.value
SUSPENDED: str = JobState.SUSPENDED.value
JOB_STATES: frozenset[str] = frozenset(s.value for s in JobState)
# orchestrators/jobs.go: (JobState) IsFinal; identical in Kotlin Jobs.kt and the web client.
FINAL: frozenset[str] = frozenset(s.value for s in FINAL_STATES)

# -- Workload phases at a provider (ground truth of what the hardware is doing).
QUEUED = "queued"
ACTIVE = "running"
PAUSED = "suspended"
ENDED = "ended"

# -- Why a workload ended: the `facts.cause` values of the trace format (DESIGN "The trace format").
CAUSE_EXIT = "exit"
CAUSE_USER_CANCEL = "user-cancel"
CAUSE_TIME_ALLOCATION = "time-allocation"
CAUSE_NO_CREDITS = "no-credits"
CAUSE_PERMISSION_LOST = "permission-lost"
CAUSE_NODE_FAILURE = "node-failure"
CAUSE_VANISHED = "vanished"
CAUSES: frozenset[str] = frozenset(
    {
        CAUSE_EXIT,
        CAUSE_USER_CANCEL,
        CAUSE_TIME_ALLOCATION,
        CAUSE_NO_CREDITS,
        CAUSE_PERMISSION_LOST,
        CAUSE_NODE_FAILURE,
        CAUSE_VANISHED,
    }
)


def final_state_for(cause: str | None, exit_code: int | None, nonzero_exit_failure: bool = False) -> str:
    """The final state a workload's end calls for: the one rule every driver and checker uses.

    Any exit code is SUCCESS (a non-zero one FAILURE under the ``nonzero-exit-failure`` rule, as k8s
    containers/monitor.go: terminationState does); a node failure FAILURE; a used-up allocation
    EXPIRED; cancellation, lost credits or permissions and a vanished workload SUCCESS (DESIGN "The
    trace format"; legacy Jobs.kt doc strings).

    >>> final_state_for("exit", 3), final_state_for("exit", 3, True), final_state_for("node-failure", None)
    ('SUCCESS', 'FAILURE', 'FAILURE')
    """
    if cause == CAUSE_EXIT:
        return FAILURE if exit_code and nonzero_exit_failure else SUCCESS
    if cause == CAUSE_NODE_FAILURE:
        return FAILURE
    if cause == CAUSE_TIME_ALLOCATION:
        return EXPIRED
    return SUCCESS


@dataclass(frozen=True, slots=True)
class CoreJob:
    """A job as UCloud/Core stores it (the fields of ``Job`` a rule depends on).

    ``started_at`` is Core's ``startedAt``: the time of the latest change *into* RUNNING. The timed
    drivers store milliseconds; the untimed ones a generation counter (each change into RUNNING adds
    one), which is all that a rule about it can observe.
    ``requested_ms`` is the allocation the user asked for in total (initial plus accepted
    extensions): the ground truth an extension rule is checked against.
    ``handled`` holds the ids of the update calls Core already handled for this job, so that a
    redelivered (retried) call is recognised (reference §2.4: providers retry failed flushes).
    """

    id: int
    template: int
    provider: str
    owner: str
    state: str = IN_QUEUE
    confirmed: bool = False
    started_at: int | None = None
    alloc_ms: int | None = None
    requested_ms: int | None = None
    terminate_requested: bool = False
    suspends: int = 0
    handled: frozenset[int] = frozenset()

    @property
    def final(self) -> bool:
        return self.state in FINAL


@dataclass(frozen=True, slots=True)
class ProviderJob:
    """A job as its provider tracks it: the workload's true phase and what was reported to Core.

    ``reported`` is the provider's copy of the job state (the IM's ``tracked_jobs`` row); the
    provider reports whenever the state its workload implies differs from it (``TrackState``,
    im2 controller/job_database.go). ``ran_ms`` is the workload's true cumulative RUNNING time and
    ``charged`` the last absolute usage the provider reported for it. ``past_expiry`` is only ever
    set for a workload that vanished (cause ``vanished``): the wall clock had passed the job's
    ``expiresAt`` when the provider found it missing (see :class:`spec.actions.Vanish`).
    """

    id: int
    template: int
    owner: str
    phase: str = QUEUED
    cause: str | None = None
    exit_code: int | None = None
    ran_ms: int = 0
    alloc_ms: int | None = None
    reported: str = IN_QUEUE
    sent: int = 0
    charged: int = 0
    cancelled: bool = False
    reasserted: bool = False
    past_expiry: bool = False


@dataclass(frozen=True, slots=True)
class Provider:
    """One compute provider: whether its process is up, and its durable job table."""

    id: str
    up: bool = True
    restarts: int = 0
    jobs: dict[int, ProviderJob] = field(default_factory=dict)

    def with_job(self, job: ProviderJob) -> Provider:
        jobs = dict(self.jobs)
        jobs[job.id] = job
        return replace(self, jobs=jobs)

    def without_job(self, job_id: int) -> Provider:
        jobs = dict(self.jobs)
        jobs.pop(job_id, None)
        return replace(self, jobs=jobs)


# -- Messages in flight. `kind` names the call as in the trace format; `uid` identifies one call (a
# duplicated delivery of the same call keeps its uid). Uids derive from the job id and a per-job
# counter (see `call_uid`), never from a global counter, so that two states which differ only in
# the order of unrelated events have equal keys.
UIDS_PER_JOB = 4096


def call_uid(job: int, k: int) -> int:
    """The uid of the k-th call about a job (k = 0: Core's create; 1.. the provider's calls)."""
    return job * UIDS_PER_JOB + k


@dataclass(frozen=True, slots=True, order=True)
class Msg:
    """One API call in flight between Core and a provider.

    ``payload`` is a kind-specific tuple of plain values:

    * ``jobs.provider.create``: ``()``
    * ``create-reply``: ``(status, why)``, the provider's answer travelling back to Core
    * ``jobs.control.update``: ``(state, expected_state, expected_different_state,
      new_time_allocation_ms, status_message)``
    * ``accounting.reportUsage``: ``(usage,)``
    """

    uid: int
    kind: str
    provider: str
    job: int
    payload: tuple[Any, ...] = ()

    @property
    def to_core(self) -> bool:
        return self.kind in TO_CORE


CREATE = "jobs.provider.create"
CREATE_REPLY = "create-reply"
UPDATE = "jobs.control.update"
USAGE = "accounting.reportUsage"
TO_CORE: frozenset[str] = frozenset({CREATE_REPLY, UPDATE, USAGE})


@dataclass(frozen=True, slots=True)
class Budgets:
    """What is left of the bounded nondeterminism that keeps the untimed state space finite."""

    submissions: int = 2
    duplicates: int = 1
    losses: int = 0
    crashes: int = 1
    core_restarts: int = 0
    locks: int = 0


@dataclass(frozen=True, slots=True)
class SystemState:
    """The whole system: Core's store, the providers, the network and the bounded budgets."""

    jobs: dict[int, CoreJob]
    bindings: dict[str, tuple[int, ...]]
    reserved: dict[str, int]
    providers: dict[str, Provider]
    flight: tuple[Msg, ...]
    usage: dict[tuple[str, str], int]
    locked: frozenset[str]
    next_id: int
    budgets: Budgets

    def replace(self, **changes: Any) -> SystemState:
        """A copy with some fields replaced (the others are shared, not copied)."""
        return _REPLACE[SystemState](self, **changes)

    def key(self, reorder: bool = True) -> tuple[Any, ...]:
        """A canonical, hashable form: equal keys mean equal states. The calls in flight are a
        multiset when the network may ``reorder`` them, and a sequence (FIFO channels) when not."""
        return (
            tuple(sorted(self.jobs.items())),
            tuple(sorted((k, v) for k, v in self.bindings.items() if v)),
            tuple(sorted(self.reserved.items())),
            tuple(
                (p.id, p.up, p.restarts, tuple(sorted(p.jobs.items())))
                for p in sorted(self.providers.values(), key=lambda p: p.id)
            ),
            tuple(sorted(self.flight)) if reorder else self.flight,
            tuple(sorted(self.usage.items())),
            tuple(sorted(self.locked)),
            self.next_id,
            self.budgets,
        )

    def bound_to(self, resource: str) -> tuple[int, ...]:
        return self.bindings.get(resource, ())


# -- A faster ``dataclasses.replace`` for the records above. Every step copies a few records, and the
# generic function (which inspects the fields on every call) was the largest single cost of a step.
# Each class gets a generated function with one keyword argument per field.
_T = TypeVar("_T")
_MISSING: Any = object()


def _make_replace(cls: type) -> Callable[..., Any]:
    names = [f.name for f in dataclasses.fields(cls)]
    params = ", ".join(f"{n}=_MISSING" for n in names)
    values = ", ".join(f"o.{n} if {n} is _MISSING else {n}" for n in names)
    namespace: dict[str, Any] = {"_MISSING": _MISSING, "_cls": cls}
    exec(f"def replace(o, *, {params}):\n    return _cls({values})", namespace)
    fn = namespace["replace"]
    fn.__doc__ = f"A copy of a {cls.__name__} with some fields replaced."
    return fn  # type: ignore[no-any-return]


_REPLACE: dict[type, Callable[..., Any]] = {
    cls: _make_replace(cls) for cls in (CoreJob, ProviderJob, Provider, Msg, Budgets, SystemState)
}


def replace(obj: _T, **changes: Any) -> _T:
    """``dataclasses.replace`` for the state records (several times faster); other dataclasses fall
    back to :func:`dataclasses.replace`. Unknown field names raise ``TypeError`` as it does."""
    fn = _REPLACE.get(type(obj))
    if fn is None:
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    return fn(obj, **changes)  # type: ignore[no-any-return]
