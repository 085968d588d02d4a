"""Round trips of every wire model, in Go's zero-filled form and in the minimal form.

For each case:

* the *minimal* JSON parses, and ``to_wire()`` gives it back exactly (output is minimal and
  canonical: ``None`` fields omitted, fields Go always writes written);
* the *zero-filled* JSON (as Go's ``encoding/json`` writes it: nulls, ``""``, zero-valued fields of
  other union variants) parses, and parse -> dump -> parse is the identity, in dict and in bytes form;
* a ``None`` field never appears in the output.

A last test checks that the cases together instantiate every concrete wire model.
"""

from __future__ import annotations

from typing import Any

import pytest
from go_shapes import go_value
from pydantic import BaseModel, TypeAdapter

from spec.wire import (
    Application,
    AppParameterValue,
    BulkRequest,
    BulkResponse,
    Empty,
    FindByStringId,
    GoUnionVariant,
    Ingress,
    Job,
    JobsExtendRequestItem,
    JobsOpenInteractiveSessionRequestItem,
    JobSpecification,
    JobsProviderExtendRequestItem,
    JobsProviderFollowRequest,
    JobsProviderOpenInteractiveSessionRequestItem,
    JobsProviderSuspendRequestItem,
    JobSupport,
    JobUpdate,
    License,
    OpenSession,
    OpenSessionWithProvider,
    PageV2,
    ProductV2,
    PublicIP,
    ReportUsageRequest,
    ResourceUpdateAndId,
    Wallet,
    WireModel,
)
from spec.wire.schema import wire_types

PRODUCT_REF = {"id": "u1-standard-4", "category": "u1-standard", "provider": "k8s"}

# --- applications ---------------------------------------------------------------------------------

PARAM_THREADS_MIN = {
    "type": "integer",
    "name": "threads",
    "optional": True,
    "title": "Threads",
    "min": 1,
    "max": 64,
    "step": 1,
    "unitName": "threads",
}
PARAM_THREADS_ZERO = {
    **PARAM_THREADS_MIN,
    "defaultValue": None,
    "description": "",
    "trueValue": "",
    "falseValue": "",
    "options": None,
    "tagged": None,
    "supportedModules": None,
}
PARAM_MODE_MIN = {
    "type": "enumeration",
    "name": "mode",
    "optional": False,
    "defaultValue": {"value": "fast"},
    "options": [{"name": "Fast", "value": "fast"}, {"name": "Thorough", "value": "thorough"}],
}
PARAM_INPUT_MIN = {"type": "input_directory", "name": "data", "optional": False}

APP_MIN = {
    "metadata": {"name": "acme-batch", "version": "1.0.0", "title": "Acme batch"},
    "invocation": {
        "tool": {
            "name": "acme",
            "version": "1.0.0",
            "tool": {"description": {"backend": "DOCKER", "image": "acme/batch:1.0.0"}},
        },
        "applicationType": "BATCH",
        "parameters": [PARAM_THREADS_MIN, PARAM_MODE_MIN, PARAM_INPUT_MIN],
        "ssh": {"mode": "OPTIONAL"},
    },
}
APP_ZERO = {
    "metadata": {
        "name": "acme-web",
        "version": "2.1",
        "authors": ["Acme Inc."],
        "title": "Acme web",
        "description": "A web UI.",
        "website": "",
        "public": True,
        "flavorName": None,
        "group": {"metadata": {"id": 12}, "specification": {"title": "Acme"}},
        "createdAt": 1633000000000,
    },
    "invocation": {
        "tool": {
            "name": "acme-web",
            "version": "2.1",
            "tool": {
                "owner": "admin",
                "createdAt": 1632000000000,
                "modifiedAt": 1632000000000,
                "description": {
                    "info": {"name": "acme-web", "version": "2.1"},
                    "defaultNumberOfNodes": 1,
                    "defaultTimeAllocation": {"hours": 1, "minutes": 0, "seconds": 0},
                    "requiredModules": None,
                    "authors": ["Acme Inc."],
                    "title": "Acme web",
                    "description": "",
                    "backend": "VIRTUAL_MACHINE",
                    "license": "",
                    "image": "acme-web.qcow2",
                    "container": "",
                    "supportedProviders": None,
                    "loadInstructions": None,
                },
            },
        },
        "invocation": [{"type": "word", "word": "acme-web"}],
        "parameters": [PARAM_THREADS_ZERO],
        "outputFileGlobs": ["*"],
        "applicationType": "WEB",
        "vnc": None,
        "web": {"port": 8080},
        "ssh": None,
        "container": {"changeWorkingDirectory": True, "runAsRoot": False, "runAsRealUser": False},
        "environment": None,
        "allowAdditionalMounts": None,
        "allowAdditionalPeers": None,
        "allowMultiNode": True,
        "allowPublicIp": None,
        "allowPublicLink": True,
        "jobAuditLogIsEnabled": None,
        "fileExtensions": [],
        "licenseServers": [],
        "modules": None,
        "sbatch": None,
    },
    "favorite": None,
    "versions": None,
}
APP_VNC_MIN = {
    "metadata": {"name": "desktop", "version": "1"},
    "invocation": {
        "tool": {"name": "desktop", "version": "1"},
        "applicationType": "VNC",
        "parameters": [],
        "vnc": {"password": "secret", "port": 5900},
        "jobAuditLogIsEnabled": True,
        "container": {"changeWorkingDirectory": False, "runAsRoot": True, "runAsRealUser": False},
    },
}

