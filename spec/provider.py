"""The reference provider's rules: what a provider does to one job on each call and workload event.

UCloud's protocol has two sides. Core (validation, the job store, how updates are applied) lives in
:mod:`spec.system`; this module is the other side, written once as pure functions over a
:class:`~spec.state.ProviderJob` (the provider's durable row for one job). Two drivers use it:

* :class:`spec.system.ProtocolModel`, whose provider steps (``Start``, ``Exit``, ``Report``, a
  forwarded ``terminate`` ...) are these functions applied inside the global state;
* :class:`providerkit.reference.ReferenceProvider`, the in-process provider the provider test kit
  drives through its adapter interface (and serves over HTTP), so that the provider a team is
  compared with *is* the spec's provider, not a second copy of it.

Each function returns the job's new row (never modifies its argument). Reporting is separate from
acting, as in UCloud's integration module: an event changes the workload's *phase*; the provider's
monitoring pass (``TrackState``, im2 ``controller/job_database.go``) then notices that the state the
phase implies (:func:`implied_state`) differs from what it last reported and sends an update
(:func:`report`).
"""

from __future__ import annotations

from spec.rules import Config
from spec.state import (
    ACTIVE,
    CAUSE_EXIT,
    CAUSE_NO_CREDITS,
    CAUSE_NODE_FAILURE,
    CAUSE_TIME_ALLOCATION,
    CAUSE_USER_CANCEL,
    CAUSE_VANISHED,
    ENDED,
    EXPIRED,
    FAILURE,
    FINAL,
    IN_QUEUE,
    PAUSED,
    QUEUED,
    RUNNING,
    SUCCESS,
    SUSPENDED,
    ProviderJob,
    final_state_for,
    replace,
)

CANCELING = "CANCELING"

STATUS_MESSAGES = {
    RUNNING: "Your job is now running.",
    SUSPENDED: "Your job has been suspended.",
    SUCCESS: "Your job has finished.",
    FAILURE: "Your job has failed.",
    EXPIRED: "Your job has expired.",
    IN_QUEUE: "Your job is in the queue.",
}
"""The IM's default status line per state (im2 controller/job_database.go: TrackState)."""


def implied_state(job: ProviderJob, cfg: Config) -> str:
    """The JobState a provider reports for its workload's phase and, once ended, its cause.

    Outcomes (DESIGN "Job life cycle"; legacy Jobs.kt doc strings): any exit code is SUCCESS (the
    ``nonzero-exit-failure`` rule: FAILURE, as k8s containers/monitor.go: terminationState does);
    cancellation, lost credits and lost permissions are SUCCESS; only a hardware fault is FAILURE;
    only a used-up allocation is EXPIRED; a workload that vanished is SUCCESS, or under the
    ``unknown-state-wall-clock`` rule EXPIRED when the wall clock had passed its ``expiresAt``.

    (Integrated-application jobs get SUSPENDED from the unknown-state rule instead and are not
    terminated; the worlds here have no integrated applications, so that branch is not modelled.)
    """
    phase = job.phase
    if phase == QUEUED:
        return IN_QUEUE
    if phase == ACTIVE:
        return RUNNING
    if phase == PAUSED:
        return SUSPENDED
    if cfg.m_legacy_canceling and job.cancelled and job.reported != CANCELING and job.reported not in FINAL:
        return CANCELING  # legacy Kotlin's transient state (reference §2.1), not a JobState today
    if job.cause == CAUSE_VANISHED and cfg.unknown_state_wall_clock:
        # im2 controller/job_database.go: (*JobUpdateBatch).End -> jobUnknownStateTerminationState: a
        # job not seen in a pass gets EXPIRED if now > expiresAt, else SUCCESS (reference §7.2).
        return EXPIRED if job.past_expiry else SUCCESS
    return final_state_for(job.cause, job.exit_code, cfg.nonzero_exit_failure or cfg.m_exit_code_failure)


def needs_report(job: ProviderJob, cfg: Config) -> bool:
    """Whether the provider's copy of the state differs from what the workload implies."""
    return implied_state(job, cfg) != job.reported


def report(job: ProviderJob, cfg: Config) -> tuple[ProviderJob, str, str]:
    """The monitoring pass for one job: ``(new row, state to send, status line)``.

    The new row records the state as reported (``TrackState`` updates the IM's copy before the
    flush, so a lost flush is not retried by the next pass).
    """
    new = implied_state(job, cfg)
    return replace(job, reported=new), new, STATUS_MESSAGES.get(new, "")


# -- calls from Core ---------------------------------------------------------------------------------


