"""The trace checker: stream a trace through the protocol's rules and judge both Core and the providers.

:func:`check_trace` reads a trace (DESIGN, "The trace format") line by line with
:class:`~spec.trace.TraceReader` and feeds each call to a :class:`TraceChecker`, which keeps one small
record per job and judges every line as it comes:

**Core** (the orchestrator)

* ``jobs.create`` answered 2xx for a request that breaks a submission rule, or refused with a status no
  rule gives (:func:`spec.validation.validate_submission` against the catalog of line 1; a refusal that
  passes on the provider's own refusal is the provider's answer, paired with its ``jobs.provider.create``);
  accepted although the provider refused it;
* an exclusive resource (public link, public IP) accepted for a second job while a live job holds it;
* with ``facts.coreState``: an update applied to a job in a final state.

**The provider**

* an update for a job it was never given, or that another provider runs;
* RUNNING for a job whose ``jobs.provider.create`` it did not accept;
* a different state after a final one (an exact duplicate of an update already delivered is a retry,
  not a violation); a state outside ``JobState`` such as ``CANCELING``;
* EXPIRED before the running time reached the allocation; a final state that contradicts
  ``facts.cause``; usage charged for time the job was not RUNNING.

Running time comes from ``facts.runningMs`` when the line has it, else from the RUNNING intervals Core
observed, give or take ``tolerance_ms`` for network latency.

The judgement follows the :class:`~spec.rules.Config`, as the spec's own step does: under
``ucloud-current`` (``final-to-final`` on) a provider may move a final job to another final state and Core
may apply it; under ``documented`` it is a ``terminal-finality`` violation.

**Order of a create.** Core answers ``jobs.create`` only once the provider has answered the
``jobs.provider.create`` it made while handling it. DESIGN's trace format puts the enclosing call first
(``jobs.create``, then ``jobs.provider.create`` on the next line: a log written at Core on arrival);
:mod:`spec.trace.record` writes them the other way round (a log written when each answer is known).
Both orders are accepted: a refusal that no submission rule explains is held for one line, and
forgiven if that line is the provider's refusal of the same request.

**Memory** grows with the jobs, not the lines: each job is one record, and a job whose story is over (final
at Core and at its provider) keeps only what judging a late retry needs and a short history.

>>> import io
>>> trace = io.BytesIO(b'{"seq": 1, "time": 0, "actor": "provider:k8s", "call": "jobs.control.update",'
...                    b' "request": {"items": [{"id": "7", "update": {"state": "RUNNING"}}]},'
...                    b' "response": {"status": 404, "body": null}}\\n')
>>> report = check_trace(trace)
>>> report.verdict, [v.prop.name for v in report.violations]
('violations', ['only-owning-provider'])
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import orjson
from pydantic import ValidationError

from spec.catalog import INGRESS, NETWORK, Catalog, resource_key
from spec.conformance.properties import prop
from spec.conformance.report import CheckReport, JobVerdict, ReadError, SkippedCheck, TraceViolation
from spec.rules import DEFAULT, Config
from spec.state import (
    CAUSE_EXIT,
    EXPIRED,
    FINAL,
    IN_QUEUE,
    JOB_STATES,
    RUNNING,
    SUCCESS,
    final_state_for,
)
from spec.trace.errors import TraceFormatError
from spec.trace.format import CallLine, CatalogLine
from spec.trace.reader import TraceReader, TraceSource
from spec.validation import Busy, Refusal, validate_submission
from spec.wire import JobSpecification

__all__ = ["DEFAULT_TOLERANCE_MS", "TraceChecker", "apply_update", "check_trace", "expected_outcome"]

DEFAULT_TOLERANCE_MS = 60_000
"""How far (ms) the times Core observed may be off the provider's: network latency both ways."""

_HISTORY_KEEP = 24  # history entries kept per live job (the oldest are dropped beyond twice that)
_SETTLED_KEEP = 4  # history entries kept once a job's story is over
_CACHE_MAX = 4096  # distinct (request, user, project) validation verdicts cached
_INTERVAL_MS = {"PERIODIC_MINUTE": 60_000, "PERIODIC_HOUR": 3_600_000, "PERIODIC_DAY": 86_400_000}
_EXCLUSIVE = (INGRESS, NETWORK)
_OWNER_RULE = "core2 ResourceValidateProviderBatch: only the provider that runs a job may update it"
_ACCEPTANCE_RULE = (
    "core2 jobCreateThroughProvider: on a provider error the job is deleted and the error returned"
)

# Busy views for validation. The checker cannot see the moment Core validated a request (it sees the
# provider's create and Core's answer, not the arrival), so it judges with both extremes: nothing held
# and every peer RUNNING (the request's static verdict), and everything held and no peer RUNNING (the
# worst state the request may have met). A refusal is right if either view gives its status.
_LENIENT = Busy(holder=lambda key: None, job_state=lambda job_id: RUNNING)
_STRICT = Busy(holder=lambda key: -1, job_state=lambda job_id: None)


