"""Errors raised for traces that cannot be read.

Two kinds of problem are kept apart on purpose:

* **unreadable input** - the file is not a trace at all at some line (bad UTF-8, bad JSON, a missing or
  ill-typed envelope field, seq going backwards, an unknown call name...). The reader raises
  :class:`TraceFormatError` and stops: nothing after that line can be trusted.
* **protocol violations** - a well-formed line that records something the protocol forbids (an update to
  a state outside ``JobState``, a final state overwritten...). Those are *not* errors of this module: the
  reader hands the line over and the trace checker judges it.
"""

from __future__ import annotations

__all__ = ["FieldError", "TraceFormatError"]


class FieldError(ValueError):
    """One field of a trace line has a bad value (or is missing, or is not allowed).

    Raised by the line models of :mod:`spec.trace.format` when they are built, whatever builds them (the
    reader, the writer, your code). ``field`` is a dotted path into the line as it appears on the wire,
    e.g. ``"seq"``, ``"response.status"`` or ``"facts.7.cause"``; ``None`` when the problem concerns the
    line as a whole.

    >>> str(FieldError("seq", 'must be an integer, got "x"'))
    'field \\'seq\\': must be an integer, got "x"'
    """

    def __init__(self, field: str | None, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(_describe(field, message))

    def __reduce__(self):  # rebuild from (field, message), not from the formatted text in ``args``
        return (FieldError, (self.field, self.message))

    def within(self, prefix: str) -> FieldError:
        """The same error with its field path placed under ``prefix`` (``"facts.7"`` + ``"cause"``)."""
        return FieldError(f"{prefix}.{self.field}" if self.field else prefix, self.message)


class TraceFormatError(ValueError):
    """A trace line cannot be read: where (``source``, ``line``, ``field``) and why (``message``).

    ``line`` is 1-based. ``source`` is the file name as given to the reader (``"<trace>"`` for an unnamed
    stream). Its ``str()`` reads like a compiler message, so that an editor can jump to it::

        trace.jsonl:7: field 'seq': must be an integer, got "x"
        trace.jsonl:3: not valid JSON: unexpected character (column 12)

    >>> str(TraceFormatError(7, "seq", 'must be an integer, got "x"', source="trace.jsonl"))
    'trace.jsonl:7: field \\'seq\\': must be an integer, got "x"'
    """

    def __init__(self, line: int, field: str | None, message: str, *, source: str = "<trace>") -> None:
        self.line = line
        self.field = field
        self.message = message
        self.source = source
        super().__init__(f"{source}:{line}: {_describe(field, message)}")

    def __reduce__(self):  # keep the keyword-only ``source`` when pickled (e.g. across processes)
        return (_rebuild_trace_format_error, (self.line, self.field, self.message, self.source))


def _rebuild_trace_format_error(line: int, field: str | None, message: str, source: str) -> TraceFormatError:
    return TraceFormatError(line, field, message, source=source)


def _describe(field: str | None, message: str) -> str:
    return f"field '{field}': {message}" if field else message
