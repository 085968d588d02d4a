"""Shared pieces of the provider kit's HTTP tests: Core's ``Job`` JSON for the default world, a Core
handler that records what it answered, and a raw HTTP call for bodies an adapter would never send."""

from __future__ import annotations

import http.client
import io
import socket
from typing import Any
from urllib.parse import urlsplit

from providerkit.adapter import Answer
from spec.state import CoreJob
from spec.trace import TraceRecorder, TraceWriter
from spec.world import World, default_world

WORLD = default_world(providers=1)
_RECORDER = TraceRecorder(WORLD, TraceWriter(io.BytesIO()), facts=False)
TEMPLATE = {t.name: t.index for t in WORLD.templates}


def job_json(
    job_id: int, template: str = "batch", alloc_ms: int | None = 3_600_000, world: World = WORLD
) -> dict[str, Any]:
    """Core's ``Job`` as sent in ``jobs.provider.create`` (reference §1.8), built by the trace recorder."""
    core = CoreJob(job_id, TEMPLATE[template], "k8s", "alice", alloc_ms=alloc_ms)
    return _RECORDER.job_json(core, 0)


def create(job_id: int, template: str = "batch", alloc_ms: int | None = 3_600_000) -> dict[str, Any]:
    return {"items": [job_json(job_id, template, alloc_ms)]}


class Core:
    """A Core handler that answers every control call with ``status`` and keeps what it was asked."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.seen: list[tuple[str, Any]] = []

    def __call__(self, call: str, request: Any) -> Answer:
        self.seen.append((call, request))
        return Answer(self.status, {} if self.status < 300 else None, None if self.status < 300 else "no")


def states(calls: list[Any]) -> list[tuple[str, str | None]]:
    """``(job id, state)`` of every update item in a list of :class:`ControlCall`."""
    return [
        (item["id"], item["update"].get("state"))
        for c in calls
        if c.call == "jobs.control.update"
        for item in c.request["items"]
    ]


def raw(
    url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One HTTP request with exactly these bytes (no JSON encoding, no token unless given)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def free_port() -> int:
    """A port nothing listens on (bound, then released: only used to show a refused connection)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
