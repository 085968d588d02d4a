"""The scheduling-policy interface: what a provider's queue must do, and two helpers to build one.

A provider owns a :class:`~simulator.cluster.Cluster` and a :class:`SchedulingPolicy`. The driver (the
SWF replay, or the protocol-level simulator) tells the policy what happens and asks it to schedule:

* a job is submitted to the provider: :meth:`SchedulingPolicy.enqueue`;
* a queued job is cancelled: :meth:`SchedulingPolicy.remove`;
* a running job ends (done, cancelled, killed by a node failure): the driver releases it from the
  cluster, then calls :meth:`SchedulingPolicy.job_ended`;
* after the events of an instant: :meth:`SchedulingPolicy.schedule`, **one scheduling pass**. The
  policy places jobs on the cluster itself (``cluster.place``) and returns those it started, in the
  order it started them. The driver then runs them.

A policy never advances time and never ends a job: it only decides who starts now. It sees the
cluster, so it can ask ``cluster.can_place`` as often as it likes; it must not ``release`` anything.

Writing a policy
----------------
Subclass :class:`SchedulingPolicy`, give it a ``name`` and implement the five methods; register it in
:mod:`simulator.policies`. :class:`ArrivalQueue` (waiting jobs in arrival order, O(1) removal
anywhere) and :class:`RunningEstimates` (running jobs ordered by estimated end, for reservations)
are there to reuse. The smallest useful policy, FCFS, is :mod:`simulator.policies.fcfs`.
"""

from __future__ import annotations

import bisect
import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from simulator.cluster import HEURISTICS, Cluster, Heuristic, Slice

__all__ = ["POLICIES", "ArrivalQueue", "QueuedJob", "RunningEstimates", "SchedulingPolicy"]

POLICIES: dict[str, type[SchedulingPolicy]] = {}
"""Every concrete policy class by name, filled in as the classes are defined (see
:meth:`SchedulingPolicy.__init_subclass__`); :mod:`simulator.policies` re-exports it."""


@dataclass(slots=True)
class QueuedJob:
    """A job as a scheduler sees it.

    * ``id`` - unique among the jobs the policy knows (waiting or running);
    * ``size`` replicas of ``slice`` (a job of the SWF replay needing 64 processors is
      ``size=64, slice=Slice(cores=1)``);
    * ``submit`` - when it reached the provider (s);
    * ``estimate`` - estimated run time (s) for backfilling: the user's requested time, or
      ``math.inf`` if unknown (such a job never backfills ahead of a reservation unless it fits in
      the spare capacity);
    * ``owner`` - for fair-share style policies;
    * ``seq`` - arrival order, the tie-break among equal priorities (the driver numbers arrivals).
    """

    id: int
    size: int
    slice: Slice
    submit: float
    estimate: float = math.inf
    owner: str = ""
    seq: int = 0

    def need(self) -> tuple[int, int, int]:
        """Total (cores, memory_gb, gpus) over all replicas."""
        s = self.slice
        return (self.size * s.cores, self.size * s.memory_gb, self.size * s.gpus)


class SchedulingPolicy(ABC):
    """One provider's queue and scheduling rule. See the module docstring for the protocol.

    ``placement`` is the node heuristic the policy passes to ``cluster.place``
    (``"least-full"`` spreads replicas, ``"most-full"`` packs them).
    """

    name: ClassVar[str]
    """The name users select the policy by (``--policy NAME``)."""

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        """Register every concrete subclass that has a ``name`` in :data:`POLICIES`, so that importing
        its module is all it takes to make it selectable. ``class P(SchedulingPolicy, register=False)``
        opts out (handy for throw-away policies in tests)."""
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        # ABCMeta computes cls.__abstractmethods__ only after this hook runs: look for abstract methods.
        abstract = any(
            getattr(getattr(cls, m, None), "__isabstractmethod__", False)
            for m in SchedulingPolicy.__abstractmethods__
        )
        if not register or name is None or abstract:
            return
        known = POLICIES.get(name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"policy name {name!r} is taken by {known.__module__}.{known.__qualname__}")
        POLICIES[name] = cls

    def __init__(self, *, placement: Heuristic = "least-full") -> None:
        if placement not in HEURISTICS:
            raise ValueError(f"unknown placement heuristic {placement!r}; known: {', '.join(HEURISTICS)}")
        self.placement: Heuristic = placement

    @abstractmethod
    def enqueue(self, job: QueuedJob, now: float) -> None:
        """A job arrives and waits (it starts at the earliest at the next :meth:`schedule`)."""

    @abstractmethod
    def remove(self, job_id: int) -> bool:
        """A waiting job is cancelled; ``False`` if it was not waiting."""

    @abstractmethod
    def schedule(self, now: float, cluster: Cluster) -> list[QueuedJob]:
        """One scheduling pass at time ``now``: place jobs on ``cluster``, return them in start order."""

    @abstractmethod
    def job_ended(self, job_id: int, now: float) -> None:
        """A job this policy started has ended and has already been released from the cluster."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of waiting jobs."""

    def params(self) -> dict[str, Any]:
        """The parameters that tell two instances apart (for provenance in results)."""
        return {"placement": self.placement}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({params})"


