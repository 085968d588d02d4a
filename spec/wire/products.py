"""Products: the machine slices a job runs on, and how their use is measured and paid for.

Source: ``provider-integration/shared/pkg/accounting/products.go`` (reference §4.1).

A product belongs to a *category* at one provider; wallets and allocations exist per category, not per
product. A job names its product with a :class:`ProductReference` ``{id, category, provider}`` where
``id`` is the product's ``name``::

    >>> from spec.wire import AccountingFrequency, AccountingUnit, ProductCategory, ProductType, ProductV2
    >>> category = ProductCategory(
    ...     name="u1-standard", provider="k8s", product_type=ProductType.COMPUTE,
    ...     accounting_unit=AccountingUnit(name="Core", name_plural="Core hours"),
    ...     accounting_frequency=AccountingFrequency.PERIODIC_HOUR)
    >>> product = ProductV2(type="compute", category=category, name="u1-standard-4", price=4, cpu=4)
    >>> product.reference.to_wire()
    {'id': 'u1-standard-4', 'category': 'u1-standard', 'provider': 'k8s'}
    >>> product.product_type
    <ProductType.COMPUTE: 'COMPUTE'>
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import model_validator

from spec.wire.base import WireModel

__all__ = [
    "AccountingFrequency",
    "AccountingUnit",
    "Fraction",
    "Product",
    "ProductCategory",
    "ProductReference",
    "ProductType",
    "ProductTypeC",
    "ProductV2",
]


class ProductReference(WireModel):
    """Names a product: ``id`` is the product name, ``category`` its category's name.

    Core finds a product's support declaration by matching all three (``core2 features.go:
    SupportByProduct``).
    """

    id: str
    category: str
    provider: str


class ProductType(StrEnum):
    """What a product is for (``accounting/products.go: ProductType``)."""

    COMPUTE = "COMPUTE"
    STORAGE = "STORAGE"
    INGRESS = "INGRESS"
    LICENSE = "LICENSE"
    INFERENCE = "INFERENCE"
    NETWORK_IP = "NETWORK_IP"
    PRIVATE_NETWORK = "PRIVATE_NETWORK"


class ProductTypeC(StrEnum):
    """Lower-case mirror of :class:`ProductType`, written as ``ProductV2.type``
    (``accounting/products.go: ProductTypeC``)."""

    COMPUTE = "compute"
    STORAGE = "storage"
    INGRESS = "ingress"
    LICENSE = "license"
    INFERENCE = "inference"
    NETWORK_IP = "network_ip"
    PRIVATE_NETWORK = "private_network"

    @property
    def product_type(self) -> ProductType:
        """The upper-case :class:`ProductType` of the same kind."""
        return ProductType(self.value.upper())


class AccountingUnit(WireModel):
    """The unit usage is counted in, e.g. ``Core`` / ``Core hours``, or ``DKK``."""

    name: str
    name_plural: str
    floating_point: bool = False
    display_frequency_suffix: bool = False


class AccountingFrequency(StrEnum):
    """How often usage is charged. ``ONCE`` means capacity-based (e.g. a storage quota).

    ``accounting/products.go: AccountingFrequency, ToMinutes``.
    """

    ONCE = "ONCE"
    PERIODIC_MINUTE = "PERIODIC_MINUTE"
    PERIODIC_HOUR = "PERIODIC_HOUR"
    PERIODIC_DAY = "PERIODIC_DAY"

    def to_minutes(self) -> int:
        """Minutes per charged period: ONCE 1, PERIODIC_MINUTE 1, PERIODIC_HOUR 60, PERIODIC_DAY 1440."""
        return _MINUTES[self]

    @property
    def is_periodic(self) -> bool:
        """Whether usage accrues over time (every frequency except ``ONCE``)."""
        return self is not AccountingFrequency.ONCE


_MINUTES: dict[AccountingFrequency, int] = {
    AccountingFrequency.ONCE: 1,
    AccountingFrequency.PERIODIC_MINUTE: 1,
    AccountingFrequency.PERIODIC_HOUR: 60,
    AccountingFrequency.PERIODIC_DAY: 1440,
}


class ProductCategory(WireModel):
    """A group of products at one provider that share a unit, a frequency and wallets."""

    name: str
    provider: str
    product_type: ProductType
    accounting_unit: AccountingUnit
    accounting_frequency: AccountingFrequency
    free_to_use: bool = False
    allow_sub_allocations: bool = False


class Fraction(WireModel):
    """A fractional slice of a node: the charge is multiplied by ``numerator / denominator``."""

    numerator: int
    denominator: int


class ProductV2(WireModel):
    """A product (``accounting/products.go: ProductV2``); for compute, one machine slice.

    ``type`` (lower case, :class:`ProductTypeC`) and ``productType`` (upper case) say the same thing;
    Go writes both. When only one is given the other is derived; when they disagree parsing fails.
    ``price`` is an integer in the category's unit (for money units: millionths). The compute fields
    ``cpu``, ``memoryInGigs`` and ``gpu`` are ``omitempty`` in Go and read as 0 when absent.
    """

    type: ProductTypeC
    category: ProductCategory
    name: str
    description: str = ""
    product_type: ProductType
    price: int
    fraction: Fraction | None = None
    hidden_in_grant_applications: bool = False
    usage: int | None = None
    # compute only (omitempty in Go)
    cpu: int = 0
    cpu_model: str | None = None
    memory_in_gigs: int = 0
    memory_model: str | None = None
    gpu: int = 0
    gpu_model: str | None = None
    # accounting information, only when requested
    balance: int | None = None
    max_usable_balance: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _derive_missing_kind(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        kind_keys = ("type",)
        type_keys = ("productType", "product_type")
        has_kind = any(k in data for k in kind_keys)
        has_type = any(k in data for k in type_keys)
        if has_kind and not has_type and isinstance(data["type"], str):
            return {**data, "productType": str(data["type"]).upper()}
        if has_type and not has_kind:
            value = next(data[k] for k in type_keys if k in data)
            if isinstance(value, str):
                return {**data, "type": value.lower()}
        return data

    @model_validator(mode="after")
    def _kinds_agree(self) -> Self:
        if self.type.product_type is not self.product_type:
            raise ValueError(
                f"type {self.type.value!r} and productType {self.product_type.value!r} name different kinds"
            )
        return self

    @property
    def reference(self) -> ProductReference:
        """The :class:`ProductReference` a job uses to name this product."""
        return ProductReference(id=self.name, category=self.category.name, provider=self.category.provider)


Product = ProductV2
"""The current product model; ``Product`` is a short name for :class:`ProductV2`."""
