"""The lines of a trace: :class:`CatalogLine` (optional, first) and :class:`CallLine` (one per API call).

A trace is UTF-8 JSON Lines recorded at UCloud/Core (DESIGN, "The trace format"). This module holds the
two line models and nothing about files; :mod:`spec.trace.reader` and :mod:`spec.trace.writer` move them
in and out of files.

Two speeds, on purpose:

* the **catalog** (applications, products, support, bound resources, wallets) is read once per trace, so
  it is a pydantic model built from the wire models of :mod:`spec.wire` and fully validated;
* a **call line** is read millions of times by the checker and written millions of times by the
  simulator, so it is a frozen ``__slots__`` dataclass whose *envelope* (``seq``, ``time``, ``actor``,
  ``call``, ``provider``, ``response.status``, ``facts``...) is checked by hand-written code, and whose
  *payloads* (``request`` and ``response.body``) stay the raw JSON they were on the line. Judging payloads
  is the checker's job: an update to a state outside ``JobState`` is a protocol violation to report, not
  an unreadable line. :meth:`CallLine.typed_request` and :meth:`CallLine.typed_response` parse the
  payloads with the wire models of :data:`spec.wire.calls.CALLS` when you want them typed.

Every model checks itself when built, whoever builds it, and raises :class:`~spec.trace.errors.FieldError`
naming the offending field; the reader adds the line number.

>>> line = CallLine.from_json({
...     "seq": 12, "time": 93000, "actor": "provider:k8s", "call": "jobs.control.update",
...     "request": {"items": [{"id": "7", "update": {"state": "SUCCESS"}}]},
...     "response": {"status": 200, "body": None},
...     "facts": {"7": {"cause": "exit", "exitCode": 0, "runningMs": 61000}}})
>>> line.actor_kind, line.actor_id, line.response.ok, line.facts["7"].exit_code
('provider', 'k8s', True, 0)
>>> CallLine.from_json(line.to_json()) == line
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from spec.trace.errors import FieldError
from spec.wire import Application, Ingress, JobState, JobSupport, License, ProductV2, PublicIP, Wallet
from spec.wire.calls import CALL_NAMES, CALLS

__all__ = [
    "CALL_LINE_FIELDS",
    "CAUSES",
    "CORE_TO_PROVIDER_CALLS",
    "CallLine",
    "CallLineSchema",
    "CatalogLine",
    "CatalogResource",
    "Cause",
    "IngressResource",
    "JobFacts",
    "LicenseResource",
    "PublicIPResource",
    "Response",
]

# --------------------------------------------------------------------------------------------------
# Small helpers shared by the validators

Cause = Literal[
    "exit", "user-cancel", "time-allocation", "no-credits", "permission-lost", "node-failure", "vanished"
]
"""Why a job ended, as the recorder knows it (``facts.<jobId>.cause``). See DESIGN, "The trace format"."""

CAUSES: frozenset[str] = frozenset(get_args(Cause))

CORE_TO_PROVIDER_CALLS: frozenset[str] = frozenset(name for name, s in CALLS.items() if s.caller == "ucloud")
"""The calls Core makes to a provider (``jobs.provider.*``); their lines must say which provider in
``"provider"``."""

_JOB_STATE_OF: dict[str, JobState] = {s.value: s for s in JobState}  # JobState members hash as their values
_JOB_STATES: frozenset[str] = frozenset(_JOB_STATE_OF)
_ACTOR_RE = re.compile(r"\A(?:ucloud|(?:user|provider):\S+)\Z")
_known_actors: set[str] = {"ucloud"}  # actor strings already checked: a trace has few distinct actors
_KNOWN_ACTORS_MAX = 100_000


def _show(value: Any) -> str:
    """A value as it would look in JSON, cut short: for error messages (``"x"``, ``-5``, ``[1, 2]``)."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _must_be_int(field: str, value: Any, *, minimum: int | None = 0) -> None:
    if type(value) is not int:  # bool is an int in Python, but not on the wire
        raise FieldError(field, f"must be an integer, got {_show(value)}")
    if minimum is not None and value < minimum:
        what = "non-negative" if minimum == 0 else f">= {minimum}"
        raise FieldError(field, f"must be a {what} integer, got {value}")


def _must_be_object(field: str | None, value: Any) -> None:
    if type(value) is not dict:
        raise FieldError(field, f"must be a JSON object, got {_show(value)}")


