"""The spec's provider as a real provider: :class:`ReferenceProvider` and :class:`ReferenceAdapter`.

:class:`ReferenceProvider` answers UCloud's provider calls (JSON in, JSON out) and its test hooks by
applying the spec's provider rules (:mod:`spec.provider`) to its own table of jobs, and reports every
state change through ``jobs.control.update`` as UCloud's integration module does (a monitoring pass
after each event: ``TrackState``). It does not know how it is reached:

* :class:`ReferenceAdapter` puts it behind the kit's adapter interface, in process;
* :mod:`providerkit.server` serves it over HTTP on UCloud's provider paths.

A provider that misbehaves on purpose is the same provider under one of the spec's mutants (for
example ``exit-code-failure``: a non-zero exit reported as FAILURE) or one of the kit's own
:data:`MISBEHAVIOURS` (for example ``running-after-success``), so the kit's teeth are shown on the
very rules it checks.

Its scheduler is the simplest one: every queued job starts at the next ``advance``; capacity is
unlimited (the kit judges the protocol, not the placement).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from providerkit.adapter import Answer, ProviderAdapter
from spec import provider as P
from spec.catalog import owner_key
from spec.rules import DEFAULT, Config
from spec.state import ACTIVE, FINAL, QUEUED, RUNNING, SUCCESS, ProviderJob
from spec.wire import Job
from spec.wire.envelopes import BulkRequest
from spec.wire.jobs import JobsProviderExtendRequestItem, JobsProviderSuspendRequestItem
from spec.world import World

__all__ = ["MISBEHAVIOURS", "ReferenceAdapter", "ReferenceProvider"]

MISBEHAVIOURS: dict[str, str] = {
    "running-after-success": "reports RUNNING again after a job's SUCCESS (a resurrection)",
    "update-unknown-job": "sends an update for a job it was never given",
}
"""Faults of the kit's own (not spec mutants): name -> what the provider does wrong."""

Send = Callable[[str, Any], Answer]


@dataclass
class _Row:
    """One job as the reference provider keeps it: the spec's row plus what the provider needs to
    answer calls (its features) and the ``Job`` JSON Core sent (echoed in nothing, kept for debug)."""

    job: ProviderJob
    suspension: bool


