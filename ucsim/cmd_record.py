"""``ucsim record``: a recording proxy between UCloud and a provider that writes a trace (issue 6).

Listens on one port; UCloud's calls to the provider (``/ucloud/<id>/...``, reference §5.3) go to
``--upstream``, the provider's calls to Core (everything else, §5.4) go to ``--core``, and every call
of the trace format is written to ``--out`` as it is answered (see :mod:`providerkit.proxy`). Runs until
Ctrl-C or SIGTERM, then prints what it wrote.

Exit status: 0 after a clean stop; 2 for bad arguments (a bad URL, a busy port, an unwritable file).
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from ucsim.errors import fail

__all__ = ["record"]


@click.command()
@click.option(
    "--listen",
    "port",
    type=click.IntRange(0, 65535),
    required=True,
    help="Port to listen on (0: a free one).",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface)."
)
@click.option(
    "--upstream", required=True, metavar="URL", help="The provider's base URL (where /ucloud/<id>/... goes)."
)
@click.option(
    "--core",
    "core_url",
    required=True,
    metavar="URL",
    help="UCloud/Core's base URL (where the provider's calls go).",
)
@click.option(
    "--provider",
    "provider_id",
    required=True,
    metavar="ID",
    help="The provider's id, as in /ucloud/<ID>/jobs.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The trace to write (JSON Lines; gzip if the name ends in .gz). Overwritten.",
)
@click.option(
    "--timeout-s",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="How long a forwarded call may take before the caller gets 504.",
)
def record(
    port: int, host: str, upstream: str, core_url: str, provider_id: str, out: Path, timeout_s: float
) -> None:
    """Record the traffic between UCloud and a provider as a trace that `ucsim check` reads.

    Point UCloud (or `ucsim conformance`) at this proxy as the provider's URL, and the provider at it
    as Core's URL. The first line on stdout is the proxy's URL.

    \b
    Example:
      ucsim record --listen 8890 --upstream http://127.0.0.1:8889 \\
        --core http://127.0.0.1:8080 --provider k8s --out trace.jsonl
    """
    from providerkit.http import BindError, split_url
    from providerkit.proxy import RecordingProxy

    for name, url in (("--upstream", upstream), ("--core", core_url)):
        try:
            split_url(url)
        except ValueError as error:
            fail(f"{name}: {error}")
    if not provider_id or "/" in provider_id:
        fail(f"--provider: {provider_id!r} is not a provider id (it goes in /ucloud/<ID>/jobs)")
    try:
        proxy = RecordingProxy(
            str(out),
            upstream=upstream,
            core=core_url,
            provider_id=provider_id,
            host=host,
            port=port,
            timeout_s=timeout_s,
        )
    except BindError as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}")

    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(proxy.url)
    click.echo(f"ucsim record: /ucloud/{provider_id}/... -> {upstream}; everything else -> {core_url}")
    click.echo(f"ucsim record: writing {out} (Ctrl-C to stop)")
    sys.stdout.flush()
    try:
        while not stop.wait(0.1):
            pass
    finally:
        stats = proxy.close()
    calls = ", ".join(f"{name} {n}" for name, n in sorted(stats.lines.items())) or "no calls"
    click.echo(f"ucsim record: wrote {stats.lines_written} lines to {out} ({calls})")
    notes = []
    if stats.unrecorded:
        notes.append(f"{stats.unrecorded} forwarded without a trace line (not calls of the trace format)")
    if stats.upstream_failures:
        notes.append(f"{stats.upstream_failures} answered 502/504 (upstream unreachable or too slow)")
    if stats.lost:
        notes.append(f"{stats.lost} not written (in flight at shutdown, or refused by the trace writer)")
    for note in notes:
        click.echo(f"ucsim record: {note}")