# --- parameter values: the 14 variants, each minimal and zero-filled (every Go field written) ------


VALUES_MIN: list[dict[str, Any]] = [
    {"type": "file", "path": "/12512/shared", "readOnly": False},
    {"type": "file", "path": "/12512/data", "readOnly": True, "mountPath": "/mnt/data"},
    {"type": "boolean", "value": True},
    {"type": "text", "value": "Hello, World!"},
    {"type": "integer", "value": 42},
    {"type": "floating_point", "value": 0.5},
    {"type": "peer", "hostname": "db", "jobId": "123"},
    {"type": "license_server", "id": "77"},
    {"type": "block_storage", "id": "9"},
    {"type": "network", "id": "31"},
    {"type": "ingress", "id": "55", "port": 0},
    {"type": "ingress", "id": "56", "port": 8080},
    {"type": "workflow", "specification": {"inputs": [PARAM_INPUT_MIN], "init": "echo hi"}},
    {"type": "modules", "modules": ["gcc/12", "openmpi/4"]},
    {"type": "private_network", "id": "4"},
    {"type": "api_server", "server": "https://api.example.org", "token": "t0k", "tokenType": "bearer"},
]

# --- jobs -------------------------------------------------------------------------------------------

SPEC_MIN = {
    "product": PRODUCT_REF,
    "labels": {},
    "application": {"name": "acme-batch", "version": "1.0.0"},
    "replicas": 2,
    "allowDuplicateJob": False,
    "parameters": {
        "threads": {"type": "integer", "value": 8},
        "data": {"type": "file", "path": "/12512/data", "readOnly": True},
    },
    "resources": [{"type": "ingress", "id": "55", "port": 0}, {"type": "network", "id": "31"}],
    "timeAllocation": {"hours": 1, "minutes": 30, "seconds": 0},
}
SPEC_ZERO = {
    "product": PRODUCT_REF,
    "labels": None,
    "application": {"name": "acme-batch", "version": "1.0.0"},
    "name": "",
    "hostname": None,
    "replicas": 1,
    "allowDuplicateJob": False,
    "parameters": {"threads": go_value({"type": "integer", "value": 8})},
    "resources": None,
    "timeAllocation": None,
    "openedFile": "",
    "restartOnExit": False,
    "sshEnabled": False,
}
UPDATE_MIN = {"state": "RUNNING", "status": "The job is now running", "timestamp": 1633329780000}
UPDATE_ZERO = {
    "state": "SUCCESS",
    "outputFolder": None,
    "status": "Job finished",
    "expectedState": "RUNNING",
    "expectedDifferentState": None,
    "newTimeAllocation": None,
    "allowRestart": None,
    "resourceList": None,
    "timestamp": 0,
}
UPDATE_RESOURCES_MIN = {
    "newTimeAllocation": 7_200_000,
    "resourceList": [],
    "expectedDifferentState": True,
    "timestamp": 0,
}
PRODUCT_MIN = {
    "type": "compute",
    "category": {
        "name": "u1-standard",
        "provider": "k8s",
        "productType": "COMPUTE",
        "accountingUnit": {
            "name": "Core",
            "namePlural": "Core hours",
            "floatingPoint": False,
            "displayFrequencySuffix": True,
        },
        "accountingFrequency": "PERIODIC_HOUR",
        "freeToUse": False,
        "allowSubAllocations": True,
    },
    "name": "u1-standard-4",
    "description": "4 vCPU, 16 GB",
    "productType": "COMPUTE",
    "price": 4,
    "hiddenInGrantApplications": False,
    "cpu": 4,
    "memoryInGigs": 16,
    "gpu": 0,
}
PRODUCT_ZERO = {
    **PRODUCT_MIN,
    "fraction": {"numerator": 1, "denominator": 4},
    "usage": None,
    "cpuModel": "AMD EPYC",
    "memoryModel": "",
    "gpuModel": "",
    "balance": 0,
    "maxUsableBalance": 0,
}
SUPPORT_MIN = {
    "product": PRODUCT_REF,
    "docker": {
        "enabled": True,
        "web": True,
        "vnc": True,
        "logs": True,
        "terminal": True,
        "peers": True,
        "timeExtension": True,
    },
    "virtualMachine": {},
    "native": {},
}
SUPPORT_ZERO = {
    "product": PRODUCT_REF,
    "docker": {"enabled": False},
    "virtualMachine": {
        "enabled": True,
        "web": True,
        "vnc": True,
        "logs": True,
        "terminal": True,
        "peers": True,
        "suspension": True,
        "bindLinkToPort": True,
    },
    "native": None,
    "queueStatus": "BUSY",
}
STATUS_ZERO = {
    "state": "RUNNING",
    "jobParametersJson": {
        "siteVersion": 3,
        "request": {"replicas": 1},
        "machineType": {"cpu": 4, "memoryInGigs": 16},
    },
    "startedAt": 1633329780000,
    "expiresAt": 1633335180000,
    "resolvedApplication": APP_ZERO,
    "resolvedProduct": PRODUCT_ZERO,
    "resolvedSupport": {"product": PRODUCT_ZERO, "support": SUPPORT_ZERO, "features": ["jobs.vm.enabled"]},
    "allowRestart": False,
}
OWNER_ZERO = {"createdBy": "alice", "project": None}
PERMISSIONS_ZERO = {
    "myself": ["ADMIN", "READ", "EDIT"],
    "others": [
        {"entity": {"type": "project_group", "projectId": "p-42", "group": "g-1"}, "permissions": ["READ"]}
    ],
}
JOB_MIN = {
    "id": "54112",
    "createdAt": 1633329776235,
    "owner": {"createdBy": "alice", "project": "p-42"},
    "updates": [UPDATE_MIN],
    "specification": SPEC_MIN,
    "status": {"state": "RUNNING", "startedAt": 1633329780000, "allowRestart": False},
    "output": {},
}
JOB_ZERO = {
    "id": "54113",
    "createdAt": 1633329776235,
    "owner": OWNER_ZERO,
    "permissions": PERMISSIONS_ZERO,
    "providerGeneratedId": "k8s-54113",
    "updates": [UPDATE_ZERO],
    "specification": SPEC_ZERO,
    "status": STATUS_ZERO,
    "output": {"outputFolder": "/12512/Jobs/acme/54113"},
}

