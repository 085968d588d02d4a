"""The properties the trace checker judges, each a :class:`spec.properties.Property`.

The checker reuses the spec's named properties (:data:`spec.properties.PROPERTIES_BY_NAME`) so that a
violation found in a trace carries the same name, meaning and UCloud source as one found by the model
checker or the simulator. Two judgements of the checker have no property in the spec yet, because the
spec's state never lets them happen (Core's validation *is* the spec, and the spec's providers only
report jobs they run); they are defined here, marked as the checker's own, until the spec adopts them:

* ``submission-verdict`` - Core accepts a request exactly when it passes §3.5 and answers a refusal
  with the status of the first rule that fails;
* ``running-after-accept`` - a provider reports RUNNING only for a job whose create it accepted.

>>> CHECKED["exclusive-binding"].source.startswith("S20")
True
"""

from __future__ import annotations

from spec.properties import PROPERTIES_BY_NAME, Property

__all__ = ["CHECKED", "CHECKER_ONLY", "prop"]

CHECKER_ONLY: tuple[Property, ...] = (
    Property(
        "submission-verdict",
        "action",
        "Core accepts a job request exactly when it passes every submission rule, and refuses it with "
        "the status of the first rule that fails.",
        "reference §3.5, §8.3; core2 job.go: jobsValidateForSubmission, jobValidateValue, "
        "resources_allocations.go: ResourceValidateAllocation (trace checker's own property)",
    ),
    Property(
        "running-after-accept",
        "action",
        "A provider reports RUNNING only for a job whose jobs.provider.create it accepted.",
        "reference §5.6 (create, then updates); core2 job.go: jobCreateThroughProvider "
        "(trace checker's own property)",
    ),
)

_NAMES = (
    "state-domain",
    "no-resurrection",
    "terminal-finality",
    "only-owning-provider",
    "expired-only-after-allocation",
    "outcome-matches-cause",
    "well-formed-spec",
    "feature-gating",
    "parameter-validity",
    "allocation-gate",
    "provider-acceptance",
    "exclusive-binding",
    "charge-only-running",
)

CHECKED: dict[str, Property] = {name: PROPERTIES_BY_NAME[name] for name in _NAMES}
"""Every property the trace checker may report, by name (the spec's, then the checker's own)."""
CHECKED.update((p.name, p) for p in CHECKER_ONLY)


def prop(name: str) -> Property:
    """The property called ``name`` (``KeyError`` if the checker does not judge it)."""
    return CHECKED[name]
