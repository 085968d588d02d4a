"""Read a trace, line by line, without loading it: :func:`read_trace` and :class:`TraceReader`.

The format in brief (DESIGN, "The trace format", is the full statement):

* UTF-8 JSON Lines; a name ending in ``.gz`` is read through gzip.
* Line 1 *may* be a catalog, ``{"kind": "catalog", "version": 1, ...}`` (:class:`CatalogLine`); no other
  line may be.
* Every other line is one API call recorded at Core (:class:`CallLine`)::

      {"seq": 12, "time": 93000, "actor": "provider:k8s", "call": "jobs.control.update",
       "request": {...}, "response": {"status": 200, "body": null}, "facts": {"7": {"cause": "exit"}}}

  ``seq`` strictly increases from line to line (gaps allowed) and ``time`` never decreases.
* **Blank lines are unreadable**, wherever they are: a line must hold exactly one JSON object. The one
  exception is not really a line: the newline that ends the last line (a file may end with or without
  it). Trailing whitespace and ``\\r\\n`` line ends are accepted, as JSON allows them.

Reading is strict about the *envelope* and lenient about the *payloads*: a line that is not a trace line
at all (bad UTF-8 or JSON, a missing or ill-typed field, ``seq`` going backwards, an unknown call name, a
bad actor...) raises :class:`~spec.trace.errors.TraceFormatError` with its 1-based line number and the
field, and the reader stops there. A well-formed line whose ``request`` breaks the protocol is yielded as
it is, for the checker to judge.

Reading is streaming: lines are decoded one at a time as you iterate, so a bad line far into a file is
only found when you reach it, and memory does not grow with the file.

>>> import io
>>> data = io.BytesIO(b'{"seq": 1, "time": 0, "actor": "user:alice", "call": "jobs.follow",'
...                   b' "request": {"id": "7"}, "response": {"status": 200, "body": null}}\\n')
>>> [(line.seq, line.call) for line in read_trace(data)]
[(1, 'jobs.follow')]
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson
from pydantic import ValidationError

from spec.trace.errors import FieldError, TraceFormatError
from spec.trace.format import CallLine, CatalogLine

__all__ = ["TraceReader", "TraceSource", "read_trace"]

TraceSource = str | os.PathLike[str] | IO[bytes] | IO[str]
"""Where a trace comes from: a path (``.gz`` read through gzip) or an open binary or text stream."""

_READ_BUFFER = 1 << 20


def read_trace(source: TraceSource) -> Iterator[CatalogLine | CallLine]:
    """Yield the lines of a trace, the catalog (if any) first, checking each as it is read.

    ``source`` is a path (``str`` or ``PathLike``; gzip if the name ends in ``.gz``), opened at the first
    ``next()`` and closed when the generator ends or is closed; or an open stream, which is left open.
    Prefer binary streams: a text stream decodes ahead of the line being read, so bad UTF-8 in it may
    be reported at an earlier line than the one that holds it.

    Raises :class:`~spec.trace.errors.TraceFormatError` at the first unreadable line; every line before
    it has been yielded. See the module docstring for the format.
    """
    if isinstance(source, str | os.PathLike):
        with _open(source) as stream:
            yield from _parse(stream, os.fspath(source))
    else:
        yield from _parse(source, _name_of(source))


class TraceReader:
    """A trace opened for reading: its :attr:`catalog` up front, then its call lines by iteration.

    >>> with TraceReader("run.jsonl.gz") as trace:        # doctest: +SKIP
    ...     products = trace.catalog.products if trace.catalog else []
    ...     for call in trace:                          # CallLine objects only, in order
    ...         ...

    The first line is read when the reader is made (so :attr:`catalog` is known and an unreadable first
    line raises at once); the rest is read as you iterate, once: a reader is an iterator, not a list.
    """

    catalog: CatalogLine | None
    """The catalog line, or ``None`` if the trace starts directly with calls."""

    source: str
    """The file name (or ``"<trace>"``) used in error messages."""

    def __init__(self, source: TraceSource) -> None:
        if isinstance(source, str | os.PathLike):
            self._stream: IO[Any] | None = _open(source)
            self.source = os.fspath(source)
        else:
            self._stream = None  # not ours to close
            self.source = _name_of(source)
        self._lines = _parse(self._stream if self._stream is not None else source, self.source)
        self._first: CallLine | None = None
        try:
            first = next(self._lines, None)
        except BaseException:
            self.close()
            raise
        if isinstance(first, CatalogLine):
            self.catalog = first
        else:
            self.catalog = None
            self._first = first

    def __iter__(self) -> Iterator[CallLine]:
        return self

    def __next__(self) -> CallLine:
        first = self._first
        if first is not None:
            self._first = None
            return first
        return next(self._lines)  # type: ignore[return-value] # _parse refuses a catalog after line 1

    def close(self) -> None:
        """Stop reading and close the file if this reader opened it."""
        self._lines.close()
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def __enter__(self) -> TraceReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------------


def _open(path: str | os.PathLike[str]) -> IO[bytes]:
    if os.fspath(path).endswith(".gz"):
        return io.BufferedReader(gzip.open(path, "rb"), buffer_size=_READ_BUFFER)  # type: ignore[arg-type]
    return open(path, "rb", buffering=_READ_BUFFER)


def _name_of(stream: object) -> str:
    name = getattr(stream, "name", None)
    return name if isinstance(name, str) else "<trace>"


def _parse(stream: Iterable[bytes | str], source: str) -> Iterator[CatalogLine | CallLine]:
    """The reader proper: decode, check and order-check each line. Kept flat: this is the hot loop."""
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    from_json = CallLine.from_json
    prev_seq = -1
    prev_time = 0
    number = 0
    try:
        for number, raw in enumerate(stream, 1):
            try:
                obj = loads(raw)
            except decode_error as error:
                raise _undecodable(number, raw, error, source) from None
            if type(obj) is not dict:
                raise TraceFormatError(
                    number, None, f"must be a JSON object, got {_kind_of(obj)}", source=source
                )
            if "kind" in obj:
                yield _catalog(number, obj, source)
                continue
            try:
                line = from_json(obj)
            except FieldError as error:
                raise TraceFormatError(number, error.field, error.message, source=source) from None
            seq = line.seq
            time = line.time
            if seq <= prev_seq:
                raise TraceFormatError(
                    number,
                    "seq",
                    f"must be greater than the previous line's ({prev_seq}), got {seq}",
                    source=source,
                )
            if time < prev_time:
                raise TraceFormatError(
                    number,
                    "time",
                    f"must not be less than the previous line's ({prev_time}), got {time}",
                    source=source,
                )
            prev_seq = seq
            prev_time = time
            yield line
    except UnicodeDecodeError as error:  # from a text stream, while reading the next line
        raise TraceFormatError(number + 1, None, f"not valid UTF-8 ({error.reason})", source=source) from None


def _catalog(number: int, obj: dict[str, Any], source: str) -> CatalogLine:
    if obj["kind"] != "catalog":
        raise TraceFormatError(
            number, "kind", f'must be "catalog", got {orjson.dumps(obj["kind"]).decode()}', source=source
        )
    if number != 1:
        raise TraceFormatError(
            number, "kind", "a catalog may only be the first line of a trace", source=source
        )
    try:
        return CatalogLine.model_validate(obj)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise TraceFormatError(number, field, first["msg"], source=source) from None


def _undecodable(
    number: int, raw: bytes | str, error: orjson.JSONDecodeError, source: str
) -> TraceFormatError:
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            return TraceFormatError(
                number,
                None,
                f"not valid UTF-8 (byte 0x{raw[bad.start]:02x} at column {bad.start + 1})",
                source=source,
            )
    else:
        text = raw
    if not text.strip():
        return TraceFormatError(
            number, None, "blank line (every line must be one JSON object)", source=source
        )
    return TraceFormatError(
        number, None, f"not valid JSON: {error.msg} (column {error.colno})", source=source
    )


def _kind_of(value: Any) -> str:
    kind = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else kind.get(type(value), type(value).__name__)