def _unknown_key(obj: dict[str, Any], known: frozenset[str], what: str, prefix: str = "") -> FieldError:
    unknown = sorted((k for k in obj if k not in known), key=str)[0]
    return FieldError(f"{prefix}{unknown}", f"is not a field of {what} (fields: {', '.join(sorted(known))})")


# --------------------------------------------------------------------------------------------------
# Call lines (hot path: hand-written validation into __slots__ dataclasses)
#
# Each model has one checking function (``_check_*``), called both by ``__post_init__`` (when you build
# a model yourself) and by ``from_json`` (when the reader builds it). ``from_json`` then fills the slots
# through their descriptors (``_SET_*``) instead of calling ``__init__``: a frozen dataclass's
# ``__init__`` stores each field through ``object.__setattr__``, which costs about half a microsecond per
# line on a path taken millions of times, and the values have just been checked anyway. The writer goes
# further and turns checked fields straight into JSON (``_call_wire``) without building a line.

_new = object.__new__


def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Any, ...]:
    """The ``__set__`` of each slot of ``cls``: they store a field without going through ``__setattr__``."""
    return tuple(getattr(cls, name).__set__ for name in names)


def _check_response(status: Any, why: Any) -> None:
    if type(status) is not int or not 100 <= status <= 599:
        raise FieldError(
            "response.status", f"must be an HTTP status (an integer 100-599), got {_show(status)}"
        )
    if why is not None and type(why) is not str:
        raise FieldError("response.why", f"must be a string, got {_show(why)}")


@dataclass(frozen=True, slots=True)
class Response:
    """What Core answered: an HTTP ``status``, the raw JSON ``body`` (``None`` for ``null``) and, for a
    non-2xx status, ``why`` (the reason, free text)."""

    status: int
    body: Any = None
    why: str | None = None

    def __post_init__(self) -> None:
        _check_response(self.status, self.why)

    @property
    def ok(self) -> bool:
        """Whether the status is a success (2xx)."""
        return 200 <= self.status < 300

    _KEYS = frozenset({"status", "body", "why"})

    @classmethod
    def from_json(cls, obj: Any) -> Response:
        """Build from the wire form ``{"status": int, "body": any JSON, "why"?: str}``."""
        _must_be_object("response", obj)
        try:
            status = obj["status"]
            body = obj["body"]
        except KeyError as missing:
            raise FieldError(f"response.{missing.args[0]}", "is missing") from None
        why = obj.get("why")
        if len(obj) > 2 + ("why" in obj):
            raise _unknown_key(obj, cls._KEYS, "a response", "response.")
        _check_response(status, why)
        response = _new(Response)
        _SET_STATUS(response, status)
        _SET_BODY(response, body)
        _SET_WHY(response, why)
        return response

    def to_json(self) -> dict[str, Any]:
        """The wire form, keys in a fixed order (``why`` only when given)."""
        if self.why is None:
            return {"status": self.status, "body": self.body}
        return {"status": self.status, "body": self.body, "why": self.why}


_SET_STATUS, _SET_BODY, _SET_WHY = _slot_setters(Response, ("status", "body", "why"))


def _check_facts(cause: Any, exit_code: Any, running_ms: Any, core_state: Any) -> None:
    if cause is not None and (type(cause) is not str or cause not in CAUSES):
        raise FieldError("cause", f"must be one of {', '.join(sorted(CAUSES))}; got {_show(cause)}")
    if exit_code is not None:
        if type(exit_code) is not int:
            _must_be_int("exitCode", exit_code, minimum=None)
        if cause != "exit":
            raise FieldError("exitCode", f"is only given with cause 'exit', not with {_show(cause)}")
    if running_ms is not None and (type(running_ms) is not int or running_ms < 0):
        _must_be_int("runningMs", running_ms)
    if core_state is not None and (not isinstance(core_state, str) or core_state not in _JOB_STATES):
        states = ", ".join(sorted(_JOB_STATES))
        raise FieldError("coreState", f"must be a JobState ({states}), got {_show(core_state)}")


