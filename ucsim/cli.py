"""The ``ucsim`` command line.

Commands that only need the specification (``schema``, ``check``, ``explore``, ``rules``,
``properties``) import nothing from the simulator layer, so they stay fast and SimPy-free.
"""

from __future__ import annotations

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
