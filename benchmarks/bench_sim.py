"""How fast ``ucsim run`` simulates, with every protocol step and every property checked.

Figures (a synthetic workload at offered load 0.85 under ``easy`` on both providers of the default
scenario, no faults; :func:`simulator.examples.bench_scenario`):

* ``sim.jobs_<N>`` and ``sim.jobs_<N>_trace`` - jobs/s (wall clock, the whole run: arrivals, network,
  scheduling, every spec step and property check, outputs kept) for N = 10k and 100k jobs, and 1M
  without ``--quick`` (300k when ``UCSIM_BENCH_SIM_MAX`` says so on a slow machine), with the trace
  off and on (gzip);
* ``sim.peak_rss_<N>`` - the peak resident memory of the process that ran N jobs (MiB), against the
  10k run's: a flat ratio means terminal jobs really leave the live state;
* the baseline of every jobs/s figure is the **raw SimPy event rate** measured in the same run: a
  trivial process that only yields timeouts (events/s). The ratio says how many raw SimPy events one
  simulated job costs; ``details`` give the protocol steps per job, which is where the time goes
  (every job takes ~18 spec steps, each checked against ~26 properties).

Each size runs in a fresh child process (``python -m benchmarks.bench_sim --child N [--trace]``), so
its peak memory is its own and one run's garbage cannot slow the next.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Record, make_record

__all__ = ["run", "simpy_event_rate"]

ROOT = Path(__file__).resolve().parents[1]
QUICK_SIZES = (10_000,)
FULL_SIZES = (10_000, 100_000, 1_000_000)


def simpy_event_rate(events: int = 1_000_000) -> float:
    """Events/s of a trivial SimPy process that does nothing but ``yield env.timeout(1)``."""
    import simpy

    env = simpy.Environment()

    def loop(env: simpy.Environment) -> Any:
        for _ in range(events):
            yield env.timeout(1)

    env.process(loop(env))
    started = time.perf_counter()
    env.run()
    return events / (time.perf_counter() - started)


def _child(jobs: int, trace: bool) -> dict[str, Any]:
    """Run one simulation here and report its figures (this process is fresh)."""
    from simulator.engine import Engine
    from simulator.examples import bench_scenario

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.jsonl.gz") if trace else None
        engine = Engine(bench_scenario(jobs), trace=path)
        started = time.perf_counter()
        result = engine.run()
        with open(os.path.join(tmp, "jobs.csv"), "w", encoding="utf-8") as f:
            result.rows.write(f, ("job_id",))  # stream the rows out, as `ucsim run` does
        wall = time.perf_counter() - started
        trace_bytes = os.path.getsize(path) if path else 0
    m = result.metrics
    return {
        "jobs": jobs,
        "wall_s": wall,
        "steps": m["protocol_steps"],
        "violations": result.violation_count,
        "peak_rss_mib": _peak_rss_mib(),
        "simulated_h": m["run"]["simulated_s"] / 3600,
        "utilisation": m["utilisation"],
        "trace_bytes": trace_bytes,
    }


def _peak_rss_mib() -> float:
    """This process's peak resident memory (MiB).

    Read from ``VmHWM`` in ``/proc/self/status`` where there is one: ``ru_maxrss`` survives
    ``execve`` on Linux, so a child forked from a runner that had grown large (the model checker's
    benchmark runs in it first) would report the runner's peak, not its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _spawn(jobs: int, trace: bool) -> dict[str, Any]:
    args = [sys.executable, "-m", "benchmarks.bench_sim", "--child", str(jobs)]
    if trace:
        args.append("--trace")
    done = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool) -> list[Record]:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    cap = int(os.environ.get("UCSIM_BENCH_SIM_MAX", "0") or 0)
    if cap:
        sizes = tuple(min(n, cap) for n in sizes)
    events = simpy_event_rate(200_000 if quick else 1_000_000)
    baseline = "raw SimPy events/s (a process yielding timeouts)"
    records: list[Record] = []
    first_rss: float | None = None
    for n in sizes:
        for trace in (False, True):
            fig = _spawn(n, trace)
            label = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}M"
            details = {
                "jobs": n,
                "trace": "gzip" if trace else "off",
                "protocol_steps_per_job": round(fig["steps"] / n, 2),
                "wall_s": round(fig["wall_s"], 2),
                "simulated_h": round(fig["simulated_h"], 1),
                "violations": fig["violations"],
                "peak_rss_mib": round(fig["peak_rss_mib"], 1),
                "utilisation": {k: round(v, 3) for k, v in fig["utilisation"].items()},
                "scenario": "simulator.examples.bench_scenario (load 0.85, easy, no faults)",
                "quick": quick,
            }
            # the ratio to the baseline is tiny; its inverse reads better: one job costs this many events
            details["raw_simpy_events_per_job"] = round(events / (n / fig["wall_s"]))
            if trace:
                details["trace_mib"] = round(fig["trace_bytes"] / 2**20, 1)
            records.append(
                make_record(
                    f"sim.jobs_{label}{'_trace' if trace else ''}",
                    n / fig["wall_s"],
                    "jobs/s",
                    baseline=baseline,
                    baseline_value=events,
                    details=details,
                )
            )
            if not trace:
                rss = fig["peak_rss_mib"]
                first_rss = first_rss or rss
                records.append(
                    make_record(
                        f"sim.peak_rss_{label}",
                        rss,
                        "MiB",
                        baseline="peak RSS of the first (smallest) run",
                        baseline_value=first_rss,
                        details={"jobs": n, "trace": "off", "quick": quick},
                    )
                )
    return records


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", type=int, help="run one simulation of N jobs and print its figures")
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.trace)))
        return
    for record in run(args.quick):
        print(f"{record.name}: {record.value:,.1f} {record.unit} (ratio {record.ratio:.3g})")


if __name__ == "__main__":
    _main()
