"""A small, realistic world written as UCloud JSON: the default for the checkers, demos and tests.

One Kubernetes-like provider ``k8s`` (containers with web/vnc/logs/terminal/peers/timeExtension,
virtual machines with suspension), three applications (a batch job, a web application taking a
public link, an Ubuntu VM), a public link, a public IP and a license owned by ``alice``, and
wallets: ``alice`` has an allocation for ``u1-standard``; ``bob`` has none (his requests get 402).

Every object is parsed from the JSON UCloud sends (reference §1.8, §3, §4, §5.5, §6), so this
module doubles as a worked example of the wire format.
"""

from __future__ import annotations

from typing import Any

from spec.catalog import Catalog
from spec.wire import (
    Application,
    Ingress,
    JobSpecification,
    JobSupport,
    License,
    ProductV2,
    PublicIP,
    Wallet,
)
from spec.world import RequestTemplate

PROVIDER = "k8s"
CATEGORY = "u1-standard"
SLURM = "slurm"
SLURM_CATEGORY = "cpu"


def _tool(name: str, backend: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": "1",
        "tool": {"description": {"backend": backend, "info": {"name": name, "version": "1"}}},
    }


APPLICATIONS: list[dict[str, Any]] = [
    {
        "metadata": {"name": "acme-batch", "version": "1.0.0", "title": "Acme batch"},
        "invocation": {
            "tool": _tool("acme", "DOCKER"),
            "applicationType": "BATCH",
            "parameters": [
                {"type": "boolean", "name": "debug", "optional": True, "defaultValue": False},
                {"type": "text", "name": "value", "optional": False},
            ],
        },
    },
    {
        "metadata": {"name": "acme-web", "version": "2.1", "title": "Acme web"},
        "invocation": {
            "tool": _tool("acme-web", "DOCKER"),
            "applicationType": "WEB",
            "web": {"port": 8080},
            "ssh": {"mode": "OPTIONAL"},
            "parameters": [{"type": "ingress", "name": "link", "optional": True}],
        },
    },
    {
        "metadata": {"name": "ubuntu", "version": "24.04", "title": "Ubuntu VM"},
        "invocation": {
            "tool": _tool("ubuntu", "VIRTUAL_MACHINE"),
            "applicationType": "VNC",
            "parameters": [],
        },
    },
    {
        "metadata": {"name": "gromacs", "version": "2024", "title": "GROMACS (Slurm module)"},
        "invocation": {"tool": _tool("gromacs", "NATIVE"), "applicationType": "BATCH", "parameters": []},
    },
]

_CATEGORY = {
    "name": CATEGORY,
    "provider": PROVIDER,
    "productType": "COMPUTE",
    "accountingUnit": {
        "name": "Core",
        "namePlural": "Cores",
        "floatingPoint": False,
        "displayFrequencySuffix": True,
    },
    "accountingFrequency": "PERIODIC_MINUTE",
    "freeToUse": False,
}

PRODUCTS: list[dict[str, Any]] = [
    {
        "type": "compute",
        "category": _CATEGORY,
        "name": "u1-standard-1",
        "description": "1 vCPU",
        "productType": "COMPUTE",
        "price": 1,
        "cpu": 1,
        "memoryInGigs": 4,
    },
    {
        "type": "compute",
        "category": _CATEGORY,
        "name": "u1-standard-4",
        "description": "4 vCPU",
        "productType": "COMPUTE",
        "price": 1,
        "cpu": 4,
        "memoryInGigs": 16,
    },
]

_CONTAINER = {
    "enabled": True,
    "web": True,
    "vnc": True,
    "logs": True,
    "terminal": True,
    "peers": True,
    "timeExtension": True,
}
_VM = {
    "enabled": True,
    "web": True,
    "vnc": True,
    "logs": True,
    "terminal": True,
    "peers": True,
    "timeExtension": False,
    "suspension": True,
    "bindLinkToPort": True,
}

_SLURM_CATEGORY = {
    **_CATEGORY,
    "name": SLURM_CATEGORY,
    "provider": SLURM,
    "accountingFrequency": "PERIODIC_HOUR",
}
PRODUCTS.append(
    {
        "type": "compute",
        "category": _SLURM_CATEGORY,
        "name": "cpu-1",
        "description": "one node",
        "productType": "COMPUTE",
        "price": 1,
        "cpu": 64,
        "memoryInGigs": 256,
    }
)

SUPPORT: list[dict[str, Any]] = [
    {
        "product": {"id": p["name"], "category": CATEGORY, "provider": PROVIDER},
        "docker": _CONTAINER,
        "virtualMachine": _VM,
        "native": {"enabled": False},
    }
    for p in PRODUCTS
    if p["category"]["provider"] == PROVIDER
] + [
    # Slurm answers extend with 400 and has no web, vnc or suspension (reference §5.5).
    {
        "product": {"id": "cpu-1", "category": SLURM_CATEGORY, "provider": SLURM},
        "native": {"enabled": True, "logs": True},
    },
]


