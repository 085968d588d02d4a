"""How cheap the specification is to step: seeded random walks over the default world.

Every driver (Hypothesis, the model checker, the simulator, the trace checker) pays for
``model.actions(state)`` and ``model.step(state, action)`` at every step, so their cost bounds what
each driver can do. Figures:

* ``spec.walk`` - steps/s of a random walk (enumerate the enabled actions, pick one, step), with a
  drain at the end of each episode, as the Hypothesis suite does;
* ``spec.walk_checked`` - the same walk with every property checked on every step (invariants on the
  touched jobs, every action property) and the liveness obligations after each drain;
* both against ``bare loop``: a loop that makes *the same random choices* (one ``rng.choice`` over a
  list of the same length at each step, recorded from the spec walk) and does nothing else. The ratio
  is the fraction of a loop's bare speed that is left once the protocol is stepped.

The target of the specification issue is at least 50,000 steps/s for the unchecked walk on one core.
"""

from __future__ import annotations

import random

from benchmarks.harness import Record, make_record, measure
from spec.properties import check_step, pending_obligations
from spec.system import ProtocolModel
from spec.testing import drain
from spec.world import default_world

__all__ = ["run", "walk"]

FULL_EPISODES = 600
QUICK_EPISODES = 60
DEPTH = 40


def walk(
    model: ProtocolModel, episodes: int, seed: int = 0, checked: bool = False, widths: list[int] | None = None
) -> int:
    """Random walks of ``DEPTH`` steps plus a drain; returns the number of steps taken.

    With ``widths``, append the number of enabled actions before each random choice (the baseline
    replays them). With ``checked``, check every property on every step and the liveness obligations
    at the end of each episode; a violation here is a bug in the spec, so it raises.
    """
    rng = random.Random(seed)
    steps = 0
    hook = None
    if checked:

        def hook(old, action, t) -> None:  # type: ignore[no-untyped-def]
            if check_step(model, old, action, t):
                raise AssertionError(f"property violated under documented at {action!r}")

    for _ in range(episodes):
        state = model.init_state()
        for _ in range(DEPTH):
            enabled = list(model.actions(state))
            if not enabled:
                break
            if widths is not None:
                widths.append(len(enabled))
            action = rng.choice(enabled)
            t = model.step(state, action)
            if hook is not None:
                hook(state, action, t)
            state = t.state
            steps += 1
        state, tail = drain(model, state, on_step=hook)
        steps += len(tail)
        if checked and pending_obligations(model, state):
            raise AssertionError("a liveness obligation is left open under documented")
    return steps


def _bare(widths: list[int], seed: int) -> None:
    """The same random choices, over lists of the same lengths, and nothing else."""
    rng = random.Random(seed)
    choice = rng.choice
    pools = {w: list(range(w)) for w in set(widths)}
    for w in widths:
        choice(pools[w])


def run(quick: bool, *, episodes: int | None = None, repeat: int | None = None) -> list[Record]:
    """Measure the figures above over ``episodes`` walks (default 600, or 60 with ``quick``)."""
    n = episodes if episodes is not None else (QUICK_EPISODES if quick else FULL_EPISODES)
    rounds = repeat if repeat is not None else (3 if quick else 5)
    model = ProtocolModel(default_world())
    widths: list[int] = []
    steps = walk(model, n, widths=widths)
    details = {"episodes": n, "depth": DEPTH, "steps": steps, "world": "default_world()", "quick": quick}

    bare = measure(lambda: _bare(widths, 0), repeat=rounds)
    plain = measure(lambda: walk(model, n), repeat=rounds)
    checked = measure(lambda: walk(model, n, checked=True), repeat=rounds)
    bare_rate = bare.rate(len(widths))
    return [
        make_record(
            "spec.walk",
            plain.rate(steps),
            "steps/s",
            baseline="bare loop, same random choices",
            baseline_value=bare_rate,
            details=details,
        ),
        make_record(
            "spec.walk_checked",
            checked.rate(steps),
            "steps/s",
            baseline="bare loop, same random choices",
            baseline_value=bare_rate,
            details=details,
        ),
    ]
