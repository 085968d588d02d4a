"""How Go writes a parameter value: the union struct with every field, zero where unused (shared by
the wire tests)."""

from __future__ import annotations

from typing import Any

GO_VALUE_ZEROS: dict[str, Any] = {
    "path": "",
    "mountPath": "",
    "readOnly": False,
    "value": None,
    "hostname": "",
    "jobId": "",
    "id": "",
    "port": 0,
    "tls": False,
    "server": "",
    "token": "",
    "tokenType": "",
    "modules": None,
    "specification": None,
}


def go_value(minimal: dict[str, Any]) -> dict[str, Any]:
    """The value as Go writes it: every field of the union struct, zero where unused."""
    return {"type": minimal["type"], **GO_VALUE_ZEROS, **{k: v for k, v in minimal.items() if k != "type"}}
