"""The protocol as one labelled transition system: initial state, enabled actions, a pure step.

This is the model every driver runs (Hypothesis, the bounded model checker, the SimPy simulator
and the trace checker), in the spirit of Stateright's ``Model`` and TLA+'s ``Init``/``Next``::

    model = ProtocolModel(world, config)
    state = model.init_state()
    for action in model.actions(state):         # the enabled actions
        t = model.step(state, action)           # pure: a Transition(state, effects, touched)

Every rule carries a comment naming its UCloud source (reference ``ucloud-jobs.md``). Rules that
differ between UCloud's code and its documentation read a switch of :class:`spec.rules.Config`.

**Bounds.** The untimed state space is finite: at most ``budgets.submissions`` jobs, each with a
bounded number of calls (one create, one extension, ``world.max_suspends`` suspensions, and the
provider's reports); duplicates, losses, crashes, Core restarts and wallet locks each draw on a
budget; running time advances in ``world.tick_ms`` quanta up to the allocation (or
``world.max_ticks`` quanta without one).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, NamedTuple

from spec import actions as A
from spec import provider as P
from spec.provider import CANCELING, implied_state
from spec.rules import DEFAULT, Config
from spec.state import (
    ACTIVE,
    CREATE,
    CREATE_REPLY,
    ENDED,
    FAILURE,
    FINAL,
    QUEUED,
    RUNNING,
    SUSPENDED,
    UIDS_PER_JOB,
    UPDATE,
    USAGE,
    Budgets,
    CoreJob,
    Msg,
    Provider,
    ProviderJob,
    SystemState,
    call_uid,
    replace,
)
from spec.world import World

MINUTE_MS = 60_000
__all__ = ["CANCELING", "Call", "ProtocolModel", "Transition", "implied_state"]


class Call(NamedTuple):
    """An API call as Core saw it: who called, what, about which job, and Core's answer.

    These are the lines a trace records (DESIGN "The trace format"); ``detail`` carries the
    call-specific values a trace line needs (the update's fields, the usage, the session kind).
    """

    actor: str
    call: str
    job: int | None
    status: int
    why: str | None = None
    detail: tuple[Any, ...] = ()


class Transition(NamedTuple):
    """The result of one step: the new state, the calls it made, and the job ids it touched."""

    state: SystemState
    calls: tuple[Call, ...]
    touched: tuple[int, ...]


class ProtocolModel:
    """UCloud's job protocol over a static :class:`~spec.world.World`, under one :class:`Config`."""

    def __init__(self, world: World, config: Config = DEFAULT, budgets: Budgets | None = None) -> None:
        self.world = world
        self.cfg = config
        self.budgets = budgets or Budgets()
        self.reorder = world.reorder

    # ------------------------------------------------------------------ initial state
    def init_state(self) -> SystemState:
        """One initial state: no jobs, every provider up, nothing in flight, nothing bound."""
        return SystemState(
            jobs={},
            bindings={},
            reserved={},
            providers={p: Provider(p) for p in self.world.providers},
            flight=(),
            usage={},
            locked=frozenset(),
            next_id=1,
            budgets=self.budgets,
        )

    def init_states(self) -> tuple[SystemState, ...]:
        return (self.init_state(),)

    # ------------------------------------------------------------------ enabled actions
    def actions(self, s: SystemState) -> Iterator[A.Action]:
        """Every action enabled in ``s``, in a deterministic order."""
        world, cfg, b = self.world, self.cfg, s.budgets
        if b.submissions > 0:
            for t in world.templates:
                yield A.Submit(t.index)
        # -- users, on jobs whose id they were given (confirmed by Core)
        for j in s.jobs.values():
            if not j.confirmed:
                continue
            jid = j.id
            if not j.terminate_requested:
                yield A.Terminate(jid)
            if j.state not in FINAL:
                t = world.templates[j.template]
                if t.alloc_ms is not None and j.requested_ms == t.alloc_ms and world.extension_ms:
                    yield A.Extend(jid)
                if j.suspends < world.max_suspends and j.state == RUNNING:
                    yield A.Suspend(jid)
                if j.state == SUSPENDED:
                    yield A.Unsuspend(jid)
                if world.sessions:
                    yield A.Follow(jid)
                    for kind in world.session_kinds:
                        yield A.OpenSession(jid, kind)
        # -- the network
        seen: set[int] = set()
        heads: set[tuple[str, bool]] = set()
        for m in s.flight:
            if m.uid in seen:
                continue
            seen.add(m.uid)
            if not self.reorder:  # FIFO per channel: only the oldest call of a channel moves
                channel = (m.provider, m.to_core)
                if channel in heads:
                    continue
                heads.add(channel)
            yield A.Deliver(m.uid)
            if b.duplicates > 0 and m.to_core and m.kind != CREATE_REPLY:
                # Providers retry their calls to Core; Core never retries a create (it deletes the job).
                yield A.Duplicate(m.uid)
            if b.losses > 0:
                yield A.Lose(m.uid)
        # -- workloads and providers
        for p in s.providers.values():
            up = p.up
            for pj in p.jobs.values():
                jid = pj.id
                phase = pj.phase
                if phase == QUEUED:
                    if up and not pj.cancelled:
                        yield A.Start(jid)
                    if up and cfg.m_expire_early and pj.alloc_ms is not None:
                        yield A.AllocationElapsed(jid)
                elif phase == ACTIVE:
                    for code in world.exit_codes:
                        yield A.Exit(jid, code)
                    yield A.NodeFail(jid)
                    limit = pj.alloc_ms if pj.alloc_ms is not None else world.max_ticks * world.tick_ms
                    if pj.ran_ms + world.tick_ms < limit or (
                        pj.alloc_ms is None and pj.ran_ms + world.tick_ms <= limit
                    ):
                        yield A.Tick(jid)
                    if up and pj.alloc_ms is not None and pj.ran_ms < pj.alloc_ms:
                        yield A.AllocationElapsed(jid)
                if not up:
                    if world.vanish and phase != ENDED:
                        # The workload's record disappears while its provider is down (§7.2, §7.4);
                        # past expiresAt only for a started job with an allocation (see A.Vanish).
                        yield A.Vanish(jid)
                        if pj.alloc_ms is not None and phase != QUEUED:
                            yield A.Vanish(jid, True)
                    continue
                implied = implied_state(pj, cfg)
                if pj.sent < UIDS_PER_JOB - 2:
                    if implied != pj.reported:
                        yield A.Report(jid)
                        if world.update_guards and implied not in FINAL:
                            # Preconditions only on non-final reports: Core answers 200 to a dropped
                            # update, so a provider that guarded its final report could never know it
                            # was lost, and the job would never end in Core.
                            yield A.Report(jid, "expected")
                            yield A.Report(jid, "different")
                    elif world.update_guards and not pj.reasserted and implied not in FINAL:
                        # The IM re-asserts a job's state on a monitoring pass (reference §7.1).
                        yield A.Report(jid, "reassert")
                        yield A.Report(jid, "reassert-different")
                if world.accounting and self._usage(pj) != pj.charged and pj.sent < UIDS_PER_JOB - 2:
                    yield A.ReportUsage(jid)
                if pj.owner in s.locked and phase in (QUEUED, ACTIVE) and not cfg.m_provider_ignores_lock:
                    yield A.EnforceLock(jid)
            if up and b.crashes > 0:
                yield A.Crash(p.id)
            if not up:
                yield A.Restart(p.id)
        if world.impersonation and len(s.providers) > 1:
            for j in s.jobs.values():
                if j.confirmed and j.state not in FINAL:
                    for pid in s.providers:
                        if pid != j.provider and s.providers[pid].up:
                            yield A.Impersonate(pid, j.id)
        if b.core_restarts > 0:
            yield A.CoreRestart()
        if b.locks > 0:
            for owner in world.owners:
                if owner not in s.locked:
                    yield A.LockWallet(owner)

    def enabled(self, s: SystemState, action: A.Action) -> bool:
        """Whether ``action`` is enabled in ``s`` (linear in the number of enabled actions)."""
        kind = type(action)  # named tuples of different kinds may compare equal as tuples
        return any(type(a) is kind and a == action for a in self.actions(s))

    # ------------------------------------------------------------------ the step function
    def step(self, s: SystemState, action: A.Action, now: int | None = None) -> Transition:
        """Take ``action`` in ``s``. Pure: ``s`` is never modified.

        ``now`` is the clock of a timed driver (milliseconds); the untimed drivers leave it ``None``
        and time-dependent values become counters (see :class:`~spec.state.CoreJob`).
        Raises :class:`ValueError` if the action names a job or call that does not exist.
        """
        handler = self._handlers.get(type(action))
        if handler is None:
            raise ValueError(f"unknown action {action!r}")
        return handler(self, s, action, now)

    # -- users ---------------------------------------------------------------------------------
    def _submit(self, s: SystemState, a: A.Submit, now: int | None) -> Transition:
        t = self.world.templates[a.template]
        actor = f"user:{t.user}"
        # Core's validation in the order of reference §3.5, then the allocation gate (§8.3). A refused
        # request changes nothing, not even the submission budget: it is a self-loop of the state graph.
        refusal = self.world.validate(t.index, s, self.cfg)
        if refusal is not None:
            status, why = refusal
            return Transition(s, (Call(actor, "jobs.create", None, status, why, (t.index,)),), ())
        budgets = replace(s.budgets, submissions=s.budgets.submissions - 1)
        jid = s.next_id
        job = CoreJob(
            id=jid,
            template=t.index,
            provider=t.provider,
            owner=t.owner,
            alloc_ms=t.alloc_ms,
            requested_ms=t.alloc_ms,
        )
        jobs = dict(s.jobs)
        jobs[jid] = job
        reserved = s.reserved
        bindings = s.bindings
        if self.cfg.m_bind_before_accept:
            bindings = self._bind(bindings, t, jid)
        elif not self.cfg.check_then_bind and t.exclusive:
            # Documented: the exclusivity check reserves the resource until the provider answers.
            reserved = dict(reserved)
            for r in t.exclusive:
                reserved[r] = jid
        # core2 JobCreate -> jobCreateThroughProvider: the job is stored unconfirmed in IN_QUEUE and
        # Core calls the provider's create while the user's request is still open.
        msg = Msg(call_uid(jid, 0), CREATE, t.provider, jid)
        return Transition(
            s.replace(
                jobs=jobs,
                reserved=reserved,
                bindings=bindings,
                flight=(*s.flight, msg),
                next_id=jid + 1,
                budgets=budgets,
            ),
            (),
            (jid,),
        )

    def _core_job(self, s: SystemState, jid: int) -> CoreJob:
        job = s.jobs.get(jid)
        if job is None:
            raise ValueError(f"no job {jid} in Core")
        return job

    def _terminate(self, s: SystemState, a: A.Terminate, now: int | None) -> Transition:
        job = self._core_job(s, a.job)
        actor = f"user:{self.world.templates[job.template].user}"
        if job.state in FINAL and not self.cfg.terminate_final_forwarded:
            # Documented (issue #762): cancelling a finished job changes nothing and is not forwarded.
            job2 = replace(job, terminate_requested=True)
            return Transition(
                self._put_job(s, job2), (Call(actor, "jobs.terminate", job.id, 200),), (job.id,)
            )
        p = s.providers[job.provider]
        if not p.up:
            return Transition(s, (Call(actor, "jobs.terminate", job.id, 502, "provider unavailable"),), ())
        job2 = replace(job, terminate_requested=True)
        s2 = self._put_job(s, job2)
        pj = p.jobs.get(job.id)
        if pj is not None and not self.cfg.m_provider_ignores_terminate:
            if pj.phase != ENDED:
                # The workload is deleted and the job ends; the provider pushes its final state.
                s2 = self._put_pjob(s2, job.provider, P.on_terminate(pj))
            else:
                push = P.terminate_ended(pj, self.cfg)
                if push is not None:
                    s2 = self._send_update(
                        s2, job.provider, pj, (push[0], None, False, None, push[1]), mark_reported=False
                    )
        calls = (
            Call(actor, "jobs.terminate", job.id, 200),
            Call("ucloud", "jobs.provider.terminate", job.id, 200),
        )
        return Transition(s2, calls, (job.id,))

    def _extend(self, s: SystemState, a: A.Extend, now: int | None) -> Transition:
        job = self._core_job(s, a.job)
        t = self.world.templates[job.template]
        actor = f"user:{t.user}"
        ms = self.world.extension_ms
        # core2 jobs.extend: feature jobs.<backend>.extension, else 400 (reference §5.5).
        if "extension" not in t.features and not self.cfg.m_no_extension_check:
            return Transition(
                s,
                (
                    Call(
                        actor,
                        "jobs.extend",
                        job.id,
                        400,
                        "time extension is not supported by this provider",
                        (ms,),
                    ),
                ),
                (),
            )
        p = s.providers[job.provider]
        if not p.up:
            return Transition(
                s, (Call(actor, "jobs.extend", job.id, 502, "provider unavailable", (ms,)),), ()
            )
        pj = p.jobs.get(job.id)
        calls = (
            Call(actor, "jobs.extend", job.id, 200, None, (ms,)),
            Call("ucloud", "jobs.provider.extend", job.id, 200, None, (ms,)),
        )
        requested = job.requested_ms + ms if job.requested_ms is not None else None
        s2 = self._put_job(s, replace(job, requested_ms=requested))
        pj2 = P.on_extend(pj, ms) if pj is not None else None
        if pj2 is not None:
            # k8s containers: extend pushes newTimeAllocation = current + requested (absolute ms).
            s2 = self._put_pjob(s2, job.provider, pj2)
            s2 = self._send_update(
                s2, job.provider, pj2, (None, None, False, pj2.alloc_ms, "Extended"), mark_reported=False
            )
        return Transition(s2, calls, (job.id,))

    def _suspend_like(self, s: SystemState, jid: int, suspend: bool) -> Transition:
        job = self._core_job(s, jid)
        t = self.world.templates[job.template]
        actor = f"user:{t.user}"
        name = "jobs.suspend" if suspend else "jobs.unsuspend"
        if self.cfg.suspend_feature_check and "suspension" not in t.features:
            # Legacy JobResourceService.kt: VM backend + suspension, else "Feature not supported".
            return Transition(s, (Call(actor, name, jid, 400, "Feature not supported"),), ())
        p = s.providers[job.provider]
        if not p.up:
            return Transition(s, (Call(actor, name, jid, 502, "provider unavailable"),), ())
        s2 = self._put_job(s, replace(job, suspends=job.suspends + 1)) if suspend else s
        pj = p.jobs.get(jid)
        calls = (Call(actor, name, jid, 200), Call("ucloud", "jobs.provider." + name[5:], jid, 200))
        if pj is None:
            return Transition(s2, calls, (jid,))
        pj2 = P.on_suspend(pj, suspend, "suspension" in t.features)
        if pj2 is not pj:
            s2 = self._put_pjob(s2, job.provider, pj2)
        return Transition(s2, calls, (jid,))

    def _suspend(self, s: SystemState, a: A.Suspend, now: int | None) -> Transition:
        return self._suspend_like(s, a.job, True)

    def _unsuspend(self, s: SystemState, a: A.Unsuspend, now: int | None) -> Transition:
        return self._suspend_like(s, a.job, False)

    def _follow(self, s: SystemState, a: A.Follow, now: int | None) -> Transition:
        job = self._core_job(s, a.job)
        t = self.world.templates[job.template]
        # core2 jobs.follow: logs are proxied only if the backend declares `logs`; there is nothing to
        # stream before the job runs (the seed: RUNNING "indicates ... log files can be retrieved").
        streaming = "logs" in t.features and (job.state == RUNNING or self.cfg.m_session_while_queued)
        return Transition(s, (Call(f"user:{t.user}", "jobs.follow", job.id, 200, None, (streaming,)),), ())

    def _open_session(self, s: SystemState, a: A.OpenSession, now: int | None) -> Transition:
        job = self._core_job(s, a.job)
        t = self.world.templates[job.template]
        actor = f"user:{t.user}"
        feature = A.SESSION_FEATURES[a.kind]
        # core2 jobs.interactiveSession: feature gate per backend (reference §5.5).
        if feature not in t.features:
            why = f"{feature} access is not supported by this provider"
            return Transition(s, (Call(actor, "jobs.interactiveSession", job.id, 400, why, (a.kind,)),), ())
        if job.state != RUNNING and not self.cfg.m_session_while_queued:
            # The seed: interactive interfaces are available once the job is RUNNING.
            return Transition(
                s, (Call(actor, "jobs.interactiveSession", job.id, 400, "job is not running", (a.kind,)),), ()
            )
        return Transition(s, (Call(actor, "jobs.interactiveSession", job.id, 200, None, (a.kind,)),), ())

    # -- the network ---------------------------------------------------------------------------
    def _find(self, s: SystemState, uid: int) -> int:
        for i, m in enumerate(s.flight):
            if m.uid == uid:
                return i
        raise ValueError(f"no call {uid} in flight")

    def _deliver(self, s: SystemState, a: A.Deliver, now: int | None) -> Transition:
        i = self._find(s, a.uid)
        m = s.flight[i]
        s1 = s.replace(flight=s.flight[:i] + s.flight[i + 1 :])
        kind = m.kind
        if kind == UPDATE:
            return self._core_apply_update(s1, m, now)
        if kind == CREATE:
            return self._provider_create(s1, m)
        if kind == CREATE_REPLY:
            return self._core_create_reply(s1, m)
        if kind == USAGE:
            return self._core_report_usage(s1, m)
        raise ValueError(f"cannot deliver a call of kind {kind!r}")

    def _duplicate(self, s: SystemState, a: A.Duplicate, now: int | None) -> Transition:
        i = self._find(s, a.uid)
        budgets = replace(s.budgets, duplicates=s.budgets.duplicates - 1)
        return Transition(s.replace(flight=(*s.flight, s.flight[i]), budgets=budgets), (), ())

    def _lose(self, s: SystemState, a: A.Lose, now: int | None) -> Transition:
        i = self._find(s, a.uid)
        m = s.flight[i]
        budgets = replace(s.budgets, losses=s.budgets.losses - 1)
        s1 = s.replace(flight=s.flight[:i] + s.flight[i + 1 :], budgets=budgets)
        if m.kind == CREATE:
            # The create timed out: Core deletes the job and answers the user with 504.
            return self._create_failed(s1, m.job, 504, "the provider did not answer in time")
        if m.kind == CREATE_REPLY:
            # The provider accepted the job but its answer never reached Core: the job is deleted in
            # Core while the provider keeps it (an orphan, reference §7.2 jobConfirmMissingFromCore).
            return self._create_failed(s1, m.job, 504, "the provider did not answer in time")
        return Transition(s1, (), (m.job,))

    # -- Core handlers ---------------------------------------------------------------------------
    def _provider_create(self, s: SystemState, m: Msg) -> Transition:
        p = s.providers[m.provider]
        job = s.jobs.get(m.job)
        if not p.up:
            return self._create_failed(s, m.job, 502, "could not contact the provider")
        if job is None:  # Core restarted meanwhile: nobody waits for the answer, the provider never hears
            return Transition(s, (), ())
        t = self.world.templates[job.template]
        if m.job in p.jobs:  # a create the provider already handled: answer as before
            reply = Msg(m.uid, CREATE_REPLY, m.provider, m.job, (200, None))
            return Transition(s.replace(flight=(*s.flight, reply)), (), ())
        # The provider must support the full request or answer 400 (the seed); a locked wallet
        # gives 402 NOT_ENOUGH_COMPUTE_CREDITS (k8s 00_module.go: IsJobLocked).
        refusal = t.provider_refusal
        if refusal is None and t.owner in s.locked:
            refusal = (402, f"This workspace has reached the {t.category} quota.")
        calls = (
            Call(
                "ucloud",
                "jobs.provider.create",
                m.job,
                refusal[0] if refusal else 200,
                refusal[1] if refusal else None,
            ),
        )
        if refusal is not None:
            reply = Msg(m.uid, CREATE_REPLY, m.provider, m.job, refusal)
            return Transition(s.replace(flight=(*s.flight, reply)), calls, (m.job,))
        pj = P.accept(m.job, t.index, t.owner, t.alloc_ms)
        reply = Msg(m.uid, CREATE_REPLY, m.provider, m.job, (200, None))
        s2 = self._put_pjob(s, m.provider, pj)
        return Transition(s2.replace(flight=(*s2.flight, reply)), calls, (m.job,))

    def _core_create_reply(self, s: SystemState, m: Msg) -> Transition:
        job = s.jobs.get(m.job)
        if job is None or job.confirmed:  # Core restarted meanwhile, or a late copy
            return Transition(s, (), ())
        status, why = m.payload
        t = self.world.templates[job.template]
        if status != 200:
            if self.cfg.m_keep_refused_job:
                s2 = self._put_job(s, replace(job, confirmed=True))
                return Transition(
                    self._unreserve(s2, job.id),
                    (Call(f"user:{t.user}", "jobs.create", job.id, 200, None, (t.index,)),),
                    (job.id,),
                )
            return self._create_failed(s, job.id, status, why)
        # core2 JobCreate after provider success: ResourceConfirm, then jobBindResource for every
        # ingress / public IP / license in parameters and resources (reference §6.4).
        s2 = self._unreserve(self._put_job(s, replace(job, confirmed=True)), job.id)
        if job.state not in FINAL and not self.cfg.m_bind_before_accept:
            s2 = s2.replace(bindings=self._bind(s2.bindings, t, job.id))
        return Transition(
            s2, (Call(f"user:{t.user}", "jobs.create", job.id, 200, None, (t.index,)),), (job.id,)
        )

    def _create_failed(self, s: SystemState, jid: int, status: int, why: str | None) -> Transition:
        job = s.jobs.get(jid)
        if job is None:
            return Transition(s, (), ())
        # jobCreateThroughProvider: on provider error the resource is deleted (ResourceDelete) and the
        # error returned; nothing was bound (PR #3844).
        jobs = dict(s.jobs)
        del jobs[jid]
        s2 = s.replace(jobs=jobs)
        if not self.cfg.m_refusal_keeps_reservation:
            s2 = self._unreserve(s2, jid)
        s2 = s2.replace(bindings=self._unbind_all(s2.bindings, jid))
        t = self.world.templates[job.template]
        return Transition(s2, (Call(f"user:{t.user}", "jobs.create", jid, status, why, (t.index,)),), (jid,))

    def _core_apply_update(self, s: SystemState, m: Msg, now: int | None) -> Transition:
        """Apply one ``jobs.control.update`` item (core2 job.go: JobsControlAddUpdate.Handler, §2.4)."""
        cfg = self.cfg
        state, expected, expected_different, new_alloc, _status = m.payload
        actor = f"provider:{m.provider}"
        job = s.jobs.get(m.job)
        # ResourceValidateProviderBatch: the job must exist and be readable with PROVIDER permission
        # by the caller, else 404 and nothing is applied.
        if job is None or (job.provider != m.provider and not cfg.m_accept_foreign_provider):
            return Transition(
                s,
                (
                    Call(
                        actor,
                        UPDATE,
                        m.job,
                        404,
                        f"not found or permission denied ({m.job})",
                        (m.uid, *m.payload),
                    ),
                ),
                (),
            )
        if m.uid in job.handled and not (cfg.retries_appended or cfg.m_retry_reapplied):
            # A redelivery of a call Core already handled: a retry, answered again, applied once.
            return Transition(s, (Call(actor, UPDATE, m.job, 200, None, (m.uid, *m.payload, "retry")),), ())
        current = job.state
        apply = True
        if expected is not None and not cfg.m_ignore_expected_state:
            apply = current == expected
        elif expected_different and state is not None and not cfg.m_ignore_expected_different_state:
            apply = current != state
        if current in FINAL:
            if state is not None and state not in FINAL and not cfg.m_no_terminal_guard:
                apply = False  # core2: no resurrection
            elif not cfg.final_to_final and not (cfg.m_no_terminal_guard and state is not None):
                apply = False  # the seed: a terminal job "can no longer receive any updates"
        handled = job.handled | {m.uid}
        if not apply:
            s2 = self._put_job(s, replace(job, handled=handled))
            return Transition(
                s2, (Call(actor, UPDATE, m.job, 200, None, (m.uid, *m.payload, "dropped")),), (m.job,)
            )
        job2 = replace(job, handled=handled)
        bindings = s.bindings
        if state is not None and (state != current or (state == RUNNING and cfg.m_startedat_on_duplicate)):
            job2 = replace(job2, state=state)
            if state == RUNNING:
                job2 = replace(job2, started_at=now if now is not None else (job.started_at or 0) + 1)
            if state in FINAL and not cfg.m_no_release_at_end:
                bindings = self._unbind_all(bindings, job.id)  # jobUnbindResource
        if new_alloc is not None:
            if cfg.extension_drops_seconds:
                new_alloc = new_alloc // MINUTE_MS * MINUTE_MS  # SimpleDurationFromMillis
            job2 = replace(job2, alloc_ms=new_alloc)
        s2 = self._put_job(s, job2)
        if bindings is not s.bindings:
            s2 = s2.replace(bindings=bindings)
        return Transition(
            s2, (Call(actor, UPDATE, m.job, 200, None, (m.uid, *m.payload, "applied")),), (m.job,)
        )

    def _core_report_usage(self, s: SystemState, m: Msg) -> Transition:
        """accounting.reportUsage with isDeltaCharge=false: the scope's total becomes the usage (§8.2)."""
        owner = s.providers[m.provider].jobs[m.job].owner  # the provider's copy: Core may have lost the job
        usage = dict(s.usage)
        usage[(owner, f"job-{m.job}")] = m.payload[0]
        locked = owner in s.locked
        call = Call(f"provider:{m.provider}", USAGE, m.job, 200, None, (m.payload[0], not locked))
        return Transition(s.replace(usage=usage), (call,), (m.job,))

    # -- workloads -------------------------------------------------------------------------------
    def _pjob(self, s: SystemState, jid: int) -> tuple[str, ProviderJob]:
        for p in s.providers.values():
            pj = p.jobs.get(jid)
            if pj is not None:
                return p.id, pj
        raise ValueError(f"no provider holds job {jid}")

    def _start(self, s: SystemState, a: A.Start, now: int | None) -> Transition:
        pid, pj = self._pjob(s, a.job)
        return Transition(self._put_pjob(s, pid, P.on_start(pj)), (), (a.job,))

    def _exit(self, s: SystemState, a: A.Exit, now: int | None) -> Transition:
        pid, pj = self._pjob(s, a.job)
        return Transition(self._put_pjob(s, pid, P.on_exit(pj, a.code)), (), (a.job,))

    def _node_fail(self, s: SystemState, a: A.NodeFail, now: int | None) -> Transition:
        pid, pj = self._pjob(s, a.job)
        return Transition(self._put_pjob(s, pid, P.on_node_failure(pj)), (), (a.job,))

    def _tick(self, s: SystemState, a: A.Tick, now: int | None) -> Transition:
        pid, pj = self._pjob(s, a.job)
        ms = self.world.tick_ms if a.ms is None else a.ms
        return Transition(self._put_pjob(s, pid, P.on_tick(pj, ms)), (), (a.job,))

    def _allocation_elapsed(self, s: SystemState, a: A.AllocationElapsed, now: int | None) -> Transition:
        pid, pj = self._pjob(s, a.job)
        return Transition(self._put_pjob(s, pid, P.on_allocation_elapsed(pj, self.cfg)), (), (a.job,))

    def _vanish(self, s: SystemState, a: A.Vanish, now: int | None) -> Transition:
        pid, pj = self._pjob(s, a.job)
        return Transition(self._put_pjob(s, pid, P.on_vanish(pj, a.past_expiry)), (), (a.job,))

    # -- providers -------------------------------------------------------------------------------
    def _report(self, s: SystemState, a: A.Report, now: int | None) -> Transition:
        pid, pj = self._pjob(s, a.job)
        _, new, status = P.report(pj, self.cfg)
        expected = pj.reported if a.guard == "expected" else None
        different = a.guard in ("different", "reassert-different")
        if a.guard.startswith("reassert"):
            pj = replace(pj, reasserted=True)
        if new in FINAL and self.cfg.m_provider_drops_final_report:
            # records the final state locally, but the update never leaves (and is never retried)
            return Transition(self._put_pjob(s, pid, replace(pj, reported=new)), (), (a.job,))
        s2 = self._send_update(s, pid, pj, (new, expected, different, None, status), mark_reported=True)
        return Transition(s2, (), (a.job,))

    def _send_update(
        self, s: SystemState, pid: str, pj: ProviderJob, payload: tuple[Any, ...], mark_reported: bool
    ) -> SystemState:
        sent = pj.sent + 1
        msg = Msg(call_uid(pj.id, sent), UPDATE, pid, pj.id, payload)
        pj2 = replace(pj, sent=sent, reported=payload[0]) if mark_reported else replace(pj, sent=sent)
        s2 = self._put_pjob(s, pid, pj2)
        return s2.replace(flight=(*s2.flight, msg))

    def _usage(self, pj: ProviderJob) -> int:
        ran = pj.ran_ms
        if self.cfg.m_charge_in_queue and pj.phase == QUEUED:
            ran += self.world.tick_ms
        return self.world.usage(pj.template, ran, ignore_replicas=self.cfg.m_no_replica_charge)

    def _report_usage(self, s: SystemState, a: A.ReportUsage, now: int | None) -> Transition:
        pid, pj = self._pjob(s, a.job)
        usage = self._usage(pj)
        sent = pj.sent + 1
        msg = Msg(call_uid(pj.id, sent), USAGE, pid, pj.id, (usage,))
        s2 = self._put_pjob(s, pid, replace(pj, sent=sent, charged=usage))
        return Transition(s2.replace(flight=(*s2.flight, msg)), (), (a.job,))

    def _enforce_lock(self, s: SystemState, a: A.EnforceLock, now: int | None) -> Transition:
        pid, pj = self._pjob(s, a.job)
        return Transition(self._put_pjob(s, pid, P.on_wallet_locked(pj)), (), (a.job,))

    def _impersonate(self, s: SystemState, a: A.Impersonate, now: int | None) -> Transition:
        job = self._core_job(s, a.job)
        msg = Msg(
            call_uid(a.job, UIDS_PER_JOB - 1), UPDATE, a.provider, a.job, (FAILURE, None, False, None, "")
        )
        if any(m.uid == msg.uid for m in s.flight) or msg.uid in job.handled:
            return Transition(s, (), ())
        return Transition(s.replace(flight=(*s.flight, msg)), (), (a.job,))

    def _crash(self, s: SystemState, a: A.Crash, now: int | None) -> Transition:
        p = s.providers[a.provider]
        providers = dict(s.providers)
        providers[a.provider] = replace(p, up=False)
        budgets = replace(s.budgets, crashes=s.budgets.crashes - 1)
        return Transition(s.replace(providers=providers, budgets=budgets), (), ())

    def _restart(self, s: SystemState, a: A.Restart, now: int | None) -> Transition:
        # IM restart: reloads tracked_jobs (IN_QUEUE, SUSPENDED, RUNNING) and resumes monitoring; what
        # happened meanwhile is reported by the next monitoring pass (reference §7.4).
        p = s.providers[a.provider]
        providers = dict(s.providers)
        providers[a.provider] = replace(p, up=True, restarts=p.restarts + 1)
        return Transition(s.replace(providers=providers), (), ())

    def _core_restart(self, s: SystemState, a: A.CoreRestart, now: int | None) -> Transition:
        # Core persists a resource only once confirmed (resources.go: ResourceCreate); unconfirmed jobs
        # and their reservations vanish with the process (reference §6.1, §7.4).
        lost = [j.id for j in s.jobs.values() if not j.confirmed]
        jobs = {k: v for k, v in s.jobs.items() if v.confirmed}
        reserved = {r: j for r, j in s.reserved.items() if j not in lost}
        budgets = replace(s.budgets, core_restarts=s.budgets.core_restarts - 1)
        return Transition(s.replace(jobs=jobs, reserved=reserved, budgets=budgets), (), tuple(lost))

    def _lock_wallet(self, s: SystemState, a: A.LockWallet, now: int | None) -> Transition:
        budgets = replace(s.budgets, locks=s.budgets.locks - 1)
        return Transition(s.replace(locked=s.locked | {a.owner}, budgets=budgets), (), ())

    # -- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _put_job(s: SystemState, job: CoreJob) -> SystemState:
        jobs = dict(s.jobs)
        jobs[job.id] = job
        return s.replace(jobs=jobs)

    @staticmethod
    def _put_pjob(s: SystemState, pid: str, pj: ProviderJob) -> SystemState:
        providers = dict(s.providers)
        providers[pid] = providers[pid].with_job(pj)
        return s.replace(providers=providers)

    def _bind(self, bindings: dict[str, tuple[int, ...]], t: Any, jid: int) -> dict[str, tuple[int, ...]]:
        if not t.exclusive and not t.shared:
            return bindings
        b = dict(bindings)
        for r in t.exclusive:
            b[r] = (jid,)  # IngressBind / PublicIpBind overwrite boundTo with [jobId]
        for r in t.shared:
            if jid not in b.get(r, ()):
                b[r] = (*b.get(r, ()), jid)  # licenses are shared
        return b

    @staticmethod
    def _unbind_all(bindings: dict[str, tuple[int, ...]], jid: int) -> dict[str, tuple[int, ...]]:
        if not any(jid in v for v in bindings.values()):
            return bindings
        return {r: tuple(j for j in v if j != jid) for r, v in bindings.items()}

    @staticmethod
    def _unreserve(s: SystemState, jid: int) -> SystemState:
        if jid not in s.reserved.values():
            return s
        return s.replace(reserved={r: j for r, j in s.reserved.items() if j != jid})

    _handlers: ClassVar[dict[type, Any]] = {}


ProtocolModel._handlers = {
    A.Submit: ProtocolModel._submit,
    A.Terminate: ProtocolModel._terminate,
    A.Extend: ProtocolModel._extend,
    A.Suspend: ProtocolModel._suspend,
    A.Unsuspend: ProtocolModel._unsuspend,
    A.Follow: ProtocolModel._follow,
    A.OpenSession: ProtocolModel._open_session,
    A.Deliver: ProtocolModel._deliver,
    A.Duplicate: ProtocolModel._duplicate,
    A.Lose: ProtocolModel._lose,
    A.Start: ProtocolModel._start,
    A.Exit: ProtocolModel._exit,
    A.NodeFail: ProtocolModel._node_fail,
    A.Tick: ProtocolModel._tick,
    A.AllocationElapsed: ProtocolModel._allocation_elapsed,
    A.Vanish: ProtocolModel._vanish,
    A.Report: ProtocolModel._report,
    A.ReportUsage: ProtocolModel._report_usage,
    A.EnforceLock: ProtocolModel._enforce_lock,
    A.Impersonate: ProtocolModel._impersonate,
    A.Crash: ProtocolModel._crash,
    A.Restart: ProtocolModel._restart,
    A.CoreRestart: ProtocolModel._core_restart,
    A.LockWallet: ProtocolModel._lock_wallet,
}