@dataclass(frozen=True, slots=True)
class JobFacts:
    """Ground truth about one job that the recorder knows and the protocol does not carry.

    On the wire: ``{"cause"?, "exitCode"?, "runningMs"?, "coreState"?}`` (camelCase), all optional.

    * ``cause`` - why the job ended, one of :data:`CAUSES`;
    * ``exit_code`` - the process's exit code; only with ``cause == "exit"``;
    * ``running_ms`` - the job's true cumulative running time;
    * ``core_state`` - Core's state of the job after the call (a :class:`~spec.wire.JobState`; a plain
      string naming one is accepted and compares equal).
    """

    cause: Cause | None = None
    exit_code: int | None = None
    running_ms: int | None = None
    core_state: JobState | None = None

    def __post_init__(self) -> None:
        _check_facts(self.cause, self.exit_code, self.running_ms, self.core_state)

    _KEYS = frozenset({"cause", "exitCode", "runningMs", "coreState"})

    @classmethod
    def from_json(cls, obj: Any) -> JobFacts:
        """Build from the wire form; field paths in errors are relative (``"cause"``)."""
        cause, exit_code, running_ms, core_state = _facts_fields(obj)
        facts = _new(JobFacts)
        _SET_CAUSE(facts, cause)
        _SET_EXIT_CODE(facts, exit_code)
        _SET_RUNNING_MS(facts, running_ms)
        _SET_CORE_STATE(facts, None if core_state is None else _JOB_STATE_OF[core_state])
        return facts

    def to_json(self) -> dict[str, Any]:
        """The wire form: camelCase keys in a fixed order, absent fields left out."""
        return _facts_wire(self.cause, self.exit_code, self.running_ms, self.core_state)


def _facts_fields(obj: Any) -> tuple[Any, Any, Any, Any]:
    """Check the wire form of job facts; returns (cause, exitCode, runningMs, coreState)."""
    if type(obj) is not dict:
        _must_be_object(None, obj)
    get = obj.get
    cause = get("cause")
    exit_code = get("exitCode")
    running_ms = get("runningMs")
    core_state = get("coreState")
    if len(obj) > ("cause" in obj) + ("exitCode" in obj) + ("runningMs" in obj) + ("coreState" in obj):
        raise _unknown_key(obj, JobFacts._KEYS, "job facts")
    _check_facts(cause, exit_code, running_ms, core_state)
    return cause, exit_code, running_ms, core_state


def _facts_wire(cause: Any, exit_code: Any, running_ms: Any, core_state: Any) -> dict[str, Any]:
    """The canonical wire form of checked job facts (fixed key order, absent fields left out)."""
    out: dict[str, Any] = {}
    if cause is not None:
        out["cause"] = cause
    if exit_code is not None:
        out["exitCode"] = exit_code
    if running_ms is not None:
        out["runningMs"] = running_ms
    if core_state is not None:
        out["coreState"] = _JOB_STATE_OF[core_state].value
    return out


_SET_CAUSE, _SET_EXIT_CODE, _SET_RUNNING_MS, _SET_CORE_STATE = _slot_setters(
    JobFacts, ("cause", "exit_code", "running_ms", "core_state")
)


CALL_LINE_FIELDS: tuple[str, ...] = (
    "seq",
    "time",
    "end",
    "actor",
    "call",
    "provider",
    "request",
    "response",
    "facts",
)
"""The keys of a call line, in the order the writer puts them."""


def _check_envelope(seq: Any, time: Any, end: Any, actor: Any, call: Any, provider: Any) -> None:
    if type(seq) is not int or seq < 0:
        _must_be_int("seq", seq)
    if type(time) is not int or time < 0:
        _must_be_int("time", time)
    if end is not None:
        _must_be_int("end", end)
        if end < time:
            raise FieldError("end", f"must not be before time ({time}), got {end}")
    if type(actor) is not str or actor not in _known_actors:
        if type(actor) is not str or not _ACTOR_RE.match(actor):
            raise FieldError("actor", f'must be "user:NAME", "ucloud" or "provider:ID", got {_show(actor)}')
        if len(_known_actors) < _KNOWN_ACTORS_MAX:
            _known_actors.add(actor)
    if type(call) is not str or call not in CALL_NAMES:
        raise FieldError("call", f"must be a known call name, got {_show(call)}")
    if call in CORE_TO_PROVIDER_CALLS:
        if type(provider) is not str or not provider:
            what = "is missing" if provider is None else f"must be a non-empty string, got {_show(provider)}"
            raise FieldError("provider", f"{what} (required on Core-to-provider calls such as {call})")
    elif provider is not None:
        raise FieldError(
            "provider", f"is only given on Core-to-provider calls (jobs.provider.*), not on {call}"
        )


