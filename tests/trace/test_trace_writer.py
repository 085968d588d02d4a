"""The trace writer: round trips with the reader, is byte-for-byte reproducible, and refuses what the
reader would refuse."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from spec.trace import CallLine, CatalogLine, FieldError, JobFacts, Response, TraceWriter, read_trace
from spec.wire import JobState, ProductV2


def _calls() -> list[dict[str, Any]]:
    """write_call arguments covering every optional field."""
    spec = {
        "product": {"id": "u1-standard-4", "category": "u1-standard", "provider": "k8s"},
        "application": {"name": "terminal-ubuntu", "version": "0.21.0"},
        "replicas": 1,
        "parameters": {"threads": {"type": "integer", "value": 8}},
        "resources": [{"type": "ingress", "id": "55", "port": 0}],
        "timeAllocation": {"hours": 1, "minutes": 0, "seconds": 0},
    }
    return [
        dict(
            seq=1,
            time=0,
            end=4,
            actor="user:alice",
            call="jobs.create",
            request={"items": [spec]},
            status=200,
            body={"responses": [{"id": "7"}]},
        ),
        dict(
            seq=2,
            time=1,
            end=3,
            actor="ucloud",
            call="jobs.provider.create",
            provider="k8s",
            request={"items": [{"id": "7", "specification": spec}]},
            status=200,
            body={"responses": [None]},
        ),
        dict(
            seq=3,
            time=9,
            actor="user:bob",
            call="jobs.create",
            request={"items": [spec]},
            status=400,
            body=None,
            why="bad machine type requested",
        ),
        dict(
            seq=10,
            time=61_000,
            actor="provider:k8s",
            call="jobs.control.update",
            request={"items": [{"id": "7", "update": {"state": "SUCCESS", "status": "Job finished"}}]},
            status=200,
            body={},
            facts={
                "7": {"cause": "exit", "exitCode": 3, "runningMs": 60_000, "coreState": "SUCCESS"},
                "8": JobFacts(cause="node-failure", core_state=JobState.FAILURE),
            },
        ),
    ]


def _write(target: Any, catalog: CatalogLine | None = None) -> None:
    with TraceWriter(target) as writer:
        if catalog is not None:
            writer.write_catalog(catalog)
        for kwargs in _calls():
            writer.write_call(**kwargs)


def _expected_lines() -> list[CallLine]:
    out = []
    for kw in _calls():
        kw = dict(kw)
        response = Response(kw.pop("status"), kw.pop("body"), kw.pop("why", None))
        facts = kw.pop("facts", None)
        if facts is not None:
            facts = {k: v if isinstance(v, JobFacts) else JobFacts.from_json(v) for k, v in facts.items()}
        out.append(CallLine(response=response, facts=facts, **kw))
    return out


# -- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["trace.jsonl", "trace.jsonl.gz"])
def test_write_then_read_gives_equal_lines(tmp_path, name, catalog_json):
    catalog = CatalogLine.model_validate(catalog_json)
    path = tmp_path / name
    _write(path, catalog)
    lines = list(read_trace(path))
    assert lines[0] == catalog
    assert lines[1:] == _expected_lines()
    assert lines[4].facts["7"].exit_code == 3 and lines[4].facts["8"].core_state is JobState.FAILURE


def test_a_gz_name_writes_gzip(tmp_path):
    path = tmp_path / "trace.jsonl.gz"
    _write(path)
    header = path.read_bytes()[:10]
    assert header[:2] == b"\x1f\x8b"
    assert header[3] & 0x08 == 0, "no file name in the header"
    assert header[4:8] == b"\0\0\0\0", "no time stamp in the header"
    assert gzip.decompress(path.read_bytes()).count(b"\n") == len(_calls())


def test_read_lines_written_again_give_the_same_bytes(tmp_path, catalog_json):
    first = tmp_path / "a.jsonl"
    _write(first, CatalogLine.model_validate(catalog_json))
    second = tmp_path / "b.jsonl"
    with TraceWriter(second) as writer:
        for line in read_trace(first):
            writer.write_line(line)
    assert second.read_bytes() == first.read_bytes()


@pytest.mark.parametrize("name", ["trace.jsonl", "trace.jsonl.gz"])
def test_the_same_input_gives_byte_identical_files(tmp_path, name, catalog_json):
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    _write(tmp_path / "1" / name, CatalogLine.model_validate(catalog_json))
    _write(tmp_path / "2" / name, CatalogLine.model_validate(catalog_json))
    assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()


def test_envelope_keys_come_in_a_fixed_order(tmp_path):
    path = tmp_path / "t.jsonl"
    _write(path)
    keys = [list(orjson.loads(raw)) for raw in path.read_bytes().splitlines()]
    assert keys[0] == ["seq", "time", "end", "actor", "call", "request", "response"]
    assert keys[1] == ["seq", "time", "end", "actor", "call", "provider", "request", "response"]
    assert keys[3] == ["seq", "time", "actor", "call", "request", "response", "facts"]
    assert list(orjson.loads(path.read_bytes().splitlines()[2])["response"]) == ["status", "body", "why"]


def test_write_catalog_from_lists_of_models_and_json(tmp_path, catalog_json):
    product = ProductV2.model_validate(catalog_json["products"][0])
    path = tmp_path / "t.jsonl"
    with TraceWriter(path) as writer:
        written = writer.write_catalog(products=[product], wallets=catalog_json["wallets"])
    (read,) = read_trace(path)
    assert read == written
    assert read.products == [product] and read.wallets[1].locked


def test_streams_are_written_and_left_open(catalog_json):
    binary = io.BytesIO()
    _write(binary)
    assert not binary.closed
    text = io.StringIO()
    _write(text)
    assert text.getvalue().encode() == binary.getvalue()
    assert [line.seq for line in read_trace(io.BytesIO(binary.getvalue()))] == [1, 2, 3, 10]


# -- refusals -------------------------------------------------------------------------------------


def _call(seq: int, time: int = 0, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = dict(
        seq=seq, time=time, actor="user:alice", call="jobs.follow", request={"id": "7"}, status=200
    )
    kwargs.update(overrides)
    return kwargs


@pytest.mark.parametrize("seq", [5, 4])
def test_the_writer_refuses_a_non_increasing_seq_and_writes_nothing(tmp_path, seq):
    path = tmp_path / "t.jsonl"
    with TraceWriter(path) as writer:
        writer.write_call(**_call(5))
        with pytest.raises(ValueError, match=r"field 'seq': must be greater than the previous line's \(5\)"):
            writer.write_call(**_call(seq))
        writer.write_call(**_call(6))
    assert [line.seq for line in read_trace(path)] == [5, 6]


def test_the_writer_refuses_a_decreasing_time(tmp_path):
    with TraceWriter(tmp_path / "t.jsonl") as writer:
        writer.write_call(**_call(1, 100))
        with pytest.raises(FieldError) as caught:
            writer.write_call(**_call(2, 99))
    assert caught.value.field == "time"


def test_write_line_checks_the_order_too(tmp_path):
    line = CallLine(3, 0, "user:alice", "jobs.follow", {"id": "7"}, Response(200))
    with TraceWriter(tmp_path / "t.jsonl") as writer:
        writer.write_line(line)
        with pytest.raises(FieldError) as caught:
            writer.write_line(line)
    assert caught.value.field == "seq"


def test_the_writer_refuses_a_catalog_after_a_call(tmp_path):
    with TraceWriter(tmp_path / "t.jsonl") as writer:
        writer.write_call(**_call(1))
        with pytest.raises(FieldError) as caught:
            writer.write_catalog()
    assert caught.value.field == "kind"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"actor": "root"}, "actor"),
        ({"call": "jobs.delete"}, "call"),
        ({"status": 1000}, "response.status"),
        ({"seq": "1"}, "seq"),
        ({"call": "jobs.provider.follow"}, "provider"),
        ({"provider": "k8s"}, "provider"),
        ({"facts": {"7": {"cause": "boom"}}}, "facts.7.cause"),
        ({"facts": {"7": {"exitCode": 0}}}, "facts.7.exitCode"),
    ],
)
def test_the_writer_refuses_what_the_reader_would_refuse(tmp_path, overrides, field):
    path = tmp_path / "t.jsonl"
    with TraceWriter(path) as writer, pytest.raises(FieldError) as caught:
        writer.write_call(**{**_call(1), **overrides})
    assert caught.value.field == field
    assert path.read_bytes() == b""


def test_a_payload_that_is_not_json_is_a_type_error(tmp_path):
    with TraceWriter(tmp_path / "t.jsonl") as writer, pytest.raises(TypeError, match="seq 1"):
        writer.write_call(**_call(1, request={"id": object()}))


def test_writing_after_close_is_refused(tmp_path):
    writer = TraceWriter(tmp_path / "t.jsonl")
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        writer.write_call(**_call(1))


def test_lines_written_counts_every_line(tmp_path: Path, catalog_json):
    with TraceWriter(tmp_path / "t.jsonl") as writer:
        writer.write_catalog(CatalogLine.model_validate(catalog_json))
        writer.write_call(**_call(1))
        assert writer.lines_written == 2
