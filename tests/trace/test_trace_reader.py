"""The trace reader: each kind of unreadable input is refused at the right line and field; good input
streams through."""

from __future__ import annotations

import gzip
import io
import itertools
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from spec.trace import CallLine, CatalogLine, JobFacts, TraceFormatError, TraceReader, read_trace
from spec.wire import JobState


def _error_at(path: Path | io.IOBase) -> TraceFormatError:
    with pytest.raises(TraceFormatError) as caught:
        for _ in read_trace(path):
            pass
    return caught.value


# -- good input -----------------------------------------------------------------------------------


def test_a_valid_trace_reads_into_call_lines(trace_file, call):
    path = trace_file(call(1, 0), call(3, 0, actor="user:alice", call="jobs.follow", request={"id": "7"}))
    lines = list(read_trace(path))
    assert [type(line) for line in lines] == [CallLine, CallLine]
    first, second = lines
    assert (first.seq, first.time, first.actor, first.call) == (1, 0, "provider:k8s", "jobs.control.update")
    assert first.response.status == 200 and first.response.body is None
    assert first.facts == {
        "7": JobFacts(cause="exit", exit_code=0, running_ms=61000, core_state=JobState.SUCCESS)
    }
    assert first.facts["7"].core_state is JobState.SUCCESS
    assert (second.seq, second.actor_kind, second.actor_id, second.request) == (
        3,
        "user",
        "alice",
        {"id": "7"},
    )


def test_payloads_stay_raw_so_a_state_outside_jobstate_is_not_a_format_error(trace_file, call):
    # A protocol violation (for the checker), not unreadable input.
    request = {"items": [{"id": "7", "update": {"state": "CANCELING"}}]}
    (line,) = read_trace(trace_file(call(1, 0, request=request, facts=None)))
    assert line.request == request


def test_a_file_without_a_final_newline_reads(tmp_path, call):
    path = tmp_path / "t.jsonl"
    path.write_bytes(orjson.dumps(call(1, 0)) + b"\n" + orjson.dumps(call(2, 5)))
    assert [line.seq for line in read_trace(path)] == [1, 2]


def test_crlf_line_ends_and_trailing_spaces_read(tmp_path, call):
    path = tmp_path / "t.jsonl"
    path.write_bytes(orjson.dumps(call(1, 0)) + b"  \r\n" + orjson.dumps(call(2, 5)) + b"\r\n")
    assert [line.seq for line in read_trace(path)] == [1, 2]


def test_null_optional_fields_count_as_absent(trace_file, call):
    (line,) = read_trace(trace_file(call(1, 0, end=None, facts=None, provider=None)))
    assert (line.end, line.facts, line.provider) == (None, None, None)


def test_seq_gaps_and_equal_times_are_allowed(trace_file, call):
    path = trace_file(call(1, 10), call(5, 10), call(9, 11))
    assert [line.seq for line in read_trace(path)] == [1, 5, 9]


def test_gzip_is_read_by_name(tmp_path, call):
    path = tmp_path / "trace.jsonl.gz"
    with gzip.open(path, "wb") as out:
        out.write(orjson.dumps(call(1, 0)) + b"\n")
    assert [line.seq for line in read_trace(path)] == [1]


def test_open_binary_and_text_streams_are_read_and_left_open(call):
    data = orjson.dumps(call(1, 0)) + b"\n"
    binary = io.BytesIO(data)
    assert [line.seq for line in read_trace(binary)] == [1]
    assert not binary.closed
    text = io.StringIO(data.decode())
    assert [line.seq for line in read_trace(text)] == [1]


def test_trace_reader_gives_the_catalog_then_the_calls(trace_file, call, catalog_json):
    with TraceReader(trace_file(catalog_json, call(1, 0), call(2, 0))) as trace:
        assert isinstance(trace.catalog, CatalogLine)
        assert trace.catalog.products[0].name == "u1-standard-4"
        assert [line.seq for line in trace] == [1, 2]


def test_trace_reader_without_a_catalog(trace_file, call):
    with TraceReader(trace_file(call(1, 0), call(2, 0))) as trace:
        assert trace.catalog is None
        assert [line.seq for line in trace] == [1, 2]


def test_trace_reader_of_an_empty_file(trace_file):
    with TraceReader(trace_file()) as trace:
        assert trace.catalog is None
        assert list(trace) == []


def test_trace_reader_raises_at_once_for_an_unreadable_first_line(trace_file):
    with pytest.raises(TraceFormatError) as caught:
        TraceReader(trace_file(b"nonsense"))
    assert caught.value.line == 1


