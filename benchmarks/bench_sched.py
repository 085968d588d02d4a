"""How much a scheduling event costs under FCFS and EASY as the queue grows, and how fast ``ucsim swf``
replays a log next to accasim.

Figures:

* ``sched.<policy>_event_q<N>`` - microseconds per scheduling event (a running job ends and is
  released, a new job is enqueued, one scheduling pass runs) on 1,024 single-core nodes kept full,
  with about N jobs waiting. The 1k figures are measured against a bare event (the same heap and
  cluster operations with no policy: what any simulator must pay), or FCFS's own figure; each 50k
  figure against the same policy at 1k, so a ratio near 1 shows the cost stays flat as the queue
  grows 50-fold (a quadratic pass would show ~50);
* ``sched.replay_fcfs`` and ``sched.replay_easy`` - jobs/s of :func:`simulator.replay.replay_swf`
  (read, prepare, simulate) on a generated SWF log, against accasim's ``FirstInFirstOut`` and
  ``EASYBackfilling`` dispatchers (``FirstFit`` allocator, same file, same single-core nodes). The
  FCFS pair computes the same schedule (``tests/simulator/test_accasim_agreement.py``); accasim's
  EASY reserves nodes rather than a shadow time and extra processors, so that pair compares speed
  only. accasim's figure includes its construction, as ours includes reading the file.
"""

from __future__ import annotations

import functools
import heapq
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import Record, make_record, measure
from simulator.accasim_oracle import accasim_available, run_accasim
from simulator.cluster import Cluster, Slice
from simulator.policies import QueuedJob, make_policy
from simulator.replay import replay_swf
from simulator.swf import generate_swf, write_swf

__all__ = ["event_loop", "run"]

NODES = 1024
QUEUES = (1_000, 50_000)
REPLAY_PROCESSORS = 128
_ONE = Slice(cores=1)


def event_loop(policy_name: str | None, waiting: int, seed: int = 1) -> Callable[[int], int]:
    """A full machine of :data:`NODES` single-core nodes with about ``waiting`` jobs queued under the
    policy; returns ``events(k)``, which plays ``k`` scheduling events and returns how many jobs
    are waiting afterwards. ``policy_name=None`` gives the bare loop: same job ends and arrivals,
    the new job placed at once if it fits (or dropped), no queue and no policy.

    Jobs: power-of-two sizes up to 64 (small ones likelier), run times 1 min to 1 h, estimates 1 to 3
    times the run time; the new job of each event keeps the queue near its size.
    """
    rng = random.Random(seed)
    cluster = Cluster.uniform(NODES)
    policy = make_policy(policy_name) if policy_name else None
    ends: list[tuple[float, int]] = []
    runs: dict[int, float] = {}
    counter = 0

    def new_job(now: float) -> QueuedJob:
        nonlocal counter
        size = 1 << min(rng.randint(0, 6), rng.randint(0, 6))
        run = float(rng.randint(60, 3600))
        job = QueuedJob(counter, size, _ONE, now, run * rng.uniform(1.0, 3.0), "", counter)
        runs[job.id] = run
        counter += 1
        return job

    # Fill the machine (the queue only grows once the head no longer fits), then the queue.
    while True:
        job = new_job(0.0)
        if policy is None:
            if cluster.place(job.id, job.size, job.slice) is None:
                break
            heapq.heappush(ends, (runs[job.id], job.id))
            continue
        if len(policy) >= waiting:
            break
        policy.enqueue(job, 0.0)
        for started in policy.schedule(0.0, cluster):
            heapq.heappush(ends, (runs[started.id], started.id))

    def events(k: int) -> int:
        for _ in range(k):
            now, ended = heapq.heappop(ends)
            cluster.release(ended)
            job = new_job(now)
            if policy is None:
                if cluster.place(job.id, job.size, job.slice) is not None:
                    heapq.heappush(ends, (now + runs[job.id], job.id))
                continue
            policy.job_ended(ended, now)
            policy.enqueue(job, now)
            for started in policy.schedule(now, cluster):
                heapq.heappush(ends, (now + runs[started.id], started.id))
        return len(policy) if policy is not None else 0

    return events


