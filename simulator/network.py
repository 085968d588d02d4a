"""The network between UCloud/Core and the providers: latency, loss, duplicates, reordering, partitions.

The protocol only knows that a call is *in flight* (:class:`spec.state.Msg`) until it is delivered
(``Deliver``), duplicated (``Duplicate``: the answer was lost and the sender sent the call again) or
lost for good (``Lose``). The network model decides *when* each of those happens, per message:

>>> from simulator.scenario import load_default_scenario
>>> from simulator.rng import Streams
>>> net = Network(load_default_scenario(), Streams(7))
>>> attempt = net.link("k8s", TO_CORE).send(now_ms=1_000)
>>> attempt.delivered_at is not None and attempt.delivered_at >= 1_000
True

One :class:`Link` per provider and direction, each with its own random stream
(``network:<provider>:<direction>``), so that one link's loss rate does not move another link's
latencies. Every call to :meth:`Link.send` draws exactly four uniforms (loss, latency, reordering,
duplication) whatever the outcome, so raising the loss rate does not shift the latencies of later
messages either (see :mod:`simulator.rng`).

* **Latency**: a distribution in milliseconds (``latency_ms``), sampled per message, rounded to
  whole milliseconds (the simulator's clock).
* **Order**: without ``reorder`` a link is FIFO: a message is never delivered before one sent earlier
  on the same link (its delivery is pushed back to the previous delivery's time). With ``reorder``
  (or with that probability per message) a message takes its own latency and may overtake.
* **Loss** (``loss``) and **partitions** (``[[network.partitions]]``: during [start, end) every
  message of that provider in that direction is lost): the attempt fails. What follows is the
  sender's business (see :mod:`simulator.engine`): a provider retries an update after
  ``update_retry_s``, up to ``max_update_retries`` times; Core never retries a create (it times out
  after ``network.timeout_s`` and deletes the job, answering 504).
* **Duplicates** (``duplicate``): the call was handled but its answer was lost, so the sender sends it
  again: Core sees it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import random

    from simulator.rng import Streams
    from simulator.scenario import Scenario

__all__ = ["TO_CORE", "TO_PROVIDER", "Attempt", "Direction", "Link", "Network"]

Direction = Literal["core_to_provider", "provider_to_core"]
TO_PROVIDER: Direction = "core_to_provider"
TO_CORE: Direction = "provider_to_core"


@dataclass(frozen=True, slots=True)
class Attempt:
    """What happened to one transmission: ``delivered_at`` (ms; ``None`` if lost) and whether the
    receiver will see it a second time (``duplicated``; only meaningful when delivered)."""

    delivered_at: int | None
    duplicated: bool


class Link:
    """One direction between Core and one provider. See the module docstring."""

    __slots__ = ("_dup", "_last", "_latency", "_loss", "_reorder", "_rng", "_windows")

    def __init__(
        self,
        latency_ms: Callable[[float], float],
        loss: float,
        duplicate: float,
        reorder: float,
        rng: random.Random,
        windows: list[tuple[int, int]],
    ) -> None:
        self._latency = latency_ms
        self._loss = loss
        self._dup = duplicate
        self._reorder = reorder
        self._rng = rng
        self._windows = windows
        self._last = 0  # latest delivery time handed out on this link (FIFO)

    def partitioned(self, now_ms: int) -> bool:
        """Whether a partition cuts this link at ``now_ms``."""
        return any(start <= now_ms < end for start, end in self._windows)

    def send(self, now_ms: int) -> Attempt:
        """Transmit one message at ``now_ms``: when it arrives (or that it is lost), and if twice."""
        at, duplicated = self.transmit(now_ms)
        return Attempt(at, duplicated)

    def transmit(self, now_ms: int) -> tuple[int | None, bool]:
        """:meth:`send` as a plain ``(delivered_at, duplicated)`` pair: the simulator sends a few
        messages per job, and a frozen dataclass per message costs more than the draws."""
        rnd = self._rng.random
        u_loss, u_latency, u_reorder, u_dup = rnd(), rnd(), rnd(), rnd()  # always four: see above
        if u_loss < self._loss or (self._windows and self.partitioned(now_ms)):
            return None, False
        at = now_ms + max(0, round(self._latency(u_latency)))
        last = self._last
        if at < last:
            if u_reorder >= self._reorder:
                at = last  # FIFO: never overtake an earlier message of this link
        else:
            self._last = at
        return at, u_dup < self._dup


class Network:
    """Every provider's two links, built from the scenario's ``[network]`` section."""

    def __init__(self, scenario: Scenario, streams: Streams) -> None:
        net = scenario.network
        self.timeout_ms = round(net.timeout_s * 1000)
        self._links: dict[tuple[str, str], Link] = {}
        for p in scenario.providers:
            for direction in (TO_PROVIDER, TO_CORE):
                cfg = net.link(p.name, direction)
                windows = [
                    (round(w.start_s * 1000), round(w.end_s * 1000))
                    for w in net.partitions
                    if w.provider == p.name and w.direction in ("both", direction)
                ]
                self._links[(p.name, direction)] = Link(
                    cfg.latency_ms.quantile,
                    cfg.loss,
                    cfg.duplicate,
                    cfg.reorder_probability,
                    streams[f"network:{p.name}:{direction}"],
                    windows,
                )

    def link(self, provider: str, direction: Direction) -> Link:
        """The link to (``core_to_provider``) or from (``provider_to_core``) ``provider``."""
        return self._links[(provider, direction)]