# -- streaming ------------------------------------------------------------------------------------


def test_the_first_line_is_read_without_reading_a_bad_third_line(trace_file, call):
    lines = read_trace(trace_file(call(1, 0), call(2, 0), b"{garbage"))
    assert next(lines).seq == 1
    assert next(lines).seq == 2
    with pytest.raises(TraceFormatError) as caught:
        next(lines)
    assert caught.value.line == 3


class _EndlessTrace(io.RawIOBase):
    """A stream of call lines that never ends: only a streaming reader can take lines from it."""

    name = "endless.jsonl"

    def __init__(self) -> None:
        self.served = 0

    def __iter__(self) -> Iterator[bytes]:
        for seq in itertools.count(1):
            self.served += 1
            line = {
                "seq": seq,
                "time": seq,
                "actor": "user:u",
                "call": "jobs.follow",
                "request": {"id": "1"},
                "response": {"status": 200, "body": None},
            }
            yield orjson.dumps(line) + b"\n"


def test_reading_is_streaming_lines_are_pulled_one_at_a_time():
    source = _EndlessTrace()
    taken = list(itertools.islice(read_trace(source), 5))  # would never return if the reader slurped
    assert [line.seq for line in taken] == [1, 2, 3, 4, 5]
    assert source.served == 5


# -- unreadable input: one test per kind, each checking line and field -------------------------------


def test_bad_utf8(trace_file, call):
    error = _error_at(trace_file(call(1, 0), b'{"seq": 2, "actor": "user:\xff"}'))
    assert (error.line, error.field) == (2, None)
    assert "UTF-8" in error.message and "0xff" in error.message


def test_bad_utf8_in_a_text_stream(call):
    raw = orjson.dumps(call(1, 0)) + b"\n" + orjson.dumps(call(2, 0)) + b"\n\xc3\x28\n"
    stream = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8")
    stream._CHUNK_SIZE = 1  # decode as it reads; by default a text stream decodes 8 KiB ahead
    error = _error_at(stream)
    assert (error.line, error.field) == (3, None)
    assert "UTF-8" in error.message


def test_bad_json(trace_file, call):
    error = _error_at(trace_file(call(1, 0), call(2, 0), b'{"seq": 3, "time": '))
    assert (error.line, error.field) == (3, None)
    assert error.message.startswith("not valid JSON")


def test_a_line_that_is_not_an_object(trace_file, call):
    error = _error_at(trace_file(call(1, 0), b"[1, 2, 3]"))
    assert (error.line, error.field) == (2, None)
    assert error.message == "must be a JSON object, got an array"


@pytest.mark.parametrize("missing", ["seq", "time", "actor", "call", "request", "response"])
def test_a_missing_field(trace_file, call, missing):
    line = call(2, 0)
    del line[missing]
    error = _error_at(trace_file(call(1, 0), line))
    assert (error.line, error.field, error.message) == (2, missing, "is missing")


def test_a_missing_response_status(trace_file, call):
    error = _error_at(trace_file(call(1, 0, response={"body": None})))
    assert (error.line, error.field, error.message) == (1, "response.status", "is missing")


def test_seq_not_an_integer_reads_like_a_compiler_message(trace_file, call):
    path = trace_file(*[call(n, 0) for n in range(1, 7)], call("x", 0))
    error = _error_at(path)
    assert (error.line, error.field) == (7, "seq")
    assert str(error) == f"{path}:7: field 'seq': must be an integer, got \"x\""


def test_error_message_names_the_file_as_given(tmp_path, call, monkeypatch):
    (tmp_path / "trace.jsonl").write_bytes(orjson.dumps(call("x", 0)) + b"\n")
    monkeypatch.chdir(tmp_path)
    assert str(_error_at(Path("trace.jsonl"))) == "trace.jsonl:1: field 'seq': must be an integer, got \"x\""


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"seq": True}, "seq"),
        ({"seq": -1}, "seq"),
        ({"seq": 1.5}, "seq"),
        ({"time": -5}, "time"),
        ({"time": "0"}, "time"),
        ({"end": 3}, "end"),  # before time (10)
        ({"response": {"status": "200", "body": None}}, "response.status"),
        ({"response": {"status": 42, "body": None}}, "response.status"),
        ({"response": {"status": 400, "body": None, "why": 7}}, "response.why"),
        ({"response": [200]}, "response"),
        ({"facts": []}, "facts"),
        ({"facts": {"7": {"cause": "meteor"}}}, "facts.7.cause"),
        ({"facts": {"7": {"cause": "exit", "exitCode": "0"}}}, "facts.7.exitCode"),
        ({"facts": {"7": {"cause": "node-failure", "exitCode": 1}}}, "facts.7.exitCode"),
        ({"facts": {"7": {"runningMs": -1}}}, "facts.7.runningMs"),
        ({"facts": {"7": {"coreState": "CANCELING"}}}, "facts.7.coreState"),
        ({"facts": {"7": {"cause": "exit", "exitcode": 0}}}, "facts.7.exitcode"),
        ({"facts": {"7": "exit"}}, "facts.7"),
        ({"fact": {}}, "fact"),
    ],
)
def test_an_ill_typed_field(trace_file, call, overrides, field):
    error = _error_at(trace_file(call(1, 0), {**call(2, 10), **overrides}))
    assert (error.line, error.field) == (2, field)


