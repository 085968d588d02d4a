"""One job's life, step by step, through the specification: what ``make run`` shows first.

A user submits a web application with a public link; Core validates it and asks the provider to
create it; the provider accepts, starts it, reports RUNNING; the application exits with code 1; the
provider reports the end; Core releases the link. After every step all properties are checked.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from spec import actions as A
from spec.properties import PROPERTIES, check_state, check_step
from spec.rules import Config, resolve
from spec.state import SystemState
from spec.system import ProtocolModel
from spec.world import default_world


def _uid(s: SystemState, kind: str) -> int:
    return next(m.uid for m in s.flight if m.kind == kind)


def job_life(config: Config | None = None) -> list[tuple[str, str, SystemState, list[str]]]:
    """Run the story; return (actor, what happened, state after, violations) per step."""
    model = ProtocolModel(default_world(providers=1), config or resolve())
    web = next(t.index for t in model.world.templates if t.name == "web+link")
    s = model.init_state()
    rows: list[tuple[str, str, SystemState, list[str]]] = []

    def do(actor: str, what: str, action: A.Action) -> None:
        nonlocal s
        t = model.step(s, action)
        violations = [str(v) for v in check_step(model, s, action, t)]
        violations += [str(v) for v in check_state(model, t.state)]
        calls = "; ".join(f"{c.call} -> {c.status}" + (f" {c.why}" if c.why else "") for c in t.calls)
        s = t.state
        rows.append((actor, what + (f"  [{calls}]" if calls else ""), s, violations))

    do("user:alice", "submits acme-web with public link 55", A.Submit(web))
    do("network", "Core's create reaches provider k8s", A.Deliver(_uid(s, "jobs.provider.create")))
    do("network", "the provider's answer reaches Core", A.Deliver(_uid(s, "create-reply")))
    do("provider:k8s", "the scheduler starts the job", A.Start(1))
    do("provider:k8s", "reports RUNNING", A.Report(1))
    do("network", "the update reaches Core", A.Deliver(_uid(s, "jobs.control.update")))
    do("workload", "runs for 30 minutes", A.Tick(1))
    do("provider:k8s", "reports usage", A.ReportUsage(1))
    do("network", "the usage report reaches Core", A.Deliver(_uid(s, "accounting.reportUsage")))
    do("workload", "the application exits with code 1", A.Exit(1, 1))
    do("provider:k8s", "reports the final state", A.Report(1))
    do("network", "the update reaches Core", A.Deliver(_uid(s, "jobs.control.update")))
    return rows


def print_job_life(console: Console | None = None, config: Config | None = None) -> bool:
    """Print the story as a table; return True if no property was violated."""
    console = console or Console()
    cfg = config or resolve()
    rows = job_life(cfg)
    table = Table(
        title=f"A job's life under '{cfg.describe()}': all {len(PROPERTIES)} properties checked each step"
    )
    for col in ("#", "actor", "what happened", "Core", "provider", "bound", "check"):
        table.add_column(col)
    ok = True
    for i, (actor, what, s, violations) in enumerate(rows, 1):
        job = s.jobs.get(1)
        pj = s.providers["k8s"].jobs.get(1)
        core = f"{job.state}{'' if job.confirmed else ' (unconfirmed)'}" if job else "-"
        prov = f"{pj.phase}" + (f" ({pj.cause})" if pj and pj.cause else "") if pj else "-"
        bound = ", ".join(r for r, v in s.bindings.items() if 1 in v) or "-"
        verdict = "[green]ok[/]" if not violations else "[red]" + "; ".join(violations) + "[/]"
        ok = ok and not violations
        table.add_row(str(i), actor, what, core, prov, bound, verdict)
    console.print(table)
    return ok
