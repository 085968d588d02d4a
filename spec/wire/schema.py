"""JSON Schema export of the wire models, so that provider teams in any language can validate payloads.

* :func:`all_schemas` - ``{name: JSON Schema}`` for every wire model (``"Job"``, ``"JobUpdate"``, ...),
  for the unions (``"AppParameterValue"``, ``"WalletOwner"``, ``"OpenSession"``), for the request and
  response of every call of a trace (``"jobs.control.update.request"``, ...), and for whatever other
  modules registered with :func:`register_schema` (the trace line models of :mod:`spec.trace`);
* :func:`write_schemas` - the same, one file ``<name>.schema.json`` per schema.

Schemas are draft 2020-12, in *validation* mode (what a receiver accepts: Go's zero-filled shapes
too), with UCloud's camelCase names. Each is self-contained (its own ``$defs``).

>>> schemas = all_schemas()
>>> schemas["JobUpdate"]["properties"]["state"]["anyOf"][0]["$ref"]
'#/$defs/JobState'
>>> "jobs.control.update.request" in schemas
True
"""

from __future__ import annotations

import importlib
import warnings
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter

import spec.wire as wire
from spec.wire.base import GoUnionVariant, WireModel
from spec.wire.calls import CALLS

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "all_schemas",
    "register_schema",
    "schema_of",
    "wire_types",
    "write_schemas",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_UNIONS: dict[str, Any] = {
    "AppParameterValue": wire.AppParameterValue,
    "WalletOwner": wire.WalletOwner,
    "OpenSession": wire.OpenSession,
}

_REGISTERED: dict[str, Any] = {}


def register_schema(name: str, model_or_adapter: Any) -> None:
    """Add ``model_or_adapter`` (a pydantic model, any ``TypeAdapter``-able type, or a ``TypeAdapter``)
    to :func:`all_schemas` under ``name``.

    Other modules call this at import (``spec.trace`` registers its line models). Registering a name
    again replaces the earlier entry; a name of a built-in wire schema is refused with ``ValueError``.
    """
    if name in wire_types():
        raise ValueError(f"{name!r} is the name of a built-in wire schema; register under another name")
    _REGISTERED[name] = model_or_adapter


def wire_types() -> dict[str, Any]:
    """The built-in types :func:`all_schemas` exports, by schema name (models, unions, call bodies).

    Enumerations (``JobState``, ...) have a schema of their own too. Generic envelopes appear only specialised, as the body of a call; abstract bases
    (``WireModel``, ``GoUnionVariant``, ``Resource``) and aliases (``Product``) do not appear.
    """
    types: dict[str, Any] = {}
    for name in sorted(wire.__all__):
        obj = getattr(wire, name)
        if not isinstance(obj, type) or obj.__name__ != name:
            continue
        if issubclass(obj, Enum):
            types[name] = obj
            continue
        if not issubclass(obj, WireModel):
            continue
        if obj in (WireModel, GoUnionVariant, wire.Resource):
            continue
        if obj.__pydantic_generic_metadata__["parameters"]:  # BulkRequest[T] etc.: unspecialised
            continue
        types[name] = obj
    types.update(_UNIONS)
    for call, spec in CALLS.items():
        if spec.request_model is not None:
            types[f"{call}.request"] = spec.request_model
        if spec.response_model is not None:
            types[f"{call}.response"] = spec.response_model
    return types


def schema_of(name: str, tp: Any) -> dict[str, Any]:
    """The JSON Schema (validation mode, camelCase) of one model, type or ``TypeAdapter``."""
    if isinstance(tp, TypeAdapter):
        schema = tp.json_schema(mode="validation", by_alias=True)
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        schema = tp.model_json_schema(mode="validation", by_alias=True)
    else:
        schema = TypeAdapter(tp).json_schema(mode="validation", by_alias=True)
    schema.setdefault("title", name)
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def _load_registrations() -> None:
    """Import :mod:`spec.trace` (if it exists) so that it registers its schemas."""
    try:
        importlib.import_module("spec.trace")
    except ModuleNotFoundError as error:
        if error.name != "spec.trace":
            warnings.warn(
                f"spec.trace could not be imported; its schemas are left out: {error}", stacklevel=3
            )
    except ImportError as error:
        warnings.warn(f"spec.trace could not be imported; its schemas are left out: {error}", stacklevel=3)


def all_schemas() -> dict[str, dict[str, Any]]:
    """``{name: JSON Schema}`` of every wire model, union and call body, then the registered ones."""
    _load_registrations()
    out = {name: schema_of(name, tp) for name, tp in wire_types().items()}
    for name, tp in _REGISTERED.items():
        out[name] = schema_of(name, tp)
    return out


def write_schemas(out_dir: str | Path) -> list[Path]:
    """Write each schema of :func:`all_schemas` to ``out_dir/<name>.schema.json`` (indented, UTF-8,
    newline-terminated; the directory is created). Returns the paths written, in order."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, schema in all_schemas().items():
        path = directory / f"{name}.schema.json"
        path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2) + b"\n")
        written.append(path)
    return written