def expected_outcome(cause: str, exit_code: int | None, cfg: Config = DEFAULT) -> str:
    """The final state a provider must report for a workload that ended for ``cause``.

    As :func:`spec.system.implied_state`: any exit code gives SUCCESS (FAILURE for a non-zero code under
    the ``nonzero-exit-failure`` rule), a node failure FAILURE, a used-up allocation EXPIRED, anything
    else (cancellation, lost credits or permissions, a vanished workload) SUCCESS.

    >>> expected_outcome("exit", 3), expected_outcome("node-failure", None)
    ('SUCCESS', 'FAILURE')
    """
    return final_state_for(cause, exit_code, cfg.nonzero_exit_failure)


class _Job:
    """What the checker remembers about one job (one record per job id)."""

    __slots__ = (
        "accepted",
        "alloc_ms",
        "bound_at",
        "charged",
        "core_state",
        "created_at",
        "exclusive",
        "facts_ran",
        "facts_time",
        "final",
        "final_line",
        "final_ran",
        "final_time",
        "given_time",
        "history",
        "id",
        "keys",
        "project",
        "provider",
        "provider_status",
        "ran_ms",
        "rate",
        "reported",
        "run_since",
        "spec",
        "terminated",
        "user",
        "violated",
    )

    def __init__(self, jid: str) -> None:
        self.id = jid
        self.user: str | None = None
        self.project: str | None = None
        self.provider: str | None = None  # the provider Core gave the job to
        self.provider_status: int | None = None  # its answer to jobs.provider.create
        self.accepted = False  # Core answered the user's jobs.create with this id
        self.core_state: str | None = IN_QUEUE  # None: Core does not hold the job (refused, lost)
        self.reported: str | None = None  # the last JobState the provider reported
        self.final: str | None = None  # the first final state the provider reported
        self.keys: set[int] | tuple[int, ...] = set()  # hashes of the updates delivered (retries)
        self.alloc_ms: int | None = None
        self.exclusive: tuple[str, ...] = ()
        self.rate: tuple[int, int] | None = None  # (replicas x cpu x price, accounting interval ms)
        self.created_at: int | None = None  # Job.createdAt: when Core validated the request
        self.bound_at = 0
        self.run_since: int | None = None  # when Core saw it enter RUNNING
        self.ran_ms = 0  # RUNNING time Core observed, closed intervals
        self.facts_ran: int | None = None  # the last facts.runningMs ...
        self.facts_time = 0  # ... and the time of its line
        self.charged = 0
        self.history: list[str] = []
        self.violated = False
        self.spec: Any = None  # the specification sent to the provider, until Core answers the user
        self.final_time = 0  # when the provider's first final state arrived ...
        self.final_ran: int | None = None  # ... and facts.runningMs then
        self.terminated = False  # Core forwarded a terminate to the provider
        self.given_time = 0  # when the provider accepted the create
        self.final_line = 0  # the line of the provider's first final state

    def observed_running(self, now: int) -> int:
        """RUNNING time Core observed up to ``now``."""
        since = self.run_since
        return self.ran_ms + (now - since if since is not None else 0)

    def settled(self) -> bool:
        """Whether the job's story is over: Core no longer holds it or holds it final, and its provider
        reported a final state (or never had it)."""
        core = self.core_state
        status = self.provider_status
        # a provider that refused the create never reports on the job
        return (core is None or core in FINAL) and (
            self.final is not None or status is None or not 200 <= status < 300
        )


