"""Record the calls of spec transitions as trace lines: :class:`TraceRecorder`.

Every driver that runs the protocol forward (the model checker printing a counterexample, the SimPy
simulator) sees the same thing after each step: a :class:`~spec.system.Transition` whose ``calls``
are the API calls Core saw, as lean tuples (:class:`~spec.system.Call`: actor, call, job, status,
why, detail). The recorder turns each of them into one line of the trace format (DESIGN, "The trace
format"), with UCloud's JSON shapes as payloads, so that the trace checker can read the run back::

    recorder = TraceRecorder(world, "run.jsonl.gz")
    recorder.write_catalog()                     # line 1: what Core validates against
    state = model.init_state()
    for now, action in schedule:
        t = model.step(state, action, now)
        recorder.record(t, now)                  # one line per call of the step, seq 1, 2, ...
        state = t.state
    recorder.close()

What each call becomes (request; response body on success; ``why`` on failure):

==========================  ==========================================================================
``jobs.create``             ``{"items": [JobSpecification]}`` (the template's request);
                            ``{"responses": [{"id": "<job>"}]}``
``jobs.terminate``,         ``{"items": [{"id"}]}``; ``{"responses": [{}]}``
``jobs.suspend``,
``jobs.unsuspend``
``jobs.extend``             ``{"items": [{"jobId", "requestedTime": SimpleDuration}]}``;
                            ``{"responses": [{}]}``
``jobs.follow``             ``{"id"}``; ``null`` (a stream, not modelled in a trace line)
``jobs.interactiveSession`` ``{"items": [{"id", "rank": 0, "sessionType"}]}``; ``null`` (the spec
                            does not model the session's address or credentials)
``jobs.provider.create``    ``{"items": [Job]}`` (id, createdAt, owner, specification, status
                            IN_QUEUE); ``{"responses": [null]}`` (no provider-generated id)
``jobs.provider.terminate`` ``{"items": [Job]}``; ``{"responses": [{}]}``
``jobs.provider.extend``    ``{"items": [{"job": Job, "requestedTime"}]}``; ``{"responses": [{}]}``
``jobs.provider.suspend``,  ``{"items": [{"job": Job}]}``; ``{"responses": [{}]}``
``jobs.provider.unsuspend``
``jobs.control.update``     ``{"items": [{"id", "update": JobUpdate}]}``; ``null``; with ``facts``
``accounting.reportUsage``  ``{"items": [ReportUsageRequest]}`` (absolute usage, scope
                            ``job-<id>``); ``{"responses": [<wallet not locked>]}``
==========================  ==========================================================================

The ``Job`` sent to a provider is Core's job at that moment: its current state, and its
specification with Core's current time allocation (absent for virtual machines, whose allocation
Core clears, reference §3.5 step 6). ``createdAt`` is the time of the step that stored the job
(the accepted ``jobs.create``), or of the first line about it if the recorder never saw that step.

**Order.** Lines follow the order of the steps and, within a step, of its calls. This is the spec's
order, which the trace checker replays: Core's answer to ``jobs.create`` is known only when the
provider's answer comes back, so an accepted ``jobs.create`` is recorded *after* the
``jobs.provider.create`` it caused (its ``time`` is when Core answered), not before it as a log
written at Core on arrival would show it.

**Facts.** With ``facts=True`` (the default) every ``jobs.control.update`` line carries the ground
truth of its job after the step: the provider's ``cause`` and ``exitCode`` (only with cause
``exit``), the true ``runningMs``, and Core's ``coreState``. A key that does not apply is left out
(no cause before the workload ended; no ``coreState`` once Core has lost the job, or under the
``legacy-canceling`` mutant when Core's state is CANCELING, which is not a ``JobState``).

**Speed.** The simulator records millions of lines, so no pydantic model is built per line: the
JSON pieces of each request template (its ``JobSpecification``, the job's owner, the wallet that
pays) are dumped through the wire models once, when the recorder is made, and each line only
assembles them with a few scalars. ``tests/trace/test_record.py`` proves the assembled shapes by
parsing every payload of many recorded walks with the wire models and dumping it back unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spec.state import CAUSE_EXIT, JOB_STATES
from spec.trace.writer import TraceWriter
from spec.wire import (
    CategoryId,
    Ingress,
    JobSpecification,
    License,
    PublicIP,
    ResourceOwner,
    wallet_owner_for,
)

if TYPE_CHECKING:
    from spec.state import CoreJob, SystemState
    from spec.system import Call, Transition
    from spec.world import Template, World

__all__ = ["TraceRecorder"]

# What a line is made of: (request, response body, provider, facts).
_Line = tuple[Any, Any, str | None, dict[str, dict[str, Any]] | None]

# The trace catalog's tag of each bound-resource class (DESIGN: "ingress" | "network_ip" | "license").
_RESOURCE_TAGS: tuple[tuple[type, str], ...] = (
    (Ingress, "ingress"),
    (PublicIP, "network_ip"),
    (License, "license"),
)

_HOUR_MS = 3_600_000
_MINUTE_MS = 60_000
_CACHE_MAX = 4096  # bound on the small caches of durations and re-timed specifications


def _duration(ms: int) -> dict[str, int]:
    """``SimpleDuration`` JSON of ``ms`` (normalised, as :meth:`SimpleDuration.from_millis`).

    The wire carries whole seconds only, so a sub-second remainder is dropped rather than refused:
    the recorder must not fail on a world whose extension is not a whole number of seconds.
    """
    hours, rest = divmod(ms, _HOUR_MS)
    minutes, rest = divmod(rest, _MINUTE_MS)
    return {"hours": hours, "minutes": minutes, "seconds": rest // 1_000}


@dataclass(frozen=True, slots=True)
class _Pieces:
    """The JSON of one request template that every line about its jobs reuses (never mutated)."""

    spec: dict[str, Any]  # the user's JobSpecification, as sent in jobs.create
    create_request: dict[str, Any]  # {"items": [spec]}
    alloc_ms: int | None  # Core's allocation of a new job (None for virtual machines)
    job_spec: dict[str, Any]  # the specification Core stores: spec with timeAllocation = alloc_ms
    owner: dict[str, Any]  # ResourceOwner JSON
    wallet_owner: dict[str, Any]  # WalletOwner JSON of the workspace that pays
    category: dict[str, Any]  # CategoryId JSON {name, provider}


def _pieces(t: Template) -> _Pieces:
    """Dump a template's static JSON through the wire models, once."""
    spec = t.request.to_wire()
    job_spec = _with_allocation(spec, t.alloc_ms)
    JobSpecification.model_validate(job_spec)  # the re-timed copy still fits the model
    owner = ResourceOwner(created_by=t.user, project=t.project)
    return _Pieces(
        spec=spec,
        create_request={"items": [spec]},
        alloc_ms=t.alloc_ms,
        job_spec=job_spec,
        owner=owner.to_wire(),
        wallet_owner=wallet_owner_for(owner).to_wire(),
        category=CategoryId(name=t.category, provider=t.provider).to_wire(),
    )


