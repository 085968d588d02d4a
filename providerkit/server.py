"""The reference provider served over HTTP: a real provider process for the kit to test.

:class:`~providerkit.reference.ReferenceProvider` (the spec's provider rules, :mod:`spec.provider`)
behind UCloud's provider paths (reference ``ucloud-jobs.md`` §5.1, §5.3), exactly as a provider
written in Go or Kotlin would be reached:

==========================================  =====================================================
``POST /ucloud/<id>/jobs``                  create: ``BulkRequest<Job>`` (a malformed one: 400)
``POST /ucloud/<id>/jobs/terminate``        ``BulkRequest<Job>``
``POST /ucloud/<id>/jobs/extend``           ``BulkRequest<{job, requestedTime}>``
``POST /ucloud/<id>/jobs/suspend``,         ``BulkRequest<{job}>``
``POST /ucloud/<id>/jobs/unsuspend``
``GET  /ucloud/<id>/jobs/retrieveProducts`` the provider's ``JobSupport`` list
``POST /ucloud/<id>/test/<hook>``           the kit's test hooks: reset, finish, fail, advance
                                            (:mod:`providerkit.adapter`)
==========================================  =====================================================

Bodies are UCloud's JSON, validated against the wire models (:mod:`spec.wire`, the models ``ucsim
schema`` exports): a body that is not JSON, or not the call's shape, gets 400 with the reason as
``{"why": ...}``. With a token, every call must carry ``Authorization: Bearer <token>`` (401).

The provider reports to Core as UCloud's integration module does: each state change is a ``POST`` of
``jobs.control.update`` to ``<core-url>/api/jobs/control/update`` (§5.4) with the same bearer token,
delivered synchronously and in order while the provider handles the call or hook that caused it (so
Core may see a terminate's SUCCESS update before the terminate's own answer, as it may in UCloud).

From Python (tests, notebooks)::

    server = serve(default_world(providers=1), "k8s", core_url=adapter.control_url)
    adapter.base_url = server.url
    ...
    server.close()

or as a process (what the kit's HTTP tests start; :func:`spawn` does it and reads the URL)::

    python -m providerkit.server --provider k8s --port 0 --core-url http://127.0.0.1:40123 \\
        [--token T] [--variant documented] [--mutant exit-code-failure] [--misbehave running-after-success]

which prints its URL on the first line of stdout and serves until killed. ``--mutant`` takes the spec's
mutants (``ucsim rules``), resolved by :func:`spec.rules.resolve` as ``ucsim explore --mutant`` does;
``--misbehave`` the kit's own faults (:data:`providerkit.reference.MISBEHAVIOURS`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import parse_qs

from providerkit.adapter import CONTROL_PATHS, PROVIDER_CALLS, Answer
from providerkit.http import BindError, JsonClient, JsonHandler, Unreachable, listen
from providerkit.reference import MISBEHAVIOURS, ReferenceProvider
from spec.rules import DEFAULT, Config
from spec.world import World

__all__ = ["ProviderServer", "SpawnedServer", "main", "read_first_line", "serve", "spawn"]

_CONTROL_PATH_OF = {call: path for path, call in CONTROL_PATHS.items()}


class _ProviderHandler(JsonHandler):
    """UCloud's provider paths and the test hooks, answered by the :class:`ProviderServer`."""

    def _dispatch(self) -> None:
        server: ProviderServer = self.server.context
        path, query = self.split_path()
        path = path.rstrip("/")
        raw = self.read_body()
        if raw is None:
            return
        route = server.routes.get(path)
        hook = path.removeprefix(server.hook_prefix) if path.startswith(server.hook_prefix) else None
        if route is None and not hook:
            self.not_found()
            return
        method = route[0] if route is not None else "POST"
        if self.command != method:
            self.wrong_method(method)
            return
        if not self.authorized(server.token):
            return
        try:
            if route is not None:
                call = route[1]
                if method == "GET":
                    request: Any = {k: v[-1] for k, v in parse_qs(query).items()}
                else:
                    ok, request = self.json_body(raw)
                    if not ok:
                        return
                answer = server.provider.handle(call, request)
            else:
                ok, body = self.json_body(raw, empty={})
                if not ok:
                    return
                answer = server.provider.hook(hook or "", body)
        except Exception as error:  # a bug of the provider's, or input it did not foresee: say so
            why = f"the reference provider failed on this request: {type(error).__name__}: {error}"
            server.log(f"{self.command} {path}: {why}")
            answer = Answer(500, None, why)
        self.send_answer(answer)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


