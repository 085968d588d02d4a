"""The classic SWF replay: one machine of P single-core nodes, one scheduling policy, a workload log.

This is the experiment of the scheduling literature (Feitelson's Parallel Workloads Archive, accasim,
pyss, Alea...): no network, no faults, no protocol; every job holds its processors for exactly its
logged run time. It answers "how would this queue have fared under FCFS or EASY?" and serves as the
oracle-checked fast path of the simulator (the FCFS replay agrees job for job with accasim).

From SWF to jobs (:func:`prepare`)
----------------------------------
* processors: field 8 (requested), or field 5 (allocated) when field 8 is ``-1``;
* run time: field 4, exactly; estimate for backfilling: ``max(field 9, field 4)``, or field 4 when
  field 9 (requested time) is ``-1``;
* skipped, with a reason: no run time (``-1``), no processor count, no submit time;
* refused (``too-large``): needs more than P processors, it could never start.

The event loop (:func:`simulate`)
---------------------------------
A heap of job ends and the arrivals sorted by submit time (file order among equal times). At every
instant where something happens, in this order: **the jobs ending now release their processors, the
jobs submitted now join the queue in file order, then one scheduling pass** starts jobs. A job of run
time 0 still waits for its processors; it starts and ends at the same instant, and the processors it
frees are offered in another pass at that instant. This is a plain heap, not SimPy: it is the fast
path, and nothing in it waits on anything but time.

Outputs (:func:`write_outputs`)
-------------------------------
``jobs.csv`` (one row per accepted job, by submit time then job number) and ``metrics.json`` (see
:func:`compute_metrics`), in the same shapes the protocol-level simulator writes.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from simulator.cluster import Cluster, Slice
from simulator.policies.base import QueuedJob, SchedulingPolicy
from simulator.swf import SwfJob, SwfReader

__all__ = [
    "JOBS_CSV_HEADER",
    "PROVIDER",
    "ReplayJob",
    "ReplayResult",
    "Skipped",
    "compute_metrics",
    "format_time",
    "prepare",
    "replay_swf",
    "simulate",
    "write_outputs",
]

PROVIDER = "swf"
"""The provider name of the replay's one machine (column ``provider`` of ``jobs.csv``)."""
PRODUCT = "core-1"
"""Each replica is one single-core slice."""
JOBS_CSV_HEADER = (
    "job_id",
    "user",
    "provider",
    "product",
    "replicas",
    "submit",
    "start",
    "end",
    "state",
    "exit_code",
)

_ONE_CORE = Slice(cores=1)
Number = int | float


@dataclass(slots=True)
class ReplayJob:
    """A job of the replay. ``index`` is its position among the accepted jobs in file order (the
    scheduler's job id and arrival tie-break); ``number`` is its SWF job number; ``start`` is set by
    :func:`simulate`."""

    index: int
    number: int
    user: int
    submit: Number
    size: int
    run: Number
    estimate: Number
    start: Number = -1

    @property
    def end(self) -> Number:
        return self.start + self.run

    @property
    def wait(self) -> Number:
        return self.start - self.submit


@dataclass(frozen=True, slots=True)
class Skipped:
    """A job line that was not replayed, and why (``reason`` is a short key)."""

    job: SwfJob
    reason: str
    message: str


@dataclass
class ReplayResult:
    """What a replay produced: the accepted jobs (with start times), and the lines left out."""

    jobs: list[ReplayJob]
    processors: int
    policy: SchedulingPolicy
    skipped: list[Skipped] = field(default_factory=list)
    refused: list[Skipped] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    source: str = ""
    sha256: str = ""


def prepare(
    swf_jobs: Iterable[SwfJob], processors: int
) -> tuple[list[ReplayJob], list[Skipped], list[Skipped]]:
    """Turn SWF lines into replay jobs: ``(accepted, skipped, refused)`` (see the module docstring)."""
    accepted: list[ReplayJob] = []
    skipped: list[Skipped] = []
    refused: list[Skipped] = []
    for job in swf_jobs:
        size = job.processors
        if job.run < 0:
            skipped.append(Skipped(job, "no-run-time", f"job {job.job}: no run time (field 4 is {job.run})"))
        elif size <= 0:
            skipped.append(
                Skipped(job, "no-processors", f"job {job.job}: no processor count (fields 8 and 5)")
            )
        elif job.submit < 0:
            skipped.append(Skipped(job, "no-submit-time", f"job {job.job}: no submit time (field 2)"))
        elif size > processors:
            refused.append(
                Skipped(
                    job, "too-large", f"job {job.job}: needs {size} processors, the machine has {processors}"
                )
            )
        else:
            accepted.append(
                ReplayJob(len(accepted), job.job, job.user, job.submit, size, job.run, job.estimate)
            )
    return accepted, skipped, refused


