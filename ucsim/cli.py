"""The ``ucsim`` command line.

Commands that only need the specification (``schema``, ``check``, ``explore``, ``rules``,
``properties``) import nothing from the simulator layer, so they stay fast and SimPy-free.
"""

from __future__ import annotations

from pathlib import Path

import click

from ucsim import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ucsim")
def main() -> None:
    """Executable specification, checker and simulator of UCloud's compute orchestrator.

    UCloud/Core validates job requests and hands them to compute providers, which queue and run
    them and report state changes back. ucsim makes that protocol executable and checkable.
    """


@main.command()
def demo() -> None:
    """Show the most useful thing that exists yet (what `make run` runs)."""
    from ucsim.demo import run_demo

    run_demo()


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, dir_okay=True, writable=True, path_type=Path),
    default=None,
    help="Write one <Model>.schema.json file per model into this directory (created if missing).",
)
def schema(out_dir: Path | None) -> None:
    """Export the JSON Schema of every UCloud wire model and trace line.

    Without --out, print one JSON object {name: schema} to stdout; with --out, write one file per
    schema. Provider teams can validate their payloads with any JSON Schema (draft 2020-12) validator.
    """
    import orjson

    from spec.wire.schema import all_schemas, write_schemas

    if out_dir is None:
        click.echo(orjson.dumps(all_schemas(), option=orjson.OPT_INDENT_2).decode())
        return
    written = write_schemas(out_dir)
    click.echo(f"wrote {len(written)} JSON Schemas to {out_dir}")


@main.command()
def rules() -> None:
    """List the rule switches, the variants and the mutants, with their meaning and UCloud source."""
    from rich.console import Console
    from rich.table import Table

    from spec.rules import MUTANTS, RULES, VARIANTS

    console = Console()
    t = Table(title="Variants (--variant NAME)")
    t.add_column("variant")
    t.add_column("meaning")
    for name, meaning in VARIANTS.items():
        t.add_row(name, meaning)
    console.print(t)
    t = Table(title="Rules (--rule NAME=on|off)")
    for col in ("rule", "documented", "ucloud-current", "meaning", "source"):
        t.add_column(col)
    for r in RULES:
        t.add_row(
            r.name, "on" if r.documented else "off", "on" if r.ucloud_current else "off", r.meaning, r.source
        )
    console.print(t)
    t = Table(title="Mutants (--mutant NAME): deliberately wrong rules that the checkers must catch")
    for col in ("mutant", "meaning", "caught by"):
        t.add_column(col)
    for m in MUTANTS:
        t.add_row(m.name, m.meaning, m.hint)
    console.print(t)


@main.command()
def properties() -> None:
    """List the properties every driver checks: name, kind, meaning and UCloud source."""
    from rich.console import Console
    from rich.table import Table

    from spec.properties import PROPERTIES

    t = Table(title=f"{len(PROPERTIES)} properties")
    for col in ("property", "kind", "meaning", "source"):
        t.add_column(col)
    for p in PROPERTIES:
        t.add_row(p.name, p.kind, p.meaning, p.source)
    Console().print(t)


from ucsim.cmd_swf import swf as _swf  # noqa: E402

main.add_command(_swf)

from ucsim.cmd_scenario import validate as _validate  # noqa: E402

main.add_command(_validate)

from ucsim.cmd_run import run as _run  # noqa: E402

main.add_command(_run)

from ucsim.cmd_explore import explore as _explore  # noqa: E402

main.add_command(_explore)

from ucsim.cmd_check import check as _check  # noqa: E402

main.add_command(_check)

from ucsim.cmd_sweep import sweep as _sweep  # noqa: E402

main.add_command(_sweep)

from ucsim.cmd_record import record as _record  # noqa: E402

main.add_command(_record)

from ucsim.cmd_conformance import conformance as _conformance  # noqa: E402

main.add_command(_conformance)
