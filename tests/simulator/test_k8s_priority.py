"""The ``k8s-priority`` policy: UCloud's ``k8s/scheduler_test.go`` ported, then checks of our own.

The Go tests (``provider-integration/im2/pkg/integrations/k8s/scheduler_test.go``) drive a
``Scheduler`` directly: ``RegisterNode``, ``RegisterJobInQueue``, ``Schedule`` and ``PruneReplicas``
(which, with no replica re-registered, ends every running job). Here the same steps are
``Cluster(...)``, :meth:`enqueue`, :meth:`schedule`, and ``cluster.release`` + :meth:`job_ended`.
Each port names its Go test and what that test asserts. Units: UCloud counts CPU in millis and memory
in bytes; a :class:`Slice` counts integers, so a Go ``CpuMillis: 1000`` is ``cores=1000`` here (only
ratios matter to a scheduler), and memory in bytes becomes ``memory_gb`` with the same numbers.

Left out, and why:

* ``TestCpuStandardScenarioScheduling`` first checks ``NodeCpuMillisNormalizedWithReserved`` (how a
  product's vCPUs become CPU millis: 958 and 479): that is product configuration, not scheduling. Its
  scheduling half is ported, with the job sizes it asserts.
* ``TestMixedGpuResourceTypesCanCoexist`` (whole GPUs and MIG slices as separate resources on one
  node): a :class:`Slice` has one GPU kind, so the case cannot be stated.
* ``TestRequestScheduleQueue*`` test UCloud's intake buffer (``RequestSchedule`` /
  ``SwapScheduleQueue``), global state outside the ``Scheduler``; the policy keeps that buffer itself
  (:meth:`enqueue`, :meth:`pending`), so the ports drive the policy instead of the global functions.
* ``TestFailingGpu`` lowers a node's *limits* (two failed GPUs) under a running job and cordons a node
  (*unschedulable*); the cluster has neither (only ``fail_node``, which kills the node's jobs). The
  port uses ``fail_node``/``repair_node`` where the Go test fails the whole node, and emulates the
  rest with a *fault token*: a job placed directly on the cluster (never through the policy) that
  holds what the fault takes away, on a one-node cluster where it can only land on that node.
"""

from __future__ import annotations

import doctest
import random
import time

import pytest

import simulator.policies.k8s_priority
from simulator.cluster import Cluster, Heuristic, Node, Slice
from simulator.policies import POLICIES, QueuedJob, make_policy
from simulator.policies.k8s_priority import K8sPriorityPolicy

HOUR = 3600.0


def job(
    job_id: int, cores: int, size: int = 1, submit: float = 0.0, memory: int = 0, gpus: int = 0
) -> QueuedJob:
    """A job of ``size`` replicas of (``cores``, ``memory``, ``gpus``); ``seq`` follows the id."""
    return QueuedJob(job_id, size, Slice(cores, memory, gpus), submit=submit, seq=job_id)


def end_all(policy: K8sPriorityPolicy, cluster: Cluster, now: float = 0.0) -> list[object]:
    """What ``PruneReplicas`` does when no replica was seen: every running job ends."""
    ended = cluster.running
    for job_id in ended:
        cluster.release(job_id)
        policy.job_ended(job_id, now)  # type: ignore[arg-type]
    return ended


