"""Named properties of the protocol: invariants, action properties and liveness, as values.

Every property is a :class:`Property` with a name, a one-line meaning, its UCloud source (reference
``ucloud-jobs.md`` §11 numbers them S1..S30, L1..L8) and a kind:

* ``invariant``: a predicate on one state. Checked after each step on what the step *touched*
  (the jobs in ``Transition.touched``), never by scanning the whole state.
* ``action``: a predicate on a step ``(old state, action, transition)``.
* ``liveness``: an obligation that must eventually be met under the weak fairness of
  :data:`spec.actions.FAIR_ACTIONS` (deliveries, reports, restarts happen when enabled long
  enough; users, workloads and faults owe nothing). ``pending(model, state)`` lists the jobs whose
  obligation is still open; a fair run on which some job stays pending forever violates it.

Properties never look at which mutant or variant is active: they judge behaviour against the
documented protocol, so that a mutant, or a ``ucloud-current`` rule, shows up as a violation.

>>> from spec.properties import PROPERTIES
>>> len(PROPERTIES) >= 25
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from spec import actions as A
from spec.rules import DEFAULT
from spec.state import (
    CAUSE_EXIT,
    ENDED,
    EXPIRED,
    FAILURE,
    FINAL,
    IN_QUEUE,
    JOB_STATES,
    RUNNING,
    SUCCESS,
    SUSPENDED,
    USAGE,
    CoreJob,
    ProviderJob,
    SystemState,
    final_state_for,
)
from spec.validation import NOTHING_BUSY, validate_submission

if TYPE_CHECKING:
    from spec.system import ProtocolModel, Transition

Kind = Literal["invariant", "action", "liveness"]


@dataclass(frozen=True)
class Property:
    """A named property. Exactly one of ``invariant``, ``action``, ``pending`` is set, by ``kind``.

    * ``invariant(model, state, job_id) -> str | None``: the reason it fails for that job.
    * ``action(model, old, action, transition) -> str | None``.
    * ``pending(model, state) -> Iterable[int]``: jobs whose obligation is open.
    """

    name: str
    kind: Kind
    meaning: str
    source: str
    invariant: Callable[[ProtocolModel, SystemState, int], str | None] | None = None
    action: Callable[[ProtocolModel, SystemState, A.Action, Transition], str | None] | None = None
    pending: Callable[[ProtocolModel, SystemState], Iterable[int]] | None = None
    fairness: str = ""
    needs: frozenset[str] = frozenset()

    # ``needs`` (action properties only) says which steps can possibly violate the property, so that
    # a checker may skip the others without changing what it finds: ``"job-change"``, a step that
    # replaced the Core record of a job it touched (``old.jobs.get(j) is not new.jobs.get(j)``);
    # ``"call:NAME"``, a step that made a call named NAME (``Call.call``). A property with several
    # needs may be violated by a step of any of those sorts; one that needs nothing, by any step.


@dataclass(frozen=True)
class Violation:
    """A property that failed: which, where (job), and why."""

    prop: Property
    job: int | None
    reason: str

    def __str__(self) -> str:
        where = f" (job {self.job})" if self.job is not None else ""
        return f"{self.prop.name}{where}: {self.reason}"


# ----------------------------------------------------------------------------------- helpers
def _pjob(s: SystemState, job: CoreJob) -> ProviderJob | None:
    p = s.providers.get(job.provider)
    return p.jobs.get(job.id) if p is not None else None


def _changed(old: SystemState, t: Transition) -> Iterable[tuple[CoreJob | None, CoreJob | None]]:
    for jid in t.touched:
        yield old.jobs.get(jid), t.state.jobs.get(jid)


def _applied_updates(t: Transition) -> Iterable[Any]:
    for c in t.calls:
        if c.call == "jobs.control.update" and c.detail and c.detail[-1] == "applied":
            yield c


def documented_outcome(pj: ProviderJob) -> str | None:
    """The final state the documented protocol calls for, given why the workload ended.

    DESIGN "The trace format": ``exit`` with any exit code, ``user-cancel``, ``no-credits`` and
    ``permission-lost`` give SUCCESS; ``time-allocation`` gives EXPIRED; ``node-failure`` FAILURE.
    """
    if pj.phase != ENDED or pj.cause is None:
        return None
    return final_state_for(pj.cause, pj.exit_code)


def _static_refusal(model: ProtocolModel, template: int) -> Any:
    """Core's verdict on a template with nothing bound, under the documented rules.

    Cached on the world itself (never under ``id(world)``: CPython reuses the id of a freed object).
    """
    cache = model.world.static_verdicts
    if template not in cache:
        t = model.world.templates[template]
        cache[template] = validate_submission(
            t.request, t.user, t.project, model.world.catalog, NOTHING_BUSY, DEFAULT
        )
    return cache[template]


# ----------------------------------------------------------------------------------- invariants
def _state_domain(m: ProtocolModel, s: SystemState, jid: int) -> str | None:
    job = s.jobs.get(jid)
    if job is not None and job.state not in JOB_STATES:
        return f"state {job.state!r} is not a JobState"
    return None


def _well_formed(m: ProtocolModel, s: SystemState, jid: int) -> str | None:
    job = s.jobs.get(jid)
    if job is None:
        return None
    t = m.world.templates[job.template]
    if t.replicas < 1:
        return f"accepted with replicas = {t.replicas}"
    if job.alloc_ms is not None and job.alloc_ms <= 0:
        return f"accepted with a time allocation of {job.alloc_ms} ms"
    if t.backend == "VIRTUAL_MACHINE" and job.alloc_ms is not None:
        return "a virtual machine job has a time allocation"
    return None


def _feature_gating(m: ProtocolModel, s: SystemState, jid: int) -> str | None:
    job = s.jobs.get(jid)
    if job is None:
        return None
    t = m.world.templates[job.template]
    if "enabled" not in t.features:
        return f"accepted although the provider does not enable the {t.backend} backend for {t.request.product.id}"
    return None


def _parameter_validity(m: ProtocolModel, s: SystemState, jid: int) -> str | None:
    job = s.jobs.get(jid)
    if job is None:
        return None
    r = _static_refusal(m, job.template)
    if r is not None and r.field.startswith(("parameters", "resources")) and r.status == 400:
        return f"accepted although {r}"
    return None


def _allocation_gate(m: ProtocolModel, s: SystemState, jid: int) -> str | None:
    job = s.jobs.get(jid)
    if job is None:
        return None
    t = m.world.templates[job.template]
    if not m.world.catalog.has_allocation(job.owner, t.request.product):
        return f"accepted although {job.owner} has no allocation for {t.category}"
    return None


def _exclusive_binding(m: ProtocolModel, s: SystemState, jid: int) -> str | None:
    job = s.jobs.get(jid)
    if job is None:
        return None
    t = m.world.templates[job.template]
    for r in t.exclusive:
        bound = s.bindings.get(r, ())
        if len(bound) > 1:
            return f"{r} is bound to {len(bound)} jobs: {bound}"
        holders = [
            j.id
            for j in s.jobs.values()
            if j.confirmed and j.state not in FINAL and r in m.world.templates[j.template].exclusive
        ]
        if len(holders) > 1:
            return f"{r} is held by live jobs {holders} at once"
    return None


def _bound_holder_live(m: ProtocolModel, s: SystemState, jid: int) -> str | None:
    for r, bound in s.bindings.items():
        if jid in bound:
            job = s.jobs.get(jid)
            if job is None:
                return f"{r} is bound to job {jid}, which Core does not have"
            if job.state in FINAL:
                return f"{r} is still bound to job {jid}, which is {job.state}"
    return None


def _bind_after_accept(m: ProtocolModel, s: SystemState, jid: int) -> str | None:
    job = s.jobs.get(jid)
    for r, bound in s.bindings.items():
        if jid in bound and (job is None or not job.confirmed):
            return f"{r} is bound to job {jid} before its provider accepted it"
    return None


def _provider_acceptance(m: ProtocolModel, s: SystemState, jid: int) -> str | None:
    job = s.jobs.get(jid)
    if job is not None and job.confirmed and _pjob(s, job) is None:
        return f"Core holds job {jid} as created, but provider {job.provider} never accepted it"
    return None


def _charge_only_running(m: ProtocolModel, s: SystemState, jid: int) -> str | None:
    job = s.jobs.get(jid)
    owner = job.owner if job is not None else None
    if owner is None:
        return None
    charged = s.usage.get((owner, f"job-{jid}"))
    if charged is None:
        return None
    pj = _pjob(s, job)  # type: ignore[arg-type]
    ran = pj.ran_ms if pj is not None else 0
    due = m.world.usage(job.template, ran)  # type: ignore[union-attr]
    if charged > due:
        return f"charged {charged} but {ran} ms of RUNNING time is worth only {due}"
    return None


# ----------------------------------------------------------------------------------- action properties
_ALLOWED: dict[str, frozenset[str]] = {
    # reference §2.5, the transitions the reference providers emit (documented protocol)
    IN_QUEUE: frozenset({RUNNING, SUSPENDED, SUCCESS, FAILURE, EXPIRED}),
    RUNNING: frozenset({IN_QUEUE, SUSPENDED, SUCCESS, FAILURE, EXPIRED}),
    SUSPENDED: frozenset({IN_QUEUE, RUNNING, SUCCESS, FAILURE}),
    SUCCESS: frozenset(),
    FAILURE: frozenset(),
    EXPIRED: frozenset(),
}


def _no_resurrection(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for before, after in _changed(old, t):
        if before and after and before.state in FINAL and after.state not in FINAL:
            return f"job {after.id} went from {before.state} back to {after.state}"
    return None


def _terminal_finality(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for before, after in _changed(old, t):
        if before and after and before.state in FINAL and after.state != before.state:
            return f"job {after.id} changed from final {before.state} to {after.state}"
    for c in _applied_updates(t):
        before = old.jobs.get(c.job)
        if before is not None and before.state in FINAL:
            return f"Core applied an update to job {c.job} in final state {before.state}"
    return None


def _valid_transition(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for before, after in _changed(old, t):
        if (
            before
            and after
            and before.state != after.state
            and after.state not in _ALLOWED.get(before.state, frozenset())
        ):
            return f"job {after.id}: {before.state} -> {after.state} is not a transition of the protocol"
    return None


def _only_owning_provider(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for c in _applied_updates(t):
        job = old.jobs.get(c.job)
        if job is not None and c.actor != f"provider:{job.provider}":
            return f"{c.actor} updated job {c.job}, owned by provider:{job.provider}"
    return None


def _expected_state(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for c in _applied_updates(t):
        expected = c.detail[2]
        job = old.jobs.get(c.job)
        if expected is not None and job is not None and job.state != expected:
            return f"update with expectedState {expected} applied to job {c.job} in {job.state}"
    return None


def _expected_different_state(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for c in _applied_updates(t):
        _uid, state, expected, different = c.detail[:4]
        job = old.jobs.get(c.job)
        if expected is None and different and state is not None and job is not None and job.state == state:
            return f"update to {state} with expectedDifferentState applied to job {c.job} already in {state}"
    return None


def _expired_only_after_allocation(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for before, after in _changed(old, t):
        if after and after.state == EXPIRED and (before is None or before.state != EXPIRED):
            pj = _pjob(t.state, after)
            if pj is None or pj.alloc_ms is None or pj.ran_ms < pj.alloc_ms:
                ran = pj.ran_ms if pj else 0
                alloc = pj.alloc_ms if pj else None
                return f"job {after.id} EXPIRED after {ran} ms of RUNNING time; allocation {alloc} ms"
    return None


def _outcome_matches_cause(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for before, after in _changed(old, t):
        if after and after.state in FINAL and (before is None or before.state != after.state):
            pj = _pjob(t.state, after)
            want = documented_outcome(pj) if pj is not None else None
            if want is not None and after.state != want:
                code = f" (exit code {pj.exit_code})" if pj.cause == CAUSE_EXIT else ""  # type: ignore[union-attr]
                return f"job {after.id} ended {after.state}, but its cause {pj.cause}{code} calls for {want}"  # type: ignore[union-attr]
    return None


def _refused_creates_nothing(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for c in t.calls:
        if c.call == "jobs.create" and c.status != 200:
            s = t.state
            if c.job is not None and c.job in s.jobs:
                return f"job {c.job} exists although its create was refused ({c.status})"
            if c.job is not None and any(c.job in v for v in s.bindings.values()):
                return f"a resource is bound to job {c.job} although its create was refused"
            if c.job is not None and c.job in s.reserved.values():
                return f"a resource is still reserved for job {c.job} although its create was refused"
            if c.job is None and (
                s.jobs != old.jobs or s.bindings != old.bindings or s.reserved != old.reserved
            ):
                return f"a refused request ({c.status} {c.why}) changed Core's jobs or bindings"
    return None


def _release_at_end(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for before, after in _changed(old, t):
        if after and after.state in FINAL and (before is None or before.state not in FINAL):
            held = [r for r, v in t.state.bindings.items() if after.id in v]
            if held:
                return f"job {after.id} became {after.state} but still holds {held}"
    return None


def _sessions_only_while_running(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for c in t.calls:
        granted = (c.call == "jobs.interactiveSession" and c.status == 200) or (
            c.call == "jobs.follow" and c.detail and c.detail[0] is True
        )
        if granted:
            job = old.jobs.get(c.job)
            if job is None or job.state != RUNNING:
                return f"{c.call} granted for job {c.job} in state {job.state if job else None}"
    return None


def _feature_gated_calls(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for c in t.calls:
        if c.status != 200 or c.job is None or c.job not in old.jobs:
            continue
        features = m.world.templates[old.jobs[c.job].template].features
        need = None
        if c.call == "jobs.extend":
            need = "extension"
        elif c.call == "jobs.interactiveSession":
            need = A.SESSION_FEATURES[c.detail[0]]
        elif (
            c.call in ("jobs.suspend", "jobs.unsuspend")
            and m.world.templates[old.jobs[c.job].template].backend == "VIRTUAL_MACHINE"
        ):
            need = "suspension"
        if need is not None and need not in features:
            return f"{c.call} accepted for job {c.job} although the backend does not declare {need}"
    return None


def _retry_idempotent(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    if not isinstance(a, A.Deliver):
        return None
    for c in t.calls:
        if c.call == "jobs.control.update" and c.job in old.jobs and c.detail[0] in old.jobs[c.job].handled:
            before, after = old.jobs[c.job], t.state.jobs.get(c.job)
            if after is None or (after.state, after.alloc_ms, after.started_at) != (
                before.state,
                before.alloc_ms,
                before.started_at,
            ):
                return f"a retried update changed job {c.job}"
    return None


def _charge_formula(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    if not isinstance(a, A.ReportUsage):
        return None
    msg = t.state.flight[-1]
    if msg.kind != USAGE:
        return None
    for p in old.providers.values():
        pj = p.jobs.get(a.job)
        if pj is not None:
            due = m.world.usage(pj.template, pj.ran_ms)
            if msg.payload[0] != due:
                return f"job {a.job}: reported usage {msg.payload[0]}, formula gives {due} for {pj.ran_ms} ms"
    return None


def _started_at_semantics(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for before, after in _changed(old, t):
        if not (before and after):
            continue
        if after.state == RUNNING and before.state != RUNNING and after.started_at == before.started_at:
            return f"job {after.id} entered RUNNING without startedAt being set"
        if after.state == RUNNING and before.state == RUNNING and after.started_at != before.started_at:
            return f"a duplicate RUNNING update moved startedAt of job {after.id}"
        if after.state != RUNNING and after.started_at != before.started_at:
            return f"startedAt of job {after.id} changed although it did not enter RUNNING"
    return None


def _extension_exact(m, old, a, t) -> str | None:  # type: ignore[no-untyped-def]
    for c in _applied_updates(t):
        new_alloc = c.detail[4]
        job = t.state.jobs.get(c.job)
        if new_alloc is not None and job is not None and job.alloc_ms != new_alloc:
            return f"job {c.job}: newTimeAllocation {new_alloc} ms applied as {job.alloc_ms} ms"
    return None


# ----------------------------------------------------------------------------------- liveness
def _pending_cancel(m: ProtocolModel, s: SystemState) -> Iterable[int]:
    return [j.id for j in s.jobs.values() if j.terminate_requested and j.state not in FINAL]


def _pending_release(m: ProtocolModel, s: SystemState) -> Iterable[int]:
    out = []
    for bound in s.bindings.values():
        for jid in bound:
            job = s.jobs.get(jid)
            if job is None or job.state in FINAL:
                out.append(jid)
    return out


def _pending_expiry(m: ProtocolModel, s: SystemState) -> Iterable[int]:
    out = []
    for j in s.jobs.values():
        if j.confirmed and j.state not in FINAL:
            pj = _pjob(s, j)
            if pj is not None and pj.alloc_ms is not None and pj.ran_ms >= pj.alloc_ms:
                out.append(j.id)
    return out


def _pending_lock(m: ProtocolModel, s: SystemState) -> Iterable[int]:
    return [j.id for j in s.jobs.values() if j.confirmed and j.owner in s.locked and j.state not in FINAL]


def _pending_report(m: ProtocolModel, s: SystemState) -> Iterable[int]:
    out = []
    for j in s.jobs.values():
        if j.confirmed and j.state not in FINAL:
            pj = _pjob(s, j)
            if pj is not None and pj.phase == ENDED:
                out.append(j.id)
    return out


_FAIR = "weak fairness of deliveries, provider reports, lock enforcement and provider restarts; no call lost for good"


def _inv(name: str, meaning: str, source: str, fn: Callable[..., str | None]) -> Property:
    return Property(name, "invariant", meaning, source, invariant=fn)


def _act(
    name: str, meaning: str, source: str, fn: Callable[..., str | None], needs: Iterable[str] = ()
) -> Property:
    return Property(name, "action", meaning, source, action=fn, needs=frozenset(needs))


# What an action property reads, hence which steps can violate it (``Property.needs``). Everything
# read through ``_changed`` compares a touched job's record before and after the step, and fails only
# if they differ; everything read through ``t.calls`` fails only on a step that made a call of the
# names it looks at (``_applied_updates``: jobs.control.update).
_CHANGE = ("job-change",)
_UPDATES = ("call:jobs.control.update",)


def _live(name: str, meaning: str, source: str, fn: Callable[..., Iterable[int]]) -> Property:
    return Property(name, "liveness", meaning, source, pending=fn, fairness=_FAIR)


PROPERTIES: tuple[Property, ...] = (
    # -- the state machine
    _inv(
        "state-domain",
        "Every job's state is one of UCloud's six JobStates.",
        "S1; orchestrators/jobs.go: JobState",
        _state_domain,
    ),
    _act(
        "no-resurrection",
        "A job in a final state never returns to a non-final state.",
        "S3; core2 job.go: JobsControlAddUpdate.Handler",
        _no_resurrection,
        _CHANGE,
    ),
    _act(
        "terminal-finality",
        "Once final, a job's state never changes and Core applies no further update to it.",
        "S4; the seed and docs jobs.md §Job ('can no longer receive any updates')",
        _terminal_finality,
        (*_CHANGE, *_UPDATES),
    ),
    _act(
        "valid-transition",
        "Every state change Core applies is a transition of the protocol's table.",
        "reference §2.5; legacy Jobs.kt state doc strings",
        _valid_transition,
        _CHANGE,
    ),
    _act(
        "only-owning-provider",
        "Only the provider that runs a job may update it.",
        "S11; core2 resources.go: ResourceValidateProviderBatch",
        _only_owning_provider,
        _UPDATES,
    ),
    _act(
        "expected-state",
        "An update with expectedState X is applied only to a job in state X.",
        "S5; core2 job.go: JobsControlAddUpdate.Handler",
        _expected_state,
        _UPDATES,
    ),
    _act(
        "expected-different-state",
        "An update with expectedDifferentState is applied only if it changes the state.",
        "S6; core2 job.go: JobsControlAddUpdate.Handler",
        _expected_different_state,
        _UPDATES,
    ),
    _act(
        "started-at-semantics",
        "startedAt moves exactly when a job changes into RUNNING, never on a duplicate.",
        "S9; core2 job.go: JobsControlAddUpdate.Handler",
        _started_at_semantics,
        _CHANGE,
    ),
    _act(
        "retry-idempotent",
        "A retried (redelivered) update changes nothing the first delivery did not.",
        "reference §2.4 and §7.2 (providers retry flushes); DESIGN trace format",
        _retry_idempotent,
        _UPDATES,
    ),
    _act(
        "extension-exact",
        "A newTimeAllocation of X ms leaves the job with exactly X ms.",
        "S28; orchestrators/applications.go: SimpleDurationFromMillis",
        _extension_exact,
        _UPDATES,
    ),
    # -- outcomes
    _act(
        "expired-only-after-allocation",
        "A job becomes EXPIRED only once its RUNNING time reached its allocation.",
        "L2, §7.5; legacy Jobs.kt: EXPIRED 'only when timeAllocation ran out'",
        _expired_only_after_allocation,
        _CHANGE,
    ),
    _act(
        "outcome-matches-cause",
        "A final state matches why the job ended: any exit code is SUCCESS, a node "
        "failure FAILURE, a used-up allocation EXPIRED, cancellation SUCCESS.",
        "the seed; legacy Jobs.kt SUCCESS/FAILURE doc strings; issue #2118",
        _outcome_matches_cause,
        _CHANGE,
    ),
    # -- submission
    _inv(
        "well-formed-spec",
        "Every accepted job has replicas >= 1, a positive allocation or none, and no "
        "allocation for a virtual machine.",
        "S12; core2 job.go: jobsValidateForSubmission",
        _well_formed,
    ),
    _inv(
        "feature-gating",
        "Every accepted job's tool backend is enabled by its product's provider.",
        "S13; core2 job.go: jobsValidateForSubmission, job_features.go",
        _feature_gating,
    ),
    _inv(
        "parameter-validity",
        "Every accepted job's parameters and resources pass Core's parameter rules.",
        "S14, S15; core2 job.go: jobsValidateForSubmission, jobValidateValue",
        _parameter_validity,
    ),
    _inv(
        "allocation-gate",
        "No job exists for a workspace without an allocation in its product's category.",
        "S16; core2 resources_allocations.go: ResourceValidateAllocation",
        _allocation_gate,
    ),
    _act(
        "refused-creates-nothing",
        "A refused or failed create leaves no job and no binding behind.",
        "S17; core2 job.go: jobCreateThroughProvider (ResourceDelete), PR #3844",
        _refused_creates_nothing,
        ("call:jobs.create",),
    ),
    _inv(
        "provider-acceptance",
        "A job Core holds as created was accepted by its provider.",
        "S17; core2 job.go: jobCreateThroughProvider",
        _provider_acceptance,
    ),
    _act(
        "feature-gated-calls",
        "extend, interactive sessions and VM suspension are accepted only where the "
        "backend declares the feature.",
        "S13; core2 job.go, legacy JobResourceService.kt",
        _feature_gated_calls,
        ("call:jobs.extend", "call:jobs.interactiveSession", "call:jobs.suspend", "call:jobs.unsuspend"),
    ),
    _act(
        "sessions-only-while-running",
        "Logs are streamed and interactive sessions opened only for RUNNING jobs.",
        "the seed ('RUNNING ... log files can be retrieved and interactive interfaces are available')",
        _sessions_only_while_running,
        ("call:jobs.interactiveSession", "call:jobs.follow"),
    ),
    # -- resources
    _inv(
        "exclusive-binding",
        "A public link or public IP is held by at most one live job.",
        "S20; core2 job.go: jobValidateValue, ingress.go: IngressBind",
        _exclusive_binding,
    ),
    _inv(
        "bound-holder-live",
        "A resource is bound only to a job that exists and is not final.",
        "S21; core2 job.go: jobUnbindResource; issues #3165, #4293",
        _bound_holder_live,
    ),
    _inv(
        "bind-after-accept",
        "A resource is bound to a job only after its provider accepted the job.",
        "S22; core2 job.go: JobCreate -> jobBindResource",
        _bind_after_accept,
    ),
    _act(
        "release-at-end",
        "The step that makes a job final releases everything bound to it.",
        "S22; core2 job.go: JobsControlAddUpdate.Handler -> jobUnbindResource",
        _release_at_end,
        _CHANGE,
    ),
    # -- accounting
    _inv(
        "charge-only-running",
        "A job is never charged more than its RUNNING time is worth.",
        "S26; k8s/shared 00_module.go: ComputeRunningTime",
        _charge_only_running,
    ),
    _act(
        "charge-formula",
        "Reported usage = replicas x cpu x price x RUNNING time / period.",
        "S26; k8s monitoring.go: convertJobTimeToAccountingUnits",
        _charge_formula,
    ),
    # -- liveness
    _live(
        "cancelled-eventually-terminal",
        "Every job whose cancellation Core accepted eventually becomes final.",
        "L1; docs jobs.md §terminate; k8s containers/00_module.go: terminate",
        _pending_cancel,
    ),
    _live(
        "resources-eventually-released",
        "Every resource bound to a job that ended is eventually released.",
        "L7; core2 job.go: jobUnbindResource",
        _pending_release,
    ),
    _live(
        "expiry-eventually-final",
        "A job whose RUNNING time reached its allocation eventually becomes final.",
        "L2; k8s containers/monitor.go, job_database.go: jobUnknownStateTerminationState",
        _pending_expiry,
    ),
    _live(
        "locked-eventually-stopped",
        "A job of a locked wallet eventually becomes final.",
        "L3; k8s monitoring.go (lock section)",
        _pending_lock,
    ),
    _live(
        "ended-eventually-reported",
        "A workload that ended at its provider eventually ends in Core too.",
        "L5; im2 controller/job_database.go: TrackState, End",
        _pending_report,
    ),
)

PROPERTIES_BY_NAME: dict[str, Property] = {p.name: p for p in PROPERTIES}
INVARIANTS = tuple(p for p in PROPERTIES if p.kind == "invariant")
ACTION_PROPERTIES = tuple(p for p in PROPERTIES if p.kind == "action")
LIVENESS = tuple(p for p in PROPERTIES if p.kind == "liveness")


def step_changed_jobs(old: SystemState, t: Transition) -> bool:
    """Whether a step replaced the Core record of a job it touched (what ``needs`` calls
    ``job-change``)."""
    old_jobs, new_jobs = old.jobs, t.state.jobs
    return new_jobs is not old_jobs and any(old_jobs.get(j) is not new_jobs.get(j) for j in t.touched)


def may_fail_on(props: Iterable[Property], changed: bool, calls: tuple[str, ...]) -> tuple[Property, ...]:
    """The properties of ``props`` that a step can violate (:attr:`Property.needs`), given whether it
    replaced the Core record of a job it touched and the names of the calls it made; in the order of
    ``props``, so that violations are found, and reported, as when every property is checked on every
    step. Invariants and properties that need nothing are always kept."""
    did = {f"call:{name}" for name in calls}
    if changed:
        did.add("job-change")
    return tuple(p for p in props if not p.needs or not p.needs.isdisjoint(did))


class StepChecker:
    """:func:`check_step` with the property table resolved once, for drivers that check millions of
    steps (the simulator): invariants on the jobs the step touched, then action properties, in the
    order of the properties. Liveness properties are not checked per step (see
    :func:`pending_obligations`)."""

    __slots__ = ("_by_step", "_props", "_table")

    def __init__(self, properties: Iterable[Property] | None = None) -> None:
        props = PROPERTIES if properties is None else tuple(properties)
        self._props = tuple(p for p in props if p.kind != "liveness")
        self._table = tuple(
            (p.kind == "invariant", p, p.invariant if p.kind == "invariant" else p.action)
            for p in self._props
        )
        # The table restricted to what each sort of step can violate (may_fail_on), made on first use.
        self._by_step: dict[tuple[bool, tuple[str, ...]], tuple[tuple[bool, Property, Any], ...]] = {}

    def __call__(
        self, model: ProtocolModel, old: SystemState, action: A.Action, t: Transition
    ) -> list[Violation]:
        out: list[Violation] = []
        state, touched = t.state, t.touched
        key = (step_changed_jobs(old, t), tuple([c.call for c in t.calls]))
        table = self._by_step.get(key)
        if table is None:
            keep = set(may_fail_on(self._props, *key))
            table = self._by_step[key] = tuple(e for e in self._table if e[1] in keep)
        for invariant, p, fn in table:
            if invariant:
                for jid in touched:
                    why = fn(model, state, jid)  # type: ignore[misc]
                    if why is not None:
                        out.append(Violation(p, jid, why))
            else:
                why = fn(model, old, action, t)  # type: ignore[misc]
                if why is not None:
                    out.append(Violation(p, None, why))
        return out


_ALL_STEPS = StepChecker()


def check_step(
    model: ProtocolModel,
    old: SystemState,
    action: A.Action,
    t: Transition,
    properties: Iterable[Property] | None = None,
) -> list[Violation]:
    """Check invariants on the jobs a step touched and action properties on the step itself."""
    checker = _ALL_STEPS if properties is None else StepChecker(properties)
    return checker(model, old, action, t)


def check_state(
    model: ProtocolModel, s: SystemState, properties: Iterable[Property] | None = None
) -> list[Violation]:
    """Check every invariant on every job of a state (the whole state: for tests and witnesses)."""
    props = INVARIANTS if properties is None else tuple(p for p in properties if p.kind == "invariant")
    jids = set(s.jobs) | {j for v in s.bindings.values() for j in v}
    return [
        Violation(p, j, why)
        for p in props
        for j in sorted(jids)
        if (why := p.invariant(model, s, j)) is not None
    ]  # type: ignore[misc]


def pending_obligations(model: ProtocolModel, s: SystemState) -> list[Violation]:
    """Liveness obligations still open in ``s`` (a violation if ``s`` is where a fair run ends)."""
    return [
        Violation(p, j, "still pending when the run ended") for p in LIVENESS for j in p.pending(model, s)
    ]  # type: ignore[misc]
