"""The shared base of every wire model: camelCase JSON, minimal output, Go-tolerant input.

UCloud's services are written in Go (``provider-integration/shared/pkg/...``). Go's ``encoding/json``
shapes the JSON that crosses the network, and three of its habits shape this module:

* **camelCase names** (``createdAt``, ``timeAllocation``). Python code uses snake_case attributes;
  :class:`WireModel` maps between the two (``alias_generator=to_camel``) and accepts either on input.
* **Zero filling.** A Go struct field without ``omitempty`` is always written, with its zero value when
  unused: ``""``, ``0``, ``false``, ``null`` (for nil slices, maps and pointers). Parsing accepts that:
  :data:`GoList` / :data:`GoMap` read ``null`` as an empty list / map, and a :class:`GoUnionVariant`
  drops the zero-valued fields that belong to *other* variants of the same Go struct.
* **Unknown fields are ignored** by Go's decoder. Wire models keep them (``extra="allow"``) so that a
  payload round-trips unchanged even where this package models only part of it.

Output is minimal: :meth:`WireModel.to_wire` omits every field whose value is ``None`` (Go reads an
absent field and ``null`` alike for its ``Option``/pointer fields). Fields that Go always writes are
modelled with a non-``None`` default and always written.

Example::

    >>> from spec.wire import SimpleDuration
    >>> SimpleDuration(hours=1).to_wire()
    {'hours': 1, 'minutes': 0, 'seconds': 0}
    >>> SimpleDuration.model_validate({"hours": 0, "minutes": 5, "seconds": 0}).minutes
    5
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

import orjson
from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler, model_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

__all__ = [
    "GO_ZERO_JSON_SCHEMA",
    "GoList",
    "GoMap",
    "GoUnionVariant",
    "WireModel",
    "is_go_zero",
]


def _field_title(name: str, _info: Any) -> str:
    """JSON Schema title of a field: ``read_only`` -> ``Read only``."""
    return name.replace("_", " ").capitalize()


class WireModel(BaseModel):
    """Base class of every UCloud JSON shape.

    * attributes are snake_case, JSON keys camelCase (``created_at`` <-> ``createdAt``); both are
      accepted on input;
    * unknown keys are kept and written back (Go ignores them; we do not lose them);
    * :meth:`to_wire` / :meth:`to_json` write the minimal form: ``None`` fields are omitted.

    Models check the *shape* of a payload only. Whether a payload is acceptable to UCloud (``replicas``
    at least 1, a known application, ...) is a rule of the protocol and lives in the specification.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        field_title_generator=_field_title,
    )

    def to_wire(self) -> dict[str, Any]:
        """This model as UCloud JSON data (camelCase keys, ``None`` fields omitted)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_json(self) -> bytes:
        """This model as compact UTF-8 JSON bytes (see :meth:`to_wire`)."""
        return orjson.dumps(self.to_wire())

    @classmethod
    def from_wire(cls, data: Any) -> Self:
        """Parse UCloud JSON data (already decoded) into this model; raises ``ValidationError``."""
        return cls.model_validate(data)

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        """Parse UCloud JSON text into this model; raises ``ValidationError``."""
        return cls.model_validate_json(data)


# --- Go zero values ------------------------------------------------------------------------------

_SCALAR_ZEROS: tuple[Any, ...] = (None, "", 0, False)

GO_ZERO_JSON_SCHEMA: dict[str, Any] = {
    "description": 'Only the Go zero value is accepted here: null, "", 0, false, [] or an object of zeros.',
    "anyOf": [
        {"enum": [None, "", 0, False]},
        {"type": "array", "maxItems": 0},
        {
            "type": "object",
            "additionalProperties": {
                "anyOf": [{"enum": [None, "", 0, False]}, {"type": "array", "maxItems": 0}]
            },
        },
    ],
}
"""JSON Schema of :func:`is_go_zero` (the same set of values, as JSON)."""


def _is_scalar_zero(value: Any) -> bool:
    if value is None or value is False:
        return True
    if value is True:
        return False
    if isinstance(value, str):
        return value == ""
    if isinstance(value, int | float):
        return value == 0
    return isinstance(value, list) and len(value) == 0


def is_go_zero(value: Any) -> bool:
    """Whether ``value`` is what Go writes for an unused field.

    That is ``None``, ``""``, ``0``, ``0.0``, ``False``, ``[]``, or an object whose members are all
    one of those (a zero-valued Go struct). ``True`` and ``1`` are not zero even though ``True == 1``.

    >>> [is_go_zero(v) for v in (None, "", 0, False, [], {"a": ""}, "x", 1, True, ["x"])]
    [True, True, True, True, True, True, False, False, False, False]
    """
    if isinstance(value, dict):
        return all(_is_scalar_zero(v) for v in value.values())
    return _is_scalar_zero(value)


# --- nil slices and maps -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _NilAsEmpty:
    """Annotation that reads JSON ``null`` as an empty container and says so in the JSON Schema.

    It wraps the schema of the annotated type (instead of naming an input type) so that it keeps
    working inside generic models such as ``BulkRequest[T]`` once ``T`` is substituted.
    """

    empty: Callable[[], Any]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        empty = self.empty
        return core_schema.no_info_before_validator_function(
            lambda value: empty() if value is None else value, handler(source)
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        inner = handler(schema)
        if isinstance(inner.get("type"), str):  # {"type": ["array", "null"], ...} keeps error paths precise
            return {**inner, "type": [inner["type"], "null"]}
        return {"anyOf": [inner, {"type": "null"}]}


if TYPE_CHECKING:  # type checkers see plain lists and dicts
    GoList = list
    GoMap = dict
else:

    class GoList:
        """``GoList[T]`` is ``list[T]`` that also reads JSON ``null`` as ``[]`` (a Go nil slice).

        The JSON Schema accepts ``null`` too; output is always a list.
        """

        def __class_getitem__(cls, item: Any) -> Any:
            return Annotated[list[item], _NilAsEmpty(list)]

    class GoMap:
        """``GoMap[K, V]`` is ``dict[K, V]`` that also reads JSON ``null`` as ``{}`` (a Go nil map)."""

        def __class_getitem__(cls, items: tuple[Any, Any]) -> Any:
            key, value = items
            return Annotated[dict[key, value], _NilAsEmpty(dict)]


# --- Go "union structs" --------------------------------------------------------------------------


def _variant_json_schema(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    """JSON Schema of a :class:`GoUnionVariant`: foreign keys must hold a Go zero, the tag is required."""
    schema["additionalProperties"] = GO_ZERO_JSON_SCHEMA
    tag = getattr(cls, "discriminator_key", "type")
    required: list[str] = schema.setdefault("required", [])
    if tag in schema.get("properties", {}) and tag not in required:
        required.insert(0, tag)


class GoUnionVariant(WireModel):
    """One variant of a Go *union struct*: a single struct whose ``type`` field says which of its
    other fields mean something, e.g. ``AppParameterValue`` (``orchestrators/applications.go``) or
    ``WalletOwner`` (``accounting/accounting.go``).

    Go writes every field of such a struct, zero-filled when unused::

        {"type": "file", "path": "/1/x", "readOnly": false, "value": null, "hostname": "", "port": 0, ...}

    A variant subclass declares only its own fields and a ``type: Literal[...]`` tag. Before
    validation, every key that is not one of its own fields is dropped *if it holds a Go zero*
    (:func:`is_go_zero`); a foreign key with a non-zero value is an ``extra_forbidden`` error whose
    location names the key, e.g. ``parameters.x.file.port``. Used in a pydantic discriminated union
    (``Field(discriminator="type")``), an unknown tag is a ``union_tag_invalid`` error.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_variant_json_schema)

    discriminator_key: ClassVar[str] = "type"
    _own_keys: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        keys: set[str] = set()
        for name, info in cls.model_fields.items():
            keys.add(name)
            if info.alias:
                keys.add(info.alias)
        cls._own_keys = frozenset(keys)

    @model_validator(mode="before")
    @classmethod
    def _drop_zero_foreign_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        own = cls._own_keys
        return {key: value for key, value in data.items() if key in own or not is_go_zero(value)}
