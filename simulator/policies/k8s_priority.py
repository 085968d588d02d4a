"""UCloud's Kubernetes priority scheduler (the ``k8s`` integration of the Integration Module), as a policy.

A port of ``provider-integration/im2/pkg/integrations/k8s/scheduler.go`` (``Scheduler.Schedule``,
``trySchedule``, ``RegisterJobInQueue``) and of the intake buffer in ``k8s/shared/scheduler.go``
(``RequestSchedule``, ``SwapScheduleQueue``). UCloud runs one ``Scheduler`` per machine category, on
the nodes labelled with that category; one instance of this policy on one :class:`Cluster` is one of
them. Each pass does three things:

1. **Priority.** For every waiting job, three factors in [0, 1], normalised over the current queue:

   * *age*: time in the queue, ``(age - min age) / (max age - min age)``: the oldest job gets 1;
   * *job size*: cores over all replicas (``slice.cores * size``; memory and GPUs do not count),
     normalised the same way and turned around, ``1 - x``, so that the **smallest** job gets 1,
     unless ``favor_large_jobs``;
   * *fair share*: always 1 (UCloud's code says ``// TODO fairshare``), so it only shifts priorities.

   A factor whose span is 0 (all jobs equally old, or equally big) is 1 for every job. Then
   ``priority = weight_age * age + weight_job_size * job_size + weight_fair_share * fair_share``.
2. **Order.** Highest priority first; equal priorities by job id.
3. **Placement.** In that order, try to place *all* replicas of each job (gang placement). A job
   that fits starts now. A job that does not fit is skipped and the scan goes on (**backfill**, on by
   default): there is *no reservation*, so any later job that fits starts, however long it runs
   (UCloud's code has a ``TODO`` to backfill only jobs that end before the head could start). With
   ``backfill=False`` the pass stops at the first job that does not fit.

Where replicas go (UCloud's *job compaction*, on by default) is the cluster's ``"most-full"``
heuristic: each replica goes to the fullest node that still has room, so jobs pack onto few nodes and
whole nodes stay free for big jobs. ``placement="least-full"`` is UCloud's
``SchedulerDisableJobCompaction``: each replica goes to the emptiest node (spread).

Example: two 4-core nodes. Job 0 (2 cores) and job 1 (8 cores) have waited 10 s, job 2 (1 core) 5 s.
Ages give 1, 1, 0; sizes 2, 8, 1 give ``1 - 1/7``, 0 and 1; plus 1 for fair share, the priorities are
2.857, 2 and 2. Job 0 starts; job 1 needs 8 cores and only 6 are free; job 2 (same priority as job 1,
larger id) backfills past it.

>>> from simulator.cluster import Cluster, Slice
>>> cluster, policy = Cluster.uniform(2, cores=4), K8sPriorityPolicy()
>>> for i, (size, submit) in enumerate([(2, 0.0), (8, 0.0), (1, 5.0)]):
...     policy.enqueue(QueuedJob(i, size, Slice(cores=1), submit=submit, seq=i), now=10.0)
>>> [job.id for job in policy.schedule(10.0, cluster)]
[0, 2]
>>> [(entry.job.id, entry.priority) for entry in policy.queue()]
[(1, 2.0)]

The intake buffer
-----------------
UCloud does not put a job in the queue the moment it is asked to: ``RequestSchedule`` buffers
requests, and the next scheduling tick registers them (``SwapScheduleQueue`` then
``RegisterJobInQueue``). Both steps drop duplicates, in different ways, and so does this policy:

* several :meth:`~K8sPriorityPolicy.enqueue` of one job id between two passes leave **one** request,
  in the position of the first and with the data of the latest (a retried or duplicated delivery);
* at the pass, a request for a job that is already waiting or running is **ignored** (the queue keeps
  its old entry).

Deviations from UCloud
----------------------
* Ties: UCloud compares job ids as strings, and its comparator returns "equal" when the first id is
  the larger (``else if b.JobId > a.JobId`` repeats the first test), so among equal priorities its
  order depends on where the sort found them. This port uses the intended order: ascending id.
* Node order: UCloud ranks free capacity as ``(gpus, cpu, memory)`` and breaks ties by node name; the
  cluster ranks it as ``(cores, gpus, memory)`` and keeps nodes of equal free capacity in a stack. On
  nodes without GPUs (or with GPUs on every node of the category) the choice is the same up to the
  name of interchangeable nodes.
* Node faults: UCloud also keeps, per node, *limits* below its capacity (failed GPUs, a node that is
  not ready) and an *unschedulable* flag (a cordon) that stop new replicas without killing running
  ones. The cluster only knows a whole node failing (its jobs die) and coming back; see
  :meth:`~simulator.cluster.Cluster.fail_node`.
* Time: UCloud's age is wall-clock time since the job's creation in UCloud/Core; here it is
  ``now - job.submit`` (when the job reached the provider).

Cost of a pass: O(Q log Q) for the priorities and the sort, in the queue length Q. The placement scan
stops as soon as no core is free (every slice needs one), and remembers per slice the smallest gang
that did not fit in this pass (the cluster only gets fuller during a pass), so a long queue of jobs
that cannot start costs one dictionary look-up each, not a look at the cluster.
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

from simulator.cluster import Cluster, Heuristic, Slice
from simulator.policies.base import QueuedJob, SchedulingPolicy

__all__ = ["K8sPriorityPolicy", "QueueStatus", "RankedJob"]

QueueStatus = Literal["AVAILABLE", "BUSY", "FULL"]


class RankedJob(NamedTuple):
    """A waiting job with the factors and priority its last scheduling pass gave it (0 before any)."""

    job: QueuedJob
    priority: float
    age: float
    job_size: float
    fair_share: float


class _Entry:
    """A queue entry (``SchedulerQueueEntry``): the job and its factors, updated in place each pass."""

    __slots__ = ("age", "fair_share", "job", "job_size", "priority")

    def __init__(self, job: QueuedJob) -> None:
        self.job = job
        self.priority = 0.0
        self.age = 0.0
        self.job_size = 0.0
        self.fair_share = 0.0


def _rank(entry: _Entry) -> tuple[float, int]:
    return (-entry.priority, entry.job.id)


class K8sPriorityPolicy(SchedulingPolicy):
    """UCloud's Kubernetes scheduler: multi-factor priority, gang placement, backfill without reservation.

    Parameters are UCloud's ``Scheduler`` fields with their ``NewScheduler`` defaults:
    ``weight_age``, ``weight_job_size``, ``weight_fair_share`` (``WeightAge``, ...: all 1),
    ``favor_large_jobs`` (flag ``SchedulerFavorLargeJobs``: off), ``backfill`` (off with flag
    ``SchedulerDisableBackfill``: on), and ``placement``: ``"most-full"`` is job compaction (UCloud's
    default), ``"least-full"`` is the flag ``SchedulerDisableJobCompaction``.
    """

    name = "k8s-priority"

    def __init__(
        self,
        *,
        weight_age: float = 1.0,
        weight_job_size: float = 1.0,
        weight_fair_share: float = 1.0,
        favor_large_jobs: bool = False,
        backfill: bool = True,
        placement: Heuristic = "most-full",
    ) -> None:
        super().__init__(placement=placement)
        self.weight_age = float(weight_age)
        self.weight_job_size = float(weight_job_size)
        self.weight_fair_share = float(weight_fair_share)
        self.favor_large_jobs = bool(favor_large_jobs)
        self.backfill = bool(backfill)
        # Requests since the last pass (shared/scheduler.go: scheduledEntries + scheduledEntryOrder):
        # a dict keeps the first request's position and takes the latest request's data.
        self._incoming: dict[int, QueuedJob] = {}
        # The queue (Scheduler.Queue), in the order of the last pass, then registration order.
        self._queue: dict[int, _Entry] = {}
        # Jobs started by this policy and not yet ended (the jobs that have Scheduler.Replicas).
        self._running: set[int] = set()

    # -- the SchedulingPolicy protocol ---------------------------------------------------------------

    def enqueue(self, job: QueuedJob, now: float) -> None:
        """Ask for ``job`` to be scheduled; it joins the queue at the next pass (see "The intake buffer").

        Asking again for the same job id before that pass replaces the request (keeping its place);
        asking for a job already waiting or running is ignored at the pass.
        """
        # k8s/shared/scheduler.go: RequestSchedule (deduplicates by job id, latest entry wins)
        self._incoming[job.id] = job

    def remove(self, job_id: int) -> bool:
        """Cancel a waiting job (``RemoveJobFromQueue``), or a request not yet registered.

        UCloud handles removals at the start of its tick, before it registers new requests, so a
        request made just before its cancellation would still be registered there; here a
        cancellation also withdraws the request, as a cancelled job must never start.
        """
        requested = self._incoming.pop(job_id, None) is not None and job_id not in self._running
        return self._queue.pop(job_id, None) is not None or requested

    def schedule(self, now: float, cluster: Cluster) -> list[QueuedJob]:
        """One pass (``Scheduler.Schedule``): register requests, rank the queue, place in rank order."""
        self._register_incoming()
        entries = list(self._queue.values())
        if len(entries) > 1:  # UCloud ranks only a queue of two or more (one entry needs no order)
            self._prioritise(entries, now)
            entries.sort(key=_rank)

        started: list[QueuedJob] = []
        # Within one pass the cluster only fills up, so a gang of a slice that did not fit will not fit
        # later in the pass, nor will a bigger gang of the same slice: remember the smallest one.
        too_big: dict[Slice, int] = {}
        for entry in entries:
            job = entry.job
            if cluster.free_cores == 0:
                break  # nothing fits any more (every slice needs a core): the rest all wait
            if too_big.get(job.slice, math.inf) <= job.size:
                placed = False
            else:
                placed = cluster.place(job.id, job.size, job.slice, self.placement) is not None
                if not placed:
                    too_big[job.slice] = job.size
            if placed:
                started.append(job)
                self._running.add(job.id)
            elif not self.backfill:
                break  # k8s/scheduler.go: Schedule (SchedulerDisableBackfill: nothing passes the head)

        # The queue keeps the ranked order, minus the jobs that started (as UCloud's Scheduler.Queue).
        gone = {job.id for job in started}
        self._queue = {e.job.id: e for e in entries if e.job.id not in gone}
        return started

    def job_ended(self, job_id: int, now: float) -> None:
        """A started job ended; from now on a request under its id is a new job (``PruneReplicas``)."""
        self._running.discard(job_id)

    def __len__(self) -> int:
        """Waiting jobs: the queue plus the requests the next pass will register."""
        queue, running = self._queue, self._running
        return len(queue) + sum(1 for i in self._incoming if i not in queue and i not in running)

    def params(self) -> dict[str, Any]:
        return {
            "weight_age": self.weight_age,
            "weight_job_size": self.weight_job_size,
            "weight_fair_share": self.weight_fair_share,
            "favor_large_jobs": self.favor_large_jobs,
            "backfill": self.backfill,
            "placement": self.placement,
        }

    # -- inspection --------------------------------------------------------------------------------

    def pending(self) -> list[QueuedJob]:
        """The requests the next pass will register, in order (what ``SwapScheduleQueue`` returns)."""
        return list(self._incoming.values())

    def queue(self) -> list[RankedJob]:
        """The waiting jobs in the order of the last pass (later registrations after them), with the
        factors and priority that pass gave them. Requests not yet registered are not included."""
        return [RankedJob(e.job, e.priority, e.age, e.job_size, e.fair_share) for e in self._queue.values()]

    @staticmethod
    def queue_status(slice: Slice, cluster: Cluster) -> QueueStatus:
        """What UCloud advertises for a product (``retrieveProducts``' ``queueStatus``): ``AVAILABLE``
        if two replicas of ``slice`` fit now, ``BUSY`` if only one does, ``FULL`` if none.

        >>> from simulator.cluster import Cluster, Slice
        >>> cluster = Cluster.uniform(1, cores=4)
        >>> [K8sPriorityPolicy.queue_status(Slice(cores=c), cluster) for c in (2, 4, 8)]
        ['AVAILABLE', 'BUSY', 'FULL']
        """
        # k8s/monitoring.go: the queueStatusMap loop (trySchedule of a 1-replica and a 2-replica entry)
        if cluster.can_place(2, slice):
            return "AVAILABLE"
        return "BUSY" if cluster.can_place(1, slice) else "FULL"

    # -- the steps of a pass -----------------------------------------------------------------------

    def _register_incoming(self) -> None:
        # k8s/monitoring.go: SwapScheduleQueue, then RegisterJobInQueue for each request, in order;
        # RegisterJobInQueue skips a job that already has replicas or is already in the queue.
        incoming, self._incoming = self._incoming, {}
        queue, running = self._queue, self._running
        for job_id, job in incoming.items():
            if job_id not in queue and job_id not in running:
                queue[job_id] = _Entry(job)

    def _prioritise(self, entries: list[_Entry], now: float) -> None:
        # k8s/scheduler.go: Schedule, "Calculate factors and set priority"
        ages = [now - e.job.submit for e in entries]
        sizes = [e.job.slice.cores * e.job.size for e in entries]  # CpuMillis * Replicas: cores only
        min_age, age_span = min(ages), max(ages) - min(ages)
        min_size, size_span = min(sizes), max(sizes) - min(sizes)
        w_age, w_size, w_fair = self.weight_age, self.weight_job_size, self.weight_fair_share
        favor_large = self.favor_large_jobs
        for entry, age, size in zip(entries, ages, sizes, strict=True):
            entry.age = 1.0 if age_span == 0 else (age - min_age) / age_span
            if size_span == 0:
                entry.job_size = 1.0
            else:
                share = (size - min_size) / size_span
                entry.job_size = share if favor_large else 1.0 - share
            entry.fair_share = 1.0  # UCloud: "// TODO fairshare"
            entry.priority = w_age * entry.age + w_size * entry.job_size + w_fair * entry.fair_share
