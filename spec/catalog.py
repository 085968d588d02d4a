"""The static world Core validates against: applications, products, support, resources, wallets.

A :class:`Catalog` indexes UCloud wire objects (:mod:`spec.wire`) for the lookups that Core's
rules make (reference §3.5, §5.5, §6, §8.3). The same catalog serves the transition system and the
trace checker, which builds one from a trace's catalog line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from spec.wire import (
    Application,
    Ingress,
    JobSupport,
    License,
    ProductReference,
    ProductV2,
    PublicIP,
    Wallet,
)

# Keys for bound resources in the state's binding table: "<kind>:<id>", kind as in the value types.
INGRESS = "ingress"
NETWORK = "network"
LICENSE = "license_server"
EXCLUSIVE_KINDS = frozenset({INGRESS, NETWORK})


def resource_key(kind: str, rid: str) -> str:
    """The binding-table key of a resource: ``resource_key("ingress", "55") == "ingress:55"``."""
    return f"{kind}:{rid}"


def owner_key(username: str, project: str | None) -> str:
    """The workspace that pays for a job: ``project:<id>`` if it runs in a project, else ``user:<name>``
    (``ResourceOwnerToWalletOwner``, reference §4.3)."""
    return f"project:{project}" if project else f"user:{username}"


@dataclass(frozen=True)
class Drive:
    """A drive a job may mount, with the users who may read it and those who may edit it."""

    id: str
    readers: frozenset[str] = frozenset()
    editors: frozenset[str] = frozenset()


@dataclass
class Catalog:
    """Indexes over the static world. Build it with :meth:`build`."""

    applications: dict[tuple[str, str], Application] = field(default_factory=dict)
    products: dict[tuple[str, str, str], ProductV2] = field(default_factory=dict)
    support: dict[tuple[str, str, str], JobSupport] = field(default_factory=dict)
    resources: dict[str, Ingress | PublicIP | License] = field(default_factory=dict)
    wallets: dict[tuple[str, str, str], Wallet] = field(default_factory=dict)
    drives: dict[str, Drive] | None = None

    @classmethod
    def build(
        cls,
        applications: Iterable[Application] = (),
        products: Iterable[ProductV2] = (),
        support: Iterable[JobSupport] = (),
        ingresses: Iterable[Ingress] = (),
        public_ips: Iterable[PublicIP] = (),
        licenses: Iterable[License] = (),
        wallets: Iterable[Wallet] = (),
        drives: Iterable[Drive] | None = None,
    ) -> Catalog:
        """Index wire objects. ``drives=None`` means file permissions are unknown (not checked)."""
        c = cls()
        for app in applications:
            c.applications[(app.metadata.name, app.metadata.version)] = app
        for p in products:
            c.products[_ref_key(p.reference)] = p
        for s in support:
            c.support[_ref_key(s.product)] = s
        for kind, items in ((INGRESS, ingresses), (NETWORK, public_ips), (LICENSE, licenses)):
            for r in items:
                c.resources[resource_key(kind, r.id)] = r
        for w in wallets:
            owner = w.owner
            key = f"project:{owner.project_id}" if owner.type == "project" else f"user:{owner.username}"
            c.wallets[(key, w.pays_for.name, w.pays_for.provider)] = w
        if drives is not None:
            c.drives = {d.id: d for d in drives}
        return c

    def application(self, name: str, version: str) -> Application | None:
        return self.applications.get((name, version))

    def product(self, ref: ProductReference) -> ProductV2 | None:
        return self.products.get(_ref_key(ref))

    def support_for(self, ref: ProductReference) -> JobSupport | None:
        """``features.go: SupportByProduct``: the support a provider declared for this product."""
        return self.support.get(_ref_key(ref))

    def wallet(self, owner: str, category: str, provider: str) -> Wallet | None:
        return self.wallets.get((owner, category, provider))

    def has_allocation(self, owner: str, ref: ProductReference) -> bool:
        """The allocation gate (``resources_allocations.go: ResourceValidateAllocation``, §8.3).

        The workspace needs a wallet for the product's (category, provider); for a free-to-use
        category, any wallet at that provider will do. Core does not check the balance here.
        """
        if (owner, ref.category, ref.provider) in self.wallets:
            return True
        product = self.product(ref)
        if product is not None and product.category.free_to_use:
            return any(o == owner and p == ref.provider for (o, _, p) in self.wallets)
        return False

    def may_edit(self, resource_key_: str, username: str, project: str | None) -> bool:
        """Whether the submitter has EDIT on a bound resource: it lives in the same workspace.

        (Core derives EDIT from ownership and ACLs, ``resources.go: resourcesReadEx``; the catalog
        carries no ACLs, so ownership decides.)
        """
        r = self.resources.get(resource_key_)
        if r is None:
            return False
        if r.owner.project:
            return r.owner.project == project
        return r.owner.created_by == username and not project


def _ref_key(ref: ProductReference) -> tuple[str, str, str]:
    return (ref.provider, ref.category, ref.id)
