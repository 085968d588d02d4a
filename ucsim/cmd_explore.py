"""``ucsim explore``: the bounded model checker on the command line.

Searches every schedule of a small world breadth first (see :mod:`spec.explore`), checks every
property, and prints each violation with its shortest counterexample as a numbered story. Imports
only the specification (no SimPy).

Exit status: 0 every property holds on the whole bounded state space; 1 a property is violated;
2 bad arguments; 3 the search was stopped by ``--max-states`` before it could finish (never 0 then).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ucsim.errors import fail

__all__ = ["explore"]


@click.command()
@click.option("--jobs", type=int, default=2, show_default=True, help="How many jobs users may submit.")
@click.option("--providers", type=int, default=1, show_default=True, help="1 (k8s) or 2 (k8s and slurm).")
@click.option(
    "--exclusive-resources",
    type=int,
    default=1,
    show_default=True,
    help="1: every job asks for the same exclusive public link; 0: plain batch jobs.",
)
@click.option(
    "--reorder/--no-reorder", default=True, show_default=True, help="May calls overtake each other?"
)
@click.option(
    "--restart/--no-restart", default=True, show_default=True, help="May a provider crash and restart?"
)
@click.option("--duplicates", type=int, default=1, show_default=True, help="Provider calls delivered twice.")
@click.option("--extend", is_flag=True, help="Let users extend time allocations.")
@click.option("--accounting", is_flag=True, help="Usage reports and a wallet lock.")
@click.option("--guards", is_flag=True, help="expectedState guards and re-assertions on updates.")
@click.option("--sessions", is_flag=True, help="Following logs and interactive sessions.")
@click.option(
    "--vanish",
    is_flag=True,
    help="A workload may vanish while its provider is down (the unknown-state rule, reference §7.2).",
)
@click.option(
    "--request",
    "requests",
    multiple=True,
    metavar="NAME",
    help="Submit these request templates instead (repeatable; see spec/examples.py).",
)
@click.option("--variant", default="documented", show_default=True, help="documented or ucloud-current.")
@click.option("--rule", "rules", multiple=True, metavar="NAME=on|off", help="Switch one rule (repeatable).")
@click.option("--mutant", default=None, help="A deliberately wrong rule (see `ucsim rules`).")
@click.option(
    "--symmetry/--no-symmetry", default=True, show_default=True, help="Merge states equal up to job ids."
)
@click.option("--max-states", type=int, default=None, help="Stop after this many distinct states (exit 3).")
@click.option("--stop-at-first", is_flag=True, help="Stop at the first violation instead of searching on.")
@click.option(
    "--export",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the state graph as FILE.graphml or FILE.dot.",
)
@click.option(
    "--emit-trace",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the first counterexample as a trace (JSON Lines, the format `ucsim check` reads).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def explore(
    jobs: int,
    providers: int,
    exclusive_resources: int,
    reorder: bool,
    restart: bool,
    duplicates: int,
    extend: bool,
    accounting: bool,
    guards: bool,
    sessions: bool,
    vanish: bool,
    requests: tuple[str, ...],
    variant: str,
    rules: tuple[str, ...],
    mutant: str | None,
    symmetry: bool,
    max_states: int | None,
    stop_at_first: bool,
    export: Path | None,
    emit_trace: Path | None,
    as_json: bool,
) -> None:
    """Check every schedule of a small world, breadth first, with the shortest counterexamples.

    Users submit up to --jobs jobs; Core validates them and hands them to the provider over a
    network that may reorder and duplicate calls; providers run, report, crash and restart. Every
    invariant is checked on every state, every action property on every transition, deadlocks are
    reported, and the liveness properties are checked under weak fairness on the state graph.

    Exit status: 0 all properties hold, 1 a violation, 2 bad arguments, 3 stopped by --max-states.

    Example: ucsim explore --variant ucloud-current --emit-trace cx.jsonl
    """
    from spec.explore import Explorer, ExploreSettings, explore_model
    from spec.rules import UnknownNameError, resolve

    settings = ExploreSettings(
        jobs=jobs,
        providers=providers,
        exclusive_resources=exclusive_resources,
        reorder=reorder,
        restart=restart,
        duplicates=duplicates,
        extend=extend,
        accounting=accounting,
        guards=guards,
        sessions=sessions,
        vanish=vanish,
        requests=tuple(requests) or None,
    )
    if max_states is not None and max_states < 1:
        fail(f"--max-states must be >= 1, got {max_states}")
    if export is not None and export.suffix not in (".graphml", ".dot"):
        fail(f"--export {export}: the file name must end in .graphml or .dot")
    try:
        config = resolve(variant, list(rules), mutant)
        model = explore_model(settings, config)
    except (UnknownNameError, ValueError) as error:
        fail(str(error))

    def progress(states: int, transitions: int, depth: int) -> None:
        if not as_json:
            click.echo(f"  ... {states:,} states, {transitions:,} transitions, depth {depth}", err=True)

    result = Explorer(
        model,
        symmetry=symmetry,
        max_states=max_states,
        stop_at=("*",) if stop_at_first else (),
        graph=export is not None,
        progress=progress,
    ).run()

    if export is not None:
        _export(result.graph, export)
    if emit_trace is not None and result.violations:
        _emit_trace(model, result.violations[0], emit_trace)
    if as_json:
        import orjson

        click.echo(orjson.dumps(_as_json(model, settings, result), option=orjson.OPT_INDENT_2).decode())
    else:
        _print(model, settings, result, export, emit_trace)
    if result.violations:
        sys.exit(1)
    if result.limited or not result.complete:
        sys.exit(3)


def _verdict(result: Any) -> str:
    if result.violations:
        return "violations"
    return "holds" if result.complete else "incomplete"


def _as_json(model: Any, settings: Any, result: Any) -> dict[str, Any]:
    from dataclasses import asdict

    from spec.explore import actor_of, describe_state, iter_story

    violations = []
    for cx in result.violations:
        steps = []
        prev = model.init_state()
        for n, phase, st in iter_story(cx):
            steps.append(
                {
                    "n": n,
                    "phase": phase,
                    "actor": actor_of(model, prev, st.action),
                    "action": repr(st.action),
                    "calls": [
                        {"actor": c.actor, "call": c.call, "job": c.job, "status": c.status, "why": c.why}
                        for c in st.transition.calls
                    ],
                    "state": describe_state(st.transition.state),
                }
            )
            prev = st.transition.state
        violations.append(
            {
                "property": cx.name,
                "kind": cx.kind,
                "meaning": cx.prop.meaning if cx.prop else "a non-final state with nothing enabled",
                "source": cx.prop.source if cx.prop else "",
                "job": cx.job,
                "reason": cx.reason,
                "length": cx.length,
                "lasso": cx.lasso,
                "steps": steps,
            }
        )
    return {
        "verdict": _verdict(result),
        "config": result.config,
        "settings": asdict(settings),
        "states": result.states,
        "transitions": result.transitions,
        "depth": result.depth,
        "seconds": round(result.seconds, 3),
        "states_per_s": round(result.states_per_s),
        "symmetry": result.symmetry,
        "complete": result.complete,
        "liveness_checked": result.liveness_checked,
        "violations": violations,
    }


def _print(model: Any, settings: Any, result: Any, export: Path | None, emit_trace: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from spec.explore import actor_of, describe_calls, describe_state, iter_story

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    world = model.world
    console.print(
        f"[bold]ucsim explore[/bold]  {result.config}  jobs={settings.jobs} providers={settings.providers} "
        f"requests={','.join(t.name for t in world.templates)} reorder={'on' if settings.reorder else 'off'} "
        f"restart={'on' if settings.restart else 'off'} duplicates={settings.duplicates} "
        f"symmetry={'on' if result.symmetry else 'off'}"
    )
    console.print(
        f"{result.states:,} distinct states, {result.transitions:,} transitions, depth {result.depth}, "
        f"{result.seconds:.1f} s ({result.states_per_s:,.0f} states/s)"
        + ("" if result.complete else "  [yellow]search stopped before the end[/yellow]")
    )
    if not result.liveness_checked:
        console.print("[yellow]liveness not checked: the search did not complete[/yellow]")
    if not result.violations:
        if result.complete:
            console.print("[green]every property holds[/green] on every reachable state and transition")
        else:
            console.print("[yellow]no violation found so far[/yellow] (exit status 3)")
    for cx in result.violations:
        console.print()
        title = f"[red]{cx.name}[/red] ({cx.kind}) violated"
        if cx.job is not None:
            title += f" for job {cx.job}"
        console.print(f"{title}: {cx.reason}")
        if cx.prop is not None:
            console.print(f"  meaning: {cx.prop.meaning}\n  source:  {cx.prop.source}")
        what = "lasso: stem, then a loop repeated forever" if cx.lasso else "shortest counterexample"
        table = Table(title=f"{what} ({cx.length} steps)", show_lines=False)
        for col in ("#", "actor", "action", "calls Core saw", "state after"):
            table.add_column(col, overflow="fold")
        prev = model.init_state()
        for n, phase, st in iter_story(cx):
            mark = f"{n}" + ("*" if phase == "loop" else "")
            table.add_row(
                mark,
                actor_of(model, prev, st.action),
                repr(st.action),
                describe_calls(st.transition),
                describe_state(st.transition.state),
            )
            prev = st.transition.state
        if cx.lasso and not cx.loop:
            table.add_row("*", "", "(stutters: no fair action is enabled)", "", "")
        console.print(table)
    if export is not None:
        console.print(f"state graph written to {export}")
    if emit_trace is not None:
        if result.violations:
            console.print(f"counterexample trace written to {emit_trace}")
        else:
            console.print(f"no counterexample: {emit_trace} not written")


def _export(graph: Any, path: Path) -> None:
    import networkx as nx

    try:
        if path.suffix == ".graphml":
            nx.write_graphml(graph, path)
            return
        with open(path, "w", encoding="utf-8") as out:
            out.write('digraph states {\n  node [shape=circle, label=""];\n')
            for n, data in graph.nodes(data=True):
                out.write(f'  s{n} [tooltip="depth {data["depth"]}"];\n')
            for u, v, data in graph.edges(data=True):
                label = data["action"].replace('"', "'")
                out.write(f'  s{u} -> s{v} [label="{label}"];\n')
            out.write("}\n")
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror or error}")


def _emit_trace(model: Any, cx: Any, path: Path) -> None:
    from spec.explore import iter_story
    from spec.trace import TraceRecorder

    try:
        with TraceRecorder(model.world, path) as recorder:
            recorder.write_catalog()
            for n, _, st in iter_story(cx):
                recorder.record(st.transition, n * 1000)
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror or error}")
