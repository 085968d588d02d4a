"""``ucsim run``: simulate a scenario with every protocol step checked against the specification.

Kept in its own module so that ``ucsim/cli.py`` only registers it: SimPy and the simulator are
imported when the command runs, never when another command (``ucsim schema``...) starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ucsim.errors import fail

__all__ = ["run"]

_SHOWN_VIOLATIONS = 3


@click.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Folder for jobs.csv, metrics.json and the plots (created if missing).",
)
@click.option(
    "--trace",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write every API call Core saw as a JSON Lines trace (gzip if FILE ends in .gz).",
)
@click.option("--seed", type=int, default=None, help="Seed of every random stream (default: the scenario's).")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Number of job requests to submit (default: the scenario's run.jobs).",
)
@click.option(
    "--variant", default=None, help="Protocol variant: documented or ucloud-current (see `ucsim rules`)."
)
@click.option(
    "--rule",
    "rules",
    multiple=True,
    metavar="NAME=on|off",
    help="Switch one rule on top of the variant (repeatable).",
)
@click.option("--mutant", default=None, help="Run a deliberately wrong rule (see `ucsim rules`).")
@click.option("--no-properties", is_flag=True, help="Do not check the properties (faster).")
@click.option("--fail-fast", is_flag=True, help="Stop at the first property violation.")
@click.option("--no-plots", is_flag=True, help="Do not draw the PNG plots.")
def run(
    scenario: Path | None,
    out_dir: Path,
    trace: Path | None,
    seed: int | None,
    jobs: int | None,
    variant: str | None,
    rules: tuple[str, ...],
    mutant: str | None,
    no_properties: bool,
    fail_fast: bool,
    no_plots: bool,
) -> None:
    """Simulate SCENARIO (a TOML file; default: the built-in two-provider scenario).

    Jobs arrive, travel over a lossy network, wait in each provider's queue, run on its cluster,
    end, and are reported back to UCloud/Core, while providers crash, nodes fail and Core restarts,
    as the scenario says. Every protocol step goes through the specification and every property is
    checked as the run goes. Writes OUT/jobs.csv, OUT/metrics.json and plots, and prints a summary.

    Exit status: 0 if no property was violated, 1 if some was, 2 for bad input.

    Example: ucsim run --jobs 10000 --variant ucloud-current --trace out/trace.jsonl.gz
    """
    from simulator.engine import Engine
    from simulator.scenario import ScenarioError, load_default_scenario, load_scenario
    from spec.rules import UnknownNameError, resolve

    try:
        loaded = load_scenario(scenario) if scenario is not None else load_default_scenario()
        changes: dict[str, Any] = {}
        if seed is not None:
            changes["seed"] = seed
        if jobs is not None:
            changes["run.jobs"] = jobs
        if changes:
            loaded = loaded.with_overrides(changes)
        base_rules = [f"{k}={'on' if v else 'off'}" for k, v in loaded.rules.items()]
        config = resolve(
            variant or loaded.variant,
            [*base_rules, *rules],
            mutant if mutant is not None else loaded.mutant,
        )
    except (ScenarioError, UnknownNameError) as error:
        fail(str(error))
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)

    try:
        engine = Engine(loaded, config=config, check=not no_properties, fail_fast=fail_fast, trace=trace)
    except (ValueError, OSError) as error:
        fail(f"cannot set up the run: {error}")
    try:
        result = _run_with_progress(engine)
    except OSError as error:
        fail(f"cannot write the trace {str(trace)!r}: {error.strerror or error}")
    try:
        written = result.write(out_dir, plots=not no_plots)
    except OSError as error:
        fail(f"cannot write to {str(out_dir)!r}: {error.strerror or error}")
    if trace is not None:
        written.append(trace)
    _summary(engine, result, written)
    if result.violation_count:
        raise SystemExit(1)


def _run_with_progress(engine: Any) -> Any:
    """Run, with a progress bar when a person is watching and the run is long enough to need one."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    total = engine.workload.jobs
    if not console.is_terminal or total is None or total < 5_000:
        return engine.run()
    columns = (
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("jobs submitted, {task.fields[sim]} simulated"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("run", total=total, sim="0 h")

        def update(submitted: int, simulated_s: float) -> None:
            progress.update(task, completed=submitted, sim=f"{simulated_s / 3600:,.1f} h")

        return engine.run(progress=update)


def _summary(engine: Any, result: Any, written: list[Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    m = result.metrics
    console = Console()
    table = Table(
        title=f"ucsim run: {engine.scenario.name} ({engine.cfg.describe()}, seed {engine.scenario.seed})"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    refused = sum(m["refused_by_reason"].values())
    states = ", ".join(f"{k} {v:,}" for k, v in m["jobs_by_state"].items()) or "-"
    rows = [
        ("requests submitted", f"{m['jobs_submitted']:,}"),
        ("accepted by Core", f"{m['jobs_accepted']:,}"),
        ("refused or failed creates", f"{refused:,}"),
        ("final states", states),
        ("stuck in Core (final update lost)", f"{m['stuck_in_core']:,}"),
        (
            "user calls (follow, sessions, suspend)",
            ", ".join(f"{c.removeprefix('jobs.')} {sum(v.values()):,}" for c, v in m["user_actions"].items())
            or "-",
        ),
        (
            "wait mean / median / p95 (s)",
            " / ".join(f"{m[k]:,.0f}" for k in ("wait_mean_s", "wait_median_s", "wait_p95_s")),
        ),
        ("bounded slowdown, mean", f"{m['bounded_slowdown_mean']:,.2f}"),
        *((f"utilisation {p}", f"{u:.1%}") for p, u in m["utilisation"].items()),
        ("makespan (h)", f"{m['makespan_s'] / 3600:,.1f}"),
        ("throughput (jobs/h)", f"{m['throughput_jobs_per_s'] * 3600:,.1f}"),
        ("faults", ", ".join(f"{k} {v}" for k, v in m["faults"].items()) or "none"),
        ("properties", "checked on every step" if engine.check else "not checked (--no-properties)"),
        ("violations", _violations_cell(m)),
        ("protocol steps", f"{m['protocol_steps']:,}"),
        (
            "speed (wall clock)",
            f"{result.wall_s:,.1f} s, {m['jobs_submitted'] / max(result.wall_s, 1e-9):,.0f} jobs/s, "
            f"{m['protocol_steps'] / max(result.wall_s, 1e-9):,.0f} steps/s",
        ),
        ("stopped", result.stopped),
        ("outputs", "\n".join(str(p) for p in written)),
    ]
    for figure, value in rows:
        table.add_row(figure, value)
    console.print(table)
    for v in result.violations[:_SHOWN_VIOLATIONS]:
        job = f" (job {v['job']})" if v["job"] is not None else ""
        console.print(f"[bold red]violation[/] {v['property']}{job} at {v['time_s']:,.3f} s: {v['reason']}")
        console.print(f"  meaning: {v['meaning']}\n  source:  {v['source']}\n  the job's last steps:")
        for line in v["trace"]:
            console.print(f"    {line}", markup=False, highlight=False)
    if result.violation_count > _SHOWN_VIOLATIONS:
        console.print(f"... {result.violation_count - _SHOWN_VIOLATIONS:,} more in metrics.json")


def _violations_cell(m: dict[str, Any]) -> str:
    v = m["violations"]
    if not v["total"]:
        return "none"
    return f"{v['total']:,}: " + ", ".join(f"{k} {n:,}" for k, n in v["by_property"].items())
