"""``ucsim record``: a recording proxy between UCloud and a provider that writes a trace.

A provider team puts the proxy between UCloud/Core (or the provider kit) and its provider, on one
port, and gets a trace of the traffic that ``ucsim check`` can judge, without writing a log converter::

    UCloud/Core ──/ucloud/<id>/jobs...──▶ proxy ──▶ provider (--upstream)
    UCloud/Core ◀──/api/jobs/control/...── proxy ◀── provider (its Core URL is the proxy)

Routing is by path (reference ``ucloud-jobs.md`` §5.1): a path under ``/ucloud/`` is the provider's
(§5.3) and goes to ``--upstream``; every other path is Core's (§5.4, §4.3, and ``/auth/...`` for the
provider's own tokens) and goes to ``--core``. Headers (``Authorization`` included) pass through; the
hop-by-hop ones (``Connection``, ``Keep-Alive``, ``Transfer-Encoding``...) do not.

**What is recorded.** One trace line per call of the trace format (DESIGN, "The trace format"):

====================================================  ========================================
request                                               trace line
====================================================  ========================================
``POST /ucloud/<id>/jobs`` (and ``/terminate``,       ``jobs.provider.create`` (...), actor
``/extend``, ``/suspend``, ``/unsuspend``,            ``ucloud``, ``"provider": <id>``
``/interactiveSession``)
``POST /api/jobs/control/update``                     ``jobs.control.update``, actor ``provider:<id>``
``POST /api/accounting/v2/reportUsage``               ``accounting.reportUsage``, actor ``provider:<id>``
====================================================  ========================================

Anything else (``retrieveProducts``, test hooks, ``/auth/...``, ``jobs.control.browse``, calls for
another provider id) is forwarded but not recorded: the trace format has no line for it.

Each line has ``seq`` (1, 2, ...), ``time`` (ms since the proxy started, when the request arrived),
``end`` (when it was answered), the request's JSON as ``request`` and ``response`` ``{status, body,
why}``: the body on 2xx, else ``why`` from UCloud's error body ``{"why": ...}`` (or the body's text).
A request body that is not JSON is recorded as its text (a JSON string) and forwarded unchanged.

**Order.** Lines are written in the order the requests *arrived*, as DESIGN asks ("time ... when the
receiver began handling the call"): a line waits until every request that arrived before it has been
answered. So a ``jobs.control.update`` the provider sends while handling a terminate comes right after
the terminate's line, and an update sent before the provider answered a create still comes after the
create's line, as Core, which stores the job before it calls the provider (§5.6), would see it.

**Failures.** If the upstream (provider or Core) does not answer, the caller gets ``502`` (refused,
reset, unknown host) or ``504`` (no answer within ``timeout_s``) with ``{"why": "ucsim record: cannot
reach ..."}``, and the line is recorded with that status and reason: the trace says what the caller saw
(DESIGN: a call that timed out appears with status 504). WebSocket upgrades (``jobs.provider.follow``)
are refused with 501. At shutdown, calls still in flight are not written (their number is reported).

The trace goes through :class:`~spec.trace.TraceWriter` (each line checked; gzip when the name ends in
``.gz``), one lock around it; plain files are flushed after each line so ``ucsim check`` can read a
trace while it grows.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson

from providerkit.adapter import CONTROL_PATHS, PROVIDER_CALLS, Answer
from providerkit.http import JsonClient, JsonHandler, JsonServer, Reply, Unreachable, answer_of, listen
from spec.trace.writer import TraceTarget, TraceWriter
from spec.wire.calls import CALL_NAMES

__all__ = ["RECORDED_PROVIDER_CALLS", "RecordStats", "RecordingProxy"]

RECORDED_PROVIDER_CALLS: dict[str, tuple[str, str]] = {
    name: route
    for name, route in {
        **PROVIDER_CALLS,
        # reference §5.3: interactiveSession is a call of the trace format too
        "jobs.provider.interactiveSession": ("POST", "/interactiveSession"),
    }.items()
    if name in CALL_NAMES  # retrieveProducts is not: the trace format has no line for it
}
"""The provider calls the proxy records: trace name -> (method, path under ``/ucloud/<id>/jobs``).
Only the calls of the trace format (:data:`spec.wire.calls.CALL_NAMES`): ``retrieveProducts`` is
forwarded but not recorded."""

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


@dataclass
class RecordStats:
    """What a proxy did: lines written per call, requests forwarded unrecorded, upstream failures,
    lines lost (in flight at shutdown, or refused by the trace writer)."""

    lines: Counter[str]
    unrecorded: int
    upstream_failures: int
    lost: int

    @property
    def lines_written(self) -> int:
        return sum(self.lines.values())


class _ProxyHandler(JsonHandler):
    """Forward every request by its path; record the trace calls."""

    timeout = 300

    def _dispatch(self) -> None:
        proxy: RecordingProxy = self.server.context
        if self.headers.get("Upgrade"):
            self.close_connection = True
            self.send_json(501, {"why": "ucsim record does not proxy WebSockets (jobs.provider.follow)"})
            return
        path, query = self.split_path()
        raw = self.read_body()
        if raw is None:
            return
        to_provider = path.startswith("/ucloud/")
        call, actor, provider = proxy.classify(self.command, path.rstrip("/"))
        slot = proxy.reserve() if call is not None else None
        line: dict[str, Any] | None = None
        try:
            client = proxy.upstream_client if to_provider else proxy.core_client
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            body = raw if raw or self.command != "GET" else None
            try:
                reply = client.request(self.command, self.path, body, headers)
            except Unreachable as error:
                proxy.note_failure()
                why = f"ucsim record: {error}"
                reply = Reply(504 if error.timed_out else 502, orjson.dumps({"why": why}), "", [])
                answer = Answer(reply.status, None, why)
            else:
                answer = answer_of(reply.status, reply.data, reply.reason)
            if slot is not None:
                # Recorded before the caller is answered: a caller that hung up still leaves its line.
                line = {
                    "actor": actor,
                    "call": call,
                    "provider": provider,
                    "request": _request_json(self.command, raw, query),
                    "status": answer.status,
                    "body": answer.body,
                    "why": answer.why,
                }
            self._relay(reply)
        finally:
            if slot is not None:
                proxy.complete(slot, line)
            elif call is None:
                proxy.note_unrecorded()

    def _relay(self, reply: Reply) -> None:
        """Answer the caller with the upstream's status, headers (not the hop-by-hop ones) and body."""
        self.send_response(reply.status)
        sent_type = False
        for name, value in reply.headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
                sent_type = sent_type or name.lower() == "content-type"
        if not sent_type:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch


