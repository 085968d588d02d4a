"""The fake hardware: gang placement is all or nothing, capacity is never exceeded, failures kill."""

from __future__ import annotations

import doctest
import random
import time

import pytest

import simulator.cluster
from simulator.cluster import Cluster, Node, Slice


def test_doctests() -> None:
    assert doctest.testmod(simulator.cluster).failed == 0


def test_gang_placement_is_all_or_nothing() -> None:
    cluster = Cluster([Node("a", 4, 16), Node("b", 4, 16)])
    big = Slice(cores=2, memory_gb=8)
    # 4 replicas of 2 cores / 8 GB fill both nodes exactly; a 5th cannot fit, so nothing is placed.
    assert cluster.place("j5", 5, big) is None
    assert cluster.free == (8, 32, 0) and cluster.running == []
    placement = cluster.place("j4", 4, big)
    assert placement is not None and placement.nodes == {"a": 2, "b": 2}
    assert cluster.free == (0, 0, 0)
    assert cluster.place("j1", 1, Slice(cores=1)) is None
    cluster.check()


def test_memory_and_gpus_limit_replicas_per_node() -> None:
    cluster = Cluster([Node("gpu", 32, 128, 2), Node("cpu", 32, 128, 0)])
    # Only the GPU node has GPUs; it holds two 1-GPU replicas, whatever its free cores say.
    assert cluster.can_place(2, Slice(cores=1, gpus=1))
    assert not cluster.can_place(3, Slice(cores=1, gpus=1))
    # Memory, not cores, limits a 100 GB replica to one per node.
    assert cluster.can_place(2, Slice(cores=1, memory_gb=100))
    assert not cluster.can_place(3, Slice(cores=1, memory_gb=100))


def test_least_full_spreads_and_most_full_packs() -> None:
    spread = Cluster.uniform(3, cores=4)
    assert spread.place(1, 3, Slice(1), heuristic="least-full").nodes == {"node2": 1, "node1": 1, "node0": 1}
    pack = Cluster.uniform(3, cores=4)
    placement = pack.place(1, 3, Slice(1), heuristic="most-full")
    assert sorted(placement.nodes.values()) == [3]
    # most-full prefers the fullest node that still fits: the one with 1 core left gets the next job.
    nxt = pack.place(2, 1, Slice(1), heuristic="most-full")
    assert nxt.nodes == {next(iter(placement.nodes)): 1}
    # least-full prefers the emptiest: a 4-core replica goes to an untouched node.
    assert pack.place(3, 1, Slice(4), heuristic="least-full").nodes.keys().isdisjoint(placement.nodes)
    pack.check()
    spread.check()


def test_errors_are_clear() -> None:
    cluster = Cluster.uniform(2)
    cluster.place(1, 1, Slice(1))
    with pytest.raises(ValueError, match="already placed"):
        cluster.place(1, 1, Slice(1))
    with pytest.raises(ValueError, match="unknown placement heuristic"):
        cluster.place(2, 1, Slice(1), heuristic="random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cores >= 1"):
        Slice(cores=0)
    with pytest.raises(ValueError, match="duplicate node"):
        Cluster([Node("a", 1), Node("a", 1)])
    with pytest.raises(KeyError, match="no node named"):
        cluster.fail_node("zz")
    assert cluster.release(99) is False


def test_node_failure_kills_its_jobs_and_removes_its_capacity() -> None:
    cluster = Cluster.uniform(4, cores=2)
    cluster.place("wide", 4, Slice(2), heuristic="least-full")  # one replica on every node
    assert cluster.free_cores == 0
    assert cluster.fail_node("node1") == ["wide"]
    # The job is released everywhere; the failed node's 2 cores are gone until it is repaired.
    assert cluster.running == [] and (cluster.free_cores, cluster.total_cores) == (6, 6)
    assert not cluster.can_place(4, Slice(2)) and cluster.can_place(3, Slice(2))
    assert cluster.fail_node("node1") == []  # already down
    cluster.place("small", 3, Slice(2))
    assert cluster.fail_node("node2") == ["small"]
    assert cluster.repair_node("node1") and cluster.repair_node("node2")
    assert not cluster.repair_node("node1")
    assert (cluster.free_cores, cluster.total_cores, cluster.busy_cores) == (8, 8, 0)
    cluster.check()


def test_random_operations_never_exceed_capacity() -> None:
    """A long random sequence of place / release / fail / repair on a mixed cluster, checking every
    invariant from scratch (Cluster.check) after each step and the all-or-nothing rule on each place."""
    rng = random.Random(7)
    nodes = [
        Node(f"n{i}", rng.choice([1, 2, 4, 8]), rng.choice([0, 4, 16]), rng.choice([0, 0, 1, 2]))
        for i in range(12)
    ]
    cluster = Cluster(nodes)
    capacity = {n.name: (n.cores, n.memory_gb, n.gpus) for n in nodes}
    slices = [Slice(1), Slice(2), Slice(1, 4), Slice(2, 2, 1), Slice(4, 0, 0), Slice(1, 0, 1)]
    next_id = 0
    for _ in range(3000):
        op = rng.random()
        if op < 0.5:
            s, size = rng.choice(slices), rng.randint(1, 6)
            expected = cluster.can_place(size, s)
            before = cluster.free
            placement = cluster.place(next_id, size, s, heuristic=rng.choice(["least-full", "most-full"]))
            assert (placement is not None) == expected
            if placement is None:
                assert cluster.free == before  # all or nothing
            else:
                assert sum(placement.nodes.values()) == size
                for name, replicas in placement.nodes.items():
                    assert replicas <= s.per_node(capacity[name])
            next_id += 1
        elif op < 0.8 and cluster.running:
            assert cluster.release(rng.choice(cluster.running))
        elif op < 0.9:
            name = rng.choice(nodes).name
            victims = [j for j in cluster.running if name in cluster.placement(j).nodes]
            assert sorted(cluster.fail_node(name)) == sorted(victims)
            assert cluster.is_failed(name) and cluster.node_free(name) == (0, 0, 0)
        else:
            cluster.repair_node(rng.choice(nodes).name)
        cluster.check()
        for name, (c, m, g) in capacity.items():
            fc, fm, fg = cluster.node_free(name)
            assert 0 <= fc <= c and 0 <= fm <= m and 0 <= fg <= g
        assert 0 <= cluster.free_cores <= cluster.total_cores


def test_capacity_classes_make_huge_uniform_clusters_cheap() -> None:
    """100,000 single-core nodes form two classes whatever the load, so asking costs no node scan."""
    cluster = Cluster.uniform(100_000)
    for job in range(200):
        assert cluster.place(job, 400, Slice(1)) is not None
    assert cluster.capacity_classes() == {(1, 0, 0): 20_000, (0, 0, 0): 80_000}
    started = time.perf_counter()
    for _ in range(10_000):
        assert cluster.can_place(20_000, Slice(1))
        assert not cluster.can_place(20_001, Slice(1))
    # 20,000 questions; a scan of 100,000 nodes each would take minutes.
    assert time.perf_counter() - started < 2.0
    for job in range(200):
        cluster.release(job)
    assert cluster.capacity_classes() == {(1, 0, 0): 100_000}