def _call_wire(
    seq: int,
    time: int,
    end: int | None,
    actor: str,
    call: str,
    provider: str | None,
    request: Any,
    status: int,
    body: Any,
    why: str | None,
    facts: dict[str, dict[str, Any]] | None,
) -> dict[str, Any]:
    """The wire form of a call line from its checked parts: keys in :data:`CALL_LINE_FIELDS` order."""
    out: dict[str, Any] = {"seq": seq, "time": time}
    if end is not None:
        out["end"] = end
    out["actor"] = actor
    out["call"] = call
    if provider is not None:
        out["provider"] = provider
    out["request"] = request
    out["response"] = (
        {"status": status, "body": body} if why is None else {"status": status, "body": body, "why": why}
    )
    if facts is not None:
        out["facts"] = facts
    return out


@dataclass(frozen=True, slots=True)
class CallLine:
    """One API call as Core saw it: who called what, when, with which request, and what Core answered.

    Wire form (keys in this order; ``end``, ``provider`` and ``facts`` optional)::

        {"seq": 12, "time": 93000, "end": 93004, "actor": "provider:k8s", "call": "jobs.control.update",
         "request": {...}, "response": {"status": 200, "body": null}, "facts": {"7": {"cause": "exit"}}}

    * ``seq`` - strictly increasing over the trace (gaps allowed), ``>= 0``;
    * ``time`` - ms when the receiver began handling the call, non-decreasing, ``>= 0``; ``end`` - ms
      when it was answered (``>= time``);
    * ``actor`` - ``"user:NAME"``, ``"ucloud"`` or ``"provider:ID"`` (NAME and ID without whitespace);
    * ``call`` - one of :data:`spec.wire.calls.CALL_NAMES`; ``provider`` - the provider called, required
      on Core-to-provider calls (``jobs.provider.*``) and refused on the others;
    * ``request`` / ``response.body`` - UCloud's JSON, kept raw (see :meth:`typed_request`);
    * ``facts`` - ground truth by job id (:class:`JobFacts`).

    Whether this actor may make this call, and whether the payloads are right, is for the checker to
    say; the line only has to be well formed. Ordering (``seq``, ``time``) is checked by the reader and
    the writer, which see consecutive lines. Treat ``request``, ``response.body`` and ``facts`` as
    read-only: the line is frozen, the JSON inside it is not copied.
    """

    seq: int
    time: int
    actor: str
    call: str
    request: Any
    response: Response
    provider: str | None = None
    end: int | None = None
    facts: dict[str, JobFacts] | None = None

    def __post_init__(self) -> None:
        _check_envelope(self.seq, self.time, self.end, self.actor, self.call, self.provider)
        if type(self.response) is not Response:
            raise FieldError("response", f"must be a Response, got {type(self.response).__name__}")
        facts = self.facts
        if facts is not None:
            if type(facts) is not dict:
                raise FieldError("facts", f"must be a dict of job id to JobFacts, got {type(facts).__name__}")
            for job_id, job_facts in facts.items():
                if type(job_id) is not str or type(job_facts) is not JobFacts:
                    raise FieldError(f"facts.{job_id}", "must map a job id (string) to JobFacts")

    @property
    def actor_kind(self) -> Literal["user", "ucloud", "provider"]:
        """``"user"``, ``"ucloud"`` or ``"provider"``: the part of ``actor`` before the colon."""
        return self.actor.partition(":")[0]  # type: ignore[return-value]

    @property
    def actor_id(self) -> str | None:
        """The user name or provider id after the colon; ``None`` for ``"ucloud"``."""
        return self.actor.partition(":")[2] or None

    @property
    def duration_ms(self) -> int | None:
        """``end - time`` when the line says when the call was answered."""
        return None if self.end is None else self.end - self.time

    # -- wire form -------------------------------------------------------------------------------

    _KEYS = frozenset(CALL_LINE_FIELDS)

    @classmethod
    def from_json(cls, obj: Any) -> CallLine:
        """Build from a decoded JSON line; raises :class:`FieldError` naming the first bad field.

        An explicit ``null`` in an optional field (``end``, ``provider``, ``facts``, ``why``) counts as
        absent. Unknown keys are refused, so that a misspelt ``"fact"`` does not go unnoticed.
        """
        if type(obj) is not dict:
            _must_be_object(None, obj)
        try:  # required fields, looked up in wire order so that the first missing one is reported
            seq = obj["seq"]
            time = obj["time"]
            actor = obj["actor"]
            call = obj["call"]
            request = obj["request"]
            raw_response = obj["response"]
        except KeyError as missing:
            raise FieldError(missing.args[0], "is missing") from None
        get = obj.get
        end = get("end")
        provider = get("provider")
        raw_facts = get("facts")
        if len(obj) > 6 + ("end" in obj) + ("provider" in obj) + ("facts" in obj):
            raise _unknown_key(obj, cls._KEYS, "a call line")
        _check_envelope(seq, time, end, actor, call, provider)
        # Response.from_json, inlined: this runs once per line
        if type(raw_response) is not dict:
            _must_be_object("response", raw_response)
        try:
            status = raw_response["status"]
            body = raw_response["body"]
        except KeyError as missing:
            raise FieldError(f"response.{missing.args[0]}", "is missing") from None
        why = raw_response.get("why")
        if len(raw_response) > 2 + ("why" in raw_response):
            raise _unknown_key(raw_response, Response._KEYS, "a response", "response.")
        if type(status) is not int or not 100 <= status <= 599 or why is not None:
            _check_response(status, why)
        response = _new(Response)
        _SET_STATUS(response, status)
        _SET_BODY(response, body)
        _SET_WHY(response, why)
        if raw_facts is None:
            facts = None
        else:
            _must_be_object("facts", raw_facts)
            facts = {}
            for job_id, job_facts in raw_facts.items():
                try:
                    facts[job_id] = JobFacts.from_json(job_facts)
                except FieldError as error:
                    raise error.within(f"facts.{job_id}") from None
        line = _new(CallLine)
        _SET_SEQ(line, seq)
        _SET_TIME(line, time)
        _SET_ACTOR(line, actor)
        _SET_CALL(line, call)
        _SET_REQUEST(line, request)
        _SET_RESPONSE(line, response)
        _SET_PROVIDER(line, provider)
        _SET_END(line, end)
        _SET_FACTS(line, facts)
        return line

    def to_json(self) -> dict[str, Any]:
        """The wire form as a dict whose key order is :data:`CALL_LINE_FIELDS` (absent optionals left out)."""
        response = self.response
        facts = self.facts
        return _call_wire(
            self.seq,
            self.time,
            self.end,
            self.actor,
            self.call,
            self.provider,
            self.request,
            response.status,
            response.body,
            response.why,
            None if facts is None else {job_id: f.to_json() for job_id, f in facts.items()},
        )

    # -- typed payloads (slow path, on demand) ----------------------------------------------------

    def typed_request(self) -> Any:
        """The request parsed with the call's wire model (``CALLS[call].request_model``).

        Raises ``pydantic.ValidationError`` if the payload does not fit the model (for the checker, a
        protocol violation). Returns the raw JSON unchanged when the call has no request model.
        """
        adapter = _adapter(self.call, "request")
        return self.request if adapter is None else adapter.validate_python(self.request)

    def typed_response(self) -> Any:
        """The response body parsed with the call's wire model (``CALLS[call].response_model``).

        Only meaningful for a 2xx response; an error body is returned raw, and so is ``null`` and any
        body of a call without a response model.
        """
        body = self.response.body
        if body is None or not self.response.ok:
            return body
        adapter = _adapter(self.call, "response")
        return body if adapter is None else adapter.validate_python(body)


