"""The line models: the catalog in UCloud's JSON, call lines built by hand, typed payloads, the JSON
Schema export."""

from __future__ import annotations

import dataclasses
import pickle

import jsonschema
import orjson
import pytest
from pydantic import ValidationError

from spec.trace import (
    CallLine,
    CallLineSchema,
    CatalogLine,
    FieldError,
    IngressResource,
    JobFacts,
    LicenseResource,
    PublicIPResource,
    Response,
    TraceFormatError,
    TraceWriter,
)
from spec.wire import BulkRequest, JobState, ToolBackend
from spec.wire.schema import all_schemas

# -- the catalog ----------------------------------------------------------------------------------


def test_a_catalog_in_ucloud_json_parses(catalog_json):
    catalog = CatalogLine.model_validate(catalog_json)
    (app,) = catalog.applications
    assert (app.metadata.name, app.backend) == ("terminal-ubuntu", ToolBackend.DOCKER)
    (product,) = catalog.products
    assert (product.name, product.cpu, product.memory_in_gigs, product.category.provider) == (
        "u1-standard-4",
        4,
        16,
        "k8s",
    )
    (support,) = catalog.support
    assert support.docker.enabled and support.docker.time_extension and not support.native.enabled
    ingress, ip, license_ = catalog.resources
    assert isinstance(ingress, IngressResource) and ingress.specification.domain == "app-alice.cloud.sdu.dk"
    assert (
        isinstance(ip, PublicIPResource)
        and ip.status.ip_address == "130.225.164.10"
        and ip.status.bound_to == ["12"]
    )
    assert isinstance(license_, LicenseResource) and license_.status.bound_to == []  # Go's null slice
    user, project = catalog.wallets
    assert (user.owner.type, user.owner.username, user.max_usable, user.locked) == (
        "user",
        "alice",
        42000,
        False,
    )
    assert (project.owner.project_id, project.locked) == ("p-42", True)


def test_catalog_lists_may_be_left_out():
    assert CatalogLine.model_validate({"kind": "catalog", "version": 1}) == CatalogLine()


def test_catalog_refuses_unknown_keys(catalog_json):
    catalog_json["jobs"] = []
    with pytest.raises(ValidationError):
        CatalogLine.model_validate(catalog_json)


def test_catalog_json_round_trips_with_unknown_fields_and_nulls_kept(catalog_json):
    catalog = CatalogLine.model_validate(catalog_json)
    wire = catalog.to_json()
    assert CatalogLine.model_validate(wire) == catalog
    assert wire["applications"][0]["invocation"]["environment"] is None  # an undeclared null, kept
    assert next(iter(wire["resources"][0])) == "type"


# -- call lines built in code ---------------------------------------------------------------------


def test_call_lines_check_themselves_when_built():
    with pytest.raises(FieldError) as caught:
        CallLine(1, 0, "user:alice", "jobs.follow", {"id": "7"}, Response(200), end=-1)
    assert caught.value.field == "end"
    with pytest.raises(FieldError) as caught:
        Response(99)
    assert caught.value.field == "response.status"
    with pytest.raises(FieldError) as caught:
        JobFacts(core_state="DONE")  # type: ignore[arg-type]
    assert caught.value.field == "coreState"
    with pytest.raises(FieldError) as caught:
        CallLine(1, 0, "user:alice", "jobs.follow", {"id": "7"}, {"status": 200})  # type: ignore[arg-type]
    assert caught.value.field == "response"


def test_lines_are_frozen():
    line = CallLine(1, 0, "user:alice", "jobs.follow", {"id": "7"}, Response(200))
    with pytest.raises(dataclasses.FrozenInstanceError):
        line.seq = 2  # type: ignore[misc]
    parsed = CallLine.from_json(line.to_json())
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.seq = 2  # type: ignore[misc]
    assert parsed == line


def test_actor_parts_and_duration():
    line = CallLine(1, 10, "ucloud", "jobs.provider.follow", {}, Response(200), provider="k8s", end=25)
    assert (line.actor_kind, line.actor_id, line.duration_ms) == ("ucloud", None, 15)


def test_a_plain_string_core_state_equals_the_enum():
    assert JobFacts(core_state="RUNNING") == JobFacts(core_state=JobState.RUNNING)  # type: ignore[arg-type]
    assert JobFacts.from_json({"coreState": "RUNNING"}).core_state is JobState.RUNNING


