"""EASY backfilling (Lifka 1995; Mu'alem and Feitelson 2001): FCFS, plus younger jobs may jump the queue
when that cannot delay the oldest waiting job.

One pass at time ``now``:

1. Start queue heads in arrival order while they fit (this is FCFS).
2. The first job that does not fit, the *head*, gets a reservation. Walk the running jobs by estimated
   end (start + estimate; then by start order): the **shadow time** is the first estimated end at
   which the free processors reach the head's size. **Extra** = the processors free at the shadow
   time (every job estimated to end by then has ended) minus the head's size: what the head will
   not need even then. (Jobs estimated to end at the shadow time itself all count: the tie-break
   by start order only fixes the walk, not the answer.)
3. Scan the rest of the queue in order. Start a job now if it fits now and either
   ``now + estimate <= shadow`` (it ends before the head needs its processors), or its size
   ``<= extra`` (it only uses processors the head will not need; extra drops by its size).

Example: 4 processors; A runs 2 of them until t=10 (its estimate). Queue: B needs 4 (the head),
C needs 2 for 5 s, D needs 2 for 20 s. At t=0 the shadow time is 10 (A's end frees 2 + 2 free = 4),
extra is 0: C starts (it ends at 5 <= 10); D would hold 2 processors past 10, so it waits.

>>> from simulator.cluster import Cluster, Slice
>>> cluster, easy = Cluster.uniform(4), EasyPolicy()
>>> one = Slice(cores=1)
>>> easy.enqueue(QueuedJob(0, 2, one, submit=0, estimate=10, seq=0), now=0)   # A
>>> [j.id for j in easy.schedule(0, cluster)]
[0]
>>> for i, (size, est) in enumerate([(4, 30), (2, 5), (2, 20)], start=1):    # B, C, D
...     easy.enqueue(QueuedJob(i, size, one, submit=0, estimate=est, seq=i), now=0)
>>> [j.id for j in easy.schedule(0, cluster)]
[2]

Several resources
-----------------
With slices of cores, memory and GPUs, "processors" become the vector (cores, memory_gb, gpus):
sizes, free capacity and extra are vectors summed over replicas, "reaches" and "<=" hold in every
component, and "fits now" is the cluster's node-level answer (``cluster.can_place``). For single-core
nodes (the SWF replay) this is exactly classic EASY. With bigger nodes the reservation is computed on
pooled capacity and ignores fragmentation: the head may still not fit at the shadow time if its
replicas cannot be laid out on the freed nodes; it then gets a new reservation at the next pass.

Estimates: a running job that has outlived its estimate is taken to end *now*; a job with an unknown
estimate (``math.inf``) never ends for the reservation, and only backfills into extra capacity.

Cost of a pass
--------------
The heads started, plus the walk over running jobs up to the shadow time (they are kept sorted by
estimated end in :class:`RunningEstimates`, not re-sorted each pass), plus the backfill scan. A plain
scan of the queue costs O(queue) every pass, even when only one processor is free and no job is small
enough for it: with 50,000 waiting jobs that is milliseconds per event. So the waiting jobs sit in a
:class:`WaitingLine`, a min-tree over arrival positions of (cores needed, estimate): the scan jumps
from one *candidate* to the next in O(log queue), skipping every stretch of the queue where no job
fits in the free cores, and every stretch whose smallest job is too big for the extra cores while
its shortest estimate is too long for the shadow time. (Those two minima may belong to different
jobs, so a stretch is now and then entered in vain: the worst case stays linear, the usual case is
a handful of jumps.) The scan stops when no core is free. Candidates are then checked exactly
(memory and GPUs, node-level fit), so the result is that of the plain scan.
"""

from __future__ import annotations

import math

from simulator.cluster import Cluster, Heuristic
from simulator.policies.base import QueuedJob, RunningEstimates, SchedulingPolicy

__all__ = ["EasyPolicy", "WaitingLine"]

_Vec = tuple[int, int, int]
_NEVER: tuple[float, _Vec] = (math.inf, (0, 0, 0))


