"""Fake hardware: nodes with cores, memory and GPUs, and gang placement of jobs onto them.

A job asks for ``size`` replicas of one :class:`Slice` (a UCloud compute product *is* a slice of a
node: so many cores, so much memory, so many GPUs). A :class:`Cluster` places **all replicas at once or
none** (gang placement, as UCloud's Kubernetes scheduler does); several replicas of one job may share a
node when it has room for them.

>>> cluster = Cluster.uniform(4, cores=8, memory_gb=32)
>>> cluster.can_place(3, Slice(cores=4, memory_gb=8))
True
>>> placement = cluster.place("job-1", 3, Slice(cores=4, memory_gb=8), heuristic="most-full")
>>> sorted(placement.nodes.values())   # most-full packs: two replicas on one node, one on another
[1, 2]
>>> cluster.free_cores, cluster.busy_cores, cluster.total_cores
(20, 12, 32)
>>> cluster.can_place(6, Slice(cores=4))   # 20 cores are free, but only five 4-core holes exist
False
>>> killed = cluster.fail_node(next(iter(placement.nodes)))
>>> killed, cluster.free_cores, cluster.total_cores   # the job dies; the failed node's 8 cores vanish
(['job-1'], 24, 24)

How it stays fast
-----------------
Nodes are grouped into **capacity classes**: all nodes whose *free* capacity vector
``(cores, memory, gpus)`` is the same sit in one bucket. A question like "can 5,000 one-core replicas
be placed?" is answered by looking at each bucket once (how many replicas fit on one of its nodes,
times how many nodes it holds), not at each node. A cluster of 100,000 identical single-core nodes has
just two buckets, "one core free" and "full", whatever its load. Placing a job touches only the nodes
that receive replicas (a placement names them, so that releasing touches the same nodes and nothing
else). A node failure, rare next to placements, finds its victims by scanning the placements rather
than every placement paying for a per-node job table.

Placement heuristics
--------------------
Replicas are placed one at a time, each on the node chosen by the heuristic among those where it fits:

* ``"least-full"`` (spread): the node with the most free capacity;
* ``"most-full"`` (pack, bin-packing): the node with the least free capacity that still fits.

"Most/least free" compares free vectors as ``(cores, gpus, memory)`` tuples, lexicographically, so
there are no ties between different classes. Nodes of one class are interchangeable; which of them
is taken is deterministic (a stack per class), so a run is reproducible. Replica-at-a-time greedy is
computed in batches (every node of the chosen class at once), which gives exactly the same result.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = ["HEURISTICS", "Cluster", "Heuristic", "Node", "Placement", "Slice"]

Heuristic = Literal["least-full", "most-full"]
HEURISTICS: tuple[Heuristic, ...] = ("least-full", "most-full")

JobId = Hashable
_Vec = tuple[int, int, int]  # (cores, memory_gb, gpus): free or total capacity of one node


@dataclass(frozen=True, slots=True)
class Slice:
    """What one replica of a job needs: ``cores`` (at least 1), ``memory_gb`` and ``gpus`` (0 = none).

    A product is a slice: ``u1-standard-4`` might be ``Slice(cores=4, memory_gb=16)``.
    """

    cores: int
    memory_gb: int = 0
    gpus: int = 0

    def __post_init__(self) -> None:
        # Every UCloud compute product has at least one core; requiring it also guarantees that a
        # cluster with no free core has room for nothing, which lets schedulers stop scanning early.
        if self.cores < 1 or self.memory_gb < 0 or self.gpus < 0:
            raise ValueError(f"a slice needs cores >= 1, memory_gb >= 0 and gpus >= 0, got {self}")

    def per_node(self, free: _Vec) -> int:
        """How many replicas of this slice fit in a node with ``free`` = (cores, memory_gb, gpus)."""
        k = free[0] // self.cores
        if self.memory_gb and k:
            k = min(k, free[1] // self.memory_gb)
        if self.gpus and k:
            k = min(k, free[2] // self.gpus)
        return k


@dataclass(frozen=True, slots=True)
class Node:
    """One machine: a name and its total capacity."""

    name: str
    cores: int
    memory_gb: int = 0
    gpus: int = 0

    def __post_init__(self) -> None:
        if self.cores < 0 or self.memory_gb < 0 or self.gpus < 0:
            raise ValueError(f"node capacity must be non-negative, got {self}")


class Placement:
    """Where a running job's replicas are: :attr:`nodes` maps node name to the replicas it holds.

    The mapping is built when first asked for: a replay placing millions of replicas never needs it.
    """

    __slots__ = ("_names", "_nodes", "_where", "job_id", "size", "slice")

    def __init__(
        self, job_id: JobId, size: int, slice: Slice, where: list[tuple[int, int]], names: list[str]
    ) -> None:
        self.job_id, self.size, self.slice = job_id, size, slice
        self._where, self._names = where, names
        self._nodes: dict[str, int] | None = None

    @property
    def nodes(self) -> dict[str, int]:
        if self._nodes is None:
            names = self._names
            self._nodes = {names[i]: r for i, r in self._where}
        return self._nodes

    def __repr__(self) -> str:
        return f"Placement(job_id={self.job_id!r}, size={self.size}, slice={self.slice}, nodes={self.nodes})"


class Cluster:
    """Nodes, their free capacity, and the jobs placed on them. See the module docstring.

    Failed nodes (:meth:`fail_node`) hold nothing and count in no total until :meth:`repair_node`.
    Capacity is never exceeded: every method keeps ``0 <= free <= capacity`` on every node, and
    :meth:`check` verifies that (and every other internal invariant) from scratch, for tests.
    """

    __slots__ = (
        "_buckets",
        "_cap",
        "_failed",
        "_free",
        "_free_totals",
        "_index",
        "_jobs",
        "_names",
        "_pos",
        "_totals",
    )

    def __init__(self, nodes: Iterable[Node]) -> None:
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._cap: list[_Vec] = []
        for node in nodes:
            if node.name in self._index:
                raise ValueError(f"duplicate node name {node.name!r}")
            self._index[node.name] = len(self._names)
            self._names.append(node.name)
            self._cap.append((node.cores, node.memory_gb, node.gpus))
        self._free: list[_Vec] = list(self._cap)
        self._failed: list[bool] = [False] * len(self._names)
        # Capacity classes: free vector -> stack of node indices; _pos[i] = index of node i in its stack,
        # so that any node leaves its class in O(1) (swap with the top, pop).
        self._buckets: dict[_Vec, list[int]] = {}
        self._pos: list[int] = [0] * len(self._names)
        for i, vec in enumerate(self._free):
            self._bucket_add(i, vec)
        self._jobs: dict[JobId, tuple[Slice, int, list[tuple[int, int]]]] = {}
        self._totals = [sum(c[d] for c in self._cap) for d in range(3)]
        self._free_totals = list(self._totals)

    @classmethod
    def uniform(
        cls, count: int, cores: int = 1, memory_gb: int = 0, gpus: int = 0, prefix: str = "node"
    ) -> Cluster:
        """``count`` identical nodes named ``<prefix>0``, ``<prefix>1``, ... (the SWF replay's shape)."""
        if count < 0:
            raise ValueError("count must be >= 0")
        return cls(Node(f"{prefix}{i}", cores, memory_gb, gpus) for i in range(count))

    # -- capacity classes ---------------------------------------------------------------------------

    def _bucket_add(self, i: int, vec: _Vec) -> None:
        stack = self._buckets.get(vec)
        if stack is None:
            stack = self._buckets[vec] = []
        self._pos[i] = len(stack)
        stack.append(i)

    def _bucket_remove(self, i: int, vec: _Vec) -> None:
        stack = self._buckets[vec]
        last = stack.pop()
        if last != i:
            p = self._pos[i]
            stack[p] = last
            self._pos[last] = p
        if not stack:
            del self._buckets[vec]

    def _best_bucket(self, s: Slice, heuristic: Heuristic) -> tuple[_Vec, int] | None:
        """The class the heuristic picks for the next replica of ``s``, and replicas per node there."""
        best: _Vec | None = None
        best_key: tuple[int, int, int] = (0, 0, 0)
        best_k = 0
        most = heuristic == "least-full"
        for vec in self._buckets:
            k = s.per_node(vec)
            if not k:
                continue
            key = (vec[0], vec[2], vec[1])  # cores, then gpus, then memory: see "Placement heuristics"
            if best is None or (key > best_key if most else key < best_key):
                best, best_key, best_k = vec, key, k
        return None if best is None else (best, best_k)

    # -- queries ------------------------------------------------------------------------------------

    def can_place(self, size: int, slice: Slice) -> bool:
        """Whether all ``size`` replicas of ``slice`` fit now (several may share a node)."""
        if size <= 0:
            return size == 0
        fc, fm, fg = self._free_totals
        if size * slice.cores > fc or size * slice.memory_gb > fm or size * slice.gpus > fg:
            return False  # not even the pooled free capacity suffices: no need to look at classes
        need = size
        for vec, stack in self._buckets.items():
            k = slice.per_node(vec)
            if k:
                need -= k * len(stack)
                if need <= 0:
                    return True
        return False

    @property
    def total_cores(self) -> int:
        """Cores of the healthy nodes."""
        return self._totals[0]

    @property
    def free_cores(self) -> int:
        """Cores of the healthy nodes not held by a job."""
        return self._free_totals[0]

    @property
    def busy_cores(self) -> int:
        """Cores held by running jobs."""
        return self._totals[0] - self._free_totals[0]

    @property
    def total(self) -> tuple[int, int, int]:
        """Capacity of the healthy nodes as ``(cores, memory_gb, gpus)``."""
        c, m, g = self._totals
        return (c, m, g)

    @property
    def free(self) -> tuple[int, int, int]:
        """Free capacity of the healthy nodes as ``(cores, memory_gb, gpus)`` (pooled over nodes)."""
        c, m, g = self._free_totals
        return (c, m, g)

    @property
    def running(self) -> list[JobId]:
        """Ids of the jobs placed, in placement order."""
        return list(self._jobs)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def __len__(self) -> int:
        """Number of nodes, failed ones included."""
        return len(self._names)

    def nodes(self) -> Iterator[Node]:
        """Every node with its total capacity, failed ones included."""
        for name, (c, m, g) in zip(self._names, self._cap, strict=True):
            yield Node(name, c, m, g)

    def node_free(self, name: str) -> tuple[int, int, int]:
        """Free capacity of one node (``(0, 0, 0)`` while it is failed)."""
        i = self._node(name)
        return (0, 0, 0) if self._failed[i] else self._free[i]

    def is_failed(self, name: str) -> bool:
        """Whether the node is down (see :meth:`fail_node`)."""
        return self._failed[self._node(name)]

    def placement(self, job_id: JobId) -> Placement | None:
        """Where a running job is, or ``None`` if it is not placed."""
        entry = self._jobs.get(job_id)
        if entry is None:
            return None
        s, size, where = entry
        return Placement(job_id, size, s, where, self._names)

    def capacity_classes(self) -> dict[tuple[int, int, int], int]:
        """Free capacity vector -> number of healthy nodes with exactly that free capacity."""
        return {vec: len(stack) for vec, stack in self._buckets.items()}

    def _node(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"no node named {name!r}") from None

    # -- changes ------------------------------------------------------------------------------------

    def place(
        self, job_id: JobId, size: int, slice: Slice, heuristic: Heuristic = "least-full"
    ) -> Placement | None:
        """Place all ``size`` replicas of ``slice`` for ``job_id``, or nothing (returns ``None``).

        Raises ``ValueError`` for a job already placed, a size below 1 or an unknown heuristic.
        """
        if job_id in self._jobs:
            raise ValueError(f"job {job_id!r} is already placed")
        if size < 1:
            raise ValueError(f"a job needs at least one replica, got size={size}")
        if heuristic not in HEURISTICS:
            raise ValueError(f"unknown placement heuristic {heuristic!r}; known: {', '.join(HEURISTICS)}")
        if not self.can_place(size, slice):
            return None
        sc, sm, sg = slice.cores, slice.memory_gb, slice.gpus
        buckets, free, pos = self._buckets, self._free, self._pos
        where: list[tuple[int, int]] = []
        remaining = size
        spread = heuristic == "least-full"
        revisits = False  # may a node get replicas in two rounds (spreading over roomy nodes)?
        while remaining:
            chosen = self._best_bucket(slice, heuristic)
            assert chosen is not None, "can_place said yes, so every replica has a place"
            vec, k = chosen
            stack = buckets[vec]
            # least-full: one replica on each node of the class (the class stays the emptiest while it
            # has nodes: the nodes that received a replica are now strictly fuller than it).
            # most-full: fill a node before taking the next (once it has a replica it is the fullest
            # node that still fits, if it still fits).
            per = 1 if spread else min(k, remaining)
            revisits = revisits or (spread and k > 1)
            count = min(len(stack), -(-remaining // per))
            cut = len(stack) - count
            taken = stack[cut:]
            del stack[cut:]
            if not stack:
                del buckets[vec]
            # Every taken node gets `per` replicas, but the last one may get fewer (most-full).
            full = count if count * per <= remaining else count - 1
            if full:
                filled = taken if full == count else taken[:full]
                new = (vec[0] - per * sc, vec[1] - per * sm, vec[2] - per * sg)
                target = buckets.get(new)
                if target is None:
                    target = buckets[new] = []
                base = len(target)
                target.extend(filled)
                for offset, i in enumerate(filled):
                    free[i] = new
                    pos[i] = base + offset
                where.extend([(i, per) for i in filled])
                remaining -= full * per
            if full < count:
                i, r = taken[-1], remaining
                new = (vec[0] - r * sc, vec[1] - r * sm, vec[2] - r * sg)
                free[i] = new
                self._bucket_add(i, new)
                where.append((i, r))
                remaining = 0
        if revisits:
            where = _merge(where)
        self._jobs[job_id] = (slice, size, where)
        ft = self._free_totals
        ft[0] -= size * sc
        ft[1] -= size * sm
        ft[2] -= size * sg
        return Placement(job_id, size, slice, where, self._names)

    def release(self, job_id: JobId) -> bool:
        """Free a job's replicas (it ended, was cancelled or killed). ``False`` if it was not placed."""
        entry = self._jobs.pop(job_id, None)
        if entry is None:
            return False
        s, size, where = entry
        sc, sm, sg = s.cores, s.memory_gb, s.gpus
        buckets, free, pos = self._buckets, self._free, self._pos
        # A placed job never holds a failed node: fail_node releases its jobs before taking it down.
        for i, r in where:
            old = free[i]
            # leave the old class (swap with the top of its stack, pop)...
            stack = buckets[old]
            last = stack.pop()
            if last != i:
                p = pos[i]
                stack[p] = last
                pos[last] = p
            elif not stack:
                del buckets[old]
            # ...and join the new one
            new = (old[0] + r * sc, old[1] + r * sm, old[2] + r * sg)
            free[i] = new
            target = buckets.get(new)
            if target is None:
                target = buckets[new] = []
            pos[i] = len(target)
            target.append(i)
        ft = self._free_totals
        ft[0] += size * sc
        ft[1] += size * sm
        ft[2] += size * sg
        return True

    def fail_node(self, name: str) -> list[JobId]:
        """Take a node down: every job with a replica on it is released everywhere (killed), and the
        node's capacity leaves the cluster until :meth:`repair_node`. Returns the killed job ids in
        the order they were placed on the node (nothing if it was already down)."""
        i = self._node(name)
        if self._failed[i]:
            return []
        # Which jobs hold it? Scan the placements (failures are rare; keeping a job table per node
        # would cost every placement of every replica). An empty node holds none: no scan.
        killed = (
            []
            if self._free[i] == self._cap[i]
            else [job_id for job_id, (_, _, where) in self._jobs.items() if any(n == i for n, _ in where)]
        )
        for job_id in killed:
            self.release(job_id)
        # Now the node is empty: its free vector is its capacity.
        self._bucket_remove(i, self._free[i])
        self._failed[i] = True
        for d in range(3):
            self._totals[d] -= self._cap[i][d]
            self._free_totals[d] -= self._cap[i][d]
        return killed

    def repair_node(self, name: str) -> bool:
        """Bring a failed node back, empty. ``False`` if it was not down."""
        i = self._node(name)
        if not self._failed[i]:
            return False
        self._failed[i] = False
        self._free[i] = self._cap[i]
        self._bucket_add(i, self._cap[i])
        for d in range(3):
            self._totals[d] += self._cap[i][d]
            self._free_totals[d] += self._cap[i][d]
        return True

    # -- checking -----------------------------------------------------------------------------------

    def check(self) -> None:
        """Recompute every figure from the placements and assert it matches (for tests; O(nodes))."""
        used: list[list[int]] = [[0, 0, 0] for _ in self._names]
        for job_id, (s, size, where) in self._jobs.items():
            assert sum(r for _, r in where) == size, f"job {job_id!r}: replicas do not add up to its size"
            for i, r in where:
                assert not self._failed[i], f"job {job_id!r} holds failed node {self._names[i]}"
                assert r >= 1, f"job {job_id!r} lists node {self._names[i]} with no replica"
                used[i][0] += r * s.cores
                used[i][1] += r * s.memory_gb
                used[i][2] += r * s.gpus
        totals = [0, 0, 0]
        free_totals = [0, 0, 0]
        seen = 0
        for i, cap in enumerate(self._cap):
            if self._failed[i]:
                continue  # (no placement holds it: asserted above)
            free = tuple(cap[d] - used[i][d] for d in range(3))
            assert all(0 <= free[d] <= cap[d] for d in range(3)), f"node {self._names[i]} over capacity"
            assert self._free[i] == free, f"node {self._names[i]}: free {self._free[i]} != {free}"
            assert self._buckets[free][self._pos[i]] == i, f"node {self._names[i]} not in its class"
            seen += 1
            for d in range(3):
                totals[d] += cap[d]
                free_totals[d] += free[d]
        assert seen == sum(len(s) for s in self._buckets.values()), "a class holds a stray node"
        assert totals == self._totals and free_totals == self._free_totals, "totals drifted"


def _merge(where: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Add up the replicas per node (spreading may visit a node more than once), keeping first-visit order."""
    merged: dict[int, int] = {}
    for i, r in where:
        merged[i] = merged.get(i, 0) + r
    return list(merged.items())
