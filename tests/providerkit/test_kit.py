"""The provider test kit passes the spec's own provider and catches every provider that breaks a rule.

Each misbehaving provider is the reference provider under a spec mutant (the same faults the model
checker and the Hypothesis suite are shown to catch) or one of the kit's own misbehaviours. For each,
the kit must fail naming the property, and the trace it writes must be refused by the trace checker
for the same property: the kit and ``ucsim check`` judge by one set of rules.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from providerkit.adapter import Answer, ProviderAdapter
from providerkit.kit import KitSettings, run_kit
from providerkit.reference import MISBEHAVIOURS, ReferenceAdapter
from spec.conformance import check_trace
from spec.rules import resolve
from spec.world import default_world

WORLD = default_world(providers=1)
SETTINGS = KitSettings(examples=60, steps=20)

# provider at fault -> the property the kit must name
CAUGHT: dict[tuple[str, str], str] = {
    ("mutant", "exit-code-failure"): "outcome-matches-cause",
    ("mutant", "provider-ignores-terminate"): "outcome-matches-cause",
    ("mutant", "provider-ignores-expiry"): "expiry-eventually-final",
    ("mutant", "provider-drops-final-report"): "ended-eventually-reported",
    ("mutant", "legacy-canceling"): "state-domain",
    ("mutant", "expire-early"): "expired-only-after-allocation",
    ("misbehave", "running-after-success"): "no-resurrection",
    ("misbehave", "update-unknown-job"): "only-owning-provider",
}


def _adapter(kind: str | None = None, name: str | None = None) -> ReferenceAdapter:
    if kind == "mutant":
        return ReferenceAdapter(WORLD, "k8s", resolve(mutant=name))
    return ReferenceAdapter(WORLD, "k8s", misbehave=name)


def test_the_reference_provider_passes_and_is_exercised() -> None:
    report = run_kit(_adapter(), WORLD, resolve(), SETTINGS)
    assert report.passed, report.failure
    assert report.missing_hooks == []
    # The examples reached the provider's interesting transitions and used every kind of call.
    for change in [
        ("IN_QUEUE", "RUNNING"),
        ("RUNNING", "SUCCESS"),
        ("RUNNING", "FAILURE"),
        ("RUNNING", "EXPIRED"),
    ]:
        assert report.transitions[change] > 0, report.coverage_table()
    for call in ["jobs.provider.create", "jobs.provider.terminate", "jobs.provider.extend", "test/finish"]:
        assert report.calls[call] > 0, report.coverage_table()
    assert "RUNNING -> SUCCESS" in report.coverage_table().replace("    ", " ").replace("  ", " ")


@pytest.mark.parametrize(("kind", "name"), list(CAUGHT), ids=[f"{k}={n}" for k, n in CAUGHT])
def test_a_misbehaving_provider_is_caught_and_its_trace_refused(kind: str, name: str) -> None:
    report = run_kit(_adapter(kind, name), WORLD, resolve(), SETTINGS)
    expected = CAUGHT[(kind, name)]
    assert not report.passed, f"{kind} {name} was not caught"
    assert report.prop == expected, report.failure
    assert "schedule:" in report.failure and "  1. " in report.failure  # the shrunk story
    assert report.trace is not None
    # Judged with the kit's tolerance: its clock is virtual and its link does not reorder updates.
    checked = check_trace(io.BytesIO(report.trace), tolerance_ms=SETTINGS.tolerance_ms)
    if expected in ("cancelled-eventually-terminal", "expiry-eventually-final", "ended-eventually-reported"):
        # Liveness: nothing in the trace is wrong, something is missing from it; the checker says the
        # job is still open at the end rather than naming a violation.
        assert checked.verdict == "conforms"
        assert "open" in {v.verdict for v in checked.jobs.values()}
    else:
        assert checked.verdict == "violations"
        assert checked.violations[0].prop.name == expected


def test_the_kit_is_deterministic() -> None:
    a = run_kit(_adapter("mutant", "exit-code-failure"), WORLD, resolve(), SETTINGS)
    b = run_kit(_adapter("mutant", "exit-code-failure"), WORLD, resolve(), SETTINGS)
    assert a.failure == b.failure and a.trace == b.trace


def test_the_failing_trace_is_written(tmp_path: Any) -> None:
    out = tmp_path / "failure.jsonl"
    report = run_kit(_adapter("misbehave", "running-after-success"), WORLD, resolve(), SETTINGS, out)
    assert out.read_bytes() == report.trace
    assert check_trace(out, tolerance_ms=0).exit_code == 1


class _NoHooks(ProviderAdapter):
    """The reference provider with some test hooks missing (answering 404), as a real provider may."""

    def __init__(self, missing: set[str]) -> None:
        super().__init__("k8s")
        self.inner = ReferenceAdapter(WORLD, "k8s")
        self.inner.attach(self._received)
        self.missing = missing

    def call(self, name: str, request: Any) -> Answer:
        return self.inner.call(name, request)

    def hook(self, name: str, body: dict[str, Any]) -> Answer:
        if name in self.missing:
            return Answer(404, None, "no such hook")
        return self.inner.hook(name, body)


def test_missing_hooks_are_reported_not_failed() -> None:
    report = run_kit(_NoHooks({"finish", "fail"}), WORLD, resolve(), SETTINGS)
    assert report.passed, report.failure
    assert sorted(report.missing_hooks) == ["fail", "finish"]
    assert [u.split(":")[0] for u in report.unexercised()][:2] == ["finish", "fail"]
    assert any(u.startswith("wallet locks") for u in report.unexercised())  # never done, always said
    assert report.calls["test/finish"] == 0 and report.calls["test/fail"] == 0


def test_without_advance_jobs_never_start_and_the_kit_says_so() -> None:
    report = run_kit(_NoHooks({"advance"}), WORLD, resolve(), SETTINGS)
    assert report.passed, report.failure
    assert report.transitions[("IN_QUEUE", "RUNNING")] == 0
    assert any(u.startswith("advance:") for u in report.unexercised())


class _Refusing(_NoHooks):
    """A URL that is not the provider's: every create answered 404."""

    def call(self, name: str, request: Any) -> Answer:
        return Answer(404, None, "not found")