# --- resources and accounting -------------------------------------------------------------------------

INGRESS_ZERO = {
    "id": "55",
    "createdAt": 1633000000000,
    "owner": OWNER_ZERO,
    "permissions": None,
    "providerGeneratedId": None,
    "specification": {"domain": "app-alice.cloud.example.org", "product": PRODUCT_REF, "labels": None},
    "status": {"boundTo": None, "state": "READY"},
    "updates": None,
}
PUBLIC_IP_MIN = {
    "id": "31",
    "createdAt": 1633000000000,
    "owner": {"createdBy": "alice"},
    "specification": {
        "product": PRODUCT_REF,
        "firewall": {"openPorts": [{"start": 22, "end": 22, "protocol": "TCP"}]},
    },
    "status": {"boundTo": ["54112"], "state": "READY", "ipAddress": "203.0.113.7"},
    "updates": [],
}
LICENSE_MIN = {
    "id": "77",
    "createdAt": 1633000000000,
    "owner": {"createdBy": "alice", "project": "p-42"},
    "specification": {"product": PRODUCT_REF},
    "status": {"boundTo": [], "state": "PREPARING"},
    "updates": [{"timestamp": 1633000000001, "status": "Waiting for the license server"}],
}
WALLET_MIN = {
    "owner": {"type": "project", "projectId": "p-42"},
    "paysFor": {"name": "u1-standard", "provider": "k8s"},
    "quota": 1_000_000,
    "maxUsable": 250_000,
}
WALLET_ZERO = {
    "owner": {"type": "user", "username": "alice", "projectId": ""},
    "paysFor": {"name": "u1-standard", "provider": "k8s"},
    "quota": 1000,
    "maxUsable": 0,
}
REPORT_MIN = {
    "isDeltaCharge": False,
    "owner": {"type": "user", "username": "alice"},
    "categoryIdV2": {"name": "u1-standard", "provider": "k8s"},
    "usage": 120,
    "description": {"scope": "job-54112"},
}
REPORT_ZERO = {
    "isDeltaCharge": True,
    "owner": {"type": "project", "username": "", "projectId": "p-42"},
    "categoryIdV2": {"name": "u1-standard", "provider": "k8s"},
    "usage": -5,
    "description": {"scope": None, "description": "refund"},
}