class ReferenceProvider:
    """A provider that follows the spec. Thread-safe: an HTTP server may call it from many threads.

    ``world`` gives the catalog (applications, products, support) it declares and the templates
    whose ``provider_refusal`` it honours; ``config`` is the spec's rule set (a mutant makes it
    misbehave); ``misbehave`` names one of :data:`MISBEHAVIOURS`; ``send(call, request)`` delivers a
    control call to Core and returns Core's answer.
    """

    def __init__(
        self,
        world: World,
        provider_id: str,
        send: Send,
        config: Config = DEFAULT,
        misbehave: str | None = None,
    ) -> None:
        if provider_id not in world.providers:
            raise ValueError(
                f"provider {provider_id!r} is not in the world; known: {', '.join(world.providers)}"
            )
        if misbehave is not None and misbehave not in MISBEHAVIOURS:
            raise ValueError(f"unknown misbehaviour {misbehave!r}; known: {', '.join(MISBEHAVIOURS)}")
        self.world = world
        self.provider_id = provider_id
        self.cfg = config
        self.misbehave = misbehave
        self._send = send
        self._rows: dict[int, _Row] = {}
        self._clock_ms = 0
        self._lock = threading.RLock()
        # The request templates of this provider by their specification (without the allocation,
        # which Core may have changed), to honour a template's provider_refusal.
        self._templates = {
            _spec_key(t.request.to_wire()): t for t in world.templates if t.provider == provider_id
        }

    # -- the provider API (reference §5.3): request JSON -> Answer ---------------------------------
    def handle(self, call: str, request: Any) -> Answer:
        """Answer one provider call by its trace name (``jobs.provider.create`` ...)."""
        handler = _CALLS.get(call)
        if handler is None:
            return Answer(404, None, f"unknown call {call!r}")
        with self._lock:
            return handler(self, request)

    def _create(self, request: Any) -> Answer:
        try:
            jobs = BulkRequest[Job].model_validate(request).items
        except ValidationError as e:
            return Answer(400, None, f"malformed jobs.provider.create request: {_first_error(e)}")
        responses: list[Any] = []
        bad = _non_numeric([job.id for job in jobs])
        if bad is not None:
            return bad
        for job in jobs:
            refusal = self._refusal(job)
            if refusal is not None:
                # The whole bulk request fails with the first refusal (IM: a create either registers
                # every job or answers an error; Core sends one job per request, reference §5.6).
                return Answer(refusal[0], None, refusal[1])
            responses.append(None)  # no provider-generated id
        for job in jobs:
            jid = int(job.id)
            spec = job.specification
            alloc = spec.time_allocation.to_millis() if spec.time_allocation is not None else None
            template = self._templates.get(_spec_key(spec.to_wire()))
            owner = owner_key(job.owner.created_by, job.owner.project)
            support = self.world.catalog.support_for(spec.product)
            app = self.world.catalog.application(spec.application.name, spec.application.version)
            features = support.backend_features(app.backend) if support and app else frozenset()  # type: ignore[union-attr]
            index = template.index if template is not None else -1
            self._rows[jid] = _Row(P.accept(jid, index, owner, alloc), "suspension" in features)
        return Answer(200, {"responses": responses})

    def _refusal(self, job: Job) -> tuple[int, str] | None:
        spec = job.specification
        if spec.product.provider != self.provider_id:
            return 400, f"product {spec.product.id!r} belongs to provider {spec.product.provider!r}"
        app = self.world.catalog.application(spec.application.name, spec.application.version)
        if app is None:
            return 400, "unknown application requested"
        support = self.world.catalog.support_for(spec.product)
        if support is None or "enabled" not in support.backend_features(app.backend):
            return 400, "this provider does not support the requested application on this product"
        template = self._templates.get(_spec_key(spec.to_wire()))
        if template is not None and template.provider_refusal is not None:
            return template.provider_refusal
        return None

    def _each(self, request: Any, model: Any, key: str | None) -> list[int] | Answer:
        """The job ids of a bulk request (``key``: the item's field holding the Job), or a 400."""
        try:
            items = BulkRequest[model].model_validate(request).items
        except ValidationError as e:
            return Answer(400, None, f"malformed request: {_first_error(e)}")
        ids = [(getattr(item, key) if key else item).id for item in items]
        bad = _non_numeric(ids)
        return bad if bad is not None else [int(i) for i in ids]

    def _terminate(self, request: Any) -> Answer:
        ids = self._each(request, Job, None)
        if isinstance(ids, Answer):
            return ids
        for jid in ids:
            row = self._rows.get(jid)
            if row is not None and not self.cfg.m_provider_ignores_terminate:
                push = P.terminate_ended(row.job, self.cfg)
                if push is not None:
                    self._update(jid, {"state": push[0], "status": push[1]})
                row.job = P.on_terminate(row.job)
                self._monitor(jid)
        return Answer(200, {"responses": [{} for _ in ids]})

    def _extend(self, request: Any) -> Answer:
        try:
            items = BulkRequest[JobsProviderExtendRequestItem].model_validate(request).items
        except ValidationError as e:
            return Answer(400, None, f"malformed jobs.provider.extend request: {_first_error(e)}")
        bad = _non_numeric([item.job.id for item in items])
        if bad is not None:
            return bad
        for item in items:
            jid = int(item.job.id)
            row = self._rows.get(jid)
            if row is None:
                continue
            extended = P.on_extend(row.job, item.requested_time.to_millis())
            if extended is not None:
                row.job = extended
                # k8s containers: extend pushes newTimeAllocation = current + requested (absolute ms).
                self._update(jid, {"newTimeAllocation": extended.alloc_ms, "status": "Extended"})
        return Answer(200, {"responses": [{} for _ in items]})

    def _suspend_like(self, request: Any, suspend: bool) -> Answer:
        ids = self._each(request, JobsProviderSuspendRequestItem, "job")
        if isinstance(ids, Answer):
            return ids
        for jid in ids:
            row = self._rows.get(jid)
            if row is not None:
                row.job = P.on_suspend(row.job, suspend, row.suspension)
                self._monitor(jid)
        return Answer(200, {"responses": [{} for _ in ids]})

    def _suspend(self, request: Any) -> Answer:
        return self._suspend_like(request, True)

    def _unsuspend(self, request: Any) -> Answer:
        return self._suspend_like(request, False)

    def _retrieve_products(self, request: Any) -> Answer:
        support = [
            s.to_wire() for s in self.world.catalog.support.values() if s.product.provider == self.provider_id
        ]
        return Answer(200, {"responses": support})

    # -- test hooks ------------------------------------------------------------------------------
    def hook(self, name: str, body: dict[str, Any]) -> Answer:
        """One test hook (see :mod:`providerkit.adapter`)."""
        with self._lock:
            if name == "reset":
                self._rows.clear()
                self._clock_ms = 0
                return Answer(200, {})
            if name == "advance":
                ms = body.get("ms") if isinstance(body, dict) else None
                if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
                    return Answer(400, None, 'advance needs {"ms": a non-negative integer}')
                self._advance(ms)
                return Answer(200, {})
            if name in ("finish", "fail"):
                jid = _job_id(body)
                row = self._rows.get(jid) if jid is not None else None
                if row is None:
                    return Answer(404, None, f"no job {body.get('id') if isinstance(body, dict) else body!r}")
                if row.job.phase != ACTIVE:
                    return Answer(409, None, f"job {jid} is not running")
                if name == "finish":
                    code = body.get("exitCode", 0)
                    if not isinstance(code, int) or isinstance(code, bool):
                        return Answer(400, None, '"exitCode" must be an integer')
                    row.job = P.on_exit(row.job, code)
                else:
                    row.job = P.on_node_failure(row.job)
                self._monitor(jid)
                return Answer(200, {})
            return Answer(404, None, f"no test hook {name!r}")

    def _advance(self, ms: int) -> None:
        """``ms`` pass: running jobs use them (and expire when their allocation is used up), then
        every queued job starts (the next scheduling pass places it at once)."""
        self._clock_ms += ms
        for jid, row in list(self._rows.items()):
            pj = row.job
            if pj.phase == ACTIVE:
                limit = pj.alloc_ms
                if limit is not None and pj.ran_ms + ms >= limit:
                    row.job = P.on_allocation_elapsed(P.on_tick(pj, limit - pj.ran_ms), self.cfg)
                else:
                    row.job = P.on_tick(pj, ms)
            elif pj.phase == QUEUED and not pj.cancelled:
                if self.cfg.m_expire_early and pj.alloc_ms is not None and ms >= pj.alloc_ms:
                    # the expire-early mutant counts the allocation from submission, queue included
                    row.job = P.on_allocation_elapsed(pj, self.cfg)
                else:
                    row.job = P.on_start(pj)
            self._monitor(jid)

    # -- reporting -------------------------------------------------------------------------------
    def _monitor(self, jid: int) -> None:
        """The monitoring pass for one job: report the state its workload implies, if it changed."""
        row = self._rows[jid]
        if not P.needs_report(row.job, self.cfg):
            return
        row.job, state, status = P.report(row.job, self.cfg)
        if state in FINAL and self.cfg.m_provider_drops_final_report:
            return  # recorded locally, never sent
        self._update(jid, {"state": state, "status": status})
        if state == SUCCESS and self.misbehave == "running-after-success":
            # a new status line, so that it is not an exact copy of the earlier RUNNING (a retry)
            self._update(jid, {"state": RUNNING, "status": "Your job is running again."})
        if self.misbehave == "update-unknown-job":
            self._update(jid + 1_000_000, {"state": RUNNING, "status": P.STATUS_MESSAGES[RUNNING]})

    def _update(self, jid: int, update: dict[str, Any]) -> Answer:
        return self._send("jobs.control.update", {"items": [{"id": str(jid), "update": update}]})

    # -- introspection (tests, the kit's coverage) ------------------------------------------------
    def jobs(self) -> dict[int, ProviderJob]:
        """A snapshot of the provider's table."""
        with self._lock:
            return {jid: row.job for jid, row in self._rows.items()}

    @property
    def clock_ms(self) -> int:
        return self._clock_ms


