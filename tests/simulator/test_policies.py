"""FCFS and EASY: hand-worked cases, then 1,000 random workloads against a small independent reference.

The hand cases run through the replay's event loop (:func:`simulator.replay.simulate`) on P single-core
nodes: at each instant, completions, then arrivals in file order, then one pass. A job is written
``(submit, size, run, estimate)``; start times are worked out in the comments.
"""

from __future__ import annotations

import doctest
import math
import random

import pytest

import simulator.policies
import simulator.policies.base
import simulator.policies.easy
import simulator.policies.fcfs
from simulator.cluster import Cluster, Node, Slice
from simulator.policies import (
    POLICIES,
    EasyPolicy,
    FCFSPolicy,
    QueuedJob,
    SchedulingPolicy,
    UnknownPolicyError,
    make_policy,
    policy_names,
)
from simulator.policies.easy import WaitingLine
from simulator.replay import ReplayJob, simulate

Job = tuple[float, int, float, float]  # submit, size, run, estimate


def run(jobs: list[Job], processors: int, policy: str) -> list[float]:
    """Start times of ``jobs`` (in file order) under ``policy``."""
    replay = [ReplayJob(i, i + 1, 0, s, n, r, e) for i, (s, n, r, e) in enumerate(jobs)]
    simulate(replay, processors, make_policy(policy))
    return [j.start for j in replay]


@pytest.mark.parametrize(
    "module", [simulator.policies, simulator.policies.base, simulator.policies.fcfs, simulator.policies.easy]
)
def test_doctests(module: object) -> None:
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0  # type: ignore[arg-type]


# -- FCFS ---------------------------------------------------------------------------------------------


def test_fcfs_head_blocks_younger_jobs() -> None:
    # P=4. t=0: A (2 procs, 10 s) starts; B needs 4, only 2 free: waits; C (1 proc) fits but is behind B.
    # t=10: A ends, B starts (4 procs until 15). t=15: C starts.
    assert run([(0, 2, 10, 10), (0, 4, 5, 5), (0, 1, 1, 1)], 4, "fcfs") == [0, 10, 15]


def test_fcfs_completions_come_before_arrivals() -> None:
    # A holds all 4 processors until 10; B arrives at 10 and starts at once: A's end is handled first.
    assert run([(0, 4, 10, 10), (10, 4, 1, 1)], 4, "fcfs") == [0, 10]


def test_fcfs_equal_submit_times_keep_file_order() -> None:
    # Both arrive at 0; the first line goes first, the second waits for it (3 + 3 > 4).
    assert run([(0, 3, 5, 5), (0, 3, 5, 5)], 4, "fcfs") == [0, 5]
    assert run([(0, 3, 7, 7), (0, 3, 5, 5)], 4, "fcfs") == [0, 7]


def test_run_time_zero_waits_then_starts_and_ends_at_once() -> None:
    # A holds the machine until 10. B (run 0) starts at 10 and ends at 10; C starts in the second pass
    # at 10, when B's processors are free again.
    assert run([(0, 4, 10, 10), (0, 4, 0, 0), (0, 4, 3, 3)], 4, "fcfs") == [0, 10, 10]


def test_fcfs_starts_several_heads_in_one_pass() -> None:
    assert run([(0, 1, 5, 5), (0, 1, 5, 5), (0, 2, 5, 5), (0, 1, 5, 5)], 4, "fcfs") == [0, 0, 0, 5]


# -- EASY ---------------------------------------------------------------------------------------------


def test_easy_backfills_a_job_that_ends_before_the_shadow_time() -> None:
    # P=4. t=0: A (2 procs, est 10) starts. t=1: B needs 4: head; shadow = 10 (A's end), extra = 0.
    # t=2: C (2 procs, est 5) fits now and 2 + 5 = 7 <= 10: backfilled at 2. B starts at 10.
    jobs = [(0, 2, 10, 10), (1, 4, 5, 5), (2, 2, 5, 5)]
    assert run(jobs, 4, "easy") == [0, 10, 2]
    assert run(jobs, 4, "fcfs") == [0, 10, 15]


