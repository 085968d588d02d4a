"""Hand-written traces for the checker's tests: a few call builders over the default world.

Each builder returns one call line as a dict without ``seq`` (added by :func:`write`, 1, 2, ...) and
with ``time`` only when the test cares (else the previous line's time + 1000 ms). Job ids are strings,
as on the wire. The request templates are those of :func:`spec.examples.default_requests`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson

from spec.trace import TraceRecorder, TraceWriter
from spec.world import default_world

WORLD = default_world()
SPECS = {t.name: t.request.to_wire() for t in WORLD.templates}
BATCH = SPECS["batch"]  # alice, k8s, 2 replicas, one hour
HOUR = 3_600_000


def catalog_line() -> bytes:
    """The default world's catalog line (as the recorder writes it)."""
    out = io.BytesIO()
    TraceRecorder(WORLD, TraceWriter(out)).write_catalog()
    return out.getvalue().splitlines()[0]


_CATALOG = catalog_line()


def _job(jid: str, spec: dict[str, Any], user: str) -> dict[str, Any]:
    return {
        "id": jid,
        "createdAt": 0,
        "owner": {"createdBy": user},
        "updates": [],
        "specification": spec,
        "status": {"state": "IN_QUEUE", "allowRestart": False},
        "output": {},
    }


def pcreate(
    jid: str,
    spec: dict[str, Any] = BATCH,
    *,
    provider: str = "k8s",
    status: int = 200,
    user: str = "alice",
    **kw: Any,
) -> dict[str, Any]:
    """Core's ``jobs.provider.create`` of job ``jid``, answered ``status`` by the provider."""
    body = {"responses": [None]} if status == 200 else None
    response: dict[str, Any] = {"status": status, "body": body}
    if status != 200:
        response["why"] = "no node can fit this job"
    return {
        "actor": "ucloud",
        "call": "jobs.provider.create",
        "provider": provider,
        "request": {"items": [_job(jid, spec, user)]},
        "response": response,
        **kw,
    }


def create(
    jid: str | None, spec: dict[str, Any] = BATCH, *, status: int = 200, user: str = "alice", **kw: Any
) -> dict[str, Any]:
    """The user's ``jobs.create``, answered with ``jid`` (2xx) or refused with ``status``."""
    response: dict[str, Any] = {
        "status": status,
        "body": {"responses": [{"id": jid}]} if status == 200 else None,
    }
    if status != 200:
        response["why"] = "refused"
    return {
        "actor": f"user:{user}",
        "call": "jobs.create",
        "request": {"items": [spec]},
        "response": response,
        **kw,
    }


def update(
    jid: str,
    state: str | None,
    *,
    provider: str = "k8s",
    status: int = 200,
    facts: dict[str, Any] | None = None,
    message: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """A provider's ``jobs.control.update`` of one job to ``state`` (``facts`` for that job)."""
    upd: dict[str, Any] = {}
    if state is not None:
        upd["state"] = state
    upd["status"] = message if message is not None else f"now {state}"
    line: dict[str, Any] = {
        "actor": f"provider:{provider}",
        "call": "jobs.control.update",
        "request": {"items": [{"id": jid, "update": upd}]},
        "response": {"status": status, "body": None},
        **kw,
    }
    if facts is not None:
        line["facts"] = {jid: facts}
    return line


def usage(jid: str, amount: int, *, provider: str = "k8s", **kw: Any) -> dict[str, Any]:
    """A provider's absolute ``accounting.reportUsage`` for job ``jid``."""
    item = {
        "isDeltaCharge": False,
        "owner": {"type": "user", "username": "alice"},
        "categoryIdV2": {"name": "u1-standard", "provider": provider},
        "usage": amount,
        "description": {"scope": f"job-{jid}"},
    }
    return {
        "actor": f"provider:{provider}",
        "call": "accounting.reportUsage",
        "request": {"items": [item]},
        "response": {"status": 200, "body": {"responses": [True]}},
        **kw,
    }


def terminate(jid: str, *, provider: str = "k8s", **kw: Any) -> list[dict[str, Any]]:
    """The user's ``jobs.terminate`` and Core's ``jobs.provider.terminate`` it causes."""
    ok = {"status": 200, "body": {"responses": [{}]}}
    return [
        {
            "actor": "user:alice",
            "call": "jobs.terminate",
            "request": {"items": [{"id": jid}]},
            "response": ok,
            **kw,
        },
        {
            "actor": "ucloud",
            "call": "jobs.provider.terminate",
            "provider": provider,
            "request": {"items": [_job(jid, BATCH, "alice")]},
            "response": ok,
            **kw,
        },
    ]


def life(
    jid: str = "1",
    *,
    final: str = "SUCCESS",
    cause: str = "exit",
    exit_code: int | None = 0,
    ran: int = 60_000,
) -> list[dict[str, Any]]:
    """A conforming life: forwarded, accepted, RUNNING, then ``final`` with facts."""
    facts: dict[str, Any] = {"cause": cause, "runningMs": ran, "coreState": final}
    if exit_code is not None and cause == "exit":
        facts["exitCode"] = exit_code
    return [
        pcreate(jid),
        create(jid),
        update(jid, "RUNNING", facts={"runningMs": 0, "coreState": "RUNNING"}),
        update(jid, final, facts=facts, time=20_000 + ran),
    ]


def encode(lines: list[dict[str, Any]]) -> list[bytes]:
    """The lines as JSON, with ``seq`` 1, 2, ... and ``time`` filled in (never decreasing)."""
    out = []
    clock = 0
    for seq, line in enumerate(lines, 1):
        clock = max(clock + 1000, line.pop("time", 0)) if "time" in line else clock + 1000
        out.append(orjson.dumps({"seq": seq, "time": clock, **line}))
    return out


def write(path: Path, lines: list[dict[str, Any]], *, catalog: bool = True) -> Path:
    """Write a trace (the default world's catalog first unless ``catalog=False``)."""
    data = ([_CATALOG] if catalog else []) + encode([dict(line) for line in lines])
    path.write_bytes(b"\n".join(data) + b"\n")
    return path