class TraceChecker:
    """Judges call lines one at a time; :meth:`finish` returns the :class:`CheckReport`.

    ``catalog`` is the trace's catalog line (``None`` if it has none: the checks that need it are then
    skipped). Feed lines with :meth:`feed` (line number, :class:`CallLine`), in order.
    """

    def __init__(
        self,
        catalog: CatalogLine | None = None,
        cfg: Config = DEFAULT,
        tolerance_ms: int = DEFAULT_TOLERANCE_MS,
    ) -> None:
        self.cfg = cfg
        self.tolerance_ms = tolerance_ms
        self.catalog = _catalog_of(catalog) if catalog is not None else None
        self.jobs: dict[str, _Job] = {}
        self.ended: dict[str, tuple[Any, ...]] = {}  # settled jobs, compacted (see _settle)
        self._settling: list[_Job] = []  # jobs touched by the current line, to settle after it
        self.pending: dict[str, _Job] = {}  # given to a provider, Core's answer to the user not seen yet
        self.bound: dict[str, str] = {}  # exclusive resource key -> job id holding it
        self.violations: list[TraceViolation] = []
        self.events = 0
        # A refused jobs.create, held for one line: the provider's refusal of the same request may follow
        # it (DESIGN order). (number, line, user, what; what is None for a 5xx, which no rule judges)
        self._held: tuple[int, CallLine, str, str | None] | None = None
        self._verdicts: dict[tuple[bytes, str, str | None], tuple[Refusal | None, Refusal | None, Any]] = {}
        self._user_projects: dict[str, set[str | None]] = {}
        # counts of judgements skipped for lack of facts
        self._no_cause = 0
        self._no_core_state = 0
        self._handlers = {
            "jobs.create": self._create,
            "jobs.provider.create": self._provider_create,
            "jobs.control.update": self._update,
            "accounting.reportUsage": self._usage,
        }

    # -- driving -----------------------------------------------------------------------------------

    def feed(self, number: int, line: CallLine) -> None:
        """Judge one call line (``number`` is its 1-based line in the file)."""
        self.events += 1
        held = self._held
        if held is not None:
            self._held = None
            if not self._explains(held, line):
                self._unexplained_refusal(*held)
        handler = self._handlers.get(line.call)
        if handler is not None:
            handler(number, line)
        else:
            self._other(number, line)
        if held is not None and line.call == "jobs.provider.create" and self._explains(held, line):
            self._provider_refused_after(held, number, line)
        if self._settling:
            for job in self._settling:
                if job.settled() and self.jobs.get(job.id) is job:
                    self._settle(job)
            self._settling.clear()

    def feed_all(self, lines: Iterable[tuple[int, CallLine]]) -> None:
        for number, line in lines:
            self.feed(number, line)

    def finish(self, error: ReadError | None = None) -> CheckReport:
        """The report on everything fed so far (``error``: where reading stopped, if it did)."""
        if self._held is not None:
            held, self._held = self._held, None
            self._unexplained_refusal(*held)
        jobs: dict[str, JobVerdict] = {}
        for jid, ended in self.ended.items():
            jobs[jid] = JobVerdict("violates" if ended[1] else "conforms", ended[0])
        for jid, job in self.jobs.items():
            if not job.accepted and job.core_state is not None and job.provider_status is None:
                continue  # never reached a provider nor an answer: nothing to judge yet
            core = job.core_state
            terminal = core is None or core in FINAL
            verdict = "violates" if job.violated else ("conforms" if terminal else "open")
            jobs[jid] = JobVerdict(verdict, core)  # type: ignore[arg-type]
        return CheckReport(
            variant=self.cfg.describe(),
            events=self.events,
            violations=self.violations,
            jobs=jobs,
            skipped=self._skipped() if self.events or error is None else [],
            error=error,
        )

    def _skipped(self) -> list[SkippedCheck]:
        out: list[SkippedCheck] = []
        if self.catalog is None:
            why = "the trace has no catalog line"
            for name in (
                "submission-verdict",
                "well-formed-spec",
                "feature-gating",
                "parameter-validity",
                "allocation-gate",
                "charge-only-running",
            ):
                out.append(SkippedCheck(prop(name), why))
        if self._no_cause:
            out.append(
                SkippedCheck(
                    prop("outcome-matches-cause"),
                    f"{self._no_cause} final update(s) without facts.cause",
                )
            )
        if self._no_core_state:
            out.append(
                SkippedCheck(
                    prop("terminal-finality"),
                    f"Core's side: {self._no_core_state} update(s) to a final job without facts.coreState",
                )
            )
        return out

    # -- helpers -----------------------------------------------------------------------------------

    def _job(self, jid: str) -> _Job:
        """The record of job ``jid``, made (or revived from :attr:`ended`) if need be."""
        job = self.jobs.get(jid)
        if job is None:
            job = self._lookup(jid) or _Job(jid)
            self.jobs[jid] = job
        return job

    def _lookup(self, jid: str) -> _Job | None:
        """The record of job ``jid`` if the checker knows the job (a settled job is revived)."""
        job = self.jobs.get(jid)
        if job is not None:
            return job
        ended = self.ended.pop(jid, None)
        if ended is None:
            return None
        job = self.jobs[jid] = _Job(jid)
        (job.core_state, job.violated, job.provider, job.provider_status, job.final, job.final_time,
         job.final_ran, job.keys, job.terminated, job.rate, job.final_line) = ended  # fmt: skip
        job.facts_ran, job.facts_time = job.final_ran, job.final_time
        job.accepted = True
        job.history.append(
            f"(history dropped once the job was over; its final state {job.final} arrived at line {job.final_line})"
            if job.final is not None
            else "(history dropped once the job was over)"
        )
        return job

    def _note(self, job: _Job, entry: str) -> None:
        history = job.history
        history.append(entry)
        if len(history) > 2 * _HISTORY_KEEP:
            del history[:-_HISTORY_KEEP]

    def _never_given(self, number: int, line: CallLine, job: _Job, jid: str, actor: str) -> None:
        """A provider updated a job it was never given (reference §5.4)."""
        self._violate(
            number,
            line,
            job,
            jid,
            "only-owning-provider",
            f"{actor} sent an update for job {jid}, which it was never given",
            _OWNER_RULE,
        )

    def _violate(
        self,
        number: int,
        line: CallLine,
        job: _Job | None,
        jid: str | None,
        name: str,
        reason: str,
        rule: str,
    ) -> None:
        history: tuple[str, ...] = ()
        if job is not None:
            job.violated = True
            history = tuple(job.history)
        self.violations.append(
            TraceViolation(
                line=number,
                seq=line.seq,
                job=jid,
                prop=prop(name),
                rule=rule,
                reason=reason,
                history=(*history, f"  ^ {reason}"),
            )
        )

    def _set_core_state(self, job: _Job, state: str | None, now: int) -> None:
        old = job.core_state
        if state == old:
            return
        if old == RUNNING and job.run_since is not None:
            job.ran_ms += now - job.run_since
            job.run_since = None
        if state == RUNNING:
            job.run_since = now
        job.core_state = state
        if state is None or state in FINAL:
            bound = self.bound
            for key in job.exclusive:
                if bound.get(key) == job.id:
                    del bound[key]
        self._settling.append(job)

    def _settle(self, job: _Job) -> None:
        """Keep of a finished job only what judging a late update needs, as one tuple in :attr:`ended`
        (so memory grows with the live jobs; a settled job costs a few dozen bytes)."""
        del self.jobs[job.id]
        self.pending.pop(job.id, None)
        keys = job.keys
        self.ended[job.id] = (
            job.core_state,
            job.violated,
            job.provider,
            job.provider_status,
            job.final,
            job.final_time,
            job.final_ran,
            tuple(keys) if isinstance(keys, set) else keys,
            job.terminated,
            job.rate,
            job.final_line,
        )

    # -- Core's validation -------------------------------------------------------------------------

    def _verdict(
        self, item: Any, user: str, project: str | None
    ) -> tuple[Refusal | None, Refusal | None, Any]:
        """(lenient refusal, strict refusal, facts of the request) for one jobs.create item, cached."""
        key = (orjson.dumps(item), user, project)
        found = self._verdicts.get(key)
        if found is not None:
            return found
        catalog = self.catalog
        assert catalog is not None
        try:
            spec = JobSpecification.model_validate(item)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "request"
            bad = Refusal(400, f"not a JobSpecification: {first['msg']}", where)
            found = (bad, bad, None)
        else:
            lenient = validate_submission(spec, user, project, catalog, _LENIENT, self.cfg)
            strict = validate_submission(spec, user, project, catalog, _STRICT, self.cfg)
            found = (lenient, strict, spec)
        if len(self._verdicts) >= _CACHE_MAX:
            self._verdicts.clear()
        self._verdicts[key] = found
        return found

    def _rate(self, spec: dict[str, Any]) -> tuple[int, int] | None:
        """(replicas x cpu x price, accounting interval) of a specification, from the catalog."""
        catalog = self.catalog
        if catalog is None:
            return None
        ref = spec.get("product") if type(spec) is dict else None
        if type(ref) is not dict:
            return None
        product = catalog.products.get((ref.get("provider"), ref.get("category"), ref.get("id")))  # type: ignore[arg-type]
        if product is None:
            return None
        replicas = spec.get("replicas")
        replicas = replicas if type(replicas) is int and replicas > 0 else 1
        cpu = product.cpu or 1
        price = product.price or 1
        interval = _INTERVAL_MS.get(product.category.accounting_frequency.value, 60_000)
        return replicas * cpu * price, interval

    # -- calls -------------------------------------------------------------------------------------

    def _provider_create(self, number: int, line: CallLine) -> None:
        items = _items(line.request)
        status = line.response.status
        for item in items:
            if type(item) is not dict or type(item.get("id")) is not str:
                continue
            job = self._job(item["id"])
            job.provider = line.provider
            job.provider_status = status
            job.given_time = line.time
            owner = item.get("owner")
            if type(owner) is dict:
                job.user = owner.get("createdBy")
                job.project = owner.get("project")
                if job.user is not None:
                    self._user_projects.setdefault(job.user, set()).add(job.project)
            created = item.get("createdAt")
            job.created_at = created if type(created) is int else line.time
            spec = item.get("specification")
            if type(spec) is dict:
                job.spec = spec
                job.alloc_ms = _millis(spec.get("timeAllocation"))
                job.exclusive = _exclusive_keys(spec)
                job.rate = self._rate(spec)
            if not job.accepted:
                self.pending[job.id] = job
            self._note(job, f"line {number}: jobs.provider.create to {line.provider} -> {status}")
            if job.accepted and not 200 <= status < 300:  # DESIGN order: Core's answer came first
                self._violate(
                    number,
                    line,
                    job,
                    job.id,
                    "provider-acceptance",
                    f"Core accepted job {job.id} although provider {line.provider} refused it ({status})",
                    _ACCEPTANCE_RULE,
                )
            if type(spec) is dict and job.user is not None:
                # Core forwards a create only once the request passed its validation (§3.5).
                self._judge_validation(number, line, job, spec, job.user)

    def _judge_validation(self, number: int, line: CallLine, job: _Job, spec: Any, user: str) -> None:
        """Core let a request through (forwarded it or accepted it): it must pass every rule."""
        if self.catalog is None:
            return
        lenient, _strict, _spec = self._verdict(spec, user, job.project)
        if lenient is not None:
            self._violate(
                number,
                line,
                job,
                job.id,
                _property_of(lenient),
                f"Core let through a request it must refuse with {lenient}",
                "reference §3.5, §8.3: Core refuses the request at the first submission rule that fails",
            )

    def _create(self, number: int, line: CallLine) -> None:
        user = line.actor_id if line.actor_kind == "user" else None
        items = _items(line.request)
        response = line.response
        if response.ok:
            responses = _items(response.body, "responses")
            for i, item in enumerate(items):
                answer = responses[i] if i < len(responses) else None
                jid = answer.get("id") if type(answer) is dict else None
                if type(jid) is str:
                    self._accepted(number, line, item, jid, user or "")
            return
        self._refused(number, line, items, user or "")

    def _accepted(self, number: int, line: CallLine, item: Any, jid: str, user: str) -> None:
        job = self._job(jid)
        self.pending.pop(jid, None)
        self._note(job, f"line {number}: jobs.create by user:{user} -> {line.response.status} (id {jid})")
        if job.accepted:
            return  # the same answer twice: nothing new
        job.accepted = True
        job.user = job.user or user
        if job.spec is None and type(item) is dict:  # no jobs.provider.create seen (yet)
            job.alloc_ms = _millis(item.get("timeAllocation"))
            job.exclusive = _exclusive_keys(item)
            job.rate = self._rate(item)
        job.spec = None
        status = job.provider_status
        if status is not None and not 200 <= status < 300:
            self._violate(
                number,
                line,
                job,
                jid,
                "provider-acceptance",
                f"Core accepted job {jid} although provider {job.provider} refused it ({status})",
                _ACCEPTANCE_RULE,
            )
        if job.provider_status is None:  # not judged when Core forwarded it: judge Core's answer
            self._judge_validation(number, line, job, item, user)
        # Exclusive resources: bound now that the provider accepted (core2 JobCreate -> jobBindResource).
        created = job.created_at if job.created_at is not None else line.time
        for key in job.exclusive:
            holder_id = self.bound.get(key)
            holder = self.jobs.get(holder_id) if holder_id is not None else None  # settled: not live
            if holder is not None and holder_id != jid and holder.core_state not in FINAL:
                race = self.cfg.check_then_bind and holder.bound_at >= created
                if not race:
                    self._violate(
                        number,
                        line,
                        job,
                        jid,
                        "exclusive-binding",
                        f"{key} accepted for job {jid} while bound to live job {holder_id}",
                        "check-then-bind: "
                        + (
                            "on, but the holder was bound before this request was validated"
                            if self.cfg.check_then_bind
                            else "off (Core reserves an exclusive resource when it validates the request)"
                        ),
                    )
            if job.core_state is not None and job.core_state not in FINAL:
                self.bound[key] = jid
                job.bound_at = line.time

    def _refused(self, number: int, line: CallLine, items: list[Any], user: str) -> None:
        status = line.response.status
        # A refusal that answers a create Core already sent to the provider: the provider refused it,
        # or it timed out. Pair it with that jobs.provider.create (same user, same request).
        for jid, job in self.pending.items():
            if job.user == user and any(_same_request(item, job.spec) for item in items):
                pstatus = job.provider_status
                if status >= 500 or (pstatus is not None and not 200 <= pstatus < 300):
                    del self.pending[jid]
                    self._note(
                        job, f"line {number}: jobs.create by user:{user} -> {status} (Core deletes it)"
                    )
                    job.spec = None
                    self._set_core_state(job, None, line.time)
                    return
        if status >= 500:
            # Core or the network failed: no validation verdict to judge; but in DESIGN order the
            # jobs.provider.create that failed comes next, and must be paired with this answer.
            self._held = (number, line, user, None)
            return
        if self.catalog is None:
            return
        projects = self._user_projects.get(user, set()) | {None}
        explained = False
        valid = False
        for item in items:
            for project in projects:
                lenient, strict, _spec = self._verdict(item, user, project)
                if lenient is None and strict is None:
                    valid = True
                if (lenient is not None and lenient.status == status) or (
                    strict is not None and strict.status == status
                ):
                    explained = True
                    break
            if explained:
                break
        if not explained:
            # Perhaps the provider refused it and its jobs.provider.create is the next line: hold it.
            self._held = (number, line, user, "a valid request" if valid else "a request")

    def _explains(self, held: tuple[int, CallLine, str, str | None], line: CallLine) -> bool:
        """Whether ``line`` is the provider's refusal, with the same status, of the held request."""
        _number, refused, user, _what = held
        if line.call != "jobs.provider.create" or line.response.status != refused.response.status:
            return False
        items = _items(refused.request)
        for job in _items(line.request):
            if type(job) is not dict:
                continue
            owner = job.get("owner")
            if (
                type(owner) is dict
                and owner.get("createdBy") == user
                and any(_same_request(item, job.get("specification")) for item in items)
            ):
                return True
        return False

    def _provider_refused_after(
        self, held: tuple[int, CallLine, str, str | None], number: int, line: CallLine
    ) -> None:
        """The provider's refusal followed Core's answer (DESIGN order): Core deleted the job."""
        for item in _items(line.request):
            jid = item.get("id") if type(item) is dict else None
            job = self.pending.pop(jid, None) if type(jid) is str else None
            if job is not None:
                self._note(
                    job,
                    f"line {held[0]}: jobs.create by user:{held[2]} -> {line.response.status} "
                    "(answered before this line; Core deletes it)",
                )
                job.spec = None
                self._set_core_state(job, None, line.time)

    def _unexplained_refusal(self, number: int, line: CallLine, user: str, what: str | None) -> None:
        if what is None:
            return  # a 5xx: Core or the network failed, nothing to judge
        self._violate(
            number,
            line,
            None,
            None,
            "submission-verdict",
            f"Core refused {what} of user:{user} with {line.response.status} ({line.response.why}), which no "
            "submission rule gives for it",
            "reference §3.5, §8.3: the first failing rule decides the status (400, 402 or 403)",
        )

    def _update(self, number: int, line: CallLine) -> None:
        actor = line.actor
        pid = line.actor_id if line.actor_kind == "provider" else None
        status = line.response.status
        ok = 200 <= status < 300
        facts = line.facts
        now = line.time
        cfg = self.cfg
        for item in _items(line.request):
            if type(item) is not dict:
                continue
            jid = item.get("id")
            update = item.get("update")
            if type(jid) is not str or type(update) is not dict:
                continue
            state = update.get("state")
            job = self._lookup(jid)
            f = facts.get(jid) if facts is not None else None
            if job is None:
                job = self._job(jid)
                job.core_state = None
                self._note(job, f"line {number}: jobs.control.update {state} by {actor} -> {status}")
                self._never_given(number, line, job, jid, actor)
                continue
            self._note(
                job,
                f"line {number}: jobs.control.update {state if state is not None else '(no state)'} by {actor} "
                f"-> {status}" + (f" (Core: {f.core_state.value})" if f is not None and f.core_state else ""),
            )
            given = job.provider_status is not None and 200 <= job.provider_status < 300
            if job.provider is not None and pid != job.provider:
                self._violate(
                    number,
                    line,
                    job,
                    jid,
                    "only-owning-provider",
                    f"{actor} sent an update for job {jid}, which runs at provider:{job.provider}",
                    _OWNER_RULE,
                )
                continue
            if not given:
                if state == RUNNING:
                    self._violate(
                        number,
                        line,
                        job,
                        jid,
                        "running-after-accept",
                        f"{actor} reported RUNNING for job {jid}, whose create it did not accept"
                        + (f" (answered {job.provider_status})" if job.provider_status is not None else ""),
                        "reference §5.6: a provider reports on a job only after accepting its create",
                    )
                else:
                    self._never_given(number, line, job, jid, actor)
                continue
            # -- the provider's side
            key = hash(
                (
                    state,
                    update.get("status"),
                    update.get("expectedState"),
                    update.get("expectedDifferentState"),
                    update.get("newTimeAllocation"),
                )
            )
            keys = job.keys
            retry = key in keys
            if not retry:
                if isinstance(keys, set):
                    keys.add(key)
                else:
                    job.keys = (*keys, key)
            if state is not None and (type(state) is not str or state not in JOB_STATES):
                self._violate(
                    number,
                    line,
                    job,
                    jid,
                    "state-domain",
                    f"{actor} reported state {state!r} for job {jid}, which is not a JobState",
                    "orchestrators/jobs.go: JobState is IN_QUEUE, RUNNING, SUSPENDED, SUCCESS, FAILURE or EXPIRED",
                )
                state = None
            elif state is not None:
                final = job.final
                if final is not None:
                    if state != final and not retry:
                        if state not in FINAL:
                            if self._resurrected(job, f, now):
                                self._violate(
                                    number,
                                    line,
                                    job,
                                    jid,
                                    "no-resurrection",
                                    f"{actor} reported {state} for job {jid} after its final state {final}",
                                    "reference §2.4: a final job never returns to a non-final state (an update "
                                    f"sent before the final one may arrive up to {self.tolerance_ms} ms late)",
                                )
                            else:
                                self._note(job, "  (a late delivery of an update sent before the final one)")
                        else:
                            if not cfg.final_to_final:
                                self._violate(
                                    number,
                                    line,
                                    job,
                                    jid,
                                    "terminal-finality",
                                    f"{actor} reported {state} for job {jid} after its final state {final}",
                                    "final-to-final: off under "
                                    + cfg.describe()
                                    + " (a final state never changes)",
                                )
                            self._judge_final(number, line, job, jid, state, f, now)
                elif state in FINAL:
                    job.final = state
                    job.final_time = now
                    job.final_line = number
                    job.final_ran = f.running_ms if f is not None else None
                    self._judge_final(number, line, job, jid, state, f, now)
                if not retry or job.final is None:
                    job.reported = state
            nta = update.get("newTimeAllocation")
            if type(nta) is int and ok:
                job.alloc_ms = nta
            if f is not None and f.running_ms is not None:
                job.facts_ran = f.running_ms
                job.facts_time = now
            # -- Core's side
            if not ok:
                if status == 404 and job.core_state is not None:
                    self._set_core_state(job, None, now)  # Core no longer has the job (lost in a restart)
                else:
                    self._settling.append(job)
                continue
            before = job.core_state
            core_after = f.core_state.value if f is not None and f.core_state is not None else None
            if core_after is not None:
                if before is not None and before in FINAL and core_after != before:
                    if core_after not in FINAL:
                        self._violate(
                            number,
                            line,
                            job,
                            jid,
                            "no-resurrection",
                            f"Core moved job {jid} from final {before} back to {core_after}",
                            "reference §2.4: Core drops an update with a non-final state for a final job",
                        )
                    elif not cfg.final_to_final:
                        self._violate(
                            number,
                            line,
                            job,
                            jid,
                            "terminal-finality",
                            f"Core applied an update to job {jid} in final state {before}: now {core_after}",
                            "final-to-final: off under "
                            + cfg.describe()
                            + " (Core applies no update to a final job)",
                        )
                self._set_core_state(job, core_after, now)
            elif before is not None:
                if before in FINAL and state is not None and state != before:
                    self._no_core_state += 1
                self._set_core_state(job, apply_update(before, update, state, cfg), now)
            self._settling.append(job)

    def _resurrected(self, job: _Job, f: Any, now: int) -> bool:
        """Whether a non-final update after the final one is the provider's doing, not the network's.

        The trace shows the order in which Core received updates, not the order the provider sent them:
        a RUNNING sent before SUCCESS may arrive after it. Such a late delivery is forgiven when it
        arrives within ``tolerance_ms`` of the final state and, if the line has facts, the workload had
        ended and ran no further."""
        if now - job.final_time > self.tolerance_ms:
            return True
        if f is not None:
            if f.cause is None:
                return True
            if f.running_ms is not None and job.final_ran is not None and f.running_ms > job.final_ran:
                return True
        return False

    def _judge_final(
        self, number: int, line: CallLine, job: _Job, jid: str, state: str, f: Any, now: int
    ) -> None:
        """A final state the provider reported for a job (the first, or another one where the rules
        allow final -> final): expiry and outcome."""
        if state == EXPIRED and job.final == EXPIRED and job.final_time != now:
            pass  # judged when it first arrived
        elif state == EXPIRED:
            alloc = job.alloc_ms
            if f is not None and f.running_ms is not None:
                ran, tolerance, how = f.running_ms, 0, "facts.runningMs"
            else:
                ran, tolerance, how = job.observed_running(now), self.tolerance_ms, "as Core observed it"
            if alloc is None or ran + tolerance < alloc:
                self._violate(
                    number,
                    line,
                    job,
                    jid,
                    "expired-only-after-allocation",
                    f"job {jid} reported EXPIRED after {ran} ms of RUNNING time ({how}"
                    + (f", tolerance {tolerance} ms" if tolerance else "")
                    + f"); its allocation is {'none' if alloc is None else f'{alloc} ms'}",
                    "reference §7.5: a job expires when its cumulative RUNNING time exceeds its allocation",
                )
        if f is not None and f.cause is not None:
            want = expected_outcome(f.cause, f.exit_code, self.cfg)
            # terminate-final-forwarded: the provider answers a terminate of an ended job with SUCCESS.
            forwarded = state == SUCCESS and job.terminated and self.cfg.terminate_final_forwarded
            if state != want and not forwarded:
                code = f" (exit code {f.exit_code})" if f.cause == CAUSE_EXIT else ""
                rule = (
                    "nonzero-exit-failure: "
                    + ("on" if self.cfg.nonzero_exit_failure else "off")
                    + f" under {self.cfg.describe()}"
                    if f.cause == CAUSE_EXIT
                    else "DESIGN 'The trace format': the final state a cause calls for"
                )
                self._violate(
                    number,
                    line,
                    job,
                    jid,
                    "outcome-matches-cause",
                    f"job {jid} ended {state}, but its cause {f.cause}{code} calls for {want}",
                    rule,
                )
        else:
            self._no_cause += 1

    def _usage(self, number: int, line: CallLine) -> None:
        if self.catalog is None:
            return
        now = line.time
        for item in _items(line.request):
            if type(item) is not dict:
                continue
            description = item.get("description")
            scope = description.get("scope") if type(description) is dict else None
            usage = item.get("usage")
            if type(scope) is not str or not scope.startswith("job-") or type(usage) is not int:
                continue
            job = self._lookup(scope[4:])
            if job is None or job.rate is None:
                continue
            charged = job.charged + usage if item.get("isDeltaCharge") else usage
            job.charged = charged
            unit, interval = job.rate
            # The most RUNNING time the job can have had: what the facts last said plus the time since
            # (the provider may be running it although its RUNNING update has not reached Core yet), or
            # without facts, the time since the provider accepted it; never less than Core observed.
            if job.facts_ran is not None:
                bound = job.facts_ran + (now - job.facts_time if job.final is None else 0)
            else:
                bound = now - job.given_time
            ran = max(job.observed_running(now), bound)
            due = unit * (ran + self.tolerance_ms) // interval
            if charged > due:
                self._note(job, f"line {number}: accounting.reportUsage {charged} by {line.actor}")
                self._violate(
                    number,
                    line,
                    job,
                    job.id,
                    "charge-only-running",
                    f"job {job.id} charged {charged}, but at most {ran} ms of RUNNING time "
                    f"(+{self.tolerance_ms} ms tolerance) is worth at most {due}",
                    "reference §4.3, §7.7: only RUNNING time is charged",
                )

    def _other(self, number: int, line: CallLine) -> None:
        """Calls that only add to a job's history (terminate, extend, suspend, follow, sessions...)."""
        request = line.request
        if type(request) is not dict:
            return
        items = request.get("items")
        if type(items) is not list:
            items = [request]
        for item in items:
            if type(item) is not dict:
                continue
            jid = item.get("id", item.get("jobId"))
            if jid is None and type(item.get("job")) is dict:
                jid = item["job"].get("id")
            job = self._lookup(jid) if type(jid) is str else None
            if job is not None:
                if line.call == "jobs.provider.terminate" and line.response.ok:
                    job.terminated = True
                self._note(job, f"line {number}: {line.call} by {line.actor} -> {line.response.status}")