def test_easy_does_not_backfill_a_job_that_would_delay_the_head() -> None:
    # As above, but C's estimate is 9: 2 + 9 = 11 > 10 and its 2 processors > extra 0. It waits for B
    # (10..15) and starts at 15: never before the head.
    assert run([(0, 2, 10, 10), (1, 4, 5, 5), (2, 2, 9, 9)], 4, "easy") == [0, 10, 15]


def test_easy_backfills_into_extra_processors() -> None:
    # P=6. A (2 procs, est 10) runs. t=1: B needs 5: shadow 10, free then 6, extra = 1.
    # t=2: C (1 proc, est 100) is long but 1 <= extra: starts; extra drops to 0.
    # t=3: D (1 proc, est 100): fits now (3 free) but long and extra is 0: waits.
    # t=10: B starts (6 - 1 = 5 free). t=15: B ends, D starts.
    jobs = [(0, 2, 10, 10), (1, 5, 5, 5), (2, 1, 100, 100), (3, 1, 100, 100)]
    assert run(jobs, 6, "easy") == [0, 10, 2, 15]


def test_easy_recomputes_the_reservation_when_a_job_ends_early() -> None:
    # P=4. A: 2 procs, estimate 10 but runs only 3. t=1: B needs 4: head, shadow 10 (A's estimate).
    # t=2: C (2 procs, est 6): 2 + 6 = 8 <= 10: backfilled, ends at 8.
    # t=3: A ends early. t=4: D (2 procs, est 5) arrives and fits now. The shadow is recomputed from
    # the running jobs: only C (est. end 8), so shadow = 8, and 4 + 5 = 9 > 8: D must wait (with the
    # stale shadow 10 it would have started and delayed B). t=8: C ends, B starts (8..13). t=13: D.
    assert run([(0, 2, 3, 10), (1, 4, 5, 5), (2, 2, 6, 6), (4, 2, 5, 5)], 4, "easy") == [0, 8, 2, 13]
    # Same, but D's estimate is 4: 4 + 4 = 8 <= 8, so it backfills at 4.
    assert run([(0, 2, 3, 10), (1, 4, 5, 5), (2, 2, 6, 6), (4, 2, 4, 4)], 4, "easy") == [0, 8, 2, 4]


def test_easy_extra_counts_every_job_ending_at_the_shadow_time() -> None:
    # P=4. A and B (1 proc each, est 10) run. t=1: C needs 3: A's end at 10 brings 3 free (shadow 10);
    # B ends at 10 too, so 4 are free at the shadow time and extra = 1.
    # t=2: D (1 proc, est 50) uses that extra processor and starts at once. C starts at 10.
    assert run([(0, 1, 10, 10), (0, 1, 10, 10), (1, 3, 5, 5), (2, 1, 50, 50)], 4, "easy") == [0, 0, 10, 2]


def test_easy_respects_memory_in_the_reservation() -> None:
    """Multi-resource EASY: extra is a (cores, memory, gpus) vector."""
    cluster = Cluster([Node("n", cores=8, memory_gb=16)])
    easy = EasyPolicy()
    easy.enqueue(QueuedJob(0, 1, Slice(2, 4), submit=0, estimate=10, seq=0), 0)
    assert [j.id for j in easy.schedule(0, cluster)] == [0]  # free now (6 cores, 12 GB)
    # Head (7 cores, 12 GB) lacks cores; at the shadow time 10, (8, 16) is free: extra = (1, 4).
    easy.enqueue(QueuedJob(1, 1, Slice(7, 12), submit=0, estimate=5, seq=1), 0)
    easy.enqueue(QueuedJob(2, 1, Slice(1, 8), submit=0, estimate=100, seq=2), 0)  # 8 GB > 4: waits
    easy.enqueue(QueuedJob(3, 1, Slice(1, 2), submit=0, estimate=100, seq=3), 0)  # within extra: starts
    easy.enqueue(QueuedJob(4, 1, Slice(1, 8), submit=0, estimate=5, seq=4), 0)  # ends by 10: starts
    assert [j.id for j in easy.schedule(0, cluster)] == [3, 4]
    assert len(easy) == 2


