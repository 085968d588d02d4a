"""What a provider declares it supports, per product and tool backend (its "manifest").

Source: ``orchestrators/jobs.go: JobSupport, UniversalBackendSupport`` and, for the feature keys Core
derives from it, ``core2/pkg/orchestrator/job_features.go`` (reference §5.5).

A provider answers ``jobs.provider.retrieveProducts`` with one :class:`JobSupport` per compute
product. Core flattens each into *feature keys* such as ``jobs.docker.enabled`` and gates requests on
them (a missing feature is a 400)::

    >>> from spec.wire import JobSupport, ProductReference, ToolBackend
    >>> support = JobSupport.model_validate({
    ...     "product": {"id": "u1-standard-4", "category": "u1-standard", "provider": "k8s"},
    ...     "docker": {"enabled": True, "logs": True, "timeExtension": True}})
    >>> sorted(support.features())
    ['jobs.docker.enabled', 'jobs.docker.extension', 'jobs.docker.logs']
    >>> support.supports(ToolBackend.DOCKER, "extension"), support.supports(ToolBackend.VIRTUAL_MACHINE, "enabled")
    (True, False)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_serializer
from pydantic.functional_serializers import SerializerFunctionWrapHandler

from spec.wire.applications import ToolBackend
from spec.wire.base import GoList, WireModel
from spec.wire.products import ProductReference, ProductV2

__all__ = [
    "BACKEND_FEATURES",
    "JobQueueStatus",
    "JobSupport",
    "ResolvedSupport",
    "UniversalBackendSupport",
    "VirtualMachineSupport",
    "feature_key",
]


class UniversalBackendSupport(WireModel):
    """The flags a provider declares for one tool backend (all default to ``False``).

    In Go every flag is ``omitempty``, so only the ``true`` ones are written; :meth:`to_wire` does the
    same. ``timeExtension`` becomes the feature key ``...extension``.
    """

    enabled: bool = False
    web: bool = False
    vnc: bool = False
    logs: bool = False
    terminal: bool = False
    peers: bool = False
    time_extension: bool = False
    bind_link_to_port: bool = False

    @model_serializer(mode="wrap")
    def _omit_false(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Go: `json:"enabled,omitempty"` etc. (orchestrators/jobs.go: UniversalBackendSupport)
        return {key: value for key, value in handler(self).items() if value is not False}


class VirtualMachineSupport(UniversalBackendSupport):
    """The virtual-machine block adds ``suspension`` (the provider can suspend and resume a VM)."""

    suspension: bool = False


class JobQueueStatus(StrEnum):
    """Optional hint of how busy the provider's queue for this product is."""

    AVAILABLE = "AVAILABLE"
    BUSY = "BUSY"
    FULL = "FULL"


def _nil_as_default(value: Any) -> Any:
    return {} if value is None else value


_Universal = Annotated[
    UniversalBackendSupport,
    BeforeValidator(_nil_as_default, json_schema_input_type=UniversalBackendSupport | None),
]
_Vm = Annotated[
    VirtualMachineSupport,
    BeforeValidator(_nil_as_default, json_schema_input_type=VirtualMachineSupport | None),
]

# (ToolBackend, the JobSupport attribute, the feature-key prefix), from core2 job_features.go
_BACKENDS: tuple[tuple[ToolBackend, str, str], ...] = (
    (ToolBackend.DOCKER, "docker", "jobs.docker"),
    (ToolBackend.VIRTUAL_MACHINE, "virtual_machine", "jobs.vm"),
    (ToolBackend.NATIVE, "native", "jobs.native"),
)

# feature name (the last part of a core2 feature key) -> UniversalBackendSupport attribute
_FEATURE_FIELDS: dict[str, str] = {
    "enabled": "enabled",
    "web": "web",
    "vnc": "vnc",
    "logs": "logs",
    "terminal": "terminal",
    "peers": "peers",
    "extension": "time_extension",
    "bindLinkToPort": "bind_link_to_port",
}