(
    _SET_SEQ,
    _SET_TIME,
    _SET_ACTOR,
    _SET_CALL,
    _SET_REQUEST,
    _SET_RESPONSE,
    _SET_PROVIDER,
    _SET_END,
    _SET_FACTS,
) = _slot_setters(
    CallLine, ("seq", "time", "actor", "call", "request", "response", "provider", "end", "facts")
)


@cache
def _adapter(call: str, which: Literal["request", "response"]) -> TypeAdapter[Any] | None:
    spec = CALLS[call]
    model = spec.request_model if which == "request" else spec.response_model
    if model is None:
        return None
    return model if isinstance(model, TypeAdapter) else TypeAdapter(model)


# --------------------------------------------------------------------------------------------------
# The catalog line (read once per trace: full pydantic validation with the wire models)


class IngressResource(Ingress):
    """A public link (UCloud ``Ingress``) in the catalog, tagged ``"type": "ingress"``."""

    type: Literal["ingress"] = "ingress"


class PublicIPResource(PublicIP):
    """A public IP (UCloud ``PublicIP``/``NetworkIP``) in the catalog, tagged ``"type": "network_ip"``."""

    type: Literal["network_ip"] = "network_ip"


class LicenseResource(License):
    """A software license (UCloud ``License``) in the catalog, tagged ``"type": "license"``."""

    type: Literal["license"] = "license"