def test_a_provider_that_accepts_nothing_is_inconclusive_not_passed() -> None:
    report = run_kit(_Refusing(set()), WORLD, resolve(), KitSettings(examples=10, steps=5))
    assert report.failure is None and report.verdict == "inconclusive"
    assert "accepted no job" in (report.inconclusive() or "")
    assert run_kit(_adapter(), WORLD, resolve(), KitSettings(examples=10, steps=10)).verdict == "passed"


class _Flaky(_NoHooks):
    """Resurrects a job after SUCCESS only now and then: the same schedule does not fail twice alike."""

    def __init__(self) -> None:
        super().__init__(set())
        import random

        self.rng = random.Random(3)
        self.inner = ReferenceAdapter(WORLD, "k8s", misbehave="running-after-success")
        self.inner.attach(self._maybe)

    def _maybe(self, call: str, request: Any) -> Answer:
        item = request["items"][0]
        if item["update"].get("status") == "Your job is running again." and self.rng.random() < 0.5:
            return Answer(200)  # swallowed this time
        return self._received(call, request)


def test_a_nondeterministic_provider_is_reported_not_raised() -> None:
    report = run_kit(_Flaky(), WORLD, resolve(), SETTINGS)
    assert report.verdict == "failed" and report.prop == "no-resurrection", report.failure
    assert "not shrunk" in report.failure  # Hypothesis could not replay it: the first failure, as found


class _Hanging(_NoHooks):
    """Stops answering terminate (as an HTTP adapter raises on a timeout)."""

    def call(self, name: str, request: Any) -> Answer:
        if name == "jobs.provider.terminate":
            raise ConnectionError("timed out after 10 s")
        return super().call(name, request)


def test_a_provider_that_stops_answering_is_a_failure_with_the_story_so_far() -> None:
    report = run_kit(_Hanging(set()), WORLD, resolve(), SETTINGS)
    assert report.verdict == "failed" and report.prop == "provider-answers"
    assert "timed out" in report.failure and "terminates job" in report.failure


