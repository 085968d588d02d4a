"""EASY backfilling (Lifka 1995; Mu'alem and Feitelson 2001): FCFS, plus younger jobs may jump the queue
when that cannot delay the oldest waiting job.

One pass at time ``now``:

1. Start queue heads in arrival order while they fit (this is FCFS).
2. The first job that does not fit, the *head*, gets a reservation. Walk the running jobs by estimated
   end (start + estimate; then by start order): the **shadow time** is the first estimated end at
   which the free processors reach the head's size. **Extra** = the processors free at the shadow
   time (every job estimated to end by then has ended) minus the head's size: what the head will
   not need even then.
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

Cost of a pass: the heads started, plus the walk over running jobs up to the shadow time, plus a scan
of the queue that stops as soon as no core is free (no job fits then). The running jobs are kept
sorted by estimated end (:class:`RunningEstimates`), not re-sorted each pass.
"""

from __future__ import annotations

import math

from simulator.cluster import Cluster, Heuristic
from simulator.policies.base import ArrivalQueue, QueuedJob, RunningEstimates, SchedulingPolicy

__all__ = ["EasyPolicy"]

_Vec = tuple[int, int, int]
_NEVER: tuple[float, _Vec] = (math.inf, (0, 0, 0))


class EasyPolicy(SchedulingPolicy):
    """EASY backfilling: FCFS order, one reservation for the head, aggressive backfilling around it."""

    name = "easy"

    def __init__(self, *, placement: Heuristic = "least-full") -> None:
        super().__init__(placement=placement)
        self._queue = ArrivalQueue()
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
            queue.popleft()
            running.add(job.id, now, job.estimate, job.need())
            started.append(job)
        if not queue or cluster.free_cores == 0:
            return started
        # 2. The head's reservation.
        head = queue.head()
        shadow, (ec, em, eg) = self.reservation(now, cluster, head)
        # 3. Backfill, in queue order.
        backfilled: list[QueuedJob] = []
        for job in queue:
            if job is head:
                continue
            free = cluster.free_cores
            if free == 0:
                break  # every slice needs a core: nothing else can start in this pass
            s = job.slice
            c = job.size * s.cores
            if c > free:
                continue  # cheap early rejection before any vector arithmetic
            short = now + job.estimate <= shadow
            if not short:
                m, g = job.size * s.memory_gb, job.size * s.gpus
                if c > ec or m > em or g > eg:
                    continue
            if cluster.place(job.id, job.size, s, placement) is None:
                continue
            if not short:
                ec, em, eg = ec - c, em - m, eg - g
            running.add(job.id, now, job.estimate, job.need())
            backfilled.append(job)
        if backfilled:
            queue.remove_all(backfilled)
            started.extend(backfilled)
        return started