# -- the interface ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["fcfs", "easy"])
def test_remove_and_job_ended(name: str) -> None:
    cluster = Cluster.uniform(2)
    policy = make_policy(name)
    for i in range(3):
        policy.enqueue(QueuedJob(i, 2, Slice(1), submit=0, estimate=10, seq=i), 0)
    assert [j.id for j in policy.schedule(0, cluster)] == [0]
    assert policy.remove(1) and not policy.remove(1) and not policy.remove(0)
    assert len(policy) == 1
    cluster.release(0)
    policy.job_ended(0, 5)
    assert [j.id for j in policy.schedule(5, cluster)] == [2]
    assert len(policy) == 0 and policy.schedule(5, cluster) == []


def test_registry() -> None:
    assert {"fcfs", "easy"} <= set(policy_names())
    assert POLICIES["fcfs"] is FCFSPolicy and POLICIES["easy"] is EasyPolicy
    assert make_policy("easy", placement="most-full").placement == "most-full"
    with pytest.raises(
        UnknownPolicyError, match=r"unknown scheduling policy 'sjf'; known policies: .*easy.*fcfs"
    ):
        make_policy("sjf")
    with pytest.raises(ValueError, match="unknown placement heuristic"):
        make_policy("fcfs", placement="random")


def test_a_user_policy_registers_itself_by_being_defined() -> None:
    class LastComeFirstServed(SchedulingPolicy):
        name = "test-lcfs"

        def __init__(self) -> None:
            super().__init__()
            self.stack: list[QueuedJob] = []

        def enqueue(self, job: QueuedJob, now: float) -> None:
            self.stack.append(job)

        def remove(self, job_id: int) -> bool:
            return False

        def schedule(self, now: float, cluster: Cluster) -> list[QueuedJob]:
            started = []
            while self.stack and cluster.place(self.stack[-1].id, self.stack[-1].size, self.stack[-1].slice):
                started.append(self.stack.pop())
            return started

        def job_ended(self, job_id: int, now: float) -> None:
            pass

        def __len__(self) -> int:
            return len(self.stack)

    class Unregistered(LastComeFirstServed, register=False):
        name = "test-unregistered"

    try:
        assert POLICIES["test-lcfs"] is LastComeFirstServed and "test-unregistered" not in POLICIES
        assert run([(0, 4, 10, 10), (1, 1, 1, 1), (2, 1, 1, 1)], 4, "test-lcfs") == [0, 10, 10]
    finally:
        del POLICIES["test-lcfs"]


def test_waiting_line_finds_what_a_plain_scan_finds() -> None:
    """EASY's indexed queue against a list scanned from the start, through growth and renumbering."""
    rng = random.Random(3)
    line = WaitingLine(capacity=4)  # tiny, so that it renumbers and grows many times
    plain: list[QueuedJob] = []
    next_id = 0
    for _ in range(4000):
        if rng.random() < 0.55 or not plain:
            job = QueuedJob(
                next_id, rng.randint(1, 9), Slice(rng.choice([1, 2])), 0, rng.choice([5, 50, math.inf])
            )
            line.append(job)
            plain.append(job)
            next_id += 1
        else:
            victim = rng.choice(plain)
            plain.remove(victim)
            assert line.remove(victim.id) and not line.remove(victim.id)
        assert len(line) == len(plain)
        if plain:
            assert line.head() is plain[0]
            free, extra, horizon = rng.randint(0, 12), rng.randint(0, 6), rng.choice([0, 10, 100])
            expected = [
                j.id
                for j in plain[1:]
                if (c := j.size * j.slice.cores) <= free and (c <= extra or j.estimate <= horizon)
            ]
            found, pos = [], line.head_position + 1
            while (pos := line.find(pos, free, extra, horizon)) >= 0:
                found.append(line.at(pos).id)
                pos += 1
            assert found == expected