_CALLS: dict[str, Callable[[ReferenceProvider, Any], Answer]] = {
    "jobs.provider.create": ReferenceProvider._create,
    "jobs.provider.terminate": ReferenceProvider._terminate,
    "jobs.provider.extend": ReferenceProvider._extend,
    "jobs.provider.suspend": ReferenceProvider._suspend,
    "jobs.provider.unsuspend": ReferenceProvider._unsuspend,
    "jobs.provider.retrieveProducts": ReferenceProvider._retrieve_products,
}


def _spec_key(spec_json: dict[str, Any]) -> str:
    """A specification's identity without its time allocation (Core may have extended it)."""
    return orjson.dumps(
        {k: v for k, v in spec_json.items() if k != "timeAllocation"}, option=orjson.OPT_SORT_KEYS
    ).decode()


def _non_numeric(ids: list[str]) -> Answer | None:
    """A 400 for the first job id that is not a number (UCloud's job ids are decimal strings), else None."""
    for jid in ids:
        if not jid.isdecimal():
            return Answer(400, None, f"job id {jid!r} is not a UCloud job id (a decimal number)")
    return None


def _job_id(body: Any) -> int | None:
    raw = body.get("id") if isinstance(body, dict) else None
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(body)"
    return f"{where}: {err['msg']}"


class ReferenceAdapter(ProviderAdapter):
    """The reference provider in process, behind the adapter interface (no network, no threads).

    >>> from spec.world import default_world
    >>> adapter = ReferenceAdapter(default_world(providers=1), "k8s")
    >>> adapter.hook("advance", {"ms": 1000}).status
    200
    """

    def __init__(
        self, world: World, provider_id: str, config: Config = DEFAULT, misbehave: str | None = None
    ) -> None:
        super().__init__(provider_id)
        self.provider = ReferenceProvider(world, provider_id, self._received, config, misbehave)

    def call(self, name: str, request: Any) -> Answer:
        return self.provider.handle(name, request)

    def hook(self, name: str, body: dict[str, Any]) -> Answer:
        return self.provider.hook(name, body)