def _with_allocation(spec: dict[str, Any], alloc_ms: int | None) -> dict[str, Any]:
    """A copy of a specification's JSON whose ``timeAllocation`` is ``alloc_ms`` (left out if None),
    keeping the model's key order."""
    out: dict[str, Any] = {}
    placed = False
    for key, value in spec.items():
        if key == "timeAllocation":
            placed = True
            if alloc_ms is not None:
                out[key] = _duration(alloc_ms)
        else:
            if not placed and alloc_ms is not None and key in _AFTER_TIME_ALLOCATION:
                out["timeAllocation"] = _duration(alloc_ms)
                placed = True
            out[key] = value
    if not placed and alloc_ms is not None:
        out["timeAllocation"] = _duration(alloc_ms)
    return out


_fields = [f.alias or name for name, f in JobSpecification.model_fields.items()]
_AFTER_TIME_ALLOCATION = frozenset(_fields[_fields.index("timeAllocation") + 1 :])
del _fields

_BULK_EMPTY: dict[str, Any] = {"responses": [{}]}
_PROVIDER_CREATED: dict[str, Any] = {"responses": [None]}
_USAGE_OK: dict[str, Any] = {"responses": [True]}
_USAGE_LOCKED: dict[str, Any] = {"responses": [False]}


class TraceRecorder:
    """Writes the calls of spec transitions as trace lines (DESIGN "The trace format").

    ``target`` is a :class:`~spec.trace.writer.TraceWriter` (left open by :meth:`close`) or a path
    (opened here, gzip if it ends in ``.gz``, and closed by :meth:`close`). ``facts`` says whether
    update lines carry the ground truth of their job (see the module docstring).

    ``seq`` starts at 1 and grows by one per call line; the catalog line has none. ``time`` is what
    the caller passes to :meth:`record`, and must never decrease. The same world and the same
    transitions at the same times give the same bytes.

    >>> import io
    >>> from spec.system import ProtocolModel
    >>> from spec.world import default_world
    >>> from spec import actions as A
    >>> from spec.trace import read_trace
    >>> model = ProtocolModel(default_world(providers=1))
    >>> out = io.BytesIO()
    >>> with TraceRecorder(model.world, TraceWriter(out)) as recorder:
    ...     t = model.step(model.init_state(), A.Submit(3))   # replicas=0: Core answers 400
    ...     recorder.record(t, 1000)
    1
    >>> _ = out.seek(0)
    >>> [(line.seq, line.call, line.response.status, line.response.why) for line in read_trace(out)]
    [(1, 'jobs.create', 400, 'you must request at least 1 node')]
    """

    def __init__(
        self, world: World, target: TraceWriter | str | os.PathLike[str], *, facts: bool = True
    ) -> None:
        self._world = world
        if isinstance(target, TraceWriter):
            self._writer = target
            self._owned = False
        elif isinstance(target, str | os.PathLike):
            self._writer = TraceWriter(target)
            self._owned = True
        else:
            raise TypeError(f"target must be a TraceWriter or a path, got {type(target).__name__}")
        self._facts = facts
        self._pieces = tuple(_pieces(t) for t in world.templates)
        self._seq = 0
        self._time = 0
        self._lines = 0
        self._created: dict[int, int] = {}  # job id -> createdAt (ms)
        self._durations: dict[int, dict[str, int]] = {}
        self._retimed: dict[tuple[int, int | None], dict[str, Any]] = {}
        self._write = self._writer.write_call
        self._handlers: dict[str, Callable[[Call, SystemState, int], _Line]] = {
            "jobs.create": self._create,
            "jobs.terminate": self._by_id,
            "jobs.suspend": self._by_id,
            "jobs.unsuspend": self._by_id,
            "jobs.extend": self._extend,
            "jobs.follow": self._follow,
            "jobs.interactiveSession": self._session,
            "jobs.provider.create": self._provider_create,
            "jobs.provider.terminate": self._provider_terminate,
            "jobs.provider.extend": self._provider_extend,
            "jobs.provider.suspend": self._provider_suspend,
            "jobs.provider.unsuspend": self._provider_suspend,
            "jobs.control.update": self._update,
            "accounting.reportUsage": self._usage,
        }
        # The spec makes no jobs.provider.follow or jobs.provider.interactiveSession calls: it answers
        # follow and sessions in Core (feature and state gates) and does not model the provider's part.

    # -- public API ------------------------------------------------------------------------------

    def write_catalog(self) -> None:
        """Write line 1: the world's applications, products, support, bound resources and wallets."""
        catalog = self._world.catalog
        resources = []
        for resource in catalog.resources.values():
            tag = next(tag for cls, tag in _RESOURCE_TAGS if isinstance(resource, cls))
            resources.append({"type": tag, **resource.model_dump(mode="json", by_alias=True)})
        self._writer.write_catalog(
            applications=list(catalog.applications.values()),
            products=list(catalog.products.values()),
            support=list(catalog.support.values()),
            resources=resources,
            wallets=list(catalog.wallets.values()),
        )
        self._lines += 1

    def record(self, transition: Transition, time_ms: int) -> int:
        """Write one line per call of ``transition``, in order, at ``time_ms``; return how many.

        A step without calls writes nothing (but an accepted submission's step is remembered as the
        job's ``createdAt``). Raises ``ValueError`` if ``time_ms`` is before the previous step's, or
        if a call is not one of the trace format's.
        """
        if time_ms < self._time:
            raise ValueError(
                f"time must not decrease: got {time_ms} ms after {self._time} ms; "
                "record transitions in the order they happened, with the driver's clock"
            )
        self._time = time_ms
        calls = transition.calls
        state = transition.state
        if not calls:
            # Submit stores an accepted job without a call (Core answers when the provider has): this
            # step is when Core received the create request, i.e. the Job's createdAt.
            created = self._created
            for jid in transition.touched:
                if jid not in created and jid in state.jobs:
                    created[jid] = time_ms
            return 0
        handlers = self._handlers
        write = self._write
        for call in calls:
            handler = handlers.get(call.call)
            if handler is None:
                raise ValueError(
                    f"call {call.call!r} has no trace form; the trace format's calls are {sorted(handlers)}"
                )
            request, body, provider, facts = handler(call, state, time_ms)
            status = call.status
            self._seq += 1
            write(
                seq=self._seq,
                time=time_ms,
                actor=call.actor,
                call=call.call,
                request=request,
                status=status,
                body=body if 200 <= status < 300 else None,
                why=call.why,
                provider=provider,
                facts=facts,
            )
        self._lines += len(calls)
        return len(calls)

    def forget(self, job_id: int) -> None:
        """Drop what the recorder remembers about a job (its ``createdAt``). A driver that streams
        millions of jobs calls it when a job can no longer appear in a call, so that memory follows
        the live jobs, not the length of the trace."""
        self._created.pop(job_id, None)

    def close(self) -> None:
        """Close the writer if this recorder opened it (a writer passed in is flushed, left open)."""
        if self._owned:
            self._writer.close()
        else:
            self._writer.flush()

    def __enter__(self) -> TraceRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def lines_written(self) -> int:
        """How many lines this recorder wrote, the catalog included."""
        return self._lines

    def job_json(self, core: CoreJob, time_ms: int) -> dict[str, Any]:
        """Core's ``Job`` JSON for ``core`` as sent to a provider (see :meth:`_job`); for drivers
        that play Core themselves, such as the provider test kit."""
        return self._job(core, time_ms)

    def create_request(self, template: int) -> dict[str, Any]:
        """The ``jobs.create`` request of a template: ``{"items": [JobSpecification]}``."""
        return self._pieces[template].create_request

    # -- pieces ----------------------------------------------------------------------------------

    def _requested_time(self, ms: int) -> dict[str, int]:
        d = self._durations.get(ms)
        if d is None:
            if len(self._durations) >= _CACHE_MAX:
                self._durations.clear()
            d = self._durations[ms] = _duration(ms)
        return d

    def _retimed_spec(self, template: int, alloc_ms: int | None) -> dict[str, Any]:
        """The specification of an extended job: Core's copy carries the new total allocation
        (``JobUpdate.newTimeAllocation``, reference §1.5)."""
        key = (template, alloc_ms)
        spec = self._retimed.get(key)
        if spec is None:
            if len(self._retimed) >= _CACHE_MAX:
                self._retimed.clear()
            spec = self._retimed[key] = _with_allocation(self._pieces[template].spec, alloc_ms)
        return spec

    def _job(self, core: CoreJob, time_ms: int) -> dict[str, Any]:
        """Core's ``Job`` as sent to a provider (``orchestrators/jobs.go: Job``; reference §1.8)."""
        p = self._pieces[core.template]
        spec = p.job_spec if core.alloc_ms == p.alloc_ms else self._retimed_spec(core.template, core.alloc_ms)
        created = self._created.get(core.id)
        if created is None:
            created = self._created[core.id] = time_ms
        return {
            "id": str(core.id),
            "createdAt": created,
            "owner": p.owner,
            "updates": [],  # core2 keeps no initial update (reference §1.2)
            "specification": spec,
            "status": {"state": core.state, "allowRestart": False},
            "output": {},
        }

    # -- one handler per call: (call, state after the step, time) -> (request, body, provider, facts)

    def _create(self, c: Call, s: SystemState, time_ms: int) -> _Line:
        # detail = (template index,); job is None when Core's validation refused the request.
        body = {"responses": [{"id": str(c.job)}]} if c.job is not None else None
        return self._pieces[c.detail[0]].create_request, body, None, None

    def _by_id(self, c: Call, s: SystemState, time_ms: int) -> _Line:
        return {"items": [{"id": str(c.job)}]}, _BULK_EMPTY, None, None

    def _extend(self, c: Call, s: SystemState, time_ms: int) -> _Line:
        # detail = (extension ms,)
        item = {"jobId": str(c.job), "requestedTime": self._requested_time(c.detail[0])}
        return {"items": [item]}, _BULK_EMPTY, None, None

    def _follow(self, c: Call, s: SystemState, time_ms: int) -> _Line:
        # detail = (whether logs stream,): the stream's messages are not part of a trace line.
        return {"id": str(c.job)}, None, None, None

    def _session(self, c: Call, s: SystemState, time_ms: int) -> _Line:
        # detail = (session type,). The spec decides only whether Core opens the session, not where it
        # leads, so the OpenSessionWithProvider body is left null rather than invented.
        return {"items": [{"id": str(c.job), "rank": 0, "sessionType": c.detail[0]}]}, None, None, None

    def _provider_create(self, c: Call, s: SystemState, time_ms: int) -> _Line:
        core = s.jobs[c.job]
        return {"items": [self._job(core, time_ms)]}, _PROVIDER_CREATED, core.provider, None

    def _provider_terminate(self, c: Call, s: SystemState, time_ms: int) -> _Line:
        core = s.jobs[c.job]
        return {"items": [self._job(core, time_ms)]}, _BULK_EMPTY, core.provider, None

    def _provider_extend(self, c: Call, s: SystemState, time_ms: int) -> _Line:
        core = s.jobs[c.job]
        item = {"job": self._job(core, time_ms), "requestedTime": self._requested_time(c.detail[0])}
        return {"items": [item]}, _BULK_EMPTY, core.provider, None

    def _provider_suspend(self, c: Call, s: SystemState, time_ms: int) -> _Line:
        core = s.jobs[c.job]
        return {"items": [{"job": self._job(core, time_ms)}]}, _BULK_EMPTY, core.provider, None

    def _update(self, c: Call, s: SystemState, time_ms: int) -> _Line:
        # detail = (call uid, state, expectedState, expectedDifferentState, newTimeAllocation ms,
        #           status message[, "applied" | "dropped" | "retry"]): the verdict is Core's, not on
        # the wire; a 404 has none. Keys in JobUpdate's field order, None and False left out.
        d = c.detail
        update: dict[str, Any] = {}
        if d[1] is not None:
            update["state"] = d[1]
        if d[5]:
            update["status"] = d[5]
        if d[2] is not None:
            update["expectedState"] = d[2]
        if d[3]:
            update["expectedDifferentState"] = True
        if d[4] is not None:
            update["newTimeAllocation"] = d[4]
        update["timestamp"] = 0  # providers send 0; Core stamps its own clock (reference §1.5)
        jid = c.job
        request = {"items": [{"id": str(jid), "update": update}]}
        facts = self._job_facts(jid, c.actor[9:], s) if self._facts and jid is not None else None
        return request, None, None, facts

    def _job_facts(self, jid: int, pid: str, s: SystemState) -> dict[str, dict[str, Any]] | None:
        """``{"<jid>": {cause?, exitCode?, runningMs?, coreState?}}`` after the step, or None if unknown."""
        core = s.jobs.get(jid)
        provider = s.providers.get(pid)
        pj = provider.jobs.get(jid) if provider is not None else None
        if pj is None and core is not None and core.provider != pid:
            pj = s.providers[core.provider].jobs.get(jid)  # another provider spoke for the job
        facts: dict[str, Any] = {}
        if pj is not None:
            cause = pj.cause
            if cause is not None:
                facts["cause"] = cause
                if cause == CAUSE_EXIT and pj.exit_code is not None:
                    facts["exitCode"] = pj.exit_code
            facts["runningMs"] = pj.ran_ms
        if core is not None and core.state in JOB_STATES:
            facts["coreState"] = core.state
        return {str(jid): facts} if facts else None

    def _usage(self, c: Call, s: SystemState, time_ms: int) -> _Line:
        # detail = (absolute usage, wallet not locked). The provider's own record names the template:
        # Core may have lost the job (a restart) while the provider still charges for it.
        jid = c.job
        pj = s.providers[c.actor[9:]].jobs[jid]
        p = self._pieces[pj.template]
        item = {
            "isDeltaCharge": False,  # absolute usage per scope (k8s monitoring.go; reference §4.3, §8.2)
            "owner": p.wallet_owner,
            "categoryIdV2": p.category,
            "usage": c.detail[0],
            "description": {"scope": f"job-{jid}"},
        }
        return {"items": [item]}, _USAGE_OK if c.detail[1] else _USAGE_LOCKED, None, None
