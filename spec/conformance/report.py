"""What the trace checker found: :class:`CheckReport` and its JSON and JUnit forms.

A report holds, for one trace under one :class:`~spec.rules.Config`:

* ``violations`` - one :class:`TraceViolation` per broken property, with the line, the event, the
  property (name, meaning, UCloud source), the rule that refuses it and the job's history up to it;
* ``jobs`` - a :class:`JobVerdict` per job id: ``conforms``, ``violates`` or ``open`` (not terminal at
  the end of the trace, which is no fault);
* ``skipped`` - the checks that could not run because the trace lacks a catalog or facts
  (:class:`SkippedCheck`); a skipped check never changes the verdict;
* ``error`` - the unreadable line that stopped the reading (:class:`ReadError`), if any.

The verdict and the exit code follow from these: ``unreadable`` (2) if reading stopped early, whatever
was found before; else ``violations`` (1) if any; else ``conforms`` (0).

>>> r = CheckReport(variant="documented", events=0)
>>> r.verdict, r.exit_code, r.to_json()["error"]
('conforms', 0, None)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Literal

from spec.properties import Property

__all__ = ["CheckReport", "JobVerdict", "ReadError", "SkippedCheck", "TraceViolation"]

Verdict = Literal["conforms", "violations", "unreadable"]
JobVerdictName = Literal["conforms", "violates", "open"]


@dataclass(frozen=True, slots=True)
class TraceViolation:
    """One property broken at one line of a trace.

    ``history`` is the job's story up to and including this line, one short entry per event (the
    oldest entries are dropped for long-lived jobs); its last entry says what was wrong. ``rule`` is
    the protocol rule that refuses the event, in words, naming the switch when a :mod:`spec.rules`
    switch governs it.
    """

    line: int
    seq: int
    job: str | None
    prop: Property
    rule: str
    reason: str
    history: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The issue's shape: ``line, seq, job, property, meaning, source, rule, history``."""
        return {
            "line": self.line,
            "seq": self.seq,
            "job": self.job,
            "property": self.prop.name,
            "meaning": self.prop.meaning,
            "source": self.prop.source,
            "rule": self.rule,
            "history": list(self.history),
        }


@dataclass(frozen=True, slots=True)
class JobVerdict:
    """A job's verdict and Core's state of it at the end (``None`` once Core no longer holds it)."""

    verdict: JobVerdictName
    state: str | None


@dataclass(frozen=True, slots=True)
class SkippedCheck:
    """A check the trace did not let the checker make, and why (missing catalog, missing facts)."""

    prop: Property
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"property": self.prop.name, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ReadError:
    """Where reading stopped: the 1-based ``line`` (``None`` when there is no line, e.g. a missing
    file), the ``field`` if one is to blame, and the ``message``."""

    line: int | None
    field: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        what = f"field '{self.field}': " if self.field else ""
        return f"{where}{what}{self.message}"


@dataclass
class CheckReport:
    """The checker's findings on one trace (see the module docstring)."""

    variant: str
    events: int
    violations: list[TraceViolation] = field(default_factory=list)
    jobs: dict[str, JobVerdict] = field(default_factory=dict)
    skipped: list[SkippedCheck] = field(default_factory=list)
    error: ReadError | None = None

    @property
    def verdict(self) -> Verdict:
        """``unreadable`` beats ``violations`` beats ``conforms``."""
        if self.error is not None:
            return "unreadable"
        return "violations" if self.violations else "conforms"

    @property
    def exit_code(self) -> int:
        """0 conforms, 1 violations, 2 unreadable input."""
        return {"conforms": 0, "violations": 1, "unreadable": 2}[self.verdict]

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document of issue 6 (keys in the issue's order)."""
        return {
            "verdict": self.verdict,
            "variant": self.variant,
            "events": self.events,
            "skipped_checks": [s.to_json() for s in self.skipped],
            "jobs": {jid: {"verdict": v.verdict, "state": v.state} for jid, v in self.jobs.items()},
            "violations": [v.to_json() for v in self.violations],
            "error": None if self.error is None else self.error.to_json(),
        }

    def to_junit(self, name: str = "ucsim check") -> str:
        """A JUnit XML document: one ``testcase`` per job (``failure`` per violation, ``skipped`` while
        open), one for violations without a job, one ``error`` case if the trace was unreadable."""
        by_job: dict[str | None, list[TraceViolation]] = {}
        for v in self.violations:
            by_job.setdefault(v.job, []).append(v)
        suite = ET.Element("testsuite", name=name)
        failures = errors = skipped = tests = 0

        def case(case_name: str, found: list[TraceViolation], open_: bool = False) -> ET.Element:
            nonlocal failures, skipped, tests
            tests += 1
            el = ET.SubElement(suite, "testcase", classname="ucsim.check.job", name=case_name)
            for v in found:
                failures += 1
                failure = ET.SubElement(
                    el, "failure", message=f"line {v.line}: {v.prop.name}: {v.reason}", type=v.prop.name
                )
                failure.text = "\n".join(
                    [v.prop.meaning, f"source: {v.prop.source}", f"rule: {v.rule}", *v.history]
                )
            if open_ and not found:
                skipped += 1
                ET.SubElement(el, "skipped", message="open: not terminal at the end of the trace")
            return el

        for jid, verdict in self.jobs.items():
            case(f"job {jid}", by_job.pop(jid, []), open_=verdict.verdict == "open")
        for jid, found in by_job.items():
            case("trace" if jid is None else f"job {jid}", found)
        if self.error is not None:
            tests += 1
            errors += 1
            el = ET.SubElement(suite, "testcase", classname="ucsim.check.trace", name="readable")
            ET.SubElement(el, "error", message=str(self.error), type="unreadable")
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
        return ET.tostring(suite, encoding="unicode", xml_declaration=True)