def _event_cost(policy_name: str | None, waiting: int, count: int, rounds: int) -> tuple[float, int]:
    """Best-of-``rounds`` microseconds per event over ``count`` events from a fresh steady state."""
    holder: dict[str, Callable[[int], int]] = {}
    after: list[int] = []

    def setup() -> None:
        holder["events"] = event_loop(policy_name, waiting)
        holder["events"](50)  # warm up past the fill

    timing = measure(lambda: after.append(holder["events"](count)), repeat=rounds, setup=setup)
    return timing.best / count * 1e6, after[-1]


def _accasim_runner(scheduler: str) -> Callable[[Path, int, Path], None] | None:
    """A function running accasim's ``scheduler`` on an SWF file, or ``None`` if accasim is missing."""
    if not accasim_available():
        return None
    return functools.partial(run_accasim, scheduler=scheduler)


def run(
    quick: bool, *, events: int | None = None, jobs: int | None = None, repeat: int | None = None
) -> list[Record]:
    """Measure the figures above: ``events`` scheduling events per round (default 3,000, or 500 with
    ``quick``) and a replay of ``jobs`` generated jobs (default 20,000, or 3,000)."""
    count = events if events is not None else (500 if quick else 3_000)
    n_jobs = jobs if jobs is not None else (3_000 if quick else 20_000)
    rounds = repeat if repeat is not None else (3 if quick else 5)
    records: list[Record] = []
    common: dict[str, Any] = {"nodes": NODES, "events": count, "repeat": rounds, "quick": quick}

    bare, _ = _event_cost(None, 0, count, rounds)
    cost: dict[tuple[str, int], float] = {}
    for name in ("fcfs", "easy"):
        for waiting in QUEUES:
            cost[name, waiting], left = _event_cost(name, waiting, count, rounds)
            if waiting == QUEUES[0]:
                baseline, value = (
                    ("bare event, no policy", bare)
                    if name == "fcfs"
                    else ("fcfs, same queue", cost["fcfs", waiting])
                )
            else:
                baseline, value = f"{name} with {QUEUES[0]:,} waiting", cost[name, QUEUES[0]]
            records.append(
                make_record(
                    f"sched.{name}_event_q{waiting // 1000}k",
                    cost[name, waiting],
                    "us/event",
                    baseline=baseline,
                    baseline_value=value,
                    details={**common, "policy": name, "waiting_start": waiting, "waiting_end": left},
                )
            )

    with tempfile.TemporaryDirectory(prefix="bench_sched_") as tmp:
        folder = Path(tmp)
        workload = generate_swf(n_jobs, REPLAY_PROCESSORS, seed=7, load=0.9)
        path = folder / "generated.swf"
        write_swf(path, workload.jobs, workload.header)
        replay_rounds = 1 if quick else 3
        details = {"jobs": n_jobs, "processors": REPLAY_PROCESSORS, "load": 0.9, "repeat": replay_rounds}
        for name in ("fcfs", "easy"):
            ours = measure(
                lambda name=name: replay_swf(path, REPLAY_PROCESSORS, make_policy(name)), repeat=replay_rounds
            )
            runner = _accasim_runner(name)
            theirs = (
                None
                if runner is None
                else measure(
                    lambda runner=runner: runner(path, REPLAY_PROCESSORS, folder), repeat=replay_rounds
                )
            )
            records.append(
                make_record(
                    f"sched.replay_{name}",
                    ours.rate(n_jobs),
                    "jobs/s",
                    baseline=None if theirs is None else f"accasim {'FIFO' if name == 'fcfs' else 'EBF'}",
                    baseline_value=None if theirs is None else theirs.rate(n_jobs),
                    details={**details, "policy": name, "accasim": theirs is not None},
                )
            )
    return records