# -- small pure helpers ----------------------------------------------------------------------------


def apply_update(current: str, update: dict[str, Any], state: str | None, cfg: Config) -> str:
    """Core's state after applying one delivered update (reference §2.4) under ``cfg``: the
    ``expectedState`` / ``expectedDifferentState`` guards and the terminal guard (final-to-final only
    under the ``final-to-final`` rule). Shared with the provider kit's Core."""
    expected = update.get("expectedState")
    if expected is not None:
        if expected != current:
            return current
    elif update.get("expectedDifferentState") and state is not None and state == current:
        return current
    if state is None:
        return current
    if current in FINAL and (state not in FINAL or not cfg.final_to_final):
        return current
    return state


def _items(payload: Any, key: str = "items") -> list[Any]:
    if type(payload) is dict:
        items = payload.get(key)
        if type(items) is list:
            return items
    return []


def _millis(duration: Any) -> int | None:
    if type(duration) is not dict:
        return None
    h, m, s = duration.get("hours", 0), duration.get("minutes", 0), duration.get("seconds", 0)
    if type(h) is not int or type(m) is not int or type(s) is not int:
        return None
    return h * 3_600_000 + m * 60_000 + s * 1_000


def _exclusive_keys(spec: dict[str, Any]) -> tuple[str, ...]:
    """Binding keys of the public links and IPs a specification references (as validation names them)."""
    keys: list[str] = []
    params = spec.get("parameters")
    values = list(params.values()) if type(params) is dict else []
    resources = spec.get("resources")
    if type(resources) is list:
        values += resources
    for value in values:
        if type(value) is dict and value.get("type") in _EXCLUSIVE and type(value.get("id")) is str:
            keys.append(resource_key(value["type"], value["id"]))
    return tuple(dict.fromkeys(keys))


