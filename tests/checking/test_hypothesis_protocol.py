"""The protocol under Hypothesis and seeded random walks: green under `documented`, and with teeth.

Every mutant must be caught by the property its registry entry names; ``ucloud-current`` must show
discrepancies of reference §9.3 that the spec models.
"""

from __future__ import annotations

import pytest

from spec.rules import MUTANTS, resolve
from spec.state import Budgets
from spec.system import ProtocolModel
from spec.testing import protocol_machine, random_walks
from spec.world import default_world

BUDGETS = Budgets(submissions=3, duplicates=1, crashes=1, core_restarts=1, locks=1)

# The full Hypothesis state machine over the default world: every invariant and action property after
# every step, the liveness obligations after draining. Must hold under the documented protocol.
TestDocumented = protocol_machine(default_world(), resolve("documented"), BUDGETS).TestCase


def _walk(variant: str = "documented", mutant: str | None = None, **world: object) -> dict:
    model = ProtocolModel(default_world(**world), resolve(variant, mutant=mutant), BUDGETS)  # type: ignore[arg-type]
    return random_walks(model, episodes=300, depth=40, seed=1)


def test_documented_random_walks_find_nothing():
    assert _walk() == {}


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_every_mutant_is_caught_by_its_property(mutant):
    found = _walk(mutant=mutant.name)
    assert mutant.hint in found, f"mutant {mutant.name} not caught by {mutant.hint}; found {sorted(found)}"


def test_ucloud_current_rediscovers_documented_discrepancies():
    found = _walk("ucloud-current") | _walk("ucloud-current", providers=1, requests=["batch", "web+link"])
    # final -> final (§9.3 items 1, 14), check-then-bind (item 7), non-zero exit as FAILURE (#5597),
    # seconds dropped on extension (item 3)
    for name in ("terminal-finality", "exclusive-binding", "outcome-matches-cause", "extension-exact"):
        assert name in found, f"{name} not rediscovered; found {sorted(found)}"
