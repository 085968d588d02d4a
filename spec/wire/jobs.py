"""Jobs: what a user asks for, what Core stores, and what providers report.

Source: ``provider-integration/shared/pkg/orchestrators/jobs.go`` (reference §1, §2, §5).

A :class:`Job` is a resource with a :class:`JobSpecification` (what the user asked for), a
:class:`JobStatus` (its current :class:`JobState` and what Core resolved), the ordered list of
:class:`JobUpdate` s a provider sent, and a :class:`JobOutput`::

    >>> from spec.wire import JobState, JobUpdate, SimpleDuration
    >>> JobState.EXPIRED.is_final, JobState.SUSPENDED.is_final
    (True, False)
    >>> JobUpdate(state=JobState.RUNNING, status="Started").to_wire()
    {'state': 'RUNNING', 'status': 'Started', 'timestamp': 0}
    >>> SimpleDuration.from_millis(5_400_000)
    SimpleDuration(hours=1, minutes=30, seconds=0)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from spec.wire.applications import Application, AppParameterValue, NameAndVersion, ToolBackend
from spec.wire.base import GoList, GoMap, GoUnionVariant, WireModel
from spec.wire.products import ProductReference, ProductV2
from spec.wire.resources import Resource, ResourceOwner, ResourcePermissions
from spec.wire.support import ResolvedSupport

__all__ = [
    "FINAL_STATES",
    "InteractiveSessionType",
    "Job",
    "JobOutput",
    "JobSpecification",
    "JobState",
    "JobStatus",
    "JobUpdate",
    "JobsExtendRequestItem",
    "JobsOpenInteractiveSessionRequestItem",
    "JobsProviderExtendRequestItem",
    "JobsProviderFollowRequest",
    "JobsProviderOpenInteractiveSessionRequestItem",
    "JobsProviderSuspendRequestItem",
    "OpenSession",
    "OpenSessionShell",
    "OpenSessionVnc",
    "OpenSessionWeb",
    "OpenSessionWithProvider",
    "ResourceOwner",
    "ResourcePermissions",
    "SimpleDuration",
]


class JobState(StrEnum):
    """The state of a job (``orchestrators/jobs.go: JobState``; reference §2.1).

    Go has no CANCELING (legacy Kotlin did): cancellation ends in SUCCESS. SUSPENDED is only
    produced for suspendable (virtual-machine) backends.
    """

    IN_QUEUE = "IN_QUEUE"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    EXPIRED = "EXPIRED"
    SUSPENDED = "SUSPENDED"

    @property
    def is_final(self) -> bool:
        """Whether this state is terminal: SUCCESS, FAILURE or EXPIRED.

        Source: ``orchestrators/jobs.go: JobState, IsFinal`` (the same set in Kotlin ``Jobs.kt`` and the
        web client's ``isJobStateFinal``).
        """
        return self in FINAL_STATES


FINAL_STATES: frozenset[JobState] = frozenset({JobState.SUCCESS, JobState.FAILURE, JobState.EXPIRED})
"""The terminal states (``orchestrators/jobs.go: IsFinal``)."""


class SimpleDuration(WireModel):
    """A wall-time length ``{hours, minutes, seconds}`` (``orchestrators/applications.go: SimpleDuration``).

    Fields are not range-checked: whether a time allocation is acceptable (> 0 ms) is Core's rule.
    """

    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    def to_millis(self) -> int:
        """``h·3 600 000 + m·60 000 + s·1 000`` (``applications.go: SimpleDuration.ToMillis``)."""
        return self.hours * 3_600_000 + self.minutes * 60_000 + self.seconds * 1_000

    @classmethod
    def from_millis(cls, ms: int) -> SimpleDuration:
        """The normalised duration (minutes and seconds below 60) of exactly ``ms`` milliseconds.

        ``from_millis(d.to_millis()) == d`` for every normalised ``d`` (invariant S28). Raises
        ``ValueError`` if ``ms`` is negative or not a whole number of seconds, rather than round.
        UCloud's own conversion loses the seconds (see :meth:`from_millis_go`).

        >>> SimpleDuration.from_millis(3_723_000)
        SimpleDuration(hours=1, minutes=2, seconds=3)
        """
        if ms < 0:
            raise ValueError(f"a duration cannot be negative: {ms} ms")
        if ms % 1_000:
            raise ValueError(f"{ms} ms is not a whole number of seconds; round it first")
        hours, rest = divmod(ms, 3_600_000)
        minutes, rest = divmod(rest, 60_000)
        return cls(hours=hours, minutes=minutes, seconds=rest // 1_000)

    @classmethod
    def from_millis_go(cls, ms: int) -> SimpleDuration:
        """UCloud's ``SimpleDurationFromMillis`` exactly, bug included: the seconds are computed from
        the minutes and are almost always 0 (``orchestrators/applications.go``; reference §9.3 item 3).

        For the ``ucloud-current`` variant of the spec ("seconds dropped when a time allocation is
        extended"). Uses Go's truncating integer division.

        >>> SimpleDuration.from_millis_go(3_723_000)
        SimpleDuration(hours=1, minutes=2, seconds=0)
        """
        hour_ms, minute_ms = 3_600_000, 60_000
        hours = _go_div(ms, hour_ms)
        minutes = _go_div(_go_mod(ms, hour_ms), minute_ms)
        seconds = _go_div(_go_div(_go_mod(ms, hour_ms), minute_ms), 1_000)
        return cls(hours=hours, minutes=minutes, seconds=seconds)


def _go_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _go_mod(a: int, b: int) -> int:
    """Go's ``%`` (the sign follows the dividend)."""
    return a - b * _go_div(a, b)


class JobSpecification(WireModel):
    """What a user asks for (reference §1.3); the body of ``jobs.create`` items.

    Shape only: Core's rules (``replicas >= 1``, a known application, a positive time allocation,
    ``sshEnabled`` only if the application allows SSH, ...) are checked by the specification.
    ``resources`` holds extra values: ``file``, ``peer``, ``network``, ``ingress``, ``block_storage``,
    ``private_network``, ``api_server``.
    """

    product: ProductReference
    labels: GoMap[str, str] = Field(default_factory=dict)
    application: NameAndVersion
    name: str | None = None
    hostname: str | None = None
    replicas: int = 1
    allow_duplicate_job: bool = False
    parameters: GoMap[str, AppParameterValue] = Field(default_factory=dict)
    resources: GoList[AppParameterValue] = Field(default_factory=list)
    time_allocation: SimpleDuration | None = None
    opened_file: str | None = None
    restart_on_exit: bool | None = None
    ssh_enabled: bool | None = None


class JobUpdate(WireModel):
    """One update of a job, as a provider sends it through ``jobs.control.update`` (reference §1.5).

    Every field is optional. ``expectedState`` / ``expectedDifferentState`` are preconditions that
    make Core skip the update; ``newTimeAllocation`` is an absolute new total in milliseconds;
    ``resourceList`` (when present, even empty) replaces ``specification.resources``. ``timestamp`` is
    overwritten by Core with its own clock (providers send 0).
    """

    state: JobState | None = None
    output_folder: str | None = None
    status: str | None = None
    expected_state: JobState | None = None
    expected_different_state: bool | None = None
    new_time_allocation: int | None = None
    allow_restart: bool | None = None
    resource_list: list[AppParameterValue] | None = None
    timestamp: int = 0


class JobStatus(WireModel):
    """Core's view of a job (reference §1.4).

    ``state`` is the state of the last applied update that carried one (IN_QUEUE if none).
    ``jobParametersJson`` (Core's ``ExportedParameters`` snapshot) is kept as loose JSON; the resolved
    application, product and support are typed and present only when requested.
    """

    state: JobState
    job_parameters_json: dict[str, Any] | None = None
    started_at: int | None = None
    expires_at: int | None = None
    resolved_application: Application | None = None
    resolved_product: ProductV2 | None = None
    resolved_support: ResolvedSupport | None = None
    allow_restart: bool = False


class JobOutput(WireModel):
    """``{outputFolder?}``: where the job's output ended up."""

    output_folder: str | None = None


class Job(Resource):
    """A job as Core stores it and sends it to providers (``orchestrators/jobs.go: Job``).

    ``updates`` is in timestamp order. core2 creates jobs with ``updates == []`` (it does not keep the
    legacy promise of an initial IN_QUEUE update; reference §9.3 item 2).
    """

    updates: GoList[JobUpdate] = Field(default_factory=list)
    specification: JobSpecification
    status: JobStatus
    output: JobOutput = Field(default_factory=JobOutput)

    @property
    def state(self) -> JobState:
        """``status.state``."""
        return self.status.state

    @property
    def backend(self) -> ToolBackend | None:
        """The tool backend of the resolved application, when the payload carries it."""
        app = self.status.resolved_application
        return app.backend if app is not None else None


# --- request items of the job calls (reference §5.2, §5.3) ---------------------------------------


class JobsExtendRequestItem(WireModel):
    """``jobs.extend`` item: add ``requestedTime`` to a job's allocation."""

    job_id: str
    requested_time: SimpleDuration


class JobsProviderExtendRequestItem(WireModel):
    """``jobs.provider.extend`` item: the whole job and the time to *add* to its allocation."""

    job: Job
    requested_time: SimpleDuration


class JobsProviderSuspendRequestItem(WireModel):
    """``jobs.provider.suspend`` / ``unsuspend`` item: ``{job}``."""

    job: Job


class InteractiveSessionType(StrEnum):
    """The kind of interactive session a user opens; each needs the backend's feature of that name
    (``terminal`` for SHELL)."""

    WEB = "WEB"
    VNC = "VNC"
    SHELL = "SHELL"


class JobsOpenInteractiveSessionRequestItem(WireModel):
    """``jobs.interactiveSession`` item: ``{id, rank, sessionType, target?}``."""

    id: str
    rank: int = 0
    session_type: InteractiveSessionType
    target: str | None = None


class JobsProviderOpenInteractiveSessionRequestItem(WireModel):
    """``jobs.provider.interactiveSession`` item: ``{job, rank, sessionType, target?}``; ``rank`` is
    in ``[0, replicas)``."""

    job: Job
    rank: int = 0
    session_type: InteractiveSessionType
    target: str | None = None


# OpenSession is one Go struct discriminated by a lower-case `type` (reference §5.3).


class OpenSessionShell(GoUnionVariant):
    """A terminal session: the client connects with ``sessionIdentifier``."""

    type: Literal["shell"] = "shell"
    job_id: str
    rank: int = 0
    session_identifier: str
    domain_override: str | None = None


class OpenSessionWeb(GoUnionVariant):
    """A web session: the client is sent to ``redirectClientTo``."""

    type: Literal["web"] = "web"
    job_id: str
    rank: int = 0
    redirect_client_to: str
    domain_override: str | None = None


class OpenSessionVnc(GoUnionVariant):
    """A VNC session at ``url`` with an optional password."""

    type: Literal["vnc"] = "vnc"
    job_id: str
    rank: int = 0
    url: str
    password: str | None = None
    domain_override: str | None = None


OpenSession = Annotated[OpenSessionShell | OpenSessionWeb | OpenSessionVnc, Field(discriminator="type")]
"""What a provider answers for an interactive session."""


class OpenSessionWithProvider(WireModel):
    """What Core answers a user for an interactive session: the provider's domain and id, and the session."""

    provider_domain: str
    provider_id: str
    session: OpenSession


class JobsProviderFollowRequest(WireModel):
    """First message of ``jobs.provider.follow``: ``{"type": "init", "job": Job}`` (legacy providers also
    understand ``{"type": "cancel", "streamId"}``)."""

    type: Literal["init", "cancel"] = "init"
    job: Job | None = None
    stream_id: str | None = None
