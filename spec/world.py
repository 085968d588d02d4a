"""A world the transition system runs in: a catalog, the requests users may send, and the bounds.

The protocol is the same everywhere; a :class:`World` says *what exists*: which applications,
products, providers, bound resources and wallets (a :class:`~spec.catalog.Catalog` of UCloud wire
objects), which job requests users may send (:class:`RequestTemplate`, each a real
``JobSpecification``), and how much nondeterminism the untimed drivers may use.

Each request's static facts (backend, features, exclusive resources, allocation, charge) are
computed once, when the world is built, into a :class:`Template`, so the step function never
touches pydantic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from spec.actions import SESSION_FEATURES
from spec.catalog import Catalog, owner_key
from spec.rules import Config
from spec.validation import Busy, application_backend, referenced_resources, validate_submission
from spec.wire import JobSpecification, ToolBackend

if TYPE_CHECKING:
    from spec.state import SystemState


@dataclass(frozen=True)
class RequestTemplate:
    """A job request a user may send: who sends it, the ``JobSpecification``, and, when the
    provider would refuse it although Core accepts it, the provider's answer (status, reason)."""

    name: str
    user: str
    request: JobSpecification
    project: str | None = None
    provider_refusal: tuple[int, str] | None = None


@dataclass(frozen=True, slots=True)
class Template:
    """The static facts of one request, precomputed for the step function."""

    index: int
    name: str
    user: str
    project: str | None
    owner: str
    provider: str
    backend: str
    features: frozenset[str]
    replicas: int
    alloc_ms: int | None
    exclusive: tuple[str, ...]
    shared: tuple[str, ...]
    category: str
    provider_refusal: tuple[int, str] | None
    request: JobSpecification
    cpu: int
    price: int
    interval_ms: int
    peers: tuple[str, ...] = ()


_INTERVAL_MS = {"PERIODIC_MINUTE": 60_000, "PERIODIC_HOUR": 3_600_000, "PERIODIC_DAY": 86_400_000}


@dataclass
class World:
    """The static world and the bounds of the untimed drivers.

    ``vanish`` lets a workload's record disappear while its provider is down
    (:class:`spec.actions.Vanish`); off by default, so the default state spaces stay as they are.
    """

    catalog: Catalog
    requests: Sequence[RequestTemplate]
    providers: tuple[str, ...]
    reorder: bool = True
    extension_ms: int = 30 * 60_000 + 30_000
    max_suspends: int = 1
    sessions: bool = True
    session_kinds: tuple[str, ...] = tuple(SESSION_FEATURES)
    exit_codes: tuple[int, ...] = (0, 1)
    tick_ms: int = 30 * 60_000
    max_ticks: int = 1
    update_guards: bool = True
    accounting: bool = True
    impersonation: bool = True
    vanish: bool = False
    templates: tuple[Template, ...] = field(init=False)
    owners: tuple[str, ...] = field(init=False)
    _memo: dict[tuple[object, ...], tuple[int, str] | None] = field(init=False, default_factory=dict)
    static_verdicts: dict[int, object] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.templates = tuple(self._template(i, r) for i, r in enumerate(self.requests))
        self.owners = tuple(sorted({t.owner for t in self.templates}))

    def _template(self, index: int, r: RequestTemplate) -> Template:
        spec = r.request
        app = self.catalog.application(spec.application.name, spec.application.version)
        backend = application_backend(app) if app is not None else "NONE"
        support = self.catalog.support_for(spec.product)
        has_support = support is not None and app is not None
        features = support.backend_features(app.backend) if has_support else frozenset()  # type: ignore[union-attr]
        alloc = spec.time_allocation.to_millis() if spec.time_allocation is not None else None
        if backend == ToolBackend.VIRTUAL_MACHINE.value:
            alloc = None  # jobsValidateForSubmission clears the allocation of VM tools (§3.5 step 6)
        exclusive, shared = referenced_resources(spec)
        product = self.catalog.product(spec.product)
        cpu = product.cpu if product is not None and product.cpu else 1
        price = product.price if product is not None and product.price else 1
        freq = product.category.accounting_frequency.value if product is not None else "PERIODIC_MINUTE"
        return Template(
            index=index,
            name=r.name,
            user=r.user,
            project=r.project,
            owner=owner_key(r.user, r.project),
            provider=spec.product.provider,
            backend=backend,
            features=features,
            replicas=spec.replicas,
            alloc_ms=alloc,
            exclusive=exclusive,
            shared=shared,
            category=spec.product.category,
            provider_refusal=r.provider_refusal,
            request=spec,
            cpu=cpu,
            price=price,
            interval_ms=_INTERVAL_MS.get(freq, 60_000),
            peers=tuple(v.job_id for v in [*spec.parameters.values(), *spec.resources] if v.type == "peer"),
        )

    # -- what the step function asks of the world ---------------------------------------------------
    def validate(self, index: int, s: SystemState, cfg: Config) -> tuple[int, str] | None:
        """Core's validation of template ``index`` in state ``s``: ``(status, reason)`` or ``None``.

        Memoised on the only facts of ``s`` that validation reads: who holds the template's
        exclusive resources, and the states of the jobs it names as peers.
        """
        t = self.templates[index]
        holders = tuple(_holder(s, r, cfg) for r in t.exclusive)
        peers = tuple((job_id, _state_of(s, job_id)) for job_id in t.peers)
        key = (index, holders, peers, cfg)
        if key in self._memo:
            return self._memo[key]
        busy = Busy(holder=lambda k: _holder(s, k, cfg), job_state=lambda j: _state_of(s, j))
        refusal = validate_submission(t.request, t.user, t.project, self.catalog, busy, cfg)
        result = (refusal.status, refusal.why) if refusal is not None else None
        self._memo[key] = result
        return result

    def usage(self, index: int, ran_ms: int, ignore_replicas: bool = False) -> int:
        """The absolute usage a provider reports for ``ran_ms`` of RUNNING time.

        k8s monitoring.go: convertJobTimeToAccountingUnits: ``replicas x cpu x time units x price``
        (reference §4.3), truncated to an integer.
        """
        t = self.templates[index]
        replicas = 1 if ignore_replicas else t.replicas
        return replicas * t.cpu * t.price * ran_ms // t.interval_ms


def _holder(s: SystemState, key: str, cfg: Config) -> int | None:
    bound = s.bindings.get(key)
    if bound:
        return bound[0]
    if not cfg.check_then_bind:
        return s.reserved.get(key)
    return None


def _state_of(s: SystemState, job_id: str) -> str | None:
    try:
        job = s.jobs.get(int(job_id))
    except ValueError:
        return None
    return job.state if job is not None else None


def default_world(providers: int = 2, requests: Sequence[str] | None = None, **bounds: object) -> World:
    """A small, realistic world (see :mod:`spec.examples`): a Kubernetes-like provider ``k8s`` and,
    with ``providers=2``, a Slurm-like provider ``slurm``; ``requests`` picks request templates by
    name (default: all whose provider is in the world). ``bounds`` set the other :class:`World` fields.
    """
    from spec.examples import default_catalog, default_requests

    names = ("k8s", "slurm")[:providers]
    chosen = [r for r in default_requests() if r.request.product.provider in names]
    if requests is not None:
        unknown = set(requests) - {r.name for r in chosen}
        if unknown:
            raise ValueError(
                f"unknown request template(s) {sorted(unknown)}; known: {[r.name for r in chosen]}"
            )
        chosen = [r for r in chosen if r.name in requests]
    return World(catalog=default_catalog(), requests=chosen, providers=names, **bounds)  # type: ignore[arg-type]
