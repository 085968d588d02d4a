"""The API calls that may appear in a trace, who makes them, and their wire shapes.

One registry (``CALLS``) names every call of the trace format (see ``docs/architecture.md`` and
DESIGN "The trace format"). The trace reader refuses any other call name; the trace checker and the
simulator look up the request and response models here.

Sources: reference ``ucloud-jobs.md`` §5.2 (end-user API), §5.3 (provider API), §5.4 (control API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from spec.wire.accounting import ReportUsageRequest
from spec.wire.envelopes import BulkRequest, BulkResponse, Empty, FindByStringId, ResourceUpdateAndId
from spec.wire.jobs import (
    Job,
    JobsExtendRequestItem,
    JobsOpenInteractiveSessionRequestItem,
    JobSpecification,
    JobsProviderExtendRequestItem,
    JobsProviderFollowRequest,
    JobsProviderOpenInteractiveSessionRequestItem,
    JobsProviderSuspendRequestItem,
    JobUpdate,
    OpenSession,
    OpenSessionWithProvider,
)

CallerKind = Literal["user", "ucloud", "provider"]


@dataclass(frozen=True, slots=True)
class CallSpec:
    """One API call: its trace name, the kind of actor that makes it and its wire models.

    ``request_model`` / ``response_model`` are pydantic ``TypeAdapter``-able types (``None`` where the
    body is not modelled). ``response_model`` describes the body of a successful (2xx) answer; an
    error body is UCloud's error JSON, and a trace may record an empty body as ``null``.
    """

    name: str
    caller: CallerKind
    request_model: Any = None
    response_model: Any = None


_JobIds = BulkRequest[FindByStringId]
_Empties = BulkResponse[Empty]

CALLS: dict[str, CallSpec] = {
    spec.name: spec
    for spec in (
        # user -> Core (reference §5.2; core2 job.go)
        CallSpec("jobs.create", "user", BulkRequest[JobSpecification], BulkResponse[FindByStringId]),
        CallSpec("jobs.terminate", "user", _JobIds, _Empties),
        CallSpec("jobs.suspend", "user", _JobIds, _Empties),
        CallSpec("jobs.unsuspend", "user", _JobIds, _Empties),
        CallSpec("jobs.extend", "user", BulkRequest[JobsExtendRequestItem], _Empties),
        # a WebSocket stream of JobsFollowMessage; its messages are not modelled in a trace line
        CallSpec("jobs.follow", "user", FindByStringId, None),
        CallSpec(
            "jobs.interactiveSession",
            "user",
            BulkRequest[JobsOpenInteractiveSessionRequestItem],
            BulkResponse[OpenSessionWithProvider],
        ),
        # Core -> provider (reference §5.3); the response of create carries the provider's own id,
        # or null / an empty id when it has none
        CallSpec("jobs.provider.create", "ucloud", BulkRequest[Job], BulkResponse[FindByStringId | None]),
        CallSpec("jobs.provider.terminate", "ucloud", BulkRequest[Job], _Empties),
        CallSpec("jobs.provider.extend", "ucloud", BulkRequest[JobsProviderExtendRequestItem], _Empties),
        CallSpec("jobs.provider.suspend", "ucloud", BulkRequest[JobsProviderSuspendRequestItem], _Empties),
        CallSpec("jobs.provider.unsuspend", "ucloud", BulkRequest[JobsProviderSuspendRequestItem], _Empties),
        CallSpec("jobs.provider.follow", "ucloud", JobsProviderFollowRequest, None),
        CallSpec(
            "jobs.provider.interactiveSession",
            "ucloud",
            BulkRequest[JobsProviderOpenInteractiveSessionRequestItem],
            BulkResponse[OpenSession],
        ),
        # provider -> Core (reference §5.4, §4.3)
        CallSpec("jobs.control.update", "provider", BulkRequest[ResourceUpdateAndId[JobUpdate]], Empty),
        CallSpec("accounting.reportUsage", "provider", BulkRequest[ReportUsageRequest], BulkResponse[bool]),
    )
}
"""Every call of the trace format by name. The names and callers are fixed by the trace format."""

CALL_NAMES: frozenset[str] = frozenset(CALLS)
