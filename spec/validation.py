"""Core's validation of a job request, in UCloud's order, with UCloud's status codes and reasons.

:func:`validate_submission` follows ``core2/pkg/orchestrator/job.go``: ``JobsCreate`` ->
``JobCreate`` -> ``jobsValidateForSubmission`` + ``jobValidateValue``, then the allocation gate of
``jobCreateThroughProvider`` (reference §3.5, §8.3). Rules run in the numbered order of §3.5; the
first rule that fails decides the status and the reason, and the reason names the field
(:class:`Refusal`). A refused request creates nothing.

Validation depends on the state in two places only: whether an exclusive resource is bound to
another job, and whether a peer job is RUNNING. Callers pass both as a :class:`Busy` view.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from spec.catalog import INGRESS, LICENSE, NETWORK, Catalog, owner_key, resource_key
from spec.rules import DEFAULT, Config
from spec.wire import (
    Application,
    ApplicationParameter,
    AppParameterValue,
    JobSpecification,
    SshMode,
    ToolBackend,
    value_type_for_parameter,
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Core's answer to a request it refuses: an HTTP status, UCloud's reason, and the field."""

    status: int
    why: str
    field: str

    def __str__(self) -> str:
        return f"{self.status} {self.why} (at {self.field})"


@dataclass(frozen=True, slots=True)
class Busy:
    """The two facts of the current state that validation reads.

    ``holder(key)`` is the job id holding an exclusive resource (``"ingress:55"``), or ``None``;
    ``job_state(job_id)`` is Core's state of a job, or ``None`` if there is no such job.
    """

    holder: Callable[[str], int | None] = lambda key: None
    job_state: Callable[[str], str | None] = lambda job_id: None


NOTHING_BUSY = Busy()

# ValidateExplicitFileMountPaths (orchestrators/mount_paths): reserved mount points.
_RESERVED_MOUNTS = ("/etc/ucloud", "/opt/ucloud")
_WORK = "/work"


def validate_submission(
    spec: JobSpecification,
    username: str,
    project: str | None,
    catalog: Catalog,
    busy: Busy = NOTHING_BUSY,
    cfg: Config = DEFAULT,
) -> Refusal | None:
    """Validate one ``jobs.create`` item as Core does; ``None`` means accepted.

    >>> from spec.world import default_world
    >>> w = default_world()
    >>> validate_submission(w.templates[0].request, "alice", None, w.catalog) is None
    True
    """
    # 1. jobs.create refuses syncthing (it is started by its own endpoint).
    if spec.application.name == "syncthing":
        return Refusal(400, "syncthing cannot be started through this endpoint", "application.name")
    # 2. The application must resolve.
    app = catalog.application(spec.application.name, spec.application.version)
    if app is None:
        return Refusal(400, "unknown application requested", "application")
    # 3. The product must have support registered by its provider (features.go: SupportByProduct).
    if not spec.product.id or not spec.product.provider:
        return Refusal(400, "resource does not specify a product", "product")
    support = catalog.support_for(spec.product)
    if support is None:
        return Refusal(400, "bad machine type requested", "product")
    # 4. Explicit file mount paths (ValidateExplicitFileMountPaths).
    refusal = _check_mount_paths(spec)
    if refusal is not None:
        return refusal
    # 5. The tool backend must be enabled in the product's support.
    backend = app.backend
    # Features Core knows for the backend (job_features.go); SINGULARITY and UCX have none (§3.1).
    features = support.backend_features(backend)
    if "enabled" not in features and not cfg.m_no_backend_check:
        return Refusal(400, "the application is not supported on this machine type", "application")
    # 6. The time allocation: cleared for virtual machines, otherwise > 0 ms if present.
    allocation = spec.time_allocation if backend != ToolBackend.VIRTUAL_MACHINE else None
    if allocation is not None and allocation.to_millis() <= 0:
        return Refusal(400, "time allocated for job is too short", "timeAllocation")
    # 7. SSH only if the application allows it.
    if spec.ssh_enabled and app.ssh_mode == SshMode.DISABLED:
        return Refusal(400, "this application does not support SSH", "sshEnabled")
    # 8. At least one node.
    if spec.replicas <= 0 and not cfg.m_no_replicas_check:
        return Refusal(400, "you must request at least 1 node", "replicas")
    # 9. The parameter catalogue: the application's parameters and every workflow value's inputs.
    params: dict[str, ApplicationParameter] = {p.name: p for p in app.invocation.parameters}
    for value in spec.parameters.values():
        if value.type == "workflow":
            for p in value.specification.inputs:
                params.setdefault(p.name, p)

    def check_value(value: AppParameterValue, where: str) -> Refusal | None:
        return _validate_value(value, where, username, project, catalog, busy, features, cfg)

    # 10. Every resource.
    for i, value in enumerate(spec.resources):
        refusal = check_value(value, f"resources[{i}]")
        if refusal is not None:
            return refusal
    # 11-12. Every supplied parameter (dynamic parameters are not modelled: unknown names are refused).
    for name, value in spec.parameters.items():
        where = f"parameters.{name}"
        if value.type == "api_server":
            return Refusal(400, "api_server values must be supplied as resources", where)
        refusal = check_value(value, where)
        if refusal is not None:
            return refusal
        if name.startswith("_injected_"):
            continue
        param = params.get(name)
        if param is None:
            return Refusal(400, "unknown parameter supplied", where)
        if value.type not in value_type_for_parameter(param.type) and not cfg.m_no_parameter_check:
            return Refusal(400, "incorrect parameter type", where)
        if value.type == "ingress" and value.port != 0 and "bindLinkToPort" not in features:
            return Refusal(
                400, f"'{name}' has a port specified, but this is not supported by the provider", where
            )
    # 13. Every required parameter is present.
    for name, param in params.items():
        if param.required and name not in spec.parameters:
            return Refusal(400, f"missing value for '{name}'", f"parameters.{name}")
    # The allocation gate (jobCreateThroughProvider -> ResourceValidateAllocation): 402.
    if not cfg.m_no_allocation_gate and not catalog.has_allocation(
        owner_key(username, project), spec.product
    ):
        return Refusal(402, f"You do not have any valid allocations for '{spec.product.category}'", "product")
    return None


