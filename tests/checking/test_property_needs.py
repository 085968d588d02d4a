"""``Property.needs`` never hides a violation: the model checker skips an action property on a step
only if the property cannot fail there.

Shown exhaustively: every transition of each mutant's reduced world (where the mutant's properties
do fail, tests/checking/test_mutants_caught.py) and of the ucloud-current worlds is checked against
every action property, and each property that fails on a transition must be among those the explorer
would have checked on it. The simulator's StepChecker filters by the same may_fail_on."""

from __future__ import annotations

import pytest

from spec.explore import explore_model
from spec.properties import PROPERTIES, may_fail_on, step_changed_jobs
from spec.rules import MUTANTS, resolve
from spec.testing import reachable
from tests.checking.test_mutants_caught import ONE, REDUCED

ACTION_PROPS = tuple(p for p in PROPERTIES if p.kind == "action")
# The mutants caught by an action property (the others fail invariants or liveness, which the
# explorer checks on every state regardless of needs), and ucloud-current's discrepancies.
CASES = [
    (m.name, REDUCED[m.name], resolve(mutant=m.name))
    for m in MUTANTS
    if m.hint in {p.name for p in ACTION_PROPS}
] + [("ucloud-current", ONE, resolve("ucloud-current"))]


@pytest.mark.parametrize(("name", "settings", "config"), CASES, ids=[c[0] for c in CASES])
def test_every_failing_action_property_is_checked(name: str, settings, config) -> None:  # type: ignore[no-untyped-def]
    model = explore_model(settings, config)
    failures: list[str] = []
    skipped: list[str] = []

    def on_step(s, a, t) -> None:  # type: ignore[no-untyped-def]
        checked = may_fail_on(ACTION_PROPS, step_changed_jobs(s, t), tuple(c.call for c in t.calls))
        for p in ACTION_PROPS:
            if p.action(model, s, a, t) is not None:
                failures.append(p.name)
                if p not in checked:
                    skipped.append(f"{p.name} fails on {a!r} but the explorer would skip it")

    reachable(model, on_step)
    assert not skipped, skipped[:3]
    assert failures, "no action property fails in this world: the case shows nothing"
