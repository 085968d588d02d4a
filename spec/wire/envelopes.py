"""UCloud's generic request and response envelopes.

Source: ``provider-integration/shared/pkg/foundation/core.go`` (``BulkRequest``, ``BulkResponse``,
``FindByStringId``, ``PageV2``) and ``orchestrators/resource.go`` (``ResourceUpdateAndId``).

Almost every call is a *bulk* call: the request carries ``items`` and the response one entry of
``responses`` per item, in the same order::

    >>> from spec.wire import BulkRequest, FindByStringId
    >>> BulkRequest[FindByStringId](items=[FindByStringId(id="7")]).to_wire()
    {'items': [{'id': '7'}]}
"""

from __future__ import annotations

from typing import Generic, TypeVar

from spec.wire.base import GoList, WireModel

__all__ = ["BulkRequest", "BulkResponse", "Empty", "FindByStringId", "PageV2", "ResourceUpdateAndId"]

T = TypeVar("T")
U = TypeVar("U")


class BulkRequest(WireModel, Generic[T]):
    """``{"items": [T, ...]}``: one request carrying several items (``foundation/core.go: BulkRequest``)."""

    items: GoList[T]


class BulkResponse(WireModel, Generic[T]):
    """``{"responses": [T, ...]}``: one answer per request item, in order (``foundation/core.go: BulkResponse``)."""

    responses: GoList[T]


class FindByStringId(WireModel):
    """``{"id": "..."}``: names one resource, e.g. a job (``foundation/core.go: FindByStringId``)."""

    id: str


class ResourceUpdateAndId(WireModel, Generic[U]):
    """``{"id": jobId, "update": U}``: one update of one resource (``orchestrators/resource.go``).

    ``jobs.control.update`` sends a ``BulkRequest`` of these with ``U = JobUpdate``.
    """

    id: str
    update: U


class PageV2(WireModel, Generic[T]):
    """One page of a browse: ``{"items": [...], "next": token or null, "itemsPerPage": n}``."""

    items: GoList[T]
    items_per_page: int = 0
    next: str | None = None


class Empty(WireModel):
    """UCloud's empty object ``{}`` (Go ``util.Empty``; Kotlin ``Unit``), e.g. the body of a
    successful ``jobs.control.update`` or one entry of the ``BulkResponse`` of ``jobs.terminate``."""