BACKEND_FEATURES: dict[ToolBackend, frozenset[str]] = {
    ToolBackend.DOCKER: frozenset(_FEATURE_FIELDS),
    ToolBackend.NATIVE: frozenset(_FEATURE_FIELDS),
    ToolBackend.VIRTUAL_MACHINE: frozenset(_FEATURE_FIELDS) | {"suspension"},
}
"""The feature names core2 knows per backend (``job_features.go``). SINGULARITY and UCX have none:
Core refuses their applications with 400 "the application is not supported on this machine type"."""


def feature_key(backend: ToolBackend, feature: str) -> str | None:
    """The core2 feature key for ``feature`` of ``backend``, or ``None`` if Core has no such key.

    ``feature`` is the last part of the key: ``enabled``, ``web``, ``vnc``, ``logs``, ``terminal``,
    ``peers``, ``extension``, ``bindLinkToPort`` or (virtual machines only) ``suspension``.

    >>> feature_key(ToolBackend.VIRTUAL_MACHINE, "extension")
    'jobs.vm.extension'
    >>> feature_key(ToolBackend.SINGULARITY, "enabled") is None
    True
    """
    if feature not in BACKEND_FEATURES.get(backend, frozenset()):
        return None
    prefix = next(prefix for b, _, prefix in _BACKENDS if b is backend)
    return f"{prefix}.{feature}"


class JobSupport(WireModel):
    """A provider's support declaration for one compute product (``orchestrators/jobs.go: JobSupport``).

    One block per backend Core knows (``docker``, ``virtualMachine``, ``native``); a block that is
    absent or ``null`` declares nothing.
    """

    product: ProductReference
    docker: _Universal = Field(default_factory=UniversalBackendSupport)
    virtual_machine: _Vm = Field(default_factory=VirtualMachineSupport)
    native: _Universal = Field(default_factory=UniversalBackendSupport)
    queue_status: JobQueueStatus | None = None

    def backend_support(self, backend: ToolBackend) -> UniversalBackendSupport | None:
        """The block that applies to ``backend``; ``None`` for SINGULARITY and UCX, which Core never
        supports (``core2 job.go: jobsValidateForSubmission``)."""
        for b, attribute, _ in _BACKENDS:
            if b is backend:
                block: UniversalBackendSupport = getattr(self, attribute)
                return block
        return None

    def backend_features(self, backend: ToolBackend | None) -> frozenset[str]:
        """The feature names declared ``true`` for ``backend`` (``enabled``, ``peers``, ``extension``,
        ...; the last part of core2's feature keys). Empty for backends Core does not know."""
        block = self.backend_support(backend) if backend is not None else None
        if block is None:
            return frozenset()
        return frozenset(f for f in BACKEND_FEATURES[backend] if getattr(block, _FEATURE_FIELDS.get(f, f)))  # type: ignore[index]

    def features(self) -> frozenset[str]:
        """The feature keys Core derives from this declaration (``core2 job_features.go``).

        A key is present iff its boolean leaf is ``true``, independently of ``enabled`` (core2
        flattens every leaf on its own; the legacy rule "other flags are ignored if ``enabled`` is
        false" is not applied here). ``timeExtension`` maps to ``...extension``.
        """
        return frozenset(
            f"{prefix}.{feature}"
            for backend, _, prefix in _BACKENDS
            for feature in self.backend_features(backend)
        )

    def supports(self, backend: ToolBackend, feature: str) -> bool:
        """Whether Core would find ``feature`` (e.g. ``"peers"``) supported for ``backend``."""
        key = feature_key(backend, feature)
        return key is not None and key in self.features()


class ResolvedSupport(WireModel):
    """A product with its support, as Core hands it out: ``{product, support, features}``
    (``core2 features.go``; ``features`` are the sorted feature keys)."""

    product: ProductV2
    support: JobSupport
    features: GoList[str] = Field(default_factory=list)
