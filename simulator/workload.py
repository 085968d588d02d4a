"""The workload: when requests arrive, which template each uses, and what happens to the job.

:class:`Workload` turns a :class:`~simulator.scenario.Scenario` into a lazy stream of
:class:`Arrival` records, in time order. Nothing is stored: a million jobs stream in constant memory,
and iterating again gives the same stream (it is a pure function of the scenario and its seed).

>>> from simulator.scenario import load_default_scenario
>>> scenario = load_default_scenario()
>>> first = next(iter(Workload(scenario)))
>>> first.seq, first.template == scenario.world().templates[first.template].index
(0, True)

Each arrival carries the *ground truth* of its job, decided up front: its true run time once
RUNNING, the exit code it ends with, whether and when its user cancels it, and when the user asks
for time extensions. The engine plays these out through the protocol; whether the truth becomes
visible (a job may expire first, or its node may fail) is the protocol's business.

Every concern draws from its own seeded stream (:mod:`simulator.rng`), and each arrival consumes a
*fixed* number of uniforms from each stream, whatever the outcome (the users' calls on running jobs,
follow, sessions and suspensions, draw eight from ``user-actions``). So changing one knob changes
only what it should: a higher cancellation probability cancels more jobs but does not change any run
time, and the fault settings do not touch the workload at all (:func:`fault_events` has streams of
its own).

Offered load
------------
The *offered load* is the work submitted per second divided by the capacity:
``rate x mean demand / cores``, with a job's demand ``replicas x cores per replica x E[min(run
time, allocation)]`` (core-seconds; refused requests demand nothing). :func:`arrival_rate_for_load`
inverts it, which is how ``offered_load = 0.85`` in a scenario becomes an arrival rate.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate, count
from typing import TYPE_CHECKING, Literal

from simulator.rng import Streams

if TYPE_CHECKING:
    import random

    from simulator.scenario import BurstyArrivals, PoissonArrivals, Scenario

__all__ = [
    "Arrival",
    "FaultEvent",
    "Workload",
    "arrival_rate_for_load",
    "arrivals",
    "fault_events",
    "offered_load",
]


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request a user sends, and the ground truth of the job it becomes.

    * ``seq``: 0, 1, 2, ... in arrival order;
    * ``time_s``: when the user calls ``jobs.create`` (seconds from the start);
    * ``template``: index into ``scenario.request_templates()`` and ``world.templates``, whose
      ``JobSpecification`` is sent; ``replicas`` is that template's replica count;
    * ``expect``: the status Core must answer for a deliberately invalid request (``None``: Core
      accepts it, unless the state refuses it, e.g. a public link already bound);
    * ``runtime_s``: how long the job runs once RUNNING if nothing stops it (its allocation may
      expire first: then it ends EXPIRED);
    * ``estimate_s``: the user's estimate, for backfilling policies: the time allocation
      (``math.inf`` without one), or the requested time of an SWF job;
    * ``exit_code``: how the job ends if it runs to its end;
    * ``cancel_after_s``: the user calls ``jobs.terminate`` this long after submitting (``None``:
      never); if the job is already final by then, the user does nothing;
    * ``extensions``: ``(at_s, amount_s)`` pairs: when the job's *running time* reaches ``at_s``, the
      user calls ``jobs.extend`` for ``amount_s`` more seconds (skipped if the job is final by then);
    * ``follow_s``: the user calls ``jobs.follow`` this long after the job started (``None``: never);
    * ``session``: ``(after_s, kind)``: the user opens an interactive session of ``kind`` (``WEB``,
      ``VNC`` or ``SHELL``) this long after the job started;
    * ``suspend``: ``(after_s, for_s)``: the user suspends the job when it has run ``after_s`` and
      unsuspends it ``for_s`` later (only jobs whose backend declares ``suspension``).
    """

    seq: int
    time_s: float
    template: int
    replicas: int
    expect: int | None
    runtime_s: float
    estimate_s: float
    exit_code: int
    cancel_after_s: float | None
    extensions: tuple[tuple[float, int], ...]
    follow_s: float | None = None
    session: tuple[float, str] | None = None
    suspend: tuple[float, float] | None = None


def arrival_rate_for_load(load: float, capacity_cores: float, mean_demand_core_s: float) -> float:
    """The arrival rate (per second) at which submitted work is ``load`` times the capacity.

    ``mean_demand_core_s`` is the mean core-seconds one arrival asks for (invalid requests count as
    0), so ``rate = load x capacity / mean demand``:

    >>> arrival_rate_for_load(0.85, capacity_cores=512, mean_demand_core_s=4 * 1800)
    0.06044444444444444
    """
    if load <= 0 or capacity_cores <= 0:
        raise ValueError(f"offered load and capacity must be positive (got {load}, {capacity_cores})")
    if mean_demand_core_s <= 0:
        raise ValueError("the mean job demand must be positive to reach an offered load")
    return load * capacity_cores / mean_demand_core_s