def _request_json(method: str, raw: bytes, query: str) -> Any:
    """The request as a trace line holds it: the JSON body (for GET, the query parameters)."""
    if method == "GET" and not raw.strip():
        return {k: v[-1] for k, v in parse_qs(query).items()}
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", errors="replace")


class RecordingProxy:
    """The recording proxy (see the module's doc), serving in a daemon thread until :meth:`close`.

    ``out``: the trace (a path, ``.gz`` for gzip, or a :class:`~spec.trace.TraceWriter`);
    ``upstream``: the provider's base URL; ``core``: Core's base URL; ``provider_id``: the provider's
    id (its paths are ``/ucloud/<provider_id>/jobs...``; its control calls are recorded as
    ``provider:<provider_id>``). ``port`` 0 takes a free port (:attr:`url` says which).

    Raises :class:`~providerkit.http.BindError` (cannot listen), ``ValueError`` (a bad URL) or
    ``OSError`` (cannot write ``out``).
    """

    def __init__(
        self,
        out: TraceTarget | TraceWriter,
        *,
        upstream: str,
        core: str,
        provider_id: str,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout_s: float = 30.0,
    ) -> None:
        self.provider_id = provider_id
        self.timeout_s = timeout_s
        self.upstream_client = JsonClient(upstream, timeout_s=timeout_s)
        self.core_client = JsonClient(core, timeout_s=timeout_s)
        self._paths = {
            f"/ucloud/{provider_id}/jobs{suffix}": (method, call)
            for call, (method, suffix) in RECORDED_PROVIDER_CALLS.items()
        }
        self._actor = f"provider:{provider_id}"
        self._lock = threading.Lock()
        self._seq = 0  # the last seq reserved
        self._next = 1  # the next seq to write
        self._done: dict[int, dict[str, Any] | None] = {}  # answered, waiting for earlier ones
        self._last_ms = 0
        self._start = time.monotonic_ns()
        self._stats = RecordStats(Counter(), 0, 0, 0)
        self._writer = out if isinstance(out, TraceWriter) else TraceWriter(out)
        self._owns_writer = not isinstance(out, TraceWriter)
        self._flush_each = not (isinstance(out, str | os.PathLike) and os.fspath(out).endswith(".gz"))
        self._closed = False
        try:
            self._server: JsonServer = listen(host, port, _ProxyHandler, self, what="ucsim record")
        except BaseException:
            if self._owns_writer:
                self._writer.close()
            raise

    # -- configuration --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Where UCloud (or the kit) and the provider must send their calls, e.g. ``http://127.0.0.1:40127``."""
        return self._server.url

    @property
    def upstream(self) -> str:
        """The provider's base URL. Settable: for a provider that must know the proxy's URL (its Core
        URL) before it starts, and so before its own URL is known."""
        return self.upstream_client.base_url

    @upstream.setter
    def upstream(self, url: str) -> None:
        old, self.upstream_client = self.upstream_client, JsonClient(url, timeout_s=self.timeout_s)
        old.close()

    # -- recording ------------------------------------------------------------------------------------

    def classify(self, method: str, path: str) -> tuple[str | None, str, str | None]:
        """``(trace call or None, actor, provider)`` of a request: ``None`` means forward, do not record."""
        found = self._paths.get(path)
        if found is not None:
            return (found[1] if found[0] == method else None), "ucloud", self.provider_id
        if method == "POST":
            call = CONTROL_PATHS.get(path)
            if call is not None:
                return call, self._actor, None
        return None, "", None

    def _now_ms(self) -> int:
        return (time.monotonic_ns() - self._start) // 1_000_000

    def reserve(self) -> tuple[int, int]:
        """A request to record arrived: its ``(seq, time)``. Its line is written when it and every
        request that arrived before it have been answered (:meth:`complete`)."""
        with self._lock:
            self._seq += 1
            now = max(self._now_ms(), self._last_ms)
            self._last_ms = now
            return self._seq, now

    def complete(self, slot: tuple[int, int], line: dict[str, Any] | None) -> None:
        """The request of ``slot`` was answered (``line``: its fields; ``None`` if handling it failed):
        write every line that is now next in order."""
        seq, start = slot
        end = self._now_ms()
        with self._lock:
            if self._closed:
                return  # counted as lost by close()
            self._done[seq] = None if line is None else {**line, "seq": seq, "time": start, "end": end}
            wrote = False
            while self._next in self._done:
                ready = self._done.pop(self._next)
                self._next += 1
                if ready is None:
                    self._stats.lost += 1
                else:
                    wrote = self._write(ready) or wrote
            if wrote and self._flush_each:
                self._writer.flush()

    def _write(self, line: dict[str, Any]) -> bool:
        try:
            self._writer.write_call(
                seq=line["seq"],
                time=line["time"],
                end=line["end"],
                actor=line["actor"],
                call=line["call"],
                provider=line["provider"],
                request=line["request"],
                status=line["status"],
                body=line["body"],
                why=line["why"],
            )
        except (ValueError, TypeError) as error:  # the writer refused it: keep recording the rest
            self._stats.lost += 1
            print(f"ucsim record: line {line['seq']} not written: {error}", file=sys.stderr, flush=True)
            return False
        self._stats.lines[line["call"]] += 1
        return True

    def note_unrecorded(self) -> None:
        with self._lock:
            self._stats.unrecorded += 1

    def note_failure(self) -> None:
        with self._lock:
            self._stats.upstream_failures += 1

    @property
    def stats(self) -> RecordStats:
        """A snapshot of what the proxy did so far."""
        with self._lock:
            s = self._stats
            return RecordStats(Counter(s.lines), s.unrecorded, s.upstream_failures, s.lost)

    # -- closing --------------------------------------------------------------------------------------

    def close(self) -> RecordStats:
        """Stop serving and close the trace (lines still waiting for an answer are lost and counted).
        Idempotent; returns the final :attr:`stats`."""
        self._server.close()
        with self._lock:
            if not self._closed:
                self._closed = True
                self._stats.lost += self._seq - self._next + 1  # in flight, or waiting for one that is
                self._done.clear()
                if self._owns_writer:
                    self._writer.close()
                else:
                    self._writer.flush()
        self.upstream_client.close()
        self.core_client.close()
        return self.stats

    def __enter__(self) -> RecordingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