def test_doctests() -> None:
    result = doctest.testmod(simulator.policies.k8s_priority, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_registered_under_its_name() -> None:
    assert POLICIES["k8s-priority"] is K8sPriorityPolicy
    policy = make_policy("k8s-priority", backfill=False, placement="least-full")
    assert policy.params() == {
        "weight_age": 1.0,
        "weight_job_size": 1.0,
        "weight_fair_share": 1.0,
        "favor_large_jobs": False,
        "backfill": False,
        "placement": "least-full",
    }
    assert K8sPriorityPolicy().placement == "most-full"  # job compaction is UCloud's default


# -- ports of scheduler_test.go --------------------------------------------------------------------


def test_basic_scheduling() -> None:
    # Port of TestBasicScheduling: 10 nodes of (1000 CPU, 1000 memory), 100 jobs each asking for a whole
    # node, all submitted at once. Asserts: each of 10 cycles (Schedule, then PruneReplicas) starts jobs
    # on all 10 nodes; after them all 100 jobs were seen; 1,000 more cycles start nothing and end nothing.
    cluster = Cluster.uniform(10, cores=1000, memory_gb=1000, prefix="node-")
    policy = K8sPriorityPolicy()
    for i in range(100):
        policy.enqueue(job(i, 1000, memory=1000), now=0.0)

    seen: set[int] = set()
    for _ in range(10):
        started = policy.schedule(0.0, cluster)
        nodes = {name for j in started for name in cluster.placement(j.id).nodes}  # type: ignore[union-attr]
        assert len(nodes) == 10, f"expected all nodes to be used each cycle, got {sorted(nodes)}"
        seen.update(j.id for j in started)
        end_all(policy, cluster)
    assert seen == set(range(100))

    for _ in range(1000):
        assert policy.schedule(0.0, cluster) == []
        assert end_all(policy, cluster) == []
    assert len(policy) == 0


def test_time_in_queue_affects_priority() -> None:
    # Port of TestTimeInQueueAffectsPriority: job size and fair share weighted 0; job i was submitted i
    # hours ago. Asserts: after Schedule the queue is ordered 9, 8, ..., 0 (oldest first), the front has
    # priority 1 and the tail 0. (No nodes: nothing starts, the queue is only ranked.)
    policy = K8sPriorityPolicy(weight_job_size=0, weight_fair_share=0)
    now = 100 * HOUR
    for i in range(10):
        policy.enqueue(job(i, 1000, memory=1000, submit=now - i * HOUR), now=now)
    assert policy.schedule(now, Cluster([])) == []

    ranked = policy.queue()
    assert [r.job.id for r in ranked] == list(range(9, -1, -1))
    assert ranked[0].priority == pytest.approx(1.0)
    assert ranked[9].priority == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("favor_small", "change_dims", "change_replicas"),
    [
        (True, True, False),
        (True, False, True),
        (True, True, True),
        (False, True, False),
        (False, False, True),
        (False, True, True),
    ],
)
def test_job_size_affects_priority(favor_small: bool, change_dims: bool, change_replicas: bool) -> None:
    # Port of TestJobSizeAffectsPriority: only the job-size weight is 1. Job i has size factor 10 - i
    # when favouring small jobs, i with SchedulerFavorLargeJobs; the factor scales CPU and memory
    # (ChangeDims) and/or the replica count (ChangeReplicas). Asserts: after Schedule the queue is
    # ordered 9, 8, ..., 0 in every configuration, front priority 1, tail 0.
    policy = K8sPriorityPolicy(
        weight_age=0, weight_job_size=1, weight_fair_share=0, favor_large_jobs=not favor_small
    )
    dims, replicas, count = (1000 if change_dims else 0), (1 if change_replicas else 0), 10
    for i in range(count):
        factor = count - i if favor_small else i
        cores = 1000 + dims * factor
        policy.enqueue(job(i, cores, size=1 + replicas * factor, memory=cores), now=0.0)
    policy.schedule(0.0, Cluster([]))

    ranked = policy.queue()
    assert [r.job.id for r in ranked] == list(range(count - 1, -1, -1))
    assert ranked[0].priority == pytest.approx(1.0)
    assert ranked[-1].priority == pytest.approx(0.0)


_COMPACTION_CASES = [
    # (job compaction, CPU request, job count, expected distinct nodes): TestJobCompaction's table.
    *[(True, 1000, n, nodes) for n, nodes in [(10, 1), (15, 2), (20, 2), (21, 3), (30, 3), (31, 4)]],
    *[(True, 1000, n, nodes) for n, nodes in [(40, 4), (41, 5), (50, 5), (100, 10)]],
    *[(False, 1000, n, min(n, 10)) for n in [*range(1, 12), 100]],
    (True, 8000, 10, 10),
    (False, 8000, 10, 10),
]


