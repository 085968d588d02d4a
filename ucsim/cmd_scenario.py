"""``ucsim validate [SCENARIO]``: check a scenario file without running it.

On success it prints a short summary (providers, nodes and cores, products, applications, request
templates, the workload's size and offered load, network and faults, warnings) and exits 0. A bad
scenario prints the :class:`~simulator.scenario.ScenarioError` message (file, line, field, reason:
one problem per line) and exits 2, never a traceback. Without a file it checks the default scenario.

It imports the scenario models (pydantic and the spec), not SimPy.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from simulator.scenario import Scenario


@click.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
def validate(scenario: Path | None) -> None:
    """Check SCENARIO (a TOML file; default: the built-in scenario) without running it.

    Exit status 0 if it is valid (a summary is printed), 2 if not (the problems are printed, each
    with its file, line and field).
    """
    # Imported here, not at the top: `ucsim` loads every command module, and the spec-only commands
    # must not pay for (or depend on) the simulator layer.
    from simulator.scenario import ScenarioError, load_default_scenario, load_scenario

    try:
        loaded = load_scenario(scenario) if scenario is not None else load_default_scenario()
    except ScenarioError as e:
        click.echo(str(e), err=True)
        sys.exit(2)
    click.echo(summary(loaded, str(scenario) if scenario is not None else "default scenario"))


def summary(s: Scenario, label: str) -> str:
    """The few lines ``ucsim validate`` prints for a valid scenario."""
    lines = [f"{label}: valid ({s.name}; seed {s.seed}; {s.config().describe()})"]
    for p in s.providers:
        nodes = sum(g.count for g in p.cluster.nodes)
        gpus = sum(g.count * g.gpus for g in p.cluster.nodes)
        gpu_text = f", {gpus} GPUs" if gpus else ""
        backends = "+".join(p.support.backends()) or "no backend"
        lines.append(
            f"  provider {p.name}: {nodes} nodes, {p.total_cores} cores{gpu_text}; {backends}; "
            f"policy {p.scheduling.policy}"
        )
    templates = s.template_info()
    invalid = sum(t.expect is not None for t in templates)
    lines.append(
        f"  {len(s.products)} products, {len(s.applications)} applications, {len(s.users)} users, "
        f"{len(s.wallets) if s.wallets is not None else 'unlimited'} wallets, "
        f"{len(templates)} request templates ({invalid} deliberately invalid)"
    )
    w = s.workload
    limit = " or ".join(
        x
        for x in (f"{s.run.jobs} jobs" if s.run.jobs else "", f"{s.run.until_s:g} s" if s.run.until_s else "")
        if x
    )
    if w.swf is not None:
        lines.append(f"  workload: SWF replay of {s.swf_path()} at {w.swf.provider} (until {limit})")
    else:
        rate = s.arrival_rate_per_s()
        loads = ", ".join(f"{name} {s.offered_load(name):.2f}" for name in sorted(s.working_providers()))
        expected = f"~{s.run.jobs / rate / 3600:.1f} h of arrivals" if s.run.jobs else ""
        lines.append(
            f"  workload: {w.arrivals.kind} arrivals at {rate:.4g}/s until {limit} ({expected}); "
            f"offered load {loads}"
        )
        mean_runtime = w.runtime_s.mean()
        lines.append(
            f"    run time mean {mean_runtime:.0f} s; invalid {w.invalid.fraction:.0%}, "
            f"cancelled {w.cancellations.probability:.0%}, extended {w.extensions.probability:.0%}, "
            f"non-zero exit {w.exit_codes.nonzero_probability:.0%}"
        )
    n = s.network
    lines.append(
        f"  network: latency mean {n.core_to_provider.latency_ms.mean():.1f} ms / "
        f"{n.provider_to_core.latency_ms.mean():.1f} ms (core->provider / back), "
        f"loss {n.core_to_provider.loss:g}, duplicate {n.core_to_provider.duplicate:g}, "
        f"{len(n.partitions)} partitions"
    )
    f = s.faults
    lines.append(
        f"  faults: provider crash MTBF {_mtbf(f.provider_crash.rate_per_s)}, node MTBF "
        f"{_mtbf(f.node_failure.rate_per_s)}, Core restarts {len(f.core_restart.times_s)} fixed + MTBF "
        f"{_mtbf(f.core_restart.rate_per_s)}"
    )
    lines += [f"  warning: {warning}" for warning in s.warnings]
    return "\n".join(lines)


def _mtbf(rate_per_s: float) -> str:
    if rate_per_s <= 0:
        return "never"
    seconds = 1.0 / rate_per_s
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s" if math.isfinite(seconds) else "never"
