"""PNG plots of a simulation: queue length and utilisation over time, and the distribution of waits.

matplotlib is imported here, lazily, with the non-interactive ``Agg`` backend, so that nothing else in
the simulator (and nothing in ``spec``) pays for it or needs a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["write_plots"]


def write_plots(
    out: Path,
    providers: Sequence[str],
    series: Sequence[tuple[float, tuple[int, ...], tuple[int, ...]]],
    waits: Any,
    cores: dict[str, int] | None = None,
) -> list[Path]:
    """Write ``queue.png``, ``utilisation.png`` and ``waits.png`` into ``out``; return their paths.

    ``series`` holds ``(time s, queued jobs per provider, busy cores per provider)`` samples;
    ``cores`` the total cores per provider (default: the largest busy figure seen, so the curve is
    a lower bound of the true utilisation rather than a made-up one).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [t / 3600 for t, _, _ in series]
    written: list[Path] = []

    fig, ax = plt.subplots(figsize=(8, 3.5))
    for i, name in enumerate(providers):
        ax.step(hours, [q[i] for _, q, _ in series], where="post", label=name)
    ax.set(xlabel="simulated time (h)", ylabel="jobs waiting", title="Queue length per provider")
    ax.legend()
    fig.tight_layout()
    written.append(_save(fig, out / "queue.png"))

    fig, ax = plt.subplots(figsize=(8, 3.5))
    for i, name in enumerate(providers):
        busy = [b[i] for _, _, b in series]
        total = (cores or {}).get(name) or max(busy, default=0) or 1
        ax.step(hours, [b / total for b in busy], where="post", label=name)
    ax.set(xlabel="simulated time (h)", ylabel="busy cores / cores", title="Utilisation per provider")
    ax.set_ylim(0, 1.05)
    ax.legend()
    fig.tight_layout()
    written.append(_save(fig, out / "utilisation.png"))

    fig, ax = plt.subplots(figsize=(8, 3.5))
    values = [w / 60 for w in waits]
    if values:
        ax.hist(values, bins=60)
    ax.set(
        xlabel="wait in the queue (min)",
        ylabel="jobs",
        title=f"Wait-time distribution ({len(values):,} jobs)",
    )
    if values and max(values) > 0:
        ax.set_yscale("log")  # a few very long waits would otherwise hide the shape of the rest
    fig.tight_layout()
    written.append(_save(fig, out / "waits.png"))
    plt.close("all")
    return written


def _save(fig: Any, path: Path) -> Path:
    # No date or software version in the PNG's metadata: the same run gives the same bytes.
    fig.savefig(path, dpi=100, metadata={"Software": None})
    return path
