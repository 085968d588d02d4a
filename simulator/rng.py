"""Seeded random streams, one per concern, so that changing one knob leaves every other draw alone.

A simulation draws random numbers for many unrelated reasons: when jobs arrive, how long they run,
which message the network loses, when a node fails. If all of them shared one generator, raising
the node failure rate would consume a few more numbers and shift *every later arrival*: two runs
that should differ only in their faults would also differ in their workload, and the comparison
would be drowned in noise. The remedy (*common random numbers*) is one independent stream per
concern:

>>> streams = Streams(seed=42)
>>> a = streams["arrivals"].random()
>>> _ = [streams["faults:node-failure"].random() for _ in range(1000)]   # faults draw a lot...
>>> Streams(seed=42)["arrivals"].random() == a                           # ...arrivals do not notice
True

Each stream is a :class:`random.Random` seeded from ``sha256(f"{seed}/{concern}")``. Python's
built-in :func:`hash` would not do: it is salted per process (``PYTHONHASHSEED``), so runs would
not be reproducible. The same seed and concern give the same stream on every machine and every
Python version (the Mersenne Twister and :meth:`random.Random.random` are stable).

Concern names are free-form strings. The simulator uses the names in :data:`CONCERNS`, and
``concern:detail`` for finer streams (``"network:k8s:core_to_provider"``), so that, for example,
one link's loss rate does not shift another link's latencies.

Draw with :meth:`random.Random.random` and invert the distribution (see
:mod:`simulator.scenario`, ``Distribution.quantile``) rather than with ``gauss`` or
``lognormvariate``: those consume a *variable* number of uniforms per sample, which silently
desynchronises a stream when a parameter changes, and their algorithms may change between Python
versions.
"""

from __future__ import annotations

import hashlib
import random

__all__ = ["CONCERNS", "Streams", "derive_seed"]

CONCERNS: tuple[str, ...] = (
    "arrivals",  # arrival times (and the burst/calm phases of bursty arrivals)
    "mix",  # which request template, and how many replicas
    "invalid",  # whether a request is deliberately invalid, and which kind
    "runtimes",  # the true run time of each job
    "exit-codes",  # whether a job exits non-zero, and with which code
    "cancellations",  # whether and when a user cancels a job
    "extensions",  # whether and when a user extends a job's time allocation
    "user-actions",  # whether and when a user follows, opens a session on, or suspends a job
    "network",  # latencies, losses, duplicates, reordering (``network:<provider>:<direction>``)
    "faults",  # provider crashes, node failures, Core restarts (``faults:<kind>``)
    "scheduling",  # randomised scheduling decisions, if a policy makes any
)
"""The concerns the simulator draws for, each from its own stream."""


def derive_seed(seed: int, concern: str) -> int:
    """The seed of ``concern``'s stream: the first 16 bytes of ``sha256(f"{seed}/{concern}")``.

    >>> derive_seed(1, "arrivals") == derive_seed(1, "arrivals") != derive_seed(2, "arrivals")
    True
    """
    digest = hashlib.sha256(f"{seed}/{concern}".encode()).digest()
    return int.from_bytes(digest[:16], "big")


class Streams:
    """The random streams of one simulation run: ``streams[concern]`` is a :class:`random.Random`.

    A stream is created on first use and then kept, so repeated lookups continue the same
    sequence. Build a fresh :class:`Streams` to start every stream over.
    """

    __slots__ = ("_streams", "seed")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def __getitem__(self, concern: str) -> random.Random:
        stream = self._streams.get(concern)
        if stream is None:
            stream = self._streams[concern] = random.Random(derive_seed(self.seed, concern))
        return stream

    def fresh(self, concern: str) -> random.Random:
        """A new generator for ``concern``, starting at the beginning of its stream (not shared)."""
        return random.Random(derive_seed(self.seed, concern))

    def __repr__(self) -> str:
        return f"Streams(seed={self.seed}, open={sorted(self._streams)})"