@pytest.mark.parametrize(("compaction", "request_cpu", "job_count", "expected_nodes"), _COMPACTION_CASES)
def test_job_compaction(compaction: bool, request_cpu: int, job_count: int, expected_nodes: int) -> None:
    # Port of TestJobCompaction: 10 nodes of 10,000 CPU; job_count one-replica jobs of request_cpu.
    # Flags 0 (compaction) packs: n jobs of 1000 use ceil(n / 10) nodes. SchedulerDisableJobCompaction
    # spreads: one job per node while empty nodes remain. Jobs of 8000 take a node each either way.
    # Asserts: one Schedule starts every job, on exactly expected_nodes distinct nodes.
    cluster = Cluster.uniform(10, cores=10_000, memory_gb=1000, prefix="node-")
    placement: Heuristic = "most-full" if compaction else "least-full"
    policy = K8sPriorityPolicy(placement=placement)
    for i in range(job_count):
        policy.enqueue(job(i, request_cpu, submit=i * 1e-9), now=0.0)  # Go: time.Now() per job

    started = policy.schedule(0.0, cluster)
    assert len(started) == job_count, "expected to schedule all jobs"
    nodes = {name for j in started for name in cluster.placement(j.id).nodes}  # type: ignore[union-attr]
    assert len(nodes) == expected_nodes


def test_failing_gpu() -> None:
    # Port of TestFailingGpu: one node of 256 cores, 4 GiB per core (1024 "GB") and 8 GPUs; a job of g
    # GPUs asks for 32 g cores and 128 g of memory. Asserts, in order:
    #  1. "initial" (6 GPUs) is scheduled;
    #  2. two GPUs fail (limits 6 GPUs) while it runs: "second" (2 GPUs) is not scheduled;
    #  3. the GPUs recover: "second" is scheduled;
    #  4. all jobs end, the whole node fails (limits zero): "third" (3 GPUs) is not scheduled;
    #  5. the node recovers but is unschedulable: "third" is still not scheduled;
    #  6. the node recovers fully: "third" is scheduled.
    # Steps 2 and 5 need per-node limits and a cordon, which the cluster lacks: a fault token (placed
    # directly on the cluster, never through the policy) holds what the fault takes away. The node has
    # one extra core for the token of step 2, because a slice needs at least one core.
    cluster = Cluster([Node("gpu-node", cores=256 + 1, memory_gb=1024, gpus=8)])
    policy = K8sPriorityPolicy()

    def submit(job_id: int, gpus: int) -> None:
        policy.enqueue(job(job_id, 32 * gpus, memory=128 * gpus, gpus=gpus), now=0.0)

    submit(1, 6)
    assert [j.id for j in policy.schedule(0.0, cluster)] == [1], "expected the initial job to be scheduled"

    gpu_fault = cluster.place("fault: 2 GPUs", 1, Slice(cores=1, gpus=2))  # step 2, emulated
    assert gpu_fault is not None and cluster.placement(1) is not None  # the running job survives
    submit(2, 2)
    assert policy.schedule(0.0, cluster) == [], "expected the job to not immediately be scheduled"

    cluster.release("fault: 2 GPUs")  # step 3
    assert [j.id for j in policy.schedule(0.0, cluster)] == [2], (
        "expected the job to be scheduled after recovery"
    )

    end_all(policy, cluster)  # step 4
    cluster.fail_node("gpu-node")
    submit(3, 3)
    assert policy.schedule(0.0, cluster) == [], "expected the third job not to schedule immediately"

    cluster.repair_node("gpu-node")  # step 5, emulated: the cordon holds the whole (empty) node
    assert cluster.place("fault: cordon", 1, Slice(cores=257, memory_gb=1024, gpus=8)) is not None
    assert policy.schedule(0.0, cluster) == [], "expected the third job not to schedule on unschedulable"

    cluster.release("fault: cordon")  # step 6
    assert [j.id for j in policy.schedule(0.0, cluster)] == [3], (
        "expected the third job to schedule in the end"
    )
    cluster.check()