class ProviderServer:
    """The reference provider on a real HTTP server (see the module's doc). :attr:`url` is its base
    URL; :meth:`close` stops it (idempotent); usable as a context manager. :attr:`provider` is the
    :class:`~providerkit.reference.ReferenceProvider` (its table, for tests).

    Raises :class:`~providerkit.http.BindError` if it cannot listen, ``ValueError`` for a provider
    not in the world, an unknown misbehaviour or a bad Core URL.
    """

    def __init__(
        self,
        world: World,
        provider_id: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        core_url: str,
        token: str | None = None,
        config: Config = DEFAULT,
        misbehave: str | None = None,
        timeout_s: float = 10.0,
        log: IO[str] | None = None,
    ) -> None:
        self.token = token
        self.timeout_s = timeout_s
        self._log = log if log is not None else sys.stderr
        self._core = JsonClient(core_url, token=token, timeout_s=timeout_s)
        self.provider = ReferenceProvider(world, provider_id, self._send, config, misbehave)
        self.routes: dict[str, tuple[str, str]] = {
            f"/ucloud/{provider_id}/jobs{suffix}": (method, call)
            for call, (method, suffix) in PROVIDER_CALLS.items()
        }
        self.hook_prefix = f"/ucloud/{provider_id}/test/"
        self._server = listen(host, port, _ProviderHandler, self, what="reference provider")

    @property
    def url(self) -> str:
        """The provider's base URL, e.g. ``http://127.0.0.1:40125`` (the kit's ``--provider-url``)."""
        return self._server.url

    @property
    def core_url(self) -> str:
        """Where the provider sends its control calls. Settable (e.g. to a recording proxy started
        after the provider)."""
        return self._core.base_url

    @core_url.setter
    def core_url(self, url: str) -> None:
        old, self._core = self._core, JsonClient(url, token=self.token, timeout_s=self.timeout_s)
        old.close()

    def _send(self, call: str, request: Any) -> Answer:
        """Deliver one control call to Core (synchronously; the provider holds its lock, so in order)."""
        try:
            answer = self._core.call_json("POST", _CONTROL_PATH_OF[call], request)
        except Unreachable as error:
            self.log(f"{call} not delivered: {error}")
            return Answer(504 if error.timed_out else 502, None, str(error))
        if not answer.ok:
            self.log(f"{call} answered {answer.status} by Core: {answer.why}")
        return answer

    def log(self, message: str) -> None:
        """One line on the server's log (stderr by default)."""
        with contextlib.suppress(OSError, ValueError):
            print(f"providerkit.server: {message}", file=self._log, flush=True)

    def close(self) -> None:
        """Stop serving and close the connections to Core. Idempotent."""
        self._server.close()
        self._core.close()

    def __enter__(self) -> ProviderServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(
    world: World,
    provider_id: str,
    host: str = "127.0.0.1",
    port: int = 0,
    core_url: str = "http://127.0.0.1:8080",
    token: str | None = None,
    config: Config = DEFAULT,
    misbehave: str | None = None,
) -> ProviderServer:
    """Serve the reference provider ``provider_id`` of ``world`` on ``host:port`` (0: a free port),
    reporting to Core at ``core_url``; see :class:`ProviderServer`.

    >>> from spec.world import default_world
    >>> with serve(default_world(providers=1), "k8s", core_url="http://127.0.0.1:9") as server:
    ...     server.url.startswith("http://127.0.0.1:")
    True
    """
    return ProviderServer(
        world,
        provider_id,
        host=host,
        port=port,
        core_url=core_url,
        token=token,
        config=config,
        misbehave=misbehave,
    )


# -- as a process -----------------------------------------------------------------------------------


