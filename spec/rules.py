"""Rule switches, variants and mutants: the one registry of every way the protocol may be bent.

UCloud's current code and its documentation disagree in places (reference ``ucloud-jobs.md`` §9.3).
Each such place is a **rule**: a named boolean switch with its meaning and its UCloud source. A
**variant** is a named set of switch values: ``documented`` (the seed's and docs' protocol, the
default) and ``ucloud-current`` (core2 plus the Kubernetes provider for containers).

A **mutant** is a deliberately wrong version of one rule, used to prove that the checkers have teeth.
Mutants live in the same registry and are selected by name in every driver (``--mutant NAME``). A
property never looks at which mutant is active: it must notice the damage on its own.

The resolved choice of variant, switches and mutant is a :class:`Config`. The spec's code reads
plain attributes of it (``cfg.final_to_final``), which keeps the hot path cheap.

>>> cfg = resolve("ucloud-current", rules={"check-then-bind": False})
>>> cfg.final_to_final, cfg.check_then_bind
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Rule:
    """One switch of the protocol where UCloud's code and its documentation differ."""

    name: str
    meaning: str
    source: str
    documented: bool
    ucloud_current: bool

    @property
    def attribute(self) -> str:
        """The :class:`Config` attribute that holds this switch (``check-then-bind`` -> ``check_then_bind``)."""
        return self.name.replace("-", "_")


@dataclass(frozen=True, slots=True)
class Mutant:
    """A deliberately wrong version of a single rule. ``hint`` names the property that should catch it."""

    name: str
    meaning: str
    hint: str

    @property
    def attribute(self) -> str:
        return "m_" + self.name.replace("-", "_")