def _resource(
    rid: str, owner: str, spec: dict[str, Any], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": rid,
        "createdAt": 1633329776235,
        "owner": {"createdBy": owner, "project": None},
        "specification": spec,
        "status": {"boundTo": [], "state": "READY", **(extra or {})},
    }


INGRESSES = [
    _resource(
        "55",
        "alice",
        {
            "domain": "app-alice.cloud.example.org",
            "product": {"id": "u1-public-link", "category": "u1-public-link", "provider": PROVIDER},
        },
    )
]
PUBLIC_IPS = [
    _resource(
        "31",
        "alice",
        {"product": {"id": "u1-public-ip", "category": "u1-public-ip", "provider": PROVIDER}},
        {"ipAddress": "192.0.2.31"},
    )
]
LICENSES = [
    _resource("77", "alice", {"product": {"id": "matlab", "category": "licenses", "provider": PROVIDER}})
]

WALLETS: list[dict[str, Any]] = [
    {
        "owner": {"type": "user", "username": "alice"},
        "paysFor": {"name": CATEGORY, "provider": PROVIDER},
        "quota": 1_000_000,
        "maxUsable": 1_000_000,
    },
    {
        "owner": {"type": "user", "username": "alice"},
        "paysFor": {"name": SLURM_CATEGORY, "provider": SLURM},
        "quota": 1_000,
        "maxUsable": 1_000,
    },
]


def _job(
    app: str,
    version: str,
    *,
    product: str = "u1-standard-1",
    category: str = CATEGORY,
    provider: str = PROVIDER,
    replicas: int = 1,
    hours: int | None = 1,
    parameters: dict[str, Any] | None = None,
    resources: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> JobSpecification:
    body: dict[str, Any] = {
        "product": {"id": product, "category": category, "provider": provider},
        "application": {"name": app, "version": version},
        "replicas": replicas,
        "parameters": parameters or {},
        "resources": resources or [],
        **extra,
    }
    if hours is not None:
        body["timeAllocation"] = {"hours": hours, "minutes": 0, "seconds": 0}
    return JobSpecification.model_validate(body)


def default_catalog() -> Catalog:
    """The catalog of the default world."""
    return Catalog.build(
        applications=[Application.model_validate(a) for a in APPLICATIONS],
        products=[ProductV2.model_validate(p) for p in PRODUCTS],
        support=[JobSupport.model_validate(s) for s in SUPPORT],
        ingresses=[Ingress.model_validate(r) for r in INGRESSES],
        public_ips=[PublicIP.model_validate(r) for r in PUBLIC_IPS],
        licenses=[License.model_validate(r) for r in LICENSES],
        wallets=[Wallet.model_validate(w) for w in WALLETS],
    )


def default_requests() -> list[RequestTemplate]:
    """The requests users send in the default world, valid ones first.

    0 ``batch``: a valid two-node batch job with a one-hour allocation;
    1 ``web+link``: a web application using alice's public link 55 (exclusive) and license 77;
    2 ``vm``: an Ubuntu virtual machine (suspendable, no allocation);
    3 ``replicas=0``: refused by Core (400);
    4 ``no-allocation``: bob has no wallet for the category (402);
    5 ``refused-by-provider``: Core accepts it, the provider cannot run it (400);
    6 ``native-on-k8s``: a NATIVE application on a product whose provider enables only containers and
      VMs (400 "the application is not supported on this machine type");
    7 ``slurm``: a valid batch job at the Slurm provider;
    8 ``wrong-parameter-type``: ``value`` given as an integer for a text parameter (400).
    """
    batch = _job(
        "acme-batch", "1.0.0", replicas=2, parameters={"value": {"type": "text", "value": "Hello, World!"}}
    )
    return [
        RequestTemplate("batch", "alice", batch),
        RequestTemplate(
            "web+link",
            "alice",
            _job(
                "acme-web",
                "2.1",
                parameters={"link": {"type": "ingress", "id": "55", "port": 0}},
                resources=[{"type": "license_server", "id": "77"}],
            ),
        ),
        RequestTemplate("vm", "alice", _job("ubuntu", "24.04", hours=None)),
        RequestTemplate(
            "replicas=0",
            "alice",
            _job("acme-batch", "1.0.0", replicas=0, parameters={"value": {"type": "text", "value": "x"}}),
        ),
        RequestTemplate("no-allocation", "bob", batch),
        RequestTemplate(
            "refused-by-provider",
            "alice",
            _job(
                "acme-batch",
                "1.0.0",
                product="u1-standard-4",
                parameters={"value": {"type": "text", "value": "big"}},
            ),
            provider_refusal=(400, "no node can fit this job"),
        ),
        RequestTemplate("native-on-k8s", "alice", _job("gromacs", "2024")),
        RequestTemplate(
            "slurm",
            "alice",
            _job("gromacs", "2024", product="cpu-1", category=SLURM_CATEGORY, provider=SLURM, hours=2),
        ),
        RequestTemplate(
            "wrong-parameter-type",
            "alice",
            _job("acme-batch", "1.0.0", parameters={"value": {"type": "integer", "value": 42}}),
        ),
    ]