@pytest.mark.parametrize(("job_cpu", "jobs", "expected_started"), [(958, 13, 12), (479, 25, 24)])
def test_cpu_standard_scenario_scheduling(job_cpu: int, jobs: int, expected_started: int) -> None:
    # Port of the scheduling half of TestCpuStandardScenarioScheduling: a node of 12,000 CPU millis with
    # limits 11,500 (500 reserved for the system) and 200 GB; jobs of a full-core product (958 millis,
    # 2 GB) or a quarter-core product (479 millis, 2 GB). Asserts: of 13 full jobs 12 start and 1 stays
    # queued; of 25 fractional jobs 24 start and 1 stays. Usable capacity is the limit: 11,500 millis.
    cluster = Cluster([Node("node-0", cores=11_500, memory_gb=200)])
    policy = K8sPriorityPolicy()
    for i in range(jobs):
        policy.enqueue(job(i, job_cpu, memory=2), now=0.0)
    assert len(policy.schedule(0.0, cluster)) == expected_started
    assert len(policy) == 1


def test_request_schedule_queue_deduplicates_by_job() -> None:
    # Port of TestRequestScheduleQueueDeduplicatesByJob: requests for job-a (1 replica), job-b, then
    # job-a again (2 replicas). Asserts: the swap returns exactly two entries; the first is the latest
    # job-a request (first position, latest data); both job-a and job-b are present.
    policy = K8sPriorityPolicy()
    job_a_old, job_b, job_a_new = job(1, 1, size=1), job(2, 1, size=1), job(1, 1, size=2)
    for j in (job_a_old, job_b, job_a_new):
        policy.enqueue(j, now=0.0)

    pending = policy.pending()
    assert len(pending) == 2 and len(policy) == 2
    assert pending[0] is job_a_new
    assert {j.id for j in pending} == {1, 2}
    # And the queue the next pass builds holds the same two requests.
    policy.schedule(0.0, Cluster([]))
    assert {r.job.id: r.job for r in policy.queue()} == {1: job_a_new, 2: job_b}


def test_request_schedule_queue_retry_does_not_duplicate() -> None:
    # Port of TestRequestScheduleQueueRetryDoesNotDuplicate: one request, swapped out; the same entry is
    # requested twice more. Asserts: the first swap has one entry; the swap after the retries has one
    # entry, with the job's id. Beyond the Go test (which stops at the buffer): the registered queue
    # still holds one entry for the job, the original one (RegisterJobInQueue ignores a queued job).
    policy = K8sPriorityPolicy()
    original = job(7, 1)
    policy.enqueue(original, now=0.0)
    assert [j.id for j in policy.pending()] == [7]
    policy.schedule(0.0, Cluster([]))

    retry = job(7, 1, size=3)
    policy.enqueue(retry, now=1.0)
    policy.enqueue(retry, now=1.0)
    assert [j.id for j in policy.pending()] == [7]
    assert len(policy) == 1
    policy.schedule(1.0, Cluster([]))
    assert [r.job for r in policy.queue()] == [original]


# -- our own checks ----------------------------------------------------------------------------------


def test_request_for_a_running_job_is_ignored_until_it_ends() -> None:
    # RegisterJobInQueue skips a job that has replicas; once it has ended, its id is free again.
    cluster, policy = Cluster.uniform(1, cores=4), K8sPriorityPolicy()
    policy.enqueue(job(1, 4), now=0.0)
    assert [j.id for j in policy.schedule(0.0, cluster)] == [1]
    policy.enqueue(job(1, 4), now=1.0)  # a duplicated delivery of the same job
    assert len(policy) == 0
    assert policy.schedule(1.0, cluster) == [] and policy.queue() == []
    end_all(policy, cluster, now=2.0)
    policy.enqueue(job(1, 4), now=2.0)
    assert [j.id for j in policy.schedule(2.0, cluster)] == [1]


