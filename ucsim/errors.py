"""How every ``ucsim`` command reports bad input: one line on stderr and exit status 2 (as click does
for usage errors), never a traceback."""

from __future__ import annotations

from typing import NoReturn

import click

__all__ = ["fail"]


def fail(message: str) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with status 2."""
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(2)