class ArrivalQueue:
    """Waiting jobs in arrival order, with O(1) append, removal anywhere, and head access.

    A deque of jobs plus a dict of the live ones: removing a job only forgets it in the dict (a lazy
    deletion); dead entries are dropped when they reach the head, and the deque is compacted when
    more than half of it is dead, so memory and iteration stay proportional to the live jobs.

    >>> q = ArrivalQueue()
    >>> for i in range(4):
    ...     q.append(QueuedJob(i, 1, Slice(1), 0.0))
    >>> q.remove(0), q.remove(2), q.remove(7)
    (True, True, False)
    >>> [j.id for j in q], q.head().id, len(q)
    ([1, 3], 1, 2)
    """

    __slots__ = ("_live", "_order")

    def __init__(self) -> None:
        self._order: deque[QueuedJob] = deque()
        self._live: dict[int, QueuedJob] = {}

    def append(self, job: QueuedJob) -> None:
        """Add a job at the tail. Raises ``ValueError`` if a job with its id is already waiting."""
        if job.id in self._live:
            raise ValueError(f"job {job.id} is already queued")
        self._live[job.id] = job
        self._order.append(job)

    def remove(self, job_id: int) -> bool:
        """Forget a waiting job; ``False`` if it was not waiting."""
        if self._live.pop(job_id, None) is None:
            return False
        self._tidy()
        return True

    def remove_all(self, jobs: list[QueuedJob]) -> None:
        """Forget several waiting jobs at once (the jobs a pass started)."""
        for job in jobs:
            del self._live[job.id]
        self._tidy()

    def popleft(self) -> QueuedJob:
        """Remove and return the head."""
        job = self.head()
        del self._live[job.id]
        self._order.popleft()
        self._tidy()
        return job

    def head(self) -> QueuedJob:
        """The oldest waiting job (``IndexError`` if none)."""
        if not self._live:
            raise IndexError("the queue is empty")
        return self._order[0]  # _tidy keeps a live job at the head

    def _alive(self, job: QueuedJob) -> bool:
        # Identity, not id: a job cancelled and then resubmitted under the same id is a new entry.
        return self._live.get(job.id) is job

    def _tidy(self) -> None:
        order = self._order
        while order and not self._alive(order[0]):
            order.popleft()
        if len(order) > 2 * len(self._live) + 16:
            self._order = deque(j for j in order if self._alive(j))

    def __iter__(self) -> Iterator[QueuedJob]:
        """The waiting jobs in arrival order (do not change the queue while iterating)."""
        live = self._live
        for job in self._order:
            if live.get(job.id) is job:
                yield job

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._live

    def __bool__(self) -> bool:
        return bool(self._live)


class RunningEstimates:
    """Running jobs ordered by estimated end (start + estimate), then start order: what a backfilling
    policy needs to compute when a blocked job could start.

    A sorted list kept with :mod:`bisect`: O(log n) search and a memmove per insertion or removal,
    no sort per pass.

    >>> r = RunningEstimates()
    >>> r.add(1, start=0.0, estimate=50.0, need=(4, 0, 0))
    >>> r.add(2, start=5.0, estimate=10.0, need=(2, 0, 0))
    >>> [(job_id, end) for end, job_id, _ in r]
    [(2, 15.0), (1, 50.0)]
    >>> r.remove(2), len(r)
    (True, 1)
    """

    __slots__ = ("_entries", "_key", "_started")

    def __init__(self) -> None:
        self._entries: list[tuple[float, int, int, tuple[int, int, int]]] = []
        self._key: dict[int, tuple[float, int, int, tuple[int, int, int]]] = {}
        self._started = 0

    def add(self, job_id: int, start: float, estimate: float, need: tuple[int, int, int]) -> None:
        """A job started at ``start``; ``need`` is the (cores, memory_gb, gpus) it holds."""
        if job_id in self._key:
            raise ValueError(f"job {job_id} is already running")
        self._started += 1
        # The start counter makes keys unique, so tuples never compare the need or the id.
        entry = (start + estimate, self._started, job_id, need)
        self._key[job_id] = entry
        bisect.insort(self._entries, entry)

    def remove(self, job_id: int) -> bool:
        """A job ended; ``False`` if it was not running."""
        entry = self._key.pop(job_id, None)
        if entry is None:
            return False
        i = bisect.bisect_left(self._entries, entry)
        del self._entries[i]
        return True

    def __iter__(self) -> Iterator[tuple[float, int, tuple[int, int, int]]]:
        """``(estimated end, job id, need)`` by estimated end, then start order."""
        for end, _, job_id, need in self._entries:
            yield end, job_id, need

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._key
