"""How fast the two checkers go: the bounded model checker and the Hypothesis state machine.

* ``explore.states`` - distinct states/s of :func:`spec.explore.explore` on the default configuration
  of ``ucsim explore`` (2 jobs, 1 provider, one exclusive public link, reordering, a crash, a
  duplicate; symmetry on; every property checked), against a **bare breadth-first search** of the same
  model (the spec's own ``SystemState.key()``, no symmetry, no properties, no counterexample
  bookkeeping): the ratio is what the checking costs on top of enumerating the states;
* ``hypothesis.steps`` - rule steps/s of the Hypothesis machine over the default world (every
  property after every step, drained liveness at the end), against a trivial
  ``RuleBasedStateMachine`` (one rule that draws one integer) under the same settings: the ratio is
  what the spec costs on top of Hypothesis' own machinery.
"""

from __future__ import annotations

import time

from benchmarks.harness import Record, make_record
from spec.explore import Explorer, ExploreSettings, explore_model
from spec.system import ProtocolModel
from spec.testing import reachable

__all__ = ["bare_bfs", "run"]


def bare_bfs(model: ProtocolModel) -> int:
    """Every reachable state, breadth first, nothing else; returns how many."""
    return reachable(model)


def _hypothesis_seconds(machine_cls: type, examples: int, steps: int) -> float:
    from spec.testing import run_machine

    started = time.perf_counter()
    run_machine(machine_cls, examples, steps)
    return time.perf_counter() - started


def _trivial_machine(counter: list[int]) -> type:
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, rule

    class Trivial(RuleBasedStateMachine):
        n = 0

        @rule(data=st.data())
        def step(self, data: st.DataObject) -> None:
            counter[0] += 1
            self.n += data.draw(st.integers(0, 10), label="x")

    return Trivial


def run(quick: bool) -> list[Record]:
    settings = ExploreSettings(restart=False, duplicates=0) if quick else ExploreSettings()
    model = explore_model(settings)
    started = time.perf_counter()
    bare_states = bare_bfs(model)
    bare_rate = bare_states / (time.perf_counter() - started)
    result = Explorer(model, symmetry=True).run()
    details = {
        "settings": repr(settings),
        "states": result.states,
        "transitions": result.transitions,
        "depth": result.depth,
        "seconds": round(result.seconds, 2),
        "bare_states (no symmetry)": bare_states,
        "verdict": "holds" if result.ok else result.violated(),
        "quick": quick,
    }
    records = [
        make_record(
            "explore.states",
            result.states_per_s,
            "states/s",
            baseline="bare BFS of the same model",
            baseline_value=bare_rate,
            details=details,
        )
    ]

    from spec.rules import resolve
    from spec.state import Budgets
    from spec.testing import Coverage, protocol_machine
    from spec.world import default_world

    examples = 30 if quick else 150
    budgets = Budgets(submissions=3, duplicates=1, crashes=1, core_restarts=1, locks=1)
    coverage = Coverage()
    seconds = _hypothesis_seconds(
        protocol_machine(default_world(), resolve("documented"), budgets, coverage=coverage), examples, 40
    )
    full_rate, full_steps = coverage.steps / seconds, coverage.steps
    counter = [0]
    trivial_seconds = _hypothesis_seconds(_trivial_machine(counter), examples, 40)
    trivial_rate = counter[0] / trivial_seconds
    records.append(
        make_record(
            "hypothesis.steps",
            full_rate,
            "steps/s",
            baseline="trivial RuleBasedStateMachine",
            baseline_value=trivial_rate,
            details={"examples": examples, "steps": full_steps, "quick": quick},
        )
    )
    return records