# --- envelopes and call items ------------------------------------------------------------------------

SESSION_SHELL_ZERO = {
    "type": "shell",
    "jobId": "54112",
    "rank": 0,
    "sessionIdentifier": "abc",
    "redirectClientTo": "",
    "url": "",
    "password": None,
    "domainOverride": None,
}

# (type, minimal JSON, zero-filled JSON)
CASES: list[tuple[str, Any, Any, Any]] = [
    ("Application", Application, APP_MIN, APP_ZERO),
    ("Application/vnc", Application, APP_VNC_MIN, APP_VNC_MIN),
    *[(f"value/{v['type']}", AppParameterValue, v, go_value(v)) for v in VALUES_MIN],
    ("Job", Job, JOB_MIN, JOB_ZERO),
    ("JobUpdate", JobUpdate, UPDATE_MIN, UPDATE_ZERO),
    ("JobUpdate/resources", JobUpdate, UPDATE_RESOURCES_MIN, {**UPDATE_RESOURCES_MIN, "state": None}),
    ("ProductV2", ProductV2, PRODUCT_MIN, PRODUCT_ZERO),
    ("JobSupport", JobSupport, SUPPORT_MIN, SUPPORT_ZERO),
    (
        "Ingress",
        Ingress,
        {
            **INGRESS_ZERO,
            "owner": {"createdBy": "alice"},
            "permissions": {"myself": ["READ"]},
            "specification": {"domain": "x.example.org", "product": PRODUCT_REF},
            "status": {"boundTo": [], "state": "UNAVAILABLE"},
            "updates": [],
            "providerGeneratedId": "ing-55",
        },
        INGRESS_ZERO,
    ),
    (
        "PublicIP",
        PublicIP,
        PUBLIC_IP_MIN,
        {**PUBLIC_IP_MIN, "status": {"boundTo": None, "state": "READY", "ipAddress": None}},
    ),
    ("License", License, LICENSE_MIN, {**LICENSE_MIN, "permissions": None}),
    ("Wallet", Wallet, WALLET_MIN, WALLET_ZERO),
    ("ReportUsageRequest", ReportUsageRequest, REPORT_MIN, REPORT_ZERO),
    (
        "jobs.create",
        BulkRequest[JobSpecification],
        {"items": [SPEC_MIN]},
        {"items": [SPEC_ZERO]},
    ),
    (
        "jobs.create/response",
        BulkResponse[FindByStringId],
        {"responses": [{"id": "54112"}]},
        {"responses": [{"id": "54112"}]},
    ),
    ("jobs.terminate/response", BulkResponse[Empty], {"responses": [{}, {}]}, {"responses": None}),
    (
        "jobs.extend",
        BulkRequest[JobsExtendRequestItem],
        {"items": [{"jobId": "54112", "requestedTime": {"hours": 1, "minutes": 0, "seconds": 0}}]},
        {"items": [{"jobId": "54112", "requestedTime": {"hours": 0, "minutes": 30, "seconds": 0}}]},
    ),
    (
        "jobs.interactiveSession",
        BulkRequest[JobsOpenInteractiveSessionRequestItem],
        {"items": [{"id": "54112", "rank": 0, "sessionType": "SHELL"}]},
        {"items": [{"id": "54112", "rank": 1, "sessionType": "WEB", "target": None}]},
    ),
    (
        "jobs.interactiveSession/response",
        BulkResponse[OpenSessionWithProvider],
        {
            "responses": [
                {
                    "providerDomain": "https://k8s.example.org",
                    "providerId": "k8s",
                    "session": {
                        "type": "web",
                        "jobId": "54112",
                        "rank": 0,
                        "redirectClientTo": "https://app.example.org/x",
                    },
                }
            ]
        },
        {
            "responses": [
                {
                    "providerDomain": "https://k8s.example.org",
                    "providerId": "k8s",
                    "session": SESSION_SHELL_ZERO,
                }
            ]
        },
    ),
    ("jobs.provider.create", BulkRequest[Job], {"items": [JOB_MIN]}, {"items": [JOB_ZERO]}),
    (
        "jobs.provider.create/response",
        BulkResponse[FindByStringId | None],
        {"responses": [{"id": "k8s-1"}]},
        {"responses": [None]},
    ),
    (
        "jobs.provider.extend",
        BulkRequest[JobsProviderExtendRequestItem],
        {"items": [{"job": JOB_MIN, "requestedTime": {"hours": 2, "minutes": 0, "seconds": 0}}]},
        {"items": [{"job": JOB_ZERO, "requestedTime": {"hours": 0, "minutes": 0, "seconds": 30}}]},
    ),
    (
        "jobs.provider.suspend",
        BulkRequest[JobsProviderSuspendRequestItem],
        {"items": [{"job": JOB_MIN}]},
        {"items": [{"job": JOB_ZERO}]},
    ),
    (
        "jobs.provider.follow",
        JobsProviderFollowRequest,
        {"type": "init", "job": JOB_MIN},
        {"type": "cancel", "job": None, "streamId": "s-1"},
    ),
    (
        "jobs.provider.interactiveSession",
        BulkRequest[JobsProviderOpenInteractiveSessionRequestItem],
        {"items": [{"job": JOB_MIN, "rank": 1, "sessionType": "VNC"}]},
        {"items": [{"job": JOB_ZERO, "rank": 0, "sessionType": "SHELL", "target": None}]},
    ),
    (
        "jobs.provider.interactiveSession/response",
        BulkResponse[OpenSession],
        {
            "responses": [
                {
                    "type": "vnc",
                    "jobId": "54112",
                    "rank": 0,
                    "url": "vnc://k8s.example.org:5900",
                    "password": "secret",
                }
            ]
        },
        {"responses": [SESSION_SHELL_ZERO]},
    ),
    (
        "jobs.control.update",
        BulkRequest[ResourceUpdateAndId[JobUpdate]],
        {"items": [{"id": "54112", "update": UPDATE_MIN}]},
        {"items": [{"id": "54112", "update": UPDATE_ZERO}]},
    ),
    ("jobs.control.update/response", Empty, {}, {}),
    (
        "jobs.browse",
        PageV2[Job],
        {"items": [JOB_MIN], "itemsPerPage": 50, "next": "token-2"},
        {"items": None, "itemsPerPage": 50, "next": None},
    ),
    (
        "accounting.reportUsage",
        BulkRequest[ReportUsageRequest],
        {"items": [REPORT_MIN]},
        {"items": [REPORT_ZERO]},
    ),
    (
        "accounting.reportUsage/response",
        BulkResponse[bool],
        {"responses": [True, False]},
        {"responses": [True]},
    ),
]