RULES: tuple[Rule, ...] = (
    Rule(
        "final-to-final",
        "Core accepts an update that moves a job from one final state to another, and state-less updates "
        "after a final state (it only refuses final -> non-final).",
        "core2 job.go: JobsControlAddUpdate.Handler; reference §2.4, §9.3 item 1",
        documented=False,
        ucloud_current=True,
    ),
    Rule(
        "check-then-bind",
        "Core checks that an exclusive resource (public link, public IP) is free when it validates a "
        "request, but binds it only after the provider accepted the job, without reserving it in between: "
        "two concurrent creates can both pass. Off: the check reserves the resource.",
        "core2 job.go: jobValidateValue, JobCreate -> jobBindResource; ingress.go: IngressBind; reference §6.4",
        documented=False,
        ucloud_current=True,
    ),
    Rule(
        "extension-drops-seconds",
        "When Core applies newTimeAllocation it converts milliseconds with SimpleDurationFromMillis, which "
        "drops the seconds: the allocation is truncated to whole minutes.",
        "orchestrators/applications.go: SimpleDurationFromMillis; reference §7.6, §9.3 item 3",
        documented=False,
        ucloud_current=True,
    ),
    Rule(
        "suspend-feature-check",
        "Core refuses suspend/unsuspend (400) unless the backend declares virtualMachine.suspension.",
        "legacy JobResourceService.kt (checked); core2 job.go does not; reference §5.2, §9.3 item 5",
        documented=True,
        ucloud_current=False,
    ),
    Rule(
        "container-suspend-noop",
        "The provider answers suspend/unsuspend of a container job with success and does nothing.",
        "im2 k8s/compute.go: suspend/unsuspend; reference §5.6, §9.3 item 5",
        documented=False,
        ucloud_current=True,
    ),
    Rule(
        "nonzero-exit-failure",
        "The provider reports a non-zero exit code as FAILURE (the documented protocol: SUCCESS).",
        "im2 k8s/containers/monitor.go: terminationState (commit c57c2911f2, #5597); reference §2.2",
        documented=False,
        ucloud_current=True,
    ),
    Rule(
        "terminate-final-forwarded",
        "Core forwards jobs.terminate for a job that is already final, and the provider then pushes SUCCESS "
        "for it (issue #762). Off: Core answers terminate of a final job without forwarding it.",
        "core2 job.go: jobs.terminate (no state check); k8s containers/00_module.go: terminate; §9.3 item 14",
        documented=False,
        ucloud_current=True,
    ),
    Rule(
        "unknown-state-wall-clock",
        "A job whose workload vanished (its provider cannot see it on a monitoring pass, e.g. Slurm "
        "purged its record while the provider was down) is given a final state by the wall clock: "
        "EXPIRED if now > expiresAt (latest startedAt + allocation), else SUCCESS, whatever it really "
        "ran. Off: a vanished workload ends SUCCESS (DESIGN trace format, cause `vanished`).",
        "im2 controller/job_database.go: (*JobUpdateBatch).End, jobUnknownStateTerminationState; "
        "reference §7.2, §7.4, §7.5",
        documented=False,
        ucloud_current=True,
    ),
    Rule(
        "retries-appended",
        "Core appends a redelivered (retried) update to the job's log again instead of recognising it as a "
        "retry of one it already handled.",
        "core2 job.go: JobsControlAddUpdate.Handler (no idempotency key); reference §2.4",
        documented=False,
        ucloud_current=True,
    ),
)

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "no-terminal-guard",
        "Core applies a non-final state to a job in a final state (resurrection).",
        "no-resurrection",
    ),
    Mutant(
        "expire-early",
        "The provider expires a job before its running time reached the allocation "
        "(it counts the time spent in the queue).",
        "expired-only-after-allocation",
    ),
    Mutant(
        "no-release-at-end",
        "Core does not release bound resources when a job reaches a final state.",
        "bound-holder-live",
    ),
    Mutant(
        "no-exclusivity-check",
        "Core accepts a public link or IP that is bound to another job.",
        "exclusive-binding",
    ),
    Mutant("ignore-expected-state", "Core ignores an update's expectedState.", "expected-state"),
    Mutant(
        "ignore-expected-different-state",
        "Core ignores an update's expectedDifferentState.",
        "expected-different-state",
    ),
    Mutant(
        "accept-foreign-provider",
        "Core applies an update sent by a provider that does not own the job.",
        "only-owning-provider",
    ),
    Mutant(
        "no-backend-check",
        "Core accepts a job whose tool backend its product's provider does not enable.",
        "feature-gating",
    ),
    Mutant(
        "keep-refused-job", "Core keeps a job after its provider refused to create it.", "provider-acceptance"
    ),
    Mutant(
        "charge-in-queue",
        "The provider charges for the time a job waits in the queue.",
        "charge-only-running",
    ),
    Mutant(
        "bind-before-accept",
        "Core binds a job's resources before the provider accepted the job.",
        "bind-after-accept",
    ),
    Mutant(
        "no-allocation-gate",
        "Core accepts a job for a workspace without an allocation (no 402).",
        "allocation-gate",
    ),
    Mutant(
        "provider-ignores-terminate",
        "The provider acknowledges terminate but leaves the job running.",
        "cancelled-eventually-terminal",
    ),
    Mutant(
        "startedat-on-duplicate",
        "Core moves startedAt on a duplicate RUNNING update.",
        "started-at-semantics",
    ),
    Mutant(
        "exit-code-failure",
        "The provider reports a non-zero exit code as FAILURE while the rule says SUCCESS.",
        "outcome-matches-cause",
    ),
    Mutant(
        "no-replica-charge", "The provider charges one replica whatever the replica count.", "charge-formula"
    ),
    Mutant(
        "session-while-queued",
        "Core opens interactive sessions and log streams for a job that is not RUNNING.",
        "sessions-only-while-running",
    ),
    Mutant("no-replicas-check", "Core accepts a job with replicas <= 0.", "well-formed-spec"),
    Mutant(
        "retry-reapplied",
        "Core applies a retried update as a new one (it forgets it handled it).",
        "retry-idempotent",
    ),
    Mutant(
        "legacy-canceling",
        "The provider reports the legacy transient CANCELING state before a cancelled job's final state.",
        "state-domain",
    ),
    Mutant(
        "no-parameter-check",
        "Core accepts a parameter value whose type does not match its parameter's type.",
        "parameter-validity",
    ),
    Mutant(
        "refusal-keeps-reservation",
        "Core deletes a job whose create failed but keeps its exclusive resources reserved.",
        "refused-creates-nothing",
    ),
    Mutant(
        "no-extension-check",
        "Core forwards jobs.extend although the backend does not declare timeExtension.",
        "feature-gated-calls",
    ),
    Mutant(
        "provider-ignores-expiry",
        "The provider lets a job run on after its RUNNING time reached the allocation.",
        "expiry-eventually-final",
    ),
    Mutant(
        "provider-ignores-lock",
        "The provider never stops the jobs of a locked wallet.",
        "locked-eventually-stopped",
    ),
    Mutant(
        "provider-drops-final-report",
        "The provider records a job's final state locally but never sends it to Core.",
        "ended-eventually-reported",
    ),
)

