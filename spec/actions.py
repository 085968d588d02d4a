"""The action alphabet of the transition system: every way the system may take a step.

Each action is a small named tuple, so that it is cheap to create, hashable, and prints readably
(``Deliver(uid=65)``). Actors:

* **users** call Core: :class:`Submit` (``jobs.create``), :class:`Terminate`, :class:`Extend`,
  :class:`Suspend`, :class:`Unsuspend`, :class:`Follow`, :class:`OpenSession`;
* **the network** delivers, duplicates (a retry after a lost answer) or loses a call in flight:
  :class:`Deliver`, :class:`Duplicate`, :class:`Lose`;
* **workloads** at a provider change by themselves: :class:`Start` (the provider's scheduler
  starts it), :class:`Exit` (the application exits with a code), :class:`NodeFail`, :class:`Tick`
  (running time passes), :class:`AllocationElapsed` (the time allocation is used up; the untimed
  stand-in for the clock, DESIGN "Time"), :class:`Vanish` (the workload's record disappears while
  its provider is down; only in worlds with ``vanish`` on);
* **providers** report to Core (:class:`Report`, :class:`ReportUsage`), stop jobs of locked
  wallets (:class:`EnforceLock`), crash and restart (:class:`Crash`, :class:`Restart`), and a
  misbehaving provider may send an update for a job it does not own (:class:`Impersonate`);
* **Core** restarts (:class:`CoreRestart`); **accounting** locks a wallet (:class:`LockWallet`).
"""

from __future__ import annotations

from typing import NamedTuple


class Submit(NamedTuple):
    """A user sends ``jobs.create`` with request template ``template`` of the world."""

    template: int


class Terminate(NamedTuple):
    """The job's owner sends ``jobs.terminate`` (cancellation)."""

    job: int


class Extend(NamedTuple):
    """The owner sends ``jobs.extend`` asking for the world's extension time more."""

    job: int


class Suspend(NamedTuple):
    job: int


class Unsuspend(NamedTuple):
    job: int


class Follow(NamedTuple):
    """The owner opens ``jobs.follow`` (log streaming)."""

    job: int


class OpenSession(NamedTuple):
    """The owner asks for an interactive session: ``kind`` is ``WEB``, ``VNC`` or ``SHELL``."""

    job: int
    kind: str


# Interactive session type -> the backend feature that must be declared for it (core2
# jobs.interactiveSession; reference §5.5).
SESSION_FEATURES: dict[str, str] = {"WEB": "web", "VNC": "vnc", "SHELL": "terminal"}


class Deliver(NamedTuple):
    """The network delivers the call ``uid`` and its answer comes back."""

    uid: int


class Duplicate(NamedTuple):
    """The answer to call ``uid`` is lost after it was handled; the sender retries: a second copy."""

    uid: int


class Lose(NamedTuple):
    """The call ``uid`` is lost for good (the sender gives up)."""

    uid: int


class Start(NamedTuple):
    job: int


class Exit(NamedTuple):
    """The running application exits with ``code`` (any code is a normal end, DESIGN "Job life cycle")."""

    job: int
    code: int


class NodeFail(NamedTuple):
    """The node under a running job fails: a hardware fault."""

    job: int


class Tick(NamedTuple):
    """Running time passes for a running job: one quantum (``world.tick_ms``) in the untimed drivers,
    or ``ms`` milliseconds when a timed driver (the simulator) credits the time that really passed."""

    job: int
    ms: int | None = None

    def __hash__(self) -> int:
        # Without ``ms`` a Tick hashes as it did before the field existed. Hypothesis labels a
        # ``sampled_from`` of actions by the hash of its elements, and the labels steer its search: a
        # new hash would make every derandomized suite explore differently.
        return hash((self.job,)) if self.ms is None else tuple.__hash__(self)


class AllocationElapsed(NamedTuple):
    """The running job's cumulative RUNNING time reaches its allocation; its provider stops it."""

    job: int


class Vanish(NamedTuple):
    """The job's workload vanishes while its provider is down: when the restarted provider's first
    monitoring pass looks for it, its record is gone from the cluster (Slurm purged it, a pod was
    deleted), so the provider cannot tell how it ended (reference §7.2, §7.4; cause ``vanished``).

    ``past_expiry`` says whether, when that pass runs, the wall clock has passed the job's
    ``expiresAt`` (latest ``startedAt`` + allocation), which decides what the IM reports under the
    ``unknown-state-wall-clock`` rule. The untimed model has no clock, so this is a choice, made
    here and remembered in the provider's row: ``expiresAt`` is wall-clock time and the provider's
    downtime is unbounded, so *any* started job with an allocation may be found missing after it
    (``Vanish(job, True)``), whatever its true running time; a job that never started has no
    ``expiresAt`` (only ``Vanish(job, False)``). A timed driver computes it from its clock.
    """

    job: int
    past_expiry: bool = False


class Report(NamedTuple):
    """The provider reports the job's state to Core (``jobs.control.update``).

    ``guard`` chooses the update's precondition: ``""`` none, ``"expected"`` sets ``expectedState``
    to the state the provider last reported, ``"different"`` sets ``expectedDifferentState``, and
    ``"reassert"`` / ``"reassert-different"`` re-send (once per job) the state Core should already
    have, without / with ``expectedDifferentState`` (the IM asserts a job's state on each monitoring
    pass, reference §7.1).
    """

    job: int
    guard: str = ""


class ReportUsage(NamedTuple):
    """The provider reports the job's absolute usage (``accounting.reportUsage``)."""

    job: int


class EnforceLock(NamedTuple):
    """The provider stops a job whose wallet is locked (reference §8.4)."""

    job: int


class Impersonate(NamedTuple):
    """Provider ``provider`` sends an update for a job it does not own."""

    provider: str
    job: int


class Crash(NamedTuple):
    provider: str


class Restart(NamedTuple):
    provider: str


class CoreRestart(NamedTuple):
    pass


class LockWallet(NamedTuple):
    """Accounting locks the wallet of ``owner`` (its maxUsable fell to 0, reference §8.1)."""

    owner: str


Action = (
    Submit
    | Terminate
    | Extend
    | Suspend
    | Unsuspend
    | Follow
    | OpenSession
    | Deliver
    | Duplicate
    | Lose
    | Start
    | Exit
    | NodeFail
    | Tick
    | AllocationElapsed
    | Vanish
    | Report
    | ReportUsage
    | EnforceLock
    | Impersonate
    | Crash
    | Restart
    | CoreRestart
    | LockWallet
)

USER_ACTIONS = (Submit, Terminate, Extend, Suspend, Unsuspend, Follow, OpenSession)
NETWORK_ACTIONS = (Deliver, Duplicate, Lose)
WORKLOAD_ACTIONS = (Start, Exit, NodeFail, Tick, AllocationElapsed, Vanish)

# Weak fairness (for liveness): an action of these kinds that stays enabled is eventually taken.
# Workload events (exit, node failure), user requests, faults and the scheduler's Start are not
# fair: an application may run forever, and UCloud puts no requirement on the queue order
# (reference §7.1: "Jobs can be run in any order which the provider sees fit").
FAIR_ACTIONS = (Deliver, Report, ReportUsage, EnforceLock, Restart, AllocationElapsed)


def action_name(action: Action) -> str:
    """The kind of an action: ``"Deliver"``."""
    return type(action).__name__
