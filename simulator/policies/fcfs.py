"""First come, first served: start the oldest waiting job while it fits; stop at the first that does not.

The simplest fair policy, and the baseline every other policy is measured against. No job ever
starts before an older one, so a big job at the head idles the processors that younger, smaller jobs
could have used (EASY backfilling, :mod:`simulator.policies.easy`, fills them).

>>> from simulator.cluster import Cluster, Slice
>>> cluster, fcfs = Cluster.uniform(4), FCFSPolicy()
>>> for i, size in enumerate([2, 3, 1]):
...     fcfs.enqueue(QueuedJob(i, size, Slice(cores=1), submit=0.0, seq=i), now=0.0)
>>> [job.id for job in fcfs.schedule(0.0, cluster)]   # job 1 needs 3 of the 2 free cores: 2 waits too
[0]
>>> len(fcfs)
2

A pass costs O(1 + jobs started): it looks at the head only.
"""

from __future__ import annotations

from simulator.cluster import Cluster, Heuristic
from simulator.policies.base import ArrivalQueue, QueuedJob, SchedulingPolicy

__all__ = ["FCFSPolicy"]


class FCFSPolicy(SchedulingPolicy):
    """First come, first served (arrival order), no backfilling."""

    name = "fcfs"

    def __init__(self, *, placement: Heuristic = "least-full") -> None:
        super().__init__(placement=placement)
        self._queue = ArrivalQueue()

    def enqueue(self, job: QueuedJob, now: float) -> None:
        self._queue.append(job)

    def remove(self, job_id: int) -> bool:
        return self._queue.remove(job_id)

    def schedule(self, now: float, cluster: Cluster) -> list[QueuedJob]:
        started: list[QueuedJob] = []
        queue = self._queue
        while queue:
            job = queue.head()
            if cluster.place(job.id, job.size, job.slice, self.placement) is None:
                break
            queue.popleft()
            started.append(job)
        return started

    def job_ended(self, job_id: int, now: float) -> None:
        pass  # FCFS looks only at the present: nothing to forget

    def __len__(self) -> int:
        return len(self._queue)