def offered_load(rate_per_s: float, capacity_cores: float, mean_demand_core_s: float) -> float:
    """Submitted work over capacity: ``rate x mean demand / capacity`` (the inverse of the above)."""
    return rate_per_s * mean_demand_core_s / capacity_cores


class Workload:
    """The arrivals of a scenario: synthetic (``workload.mix``) or an SWF replay (``workload.swf``).

    Iterate it for :class:`Arrival` records in time order; every iteration starts over and gives the
    same sequence. Arrivals stop after ``run.jobs`` of them or at ``run.until_s``.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.jobs = scenario.run.jobs
        self.until_s = scenario.run.until_s
        self.rate_per_s: float | None = None if scenario.workload.swf else scenario.arrival_rate_per_s()

    def __iter__(self) -> Iterator[Arrival]:
        source = self._swf() if self.scenario.workload.swf is not None else self._synthetic()
        jobs, until = self.jobs, self.until_s
        for arrival in source:
            if (jobs is not None and arrival.seq >= jobs) or (until is not None and arrival.time_s >= until):
                return
            yield arrival

    # -- synthetic -----------------------------------------------------------------------------------
    def _synthetic(self) -> Iterator[Arrival]:
        s = self.scenario
        w = s.workload
        streams = Streams(s.seed)
        times = arrival_times(w.arrivals, self.rate_per_s or 0.0, streams["arrivals"])
        mix_rng, invalid_rng, runtime_rng = streams["mix"], streams["invalid"], streams["runtimes"]
        exit_rng, cancel_rng, extend_rng = (
            streams["exit-codes"],
            streams["cancellations"],
            streams["extensions"],
        )
        user_rng = streams["user-actions"]

        info = s.template_info()
        entries, invalid = s.mix_plan()
        mix_entries = s.mix_entries()
        default_runtime = w.runtime_s.quantile
        # Per mix entry: cumulative replica weights, the templates, and the run-time quantile function.
        entry_cum = list(accumulate(weight for weight, _ in entries))
        plans: list[tuple[list[float], list[int], Callable[[float], float]]] = []
        for (_, reps), entry in zip(entries, mix_entries, strict=True):
            runtime = entry.runtime_s.quantile if entry.runtime_s is not None else default_runtime
            plans.append((list(accumulate(rw for _, rw in reps)), [t for t, _ in reps], runtime))
        invalid_cum = list(accumulate(weight for _, weight in invalid))
        invalid_templates = [t for t, _ in invalid]
        fraction = w.invalid.fraction if invalid else 0.0

        p_exit, codes = w.exit_codes.nonzero_probability, w.exit_codes.codes
        p_cancel, cancel_delay = w.cancellations.probability, w.cancellations.delay_s.quantile
        ext = w.extensions
        ext_span = ext.at_fraction_max - ext.at_fraction_min
        follow, sessions, suspensions = w.follow, w.sessions, w.suspensions
        kinds = sessions.kinds
        suspendable = tuple("suspension" in t.features for t in s.world().templates)

        for seq in count():
            time_s = next(times)
            # A fixed number of draws per stream and arrival (see the module docstring).
            u_entry, u_replicas = mix_rng.random(), mix_rng.random()
            u_invalid, u_kind = invalid_rng.random(), invalid_rng.random()
            u_runtime = runtime_rng.random()
            u_exit, u_code = exit_rng.random(), exit_rng.random()
            u_cancel, u_delay = cancel_rng.random(), cancel_rng.random()
            u_ext = [(extend_rng.random(), extend_rng.random()) for _ in range(ext.max_count)]
            u_follow, u_follow_at = user_rng.random(), user_rng.random()
            u_session, u_session_kind, u_session_at = user_rng.random(), user_rng.random(), user_rng.random()
            u_suspend, u_suspend_at, u_suspend_for = user_rng.random(), user_rng.random(), user_rng.random()

            if u_invalid < fraction:
                k = _pick(invalid_cum, u_kind)
                template = invalid_templates[k]
                runtime_s = default_runtime(u_runtime)
            else:
                cum, templates, runtime = plans[_pick(entry_cum, u_entry)]
                template = templates[_pick(cum, u_replicas)]
                runtime_s = runtime(u_runtime)
            t = info[template]
            alloc = t.allocation_s

            extensions: list[tuple[float, int]] = []
            if alloc is not None and t.expect is None:
                at, current = 0.0, float(alloc)
                for u_ask, u_at in u_ext:
                    if u_ask >= ext.probability:
                        break  # one extension is asked for only after the previous one
                    at = max(at, current * (ext.at_fraction_min + u_at * ext_span))
                    if at >= runtime_s:
                        break  # the job has ended by then: its user does not extend it
                    extensions.append((at, ext.amount_s))
                    current += ext.amount_s

            yield Arrival(
                seq=seq,
                time_s=time_s,
                template=template,
                replicas=t.replicas,
                expect=t.expect,
                runtime_s=runtime_s,
                estimate_s=float(alloc) if alloc is not None else math.inf,
                exit_code=codes[min(int(u_code * len(codes)), len(codes) - 1)] if u_exit < p_exit else 0,
                cancel_after_s=cancel_delay(u_delay) if u_cancel < p_cancel else None,
                extensions=tuple(extensions),
                follow_s=follow.delay_s.quantile(u_follow_at) if u_follow < follow.fraction else None,
                session=(
                    (
                        sessions.delay_s.quantile(u_session_at),
                        kinds[min(int(u_session_kind * len(kinds)), len(kinds) - 1)],
                    )
                    if u_session < sessions.fraction
                    else None
                ),
                suspend=(
                    (suspensions.after_s.quantile(u_suspend_at), suspensions.for_s.quantile(u_suspend_for))
                    if suspendable[template] and u_suspend < suspensions.fraction
                    else None
                ),
            )

    # -- SWF replay ----------------------------------------------------------------------------------
    def _swf(self) -> Iterator[Arrival]:
        """SWF jobs in file order, mapped as :mod:`simulator.replay` maps them: processors from field 8
        (else 5), run time field 4, estimate ``max(field 9, field 4)``; jobs without run time, processors
        or submit time are skipped. Status 0 (failed) exits 1; status 5 (cancelled) is cancelled by its
        user when it would have ended (wait + run after submission)."""
        from simulator.swf import SwfReader

        s = self.scenario
        swf = s.workload.swf
        path = s.swf_path()
        assert swf is not None and path is not None
        info = s.template_info()
        templates = s.swf_templates()
        scale = swf.time_scale
        first = info[next(iter(templates.values()))] if templates else None
        per_replica = swf.processors_per_replica or (first.cores if first else 1)
        seq, last = 0, -math.inf
        for job in SwfReader(path):
            procs = job.processors
            if job.run < 0 or procs <= 0 or job.submit < 0:
                continue
            time_s = job.submit * scale
            if time_s < last:
                raise ValueError(f"{path}: job {job.job} is submitted before the job above it; sort the file")
            last = time_s
            template = templates[-(-procs // per_replica)]
            t = info[template]
            runtime_s = job.run * scale
            estimate = job.estimate * scale
            cancel = (max(job.wait, 0) + job.run) * scale if job.status == 5 else None
            yield Arrival(
                seq=seq,
                time_s=time_s,
                template=template,
                replicas=t.replicas,
                expect=t.expect,
                runtime_s=runtime_s,
                estimate_s=estimate,
                exit_code=1 if job.status == 0 else 0,
                cancel_after_s=cancel,
                extensions=(),
            )
            seq += 1


def arrivals(scenario: Scenario) -> Iterator[Arrival]:
    """The scenario's arrivals (``iter(Workload(scenario))``)."""
    return iter(Workload(scenario))


