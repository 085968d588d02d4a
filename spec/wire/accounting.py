"""Wallets and usage reports.

Sources: ``provider-integration/shared/pkg/accounting/accounting.go`` (``WalletOwner``,
``ReportUsageRequest``) and ``core2/pkg/accounting/accounting_internal.go`` (reference §4.3, §8).

There is one wallet per owner (a user or a project) per product category. A provider charges by
reporting usage with ``accounting.reportUsage``; Core answers, per item, whether the wallet is still
unlocked. A wallet is *locked* when ``maxUsable <= 0``::

    >>> from spec.wire import ResourceOwner, wallet_owner_for
    >>> wallet_owner_for(ResourceOwner(created_by="alice", project="p-42")).to_wire()
    {'type': 'project', 'projectId': 'p-42'}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from spec.wire.base import GoUnionVariant, WireModel
from spec.wire.resources import ResourceOwner

__all__ = [
    "CategoryId",
    "ChargeDescription",
    "ReportUsageRequest",
    "Wallet",
    "WalletOwner",
    "WalletOwnerProject",
    "WalletOwnerUser",
    "wallet_owner_for",
]

# Go: `type WalletOwner struct {Type, Username, ProjectId}` written zero-filled, e.g.
# {"type": "user", "username": "alice", "projectId": ""} (accounting/accounting.go).


class WalletOwnerUser(GoUnionVariant):
    """A user's personal workspace."""

    type: Literal["user"] = "user"
    username: str


class WalletOwnerProject(GoUnionVariant):
    """A project."""

    type: Literal["project"] = "project"
    project_id: str


WalletOwner = Annotated[WalletOwnerUser | WalletOwnerProject, Field(discriminator="type")]
"""Who pays: ``{"type": "user", "username"}`` or ``{"type": "project", "projectId"}``."""


def wallet_owner_for(owner: ResourceOwner) -> WalletOwnerUser | WalletOwnerProject:
    """The wallet owner that pays for a resource: its project if it has one, else its creator
    (``ResourceOwnerToWalletOwner``)."""
    if owner.project:
        return WalletOwnerProject(project_id=owner.project)
    return WalletOwnerUser(username=owner.created_by)


class CategoryId(WireModel):
    """Names a product category: ``{name, provider}``. A full ``ProductCategory`` also parses (its
    other fields are kept)."""

    name: str
    provider: str


class Wallet(WireModel):
    """A wallet as a trace catalog lists it: ``{owner, paysFor, quota, maxUsable}``.

    ``maxUsable`` is what the owner can still spend (max flow through the allocation graph,
    ``accounting_internal.go: lInternalMaxUsable``). UCloud's ``WalletV2`` has more fields; they parse
    and are kept.
    """

    owner: WalletOwner
    pays_for: CategoryId
    quota: int
    max_usable: int

    @property
    def locked(self) -> bool:
        """Locked iff ``maxUsable <= 0`` (``accounting_internal.go: lInternalReevaluate``)."""
        return self.max_usable <= 0


class ChargeDescription(WireModel):
    """``{scope?, description?}``. Usage with a ``scope`` is tracked per (owner, scope); the K8s
    provider uses ``job-<jobId>``."""

    scope: str | None = None
    description: str | None = None


class ReportUsageRequest(WireModel):
    """One usage report (``accounting.go: ReportUsageRequest``; reference §4.3).

    With ``isDeltaCharge = false`` ``usage`` is the *absolute* total for the scope (re-sending it is
    idempotent); with ``true`` it is added. Negative deltas (refunds) are allowed.
    """

    is_delta_charge: bool
    owner: WalletOwner
    category_id_v2: CategoryId
    usage: int
    description: ChargeDescription = Field(default_factory=ChargeDescription)