def test_every_misbehaviour_is_tested() -> None:
    assert {n for k, n in CAUGHT if k == "misbehave"} == set(MISBEHAVIOURS)


# -- over HTTP: the kit against real server processes ------------------------------------------------

# The reference server delivers its updates before it answers a call, so a short settle suffices.
HTTP_SETTINGS = KitSettings(examples=25, steps=15, settle_s=0.002)


def _http_kit(**server: Any) -> Any:
    from providerkit.http import HttpAdapter
    from providerkit.server import spawn

    adapter = HttpAdapter("http://127.0.0.1:9", "k8s", token="s3cret")
    try:
        with spawn(adapter.control_url, token="s3cret", **server) as provider:
            adapter.base_url = provider.url
            return run_kit(adapter, WORLD, resolve(), HTTP_SETTINGS)
    finally:
        adapter.close()


def test_the_kit_passes_the_honest_http_provider() -> None:
    report = _http_kit()
    assert report.passed, report.failure
    assert report.missing_hooks == []
    assert report.transitions[("IN_QUEUE", "RUNNING")] > 0
    assert report.transitions[("RUNNING", "SUCCESS")] + report.transitions[("IN_QUEUE", "SUCCESS")] > 0


def test_the_kit_catches_the_misbehaving_http_provider() -> None:
    report = _http_kit(misbehave="running-after-success")
    assert not report.passed
    assert report.prop == "no-resurrection", report.failure
    assert check_trace(io.BytesIO(report.trace), tolerance_ms=0).violations[0].prop.name == "no-resurrection"


def test_the_proxy_trace_of_a_kit_run_passes_the_checker(tmp_path: Any) -> None:
    """kit -> ucsim record -> provider, and the provider's updates -> ucsim record -> kit: the proxy's
    trace of a whole kit run conforms, and holds the provider's side of what the kit saw."""
    from providerkit.http import HttpAdapter
    from providerkit.proxy import RecordingProxy
    from providerkit.server import serve
    from spec.trace import read_trace

    out = tmp_path / "kit-run.jsonl"
    with HttpAdapter("http://127.0.0.1:9", "k8s") as adapter:
        proxy = RecordingProxy(
            out, upstream="http://127.0.0.1:9", core=adapter.control_url, provider_id="k8s"
        )
        try:
            with serve(WORLD, "k8s", core_url=proxy.url) as server:
                proxy.upstream = server.url
                adapter.base_url = proxy.url
                report = run_kit(
                    adapter, WORLD, resolve(), KitSettings(examples=15, steps=12, settle_s=0.002)
                )
        finally:
            proxy.close()
    assert report.passed, report.failure
    lines = list(read_trace(out))
    assert {line.call for line in lines} >= {"jobs.provider.create", "jobs.control.update"}
    assert sum(line.call == "jobs.provider.create" for line in lines) == report.calls["jobs.provider.create"]
    checked = check_trace(out)
    assert checked.verdict == "conforms", [str(v.reason) for v in checked.violations]
    assert "SUCCESS" in {v.state for v in checked.jobs.values()}


@pytest.mark.parametrize(("variant", "pushed"), [("documented", []), ("ucloud-current", ["SUCCESS"])])
def test_terminating_an_ended_job_follows_spec_provider(variant: str, pushed: list[str]) -> None:
    """Under terminate-final-forwarded (ucloud-current) the provider pushes SUCCESS again for a job that
    already ended, as spec/system.py's provider does (both read spec.provider.terminate_ended)."""
    from tests.providerkit.httpkit import create

    adapter = ReferenceAdapter(WORLD, "k8s", resolve(variant))
    adapter.attach(lambda call, request: Answer(200))
    assert adapter.call("jobs.provider.create", create(7)).ok
    adapter.hook("advance", {"ms": 1000})
    adapter.hook("finish", {"id": "7", "exitCode": 0})
    adapter.control_calls()
    assert adapter.call("jobs.provider.terminate", {"items": [create(7)["items"][0]]}).ok
    after = [i["update"].get("state") for c in adapter.control_calls() for i in c.request["items"]]
    assert after == pushed
