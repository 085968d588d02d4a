"""Shared samples for the trace tests: valid call lines and a catalog in UCloud's real JSON shapes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest


def _call(seq: int = 1, time: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid call line (a ``jobs.control.update`` to SUCCESS) with some fields replaced."""
    line: dict[str, Any] = {
        "seq": seq,
        "time": time,
        "actor": "provider:k8s",
        "call": "jobs.control.update",
        "request": {"items": [{"id": "7", "update": {"state": "SUCCESS", "status": "Job finished"}}]},
        "response": {"status": 200, "body": None},
        "facts": {"7": {"cause": "exit", "exitCode": 0, "runningMs": 61000, "coreState": "SUCCESS"}},
    }
    line.update(overrides)
    return line


@pytest.fixture
def call() -> Callable[..., dict[str, Any]]:
    """``call(seq, time, **overrides)`` -> a valid call line as a dict."""
    return _call


@pytest.fixture
def trace_file(tmp_path: Path) -> Callable[..., Path]:
    """``trace_file(*lines, name=...)`` writes lines (dicts are JSON-encoded, bytes written as they are,
    each followed by a newline) and returns the path."""

    def write(*lines: dict[str, Any] | bytes, name: str = "trace.jsonl") -> Path:
        path = tmp_path / name
        path.write_bytes(
            b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines)
        )
        return path

    return write


# A catalog as UCloud's Go services write it (reference ucloud-jobs.md §1, §3.2, §4.1, §5.5, §6.3, §8),
# zero-filled and with fields the wire models do not declare.
_CATALOG: dict[str, Any] = {
    "kind": "catalog",
    "version": 1,
    "applications": [
        {
            "metadata": {
                "name": "terminal-ubuntu",
                "version": "0.21.0",
                "authors": ["SDU eScience"],
                "title": "Terminal",
                "description": "A terminal in the browser",
                "website": "https://docs.cloud.sdu.dk/Apps/terminal.html",
                "public": True,
                "flavorName": None,
                "group": {"id": 12, "title": "Terminal"},
                "createdAt": 1633329776235,
            },
            "invocation": {
                "tool": {
                    "name": "terminal-ubuntu",
                    "version": "0.21.0",
                    "tool": {
                        "owner": "admin@escience",
                        "createdAt": 1633329776235,
                        "modifiedAt": 1633329776235,
                        "description": {
                            "info": {"name": "terminal-ubuntu", "version": "0.21.0"},
                            "defaultNumberOfNodes": 1,
                            "defaultTimeAllocation": {"hours": 1, "minutes": 0, "seconds": 0},
                            "requiredModules": [],
                            "authors": ["SDU eScience"],
                            "title": "Terminal",
                            "description": "",
                            "backend": "DOCKER",
                            "license": "",
                            "image": "dreg.cloud.sdu.dk/ucloud-apps/terminal-ubuntu:0.21.0",
                            "container": "dreg.cloud.sdu.dk/ucloud-apps/terminal-ubuntu:0.21.0",
                            "supportedProviders": None,
                        },
                    },
                },
                "invocation": [{"type": "word", "word": "start-terminal"}],
                "parameters": [
                    {
                        "type": "integer",
                        "name": "threads",
                        "optional": True,
                        "defaultValue": {"value": 4},
                        "title": "Threads",
                        "description": "Number of threads",
                        "min": 1,
                        "max": 64,
                        "step": 1,
                        "unitName": "",
                    }
                ],
                "outputFileGlobs": ["*"],
                "applicationType": "WEB",
                "web": {"port": 7681},
                "ssh": {"mode": "OPTIONAL"},
                "container": {"changeWorkingDirectory": True, "runAsRoot": False, "runAsRealUser": False},
                "environment": None,
                "allowMultiNode": True,
                "allowPublicLink": True,
                "fileExtensions": [],
                "licenseServers": [],
            },
            "favorite": False,
            "versions": ["0.20.0", "0.21.0"],
        }
    ],
    "products": [
        {
            "type": "compute",
            "category": {
                "name": "u1-standard",
                "provider": "k8s",
                "productType": "COMPUTE",
                "accountingUnit": {
                    "name": "Core",
                    "namePlural": "Cores",
                    "floatingPoint": False,
                    "displayFrequencySuffix": True,
                },
                "accountingFrequency": "PERIODIC_MINUTE",
                "freeToUse": False,
                "allowSubAllocations": True,
            },
            "name": "u1-standard-4",
            "description": "4 vCPU, 16 GB RAM",
            "productType": "COMPUTE",
            "price": 4,
            "hiddenInGrantApplications": False,
            "cpu": 4,
            "cpuModel": "AMD EPYC 7742",
            "memoryInGigs": 16,
            "memoryModel": None,
            "gpu": 0,
            "gpuModel": None,
        }
    ],
    "support": [
        {
            "product": {"id": "u1-standard-4", "category": "u1-standard", "provider": "k8s"},
            "docker": {
                "enabled": True,
                "web": True,
                "vnc": True,
                "logs": True,
                "terminal": True,
                "peers": True,
                "timeExtension": True,
            },
            "virtualMachine": None,
            "native": {"enabled": False},
            "queueStatus": "AVAILABLE",
        }
    ],
    "resources": [
        {
            "type": "ingress",
            "id": "55",
            "createdAt": 1633329000000,
            "owner": {"createdBy": "alice", "project": None},
            "permissions": {"myself": ["ADMIN", "READ", "EDIT"], "others": []},
            "specification": {
                "domain": "app-alice.cloud.sdu.dk",
                "product": {"id": "public-link", "category": "public-link", "provider": "k8s"},
            },
            "status": {"boundTo": [], "state": "READY"},
            "updates": [],
        },
        {
            "type": "network_ip",
            "id": "31",
            "createdAt": 1633329000001,
            "owner": {"createdBy": "alice", "project": "p-42"},
            "specification": {"product": {"id": "public-ip", "category": "public-ip", "provider": "k8s"}},
            "status": {"boundTo": ["12"], "state": "READY", "ipAddress": "130.225.164.10"},
        },
        {
            "type": "license",
            "id": "77",
            "createdAt": 1633329000002,
            "owner": {"createdBy": "alice"},
            "specification": {"product": {"id": "matlab", "category": "licenses", "provider": "k8s"}},
            "status": {"boundTo": None, "state": "PREPARING"},
        },
    ],
    "wallets": [
        {
            "owner": {"type": "user", "username": "alice", "projectId": ""},
            "paysFor": {"name": "u1-standard", "provider": "k8s"},
            "quota": 60000,
            "maxUsable": 42000,
        },
        {
            "owner": {"type": "project", "projectId": "p-42"},
            "paysFor": {"name": "u1-standard", "provider": "k8s"},
            "quota": 100,
            "maxUsable": 0,
        },
    ],
}


@pytest.fixture
def catalog_json() -> dict[str, Any]:
    """A catalog line in UCloud's JSON (a fresh deep copy per test)."""
    return copy.deepcopy(_CATALOG)
