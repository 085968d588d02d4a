"""``ucsim sweep``: many runs of a scenario over a grid of settings and seeds, on a process pool.

Kept in its own module so that ``ucsim/cli.py`` only registers it; the simulator is imported when
the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from ucsim.errors import fail

__all__ = ["sweep"]


@click.command()
@click.argument("sweep_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/sweep"),
    show_default=True,
    help="Folder for runs.jsonl, runs.csv and summary.csv (created if missing).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes to run on (default: all cores; 1 runs in this process).",
)
@click.option(
    "--max-runs",
    type=click.IntRange(min=0),
    default=None,
    help="Execute at most this many of the runs still to do (the rest on a later start).",
)
def sweep(sweep_file: Path, out_dir: Path, workers: int | None, max_runs: int | None) -> None:
    """Run the sweep of SWEEP_FILE: every setting of its grid with each of its seeds.

    Each finished run is appended to OUT/runs.jsonl; started again, the sweep skips the runs
    already there. Writes OUT/runs.csv (one row per run) and OUT/summary.csv (mean and 95%
    Student-t confidence interval per setting and metric).

    Exit status: 0 done, 2 bad sweep file.

    Example: ucsim sweep simulator/scenarios/sweep_example.toml --out out/sweep --workers 4
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from simulator.sweep import SweepError, load_sweep, plan_runs, run_sweep, write_results

    try:
        loaded, base = load_sweep(sweep_file)
    except SweepError as error:
        fail(str(error))
    specs = plan_runs(loaded, base)
    console = Console(stderr=True)
    columns = (TextColumn("runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("sweep", total=None)

            def update(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            executed = run_sweep(specs, out_dir, workers=workers, max_runs=max_runs, progress=update)
        written = write_results(specs, out_dir)
    except OSError as error:
        fail(f"cannot write to {str(out_dir)!r}: {error.strerror or error}")
    skipped = len(specs) - executed
    click.echo(f"{len(specs)} runs: {executed} executed, {skipped} already done or left for later")
    for path in written:
        click.echo(f"  {path}")
