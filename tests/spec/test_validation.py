"""Core's validation of ``jobs.create`` (spec.validation.validate_submission), rule by rule.

Every rule of reference §3.5 (plus ``jobValidateValue`` and the allocation gate of §8.3) has at
least one refused request (status, reason and field asserted) and one accepted twin that differs
from it in the one thing the rule looks at. Requests are UCloud JSON, parsed with
``JobSpecification.model_validate``, in the shapes of :mod:`spec.examples`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from spec import actions as A
from spec import examples as ex
from spec.catalog import Catalog, Drive
from spec.rules import MUTANTS_BY_NAME, resolve
from spec.state import RUNNING
from spec.system import ProtocolModel
from spec.validation import NOTHING_BUSY, Busy, Refusal, validate_submission
from spec.wire import Application, Ingress, JobSpecification, JobSupport, License, ProductV2, PublicIP, Wallet
from spec.world import RequestTemplate, World

DOCUMENTED = resolve()


# ----------------------------------------------------------------------------------- building blocks
def app(name: str, version: str, backend: str, parameters: list[dict[str, Any]], **invocation: Any) -> dict:
    return {
        "metadata": {"name": name, "version": version, "title": name},
        "invocation": {
            "tool": {
                "name": name,
                "version": "1",
                "tool": {"description": {"backend": backend, "info": {"name": name, "version": "1"}}},
            },
            "applicationType": "BATCH",
            "parameters": parameters,
            **invocation,
        },
    }


EXTRA_APPS = [
    app("syncthing", "1", "DOCKER", []),
    app("legacy", "1", "SINGULARITY", []),
    app(
        "docs",
        "1",
        "DOCKER",
        [{"type": "readme", "name": "intro", "optional": True}, {"type": "text", "name": "value"}],
    ),
    app(
        "multi",
        "1",
        "NATIVE",
        [{"type": "text", "name": "value"}, {"type": "integer", "name": "other"}],
    ),
]


def make_catalog(
    *,
    apps: list[dict] | None = None,
    products: list[dict] | None = None,
    support: list[dict] | None = None,
    ingresses: list[dict] | None = None,
    public_ips: list[dict] | None = None,
    licenses: list[dict] | None = None,
    wallets: list[dict] | None = None,
    drives: list[Drive] | None = None,
) -> Catalog:
    """The default catalog (plus EXTRA_APPS), with any part replaced."""
    return Catalog.build(
        applications=[Application.model_validate(a) for a in (apps or [*ex.APPLICATIONS, *EXTRA_APPS])],
        products=[ProductV2.model_validate(p) for p in (products or ex.PRODUCTS)],
        support=[JobSupport.model_validate(s) for s in (support or ex.SUPPORT)],
        ingresses=[Ingress.model_validate(r) for r in (ingresses or ex.INGRESSES)],
        public_ips=[PublicIP.model_validate(r) for r in (public_ips or ex.PUBLIC_IPS)],
        licenses=[License.model_validate(r) for r in (licenses or ex.LICENSES)],
        wallets=[Wallet.model_validate(w) for w in (wallets if wallets is not None else ex.WALLETS)],
        drives=drives,
    )


def _with_docker(**flags: Any) -> list[dict]:
    support = copy.deepcopy(ex.SUPPORT)
    for s in support:
        if "docker" in s:
            s["docker"].update(flags)
    return support


def _legacy_as(backend: str) -> list[dict]:
    apps = copy.deepcopy([*ex.APPLICATIONS, *EXTRA_APPS])
    for a in apps:
        if a["metadata"]["name"] == "legacy":
            a["invocation"]["tool"]["tool"]["description"]["backend"] = backend
    return apps


def _free_to_use_products() -> list[dict]:
    products = copy.deepcopy(ex.PRODUCTS)
    for p in products:
        if p["category"]["name"] == ex.CATEGORY:
            p["category"]["freeToUse"] = True
    return products


def _wallet(owner: dict, category: str, provider: str) -> dict:
    return {"owner": owner, "paysFor": {"name": category, "provider": provider}, "quota": 10, "maxUsable": 10}


BOB = {"type": "user", "username": "bob"}
P1 = {"type": "project", "projectId": "p1"}

CATALOG = make_catalog()
CATALOG_PORTS = make_catalog(support=_with_docker(bindLinkToPort=True))
CATALOG_LEGACY_DOCKER = make_catalog(apps=_legacy_as("DOCKER"))
CATALOG_DRIVES = make_catalog(
    drives=[Drive("1234", readers=frozenset({"alice"})), Drive("5678", editors=frozenset({"alice"}))]
)
# u1-standard is free to use; bob has a wallet at k8s in another category, carol only at slurm.
CATALOG_FREE = make_catalog(
    products=_free_to_use_products(),
    wallets=[
        *ex.WALLETS,
        _wallet(BOB, "u1-gpu", ex.PROVIDER),
        _wallet({"type": "user", "username": "carol"}, ex.SLURM_CATEGORY, ex.SLURM),
    ],
)
CATALOG_P1 = make_catalog(wallets=[*ex.WALLETS, _wallet(P1, ex.CATEGORY, ex.PROVIDER)])
CATALOG_P1_RESOURCES = make_catalog(
    ingresses=[{**ex.INGRESSES[0], "owner": {"createdBy": "alice", "project": "p1"}}],
    wallets=[*ex.WALLETS, _wallet(P1, ex.CATEGORY, ex.PROVIDER)],
)

TEXT = {"type": "text", "value": "Hello"}
ONE_HOUR = {"hours": 1, "minutes": 0, "seconds": 0}


def job(
    name: str = "acme-batch",
    version: str = "1.0.0",
    *,
    product: str = "u1-standard-1",
    category: str = ex.CATEGORY,
    provider: str = ex.PROVIDER,
    parameters: dict[str, Any] | None = None,
    resources: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ``jobs.create`` item as UCloud JSON; the default is a valid acme-batch request."""
    body: dict[str, Any] = {
        "product": {"id": product, "category": category, "provider": provider},
        "application": {"name": name, "version": version},
        "replicas": 1,
        "parameters": {"value": TEXT} if parameters is None else parameters,
        "resources": resources or [],
        "timeAllocation": ONE_HOUR,
    }
    body.update(extra)
    return body