# -- against an independent reference -----------------------------------------------------------------


def reference(jobs: list[Job], processors: int, easy: bool) -> list[float]:
    """FCFS / EASY written straight from their definitions, with no data structure to get wrong:
    quadratic, and only for single-core processors. Returns the start times in file order."""
    n = len(jobs)
    start: list[float] = [math.nan] * n
    arrived = [False] * n
    waiting: list[int] = []
    running: list[int] = []
    while True:
        times = [jobs[k][0] for k in range(n) if not arrived[k]] + [start[k] + jobs[k][2] for k in running]
        if not times:
            return start
        now = min(times)
        running = [k for k in running if start[k] + jobs[k][2] > now]  # completions first
        for k in range(n):  # then arrivals, in file order
            if not arrived[k] and jobs[k][0] == now:
                arrived[k] = True
                waiting.append(k)
        # then one pass: heads in order while they fit
        free = processors - sum(jobs[k][1] for k in running)
        while waiting and jobs[waiting[0]][1] <= free:
            k = waiting.pop(0)
            start[k], free = now, free - jobs[k][1]
            running.append(k)
        if not (easy and waiting):
            continue
        need = jobs[waiting[0]][1]
        # A running job's estimated end; one that has overrun its estimate ends "now".
        est_end = [max(start[k] + jobs[k][3], now) for k in running]
        free_at = {
            t: free + sum(jobs[k][1] for k, e in zip(running, est_end, strict=True) if e <= t)
            for t in est_end
        }
        shadow = min((t for t, f in free_at.items() if f >= need), default=math.inf)
        extra = free_at.get(shadow, 0) - need
        for k in list(waiting[1:]):
            size, estimate = jobs[k][1], jobs[k][3]
            if size > free:
                continue
            if now + estimate <= shadow:
                pass
            elif size <= extra:
                extra -= size
            else:
                continue
            waiting.remove(k)
            start[k], free = now, free - size
            running.append(k)


def random_workload(rng: random.Random) -> tuple[list[Job], int]:
    processors = rng.randint(2, 12)
    jobs: list[Job] = []
    for _ in range(20):
        submit = rng.randint(0, 40)  # few distinct instants: many ties
        size = rng.randint(1, processors)
        runtime = rng.choice([0, rng.randint(1, 5), rng.randint(1, 30)])
        roll = rng.random()
        if roll < 0.1:
            estimate = max(0, runtime - rng.randint(1, 5))  # under-estimated: the job overruns
        elif roll < 0.2:
            estimate = math.inf  # unknown
        else:
            estimate = runtime + rng.choice([0, 0, rng.randint(1, 20)])
        jobs.append((submit, size, runtime, estimate))
    jobs.sort(key=lambda j: j[0])  # a log is in submit order
    return jobs, processors


@pytest.mark.parametrize("policy", ["fcfs", "easy"])
def test_agrees_with_the_reference_on_1000_random_workloads(policy: str) -> None:
    rng = random.Random(f"policies-{policy}")
    for case in range(1000):
        jobs, processors = random_workload(rng)
        expected = reference(jobs, processors, easy=policy == "easy")
        got = run(jobs, processors, policy)
        assert got == expected, f"case {case}: P={processors} jobs={jobs}"


@pytest.mark.parametrize("policy", ["fcfs", "easy"])
def test_agrees_with_the_reference_on_a_longer_generated_log(policy: str) -> None:
    """Long queues (up to ~190 waiting) exercise the indexed backfill scan beyond the 20-job cases."""
    from simulator.swf import generate_swf

    workload = generate_swf(1500, 32, seed=9, load=1.3, max_size=16)
    jobs = [(j.submit, j.req_procs, j.run, j.req_time) for j in workload.jobs]
    assert run(jobs, 32, policy) == reference(jobs, 32, easy=policy == "easy")
