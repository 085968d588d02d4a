"""``ucsim conformance``: drive a provider with generated schedules and judge it (issue 6, the kit).

The kit plays UCloud/Core against one provider (:mod:`providerkit.kit`): Hypothesis generates short
schedules of submissions, cancellations, extensions, suspensions and test-hook events, every call and
every ``jobs.control.update`` the provider sends is written as a trace and judged by the trace
checker, and a failing schedule is shrunk, printed as a story and written as a trace that
``ucsim check --tolerance-ms 0`` refuses. A coverage table always says what the provider was seen
to do, and what could not be exercised because a test hook is missing.

Two ways to reach a provider:

* ``--provider-url URL``: a provider over HTTP on UCloud's paths. It must send its control calls to
  the kit's endpoint, printed first (``--control-port`` fixes its port so the provider can be
  configured beforehand);
* ``--reference``: the spec's own provider in process, optionally wrong on purpose (``--mutant``,
  ``--misbehave``), to see what a failure looks like.

Exit status: 0 the provider passed; 1 it broke a property (or stopped answering during a run); 2 bad
arguments, an unreachable provider, or an inconclusive run (the provider accepted no job, or never
reported a state change: a wrong URL or provider id proves nothing).
"""

from __future__ import annotations

from pathlib import Path

import click

from ucsim.errors import fail

__all__ = ["conformance"]


@click.command()
@click.option("--provider-url", default=None, metavar="URL", help="The provider's base URL (HTTP).")
@click.option("--reference", is_flag=True, help="Drive the spec's reference provider in process instead.")
@click.option("--provider", "provider_id", default="k8s", show_default=True, help="The provider's id.")
@click.option("--token", default=None, help="Bearer token: sent to the provider, required from it.")
@click.option("--control-host", default="127.0.0.1", show_default=True, help="Where the kit listens.")
@click.option(
    "--control-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port of the kit's control endpoint (0: a free one).",
)
@click.option("--variant", default="documented", show_default=True, help="Judge under this variant.")
@click.option("--rule", "rules", multiple=True, metavar="NAME=on|off", help="Switch one rule (repeatable).")
@click.option("--mutant", default=None, help="With --reference: the provider follows this mutant.")
@click.option("--misbehave", default=None, help="With --reference: one of the kit's misbehaviours.")
@click.option("--examples", type=click.IntRange(min=1), default=100, show_default=True)
@click.option(
    "--steps", type=click.IntRange(min=1), default=25, show_default=True, help="Most steps per example."
)
@click.option(
    "--settle-ms",
    type=click.IntRange(min=0),
    default=None,
    help="Quiet time after which the provider's updates count as complete "
    "(default: 50 over HTTP, 0 in process).",
)
@click.option(
    "--tolerance-ms",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Slack for reordered updates (the kit's link does not reorder).",
)
@click.option(
    "--trace-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("conformance-failure.jsonl"),
    show_default=True,
    help="Where the shrunk failing example's trace is written.",
)
def conformance(
    provider_url: str | None,
    reference: bool,
    provider_id: str,
    token: str | None,
    control_host: str,
    control_port: int,
    variant: str,
    rules: tuple[str, ...],
    mutant: str | None,
    misbehave: str | None,
    examples: int,
    steps: int,
    settle_ms: int | None,
    tolerance_ms: int,
    trace_out: Path,
) -> None:
    """Drive a provider with generated schedules and judge every call by the protocol's properties.

    Examples: ucsim conformance --provider-url http://127.0.0.1:8889 --token s3cret
              ucsim conformance --reference --mutant exit-code-failure
    """
    from providerkit.adapter import ProviderAdapter
    from providerkit.kit import KitSettings, run_kit
    from spec.rules import UnknownNameError, resolve
    from spec.world import default_world

    if (provider_url is None) == (not reference):
        fail("give exactly one of --provider-url URL and --reference")
    if not reference and (mutant or misbehave):
        fail("--mutant and --misbehave change the reference provider: use them with --reference")
    if token is not None and (
        any(c in token for c in "\r\n") or not token.isascii() or not token.isprintable()
    ):
        fail("--token must be printable ASCII (it is sent in an HTTP header)")
    if trace_out.is_dir() or not trace_out.resolve().parent.is_dir():
        fail(f"--trace-out {trace_out}: not a file in an existing directory")
    world = default_world()
    if provider_id not in world.providers:
        fail(f"unknown provider {provider_id!r}: the kit's world has {', '.join(world.providers)}")
    try:
        judge = resolve(variant, rules=list(rules))
        behaviour = resolve(variant, rules=list(rules), mutant=mutant)
    except UnknownNameError as error:
        fail(str(error))
    adapter: ProviderAdapter
    if reference:
        from providerkit.reference import MISBEHAVIOURS, ReferenceAdapter

        if misbehave is not None and misbehave not in MISBEHAVIOURS:
            fail(f"unknown misbehaviour {misbehave!r}; known: {', '.join(MISBEHAVIOURS)}")
        adapter = ReferenceAdapter(world, provider_id, behaviour, misbehave)
        where = "the reference provider (in process)"
    else:
        from providerkit.http import BindError, HttpAdapter, Unreachable

        try:
            adapter = HttpAdapter(provider_url, provider_id, token, control_host, control_port)  # type: ignore[arg-type]
        except (BindError, ValueError) as error:
            fail(error.strerror if isinstance(error, OSError) and error.strerror else str(error))
        where = provider_url
        click.echo(
            f"control endpoint: {adapter.control_url}  (the provider must send its control calls here)"
        )
    settle = (settle_ms if settle_ms is not None else (0 if reference else 50)) / 1000
    kit = KitSettings(examples=examples, steps=steps, settle_s=settle, tolerance_ms=tolerance_ms)
    click.echo(f"ucsim conformance  provider {provider_id} at {where}  judged under {judge.describe()}")
    try:
        with adapter:
            ping = adapter.call("jobs.provider.retrieveProducts", {})
            if not ping.ok:
                click.echo(f"note: retrieveProducts answered {ping.status} {ping.why or ''}".rstrip())
            report = run_kit(adapter, world, judge, kit, trace_out)
    except Exception as error:  # an unreachable provider is bad input, not a finding
        if not reference and isinstance(error, Unreachable):
            fail(str(error))
        raise
    click.echo(f"{examples} examples of at most {steps} steps")
    click.echo(report.coverage_table())
    for line in report.unexercised():
        click.echo(f"not exercised: {line}")
    if report.verdict == "inconclusive":
        click.echo(f"INCONCLUSIVE: no property failed, but {report.inconclusive()}")
        raise SystemExit(2)
    if report.passed:
        click.echo("PASSED: every property held on every example")
        return
    click.echo("")
    click.echo("FAILED (shrunk schedule):")
    click.echo(report.failure)
    click.echo(
        f"\nthe failing example's trace: {trace_out}  (ucsim check {trace_out} --tolerance-ms {tolerance_ms})"
    )
    raise SystemExit(1)
