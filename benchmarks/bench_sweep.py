"""How many runs per second ``ucsim sweep`` completes on the local process pool, against the same
sweep in one process, measured in the same run.

Figures:

* ``sweep.runs_per_s`` - runs/s of :func:`simulator.sweep.run_sweep` on a pool of one process per
  core (``--workers`` unset), against ``--workers 1`` (every run in this process) on the same runs.
  The ratio is the pool's speed-up: at most the number of cores, less the cost of starting the
  workers and shipping specs and records between processes;
* ``sweep.dask_runs_per_s`` (when ``distributed`` is installed) - the same runs on a
  ``distributed.LocalCluster`` with one single-threaded worker process per core, already started,
  against the same one-process baseline: what scheduling each run as a Dask task costs next to the
  local pool (the cluster's own start-up is not timed; a real cluster is started once for many
  sweeps).

Both timings run with the garbage collector on (as a real sweep does) and include writing
``runs.jsonl`` (one JSON line per run); the tables and plots are not timed. The machine's load
average is stored with the figures, and so is ``machine_pool_speedup``: the speed-up the same pool
gets, measured just before, on pure-Python arithmetic that shares nothing. That is the ceiling of
the sweep's ratio at that moment: on a machine shared with other work, a pool cannot go faster than
the cores left free. The runs are the default scenario with its Slurm-like provider's policy
varied (fcfs, easy, k8s-priority) over consecutive seeds. Full: 3 settings x 4 seeds of 200
jobs; quick: 2 x 3 of 50 jobs.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.harness import Record, make_record, measure
from simulator.sweep import RunSpec, SweepFile, plan_runs, run_sweep

__all__ = ["machine_speedup", "plan", "run"]

_POLICIES = ["fcfs", "easy", "k8s-priority"]


def plan(settings: int, seeds: int, jobs: int) -> list[RunSpec]:
    """The benchmark's runs: ``settings`` policies of the Slurm-like provider x ``seeds`` seeds,
    ``jobs`` jobs a run, on the default scenario."""
    sweep = SweepFile(
        scenario="default",
        seeds=seeds,
        first_seed=1,
        overrides={"run.jobs": jobs},
        grid={"providers.1.scheduling.policy": _POLICIES[:settings]},
    )
    return plan_runs(sweep, "default")


def _spin(n: int) -> int:
    """Pure-Python CPU work, nothing shared: what a pool speeds up as well as the machine allows."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def machine_speedup(workers: int, *, tasks: int = 8, n: int = 1_000_000, repeat: int = 2) -> float:
    """The speed-up a pool of ``workers`` processes gets *right now* on :func:`_spin`, against one
    process: the ceiling of the sweep's ratio on this machine at this moment (less than
    ``workers`` when other work shares the cores, or the "cores" are hyperthreads)."""
    one = measure(lambda: [_spin(n) for _ in range(tasks)], repeat=repeat)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_spin, [1] * workers))  # start the workers outside the timing
        many = measure(lambda: list(pool.map(_spin, [n] * tasks)), repeat=repeat)
    return one.best / many.best


def run(
    quick: bool,
    *,
    settings: int | None = None,
    seeds: int | None = None,
    jobs: int | None = None,
    repeat: int | None = None,
    dask: bool = True,
) -> list[Record]:
    """Measure the figures above; the keyword arguments shrink the sweep (for the smoke test)."""
    n_settings = settings if settings is not None else (2 if quick else 3)
    n_seeds = seeds if seeds is not None else (3 if quick else 4)
    n_jobs = jobs if jobs is not None else (50 if quick else 200)
    rounds = repeat if repeat is not None else (2 if quick else 3)
    specs = plan(n_settings, n_seeds, n_jobs)
    cores = os.cpu_count() or 1
    details: dict[str, Any] = {
        "runs": len(specs),
        "settings": n_settings,
        "seeds": n_seeds,
        "jobs_per_run": n_jobs,
        "pool_workers": cores,
        "quick": quick,
        "repeat": rounds,
        # the machine may be shared: more runnable processes than cores caps the pool's speed-up
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        out = Path(tmp) / "out"

        def fresh() -> None:
            """Start every round on an empty folder, or the sweep would skip every run."""
            shutil.rmtree(out, ignore_errors=True)

        def sweep(**where: Any) -> None:
            # The harness pauses the garbage collector while timing; a sweep runs with it on, and
            # the pool's forked workers inherit the parent's setting (off, they run slower).
            gc.enable()
            executed = run_sweep(specs, out, **where)
            assert executed == len(specs), (executed, len(specs))

        one = measure(lambda: sweep(workers=1), repeat=rounds, setup=fresh)
        pool = measure(lambda: sweep(workers=None), repeat=rounds, setup=fresh)
        details["machine_pool_speedup"] = round(machine_speedup(cores, n=200_000 if quick else 1_000_000), 2)
        records = [
            make_record(
                "sweep.runs_per_s",
                pool.rate(len(specs)),
                "runs/s",
                baseline="one process (--workers 1)",
                baseline_value=one.rate(len(specs)),
                details=details,
            )
        ]
        if dask and importlib.util.find_spec("distributed") is not None:
            from distributed import LocalCluster

            with LocalCluster(
                n_workers=cores,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
            ) as cluster:
                address = cluster.scheduler_address
                on_dask = measure(lambda: sweep(scheduler=address), repeat=rounds, setup=fresh)
            records.append(
                make_record(
                    "sweep.dask_runs_per_s",
                    on_dask.rate(len(specs)),
                    "runs/s",
                    baseline="one process (--workers 1)",
                    baseline_value=one.rate(len(specs)),
                    details={**details, "dask_workers": cores},
                )
            )
    return records


if __name__ == "__main__":  # a quick look without the runner
    for record in run(quick=True):
        print(record.name, f"{record.value:,.2f}", record.unit, "ratio", f"{record.ratio:.2f}")
