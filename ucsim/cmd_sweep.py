"""``ucsim sweep``: many runs of a scenario over a grid of settings and seeds, on a local process
pool or a Dask distributed cluster.

Kept in its own module so that ``ucsim/cli.py`` only registers it; the simulator is imported when
the command runs, Dask only with ``--scheduler``, pyarrow only for Parquet and matplotlib only for
the plots.
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
    help="Folder for runs.jsonl, the runs and summary tables and plots/ (created if missing).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Local processes to run on (default: all cores; 1 runs in this process).",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    default=None,
    help="Run on the Dask distributed cluster of this scheduler instead (needs the 'dask' extra, "
    "and ucsim installed on the workers).",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the Dask scheduler to answer.",
)
@click.option(
    "--max-runs",
    type=click.IntRange(min=0),
    default=None,
    help="Execute at most this many of the runs still to do (the rest on a later start).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "parquet", "csv"]),
    default="auto",
    show_default=True,
    help="Format of runs.* and summary.*: auto is parquet when pyarrow is installed, else csv.",
)
@click.option("--plots/--no-plots", default=True, show_default=True, help="Write plots/METRIC.png.")
def sweep(
    sweep_file: Path,
    out_dir: Path,
    workers: int | None,
    scheduler: str | None,
    connect_timeout: float,
    max_runs: int | None,
    fmt: str,
    plots: bool,
) -> None:
    """Run the sweep of SWEEP_FILE: every setting of its grid with each of its seeds.

    Each finished run is appended to OUT/runs.jsonl; started again (locally or on Dask), the
    sweep skips the runs already there. Writes OUT/runs.parquet or OUT/runs.csv (one row per run:
    run id, setting, seed, provenance, metrics), OUT/summary.* (mean and 95% Student-t confidence
    interval per setting and metric) and OUT/plots/METRIC.png (the means with their intervals).

    Exit status: 0 done, 2 bad sweep file or options, Dask missing or unreachable.

    \b
    Examples:
      ucsim sweep simulator/scenarios/sweep_example.toml --out out/sweep --workers 4
      ucsim sweep simulator/scenarios/sweep_example.toml --scheduler tcp://10.0.0.5:8786
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from simulator.sweep import SweepError, default_format, load_sweep, plan_runs, run_sweep, write_results

    if scheduler is not None and workers is not None:
        fail("--workers sizes the local pool; with --scheduler the Dask cluster's workers run the sweep")
    fmt = default_format() if fmt == "auto" else fmt
    try:
        loaded, base = load_sweep(sweep_file)
    except SweepError as error:
        fail(str(error))
    specs = plan_runs(loaded, base)
    console = Console(stderr=True)
    where = f"runs on {scheduler}" if scheduler else "runs"
    columns = (TextColumn(where), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        # the bar only on a terminal: in a log or a pipe it would leave a blank line behind
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
            task = progress.add_task("sweep", total=None)

            def update(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            executed = run_sweep(
                specs,
                out_dir,
                workers=workers,
                max_runs=max_runs,
                progress=update,
                scheduler=scheduler,
                connect_timeout=connect_timeout,
            )
        written = write_results(specs, out_dir, fmt=fmt, plots=plots)
    except SweepError as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot write to {str(out_dir)!r}: {error.strerror or error}")
    skipped = len(specs) - executed
    click.echo(f"{len(specs)} runs: {executed} executed, {skipped} already done or left for later")
    plot_files = [p for p in written if p.suffix == ".png"]
    for path in written:
        if path.suffix != ".png":
            click.echo(f"  {path}")
    if plot_files:
        click.echo(f"  {plot_files[0].parent}/ ({len(plot_files)} plots)")