def accept(job_id: int, template: int, owner: str, alloc_ms: int | None) -> ProviderJob:
    """``jobs.provider.create`` accepted: the job is tracked IN_QUEUE (im2 ``RegisterJob``)."""
    return ProviderJob(id=job_id, template=template, owner=owner, alloc_ms=alloc_ms)


def on_terminate(job: ProviderJob) -> ProviderJob:
    """``jobs.provider.terminate`` (user-initiated): the workload is deleted and the job ends
    (k8s containers/00_module.go: terminate). A job that already ended is left as it is."""
    if job.phase == ENDED:
        return job
    return replace(job, phase=ENDED, cause=CAUSE_USER_CANCEL, cancelled=True)


def terminate_ended(job: ProviderJob, cfg: Config) -> tuple[str, str] | None:
    """What the provider pushes when Core forwards a terminate for a job that already ended: nothing,
    except under ``terminate-final-forwarded`` (reference §9.3 item 14: the k8s provider pushes SUCCESS,
    "Job cancelled", for an already final job, and core2 accepts final-to-final). ``(state, status)``."""
    if job.phase == ENDED and cfg.terminate_final_forwarded:
        return SUCCESS, "Job cancelled"
    return None


def on_extend(job: ProviderJob, ms: int) -> ProviderJob | None:
    """``jobs.provider.extend``: the requested time is *added* to the allocation (reference §7.6;
    k8s containers: newTimeAllocation = current + requested). ``None`` when nothing changes (no
    allocation to extend, or the job already ended): the provider then sends no update."""
    if job.alloc_ms is None or job.phase == ENDED:
        return None
    return replace(job, alloc_ms=job.alloc_ms + ms)


def on_suspend(job: ProviderJob, suspend: bool, supported: bool) -> ProviderJob:
    """``jobs.provider.suspend`` / ``unsuspend`` (reference §7.7). Without the ``suspension`` feature
    the call succeeds and does nothing (k8s compute.go); otherwise a running job pauses and a
    paused one resumes."""
    if not supported:
        return job
    if suspend and job.phase == ACTIVE:
        return replace(job, phase=PAUSED)
    if not suspend and job.phase == PAUSED:
        return replace(job, phase=ACTIVE)
    return job


# -- events of the workload --------------------------------------------------------------------------


def on_start(job: ProviderJob) -> ProviderJob:
    """The scheduler placed the job: its workload runs."""
    return replace(job, phase=ACTIVE)


def on_exit(job: ProviderJob, code: int) -> ProviderJob:
    """The application exited with ``code``."""
    return replace(job, phase=ENDED, cause=CAUSE_EXIT, exit_code=code)


def on_node_failure(job: ProviderJob) -> ProviderJob:
    """A node under the job failed: the job ends with cause node-failure."""
    return replace(job, phase=ENDED, cause=CAUSE_NODE_FAILURE)


def on_tick(job: ProviderJob, ms: int) -> ProviderJob:
    """``ms`` of running time passed."""
    return replace(job, ran_ms=job.ran_ms + ms)


def on_allocation_elapsed(job: ProviderJob, cfg: Config) -> ProviderJob:
    """The allocation is used up. The provider enforces the wall time on cumulative RUNNING time
    (k8s containers: TimeRemaining < 0 -> cleanup; Slurm TIMEOUT -> EXPIRED); under the
    ``expire-early`` mutant this fires in the queue, under ``provider-ignores-expiry`` it does
    nothing but the clock."""
    ran = max(job.ran_ms, job.alloc_ms or 0) if job.phase == ACTIVE else job.ran_ms
    if cfg.m_provider_ignores_expiry and job.phase == ACTIVE:
        return replace(job, ran_ms=ran)
    return replace(job, phase=ENDED, cause=CAUSE_TIME_ALLOCATION, ran_ms=ran)


def on_vanish(job: ProviderJob, past_expiry: bool) -> ProviderJob:
    """The workload's record vanished while the provider was down; on restart the provider finds it
    missing (reference §7.2, §7.4). Its true running time stays what it was; ``past_expiry`` records
    whether the wall clock had passed the job's ``expiresAt`` then (see :class:`spec.actions.Vanish`)."""
    return replace(job, phase=ENDED, cause=CAUSE_VANISHED, past_expiry=past_expiry)


def on_wallet_locked(job: ProviderJob) -> ProviderJob:
    """The owner's wallet is locked: containers are cleaned up and end in SUCCESS ("No credits";
    k8s monitoring.go lock section)."""
    return replace(job, phase=ENDED, cause=CAUSE_NO_CREDITS)
