"""The resource base every job and bound resource shares, and the bound resources themselves.

Sources: ``orchestrators/resource.go`` (``Resource``, ``ResourceOwner``, ``ResourcePermissions``;
reference §1.1) and ``ingresses.go``, ``public_ips.go``, ``licenses.go`` (reference §6.3).

A *bound* resource (a public link, a public IP, a license) has its own life cycle and is attached to a
job while the job runs. Its ``status.boundTo`` lists the jobs it is bound to; core2 overwrites it with
``[jobId]`` on bind and removes the job on unbind (``ingress.go: IngressBind``, ``public_ip.go:
PublicIpBind``, ``license.go: LicenseBind``)::

    >>> from spec.wire import Ingress
    >>> link = Ingress.model_validate({
    ...     "id": "55", "createdAt": 1633329000000, "owner": {"createdBy": "user"},
    ...     "specification": {"domain": "app-user.cloud.example.org",
    ...                       "product": {"id": "public-link", "category": "public-link", "provider": "k8s"}},
    ...     "status": {"boundTo": [], "state": "READY"}})
    >>> link.status.state, link.status.bound_to
    (<BoundResourceState.READY: 'READY'>, [])
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from spec.wire.base import GoList, GoMap, WireModel
from spec.wire.products import ProductReference

__all__ = [
    "RESOURCE_TYPES",
    "BoundResourceState",
    "BoundResourceStatus",
    "Ingress",
    "IngressSpecification",
    "License",
    "LicenseSpecification",
    "Permission",
    "PublicIP",
    "PublicIPSpecification",
    "PublicIPStatus",
    "Resource",
    "ResourceAclEntry",
    "ResourceOwner",
    "ResourcePermissions",
]


class Permission(StrEnum):
    """What an actor may do with a resource (``resource.go: Permission``). Changing a job needs EDIT."""

    READ = "READ"
    EDIT = "EDIT"
    ADMIN = "ADMIN"
    PROVIDER = "PROVIDER"


class ResourceOwner(WireModel):
    """Who owns a resource: the creating user and, when created in a project, the project.

    The workspace that pays is the project if present, else the user's personal workspace.
    """

    created_by: str
    project: str | None = None


class ResourceAclEntry(WireModel):
    """One ACL entry: an entity (user or project group, kept as given) and its permissions."""

    entity: dict[str, Any]
    permissions: GoList[Permission] = Field(default_factory=list)


class ResourcePermissions(WireModel):
    """The caller's permissions (``myself``) and, with ``includeOthers``, everyone else's."""

    myself: GoList[Permission] = Field(default_factory=list)
    others: list[ResourceAclEntry] | None = None


class Resource(WireModel):
    """Fields every UCloud resource has (``orchestrators/resource.go: Resource``).

    ``id`` is Core's numeric id as a string (never ``"0"``); ``createdAt`` is milliseconds since the
    epoch; ``providerGeneratedId`` is the id a provider returned from ``create``, unique per provider.
    """

    id: str
    created_at: int
    owner: ResourceOwner
    permissions: ResourcePermissions | None = None
    provider_generated_id: str | None = None


class BoundResourceState(StrEnum):
    """State of a bound resource. Core does not check READY when a job uses one (reference §3.5)."""

    PREPARING = "PREPARING"
    READY = "READY"
    UNAVAILABLE = "UNAVAILABLE"


class BoundResourceStatus(WireModel):
    """``{boundTo: [jobId...], state}``."""

    bound_to: GoList[str] = Field(default_factory=list)
    state: BoundResourceState


class IngressSpecification(WireModel):
    """A public link: a domain name at a provider."""

    domain: str
    product: ProductReference
    labels: GoMap[str, str] | None = None


class Ingress(Resource):
    """A public link (``ingresses.go: Ingress``); exclusive: a job may not use one bound elsewhere."""

    specification: IngressSpecification
    status: BoundResourceStatus
    updates: GoList[dict[str, Any]] = Field(default_factory=list)


class PublicIPSpecification(WireModel):
    """A public IP address, optionally with firewall rules (kept as given)."""

    product: ProductReference
    firewall: dict[str, Any] | None = None
    labels: GoMap[str, str] | None = None


class PublicIPStatus(BoundResourceStatus):
    """Adds the address, once the provider has assigned one."""

    ip_address: str | None = None


class PublicIP(Resource):
    """A public IP (``public_ips.go: PublicIp``; value type ``network``); exclusive like an ingress."""

    specification: PublicIPSpecification
    status: PublicIPStatus
    updates: GoList[dict[str, Any]] = Field(default_factory=list)


class LicenseSpecification(WireModel):
    """A software license at a provider."""

    product: ProductReference
    labels: GoMap[str, str] | None = None


class License(Resource):
    """A software license (``licenses.go: License``); *not* exclusive: core2 has no check."""

    specification: LicenseSpecification
    status: BoundResourceStatus
    updates: GoList[dict[str, Any]] = Field(default_factory=list)


RESOURCE_TYPES: dict[str, type[Ingress] | type[PublicIP] | type[License]] = {
    "ingress": Ingress,
    "network_ip": PublicIP,
    "license": License,
}
"""Bound-resource model by the ``type`` tag a trace catalog puts on each resource entry
(DESIGN "The trace format": ``{"type": "ingress" | "network_ip" | "license", ...UCloud JSON}``)."""