def test_remove_withdraws_queued_jobs_and_requests() -> None:
    policy = K8sPriorityPolicy()
    policy.enqueue(job(1, 1), now=0.0)
    policy.schedule(0.0, Cluster([]))  # job 1 is now in the queue
    policy.enqueue(job(2, 1), now=0.0)  # job 2 is only requested
    assert len(policy) == 2
    assert policy.remove(1) and policy.remove(2)
    assert not policy.remove(1) and not policy.remove(99)
    assert len(policy) == 0
    assert policy.schedule(0.0, Cluster.uniform(1, cores=4)) == []


def test_equal_priorities_break_ties_by_ascending_id() -> None:
    # Same age, same size: every priority is 3 (1 + 1 + 1). Registration order must not matter.
    policy = K8sPriorityPolicy()
    for i in [5, 3, 9, 1, 7]:
        policy.enqueue(job(i, 2), now=0.0)
    cluster = Cluster.uniform(1, cores=4)
    assert [j.id for j in policy.schedule(0.0, cluster)] == [1, 3]
    assert [r.job.id for r in policy.queue()] == [5, 7, 9]
    assert {r.priority for r in policy.queue()} == {3.0}


def test_backfill_lets_later_jobs_pass_a_blocked_head() -> None:
    # The biggest, oldest job ranks first (with the job-size weight at 0) but does not fit: with backfill
    # (UCloud's default) the small jobs behind it start anyway; without it, nothing passes the head.
    def first_pass(backfill: bool) -> list[int]:
        cluster = Cluster.uniform(2, cores=4)
        policy = K8sPriorityPolicy(weight_job_size=0, backfill=backfill)
        policy.enqueue(job(1, 4, size=3, submit=0.0), now=10.0)
        policy.enqueue(job(2, 1, submit=5.0), now=10.0)
        policy.enqueue(job(3, 2, submit=6.0), now=10.0)
        return [j.id for j in policy.schedule(10.0, cluster)]

    assert first_pass(backfill=True) == [2, 3]
    assert first_pass(backfill=False) == []


def test_small_jobs_first_unless_favor_large_jobs() -> None:
    def order(favor_large: bool) -> list[int]:
        policy = K8sPriorityPolicy(weight_age=0, favor_large_jobs=favor_large)
        for i, cores in enumerate([4, 1, 16, 2]):
            policy.enqueue(job(i, cores), now=0.0)
        policy.schedule(0.0, Cluster([]))
        return [r.job.id for r in policy.queue()]

    assert order(favor_large=False) == [1, 3, 0, 2]
    assert order(favor_large=True) == [2, 0, 3, 1]


