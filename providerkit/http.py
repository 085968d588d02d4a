"""The adapter interface over HTTP: :class:`HttpAdapter`, and the small JSON-over-HTTP pieces that the
reference server (:mod:`providerkit.server`) and the recording proxy (:mod:`providerkit.proxy`) share.

A compute provider is spoken to on UCloud's provider paths (reference ``ucloud-jobs.md`` §5.1 and
§5.3): ``POST /ucloud/<providerId>/jobs`` (create), ``.../jobs/terminate``, ``/extend``, ``/suspend``,
``/unsuspend`` and ``GET .../jobs/retrieveProducts``, with JSON bodies and, in UCloud, a bearer token.
It calls Core back on Core's control paths (§5.4 ``POST /api/jobs/control/update``, §4.3
``POST /api/accounting/v2/reportUsage``). :class:`HttpAdapter` does both halves for the kit:

* :meth:`HttpAdapter.call` sends one provider call and returns the provider's
  :class:`~providerkit.adapter.Answer` (``why`` is the reason a non-2xx body gives);
* a *control endpoint* (a :class:`~http.server.ThreadingHTTPServer` on ``control_host:control_port``,
  see :attr:`HttpAdapter.control_url`) receives the provider's control calls and answers each with the
  kit's Core handler (:meth:`~providerkit.adapter.ProviderAdapter.attach`). Point the provider's Core
  URL at it.

::

    adapter = HttpAdapter("http://127.0.0.1:8889", "k8s", token="s3cret", control_port=8890)
    adapter.attach(lambda call, request: Answer(200, {}))     # Core says yes to everything
    answer = adapter.call("jobs.provider.create", {"items": [job_json]})
    updates = adapter.control_calls(settle_s=0.2)             # what the provider sent back
    adapter.close()

A provider that is not listening raises :class:`ProviderUnreachable` (URL and reason), never an
``Answer``: the kit cannot judge a provider it cannot reach, and the CLI turns it into a message.

Errors travel as UCloud's error body ``{"why": "...", "errorCode": "..."}`` (a provider may answer any
JSON or text: :func:`answer_of` takes ``why`` from the JSON, else the text, else the HTTP reason).

Standard library only (``http.server``, ``http.client``) plus ``orjson``, which :mod:`spec` already uses.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import http.client
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit

import orjson

from providerkit.adapter import CONTROL_PATHS, Answer, ProviderAdapter, hook_path, provider_path

__all__ = [
    "MAX_BODY",
    "BindError",
    "HttpAdapter",
    "JsonClient",
    "JsonHandler",
    "JsonServer",
    "ProviderUnreachable",
    "Reply",
    "Unreachable",
    "answer_of",
    "listen",
    "split_url",
]

MAX_BODY = 64 * 1024 * 1024
"""The largest request body the servers read (bytes); a larger one is answered 413."""

_WHY_MAX = 500  # characters of a non-JSON error body kept as ``why``


# -- errors -----------------------------------------------------------------------------------------


class Unreachable(ConnectionError):
    """Nothing answered at ``url``: refused, reset, unknown host, or no answer within the timeout
    (``timed_out``). ``str()`` says which URL and why."""

    def __init__(self, url: str, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(f"cannot reach {url}: {reason}")
        self.url = url
        self.reason = reason
        self.timed_out = timed_out


class ProviderUnreachable(Unreachable):
    """The provider under test did not answer a call (see :class:`Unreachable`)."""


class BindError(OSError):
    """A server could not listen where it was told (port busy, address not local, no permission)."""


# -- URLs -------------------------------------------------------------------------------------------


def split_url(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path prefix)`` of an ``http://`` or ``https://`` base URL.

    >>> split_url("http://127.0.0.1:8889/")
    ('http', '127.0.0.1', 8889, '')
    >>> split_url("https://provider.example.org/ucloud-im")
    ('https', 'provider.example.org', 443, '/ucloud-im')
    >>> split_url("localhost:8889")
    Traceback (most recent call last):
    ...
    ValueError: 'localhost:8889' is not an http:// or https:// URL (for example http://127.0.0.1:8889)
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http:// or https:// URL (for example http://127.0.0.1:8889)")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r} has a bad port number") from None
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: a base URL has no query or fragment")
    return (
        parts.scheme,
        parts.hostname,
        port or (443 if parts.scheme == "https" else 80),
        parts.path.rstrip("/"),
    )


# -- client side ------------------------------------------------------------------------------------


def answer_of(status: int, raw: bytes, reason: str = "") -> Answer:
    """The :class:`Answer` for an HTTP response: the JSON body on 2xx (``None`` when empty); on any
    other status no body and ``why`` from UCloud's error body ``{"why": ...}``, else the body's text,
    else the HTTP reason phrase.

    >>> answer_of(200, b'{"responses": [null]}')
    Answer(status=200, body={'responses': [None]}, why=None)
    >>> answer_of(400, b'{"why": "unknown application requested", "errorCode": "BAD"}')
    Answer(status=400, body=None, why='unknown application requested')
    >>> answer_of(404, b'<html>nope</html>', "Not Found")
    Answer(status=404, body=None, why='<html>nope</html>')
    >>> answer_of(200, b'not json')
    Answer(status=200, body=None, why='the body of a 200 answer is not JSON: not json')
    """
    if 200 <= status < 300:
        if not raw.strip():
            return Answer(status, None)
        try:
            return Answer(status, orjson.loads(raw))
        except orjson.JSONDecodeError:
            return Answer(status, None, f"the body of a {status} answer is not JSON: {_text(raw)}")
    why: str | None = None
    if raw.strip():
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            why = _text(raw)
        else:
            given = data.get("why") if isinstance(data, dict) else None
            why = given if isinstance(given, str) else _text(raw)
    return Answer(status, None, why or reason or _phrase(status))


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").strip()
    return text if len(text) <= _WHY_MAX else text[: _WHY_MAX - 3] + "..."


def _phrase(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


class Reply(NamedTuple):
    """One HTTP response as :meth:`JsonClient.request` returns it."""

    status: int
    data: bytes
    reason: str
    headers: list[tuple[str, str]]


class JsonClient:
    """JSON calls to one base URL over kept-alive connections (one per calling thread).

    :meth:`request` returns a :class:`Reply` and raises :class:`Unreachable`
    (or ``unreachable``, a subclass) when nothing answers. A request that fails on a connection kept
    from an earlier call (the server closed it while idle) is sent once more on a new connection, as
    HTTP clients do; a request on a fresh connection is never repeated.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 10.0,
        unreachable: type[Unreachable] = Unreachable,
    ) -> None:
        self.scheme, self.host, self.port, self.prefix = split_url(base_url)
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        self._unreachable = unreachable
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._all_lock = threading.Lock()

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=self.timeout_s)
        self._local.conn = conn
        with self._all_lock:
            self._all.append(conn)
        return conn, False

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            with self._all_lock, contextlib.suppress(ValueError):
                self._all.remove(conn)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send ``method path`` (``path`` below the base URL's prefix, with its query if any).
        ``headers`` are added to (and override) ``Accept``, ``Content-Type`` and the bearer token."""
        sent_headers = {"Accept": "application/json"}
        if body is not None:
            sent_headers["Content-Type"] = "application/json"
        if self.token is not None:
            sent_headers["Authorization"] = f"Bearer {self.token}"
        if headers:
            given = {name.lower() for name in headers}
            sent_headers = {k: v for k, v in sent_headers.items() if k.lower() not in given}
            sent_headers.update(headers)
        target = self.prefix + path
        url = self.base_url + path
        for attempt in (0, 1):
            conn, reused = self._connection()
            try:
                conn.request(method, target, body=body, headers=sent_headers)
                response = conn.getresponse()
                raw = response.read()
            except TimeoutError:
                self._drop()
                raise self._unreachable(
                    url, f"no answer within {self.timeout_s:g} s", timed_out=True
                ) from None
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                self._drop()
                if reused and attempt == 0:
                    continue  # a kept-alive connection the server had closed: one fresh try
                raise self._unreachable(url, _reason(error)) from None
            except (OSError, http.client.HTTPException) as error:
                self._drop()
                raise self._unreachable(url, _reason(error)) from None
            if response.will_close:
                self._drop()
            return Reply(response.status, raw, response.reason, response.getheaders())
        raise AssertionError("unreachable")  # pragma: no cover

    def call_json(self, method: str, path: str, request: Any) -> Answer:
        """Send ``request`` as the JSON body (or, for ``GET``, as query parameters) and return the
        :class:`Answer`."""
        if method == "GET":
            query = urlencode(request, doseq=True) if isinstance(request, dict) and request else ""
            reply = self.request(method, path + (f"?{query}" if query else ""))
        else:
            reply = self.request(method, path, _dumps(request))
        return answer_of(reply.status, reply.data, reply.reason)

    def close(self) -> None:
        """Close every connection this client opened (from any thread)."""
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


def _dumps(request: Any) -> bytes:
    try:
        return orjson.dumps(request)
    except TypeError as error:
        raise TypeError(f"the request is not JSON: {error}") from None


def _reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the server running, on that port?)"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror or error})"
    if isinstance(error, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


# -- server side ------------------------------------------------------------------------------------


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler for JSON APIs: HTTP/1.1 keep-alive, bodies read by ``Content-Length``,
    answers as JSON, errors as UCloud's ``{"why": ...}``, bearer-token check, no request log.

    A subclass implements ``do_GET`` / ``do_POST`` with :meth:`read_body`, :meth:`json_body`,
    :meth:`authorized` and :meth:`send_answer`. ``self.server`` is a :class:`JsonServer`.
    """

    protocol_version = "HTTP/1.1"
    server_version = "ucsim-providerkit"
    timeout = 120  # seconds an idle kept-alive connection is kept open
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: JsonServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the kit and the tests read answers, not access logs."""

    def split_path(self) -> tuple[str, str]:
        """``(path, query)`` of the request target."""
        path, _, query = self.path.partition("?")
        return path, query

    def read_body(self) -> bytes | None:
        """The request body, or ``None`` after answering 411/413/400 (the connection is then closed)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self.send_json(411, {"why": "send the body with a Content-Length (chunked bodies are not read)"})
            return None
        length_text = self.headers.get("Content-Length", "0") or "0"
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self.send_json(400, {"why": f"bad Content-Length {length_text!r}"})
            return None
        if length > MAX_BODY:
            self.close_connection = True
            self.send_json(413, {"why": f"the body is {length} bytes; at most {MAX_BODY} are read"})
            return None
        return self.rfile.read(length) if length else b""

    def json_body(self, raw: bytes, *, empty: Any = ...) -> tuple[bool, Any]:
        """``(True, value)`` for a JSON body; else ``(False, None)`` after answering 400 with the
        reason. ``empty``: the value an empty body stands for (by default an empty body is refused)."""
        if not raw.strip() and empty is not ...:
            return True, empty
        try:
            return True, orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            what = "empty" if not raw.strip() else f"not JSON ({error})"
            self.send_json(400, {"why": f"the request body is {what}; send UCloud's JSON"})
            return False, None

    def authorized(self, token: str | None) -> bool:
        """Whether the request carries ``Authorization: Bearer <token>`` (always, without a token);
        if not, answer 401 with the reason."""
        if token is None:
            return True
        given = self.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
            return True
        why = "missing Authorization: Bearer header" if not given else "wrong bearer token"
        self.send_json(401, {"why": why}, {"WWW-Authenticate": "Bearer"})
        return False

    def send_json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        """Answer ``status`` with ``value`` as JSON."""
        self.send_raw(status, orjson.dumps(value), headers)

    def send_raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        """Answer ``status`` with ``data`` (already JSON) and a ``Content-Length``."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_answer(self, answer: Answer) -> None:
        """Answer with an :class:`Answer`: its body on 2xx, ``{"why": ...}`` otherwise."""
        if answer.ok:
            self.send_json(answer.status, answer.body)
        else:
            self.send_json(answer.status, {"why": answer.why or _phrase(answer.status)})

    def not_found(self) -> None:
        path, _ = self.split_path()
        self.send_json(404, {"why": f"no such path: {self.command} {path}"})

    def wrong_method(self, allowed: str) -> None:
        path, _ = self.split_path()
        self.send_json(405, {"why": f"{path} takes {allowed}, not {self.command}"}, {"Allow": allowed})


class JsonServer(ThreadingHTTPServer):
    """A :class:`~http.server.ThreadingHTTPServer` that runs in a daemon thread and closes cleanly:
    :meth:`close` stops accepting, then shuts the open (kept-alive) connections so no handler thread
    lingers. ``context`` is what the handlers serve (an adapter, a provider, a proxy)."""

    daemon_threads = True
    allow_reuse_address = True  # SO_REUSEADDR: restart at once; a port in use still fails to bind

    def __init__(self, address: tuple[str, int], handler: type[JsonHandler], context: Any) -> None:
        self.context = context
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__(address, handler)

    @property
    def url(self) -> str:
        """``http://host:port`` of the listening socket (the real port when 0 was asked)."""
        host, port = self.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> JsonServer:
        """Serve in a daemon thread; returns ``self``."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{self.url}", daemon=True
        )
        self._thread.start()
        return self

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke (the client left, or :meth:`close` shut it) is not worth a
        traceback; anything else is one line on stderr."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        with contextlib.suppress(OSError, ValueError):
            print(f"{self.url}: request from {client_address[0]} failed: {error!r}", file=sys.stderr)

    def close(self) -> None:
        """Stop serving, close the listening socket and every open connection. Idempotent."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()
        with self._open_lock:
            open_now, self._open = list(self._open), set()
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def listen(
    host: str, port: int, handler: type[JsonHandler], context: Any, *, what: str = "server"
) -> JsonServer:
    """A started :class:`JsonServer` on ``host:port`` (0: a free port), or :class:`BindError` saying why
    it cannot listen there."""
    if not 0 <= port <= 65535:
        raise BindError(
            errno.EINVAL, f"{what}: port {port} is not a port number (0-65535; 0 = any free port)"
        )
    try:
        server = JsonServer((host, port), handler, context)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            why = "the port is in use (another process listens there; pick another or 0 for a free one)"
        elif error.errno == errno.EADDRNOTAVAIL:
            why = "that address is not one of this machine's"
        elif error.errno == errno.EACCES:
            why = "permission denied (ports below 1024 need privileges)"
        elif isinstance(error, socket.gaierror):
            why = f"unknown host ({error.strerror or error})"
        else:
            why = error.strerror or str(error)
        raise BindError(error.errno or 0, f"{what}: cannot listen on {host}:{port}: {why}") from None
    return server.start()


# -- the adapter ------------------------------------------------------------------------------------


class _ControlHandler(JsonHandler):
    """Core's control paths (reference §5.4, §4.3) as the kit's control endpoint serves them."""

    server: JsonServer

    def do_POST(self) -> None:
        adapter: HttpAdapter = self.server.context
        path, _ = self.split_path()
        call = CONTROL_PATHS.get(path.rstrip("/") or "/")
        raw = self.read_body()
        if raw is None:
            return
        if call is None:
            self.not_found()
            return
        if not self.authorized(adapter.token):
            return
        ok, request = self.json_body(raw)
        if not ok:
            return
        try:
            answer = adapter._received(call, request)
        except Exception as error:  # the kit's Core handler failed: say so, keep serving
            answer = Answer(500, None, f"the kit's Core handler failed: {type(error).__name__}: {error}")
        self.send_answer(answer)

    def do_GET(self) -> None:
        path, _ = self.split_path()
        if path.rstrip("/") in CONTROL_PATHS:
            self.wrong_method("POST")
        else:
            self.not_found()

    do_PUT = do_DELETE = do_PATCH = do_GET


class HttpAdapter(ProviderAdapter):
    """A provider at ``base_url``, driven over UCloud's provider paths (reference §5.1, §5.3).

    ``token``: sent as ``Authorization: Bearer <token>`` on every call to the provider, and required
    on every control call the provider makes to :attr:`control_url` (401 otherwise). ``control_host``
    / ``control_port``: where the control endpoint listens (port 0: a free one; the provider must be
    configured with :attr:`control_url` as Core's URL). ``timeout_s``: how long a call may take.

    ``base_url`` may be changed after construction, for a provider that must be told where Core is
    (:attr:`control_url`) before it starts and so before its own URL is known.

    Raises :class:`BindError` if the control endpoint cannot listen, ``ValueError`` for a bad URL.
    """

    def __init__(
        self,
        base_url: str,
        provider_id: str,
        token: str | None = None,
        control_host: str = "127.0.0.1",
        control_port: int = 0,
        timeout_s: float = 10,
    ) -> None:
        super().__init__(provider_id)
        self.token = token
        self.timeout_s = timeout_s
        self._client = self._new_client(base_url)
        self._server = listen(control_host, control_port, _ControlHandler, self, what="control endpoint")

    def _new_client(self, base_url: str) -> JsonClient:
        return JsonClient(
            base_url, token=self.token, timeout_s=self.timeout_s, unreachable=ProviderUnreachable
        )

    @property
    def base_url(self) -> str:
        """The provider's base URL (the part before ``/ucloud/<providerId>/...``)."""
        return self._client.base_url

    @base_url.setter
    def base_url(self, url: str) -> None:
        old, self._client = self._client, self._new_client(url)
        old.close()

    @property
    def control_url(self) -> str:
        """Where the provider must send its control calls (Core's URL for it), e.g.
        ``http://127.0.0.1:40123``."""
        return self._server.url

    def call(self, name: str, request: Any) -> Answer:
        """One provider call by its trace name (``jobs.provider.create`` ...): UCloud's path, JSON body
        (query parameters for ``retrieveProducts``), the provider's :class:`Answer`.

        Raises :class:`ProviderUnreachable` if the provider does not answer, ``ValueError`` for a
        name that is not a provider call."""
        method, path = provider_path(self.provider_id, name)
        return self._client.call_json(method, path, request)

    def hook(self, name: str, body: dict[str, Any]) -> Answer:
        """``POST /ucloud/<providerId>/test/<name>`` (see :mod:`providerkit.adapter`); 404/405/501: the
        provider has no such hook."""
        return self._client.call_json("POST", hook_path(self.provider_id, name), body)

    def close(self) -> None:
        """Stop the control endpoint and close the connections to the provider. Idempotent."""
        self._server.close()
        self._client.close()