class WaitingLine:
    """Waiting jobs in arrival order, indexed for the backfill scan.

    Each job gets the next *position*; a position's leaf in a min-tree (an implicit binary tree in two
    flat lists) holds the job's total cores and its estimate, and every inner node the minimum of
    each over its range. :meth:`find` returns the first position at or after ``start`` whose job
    could be a backfill candidate, skipping whole ranges in O(log n). Removing a job clears its leaf.
    When the positions run out the live jobs are renumbered (and the tree doubled if more than half
    of it is live), so the cost is amortised O(log n) per job.

    >>> from simulator.cluster import Slice
    >>> line = WaitingLine()
    >>> for i, (cores, estimate) in enumerate([(8, 10), (4, 500), (1, 900), (2, 20)]):
    ...     line.append(QueuedJob(i, cores, Slice(1), submit=0, estimate=estimate, seq=i))
    >>> line.find(1, free=2, extra=0, horizon=100)   # job 3: 2 cores, ends within 100 s
    3
    >>> line.find(1, free=2, extra=1, horizon=100)   # job 2: 1 core, within the extra core
    2
    >>> line.remove(2), line.find(1, free=2, extra=1, horizon=5)
    (True, -1)
    """

    __slots__ = ("_cap", "_cores", "_estimate", "_head", "_jobs", "_pos")

    def __init__(self, capacity: int = 1024) -> None:
        self._cap = 1 << max(1, (capacity - 1).bit_length())
        self._jobs: list[QueuedJob | None] = []  # by position; None once gone
        self._pos: dict[int, int] = {}  # job id -> position, live jobs only
        self._head = 0  # first live position (or len(_jobs))
        self._cores: list[float] = [math.inf] * (2 * self._cap)
        self._estimate: list[float] = [math.inf] * (2 * self._cap)

    def __len__(self) -> int:
        return len(self._pos)

    def __bool__(self) -> bool:
        return bool(self._pos)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._pos

    def append(self, job: QueuedJob) -> None:
        """Add a job at the tail. Raises ``ValueError`` if a job with its id is already waiting."""
        if job.id in self._pos:
            raise ValueError(f"job {job.id} is already queued")
        if len(self._jobs) == self._cap:
            self._rebuild()
        pos = len(self._jobs)
        self._jobs.append(job)
        self._pos[job.id] = pos
        self._set(pos, job.size * job.slice.cores, job.estimate)

    def remove(self, job_id: int) -> bool:
        """Forget a waiting job (started or cancelled); ``False`` if it was not waiting."""
        pos = self._pos.pop(job_id, None)
        if pos is None:
            return False
        self._jobs[pos] = None
        self._set(pos, math.inf, math.inf)
        jobs, head = self._jobs, self._head
        while head < len(jobs) and jobs[head] is None:
            head += 1
        self._head = head
        return True

    def head(self) -> QueuedJob:
        """The oldest waiting job (``IndexError`` if none)."""
        if not self._pos:
            raise IndexError("the queue is empty")
        job = self._jobs[self._head]
        assert job is not None
        return job

    @property
    def head_position(self) -> int:
        return self._head

    def at(self, pos: int) -> QueuedJob:
        """The job at a live position (as returned by :meth:`find`)."""
        job = self._jobs[pos]
        assert job is not None, "a position find() returned is live"
        return job

    def find(self, start: int, free: float, extra: float, horizon: float) -> int:
        """The first position ``>= start`` whose job needs ``<= free`` cores and either ``<= extra``
        cores or an estimate ``<= horizon``; ``-1`` if there is none.

        An inner node is skipped when no job below can pass (its minimum cores exceed ``free``, or
        exceed ``extra`` while its minimum estimate exceeds ``horizon``); a leaf holds one job, so the
        test is exact there.
        """
        cap = self._cap
        if start >= len(self._jobs):
            return -1
        cores, estimate = self._cores, self._estimate
        i = start + cap
        while True:
            c = cores[i]
            if c <= free and (c <= extra or estimate[i] <= horizon):
                if i >= cap:
                    return i - cap
                i <<= 1  # descend: left child first, for the earliest position
                continue
            while i & 1:  # skip this range: climb while it is a right child...
                i >>= 1
            if i == 0:
                return -1  # ...past the root: nothing to the right
            i += 1  # ...then move to the range just right of it

    def _set(self, pos: int, cores: float, estimate: float) -> None:
        c, e = self._cores, self._estimate
        i = pos + self._cap
        c[i], e[i] = cores, estimate
        i >>= 1
        while i:
            lc, rc = c[2 * i], c[2 * i + 1]
            le, re = e[2 * i], e[2 * i + 1]
            nc = lc if lc < rc else rc
            ne = le if le < re else re
            if c[i] == nc and e[i] == ne:
                break  # the minima above are unchanged too
            c[i], e[i] = nc, ne
            i >>= 1

    def _rebuild(self) -> None:
        """Renumber the live jobs from 0 (and double the tree if they fill more than half of it)."""
        live = [j for j in self._jobs if j is not None]
        if 2 * len(live) > self._cap:
            self._cap *= 2
        cap = self._cap
        self._jobs = list(live)
        self._pos = {j.id: p for p, j in enumerate(live)}
        self._head = 0
        c = [math.inf] * (2 * cap)
        e = [math.inf] * (2 * cap)
        for p, j in enumerate(live):
            c[cap + p] = j.size * j.slice.cores
            e[cap + p] = j.estimate
        for i in range(cap - 1, 0, -1):
            c[i] = min(c[2 * i], c[2 * i + 1])
            e[i] = min(e[2 * i], e[2 * i + 1])
        self._cores, self._estimate = c, e