class SpawnedServer:
    """``python -m providerkit.server`` running as a child process: :attr:`url`, :meth:`close`
    (terminate, then kill; idempotent), :meth:`stderr` (what it logged). A context manager."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, stderr_file: IO[bytes]) -> None:
        self.process = process
        self.url = url
        self._stderr = stderr_file

    def stderr(self) -> str:
        """Everything the server wrote on stderr so far."""
        self._stderr.flush()
        return Path(self._stderr.name).read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 5 s) and release its pipes."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if not self._stderr.closed:
            self._stderr.close()
            with contextlib.suppress(OSError):
                os.unlink(self._stderr.name)

    def __enter__(self) -> SpawnedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spawn(
    core_url: str,
    *,
    provider: str = "k8s",
    token: str | None = None,
    variant: str | None = None,
    mutant: str | None = None,
    misbehave: str | None = None,
    timeout_s: float = 20.0,
) -> SpawnedServer:
    """Start ``python -m providerkit.server`` on 127.0.0.1 and a free port and wait (at most
    ``timeout_s``) for the URL it prints. Raises ``RuntimeError`` with its stderr if it does not start.

    ``core_url`` is where it sends its control calls, typically an
    :class:`~providerkit.http.HttpAdapter`'s :attr:`~providerkit.http.HttpAdapter.control_url`.
    """
    argv = [sys.executable, "-m", "providerkit.server", "--provider", provider, "--port", "0"]
    argv += ["--core-url", core_url]
    for flag, value in (("--token", token), ("--variant", variant), ("--mutant", mutant)):
        if value is not None:
            argv += [flag, value]
    if misbehave is not None:
        argv += ["--misbehave", misbehave]
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    stderr_file = tempfile.NamedTemporaryFile(prefix="providerkit-server-", suffix=".log", delete=False)  # noqa: SIM115 - closed by SpawnedServer.close
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr_file, env=env, cwd=root)
    server = SpawnedServer(process, "", stderr_file)
    try:
        server.url = read_first_line(process, timeout_s)
    except BaseException as error:
        log = server.stderr().strip()
        server.close()
        if isinstance(error, RuntimeError):
            raise RuntimeError(
                f"providerkit.server: {error}" + (f"; its stderr:\n{log}" if log else "")
            ) from None
        raise
    return server


def read_first_line(process: subprocess.Popen[bytes], timeout_s: float) -> str:
    """The first line a child process prints on its stdout pipe (its URL, for ``providerkit.server``
    and ``ucsim record``), read within ``timeout_s``; ``RuntimeError`` if it exits or stays silent."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"the process printed no line within {timeout_s:g} s")
            if not selector.select(left):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                code = process.wait(timeout=5)
                raise RuntimeError(f"the process exited with status {code} before printing a line")
            data += chunk
    return data.split(b"\n", 1)[0].decode().strip()


def main(argv: list[str] | None = None) -> int:
    """``python -m providerkit.server``: serve until SIGTERM or Ctrl-C; bad arguments exit 2 with one
    line on stderr."""
    parser = argparse.ArgumentParser(
        prog="python -m providerkit.server",
        description="Serve the spec's reference provider on UCloud's provider paths (for the provider kit).",
    )
    parser.add_argument("--provider", default="k8s", help="provider id in the default world (default: k8s)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free port)")
    parser.add_argument("--core-url", required=True, help="Core's base URL, where control calls go")
    parser.add_argument("--token", default=None, help="bearer token required on calls and sent to Core")
    parser.add_argument("--variant", default="documented", help="rule variant (default: documented)")
    parser.add_argument("--mutant", default=None, help="a spec mutant (see `ucsim rules`)")
    parser.add_argument(
        "--misbehave", default=None, help=f"a fault of the kit's own: {', '.join(MISBEHAVIOURS)}"
    )
    args = parser.parse_args(argv)

    from spec.rules import UnknownNameError, resolve
    from spec.world import default_world

    try:
        config = resolve(args.variant, mutant=args.mutant)
        server = ProviderServer(
            default_world(providers=2 if args.provider == "slurm" else 1),
            args.provider,
            host=args.host,
            port=args.port,
            core_url=args.core_url,
            token=args.token,
            config=config,
            misbehave=args.misbehave,
        )
    except (UnknownNameError, ValueError, BindError) as error:
        print(f"Error: {error}", file=sys.stderr, flush=True)
        return 2

    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(server.url, flush=True)
    try:
        while not stop.wait(0.05):
            pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