def _same_request(item: Any, spec: Any) -> bool:
    """Whether a jobs.create item is the request behind a Job's specification (Core may have changed
    the time allocation, so it is left out of the comparison)."""
    if type(item) is not dict or type(spec) is not dict:
        return False
    return {k: v for k, v in item.items() if k != "timeAllocation"} == {
        k: v for k, v in spec.items() if k != "timeAllocation"
    }


def _property_of(refusal: Refusal) -> str:
    """The spec property an accepted request breaks, by the rule that refuses it."""
    if refusal.status == 402:
        return "allocation-gate"
    if refusal.field in ("replicas", "timeAllocation"):
        return "well-formed-spec"
    if refusal.why == "the application is not supported on this machine type":
        return "feature-gating"
    if refusal.field.startswith(("parameters", "resources")):
        return "parameter-validity"
    return "submission-verdict"


def _catalog_of(line: CatalogLine) -> Catalog:
    from spec.trace.format import IngressResource, LicenseResource, PublicIPResource

    return Catalog.build(
        applications=line.applications,
        products=line.products,
        support=line.support,
        ingresses=[r for r in line.resources if isinstance(r, IngressResource)],
        public_ips=[r for r in line.resources if isinstance(r, PublicIPResource)],
        licenses=[r for r in line.resources if isinstance(r, LicenseResource)],
        wallets=line.wallets,
    )


