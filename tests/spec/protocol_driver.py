"""A small driver for the transition system in unit tests: take named actions, find calls in flight.

Not a test module (pytest does not collect it); the test modules of this folder import it.

    d = Driver(ProtocolModel(default_world()))
    jid = d.submit_confirmed(0)       # Submit, deliver the create, deliver the provider's reply
    d.do(A.Start(jid))
    d.report(jid)                     # Report, then deliver that update to Core
"""

from __future__ import annotations

from typing import Any

from spec import actions as A
from spec.state import CREATE, CREATE_REPLY, UPDATE, USAGE, Msg, SystemState, call_uid
from spec.system import Call, ProtocolModel, Transition

__all__ = [
    "CREATE",
    "CREATE_REPLY",
    "UPDATE",
    "USAGE",
    "Driver",
    "in_flight",
    "only_call",
    "uid_of",
    "update_msg",
]


def in_flight(s: SystemState, kind: str | None = None, job: int | None = None) -> list[Msg]:
    """The messages in flight, filtered by kind and job."""
    return [m for m in s.flight if (kind is None or m.kind == kind) and (job is None or m.job == job)]


def uid_of(s: SystemState, kind: str, job: int) -> int:
    """The uid of the one call of ``kind`` about ``job`` in flight (copies of a call share it)."""
    uids = {m.uid for m in in_flight(s, kind, job)}
    if len(uids) != 1:
        raise AssertionError(f"expected one {kind} call about job {job} in flight, found uids {sorted(uids)}")
    return uids.pop()


def update_msg(
    job: int,
    state: str | None = None,
    *,
    expected: str | None = None,
    different: bool = False,
    new_alloc: int | None = None,
    provider: str = "k8s",
    k: int = 40,
) -> Msg:
    """A hand-made ``jobs.control.update`` item (uid ``call_uid(job, k)``, away from the provider's own)."""
    return Msg(call_uid(job, k), UPDATE, provider, job, (state, expected, different, new_alloc, ""))


class Driver:
    """Holds a model and a current state; every step replaces the state and keeps the transition."""

    def __init__(self, model: ProtocolModel, state: SystemState | None = None) -> None:
        self.model = model
        self.s = state if state is not None else model.init_state()
        self.last: Transition | None = None

    def do(self, action: A.Action, now: int | None = None) -> Transition:
        t = self.model.step(self.s, action, now)
        self.s = t.state
        self.last = t
        return t

    def deliver(self, kind: str, job: int, now: int | None = None) -> Transition:
        return self.do(A.Deliver(uid_of(self.s, kind, job)), now)

    def submit(self, template: int) -> Transition:
        return self.do(A.Submit(template))

    def submit_confirmed(self, template: int) -> int:
        """Submit, deliver the create to the provider and its reply to Core; the job id."""
        jid = self.s.next_id
        t = self.submit(template)
        assert t.calls == (), t.calls  # Core accepted the request and called the provider
        self.deliver(CREATE, jid)
        t = self.deliver(CREATE_REPLY, jid)
        assert self.s.jobs[jid].confirmed, t
        return jid

    def report(self, jid: int, guard: str = "", now: int | None = None) -> Transition:
        """The provider reports the job's state and Core receives the update."""
        self.do(A.Report(jid, guard))
        return self.do(A.Deliver(self.latest_uid(jid)), now)

    def latest_uid(self, jid: int) -> int:
        """The uid of the provider's most recent call about the job."""
        return call_uid(jid, self.pjob(jid).sent)

    def inject(self, msg: Msg, now: int | None = None) -> Transition:
        """Put a hand-made call in flight and deliver it."""
        self.s = self.s.replace(flight=(*self.s.flight, msg))
        return self.do(A.Deliver(msg.uid), now)

    def pjob(self, jid: int) -> Any:
        for p in self.s.providers.values():
            if jid in p.jobs:
                return p.jobs[jid]
        raise AssertionError(f"no provider holds job {jid}")

    def job(self, jid: int) -> Any:
        return self.s.jobs[jid]

    def run(self, jid: int, now: int | None = None) -> None:
        """Start the workload and let Core learn that it is RUNNING."""
        self.do(A.Start(jid))
        self.report(jid, now=now)
        assert self.s.jobs[jid].state == "RUNNING"

    def finish(self, jid: int, action: A.Action | None = None) -> Transition:
        """End the workload (exit 0 unless another ending action is given) and report it."""
        self.do(action if action is not None else A.Exit(jid, 0))
        return self.report(jid)


def only_call(t: Transition) -> Call:
    assert len(t.calls) == 1, t.calls
    return t.calls[0]
