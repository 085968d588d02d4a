"""The exported JSON Schemas agree with the pydantic models, on the reference example and on errors.

The reference's §1.8 example (a job as a provider receives it in ``jobs.provider.create``, with each
``{...}`` replaced by ``null``) must be accepted by both; a wrong discriminator or a non-zero field of
another variant must be refused by both, with the pydantic error naming the path.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from go_shapes import go_value
from pydantic import BaseModel, TypeAdapter, ValidationError

import spec.wire.schema as schema_module
from spec.wire import CALL_NAMES, CALLS, BulkRequest, Job, JobState, JobUpdate
from spec.wire.schema import all_schemas, register_schema, schema_of, wire_types, write_schemas
from ucsim.cli import main

# Reference ucloud-jobs.md §1.8, verbatim except `{...}` -> null.
REFERENCE_EXAMPLE: dict[str, Any] = json.loads(
    """
{"items":[{
  "id":"54112","createdAt":1633329776235,
  "owner":{"createdBy":"user","project":null},
  "permissions":{"myself":["ADMIN","READ","EDIT"],"others":[]},
  "updates":[],
  "specification":{
    "product":{"id":"example-compute-1","category":"example-compute","provider":"example"},
    "labels":{},
    "application":{"name":"acme-batch","version":"1.0.0"},
    "replicas":1,"allowDuplicateJob":false,
    "parameters":{"debug":{"type":"boolean","value":true},"value":{"type":"text","value":"Hello, World!"}},
    "resources":[],
    "timeAllocation":{"hours":1,"minutes":0,"seconds":0}
  },
  "status":{"state":"IN_QUEUE","jobParametersJson":null,"resolvedApplication":null,"allowRestart":false},
  "output":{"outputFolder":null}
}]}
"""
)

GO_FILE_VALUE = go_value({"type": "file", "path": "/1/x"})


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    return all_schemas()


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


def _with_parameter(value: Any) -> dict[str, Any]:
    example = copy.deepcopy(REFERENCE_EXAMPLE)
    example["items"][0]["specification"]["parameters"]["x"] = value
    return example


def test_every_schema_is_a_valid_draft_2020_12_schema(schemas: dict[str, dict[str, Any]]) -> None:
    assert len(schemas) > 50
    for name, schema in schemas.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name


def test_reference_example_parses_and_validates(schemas: dict[str, dict[str, Any]]) -> None:
    request = BulkRequest[Job].model_validate(REFERENCE_EXAMPLE)
    job = request.items[0]
    assert job.id == "54112"
    assert job.state is JobState.IN_QUEUE
    assert job.specification.time_allocation is not None
    assert job.specification.time_allocation.to_millis() == 3_600_000
    assert job.specification.parameters["debug"].value is True
    _validator(schemas["jobs.provider.create.request"]).validate(REFERENCE_EXAMPLE)
    _validator(schemas["Job"]).validate(REFERENCE_EXAMPLE["items"][0])
    # what we write is accepted by the schema too, and reads back the same
    _validator(schemas["jobs.provider.create.request"]).validate(request.to_wire())
    assert BulkRequest[Job].model_validate(request.to_wire()) == request


def test_zero_filled_value_is_accepted_by_both(schemas: dict[str, dict[str, Any]]) -> None:
    example = _with_parameter(GO_FILE_VALUE)
    _validator(schemas["jobs.provider.create.request"]).validate(example)
    value = BulkRequest[Job].model_validate(example).items[0].specification.parameters["x"]
    assert value.to_wire() == {"type": "file", "path": "/1/x", "readOnly": False, "mountPath": ""}


@pytest.mark.parametrize(
    ("value", "error_type", "loc_suffix"),
    [
        ({"type": "nonsense"}, "union_tag_invalid", ()),
        ({"value": True}, "union_tag_not_found", ()),
        ({**GO_FILE_VALUE, "port": 8080}, "extra_forbidden", ("file", "port")),
        ({"type": "text", "value": "x", "hostname": "db"}, "extra_forbidden", ("text", "hostname")),
        ({"type": "integer", "value": True}, "int_type", ("integer", "value")),
    ],
    ids=["unknown-type", "no-type", "foreign-non-zero", "foreign-string", "bool-as-integer"],
)
def test_bad_parameter_value_fails_both(
    schemas: dict[str, dict[str, Any]], value: dict[str, Any], error_type: str, loc_suffix: tuple[str, ...]
) -> None:
    example = _with_parameter(value)
    with pytest.raises(ValidationError) as caught:
        BulkRequest[Job].model_validate(example)
    errors = caught.value.errors()
    assert errors[0]["type"] == error_type
    assert errors[0]["loc"] == ("items", 0, "specification", "parameters", "x", *loc_suffix)
    assert "items.0.specification.parameters.x" in str(caught.value)

    schema_errors = list(_validator(schemas["jobs.provider.create.request"]).iter_errors(example))
    assert schema_errors, "the JSON Schema accepted what pydantic refused"
    assert list(schema_errors[0].absolute_path)[:5] == ["items", 0, "specification", "parameters", "x"]


def test_wrong_job_state_fails_both(schemas: dict[str, dict[str, Any]]) -> None:
    update = {"state": "CANCELING", "timestamp": 0}  # legacy Kotlin only; Go has no CANCELING
    with pytest.raises(ValidationError):
        JobUpdate.model_validate(update)
    assert not _validator(schemas["JobUpdate"]).is_valid(update)
    assert _validator(schemas["JobUpdate"]).is_valid({"state": "SUCCESS", "timestamp": 0})


def test_every_call_has_a_request_schema(schemas: dict[str, dict[str, Any]]) -> None:
    assert len(CALL_NAMES) == 16
    assert frozenset(CALLS) == CALL_NAMES
    for name, spec in CALLS.items():
        assert spec.name == name
        assert spec.caller in ("user", "ucloud", "provider")
        assert spec.request_model is not None
        assert f"{name}.request" in schemas
    assert CALLS["jobs.control.update"].caller == "provider"
    assert CALLS["jobs.provider.create"].caller == "ucloud"
    assert CALLS["jobs.create"].caller == "user"


def test_call_models_accept_the_trace_format_examples() -> None:
    # DESIGN "The trace format": the jobs.control.update example line
    request = {"items": [{"id": "7", "update": {"state": "SUCCESS", "status": "Job finished"}}]}
    parsed = TypeAdapter(CALLS["jobs.control.update"].request_model).validate_python(request)
    assert parsed.items[0].update.state is JobState.SUCCESS
    body = {"responses": [{"id": "7"}]}
    assert TypeAdapter(CALLS["jobs.create"].response_model).validate_python(body).responses[0].id == "7"
    assert TypeAdapter(CALLS["accounting.reportUsage"].response_model).validate_python(
        {"responses": [True, False]}
    ).responses == [True, False]


def test_register_schema_adds_to_all_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        schema_module, "_REGISTERED", dict(schema_module._REGISTERED)
    )  # undone after the test

    class ProbeLine(BaseModel):
        seq: int

    register_schema("TestProbeLine", ProbeLine)
    register_schema("TestProbeAdapter", TypeAdapter(list[int]))
    schemas = all_schemas()
    assert schemas["TestProbeLine"]["properties"]["seq"]["type"] == "integer"
    assert schemas["TestProbeAdapter"]["type"] == "array"
    with pytest.raises(ValueError, match="built-in"):
        register_schema("Job", ProbeLine)


def test_schema_of_is_camel_case_and_keeps_go_nulls() -> None:
    schema = schema_of("JobSpecification", wire_types()["JobSpecification"])
    assert "timeAllocation" in schema["properties"]
    assert "time_allocation" not in schema["properties"]
    assert set(schema["required"]) == {"product", "application"}
    # a Go nil map reads as {}: the schema admits null there
    assert "null" in schema["properties"]["labels"]["type"]


def test_cli_prints_one_json_object() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    schemas = json.loads(result.output)
    assert {"Job", "JobUpdate", "AppParameterValue", "jobs.control.update.request"} <= set(schemas)
    _validator(schemas["Job"]).validate(REFERENCE_EXAMPLE["items"][0])


def test_cli_out_writes_one_file_per_schema(tmp_path: Path) -> None:
    out = tmp_path / "schema"
    result = CliRunner().invoke(main, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.iterdir())
    assert "Job.schema.json" in files
    assert "JobUpdate.schema.json" in files
    assert len(result.output.strip().splitlines()) == 1
    assert str(len(files)) in result.output
    job_schema = json.loads((out / "Job.schema.json").read_text(encoding="utf-8"))
    _validator(job_schema).validate(REFERENCE_EXAMPLE["items"][0])


def test_write_schemas_returns_the_paths(tmp_path: Path) -> None:
    paths = write_schemas(tmp_path)
    assert paths
    assert all(p.exists() and p.name.endswith(".schema.json") for p in paths)
    assert len({p.name for p in paths}) == len(paths)
