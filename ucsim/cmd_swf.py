"""``ucsim swf``: replay a Standard Workload Format log on P single-core nodes under FCFS or EASY.

Kept in its own module so that ``ucsim/cli.py`` only registers it: the simulator layer is imported
when the command runs, never when another command (``ucsim schema``...) starts.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from ucsim.errors import fail

__all__ = ["swf"]

_SHOWN = 10  # skipped/refused lines listed one by one; beyond that, a count


@click.command()
@click.argument("workload", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--processors",
    "-p",
    type=int,
    required=True,
    help="P: the machine has P single-core nodes. Jobs needing more are refused.",
)
@click.option(
    "--policy",
    default="fcfs",
    show_default=True,
    help="Scheduling policy: fcfs or easy (or any registered policy; a wrong name lists them).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Folder for jobs.csv and metrics.json (created if missing).",
)
def swf(workload: Path, processors: int, policy: str, out_dir: Path) -> None:
    """Replay WORKLOAD (an SWF file) under a scheduling policy, the classic experiment.

    Every job needs its processor count (field 8, or 5 if 8 is -1) and runs exactly its run time
    (field 4); EASY uses the requested time (field 9) as the estimate. No latency, no faults. At each
    instant: completions, then arrivals in file order, then one scheduling pass. Writes
    OUT/jobs.csv (one row per job) and OUT/metrics.json (waits, slowdown, utilisation, provenance).

    Example: ucsim swf CTC-SP2-1996-3.1-cln.swf --processors 338 --policy easy --out out/ctc
    """
    from rich.console import Console
    from rich.table import Table

    from simulator.policies import UnknownPolicyError, make_policy
    from simulator.replay import replay_swf, write_outputs
    from simulator.swf import SwfFormatError

    if processors <= 0:
        fail(f"--processors must be a positive number of processors, got {processors}")
    try:
        scheduler = make_policy(policy)
    except UnknownPolicyError as error:
        fail(str(error))
    if not workload.is_file():
        fail(f"workload file {str(workload)!r} does not exist or is not a file")
    started = time.perf_counter()
    try:
        result = replay_swf(workload, processors, scheduler)
    except SwfFormatError as error:
        fail(f"malformed SWF: {error}")
    except OSError as error:
        fail(f"cannot read {str(workload)!r}: {error.strerror or error}")
    elapsed = time.perf_counter() - started
    try:
        metrics = write_outputs(result, out_dir)
    except OSError as error:
        fail(f"cannot write to {str(out_dir)!r}: {error.strerror or error}")

    for kind, lines in (("skipped", result.skipped), ("refused", result.refused)):
        for item in lines[:_SHOWN]:
            click.echo(f"warning: {kind} {item.message}", err=True)
        if len(lines) > _SHOWN:
            click.echo(f"warning: ... and {len(lines) - _SHOWN} more {kind} jobs", err=True)

    n = metrics["jobs"]
    table = Table(title=f"ucsim swf: {workload.name} on {processors} processors, {scheduler.name}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("jobs replayed", f"{n:,}"),
        ("skipped (unusable lines)", f"{len(result.skipped):,}"),
        ("refused (too large)", f"{len(result.refused):,}"),
        ("wait mean / median / p95 (s)", _triple(metrics)),
        ("bounded slowdown, mean", f"{metrics['bounded_slowdown_mean']:,.2f}"),
        ("utilisation", f"{metrics['utilisation']['swf']:.1%}"),
        ("makespan (s)", f"{metrics['makespan_s']:,}"),
        ("throughput (jobs/s)", f"{metrics['throughput_jobs_per_s']:.4g}"),
        ("replay speed (jobs/s, wall clock)", f"{n / elapsed:,.0f}" if elapsed > 0 else "-"),
        ("outputs", f"{out_dir / 'jobs.csv'}, {out_dir / 'metrics.json'}"),
    ]
    for figure, value in rows:
        table.add_row(figure, value)
    Console().print(table)


def _triple(metrics: dict[str, object]) -> str:
    return " / ".join(f"{metrics[k]:,.0f}" for k in ("wait_mean_s", "wait_median_s", "wait_p95_s"))
