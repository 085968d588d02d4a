"""Scheduling policies: the interface (:mod:`simulator.policies.base`), and the registry by name.

>>> policy_names()[:2]
['easy', 'fcfs']
>>> make_policy("fcfs")
FCFSPolicy(placement='least-full')
>>> make_policy("sjf")
Traceback (most recent call last):
...
simulator.policies.UnknownPolicyError: unknown scheduling policy 'sjf'; known policies: easy, fcfs...

Every concrete subclass of :class:`SchedulingPolicy` with a ``name`` registers itself in
:data:`POLICIES` when its class is defined, so making a policy selectable takes one import line below.
"""

from __future__ import annotations

from typing import Any

from simulator.policies.base import (
    POLICIES,
    ArrivalQueue,
    QueuedJob,
    RunningEstimates,
    SchedulingPolicy,
)
from simulator.policies.easy import EasyPolicy
from simulator.policies.fcfs import FCFSPolicy

try:  # UCloud's Kubernetes priority scheduler, written separately; absent until it lands.
    from simulator.policies.k8s_priority import K8sPriorityPolicy  # noqa: F401
except ModuleNotFoundError as error:
    if error.name != "simulator.policies.k8s_priority":
        raise  # a real import error inside that module must not be hidden

__all__ = [
    "POLICIES",
    "ArrivalQueue",
    "EasyPolicy",
    "FCFSPolicy",
    "QueuedJob",
    "RunningEstimates",
    "SchedulingPolicy",
    "UnknownPolicyError",
    "make_policy",
    "policy_names",
]


class UnknownPolicyError(ValueError):
    """A policy name that is not in :data:`POLICIES`; the message lists the known names."""


def policy_names() -> list[str]:
    """The names of the registered policies, sorted."""
    return sorted(POLICIES)


def make_policy(name: str, **params: Any) -> SchedulingPolicy:
    """A new instance of the policy called ``name``, with keyword ``params`` passed to its constructor."""
    try:
        cls = POLICIES[name]
    except KeyError:
        raise UnknownPolicyError(
            f"unknown scheduling policy {name!r}; known policies: {', '.join(policy_names())}"
        ) from None
    return cls(**params)