def _walk(obj: Any, seen: set[type]) -> None:
    """Collect the classes of every model instance inside ``obj``."""
    if isinstance(obj, BaseModel):
        cls = type(obj)
        seen.add(cls)
        origin = cls.__pydantic_generic_metadata__["origin"]
        if origin is not None:
            seen.add(origin)
        for name in type(obj).model_fields:
            _walk(getattr(obj, name), seen)
    elif isinstance(obj, list | tuple):
        for item in obj:
            _walk(item, seen)
    elif isinstance(obj, dict):
        for item in obj.values():
            _walk(item, seen)


def _assert_none_fields_omitted(obj: Any, dumped: Any, path: str = "") -> None:
    """Every model field holding ``None`` is absent from the dumped JSON, at every depth."""
    if isinstance(obj, BaseModel):
        assert isinstance(dumped, dict), path
        for name, info in type(obj).model_fields.items():
            key = info.alias or name
            value = getattr(obj, name)
            if value is None:
                assert key not in dumped, f"{path}.{key} is None but was written"
            elif key in dumped:
                _assert_none_fields_omitted(value, dumped[key], f"{path}.{key}")
    elif isinstance(obj, list) and isinstance(dumped, list):
        for i, (item, out) in enumerate(zip(obj, dumped, strict=True)):
            _assert_none_fields_omitted(item, out, f"{path}.{i}")
    elif isinstance(obj, dict) and isinstance(dumped, dict):
        for key, item in obj.items():
            _assert_none_fields_omitted(item, dumped[key], f"{path}.{key}")


