"""Hypothesis stateful testing of the protocol: any short schedule, checked at every step, shrunk.

:func:`protocol_machine` builds a :class:`hypothesis.stateful.RuleBasedStateMachine` whose single
rule draws the next action from the spec's own enabled actions (``model.actions(state)``), so
preconditions are never written twice. After each step it checks the invariants on what the step
touched and every action property; at the end of each example it *drains* the system (only fair
actions: deliver everything, let providers report and restart) and then checks that no liveness
obligation is left open.

    from spec.testing import protocol_machine
    from spec.world import default_world

    TestProtocol = protocol_machine(default_world()).TestCase

A failure raises :class:`PropertyViolated`, whose message is the numbered schedule that Hypothesis
shrank, and the violated property with its meaning and UCloud source.

**Plugging in a real provider.** This machine runs the spec's provider inside the model. To run the
same kind of schedules against a provider of one's own (any language, over HTTP), use the provider
test kit: :func:`providerkit.kit.run_kit` drives a :class:`providerkit.adapter.ProviderAdapter` (the
provider calls in, ``jobs.control.update`` out, optional test hooks) with Hypothesis, plays Core
itself and judges every call with the trace checker, which applies the same properties.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from spec import actions as A
from spec.properties import Property, Violation, check_step, pending_obligations
from spec.rules import DEFAULT, Config
from spec.state import Budgets, SystemState
from spec.system import ProtocolModel, Transition
from spec.world import World


class PropertyViolated(AssertionError):
    """A property failed on a schedule; the message tells the story."""


CREATED = "(created)"
DELETED = "(deleted)"


class Coverage:
    """What a test run exercised: each action kind, and each change of a job's state in Core.

    ``transitions`` counts ``(from, to)`` pairs of Core job states, with :data:`CREATED` and
    :data:`DELETED` for a job that appears or disappears. :meth:`missing` lists what was never
    exercised among the action kinds and the transitions Core may make.
    """

    def __init__(self) -> None:
        self.actions: Counter[str] = Counter()
        self.transitions: Counter[tuple[str, str]] = Counter()
        self.steps = 0

    def record(self, old: SystemState, action: A.Action, t: Transition) -> None:
        self.steps += 1
        self.actions[type(action).__name__] += 1
        for jid in t.touched:
            before, after = old.jobs.get(jid), t.state.jobs.get(jid)
            a = before.state if before is not None else CREATED
            b = after.state if after is not None else DELETED
            if a != b:
                self.transitions[(a, b)] += 1

    def missing(
        self, possible_actions: Iterable[str], possible_transitions: Iterable[tuple[str, str]]
    ) -> dict[str, list]:
        """What was never exercised: ``{"actions": [...], "transitions": [...]}``."""
        return {
            "actions": sorted(a for a in possible_actions if not self.actions[a]),
            "transitions": sorted(t for t in possible_transitions if not self.transitions[t]),
        }

    def report(self) -> str:
        """A readable table of the counts."""
        lines = [f"{self.steps} steps", "actions:"]
        lines += [f"  {n:<20} {c:>8}" for n, c in sorted(self.actions.items())]
        lines.append("Core state changes:")
        lines += [f"  {a:>10} -> {b:<10} {c:>8}" for (a, b), c in sorted(self.transitions.items())]
        return "\n".join(lines)


StepHook = Callable[[SystemState, A.Action, Transition], None]


def drain(
    model: ProtocolModel, state: SystemState, max_steps: int = 500, on_step: StepHook | None = None
) -> tuple[SystemState, list[A.Action]]:
    """Take fair actions (the first enabled one, deterministically) until none is enabled.

    This is the bounded stand-in for "eventually": it follows *one* fair continuation from
    ``state`` (deliveries in the order they are listed), so a liveness failure that needs another
    order of deliveries can be missed here; the model checker (:mod:`spec.explore`) judges every
    order. ``on_step(old, action, transition)`` sees every step (to check properties on the drained
    steps too).
    """
    taken: list[A.Action] = []
    for _ in range(max_steps):
        action = next((a for a in model.actions(state) if isinstance(a, A.FAIR_ACTIONS)), None)
        if action is None:
            return state, taken
        t = model.step(state, action)
        if on_step is not None:
            on_step(state, action, t)
        state = t.state
        taken.append(action)
    raise PropertyViolated(f"the system did not settle within {max_steps} fair steps: {taken[-10:]}")


def story(actions: list[A.Action]) -> str:
    """A numbered schedule, one action a line."""
    return "\n".join(f"  {i:>3}. {a!r}" for i, a in enumerate(actions, 1))


def _explain(violations: list[Violation], schedule: list[A.Action], where: str) -> str:
    v = violations[0]
    return (
        f"property {v.prop.name!r} ({v.prop.kind}) violated {where}:\n  {v}\n"
        f"  meaning: {v.prop.meaning}\n  source:  {v.prop.source}\nschedule:\n{story(schedule)}"
    )


def protocol_machine(
    world: World,
    config: Config = DEFAULT,
    budgets: Budgets | None = None,
    liveness: bool = True,
    properties: Iterable[Property] | None = None,
    coverage: Coverage | None = None,
) -> type[RuleBasedStateMachine]:
    """A state machine class that explores ``world`` under ``config``. Use its ``.TestCase``.

    ``properties`` restricts the checks to those properties (default: all); ``coverage`` collects
    which actions and which Core state changes the examples exercised.
    """
    model = ProtocolModel(world, config, budgets)
    props = tuple(properties) if properties is not None else None

    class ProtocolMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.state = model.init_state()
            self.schedule: list[A.Action] = []
            self.enabled = list(model.actions(self.state))
            self.failed = False  # a step raised: the teardown must not drain and mask that failure

        @rule(data=st.data())
        def step(self, data: st.DataObject) -> None:
            if not self.enabled:  # nothing left to do: stutter (TLA+ style)
                return
            # Draw the kind of action first, then which one: otherwise the many always-enabled user
            # calls (follow, sessions, submissions) crowd out the rarer steps that lead deep
            # (suspension, expiry), and coverage suffers.
            kinds = sorted({type(a) for a in self.enabled}, key=lambda k: k.__name__)
            kind = data.draw(st.sampled_from(kinds), label="kind")
            action = data.draw(st.sampled_from([a for a in self.enabled if type(a) is kind]), label="action")
            self.failed = True  # until the step has passed its checks
            transition = self.model.step(self.state, action)
            self.schedule.append(action)
            if coverage is not None:
                coverage.record(self.state, action, transition)
            violations = check_step(self.model, self.state, action, transition, props)
            self.state = transition.state
            self.enabled = list(self.model.actions(self.state))
            if violations:
                raise PropertyViolated(_explain(violations, self.schedule, f"at step {len(self.schedule)}"))
            self.failed = False

        def teardown(self) -> None:
            # Hypothesis calls teardown even after a step raised; draining from that state would
            # raise a second, unrelated failure in place of the real one.
            if not liveness or self.failed:
                return
            seen: list[Violation] = []
            state, tail = drain(
                self.model,
                self.state,
                on_step=lambda old, a, t: seen.extend(check_step(self.model, old, a, t, props)),
            )
            if seen:
                raise PropertyViolated(_explain(seen, [*self.schedule, *tail], "while draining"))
            pending = [v for v in pending_obligations(self.model, state) if props is None or v.prop in props]
            if pending:
                raise PropertyViolated(_explain(pending, [*self.schedule, *tail], "after draining"))

    ProtocolMachine.__name__ = ProtocolMachine.__qualname__ = f"ProtocolMachine[{config.describe()}]"
    return ProtocolMachine


def random_walks(
    model: ProtocolModel, episodes: int = 300, depth: int = 40, seed: int = 0, until: str | None = None
) -> dict[str, Violation]:
    """Seeded random walks with a drain at the end of each: the first violation of each property.

    A cheap, deterministic sweep (the same seed gives the same walks) used to show that every
    mutant is caught by the property its registry entry names. With ``until``, the sweep stops at
    the end of the first walk that violated that property.
    """
    import random

    rng = random.Random(seed)
    found: dict[str, Violation] = {}

    def record(old: SystemState, action: A.Action, t: Transition) -> None:
        for v in check_step(model, old, action, t):
            found.setdefault(v.prop.name, v)

    for _ in range(episodes):
        state = model.init_state()
        for _ in range(depth):
            enabled = list(model.actions(state))
            if not enabled:
                break
            action = rng.choice(enabled)
            t = model.step(state, action)
            record(state, action, t)
            state = t.state
        state, _ = drain(model, state, on_step=record)
        for v in pending_obligations(model, state):
            found.setdefault(v.prop.name, v)
        if until is not None and until in found:
            break
    return found


def run_machine(
    machine: type[RuleBasedStateMachine], examples: int, steps: int, *, shrink: bool = True
) -> None:
    """Run a state machine class once with bounded, derandomized settings (no deadline, no example
    database): the settings the mutant tests, the coverage test and the benchmarks share. Raises
    what the machine raises (:class:`PropertyViolated`). ``shrink=False`` skips shrinking: for
    tests that only need to know *whether* something is found."""
    from hypothesis import HealthCheck, Phase, settings

    # Phase.explain reruns a failure many times to annotate it; the machines explain their failures
    # themselves (PropertyViolated), so it only costs time.
    phases = (Phase.explicit, Phase.generate, Phase.shrink) if shrink else (Phase.explicit, Phase.generate)
    machine.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=steps,
        phases=phases,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    machine.TestCase().runTest()


def reachable(model: ProtocolModel, on_step: StepHook | None = None) -> int:
    """Every state reachable from the initial state, breadth first, identified by
    :meth:`SystemState.key` (no symmetry, no checks); ``on_step(old, action, transition)`` sees every
    transition. Returns the number of distinct states. The plain reference that
    :mod:`spec.explore` is measured and tested against."""
    from collections import deque

    start = model.init_state()
    seen = {start.key(model.reorder)}
    queue = deque([start])
    while queue:
        s = queue.popleft()
        for a in model.actions(s):
            t = model.step(s, a)
            if on_step is not None:
                on_step(s, a, t)
            k = t.state.key(model.reorder)
            if k not in seen:
                seen.add(k)
                queue.append(t.state)
    return len(seen)
