"""Write a trace: :class:`TraceWriter`.

The writer is the reader's mirror (see :mod:`spec.trace.reader` for the format): it refuses to write
what the reader would refuse to read. Every line is checked as it is built (:class:`CallLine`), and the
writer checks the order of lines: at most one catalog, first; ``seq`` strictly increasing; ``time``
never decreasing. A refused line raises ``ValueError`` (a :class:`~spec.trace.errors.FieldError`
naming the field) and nothing is written.

Output is deterministic: the envelope keys are written in a fixed order
(:data:`~spec.trace.format.CALL_LINE_FIELDS`), payloads are written as given (dicts keep their insertion
order, so build them deterministically), and a ``.gz`` file gets a gzip header without a time stamp or
file name. The same calls therefore give the same bytes, which the simulator's "same seed, same trace"
promise relies on.

>>> import io
>>> out = io.BytesIO()
>>> with TraceWriter(out) as trace:
...     trace.write_call(seq=1, time=0, actor="user:alice", call="jobs.follow",
...                      request={"id": "7"}, status=200)
>>> out.getvalue()
b'{"seq":1,"time":0,"actor":"user:alice","call":"jobs.follow","request":{"id":"7"},"response":{"status":200,"body":null}}\\n'
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Mapping, Sequence
from typing import IO, Any

import orjson

from spec.trace.errors import FieldError
from spec.trace.format import (
    CallLine,
    CatalogLine,
    JobFacts,
    _call_wire,
    _check_envelope,
    _check_response,
    _facts_fields,
    _facts_wire,
)

__all__ = ["TraceTarget", "TraceWriter"]

TraceTarget = str | os.PathLike[str] | IO[bytes] | IO[str]
"""Where a trace goes: a path (gzip if the name ends in ``.gz``) or an open binary or text stream."""

_WRITE_BUFFER = 1 << 20
_GZIP_LEVEL = 6  # zlib's default: most of level 9's size at a fraction of its time
_NEWLINE = orjson.OPT_APPEND_NEWLINE
_dumps = orjson.dumps


class TraceWriter:
    """Write trace lines to a file or stream, checking each line and their order.

    ``target`` is a path (created or truncated; gzip if the name ends in ``.gz``) or an open stream, which
    is flushed but left open by :meth:`close`. Use it as a context manager::

        with TraceWriter("run.jsonl.gz") as trace:
            trace.write_catalog(products=[...], support=[...])
            trace.write_call(seq=1, time=0, actor="user:alice", call="jobs.create",
                             request={"items": [spec]}, status=200, body={"responses": [{"id": "1"}]})
    """

    def __init__(self, target: TraceTarget) -> None:
        self._owned: list[IO[Any]] = []  # streams to close, innermost last
        if isinstance(target, str | os.PathLike):
            zip_it = os.fspath(target).endswith(".gz")
            raw = open(target, "wb", buffering=0 if zip_it else _WRITE_BUFFER)  # noqa: SIM115 - see close()
            self._owned.append(raw)
            if zip_it:
                # filename="" and mtime=0: no name or time stamp in the header, so output is reproducible
                zipped = gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, compresslevel=_GZIP_LEVEL, mtime=0
                )
                self._owned.append(zipped)
                buffered = io.BufferedWriter(zipped, buffer_size=_WRITE_BUFFER)  # type: ignore[arg-type]
                self._owned.append(buffered)
                stream: IO[Any] = buffered
            else:
                stream = raw
        else:
            stream = target
        self._stream = stream
        self._text = isinstance(stream, io.TextIOBase)
        self._write = stream.write
        self._lines = 0
        self._prev_seq = -1
        self._prev_time = 0
        self._closed = False

    # -- writing ----------------------------------------------------------------------------------

    def write_catalog(
        self,
        catalog: CatalogLine | None = None,
        /,
        *,
        applications: Sequence[Any] = (),
        products: Sequence[Any] = (),
        support: Sequence[Any] = (),
        resources: Sequence[Any] = (),
        wallets: Sequence[Any] = (),
    ) -> CatalogLine:
        """Write the catalog line, which must come first: either a :class:`CatalogLine`, or its lists
        (wire models or their JSON) to build one from. Returns the line written."""
        if catalog is None:
            catalog = CatalogLine.model_validate(
                {
                    "applications": list(applications),
                    "products": list(products),
                    "support": list(support),
                    "resources": list(resources),
                    "wallets": list(wallets),
                }
            )
        elif applications or products or support or resources or wallets:
            raise TypeError("write_catalog takes a CatalogLine or its lists, not both")
        self.write_line(catalog)
        return catalog

    def write_call(
        self,
        *,
        seq: int,
        time: int,
        actor: str,
        call: str,
        request: Any,
        status: int,
        body: Any = None,
        why: str | None = None,
        provider: str | None = None,
        end: int | None = None,
        facts: Mapping[str, JobFacts | Mapping[str, Any]] | None = None,
    ) -> None:
        """Write one call line (see :class:`CallLine` for the fields; ``status``, ``body`` and ``why``
        make its ``response``). ``facts`` values may be :class:`JobFacts` or their wire form
        (``{"cause": "exit", "exitCode": 0}``).

        This is the simulator's hot path: it checks the fields exactly as :class:`CallLine` does, but
        goes straight to JSON without building a ``CallLine``.
        """
        if self._closed:
            raise ValueError("write to a closed TraceWriter")
        _check_envelope(seq, time, end, actor, call, provider)
        if type(status) is not int or not 100 <= status <= 599 or why is not None:
            _check_response(status, why)
        facts_wire = None if facts is None else _facts_to_wire(facts)
        if seq <= self._prev_seq or time < self._prev_time:
            self._check_order(seq, time)
        try:
            data = _dumps(
                _call_wire(seq, time, end, actor, call, provider, request, status, body, why, facts_wire),
                option=_NEWLINE,
            )
        except orjson.JSONEncodeError as error:
            raise TypeError(f"line with seq {seq}: a payload is not JSON: {error}") from None
        self._write(data.decode() if self._text else data)
        self._prev_seq = seq
        self._prev_time = time
        self._lines += 1

    def write_line(self, line: CallLine | CatalogLine) -> None:
        """Write a line built elsewhere (e.g. one read from another trace)."""
        if self._closed:
            raise ValueError("write to a closed TraceWriter")
        if type(line) is CallLine:
            self._check_order(line.seq, line.time)
            try:
                data = orjson.dumps(line.to_json(), option=_NEWLINE)
            except orjson.JSONEncodeError as error:
                raise TypeError(f"line with seq {line.seq}: a payload is not JSON: {error}") from None
            self._prev_seq = line.seq
            self._prev_time = line.time
        elif isinstance(line, CatalogLine):
            if self._lines:
                raise FieldError("kind", "a catalog may only be the first line of a trace")
            data = orjson.dumps(line.to_json(), option=_NEWLINE)
        else:
            raise TypeError(f"expected a CallLine or CatalogLine, got {type(line).__name__}")
        self._write(data.decode() if self._text else data)
        self._lines += 1

    def _check_order(self, seq: int, time: int) -> None:
        if seq <= self._prev_seq:
            raise FieldError("seq", f"must be greater than the previous line's ({self._prev_seq}), got {seq}")
        if time < self._prev_time:
            raise FieldError(
                "time", f"must not be less than the previous line's ({self._prev_time}), got {time}"
            )

    @property
    def lines_written(self) -> int:
        """How many lines (catalog included) have been written."""
        return self._lines

    # -- closing ----------------------------------------------------------------------------------

    def flush(self) -> None:
        """Push buffered lines to the file (a gzip member stays open until :meth:`close`)."""
        self._stream.flush()

    def close(self) -> None:
        """Flush, and close what this writer opened (a stream passed in is left open). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if not self._owned:
            self._stream.flush()
        for stream in reversed(self._owned):
            stream.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _facts_to_wire(facts: Mapping[str, JobFacts | Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Check ``facts`` (JobFacts or their wire form, by job id) and give their canonical wire form."""
    if not isinstance(facts, Mapping):
        raise FieldError("facts", f"must be a mapping of job id to job facts, got {type(facts).__name__}")
    out = {}
    for job_id, job_facts in facts.items():
        if type(job_id) is not str:
            raise FieldError("facts", f"job ids must be strings, got {job_id!r}")
        if type(job_facts) is JobFacts:
            out[job_id] = job_facts.to_json()
            continue
        try:
            out[job_id] = _facts_wire(*_facts_fields(job_facts))
        except FieldError as error:
            raise error.within(f"facts.{job_id}") from None
    return out