def web(port: int = 0, link: str = "55", **extra: Any) -> dict[str, Any]:
    return job("acme-web", "2.1", parameters={"link": {"type": "ingress", "id": link, "port": port}}, **extra)


def batch_with(*resources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return job(resources=list(resources), **extra)


def file(path: str, mount: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "file", "path": path}
    if mount is not None:
        value["mountPath"] = mount
    return value


def gromacs(**extra: Any) -> dict[str, Any]:
    return job("gromacs", "2024", parameters={}, **extra)


def slurm(**extra: Any) -> dict[str, Any]:
    return gromacs(product="cpu-1", category=ex.SLURM_CATEGORY, provider=ex.SLURM, **extra)


def bound_to(holder: int, key: str) -> Busy:
    return Busy(holder=lambda k: holder if k == key else None)


def peer_state(job_id: str, state: str | None) -> Busy:
    return Busy(job_state=lambda j: state if j == job_id else None)


@dataclass
class Case:
    rule: str
    body: dict[str, Any]
    expected: tuple[int, str, str] | None
    user: str = "alice"
    project: str | None = None
    catalog: Catalog = field(default_factory=lambda: CATALOG)
    busy: Busy = NOTHING_BUSY

    def run(self, cfg: Any = DOCUMENTED) -> Refusal | None:
        spec = JobSpecification.model_validate(self.body)
        return validate_submission(spec, self.user, self.project, self.catalog, self.busy, cfg)


def _t(r: Refusal | None) -> tuple[int, str, str] | None:
    return None if r is None else (r.status, r.why, r.field)


# ----------------------------------------------------------------------------------- refused requests
REFUSED: dict[str, Case] = {
    "syncthing": Case(
        "syncthing",
        job("syncthing", "1", parameters={}),
        (400, "syncthing cannot be started through this endpoint", "application.name"),
    ),
    "unknown-application": Case(
        "unknown-application",
        job("acme-batch", "9.9"),
        (400, "unknown application requested", "application"),
    ),
    "missing-product": Case(
        "product", job(product=""), (400, "resource does not specify a product", "product")
    ),
    "missing-provider": Case(
        "product", job(provider=""), (400, "resource does not specify a product", "product")
    ),
    "bad-machine-type": Case(
        "product", job(product="u1-standard-99"), (400, "bad machine type requested", "product")
    ),
    "mount-relative": Case(
        "mount-path",
        batch_with(file("/1234/data", "data")),
        (400, "mount path 'data' must be absolute", "resources[0].mountPath"),
    ),
    "mount-dotdot": Case(
        "mount-path",
        batch_with(file("/1234/data", "../data")),
        (400, "mount path '../data' must be absolute", "resources[0].mountPath"),
    ),
    "mount-etc-ucloud": Case(
        "mount-path",
        batch_with(file("/1234/data", "/etc/ucloud/")),
        (400, "mount path '/etc/ucloud/' is reserved", "resources[0].mountPath"),
    ),
    "mount-opt-ucloud": Case(
        "mount-path",
        batch_with(file("/1234/data", "/opt/ucloud")),
        (400, "mount path '/opt/ucloud' is reserved", "resources[0].mountPath"),
    ),
    "mount-work": Case(
        "mount-path",
        batch_with(file("/1234/data", "/work")),
        (400, "mount path '/work' is reserved", "resources[0].mountPath"),
    ),
    "mount-under-work": Case(
        "mount-path",
        batch_with(file("/1234/data", "/work/inputs")),
        (400, "mount path '/work/inputs' is reserved", "resources[0].mountPath"),
    ),
    "mount-shared": Case(
        "mount-path",
        batch_with(file("/1234/a", "/data"), file("/1234/b", "/data/")),
        (400, "two files cannot share the mount path '/data/'", "resources[1].mountPath"),
    ),
    "native-on-k8s": Case(
        "backend", gromacs(), (400, "the application is not supported on this machine type", "application")
    ),
    "singularity": Case(
        "backend",
        job("legacy", "1", parameters={}),
        (400, "the application is not supported on this machine type", "application"),
    ),
    "time-zero": Case(
        "time-allocation",
        job(timeAllocation={"hours": 0, "minutes": 0, "seconds": 0}),
        (400, "time allocated for job is too short", "timeAllocation"),
    ),
    "ssh-disabled": Case(
        "ssh", job(sshEnabled=True), (400, "this application does not support SSH", "sshEnabled")
    ),
    "replicas-zero": Case("replicas", job(replicas=0), (400, "you must request at least 1 node", "replicas")),
    "replicas-negative": Case(
        "replicas", job(replicas=-2), (400, "you must request at least 1 node", "replicas")
    ),
    "api-server-in-parameters": Case(
        "api-server",
        job(
            parameters={
                "value": TEXT,
                "api": {"type": "api_server", "server": "s", "token": "t", "tokenType": "b"},
            }
        ),
        (400, "api_server values must be supplied as resources", "parameters.api"),
    ),
    "unknown-parameter": Case(
        "unknown-parameter",
        job(parameters={"value": TEXT, "colour": TEXT}),
        (400, "unknown parameter supplied", "parameters.colour"),
    ),
    "incorrect-type": Case(
        "parameter-type",
        job(parameters={"value": {"type": "integer", "value": 3}}),
        (400, "incorrect parameter type", "parameters.value"),
    ),
    "ingress-port": Case(
        "ingress-port",
        web(port=8080),
        (400, "'link' has a port specified, but this is not supported by the provider", "parameters.link"),
    ),
    "ingress-port-range": Case(
        "ingress-port-range",
        web(port=70000),
        (400, "port must be between 0 and 65535", "parameters.link.port"),
        catalog=CATALOG_PORTS,
    ),
    "readme-value": Case(
        "readme",
        job("docs", "1", parameters={"value": TEXT, "intro": TEXT}),
        (400, "incorrect parameter type", "parameters.intro"),
    ),
    "missing-required": Case(
        "required", job(parameters={}), (400, "missing value for 'value'", "parameters.value")
    ),
    "file-relative-path": Case(
        "file-path",
        batch_with(file("1234/data")),
        (400, "unknown file or permission denied", "resources[0].path"),
    ),
    "file-root-path": Case(
        "file-path", batch_with(file("/")), (400, "unknown file or permission denied", "resources[0].path")
    ),
    "drive-not-readable": Case(
        "drive-permission",
        batch_with(file("/1234/data")),
        (400, "unknown file or permission denied", "resources[0].path"),
        user="bob",
        catalog=CATALOG_DRIVES,
    ),
    "drive-unknown": Case(
        "drive-permission",
        batch_with(file("/9999/data")),
        (400, "unknown file or permission denied", "resources[0].path"),
        catalog=CATALOG_DRIVES,
    ),
    "peer-without-feature": Case(
        "peer-feature",
        slurm(resources=[{"type": "peer", "hostname": "db", "jobId": "5"}]),
        (400, "connection to other jobs is not supported by this provider", "resources[0]"),
        busy=peer_state("5", RUNNING),
    ),
    "peer-not-running": Case(
        "peer-running",
        batch_with({"type": "peer", "hostname": "db", "jobId": "5"}),
        (400, "job with hostname 'db' is not running", "resources[0].jobId"),
        busy=peer_state("5", "IN_QUEUE"),
    ),
    "peer-unknown-job": Case(
        "peer-running",
        batch_with({"type": "peer", "hostname": "db", "jobId": "6"}),
        (400, "job with hostname 'db' is not running", "resources[0].jobId"),
        busy=peer_state("5", RUNNING),
    ),
    "ingress-not-owned": Case(
        "ownership", web(), (403, "you cannot use this link", "parameters.link.id"), user="bob"
    ),
    "ingress-unknown": Case(
        "ownership", web(link="56"), (403, "you cannot use this link", "parameters.link.id")
    ),
    "network-not-owned": Case(
        "ownership",
        batch_with({"type": "network", "id": "31"}),
        (403, "you cannot use this IP address", "resources[0].id"),
        user="bob",
    ),
    "license-not-owned": Case(
        "ownership",
        batch_with({"type": "license_server", "id": "77"}),
        (403, "you cannot use this license", "resources[0].id"),
        user="bob",
    ),
    "ingress-of-project-outside-project": Case(
        "ownership",
        web(),
        (403, "you cannot use this link", "parameters.link.id"),
        catalog=CATALOG_P1_RESOURCES,
    ),
    "ingress-bound": Case(
        "exclusive",
        web(),
        (403, "this link is already in use with 7", "parameters.link.id"),
        busy=bound_to(7, "ingress:55"),
    ),
    "network-bound": Case(
        "exclusive",
        batch_with({"type": "network", "id": "31"}),
        (403, "this IP address is already in use with 12", "resources[0].id"),
        busy=bound_to(12, "network:31"),
    ),
    "no-allocation": Case(
        "allocation",
        job(),
        (402, "You do not have any valid allocations for 'u1-standard'", "product"),
        user="bob",
    ),
    "no-project-allocation": Case(
        "allocation",
        job(),
        (402, "You do not have any valid allocations for 'u1-standard'", "product"),
        project="p1",
    ),
    "free-to-use-other-provider": Case(
        "allocation",
        job(),
        (402, "You do not have any valid allocations for 'u1-standard'", "product"),
        user="carol",
        catalog=CATALOG_FREE,
    ),
}

# ----------------------------------------------------------------------------------- accepted twins
ACCEPTED: dict[str, Case] = {
    "syncthing": Case("syncthing", job(), None),
    "known-application": Case("unknown-application", job("acme-batch", "1.0.0"), None),
    "other-product": Case("product", job(product="u1-standard-4"), None),
    "mount-absolute": Case("mount-path", batch_with(file("/1234/data", "/data")), None),
    "mount-blank": Case("mount-path", batch_with(file("/1234/data", "  ")), None),
    "mount-workspace": Case("mount-path", batch_with(file("/1234/data", "/workspace")), None),
    "mount-dotdot-out-of-work": Case("mount-path", batch_with(file("/1234/data", "/work/../data")), None),
    "mount-same-file-twice": Case(
        "mount-path", batch_with(file("/1234/a", "/data"), file("/1234/a", "/data")), None
    ),
    "mount-distinct": Case("mount-path", batch_with(file("/1234/a", "/a"), file("/1234/b", "/b")), None),
    "native-on-slurm": Case("backend", slurm(), None),
    "docker-twin-of-singularity": Case(
        "backend", job("legacy", "1", parameters={}), None, catalog=CATALOG_LEGACY_DOCKER
    ),
    "time-one-second": Case(
        "time-allocation", job(timeAllocation={"hours": 0, "minutes": 0, "seconds": 1}), None
    ),
    "time-none": Case("time-allocation", job(timeAllocation=None), None),
    "vm-time-zero-cleared": Case(
        "time-allocation",
        job("ubuntu", "24.04", parameters={}, timeAllocation={"hours": 0, "minutes": 0, "seconds": 0}),
        None,
    ),
    "ssh-optional": Case("ssh", web(sshEnabled=True), None),
    "ssh-off": Case("ssh", job(sshEnabled=False), None),
    "replicas-one": Case("replicas", job(replicas=1), None),
    "api-server-in-resources": Case(
        "api-server", batch_with({"type": "api_server", "server": "s", "token": "t", "tokenType": "b"}), None
    ),
    "injected-parameter": Case(
        "unknown-parameter", job(parameters={"value": TEXT, "_injected_x": TEXT}), None
    ),
    "correct-type": Case(
        "parameter-type", job(parameters={"value": TEXT, "debug": {"type": "boolean", "value": True}}), None
    ),
    "ingress-port-zero": Case("ingress-port", web(port=0), None),
    "ingress-port-bindable": Case("ingress-port", web(port=8080), None, catalog=CATALOG_PORTS),
    "ingress-port-max": Case("ingress-port-range", web(port=65535), None, catalog=CATALOG_PORTS),
    "readme-not-supplied": Case("readme", job("docs", "1", parameters={"value": TEXT}), None),
    "optional-omitted": Case("required", job(parameters={"value": TEXT}), None),
    "file-drive-path": Case("file-path", batch_with(file("/1234/data")), None),
    "file-drive-root": Case("file-path", batch_with(file("/1234")), None),
    "drive-reader": Case("drive-permission", batch_with(file("/1234/data")), None, catalog=CATALOG_DRIVES),
    "drive-editor": Case("drive-permission", batch_with(file("/5678/data")), None, catalog=CATALOG_DRIVES),
    "drives-unknown-not-checked": Case("drive-permission", batch_with(file("/9999/data")), None),
    "peer-running": Case(
        "peer-running",
        batch_with({"type": "peer", "hostname": "db", "jobId": "5"}),
        None,
        busy=peer_state("5", RUNNING),
    ),
    "peer-with-feature": Case(
        "peer-feature",
        job("ubuntu", "24.04", parameters={}, resources=[{"type": "peer", "hostname": "db", "jobId": "5"}]),
        None,
        busy=peer_state("5", RUNNING),
    ),
    "ingress-owned": Case("ownership", web(), None),
    "network-owned": Case("ownership", batch_with({"type": "network", "id": "31"}), None),
    "license-owned": Case("ownership", batch_with({"type": "license_server", "id": "77"}), None),
    "ingress-of-project-inside-project": Case(
        "ownership", web(), None, project="p1", catalog=CATALOG_P1_RESOURCES
    ),
    "ingress-free": Case("exclusive", web(), None, busy=bound_to(7, "ingress:56")),
    "license-never-exclusive": Case(
        "license-shared",
        batch_with({"type": "license_server", "id": "77"}),
        None,
        busy=Busy(holder=lambda k: 7),
    ),
    "allocation": Case("allocation", job(), None),
    "project-allocation": Case("allocation", job(), None, project="p1", catalog=CATALOG_P1),
    "free-to-use-any-wallet-at-provider": Case("allocation", job(), None, user="bob", catalog=CATALOG_FREE),
}

# The license rule is a non-rule (no exclusivity): its "refused" twin is the bound ingress.
_RULES_WITHOUT_REFUSAL = {"license-shared"}


def test_every_rule_has_a_refused_and_an_accepted_case() -> None:
    refused = {c.rule for c in REFUSED.values()}
    accepted = {c.rule for c in ACCEPTED.values()}
    assert refused == accepted - _RULES_WITHOUT_REFUSAL
    assert refused == {
        "syncthing", "unknown-application", "product", "mount-path", "backend", "time-allocation", "ssh",
        "replicas", "api-server", "unknown-parameter", "parameter-type", "ingress-port", "ingress-port-range",
        "readme", "required", "file-path", "drive-permission", "peer-feature", "peer-running", "ownership",
        "exclusive", "allocation",
    }  # fmt: skip


@pytest.mark.parametrize("name", REFUSED)
def test_refused(name: str) -> None:
    case = REFUSED[name]
    assert _t(case.run()) == case.expected


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted(name: str) -> None:
    assert ACCEPTED[name].run() is None


def test_license_bound_to_another_job_is_accepted_while_a_bound_ingress_is_not() -> None:
    everything_taken = Busy(holder=lambda key: 7)
    license_only = Case("x", batch_with({"type": "license_server", "id": "77"}), None, busy=everything_taken)
    ingress = Case("x", web(), None, busy=everything_taken)
    assert license_only.run() is None
    assert _t(ingress.run()) == (403, "this link is already in use with 7", "parameters.link.id")


@pytest.mark.parametrize("name", [*REFUSED, *ACCEPTED])
def test_ucloud_current_validates_like_documented(name: str) -> None:
    case = REFUSED.get(name) or ACCEPTED[name]
    assert _t(case.run(resolve("ucloud-current"))) == case.expected


# ----------------------------------------------------------------------------------- the order of §3.5
def _chain() -> list[tuple[tuple[int, str, str] | None, Any]]:
    """(expected refusal, the fix that removes it), in the order of reference §3.5."""

    def setp(key: str, value: Any) -> Any:
        def fix(c: Case) -> None:
            c.body[key] = value

        return fix

    def set_product(id_: str, category: str, provider: str) -> Any:
        return setp("product", {"id": id_, "category": category, "provider": provider})

    def set_resources(resources: list[dict]) -> Any:
        return setp("resources", resources)

    def set_parameters(parameters: dict) -> Any:
        return setp("parameters", parameters)

    def set_user(c: Case) -> None:
        c.user = "alice"

    return [
        ((400, "syncthing cannot be started through this endpoint", "application.name"),
         setp("application", {"name": "multi", "version": "0"})),
        ((400, "unknown application requested", "application"), setp("application", {"name": "multi", "version": "1"})),
        ((400, "bad machine type requested", "product"), set_product("u1-standard-1", ex.CATEGORY, ex.PROVIDER)),
        ((400, "mount path 'rel' must be absolute", "resources[0].mountPath"), set_resources([file("bad", "/data")])),
        ((400, "the application is not supported on this machine type", "application"),
         set_product("cpu-1", ex.SLURM_CATEGORY, ex.SLURM)),
        ((400, "time allocated for job is too short", "timeAllocation"), setp("timeAllocation", ONE_HOUR)),
        ((400, "this application does not support SSH", "sshEnabled"), setp("sshEnabled", False)),
        ((400, "you must request at least 1 node", "replicas"), setp("replicas", 1)),
        ((400, "unknown file or permission denied", "resources[0].path"), set_resources([file("/1234/x", "/data")])),
        ((400, "api_server values must be supplied as resources", "parameters.api"),
         set_parameters({"extra": TEXT, "value": {"type": "integer", "value": 1}})),
        ((400, "unknown parameter supplied", "parameters.extra"),
         set_parameters({"value": {"type": "integer", "value": 1}})),
        ((400, "incorrect parameter type", "parameters.value"), set_parameters({"value": TEXT})),
        ((400, "missing value for 'other'", "parameters.other"),
         set_parameters({"value": TEXT, "other": {"type": "integer", "value": 1}})),
        ((402, "You do not have any valid allocations for 'cpu'", "product"), set_user),
        (None, None),
    ]  # fmt: skip


def test_a_request_breaking_every_rule_gets_each_refusal_in_order() -> None:
    """Starting from a request that breaks every rule, each fix reveals the next rule of §3.5."""
    case = Case(
        "chain",
        {
            "product": {"id": "nope", "category": ex.CATEGORY, "provider": ex.PROVIDER},
            "application": {"name": "syncthing", "version": "1"},
            "replicas": 0,
            "parameters": {
                "api": {"type": "api_server", "server": "s", "token": "t", "tokenType": "b"},
                "extra": TEXT,
            },
            "resources": [file("bad", "rel")],
            "timeAllocation": {"hours": 0, "minutes": 0, "seconds": 0},
            "sshEnabled": True,
        },
        None,
        user="bob",
    )
    seen = []
    for expected, fix in _chain():
        seen.append(_t(case.run()))
        assert seen[-1] == expected, seen
        if fix is not None:
            fix(case)
    assert len(seen) == 15


@pytest.mark.parametrize(
    ("body", "user", "expected"),
    [
        pytest.param(
            job(sshEnabled=True, replicas=0), "alice", (400, "this application does not support SSH", "sshEnabled"),
            id="ssh-before-replicas",
        ),
        pytest.param(
            gromacs(timeAllocation={"hours": 0, "minutes": 0, "seconds": 0}), "alice",
            (400, "the application is not supported on this machine type", "application"),
            id="backend-before-time",
        ),
        pytest.param(
            gromacs(resources=[file("/1234/x", "/work/x")]), "alice",
            (400, "mount path '/work/x' is reserved", "resources[0].mountPath"),
            id="mount-before-backend",
        ),
        pytest.param(
            batch_with(file("x"), parameters={"colour": TEXT}), "alice",
            (400, "unknown file or permission denied", "resources[0].path"),
            id="resources-before-parameters",
        ),
        pytest.param(
            job(parameters={"colour": TEXT}), "bob", (400, "unknown parameter supplied", "parameters.colour"),
            id="unknown-before-missing-and-allocation",
        ),
        pytest.param(
            job(parameters={}), "bob", (400, "missing value for 'value'", "parameters.value"),
            id="missing-before-allocation",
        ),
        pytest.param(
            web(port=8080), "bob", (403, "you cannot use this link", "parameters.link.id"),
            id="ownership-before-port-feature",
        ),
    ],
)  # fmt: skip
def test_two_broken_rules_give_the_first_rules_refusal(
    body: dict[str, Any], user: str, expected: tuple[int, str, str]
) -> None:
    assert _t(Case("two", body, None, user=user).run()) == expected


# ----------------------------------------------------------------------------------- mutants
MUTANT_RULE = {
    "no-backend-check": "backend",
    "no-replicas-check": "replicas",
    "no-allocation-gate": "allocation",
    "no-exclusivity-check": "exclusive",
}


def test_mutant_rules_are_registered() -> None:
    assert set(MUTANT_RULE) <= set(MUTANTS_BY_NAME)


@pytest.mark.parametrize("mutant", MUTANT_RULE)
@pytest.mark.parametrize("name", [*REFUSED, *ACCEPTED])
def test_mutant_skips_exactly_its_rule(mutant: str, name: str) -> None:
    case = REFUSED.get(name) or ACCEPTED[name]
    got = _t(case.run(resolve(mutant=mutant)))
    if case.rule == MUTANT_RULE[mutant]:
        assert got is None
    else:
        assert got == case.expected


@pytest.mark.parametrize(
    ("mutant", "body", "user", "expected"),
    [
        (
            "no-backend-check",
            gromacs(replicas=0),
            "alice",
            (400, "you must request at least 1 node", "replicas"),
        ),
        (
            "no-replicas-check",
            job(replicas=0),
            "bob",
            (402, "You do not have any valid allocations for 'u1-standard'", "product"),
        ),
        (
            "no-allocation-gate",
            job(parameters={}),
            "bob",
            (400, "missing value for 'value'", "parameters.value"),
        ),
    ],
)
def test_mutant_still_applies_the_other_rules(
    mutant: str, body: dict, user: str, expected: tuple[int, str, str]
) -> None:
    case = Case("x", body, expected, user=user)
    assert _t(case.run(resolve(mutant=mutant))) == expected


def test_exclusivity_mutant_still_checks_ownership_and_port() -> None:
    cfg = resolve(mutant="no-exclusivity-check")
    taken = bound_to(7, "ingress:55")
    assert _t(Case("x", web(), None, user="bob", busy=taken).run(cfg)) == (
        403,
        "you cannot use this link",
        "parameters.link.id",
    )
    assert _t(Case("x", web(port=-1), None, busy=taken, catalog=CATALOG_PORTS).run(cfg)) == (
        400,
        "port must be between 0 and 65535",
        "parameters.link.port",
    )


# ----------------------------------------------------------------------------------- World.validate
def _peer_world() -> World:
    reqs = ex.default_requests()
    peer = JobSpecification.model_validate(batch_with({"type": "peer", "hostname": "db", "jobId": "1"}))
    return World(
        catalog=ex.default_catalog(),
        requests=[reqs[0], RequestTemplate("peer-of-1", "alice", peer)],
        providers=("k8s",),
    )


def _running_job_1(model: ProtocolModel):  # type: ignore[no-untyped-def]
    s = model.init_state()
    s = model.step(s, A.Submit(0)).state
    for _ in range(2):  # the create, then the provider's reply
        s = model.step(s, A.Deliver(s.flight[0].uid)).state
    s = model.step(s, A.Start(1)).state
    s = model.step(s, A.Report(1)).state
    s = model.step(s, A.Deliver(s.flight[0].uid)).state
    assert s.jobs[1].state == RUNNING
    return s


def test_world_validate_accepts_a_peer_once_it_runs() -> None:
    model = ProtocolModel(_peer_world())
    s = _running_job_1(model)
    assert model.world.validate(1, s, model.cfg) is None


def test_world_validate_refuses_a_peer_that_does_not_run() -> None:
    model = ProtocolModel(_peer_world())
    s = model.init_state()
    assert model.world.validate(1, s, model.cfg) == (400, "job with hostname 'db' is not running")


def test_world_validate_does_not_reuse_a_stale_peer_refusal() -> None:
    # The memo key must include the state of a peer named in `resources` (fixed in ff22380).
    model = ProtocolModel(_peer_world())
    assert model.world.validate(1, model.init_state(), model.cfg) is not None  # job 1 does not exist yet
    s = _running_job_1(model)
    assert model.world.validate(1, s, model.cfg) is None