# A literal port of scheduler.go's Schedule and trySchedule (node names, Remaining vectors, UCloud's
# node order re-sorted as UCloud does it), written independently of the policy, as an oracle. Its node
# view is copied from the cluster before each pass: UCloud breaks ties between nodes of equal free
# capacity by name, the cluster by a stack, so *which* of two such nodes gets a replica may differ, and
# the two would drift apart once jobs on differently sized nodes end.
class _GoScheduler:
    def __init__(self, compaction: bool, backfill: bool, favor_large: bool) -> None:
        self.remaining: dict[str, list[int]] = {}
        self.compaction, self.backfill, self.favor_large = compaction, backfill, favor_large
        self.queue: list[QueuedJob] = []
        self.running: set[int] = set()

    def register(self, j: QueuedJob) -> None:
        if j.id not in self.running and all(q.id != j.id for q in self.queue):
            self.queue.append(j)

    def schedule(self, now: float) -> list[int]:
        if len(self.queue) > 1:
            ages = [now - q.submit for q in self.queue]
            cpus = [q.slice.cores * q.size for q in self.queue]
            prio = {}
            for q, age, cpu in zip(self.queue, ages, cpus, strict=True):
                a_span, c_span = max(ages) - min(ages), max(cpus) - min(cpus)
                a = 1.0 if a_span == 0 else (age - min(ages)) / a_span
                c = 1.0 if c_span == 0 else (cpu - min(cpus)) / c_span
                c = c if self.favor_large or c_span == 0 else 1 - c
                prio[q.id] = 1.0 * a + 1.0 * c + 1.0 * 1.0
            self.queue.sort(key=lambda q: (-prio[q.id], q.id))
        started = []
        for q in list(self.queue):
            nodes = self.try_schedule(q)
            if nodes is not None:
                self.running.add(q.id)
                self.queue.remove(q)
                started.append(q.id)
            elif not self.backfill:
                break
        return started

    def try_schedule(self, q: QueuedJob) -> list[str] | None:
        def key(name: str) -> tuple[object, ...]:
            c, m, g = self.remaining[name]
            return (g, c, m, name) if self.compaction else (-g, -c, -m, name)

        order = sorted(self.remaining, key=key)
        s, allocated = q.slice, []
        while len(allocated) < q.size:
            if not self.compaction:
                order = sorted(self.remaining, key=key)
            for name in order:
                r = self.remaining[name]
                if r[0] >= s.cores and r[1] >= s.memory_gb and r[2] >= s.gpus:
                    r[0], r[1], r[2] = r[0] - s.cores, r[1] - s.memory_gb, r[2] - s.gpus
                    allocated.append(name)
                    break
            else:
                break
        if len(allocated) < q.size:
            for name in allocated:
                r = self.remaining[name]
                r[0], r[1], r[2] = r[0] + s.cores, r[1] + s.memory_gb, r[2] + s.gpus
            return None
        return allocated


@pytest.mark.parametrize("seed", range(12))
def test_matches_a_literal_port_of_the_go_scheduler(seed: int) -> None:
    # Random heterogeneous CPU/memory clusters and workloads, several passes with arrivals and endings.
    # Per pass the policy must start the same jobs in the same order as the literal port, and leave the
    # same multiset of free node capacities (see _GoScheduler for why not the same node names). Seeds
    # alternate compaction, backfill and favour-large-jobs.
    rng = random.Random(seed)
    compaction, backfill, favor_large = seed % 2 == 0, seed % 3 != 2, seed % 4 == 3
    nodes = [Node(f"n{i}", rng.choice([4, 8, 16]), rng.choice([16, 32, 64])) for i in range(12)]
    cluster = Cluster(nodes)
    policy = K8sPriorityPolicy(
        favor_large_jobs=favor_large, backfill=backfill, placement="most-full" if compaction else "least-full"
    )
    oracle = _GoScheduler(compaction, backfill, favor_large)
    next_id, now = 0, 0.0
    for _ in range(40):
        now += rng.choice([1.0, 5.0, 30.0])
        for _ in range(rng.randint(0, 6)):
            j = QueuedJob(
                next_id, rng.randint(1, 4), Slice(rng.choice([1, 2, 4, 8]), rng.choice([0, 4, 8, 16])), now
            )
            next_id += 1
            policy.enqueue(j, now)
            oracle.register(j)
        for job_id in [i for i in cluster.running if rng.random() < 0.3]:
            cluster.release(job_id)
            policy.job_ended(job_id, now)  # type: ignore[arg-type]
            oracle.running.discard(job_id)  # type: ignore[arg-type]

        oracle.remaining = {n.name: list(cluster.node_free(n.name)) for n in nodes}
        assert [j.id for j in policy.schedule(now, cluster)] == oracle.schedule(now)
        free = sorted(cluster.node_free(n.name) for n in nodes)
        assert free == sorted(tuple(r) for r in oracle.remaining.values())
        assert [r.job.id for r in policy.queue()] == [q.id for q in oracle.queue]
        cluster.check()


