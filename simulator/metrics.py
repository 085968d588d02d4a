"""Run-level figures of a simulation, gathered as it runs, in memory that does not grow with the run.

:class:`RunMetrics` collects what ``metrics.json`` reports: jobs by final state, refusals by reason,
waits (kept as a compact array of doubles for the median and the 95th percentile: 8 bytes a job),
bounded slowdowns (only their sum), busy core-milliseconds per provider, faults, violations, and a
time series of queue lengths and busy cores sampled at a fixed period for the plots (the period
doubles whenever the series grows past :data:`MAX_SAMPLES`, so it never holds more).

:class:`Coverage` counts how often each property's precondition held: a green run in which nothing
ever expired says nothing about the expiry properties, so ``metrics.json`` says how many steps each
property actually had something to judge.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from typing import TYPE_CHECKING, Any

from spec import actions as A
from spec.properties import PROPERTIES
from spec.state import EXPIRED, FINAL, UPDATE

if TYPE_CHECKING:
    from spec.state import SystemState
    from spec.system import Transition
    from spec.world import World

__all__ = ["MAX_SAMPLES", "Coverage", "RunMetrics", "percentile"]

MAX_SAMPLES = 4000
"""The time series keeps at most this many samples (then halves its resolution)."""


def percentile(ordered: Any, q: float) -> float:
    """Nearest-rank percentile of sorted values (as :mod:`simulator.replay` computes it).

    >>> percentile([1, 2, 3, 4], 50), percentile([1, 2, 3, 4], 95), percentile([], 50)
    (2.0, 4.0, 0.0)
    """
    if not len(ordered):
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def _nested(counts: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """``{(call, answer): n}`` as ``{call: {answer: n}}``, both levels sorted.

    >>> _nested(Counter({("jobs.follow", "200 streaming"): 2, ("jobs.suspend", "200"): 1}))
    {'jobs.follow': {'200 streaming': 2}, 'jobs.suspend': {'200': 1}}
    """
    out: dict[str, dict[str, int]] = {}
    for (call, answer), n in sorted(counts.items()):
        out.setdefault(call, {})[answer] = n
    return out


def median(ordered: Any) -> float:
    """The median of sorted values (the mean of the middle two for an even count)."""
    n = len(ordered)
    if not n:
        return 0.0
    mid = n // 2
    return float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# Indices of the raw counters of Coverage (plain list slots: the hot path only adds to them).
(
    _TOUCHED,
    _CONFIRMED,
    _CHANGES,
    _FINALS,
    _EXPIRIES,
    _TO_FINAL,
    _APPLIED,
    _EXPECTED,
    _DIFFERENT,
    _NEW_ALLOC,
    _RETRIES,
    _REFUSED,
    _GATED,
    _SESSIONS,
    _EXCLUSIVE,
    _BOUND,
    _RELEASES,
    _CHARGED,
    _USAGE_REPORTS,
    _CANCELS,
    _ELAPSED,
    _LOCK_STOPS,
    _ENDED,
) = range(23)

# property -> the raw counters whose sum is "the steps on which it had something to judge"
_SOURCES: dict[str, tuple[int, ...]] = {
    "state-domain": (_TOUCHED,),
    "no-resurrection": (_TO_FINAL,),
    "terminal-finality": (_TO_FINAL,),
    "valid-transition": (_CHANGES,),
    "only-owning-provider": (_APPLIED,),
    "expected-state": (_EXPECTED,),
    "expected-different-state": (_DIFFERENT,),
    "started-at-semantics": (_CHANGES,),
    "retry-idempotent": (_RETRIES,),
    "extension-exact": (_NEW_ALLOC,),
    "expired-only-after-allocation": (_EXPIRIES,),
    "outcome-matches-cause": (_FINALS,),
    "well-formed-spec": (_TOUCHED,),
    "feature-gating": (_TOUCHED,),
    "parameter-validity": (_TOUCHED,),
    "allocation-gate": (_TOUCHED,),
    "refused-creates-nothing": (_REFUSED,),
    "provider-acceptance": (_CONFIRMED,),
    "feature-gated-calls": (_GATED,),
    "sessions-only-while-running": (_SESSIONS,),
    "exclusive-binding": (_EXCLUSIVE,),
    "bound-holder-live": (_BOUND,),
    "bind-after-accept": (_BOUND,),
    "release-at-end": (_RELEASES,),
    "charge-only-running": (_CHARGED,),
    "charge-formula": (_USAGE_REPORTS,),
    "cancelled-eventually-terminal": (_CANCELS,),
    "resources-eventually-released": (_RELEASES,),
    "expiry-eventually-final": (_ELAPSED,),
    "locked-eventually-stopped": (_LOCK_STOPS,),
    "ended-eventually-reported": (_ENDED,),
}

_GATED_CALLS = frozenset({"jobs.extend", "jobs.interactiveSession", "jobs.suspend", "jobs.unsuspend"})
_ENDING = (A.Exit, A.NodeFail, A.AllocationElapsed, A.EnforceLock, A.Terminate)

# action kind -> the raw counters one step of it adds to (whatever its outcome)
_BY_ACTION: dict[type, tuple[int, ...]] = {kind: (_ENDED,) for kind in _ENDING}
_BY_ACTION[A.ReportUsage] = (_USAGE_REPORTS,)
_BY_ACTION[A.AllocationElapsed] = (_ELAPSED, _ENDED)
_BY_ACTION[A.EnforceLock] = (_LOCK_STOPS, _ENDED)


class Coverage:
    """How often each property's precondition held (see :data:`_SOURCES` for the definitions).

    * invariants: the touched jobs it was evaluated on that were in the states it is about (existing;
      confirmed for ``provider-acceptance``; referencing an exclusive resource; holding a binding;
      having a usage scope);
    * action properties: the calls or state changes it inspects (applied updates, updates carrying
      ``expectedState``, retried deliveries, changes into a final state or into EXPIRED, refused
      creates, feature-gated calls...);
    * liveness: the obligations raised (accepted cancellations, allocations used up, jobs stopped for
      a locked wallet, workloads ended at the provider, resources released at the end).
    """

    def __init__(self, world: World) -> None:
        self.raw = [0] * 23
        self._exclusive = tuple(bool(t.exclusive) for t in world.templates)

    def count(self, old: SystemState, action: Any, t: Transition) -> None:
        """Count the preconditions that held on one step (called on every step: kept lean, the
        action's counters looked up once in :data:`_BY_ACTION`)."""
        raw = self.raw
        calls = t.calls
        if calls:
            self._count_calls(raw, old, calls)
        counters = _BY_ACTION.get(type(action))
        if counters is not None:
            for i in counters:
                raw[i] += 1
        touched = t.touched
        if not touched:
            return
        s = t.state
        after_jobs, before_jobs = s.jobs, old.jobs
        bindings = s.bindings
        charged = bool(s.usage)  # a projection holds only the touched job's usage scope
        exclusive = self._exclusive
        for jid in touched:
            after = after_jobs.get(jid)
            if after is None:
                continue
            raw[_TOUCHED] += 1
            if after.confirmed:
                raw[_CONFIRMED] += 1
            before = before_jobs.get(jid)
            if before is not None and before.state != after.state:
                raw[_CHANGES] += 1
                if after.state in FINAL:
                    raw[_FINALS] += 1
                    if after.state == EXPIRED:
                        raw[_EXPIRIES] += 1
                    if any(jid in v for v in old.bindings.values()):
                        raw[_RELEASES] += 1
            if exclusive[after.template]:
                raw[_EXCLUSIVE] += 1
            if bindings and any(jid in v for v in bindings.values()):
                raw[_BOUND] += 1
            if charged:
                raw[_CHARGED] += 1

    @staticmethod
    def _count_calls(raw: list[int], old: SystemState, calls: tuple[Any, ...]) -> None:
        for c in calls:
            name = c.call
            if name == UPDATE:
                d = c.detail
                before = old.jobs.get(c.job)  # type: ignore[arg-type]
                if before is not None and before.state in FINAL:
                    raw[_TO_FINAL] += 1
                verdict = d[-1] if len(d) == 7 else None
                if verdict == "applied":
                    raw[_APPLIED] += 1
                    if d[2] is not None:
                        raw[_EXPECTED] += 1
                    if d[3]:
                        raw[_DIFFERENT] += 1
                    if d[4] is not None:
                        raw[_NEW_ALLOC] += 1
                elif verdict == "retry":
                    raw[_RETRIES] += 1
            elif name == "jobs.create":
                if c.status != 200:
                    raw[_REFUSED] += 1
            elif c.status == 200:
                if name in _GATED_CALLS:
                    raw[_GATED] += 1
                if name == "jobs.interactiveSession" or (name == "jobs.follow" and c.detail and c.detail[0]):
                    raw[_SESSIONS] += 1
                if name == "jobs.terminate":
                    raw[_CANCELS] += 1

    def by_property(self) -> dict[str, int]:
        """Property name -> count, for every property (in the spec's order)."""
        return {p.name: sum(self.raw[i] for i in _SOURCES.get(p.name, ())) for p in PROPERTIES}


class RunMetrics:
    """Everything ``metrics.json`` reports, accumulated as jobs end (see the module docstring)."""

    def __init__(self, providers: dict[str, int], sample_ms: int) -> None:
        self.cores = providers  # provider -> total cores of its cluster (nominal)
        self.submitted = 0
        self.accepted = 0
        self.refused: Counter[str] = Counter()
        self.states: Counter[str] = Counter()
        self.waits = array("d")
        self.slowdown_sum = 0.0
        self.slowdown_n = 0
        self.finished = 0
        self.busy_core_ms: dict[str, int] = dict.fromkeys(providers, 0)
        self.first_submit_ms: int | None = None
        self.last_end_ms = 0
        self.faults: Counter[str] = Counter()
        self.user_actions: Counter[tuple[str, str]] = Counter()  # (call, Core's answer) -> how often
        self.steps = 0
        self.sample_ms = sample_ms
        self.series: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = []

    def submit(self, time_ms: int) -> None:
        self.submitted += 1
        if self.first_submit_ms is None:
            self.first_submit_ms = time_ms

    def refuse(self, status: int | None, why: str | None) -> None:
        """A request that did not become a job: Core's status and reason (``None``: no answer)."""
        answer = "" if status is None else f"{status} "
        self.refused[f"{answer}{why}" if why else answer.strip() or "no answer"] += 1

    def job_done(self, state: str, submit_ms: int, start_ms: int, end_ms: int) -> None:
        """A job Core accepted leaves the simulation (or the run ends with it still live)."""
        self.states[state] += 1
        if end_ms >= 0:
            self.finished += 1
            if end_ms > self.last_end_ms:
                self.last_end_ms = end_ms
        if start_ms >= 0:
            wait = (start_ms - submit_ms) / 1000
            self.waits.append(wait)
            if end_ms >= 0:
                run = (end_ms - start_ms) / 1000
                self.slowdown_sum += max(1.0, (wait + run) / max(run, 10.0))
                self.slowdown_n += 1

    def sample(self, now_ms: int, queued: tuple[int, ...], busy: tuple[int, ...]) -> None:
        """One point of the time series (the caller samples every ``sample_ms``)."""
        self.series.append((now_ms / 1000, queued, busy))
        if len(self.series) > MAX_SAMPLES:
            self.series = self.series[::2]
            self.sample_ms *= 2

    def makespan_ms(self) -> int:
        return max(0, self.last_end_ms - (self.first_submit_ms or 0))

    def summary(self) -> dict[str, Any]:
        """The figures of ``metrics.json`` (without violations, coverage and provenance)."""
        waits = sorted(self.waits)
        makespan = self.makespan_ms() / 1000
        return {
            "jobs_submitted": self.submitted,
            "jobs_accepted": self.accepted,
            "jobs_by_state": dict(sorted(self.states.items())),
            "refused_by_reason": dict(sorted(self.refused.items())),
            "wait_mean_s": sum(waits) / len(waits) if waits else 0.0,
            "wait_median_s": median(waits),
            "wait_p95_s": percentile(waits, 95),
            "bounded_slowdown_mean": self.slowdown_sum / self.slowdown_n if self.slowdown_n else 0.0,
            "utilisation": {
                p: (self.busy_core_ms[p] / 1000 / (cores * makespan) if cores and makespan else 0.0)
                for p, cores in self.cores.items()
            },
            "makespan_s": makespan,
            "throughput_jobs_per_s": self.finished / makespan if makespan else 0.0,
            "faults": dict(sorted(self.faults.items())),
            "user_actions": _nested(self.user_actions),
            "protocol_steps": self.steps,
        }
