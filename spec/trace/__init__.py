"""The trace format: JSON Lines of the API calls seen by UCloud/Core, read and written as a stream.

A trace is how the simulator reports what happened and how a provider team hands its traffic to the
checker. DESIGN, "The trace format", states the format; in short::

    {"kind": "catalog", "version": 1, "applications": [...], "products": [...], ...}   <- optional, line 1
    {"seq": 1, "time": 0, "actor": "user:alice", "call": "jobs.create", "request": {...},
     "response": {"status": 200, "body": {"responses": [{"id": "7"}]}}}
    {"seq": 2, "time": 0, "actor": "ucloud", "call": "jobs.provider.create", "provider": "k8s", ...}
    {"seq": 3, "time": 5000, "actor": "provider:k8s", "call": "jobs.control.update", ...,
     "facts": {"7": {"cause": "exit", "exitCode": 0, "runningMs": 61000}}}

* :func:`read_trace` / :class:`TraceReader` - stream the lines of a file (``.gz`` too), checking each;
* :class:`TraceWriter` - write lines, checking each and their order; byte-for-byte reproducible;
* :class:`CatalogLine`, :class:`CallLine`, :class:`Response`, :class:`JobFacts` - the lines;
* :class:`TraceFormatError` - an unreadable line: file, 1-based line number, field, reason.

Importing this package registers the JSON Schemas ``TraceCatalogLine`` and ``TraceCallLine`` with
:func:`spec.wire.schema.register_schema`, so that ``ucsim schema`` exports them.
"""

from __future__ import annotations

from spec.trace.errors import FieldError, TraceFormatError
from spec.trace.format import (
    CALL_LINE_FIELDS,
    CAUSES,
    CORE_TO_PROVIDER_CALLS,
    CallLine,
    CallLineSchema,
    CatalogLine,
    CatalogResource,
    Cause,
    IngressResource,
    JobFacts,
    LicenseResource,
    PublicIPResource,
    Response,
)
from spec.trace.reader import TraceReader, TraceSource, read_trace
from spec.trace.record import TraceRecorder
from spec.trace.writer import TraceTarget, TraceWriter
from spec.wire.schema import register_schema

__all__ = [
    "CALL_LINE_FIELDS",
    "CAUSES",
    "CORE_TO_PROVIDER_CALLS",
    "CallLine",
    "CallLineSchema",
    "CatalogLine",
    "CatalogResource",
    "Cause",
    "FieldError",
    "IngressResource",
    "JobFacts",
    "LicenseResource",
    "PublicIPResource",
    "Response",
    "TraceFormatError",
    "TraceReader",
    "TraceRecorder",
    "TraceSource",
    "TraceTarget",
    "TraceWriter",
    "read_trace",
]

register_schema("TraceCatalogLine", CatalogLine)
register_schema("TraceCallLine", CallLineSchema)