def _pick(cumulative: list[float], u: float) -> int:
    """The index chosen by the uniform ``u`` among weights given as cumulative sums."""
    return min(bisect_right(cumulative, u * cumulative[-1]), len(cumulative) - 1)


def arrival_times(
    config: PoissonArrivals | BurstyArrivals, rate_per_s: float, rng: random.Random
) -> Iterator[float]:
    """The arrival instants (an endless, increasing stream) at mean rate ``rate_per_s``.

    Poisson: exponential gaps. Bursty: a two-state Markov-modulated Poisson process whose calm and
    burst rates ``r`` and ``k r`` keep the mean (``f k r + (1 - f) r = rate``, with ``f`` the fraction
    of time in bursts); phases last exponential times. Because both are memoryless, an arrival gap
    that crosses a phase change is simply redrawn from the change at the new rate.
    """
    t = 0.0
    if config.kind == "poisson":
        while True:
            t += -math.log1p(-rng.random()) / rate_per_s
            yield t
    f, k = config.burst_fraction, config.peak_factor
    calm_rate = rate_per_s / (f * k + 1.0 - f)
    mean_phase = {True: config.mean_burst_s, False: config.mean_burst_s * (1.0 - f) / f}
    bursting = rng.random() < f  # start in the stationary distribution of the phases
    phase_end = -math.log1p(-rng.random()) * mean_phase[bursting]
    while True:
        rate = calm_rate * k if bursting else calm_rate
        gap = -math.log1p(-rng.random()) / rate
        if t + gap < phase_end:
            t += gap
            yield t
        else:
            t = phase_end
            bursting = not bursting
            phase_end = t - math.log1p(-rng.random()) * mean_phase[bursting]