def simulate(jobs: Sequence[ReplayJob], processors: int, policy: SchedulingPolicy) -> Cluster:
    """Run ``jobs`` (indexed ``0..n-1`` by ``ReplayJob.index``) on ``processors`` single-core nodes under
    ``policy``; sets every job's ``start``. Returns the cluster (empty again at the end).

    Raises ``ValueError`` for a job larger than the machine (use :func:`prepare`), and
    ``RuntimeError`` if the policy leaves jobs waiting on an idle machine with nothing left to happen.
    """
    if processors < 1:
        raise ValueError(f"the machine needs at least one processor, got {processors}")
    for job in jobs:
        if job.size > processors:
            raise ValueError(f"job {job.number} needs {job.size} processors, the machine has {processors}")
    cluster = Cluster.uniform(processors, cores=1, prefix="cpu")
    arrivals = sorted(jobs, key=lambda j: (j.submit, j.index))  # stable: file order among equal times
    by_index = {j.index: j for j in jobs}
    ends: list[tuple[Number, int, int]] = []  # (end, start order, job index): completion heap
    starts = 0
    i, n = 0, len(arrivals)
    release, job_ended = cluster.release, policy.job_ended
    enqueue, schedule = policy.enqueue, policy.schedule
    while i < n or ends:
        now = arrivals[i].submit if i < n else math.inf
        if ends and ends[0][0] <= now:
            now = ends[0][0]
        # 1. completions, 2. arrivals in file order, 3. one pass.
        while ends and ends[0][0] == now:
            index = heapq.heappop(ends)[2]
            release(index)
            job_ended(index, now)
        while i < n and arrivals[i].submit == now:
            job = arrivals[i]
            enqueue(
                QueuedJob(job.index, job.size, _ONE_CORE, job.submit, job.estimate, str(job.user), i), now
            )
            i += 1
        for queued in schedule(now, cluster):
            job = by_index[queued.id]
            job.start = now
            starts += 1
            heapq.heappush(ends, (now + job.run, starts, job.index))
        if not ends and i == n and len(policy):
            raise RuntimeError(f"policy {policy!r} leaves {len(policy)} jobs waiting on an idle machine")
    return cluster


def replay_swf(path: str | os.PathLike[str], processors: int, policy: SchedulingPolicy) -> ReplayResult:
    """Read an SWF file, prepare its jobs for ``processors`` processors, and replay them under ``policy``.

    Raises :class:`~simulator.swf.SwfFormatError` for a malformed line and ``OSError`` if the file
    cannot be read.
    """
    if processors < 1:
        raise ValueError(f"--processors must be at least 1, got {processors}")
    reader = SwfReader(path)
    accepted, skipped, refused = prepare(reader, processors)
    simulate(accepted, processors, policy)
    return ReplayResult(
        accepted, processors, policy, skipped, refused, reader.header, os.fspath(path), _sha256(path)
    )


def _sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def format_time(value: Number) -> str:
    """A time for ``jobs.csv``: an integer when whole, otherwise at most 3 decimals.

    >>> format_time(12), format_time(12.0), format_time(0.1 + 0.2), format_time(2.9996), format_time(1.5)
    ('12', '12', '0.3', '3', '1.5')
    """
    if isinstance(value, int):
        return str(value)
    rounded = round(value, 3)
    if rounded.is_integer():
        return str(int(rounded))
    return f"{rounded:.3f}".rstrip("0")


def _percentile(ordered: Sequence[Number], q: float) -> float:
    """Nearest-rank percentile of sorted values (the smallest value with at least q% at or below it)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def compute_metrics(result: ReplayResult) -> dict[str, Any]:
    """Run-level figures of a replay.

    * ``jobs_by_state`` (every replayed job ends ``SUCCESS``), ``refused_by_reason``,
      ``skipped_by_reason``;
    * ``wait_mean_s``, ``wait_median_s``, ``wait_p95_s`` (nearest rank) over started jobs;
    * ``bounded_slowdown_mean``: mean of ``max(1, (wait + run) / max(run, 10))``;
    * ``makespan_s``: last end minus first submit; ``utilisation``: per provider, busy core-seconds
      over cores x makespan; ``throughput_jobs_per_s``: jobs ended per second of makespan;
    * ``provenance``: policy and its parameters, processors, input file and its sha256, ucsim version.
    """
    from ucsim import __version__

    jobs = result.jobs
    waits = sorted(j.wait for j in jobs)
    n = len(jobs)
    makespan = (max(j.end for j in jobs) - min(j.submit for j in jobs)) if jobs else 0
    busy = sum(j.size * j.run for j in jobs)
    slowdowns = [max(1.0, (j.wait + j.run) / max(j.run, 10)) for j in jobs]
    return {
        "jobs": n,
        "jobs_by_state": {"SUCCESS": n} if n else {},
        "refused_by_reason": dict(sorted(Counter(s.reason for s in result.refused).items())),
        "skipped_by_reason": dict(sorted(Counter(s.reason for s in result.skipped).items())),
        "wait_mean_s": sum(waits) / n if n else 0.0,
        "wait_median_s": _median(waits),
        "wait_p95_s": _percentile(waits, 95),
        "bounded_slowdown_mean": sum(slowdowns) / n if n else 0.0,
        "makespan_s": makespan,
        "utilisation": {PROVIDER: busy / (result.processors * makespan) if makespan else 0.0},
        "throughput_jobs_per_s": n / makespan if makespan else 0.0,
        "provenance": {
            "policy": result.policy.name,
            "policy_params": result.policy.params(),
            "processors": result.processors,
            "input": result.source,
            "input_sha256": result.sha256,
            "ucsim_version": __version__,
        },
    }


def _median(ordered: Sequence[Number]) -> float:
    if not ordered:
        return 0.0
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def write_outputs(result: ReplayResult, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Write ``jobs.csv`` and ``metrics.json`` into ``out_dir`` (created if missing); return the metrics."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = sorted(result.jobs, key=lambda j: (j.submit, j.number, j.index))
    with open(out / "jobs.csv", "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(JOBS_CSV_HEADER)
        for j in rows:
            writer.writerow(
                (
                    j.number,
                    j.user,
                    PROVIDER,
                    PRODUCT,
                    j.size,
                    format_time(j.submit),
                    format_time(j.start),
                    format_time(j.end),
                    "SUCCESS",
                    0,
                )
            )
    metrics = compute_metrics(result)
    (out / "metrics.json").write_bytes(
        orjson.dumps(metrics, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    )
    return metrics