def _check_mount_paths(spec: JobSpecification) -> Refusal | None:
    seen: dict[str, str] = {}
    values = [(f"parameters.{k}", v) for k, v in spec.parameters.items()]
    values += [(f"resources[{i}]", v) for i, v in enumerate(spec.resources)]
    for where, value in values:
        if value.type != "file" or not (value.mount_path or "").strip():
            continue
        raw = value.mount_path.strip()  # type: ignore[union-attr]
        cleaned = posixpath.normpath(raw)
        field = f"{where}.mountPath"
        if not cleaned.startswith("/"):
            return Refusal(400, f"mount path '{raw}' must be absolute", field)
        if cleaned in _RESERVED_MOUNTS or cleaned == _WORK or cleaned.startswith(_WORK + "/"):
            return Refusal(400, f"mount path '{raw}' is reserved", field)
        other = seen.get(cleaned)
        if other is not None and other != value.path:
            return Refusal(400, f"two files cannot share the mount path '{raw}'", field)
        seen[cleaned] = value.path
    return None


def _validate_value(
    value: AppParameterValue,
    where: str,
    username: str,
    project: str | None,
    catalog: Catalog,
    busy: Busy,
    features: frozenset[str],
    cfg: Config,
) -> Refusal | None:
    """``job.go: jobValidateValue`` for one value (reference §3.5, after the numbered list)."""
    kind = value.type
    if kind == "file":
        parts = value.path.split("/")
        if len(parts) < 2 or parts[0] != "" or not parts[1]:
            return Refusal(400, "unknown file or permission denied", f"{where}.path")
        if catalog.drives is not None:
            drive = catalog.drives.get(parts[1])
            if drive is None or username not in drive.readers | drive.editors:
                return Refusal(400, "unknown file or permission denied", f"{where}.path")
        return None
    if kind == "peer":
        if "peers" not in features:
            return Refusal(400, "connection to other jobs is not supported by this provider", where)
        if busy.job_state(value.job_id) != "RUNNING":
            return Refusal(400, f"job with hostname '{value.hostname}' is not running", f"{where}.jobId")
        return None
    if kind in (NETWORK, INGRESS, LICENSE):
        key = resource_key(kind, value.id)
        what = {NETWORK: "IP address", INGRESS: "link", LICENSE: "license"}[kind]
        if not catalog.may_edit(key, username, project):
            return Refusal(403, f"you cannot use this {what}", f"{where}.id")
        if kind != LICENSE and not cfg.m_no_exclusivity_check:
            holder = busy.holder(key)
            if holder is not None:
                return Refusal(403, f"this {what} is already in use with {holder}", f"{where}.id")
        if kind == INGRESS and not 0 <= value.port <= 65535:
            return Refusal(400, "port must be between 0 and 65535", f"{where}.port")
        return None
    return None


def referenced_resources(spec: JobSpecification) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (exclusive, shared) binding keys a request references: ingress and public IPs are
    exclusive, licenses shared (reference §6.3)."""
    exclusive: list[str] = []
    shared: list[str] = []
    for value in [*spec.parameters.values(), *spec.resources]:
        if value.type in (INGRESS, NETWORK):
            exclusive.append(resource_key(value.type, value.id))
        elif value.type == LICENSE:
            shared.append(resource_key(value.type, value.id))
    return tuple(dict.fromkeys(exclusive)), tuple(dict.fromkeys(shared))


def application_backend(app: Application) -> str:
    """The application's tool backend as a plain string (``"NONE"`` when not resolved)."""
    return str(app.backend.value) if app.backend is not None else "NONE"
