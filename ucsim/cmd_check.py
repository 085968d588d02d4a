"""``ucsim check``: judge a recorded trace against the protocol (issue 6, the trace checker).

Streams the trace through :func:`spec.conformance.check_trace` and prints a verdict per job and
overall; for each violation the line, the event, the property (name, meaning, UCloud source), the job's
history up to it and the rule that refuses it. ``--json`` prints the report as one JSON document,
``--junit FILE`` writes JUnit XML (one test case per job) for CI systems.

Exit status: 0 the trace conforms; 1 violations found; 2 unreadable input (missing file, bad UTF-8 or
JSON, a bad field, seq or time out of order, a misplaced catalog, an unknown call) or bad arguments.
Violations found before an unreadable line are still reported.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ucsim.errors import fail

__all__ = ["check"]


@click.command()
@click.argument("trace", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--variant", default="documented", show_default=True, help="documented or ucloud-current.")
@click.option("--rule", "rules", multiple=True, metavar="NAME=on|off", help="Switch one rule (repeatable).")
@click.option(
    "--tolerance-ms",
    type=click.IntRange(min=0),
    default=60_000,
    show_default=True,
    help="Slack for timing checks that rely on the times Core observed (network latency).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a JUnit XML report (one test case per job) to this file.",
)
def check(
    trace: Path, variant: str, rules: tuple[str, ...], tolerance_ms: int, as_json: bool, junit: Path | None
) -> None:
    """Check a trace (JSON Lines, .gz too) against the protocol: Core's answers and the providers' updates.

    Example: ucsim check run.jsonl.gz --variant ucloud-current --junit check.xml
    """
    from spec.conformance import check_trace
    from spec.rules import UnknownNameError, resolve

    try:
        cfg = resolve(variant, rules=list(rules))
    except UnknownNameError as error:
        fail(str(error))
    report = check_trace(trace, cfg, tolerance_ms)
    if junit is not None:
        try:
            junit.write_text(report.to_junit(), encoding="utf-8")
        except OSError as error:
            fail(f"cannot write {junit}: {error.strerror or error}")
    if as_json:
        import orjson

        click.echo(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        _print(report, trace)
    sys.exit(report.exit_code)


def _print(report: Any, trace: Path) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    counts: dict[str, int] = {}
    for v in report.jobs.values():
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    for i, v in enumerate(report.violations, 1):
        console.print(
            f"[bold red]violation {i}[/] line {v.line} (seq {v.seq})"
            + (f", job {escape(v.job)}" if v.job is not None else "")
            + f": [bold]{v.prop.name}[/]"
        )
        console.print(f"  {escape(v.prop.meaning)}")
        console.print(f"  [dim]source:[/] {escape(v.prop.source)}")
        console.print(f"  [dim]rule:[/] {escape(v.rule)}")
        for entry in v.history:
            console.print(f"    {escape(entry)}")
    if report.jobs:
        table = Table(title="jobs", show_edge=False)
        table.add_column("job")
        table.add_column("verdict")
        table.add_column("state")
        shown = 0
        for jid, v in report.jobs.items():
            if v.verdict == "conforms":
                continue
            style = "red" if v.verdict == "violates" else "yellow"
            table.add_row(escape(jid), f"[{style}]{v.verdict}[/]", v.state or "-")
            shown += 1
            if shown >= 50:
                table.add_row("...", "", "")
                break
        if shown:
            console.print(table)
    for s in report.skipped:
        console.print(f"[yellow]skipped[/] {s.prop.name}: {escape(s.reason)}")
    if report.error is not None:
        console.print(f"[bold red]unreadable[/] {escape(str(trace))}: {escape(str(report.error))}")
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no jobs"
    colour = {"conforms": "green", "violations": "red", "unreadable": "red"}[report.verdict]
    console.print(
        f"[bold {colour}]{report.verdict}[/] under {escape(report.variant)}: {report.events} events, "
        f"{len(report.violations)} violation(s); jobs: {summary}"
    )
