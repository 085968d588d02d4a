"""Teeth: every mutant of the spec is caught by both checkers, each naming the property the mutant's
registry entry says it breaks.

* the bounded model checker (:mod:`spec.explore`) on a reduced configuration chosen per mutant;
* the Hypothesis state machine (:func:`spec.testing.protocol_machine`) on the same world, with a
  bounded number of examples and no shrinking (detection is what is measured here; the suite
  shrinks when it runs for real).

Each check is restricted to the named property, so that the test shows *that* property has teeth
(with every property on, an earlier property may catch the same wrong rule first: ``charge-in-queue``
sends a usage report that ``charge-formula`` refuses before ``charge-only-running`` sees it charged).
A new mutant without an entry in ``REDUCED`` fails the test: add the configuration that exposes it.
"""

from __future__ import annotations

import time

import pytest

from spec.explore import Explorer, ExploreSettings, explore_model
from spec.properties import PROPERTIES
from spec.rules import MUTANTS, resolve
from spec.testing import PropertyViolated, protocol_machine, run_machine

S = ExploreSettings
ONE = S(jobs=1, restart=False, duplicates=0)
INVALID = (
    "batch",
    "replicas=0",
    "no-allocation",
    "refused-by-provider",
    "native-on-k8s",
    "wrong-parameter-type",
)

# The smallest configuration that exposes each mutant (found by searching candidate settings).
REDUCED: dict[str, ExploreSettings] = {
    "no-terminal-guard": ONE,
    "expire-early": ONE,
    "no-release-at-end": ONE,
    "no-exclusivity-check": S(jobs=2, restart=False, duplicates=0),
    "ignore-expected-state": S(jobs=1, restart=False, duplicates=0, guards=True),
    "ignore-expected-different-state": S(jobs=1, restart=False, duplicates=0, guards=True),
    "accept-foreign-provider": S(jobs=1, providers=2, restart=False, duplicates=0, requests=("batch",)),
    "no-backend-check": S(jobs=1, restart=False, duplicates=0, requests=INVALID),
    "keep-refused-job": S(jobs=1, restart=False, duplicates=0, requests=INVALID),
    "charge-in-queue": S(jobs=1, exclusive_resources=0, restart=False, duplicates=0, accounting=True),
    "bind-before-accept": ONE,
    "no-allocation-gate": S(jobs=1, restart=False, duplicates=0, requests=INVALID),
    "provider-ignores-terminate": ONE,
    "startedat-on-duplicate": S(jobs=1, restart=False, duplicates=0, guards=True),
    "exit-code-failure": ONE,
    "no-replica-charge": S(jobs=1, exclusive_resources=0, restart=False, duplicates=0, accounting=True),
    "session-while-queued": S(jobs=1, restart=False, duplicates=0, sessions=True),
    "no-replicas-check": S(jobs=1, restart=False, duplicates=0, requests=INVALID),
    "retry-reapplied": S(jobs=1, restart=False, duplicates=1, guards=True),
    "legacy-canceling": ONE,
    "no-parameter-check": S(jobs=1, restart=False, duplicates=0, requests=INVALID),
    "refusal-keeps-reservation": S(jobs=1, restart=False, duplicates=0, accounting=True),
    "no-extension-check": S(
        jobs=1, providers=2, restart=False, duplicates=0, extend=True, requests=("slurm",)
    ),
    "provider-ignores-expiry": ONE,
    "provider-ignores-lock": S(jobs=1, restart=False, duplicates=0, accounting=True),
    "provider-drops-final-report": ONE,
}
BY_NAME = {p.name: p for p in PROPERTIES}
# Schedules the Hypothesis machine needs to be short to hit within the CI budget.
STEPS = {"ignore-expected-state": 12}
# ... and more examples: its schedule is a narrow one, and which examples Hypothesis tries depends on
# PYTHONHASHSEED (make test pins it; other runs must not be lucky).
EXAMPLES = {"ignore-expected-state": 4000}


def test_every_mutant_has_a_reduced_configuration() -> None:
    assert set(REDUCED) == {m.name for m in MUTANTS}


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_the_model_checker_catches_the_mutant(mutant) -> None:  # type: ignore[no-untyped-def]
    prop = BY_NAME[mutant.hint]
    model = explore_model(REDUCED[mutant.name], resolve(mutant=mutant.name))
    started = time.perf_counter()
    r = Explorer(model, properties=[prop], stop_at=[prop.name], max_states=300_000).run()
    assert prop.name in r.violated(), f"{mutant.name}: not caught in {r.states} states"
    assert time.perf_counter() - started < 20
    # ... and the documented protocol on the same configuration does not violate that property.
    clean = Explorer(explore_model(REDUCED[mutant.name]), properties=[prop], max_states=300_000).run()
    assert prop.name not in clean.violated()


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_the_hypothesis_suite_catches_the_mutant(mutant) -> None:  # type: ignore[no-untyped-def]
    prop = BY_NAME[mutant.hint]
    reduced = REDUCED[mutant.name]
    machine = protocol_machine(
        reduced.world(), resolve(mutant=mutant.name), reduced.budgets(), properties=[prop]
    )
    with pytest.raises(PropertyViolated, match=f"property '{prop.name}'"):
        run_machine(machine, EXAMPLES.get(mutant.name, 1000), STEPS.get(mutant.name, 30), shrink=False)


@pytest.mark.parametrize(
    ("prop", "reduced"),
    [
        ("terminal-finality", ONE),  # final-to-final updates accepted (core2 job.go)
        ("exclusive-binding", S(jobs=2, restart=False, duplicates=0)),  # check-then-bind (§6.4)
    ],
)
def test_the_hypothesis_suite_rediscovers_ucloud_current(prop: str, reduced: ExploreSettings) -> None:
    """The discrepancies of reference §9.3 that the model checker finds (test_explore.py, with their
    shortest lengths), found by the Hypothesis machine too."""
    machine = protocol_machine(
        reduced.world(), resolve("ucloud-current"), reduced.budgets(), properties=[BY_NAME[prop]]
    )
    with pytest.raises(PropertyViolated, match=f"property '{prop}'"):
        run_machine(machine, 1000, 20, shrink=False)