CatalogResource = Annotated[IngressResource | PublicIPResource | LicenseResource, Field(discriminator="type")]
"""A bound resource known before the trace starts: UCloud's JSON plus ``"type"`` saying which kind."""


class CatalogLine(BaseModel):
    """The optional first line: what existed before the first call, so that Core's validation can be judged.

    Wire form (DESIGN, "The trace format")::

        {"kind": "catalog", "version": 1, "applications": [Application...], "products": [ProductV2...],
         "support": [JobSupport...], "resources": [{"type": "ingress" | "network_ip" | "license", ...}],
         "wallets": [Wallet...]}

    The lists may be left out (empty). Unknown keys are refused.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["catalog"] = "catalog"
    version: Literal[1] = 1
    applications: list[Application] = Field(default_factory=list)
    products: list[ProductV2] = Field(default_factory=list)
    support: list[JobSupport] = Field(default_factory=list)
    resources: list[CatalogResource] = Field(default_factory=list)
    wallets: list[Wallet] = Field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The wire form: camelCase, keys in field order, each resource's ``type`` first.

        ``null`` fields are written, not dropped: the catalog is one line, and writing every field keeps
        the unknown fields UCloud sent (kept by the wire models) exactly as they were, so that reading
        what was written gives an equal catalog.
        """
        out = self.model_dump(mode="json", by_alias=True)
        out["resources"] = [{"type": r.pop("type"), **r} for r in out["resources"]]
        return out


# --------------------------------------------------------------------------------------------------
# A pydantic mirror of the call line, for the JSON Schema export only (``ucsim schema``). The reader
# does not use it: it is slower than the hand-written checks above, which are the reference.


class _ResponseSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", title="TraceResponse")

    status: int = Field(ge=100, le=599, description="HTTP status Core answered with.")
    body: Any = Field(description="The response body in UCloud's JSON, or null.")
    why: str | None = Field(None, description="The reason, for a non-2xx status.")


class _JobFactsSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", title="TraceJobFacts")

    cause: Cause | None = Field(None, description="Why the job ended.")
    exitCode: int | None = Field(None, description="The process's exit code (only with cause 'exit').")
    runningMs: int | None = Field(None, ge=0, description="The job's true cumulative running time, ms.")
    coreState: JobState | None = Field(None, description="Core's state of the job after the call.")


class CallLineSchema(BaseModel):
    """One API call recorded at UCloud/Core: a line of a trace other than the catalog (JSON Schema mirror
    of :class:`CallLine`; ``seq`` increasing and ``time`` non-decreasing across lines are not expressible
    here)."""

    model_config = ConfigDict(
        extra="forbid",
        title="TraceCallLine",
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"call": {"enum": sorted(CORE_TO_PROVIDER_CALLS)}}},
                    "then": {"required": ["provider"], "properties": {"provider": {"type": "string"}}},
                    "else": {"properties": {"provider": {"type": "null"}}},
                }
            ]
        },
    )

    seq: int = Field(ge=0, description="Strictly increasing over the trace (gaps allowed).")
    time: int = Field(ge=0, description="ms when the receiver began handling the call; non-decreasing.")
    end: int | None = Field(None, ge=0, description="ms when the call was answered (>= time).")
    actor: str = Field(pattern=_ACTOR_RE.pattern.replace(r"\A", "^").replace(r"\Z", "$"))
    call: Literal[tuple(sorted(CALL_NAMES))]  # type: ignore[valid-type]
    provider: str | None = Field(None, min_length=1, description="Required on Core-to-provider calls.")
    request: Any = Field(description="The request in UCloud's JSON (see spec.wire.calls).")
    response: _ResponseSchema
    facts: dict[str, _JobFactsSchema] | None = Field(None, description="Ground truth by job id.")