def test_errors_survive_pickling():
    error = pickle.loads(pickle.dumps(TraceFormatError(7, "seq", "bad", source="t.jsonl")))
    assert (error.line, error.field, error.source, str(error)) == (
        7,
        "seq",
        "t.jsonl",
        "t.jsonl:7: field 'seq': bad",
    )
    field_error = pickle.loads(pickle.dumps(FieldError("seq", "bad")))
    assert (field_error.field, field_error.message) == ("seq", "bad")


# -- typed payloads -------------------------------------------------------------------------------


def test_typed_request_and_response_use_the_call_models():
    line = CallLine.from_json(
        {
            "seq": 1,
            "time": 0,
            "actor": "provider:k8s",
            "call": "accounting.reportUsage",
            "request": {
                "items": [
                    {
                        "isDeltaCharge": False,
                        "owner": {"type": "user", "username": "alice", "projectId": ""},
                        "categoryIdV2": {"name": "u1-standard", "provider": "k8s"},
                        "usage": 120,
                        "description": {"scope": "job-7"},
                    }
                ]
            },
            "response": {"status": 200, "body": {"responses": [True]}},
        }
    )
    request = line.typed_request()
    assert isinstance(request, BulkRequest)
    assert request.items[0].usage == 120 and request.items[0].owner.username == "alice"
    assert line.typed_response().responses == [True]


def test_typed_request_reports_a_protocol_violation_as_a_validation_error():
    line = CallLine.from_json(
        {
            "seq": 1,
            "time": 0,
            "actor": "provider:k8s",
            "call": "jobs.control.update",
            "request": {"items": [{"id": "7", "update": {"state": "CANCELING"}}]},
            "response": {"status": 200, "body": None},
        }
    )
    with pytest.raises(ValidationError):
        line.typed_request()


def test_typed_response_leaves_an_error_body_raw():
    line = CallLine(1, 0, "user:a", "jobs.create", {"items": []}, Response(400, {"why": "no"}, "no"))
    assert line.typed_response() == {"why": "no"}


# -- JSON Schema ----------------------------------------------------------------------------------


def test_schemas_are_registered_for_ucsim_schema():
    schemas = all_schemas()
    assert schemas["TraceCallLine"]["title"] == "TraceCallLine"
    assert "applications" in schemas["TraceCatalogLine"]["properties"]


def test_written_lines_validate_against_the_exported_schemas(tmp_path, catalog_json):
    schemas = all_schemas()
    path = tmp_path / "t.jsonl"
    with TraceWriter(path) as writer:
        writer.write_catalog(CatalogLine.model_validate(catalog_json))
        writer.write_call(
            seq=1, time=0, actor="user:alice", call="jobs.follow", request={"id": "7"}, status=200
        )
        writer.write_call(
            seq=2,
            time=0,
            actor="ucloud",
            call="jobs.provider.terminate",
            provider="k8s",
            request={"items": []},
            status=502,
            why="provider unreachable",
            facts={"7": {"cause": "user-cancel", "coreState": "RUNNING"}},
        )
    catalog_raw, *call_raws = path.read_bytes().splitlines()
    jsonschema.validate(orjson.loads(catalog_raw), schemas["TraceCatalogLine"])
    for raw in call_raws:
        jsonschema.validate(orjson.loads(raw), schemas["TraceCallLine"])


@pytest.mark.parametrize(
    "bad",
    [
        {"actor": "root"},
        {"call": "jobs.delete"},
        {"provider": "k8s"},  # not a Core-to-provider call
        {"facts": {"7": {"cause": "meteor"}}},
        {"response": {"status": 200}},
        {"seq": -1},
    ],
)
def test_the_schema_refuses_what_the_reader_refuses(bad):
    line = {
        "seq": 1,
        "time": 0,
        "actor": "user:alice",
        "call": "jobs.follow",
        "request": {"id": "7"},
        "response": {"status": 200, "body": None},
    }
    schema = CallLineSchema.model_json_schema(by_alias=True)
    jsonschema.validate(line, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**line, **bad}, schema)
    with pytest.raises(FieldError):
        CallLine.from_json({**line, **bad})


def test_the_schema_requires_provider_on_core_to_provider_calls():
    line = {
        "seq": 1,
        "time": 0,
        "actor": "ucloud",
        "call": "jobs.provider.follow",
        "request": {},
        "response": {"status": 200, "body": None},
    }
    schema = CallLineSchema.model_json_schema(by_alias=True)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(line, schema)
    jsonschema.validate({**line, "provider": "k8s"}, schema)
