"""How the kit speaks to a provider: :class:`ProviderAdapter`, the calls, the hooks and the paths.

The kit plays UCloud/Core. Core talks to a compute provider in two directions (reference
``ucloud-jobs.md`` §5.3 and §5.4):

* **in**: Core calls the provider's endpoints under ``/ucloud/<providerId>/jobs``: create,
  terminate, extend, suspend, unsuspend and retrieveProducts. An adapter's :meth:`~ProviderAdapter.call`
  makes one such call and returns the provider's :class:`Answer`;
* **out**: the provider calls Core's control API: ``jobs.control.update`` (state changes, new time
  allocations) and ``accounting.reportUsage``. An adapter hands each one to the *Core handler* the kit
  attached (:meth:`~ProviderAdapter.attach`), which answers it as Core would, and keeps it for
  :meth:`~ProviderAdapter.control_calls`.

Requests and answers are UCloud's JSON (``BulkRequest`` of ``Job`` and so on), exactly the
``request`` / ``response.body`` of a trace line (DESIGN "The trace format"), so the kit can write
what it saw as a trace and judge it with the trace checker.

**Test hooks.** A real provider runs real workloads; to explore schedules the kit needs to make
things happen on demand. A provider *may* implement ``POST /ucloud/<providerId>/test/<hook>``:

==========  ===========================  ==================================================
hook        body                         effect
==========  ===========================  ==================================================
``reset``   ``{}``                       forget every job (between examples)
``finish``  ``{"id": "7", "exitCode": 1}``  the job's application exits with that code
``fail``    ``{"id": "7"}``              a node under the job fails (the job ends, FAILURE)
``advance`` ``{"ms": 60000}``            the provider's clock moves on: queued jobs may start,
                                         running jobs use up their allocation
==========  ===========================  ==================================================

A hook the provider does not implement answers 404 (or 405/501); the kit then reports what it
could not exercise instead of failing.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CONTROL_CALLS",
    "CONTROL_PATHS",
    "HOOKS",
    "PROVIDER_CALLS",
    "Answer",
    "ControlCall",
    "CoreHandler",
    "ProviderAdapter",
    "hook_path",
    "provider_path",
]

PROVIDER_CALLS: dict[str, tuple[str, str]] = {
    # trace call name -> (HTTP method, path under /ucloud/<providerId>/jobs); reference §5.1, §5.3
    "jobs.provider.create": ("POST", ""),
    "jobs.provider.terminate": ("POST", "/terminate"),
    "jobs.provider.extend": ("POST", "/extend"),
    "jobs.provider.suspend": ("POST", "/suspend"),
    "jobs.provider.unsuspend": ("POST", "/unsuspend"),
    "jobs.provider.retrieveProducts": ("GET", "/retrieveProducts"),
}
"""The calls Core makes on a provider that the kit drives."""

CONTROL_PATHS: dict[str, str] = {
    # Core's path -> trace call name; reference §5.4 (jobs/control), §4.3 (accounting v2)
    "/api/jobs/control/update": "jobs.control.update",
    "/api/accounting/v2/reportUsage": "accounting.reportUsage",
}
"""The calls a provider makes on Core that the kit answers."""

CONTROL_CALLS: frozenset[str] = frozenset(CONTROL_PATHS.values())

HOOKS: tuple[str, ...] = ("reset", "finish", "fail", "advance")
"""The optional test hooks, in the order the kit reports them."""

NOT_IMPLEMENTED = frozenset({404, 405, 501})
"""Statuses by which a provider says it has no such hook."""


def provider_path(provider_id: str, call: str) -> tuple[str, str]:
    """``(method, path)`` of a provider call, e.g. ``("POST", "/ucloud/k8s/jobs/terminate")``."""
    try:
        method, suffix = PROVIDER_CALLS[call]
    except KeyError:
        raise ValueError(f"unknown provider call {call!r}; known: {', '.join(PROVIDER_CALLS)}") from None
    return method, f"/ucloud/{provider_id}/jobs{suffix}"


def hook_path(provider_id: str, hook: str) -> str:
    """The path of a test hook, e.g. ``/ucloud/k8s/test/advance``."""
    if hook not in HOOKS:
        raise ValueError(f"unknown test hook {hook!r}; known: {', '.join(HOOKS)}")
    return f"/ucloud/{provider_id}/test/{hook}"


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer to one call: HTTP status, body (JSON) on success, reason otherwise."""

    status: int
    body: Any = None
    why: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class ControlCall:
    """One call a provider made on Core, with Core's answer."""

    call: str  # "jobs.control.update" or "accounting.reportUsage"
    request: Any  # the JSON body as received
    answer: Answer


CoreHandler = Callable[[str, Any], Answer]
"""What answers a provider's control call as Core: ``(call name, request JSON) -> Answer``."""


def _no_core(call: str, request: Any) -> Answer:
    return Answer(503, None, "no Core attached to this adapter")


class ProviderAdapter(ABC):
    """A provider the kit can drive. Subclasses: the in-process reference provider
    (:class:`providerkit.reference.ReferenceAdapter`) and HTTP (:class:`providerkit.http.HttpAdapter`).

    Control calls may arrive on another thread (an HTTP server); :meth:`_received` is thread-safe.
    """

    provider_id: str

    def __init__(self, provider_id: str) -> None:
        self.provider_id = provider_id
        self._core: CoreHandler = _no_core
        self._inbox: list[ControlCall] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    # -- what a subclass implements ---------------------------------------------------------------
    @abstractmethod
    def call(self, name: str, request: Any) -> Answer:
        """Make one provider call (a name of :data:`PROVIDER_CALLS`) and return the provider's answer."""

    @abstractmethod
    def hook(self, name: str, body: dict[str, Any]) -> Answer:
        """Call a test hook (a name of :data:`HOOKS`); a status in 404/405/501 means "not implemented"."""

    def close(self) -> None:
        """Release what the adapter holds (servers, connections); nothing by default."""
        return None

    # -- the control direction --------------------------------------------------------------------
    def attach(self, core: CoreHandler) -> None:
        """Set what answers the provider's control calls (the kit's Core)."""
        self._core = core

    def _received(self, call: str, request: Any) -> Answer:
        """A control call arrived: answer it through the Core handler and keep it (thread-safe)."""
        with self._lock:
            answer = self._core(call, request)
            self._inbox.append(ControlCall(call, request, answer))
            self._arrived.notify_all()
        return answer

    def control_calls(self, settle_s: float = 0.0) -> list[ControlCall]:
        """The control calls received since the last time, oldest first.

        ``settle_s``: first wait until no call has arrived for that long (a provider over HTTP may
        send its updates just after answering a call); at most 50 times that long in all.
        """
        with self._lock:
            if settle_s > 0:
                now = time.monotonic()
                give_up = now + 50 * settle_s
                quiet_until = now + settle_s
                seen = len(self._inbox)
                while now < min(quiet_until, give_up):
                    self._arrived.wait(min(quiet_until, give_up) - now)
                    now = time.monotonic()
                    if len(self._inbox) != seen:  # something arrived: quiet again from now on
                        seen = len(self._inbox)
                        quiet_until = now + settle_s
            out, self._inbox = self._inbox, []
        return out

    def __enter__(self) -> ProviderAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class HookSupport:
    """Which hooks a provider answered (filled in by the kit as it goes)."""

    missing: set[str] = field(default_factory=set)

    def note(self, hook: str, answer: Answer) -> bool:
        """Record the answer to a hook call; return whether the hook is implemented."""
        if answer.status in NOT_IMPLEMENTED:
            self.missing.add(hook)
            return False
        return True