# ========================================================================================= faults


@dataclass(frozen=True, slots=True)
class FaultEvent:
    """Something breaks at ``time_s`` for ``duration_s``.

    * ``provider-crash``: ``provider`` is down (its volatile state lost) until ``time_s + duration_s``;
    * ``node-failure``: ``node`` of ``provider`` fails, killing its jobs, and is repaired after
      ``duration_s``;
    * ``core-restart``: UCloud/Core restarts and is down for ``duration_s``.
    """

    time_s: float
    kind: Literal["provider-crash", "node-failure", "core-restart"]
    duration_s: float
    provider: str | None = None
    node: str | None = None


def fault_events(scenario: Scenario) -> Iterator[FaultEvent]:
    """Every fault of the scenario in time order: an endless stream when a fault rate is set.

    Each target fails again only after it is back (failures count the time a target is up). Each
    provider's crashes and each provider's node failures use their own stream
    (``faults:provider-crash:<provider>``, ``faults:node-failure:<provider>``), so adding a provider
    or changing one's rate does not move another's faults, and none of them moves the workload.
    """
    streams = Streams(scenario.seed)
    faults = scenario.faults
    sources: list[Iterator[FaultEvent]] = []
    for p in scenario.providers:
        if faults.provider_crash.rate_per_s > 0 and (
            not faults.provider_crash.providers or p.name in faults.provider_crash.providers
        ):
            sources.append(
                _crashes(
                    p.name,
                    faults.provider_crash.rate_per_s,
                    p.behaviour.restart_delay_s.quantile,
                    streams[f"faults:provider-crash:{p.name}"],
                )
            )
        if faults.node_failure.rate_per_s > 0 and (
            not faults.node_failure.providers or p.name in faults.node_failure.providers
        ):
            sources.append(
                _node_failures(
                    p.name,
                    [n[0] for n in p.node_specs()],
                    faults.node_failure.rate_per_s,
                    faults.node_failure.repair_s.quantile,
                    streams[f"faults:node-failure:{p.name}"],
                )
            )
    restart = faults.core_restart
    if restart.times_s or restart.rate_per_s > 0:
        sources.append(
            _core_restarts(
                sorted(restart.times_s),
                restart.rate_per_s,
                restart.downtime_s.quantile,
                streams["faults:core-restart"],
            )
        )
    return heapq.merge(*sources, key=lambda e: e.time_s)


def _crashes(
    provider: str, rate: float, restart: Callable[[float], float], rng: random.Random
) -> Iterator[FaultEvent]:
    t = 0.0
    while True:
        t += -math.log1p(-rng.random()) / rate
        down = restart(rng.random())
        yield FaultEvent(t, "provider-crash", down, provider=provider)
        t += down


def _node_failures(
    provider: str, nodes: list[str], rate: float, repair: Callable[[float], float], rng: random.Random
) -> Iterator[FaultEvent]:
    # One renewal process per node (up ~ Exp(rate), then down for the repair), merged by a heap.
    heap = [(-math.log1p(-rng.random()) / rate, i) for i in range(len(nodes))]
    heapq.heapify(heap)
    while heap:
        t, i = heapq.heappop(heap)
        down = repair(rng.random())
        yield FaultEvent(t, "node-failure", down, provider=provider, node=nodes[i])
        heapq.heappush(heap, (t + down - math.log1p(-rng.random()) / rate, i))


def _core_restarts(
    times: list[float], rate: float, downtime: Callable[[float], float], rng: random.Random
) -> Iterator[FaultEvent]:
    scheduled = iter(times)
    next_fixed = next(scheduled, math.inf)
    next_random = -math.log1p(-rng.random()) / rate if rate > 0 else math.inf
    while next_fixed < math.inf or next_random < math.inf:
        if next_fixed <= next_random:
            t, next_fixed = next_fixed, next(scheduled, math.inf)
        else:
            t = next_random
            next_random = t - math.log1p(-rng.random()) / rate
        yield FaultEvent(t, "core-restart", downtime(rng.random()))