class EasyPolicy(SchedulingPolicy):
    """EASY backfilling: FCFS order, one reservation for the head, aggressive backfilling around it."""

    name = "easy"

    def __init__(self, *, placement: Heuristic = "least-full") -> None:
        super().__init__(placement=placement)
        self._queue = WaitingLine()
        self._running = RunningEstimates()

    def enqueue(self, job: QueuedJob, now: float) -> None:
        self._queue.append(job)

    def remove(self, job_id: int) -> bool:
        return self._queue.remove(job_id)

    def job_ended(self, job_id: int, now: float) -> None:
        self._running.remove(job_id)

    def __len__(self) -> int:
        return len(self._queue)

    def reservation(self, now: float, cluster: Cluster, head: QueuedJob) -> tuple[float, _Vec]:
        """The head's ``(shadow time, extra)`` as defined in the module docstring.

        ``(inf, (0, 0, 0))`` when the head needs more than the healthy cluster holds (it cannot start
        until nodes come back; then every job that fits may start, for none can delay it).
        """
        nc, nm, ng = head.need()
        fc, fm, fg = cluster.free
        if fc >= nc and fm >= nm and fg >= ng:
            # Pooled capacity suffices but the replicas do not fit on the nodes (fragmentation): the
            # reservation is for now, so only jobs within the spare capacity may start.
            return now, (fc - nc, fm - nm, fg - ng)
        ends = iter(self._running)
        shadow = math.inf
        for end, _, (c, m, g) in ends:
            fc, fm, fg = fc + c, fm + m, fg + g
            if fc >= nc and fm >= nm and fg >= ng:
                shadow = max(end, now)
                break
        else:
            return _NEVER
        # "Free at the shadow time": jobs estimated to end at that same instant free theirs too.
        for end, _, (c, m, g) in ends:
            if max(end, now) > shadow:
                break
            fc, fm, fg = fc + c, fm + m, fg + g
        return shadow, (fc - nc, fm - nm, fg - ng)

    def schedule(self, now: float, cluster: Cluster) -> list[QueuedJob]:
        started: list[QueuedJob] = []
        queue, running, placement = self._queue, self._running, self.placement
        # 1. FCFS while the heads fit.
        while queue:
            job = queue.head()
            if cluster.place(job.id, job.size, job.slice, placement) is None:
                break
            queue.remove(job.id)
            running.add(job.id, now, job.estimate, job.need())
            started.append(job)
        if not queue or cluster.free_cores == 0:
            return started
        # 2. The head's reservation.
        head = queue.head()
        shadow, (ec, em, eg) = self.reservation(now, cluster, head)
        # 3. Backfill, in queue order: jump from candidate to candidate (see "Cost of a pass").
        # The tree compares estimate <= horizon; the exact test below is now + estimate <= shadow, so
        # the horizon gets a hair of slack against rounding (a false candidate is merely re-checked).
        horizon = (shadow - now) * (1 + 1e-12) + 1e-9
        backfilled: list[QueuedJob] = []
        pos = queue.head_position + 1
        while (free := cluster.free_cores) > 0:  # every slice needs a core: none free, none starts
            pos = queue.find(pos, free, ec, horizon)
            if pos < 0:
                break
            job = queue.at(pos)
            pos += 1
            s = job.slice
            c, m, g = job.size * s.cores, job.size * s.memory_gb, job.size * s.gpus
            short = now + job.estimate <= shadow
            if not short and (c > ec or m > em or g > eg):
                continue
            if cluster.place(job.id, job.size, s, placement) is None:
                continue
            if not short:
                ec, em, eg = ec - c, em - m, eg - g
            running.add(job.id, now, job.estimate, (c, m, g))
            queue.remove(job.id)
            backfilled.append(job)
        started.extend(backfilled)
        return started