def check_trace(
    source: TraceSource,
    cfg: Config = DEFAULT,
    tolerance_ms: int = DEFAULT_TOLERANCE_MS,
) -> CheckReport:
    """Check a whole trace (a path, ``.gz`` too, or a binary stream) and return the report.

    Never raises for bad input: a missing file or an unreadable line ends the reading and becomes
    ``report.error`` (exit code 2), with every violation found before it kept.
    """
    try:
        reader = TraceReader(source)
    except TraceFormatError as error:
        checker = TraceChecker(None, cfg, tolerance_ms)
        return checker.finish(ReadError(error.line, error.field, error.message))
    except OSError as error:
        checker = TraceChecker(None, cfg, tolerance_ms)
        name = os.fspath(source) if isinstance(source, str | os.PathLike) else "<trace>"
        return checker.finish(ReadError(None, None, f"cannot read {name}: {error.strerror or error}"))
    with reader:
        checker = TraceChecker(reader.catalog, cfg, tolerance_ms)
        number = 1 if reader.catalog is not None else 0
        feed = checker.feed
        try:
            for line in reader:
                number += 1
                feed(number, line)
        except TraceFormatError as error:
            return checker.finish(ReadError(error.line, error.field, error.message))
        except OSError as error:  # e.g. a truncated gzip stream
            return checker.finish(ReadError(number + 1, None, f"cannot read: {error}"))
    return checker.finish()
