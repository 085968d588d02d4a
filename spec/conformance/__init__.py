"""Provider conformance: check a recorded trace against the protocol (``ucsim check``).

* :func:`check_trace` - stream a trace file through a :class:`TraceChecker` and get a
  :class:`CheckReport` (verdict per job, violations with line, property, rule and history);
* :class:`TraceChecker` - the line-by-line judge, for callers that feed lines themselves;
* :data:`CHECKED` - the properties the checker reports (the spec's, plus its own proposals).

Imports only :mod:`spec`: no simulator, no SimPy.
"""

from __future__ import annotations

from spec.conformance.checker import (
    DEFAULT_TOLERANCE_MS,
    TraceChecker,
    apply_update,
    check_trace,
    expected_outcome,
)
from spec.conformance.properties import CHECKED, CHECKER_ONLY
from spec.conformance.report import CheckReport, JobVerdict, ReadError, SkippedCheck, TraceViolation

__all__ = [
    "CHECKED",
    "CHECKER_ONLY",
    "DEFAULT_TOLERANCE_MS",
    "CheckReport",
    "JobVerdict",
    "ReadError",
    "SkippedCheck",
    "TraceChecker",
    "TraceViolation",
    "apply_update",
    "check_trace",
    "expected_outcome",
]