def test_an_unknown_facts_cause_is_explained(trace_file, call):
    error = _error_at(trace_file(call(1, 0, facts={"7": {"cause": "meteor"}})))
    assert error.field == "facts.7.cause"
    assert "user-cancel" in error.message and '"meteor"' in error.message


def test_a_non_increasing_seq(trace_file, call):
    error = _error_at(trace_file(call(4, 0), call(5, 0), call(5, 0)))
    assert (error.line, error.field) == (3, "seq")
    assert "previous line's (5)" in error.message


def test_a_decreasing_time(trace_file, call):
    error = _error_at(trace_file(call(1, 100), call(2, 100), call(3, 99)))
    assert (error.line, error.field) == (3, "time")


def test_a_catalog_that_is_not_line_1(trace_file, call, catalog_json):
    error = _error_at(trace_file(call(1, 0), catalog_json))
    assert (error.line, error.field) == (2, "kind")
    assert "first line" in error.message


def test_an_unknown_kind(trace_file):
    error = _error_at(trace_file({"kind": "header"}))
    assert (error.line, error.field) == (1, "kind")


def test_an_unknown_call_name(trace_file, call):
    error = _error_at(trace_file(call(1, 0), call(2, 0, call="jobs.delete")))
    assert (error.line, error.field) == (2, "call")
    assert '"jobs.delete"' in error.message


@pytest.mark.parametrize("actor", ["admin", "user:", "provider: k8s", "ucloud:x", "User:alice", 7, None])
def test_a_bad_actor(trace_file, call, actor):
    error = _error_at(trace_file(call(1, 0), call(2, 0, actor=actor)))
    assert (error.line, error.field) == (2, "actor")


def test_a_core_to_provider_call_needs_its_provider(trace_file, call):
    line = call(1, 0, actor="ucloud", call="jobs.provider.terminate", request={"items": []}, facts=None)
    error = _error_at(trace_file(line))
    assert (error.line, error.field) == (1, "provider")
    assert (next(read_trace(trace_file({**line, "provider": "k8s"})))).provider == "k8s"


def test_provider_is_refused_on_other_calls(trace_file, call):
    error = _error_at(trace_file(call(1, 0, provider="k8s")))
    assert (error.line, error.field) == (1, "provider")


def test_a_blank_line_is_unreadable(trace_file, call):
    error = _error_at(trace_file(call(1, 0), b"", call(2, 0)))
    assert (error.line, error.field) == (2, None)
    assert error.message.startswith("blank line")


def test_a_blank_last_line_is_unreadable_but_the_final_newline_is_not(tmp_path, call):
    path = tmp_path / "t.jsonl"
    path.write_bytes(orjson.dumps(call(1, 0)) + b"\n\n")
    assert (_error_at(path).line, _error_at(path).message[:5]) == (2, "blank")


def test_an_ill_typed_catalog_names_the_field(trace_file, catalog_json):
    catalog_json["products"][0]["price"] = "cheap"
    error = _error_at(trace_file(catalog_json))
    assert (error.line, error.field) == (1, "products.0.price")


def test_an_unknown_catalog_version(trace_file, catalog_json):
    catalog_json["version"] = 2
    error = _error_at(trace_file(catalog_json))
    assert (error.line, error.field) == (1, "version")


def test_an_unknown_resource_type_in_the_catalog(trace_file, catalog_json):
    catalog_json["resources"][0]["type"] = "drive"
    error = _error_at(trace_file(catalog_json))
    assert (error.line, error.field) == (1, "resources.0")


def test_lines_before_the_bad_one_were_all_yielded(trace_file, call):
    seen = []
    with pytest.raises(TraceFormatError):
        for line in read_trace(trace_file(call(1, 0), call(2, 0), call(2, 0))):
            seen.append(line.seq)
    assert seen == [1, 2]