@pytest.mark.parametrize("placement", ["most-full", "least-full"])
def test_deterministic_and_capacity_never_exceeded(placement: Heuristic) -> None:
    # The same workload twice gives the same starts and the same placements, and after every pass the
    # cluster's own from-scratch check (0 <= free <= capacity on every node, totals) holds.
    def run() -> list[tuple[int, dict[str, int]]]:
        rng = random.Random(42)
        cluster = Cluster([Node(f"n{i}", 16, 64, rng.choice([0, 2, 4])) for i in range(10)])
        policy = K8sPriorityPolicy(placement=placement)
        trace: list[tuple[int, dict[str, int]]] = []
        for step in range(60):
            now = float(step)
            for k in range(rng.randint(0, 5)):
                s = Slice(rng.choice([1, 2, 4, 8]), rng.choice([0, 8, 16]), rng.choice([0, 0, 1, 2]))
                policy.enqueue(QueuedJob(step * 10 + k, rng.randint(1, 3), s, now), now)
            for job_id in [i for i in cluster.running if rng.random() < 0.25]:
                cluster.release(job_id)
                policy.job_ended(job_id, now)  # type: ignore[arg-type]
            for j in policy.schedule(now, cluster):
                where = cluster.placement(j.id)
                assert where is not None and sum(where.nodes.values()) == j.size  # all replicas, or none
                trace.append((j.id, where.nodes))
            cluster.check()
            for n in cluster.nodes():
                free = cluster.node_free(n.name)
                assert 0 <= free[0] <= n.cores and 0 <= free[1] <= n.memory_gb and 0 <= free[2] <= n.gpus
        return trace

    first = run()
    assert first and first == run()


def test_a_long_blocked_queue_costs_no_cluster_work() -> None:
    # 20,000 waiting jobs of three slices, none of which fits: one pass must not ask the cluster about
    # each of them (the per-slice memory of failed gangs), and must stay fast (sorting dominates).
    class CountingCluster(Cluster):
        places = 0

        def place(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            CountingCluster.places += 1
            return super().place(*args, **kwargs)

    cluster = CountingCluster([Node("n0", cores=4)])
    cluster.place("resident", 1, Slice(cores=3))
    CountingCluster.places = 0
    policy = K8sPriorityPolicy()
    for i in range(20_000):
        policy.enqueue(job(i, [2, 3, 4][i % 3], submit=float(i % 97)), now=100.0)
    began = time.perf_counter()
    assert policy.schedule(100.0, cluster) == []
    elapsed = time.perf_counter() - began
    assert CountingCluster.places <= 3
    assert len(policy) == 20_000
    assert elapsed < 2.0, f"a blocked pass over 20,000 jobs took {elapsed:.2f} s"


def test_known_deviation_node_order_is_cores_first_not_gpus_first() -> None:
    # UCloud ranks free capacity (gpus, cpu, memory): with compaction a CPU-only job goes to the node
    # without free GPUs. The cluster ranks (cores, gpus, memory) and picks the GPU node, whose 5 free
    # cores are fewer. Documented in the module; this test pins the current behaviour so that a change
    # of the cluster's order is noticed (UCloud would give "cpu-node").
    cluster = Cluster([Node("cpu-node", cores=10), Node("gpu-node", cores=5, gpus=2)])
    policy = K8sPriorityPolicy()
    policy.enqueue(job(1, 1), now=0.0)
    policy.schedule(0.0, cluster)
    assert cluster.placement(1).nodes == {"gpu-node": 1}  # type: ignore[union-attr]


def test_runs_under_the_swf_replay() -> None:
    # The policy through the replay's event loop (simulator.replay.simulate): 300 random jobs on 32
    # single-core nodes. Every job starts, never before its submission, and a second run is identical.
    from simulator.replay import ReplayJob, simulate

    def starts() -> list[float]:
        rng = random.Random(7)
        jobs = [
            ReplayJob(
                i, i + 1, 0, rng.randint(0, 2000), rng.choice([1, 2, 4, 8, 32]), rng.randint(0, 300), 300
            )
            for i in range(300)
        ]
        cluster = simulate(jobs, 32, K8sPriorityPolicy())
        assert cluster.running == []
        assert all(j.start >= j.submit for j in jobs)
        return [j.start for j in jobs]

    assert starts() == starts()
