"""What ``make run`` shows until the simulator exists: a job validated against the wire models."""

from __future__ import annotations


def run_demo() -> None:
    """Print a short demonstration (replaced by the default scenario in a later issue)."""
    print("ucsim: nothing to demonstrate yet")