def _dump(adapter: TypeAdapter[Any], value: Any) -> Any:
    return adapter.dump_python(value, mode="json", by_alias=True, exclude_none=True)


@pytest.mark.parametrize(("label", "tp", "minimal", "zero_filled"), CASES, ids=[c[0] for c in CASES])
def test_minimal_form_round_trips_exactly(label: str, tp: Any, minimal: Any, zero_filled: Any) -> None:
    adapter = TypeAdapter(tp)
    value = adapter.validate_python(minimal)
    dumped = value.to_wire() if isinstance(value, WireModel) else _dump(adapter, value)
    assert dumped == minimal
    _assert_none_fields_omitted(value, dumped)


@pytest.mark.parametrize(("label", "tp", "minimal", "zero_filled"), CASES, ids=[c[0] for c in CASES])
def test_zero_filled_form_parses_and_round_trips(label: str, tp: Any, minimal: Any, zero_filled: Any) -> None:
    adapter = TypeAdapter(tp)
    value = adapter.validate_python(zero_filled)
    dumped = value.to_wire() if isinstance(value, WireModel) else _dump(adapter, value)
    _assert_none_fields_omitted(value, dumped)
    assert adapter.validate_python(dumped) == value
    if isinstance(value, WireModel):
        assert type(value).from_json(value.to_json()) == value


def test_zero_filled_union_values_keep_only_their_own_fields() -> None:
    """Go's zero-filled value reads as the minimal one plus the variant's own zero fields (``mountPath``)."""
    adapter = TypeAdapter(AppParameterValue)
    for minimal in VALUES_MIN:
        value = adapter.validate_python(go_value(minimal))
        own = {info.alias or name for name, info in type(value).model_fields.items()}
        expected = {
            k: v for k, v in go_value(minimal).items() if k in minimal or (k in own and v is not None)
        }
        assert value.to_wire() == expected
        assert set(expected) - set(minimal) <= {"mountPath"}


def test_cases_cover_every_wire_model() -> None:
    seen: set[type] = set()
    for _, tp, minimal, zero_filled in CASES:
        adapter = TypeAdapter(tp)
        _walk(adapter.validate_python(minimal), seen)
        _walk(adapter.validate_python(zero_filled), seen)
    expected = {
        tp
        for name, tp in wire_types().items()
        if "." not in name and isinstance(tp, type) and issubclass(tp, WireModel)
    }
    expected |= {BulkRequest, BulkResponse, ResourceUpdateAndId, PageV2}
    missing = sorted(t.__name__ for t in expected - seen)
    assert not missing, f"no round-trip case instantiates {missing}"
    assert any(issubclass(t, GoUnionVariant) for t in seen)