RULES_BY_NAME: dict[str, Rule] = {r.name: r for r in RULES}
MUTANTS_BY_NAME: dict[str, Mutant] = {m.name: m for m in MUTANTS}

VARIANTS: dict[str, str] = {
    "documented": "The protocol of the seed and UCloud's developer documentation (the default).",
    "ucloud-current": "UCloud/Core as in core2 plus the Kubernetes provider (UCloud/IM) for containers.",
}


class UnknownNameError(ValueError):
    """A variant, rule or mutant name that is not in the registry; the message lists the known ones."""


def variant_switches(variant: str) -> dict[str, bool]:
    """The value of every rule under a named variant."""
    if variant not in VARIANTS:
        raise UnknownNameError(f"unknown variant {variant!r}; known variants: {', '.join(VARIANTS)}")
    current = variant == "ucloud-current"
    return {r.name: (r.ucloud_current if current else r.documented) for r in RULES}


@dataclass(frozen=True, eq=False)
class Config:
    """A resolved choice: variant, every rule switch, and at most one mutant.

    Attributes mirror rule names (``final_to_final``) and mutant names (``m_expire_early``) so the
    spec reads them as plain booleans.
    """

    variant: str = "documented"
    switches: Mapping[str, bool] = field(default_factory=lambda: variant_switches("documented"))
    mutant: str | None = None

    def __post_init__(self) -> None:
        for rule in RULES:
            object.__setattr__(self, rule.attribute, bool(self.switches[rule.name]))
        for m in MUTANTS:
            object.__setattr__(self, m.attribute, m.name == self.mutant)
        object.__setattr__(self, "key", (self.variant, tuple(sorted(self.switches.items())), self.mutant))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __getattr__(self, name: str) -> bool:  # only reached for names not set in __post_init__
        raise AttributeError(f"Config has no switch {name!r}")

    @property
    def overrides(self) -> dict[str, bool]:
        """The switches that differ from the variant's own values."""
        base = variant_switches(self.variant)
        return {k: v for k, v in self.switches.items() if base[k] != v}

    def describe(self) -> str:
        """A one-line description: ``documented +check-then-bind mutant=expire-early``."""
        parts = [self.variant]
        parts += [("+" if v else "-") + k for k, v in sorted(self.overrides.items())]
        if self.mutant:
            parts.append(f"mutant={self.mutant}")
        return " ".join(parts)


def resolve(
    variant: str = "documented",
    rules: Mapping[str, bool] | Iterable[str] | None = None,
    mutant: str | None = None,
) -> Config:
    """Resolve a variant, rule overrides and a mutant into a :class:`Config`.

    ``rules`` is a mapping ``{name: bool}`` or an iterable of ``NAME=on|off`` strings (as given on
    the command line). Unknown names raise :class:`UnknownNameError` listing the known ones.
    """
    switches = variant_switches(variant)
    for name, value in _parse_rules(rules).items():
        if name not in RULES_BY_NAME:
            raise UnknownNameError(f"unknown rule {name!r}; known rules: {', '.join(RULES_BY_NAME)}")
        switches[name] = value
    if mutant is not None and mutant not in MUTANTS_BY_NAME:
        raise UnknownNameError(f"unknown mutant {mutant!r}; known mutants: {', '.join(MUTANTS_BY_NAME)}")
    return Config(variant=variant, switches=switches, mutant=mutant)


_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0"}


def _parse_rules(rules: Mapping[str, bool] | Iterable[str] | None) -> dict[str, bool]:
    if rules is None:
        return {}
    if isinstance(rules, Mapping):
        return {str(k): bool(v) for k, v in rules.items()}
    parsed: dict[str, bool] = {}
    for item in rules:
        name, sep, value = item.partition("=")
        if not sep or value.lower() not in _TRUE | _FALSE:
            raise UnknownNameError(f"rule setting {item!r} must look like NAME=on or NAME=off")
        parsed[name.strip()] = value.lower() in _TRUE
    return parsed


DEFAULT = resolve()
