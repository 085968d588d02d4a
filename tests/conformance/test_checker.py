"""The trace checker (``ucsim check``, issue 6): every check with a violating trace and a conforming twin
that differs from it in one line, unreadable input, reports, and traces written by the simulator and
by the model checker."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from spec.conformance import check_trace
from spec.explore import Explorer, ExploreSettings, explore_model, iter_story
from spec.properties import PROPERTIES_BY_NAME
from spec.rules import resolve
from spec.trace import TraceRecorder
from tests.conformance import tracekit as K

CURRENT = resolve("ucloud-current")


def names(report: Any) -> list[str]:
    return [v.prop.name for v in report.violations]


def twins(
    tmp_path: Path, bad: list[dict[str, Any]], good: list[dict[str, Any]], **kw: Any
) -> tuple[Any, Any]:
    """Check a violating trace and its conforming twin (which must differ in exactly one line)."""
    differing = [i for i, (a, b) in enumerate(zip(bad, good, strict=True)) if a != b]
    assert len(differing) == 1, differing
    return (
        check_trace(K.write(tmp_path / "bad.jsonl", bad), **kw),
        check_trace(K.write(tmp_path / "good.jsonl", good), **kw),
    )


# ------------------------------------------------------------------------------- one check at a time
def test_a_plain_life_conforms(tmp_path: Path) -> None:
    report = check_trace(K.write(tmp_path / "t.jsonl", K.life()))
    assert report.verdict == "conforms" and report.exit_code == 0 and report.skipped == []
    assert report.to_json()["jobs"] == {"1": {"verdict": "conforms", "state": "SUCCESS"}}


def test_canceling_is_a_violation_not_unreadable_input(tmp_path: Path) -> None:
    good = K.life()
    bad = [*good[:2], K.update("1", "CANCELING"), good[3]]
    b, g = twins(tmp_path, bad, [*good[:2], K.update("1", "RUNNING"), good[3]])
    assert names(b) == ["state-domain"] and b.violations[0].line == 4 and b.exit_code == 1
    assert g.verdict == "conforms"


def test_a_different_state_after_final_follows_the_variant(tmp_path: Path) -> None:
    life = K.life(final="FAILURE", cause="node-failure", exit_code=None)
    bad = [*life, K.update("1", "SUCCESS")]
    good = [*life, K.update("1", "FAILURE", message=life[3]["request"]["items"][0]["update"]["status"])]
    b, g = twins(tmp_path, bad, good)
    assert names(b) == ["terminal-finality"] and b.violations[0].line == 6
    assert g.verdict == "conforms"  # an exact duplicate of a delivered update: a retry
    assert check_trace(tmp_path / "bad.jsonl", CURRENT).verdict == "conforms"  # final-to-final allowed


def test_running_after_final_is_a_resurrection_unless_a_late_delivery(tmp_path: Path) -> None:
    life = K.life()
    # two minutes after SUCCESS (beyond the network's tolerance), and not a copy of an earlier update
    bad = [*life, K.update("1", "RUNNING", message="running again", time=200_000)]
    retry = {k: v for k, v in life[2].items() if k != "facts"}
    good = [*life, dict(retry, time=200_000)]  # the earlier RUNNING again: a retry
    b, g = twins(tmp_path, bad, good)
    assert names(b) == ["no-resurrection"]
    assert g.verdict == "conforms"
    soon = check_trace(
        K.write(tmp_path / "soon.jsonl", [*life, K.update("1", "RUNNING", message="x", time=81_000)])
    )
    assert soon.verdict == "conforms"  # sent before SUCCESS, delivered 1 s after it


def test_updates_for_jobs_not_given_or_of_another_provider(tmp_path: Path) -> None:
    life = K.life()
    b, g = twins(tmp_path, [*life, K.update("9", "RUNNING")], [*life, K.update("1", "SUCCESS")])
    assert names(b) == ["only-owning-provider"] and "never given" in b.violations[0].reason
    assert g.verdict == "conforms"
    b, g = twins(tmp_path, [*life[:2], K.update("1", "RUNNING", provider="slurm"), life[3]], life)
    assert names(b) == ["only-owning-provider"] and "runs at provider:k8s" in b.violations[0].reason
    assert b.violations[0].history[0].startswith("line 2: jobs.provider.create")


def test_running_before_the_create_was_accepted(tmp_path: Path) -> None:
    bad = [K.pcreate("1", status=400), K.update("1", "RUNNING")]
    b, g = twins(tmp_path, bad, [K.pcreate("1"), K.update("1", "RUNNING")])
    assert names(b) == ["running-after-accept"] and g.verdict == "conforms"
    assert g.jobs["1"].verdict == "open"


def test_expired_before_the_allocation(tmp_path: Path) -> None:
    def life(ran: int) -> list[dict[str, Any]]:
        return K.life(final="EXPIRED", cause="time-allocation", exit_code=None, ran=ran)

    b, g = twins(tmp_path, life(K.HOUR - 1000), life(K.HOUR))
    assert names(b) == ["expired-only-after-allocation"] and "facts.runningMs" in b.violations[0].reason
    assert g.verdict == "conforms"
    # without facts: the times Core observed, with the tolerance
    bare = [K.pcreate("1"), K.create("1"), K.update("1", "RUNNING", time=10_000)]
    early = check_trace(
        K.write(tmp_path / "e.jsonl", [*bare, K.update("1", "EXPIRED", time=10_000 + K.HOUR - 120_000)])
    )
    close = check_trace(
        K.write(tmp_path / "c.jsonl", [*bare, K.update("1", "EXPIRED", time=10_000 + K.HOUR - 30_000)])
    )
    assert names(early) == ["expired-only-after-allocation"] and close.verdict == "conforms"
    assert [s.prop.name for s in close.skipped] == ["outcome-matches-cause"]  # no facts.cause


def test_outcome_contradicting_the_cause(tmp_path: Path) -> None:
    b, g = twins(tmp_path, K.life(final="FAILURE", exit_code=1), K.life(final="SUCCESS", exit_code=1))
    assert names(b) == ["outcome-matches-cause"] and "nonzero-exit-failure: off" in b.violations[0].rule
    assert g.verdict == "conforms"
    assert check_trace(tmp_path / "bad.jsonl", CURRENT).verdict == "conforms"  # the k8s rule
    assert check_trace(tmp_path / "good.jsonl", CURRENT).verdict == "violations"


def test_usage_for_time_not_running(tmp_path: Path) -> None:
    b, g = twins(tmp_path, [*K.life(), K.usage("1", 1_000)], [*K.life(), K.usage("1", 1)])
    assert names(b) == ["charge-only-running"] and g.verdict == "conforms"


def test_core_accepting_an_invalid_request(tmp_path: Path) -> None:
    zero = K.SPECS["replicas=0"]
    # judged when Core forwards the request to the provider (it passed validation then)
    b, g = twins(tmp_path, [K.pcreate("1", zero), K.create("1")], [K.pcreate("1"), K.create("1")])
    assert names(b) == ["well-formed-spec"] and b.violations[0].line == 2 and g.verdict == "conforms"
    bad = [K.create("1", K.SPECS["no-allocation"], user="bob")]
    good = [K.create(None, K.SPECS["no-allocation"], user="bob", status=402)]
    b, g = twins(tmp_path, bad, good)
    assert names(b) == ["allocation-gate"] and g.verdict == "conforms"


def test_core_refusing_with_the_wrong_status(tmp_path: Path) -> None:
    b, g = twins(tmp_path, [K.create(None, status=400)], [K.create(None, K.SPECS["replicas=0"], status=400)])
    assert names(b) == ["submission-verdict"] and "a valid request" in b.violations[0].reason
    assert b.jobs == {} and g.verdict == "conforms"
    # the provider's refusal, paired with its jobs.provider.create, is not Core's validation
    refused = [K.pcreate("1", status=400), K.create(None, status=400)]
    assert check_trace(K.write(tmp_path / "p.jsonl", refused)).verdict == "conforms"


def test_a_create_in_either_order(tmp_path: Path) -> None:
    """DESIGN's order puts the user's jobs.create first and the jobs.provider.create it caused on the next
    line; the recorder writes them the other way round. Both conform; the pairing is strict."""
    design_refused = [K.create(None, status=400), K.pcreate("1", status=400)]
    report = check_trace(K.write(tmp_path / "d.jsonl", design_refused))
    assert report.verdict == "conforms", names(report)
    # ...but the next line must be the provider's refusal of that very request with that status
    b, g = twins(
        tmp_path,
        [K.create(None, status=400), K.pcreate("1", status=402)],
        design_refused,
    )
    assert names(b) == ["submission-verdict"] and b.violations[0].line == 2  # the jobs.create line
    assert g.verdict == "conforms"
    alone = check_trace(K.write(tmp_path / "a.jsonl", [K.create(None, status=400)]))
    assert names(alone) == ["submission-verdict"]  # held to the end of the trace, then judged
    # a 5xx pair in DESIGN order is consumed too: a later refusal no rule gives is still a violation
    later = [K.create(None, status=502), K.pcreate("1", status=502), K.create(None, status=418)]
    assert [(v.line, v.prop.name) for v in check_trace(K.write(tmp_path / "l.jsonl", later)).violations] == [
        (4, "submission-verdict")
    ]
    # refused creates leave no live record behind (memory follows the live jobs), in either order
    from spec.conformance import TraceChecker
    from spec.trace import TraceReader

    for order in (design_refused, [K.pcreate("1", status=400), K.create(None, status=400)]):
        with TraceReader(K.write(tmp_path / "o.jsonl", order)) as reader:
            checker = TraceChecker(reader.catalog)
            checker.feed_all(enumerate(reader, 2))
        assert checker.jobs == {} and list(checker.ended) == ["1"]
    # accepted first, then the provider's create: conforms; the provider having refused it does not
    b, g = twins(tmp_path, [K.create("1"), K.pcreate("1", status=400)], [K.create("1"), K.pcreate("1")])
    assert names(b) == ["provider-acceptance"] and g.verdict == "conforms"


def test_exclusive_resource_accepted_for_a_second_job(tmp_path: Path) -> None:
    web = K.SPECS["web+link"]
    first = [K.pcreate("1", web), K.create("1", web), K.pcreate("2", web)]
    b, g = twins(tmp_path, [*first, K.create("2", web)], [*first, K.create(None, web, status=403)])
    assert names(b) == ["exclusive-binding"] and "ingress:55" in b.violations[0].reason
    assert g.verdict == "conforms"
    assert check_trace(tmp_path / "bad.jsonl", CURRENT).verdict == "conforms"  # check-then-bind race
    released = [*first[:2], K.update("1", "SUCCESS"), first[2], K.create("2", web)]
    assert check_trace(K.write(tmp_path / "r.jsonl", released)).verdict == "conforms"


def test_core_applying_an_update_to_a_final_job(tmp_path: Path) -> None:
    life = K.life()
    late = K.update(
        "1", "RUNNING", facts={"coreState": "RUNNING", "cause": "exit", "exitCode": 0}, time=81_000
    )
    kept = K.update(
        "1", "RUNNING", facts={"coreState": "SUCCESS", "cause": "exit", "exitCode": 0}, time=81_000
    )
    b, g = twins(tmp_path, [*life, late], [*life, kept])
    assert names(b) == ["no-resurrection"] and b.violations[0].reason.startswith("Core moved")
    assert g.verdict == "conforms"


# ------------------------------------------------------------------------------- skipped checks
def test_checks_without_catalog_or_facts_are_skipped_and_listed(tmp_path: Path) -> None:
    lines = [K.pcreate("1"), K.create("1"), K.update("1", "RUNNING"), K.update("1", "SUCCESS")]
    report = check_trace(K.write(tmp_path / "t.jsonl", lines, catalog=False))
    skipped = {s.prop.name for s in report.skipped}
    assert {
        "submission-verdict",
        "allocation-gate",
        "charge-only-running",
        "outcome-matches-cause",
    } <= skipped
    assert report.verdict == "conforms" and report.exit_code == 0
    invalid = [K.create("1", K.SPECS["replicas=0"])]
    assert check_trace(K.write(tmp_path / "i.jsonl", invalid, catalog=False)).verdict == "conforms"


# ------------------------------------------------------------------------------- unreadable input
def _raw(tmp_path: Path, lines: list[bytes]) -> Path:
    path = tmp_path / "raw.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize(
    ("mangle", "line", "field"),
    [
        (lambda ls: [*ls[:2], b"\xff\xfe not utf-8", *ls[2:]], 3, None),
        (lambda ls: [*ls[:2], b'{"seq": 3,', *ls[2:]], 3, None),
        (lambda ls: [*ls[:2], b"[1, 2]", *ls[2:]], 3, None),
        (lambda ls: [*ls[:2], ls[2].replace(b'"actor"', b'"actr"')], 3, "actor"),
        (lambda ls: [*ls[:2], ls[2].replace(b'"seq":2', b'"seq":"2"')], 3, "seq"),
        (lambda ls: [*ls[:2], ls[2].replace(b'"seq":2', b'"seq":1')], 3, "seq"),
        (lambda ls: [*ls[:2], ls[2].replace(b'"time":2000', b'"time":500')], 3, "time"),
        (lambda ls: [*ls[:2], ls[0]], 3, "kind"),
        (lambda ls: [*ls[:2], ls[2].replace(b'"jobs.control.update"', b'"jobs.explode"')], 3, "call"),
    ],
    ids=["utf-8", "json", "not-object", "missing", "ill-typed", "seq", "time", "catalog", "call"],
)
def test_unreadable_input_names_line_and_field(
    tmp_path: Path, mangle: Any, line: int, field: str | None
) -> None:
    lines = [K._CATALOG, *K.encode([K.pcreate("1"), K.update("1", "RUNNING")])]
    report = check_trace(_raw(tmp_path, mangle(lines)))
    assert report.verdict == "unreadable" and report.exit_code == 2
    assert (report.error.line, report.error.field) == (line, field), report.error


def test_missing_file_and_violations_before_the_unreadable_line(tmp_path: Path) -> None:
    missing = check_trace(tmp_path / "nope.jsonl")
    assert missing.exit_code == 2 and "nope.jsonl" in missing.error.message and missing.skipped == []
    lines = [K._CATALOG, *K.encode([K.pcreate("1"), K.update("1", "CANCELING")]), b"oops"]
    report = check_trace(_raw(tmp_path, lines))
    assert names(report) == ["state-domain"] and report.exit_code == 2 and report.error.line == 4


# ------------------------------------------------------------------------------- reports and CLI
def test_json_shape_and_junit(tmp_path: Path) -> None:
    from ucsim.cli import main

    path = K.write(
        tmp_path / "t.jsonl",
        [*K.life(), K.update("1", "RUNNING", message="again", time=900_000), K.pcreate("2")],
    )
    junit = tmp_path / "junit.xml"
    result = CliRunner().invoke(main, ["check", str(path), "--json", "--junit", str(junit)])
    assert result.exit_code == 1, result.output
    doc = orjson.loads(result.output)
    assert list(doc) == ["verdict", "variant", "events", "skipped_checks", "jobs", "violations", "error"]
    assert doc["verdict"] == "violations" and doc["events"] == 6 and doc["error"] is None
    assert doc["jobs"] == {
        "1": {"verdict": "violates", "state": "SUCCESS"},
        "2": {"verdict": "open", "state": "IN_QUEUE"},
    }
    (v,) = doc["violations"]
    assert list(v) == ["line", "seq", "job", "property", "meaning", "source", "rule", "history"]
    assert (v["line"], v["seq"], v["job"], v["property"]) == (6, 5, "1", "no-resurrection")
    assert (
        v["source"] == PROPERTIES_BY_NAME["no-resurrection"].source
        and "final state SUCCESS arrived at line 5" in v["history"][0]
    )
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1" and suite.get("skipped") == "1"
    human = CliRunner().invoke(main, ["check", str(path), "--variant", "ucloud-current"])
    assert human.exit_code == 1 and "no-resurrection" in human.output and "line 6" in human.output
    assert CliRunner().invoke(main, ["check", str(path), "--rule", "nope=on"]).exit_code == 2
    ok = K.write(tmp_path / "ok.jsonl", K.life())
    assert CliRunner().invoke(main, ["check", str(ok)]).exit_code == 0
    bad = CliRunner().invoke(main, ["check", str(tmp_path / "missing.jsonl")])
    assert bad.exit_code == 2 and "unreadable" in bad.output


# ------------------------------------------------------------------------------- recorded traces
@pytest.mark.parametrize("variant", ["documented", "ucloud-current"])
@pytest.mark.parametrize("seed", [1, 8, 16])
def test_simulator_traces_pass_under_their_variant(tmp_path: Path, variant: str, seed: int) -> None:
    from simulator.engine import Engine
    from simulator.examples import stress_scenario

    path = tmp_path / "trace.jsonl.gz"
    contended = {"workload__mix__3__weight": 300} if seed == 16 else {}
    Engine(stress_scenario(jobs=150, seed=seed, variant=variant, **contended), trace=path).run()
    report = check_trace(path, resolve(variant))
    assert report.verdict == "conforms", report.violations[:1]
    assert report.events > 300 and all(v.verdict in ("conforms", "open") for v in report.jobs.values())


@pytest.mark.parametrize(
    ("mutant", "prop"),
    [
        ("exit-code-failure", "outcome-matches-cause"),
        ("legacy-canceling", "state-domain"),
        ("no-exclusivity-check", "exclusive-binding"),
        ("no-allocation-gate", "allocation-gate"),
        ("no-parameter-check", "parameter-validity"),
    ],
)
def test_simulator_traces_under_mutants_are_refused(tmp_path: Path, mutant: str, prop: str) -> None:
    from simulator.engine import Engine
    from simulator.examples import stress_scenario

    path = tmp_path / "trace.jsonl"
    Engine(stress_scenario(jobs=150, seed=5), config=resolve("documented", mutant=mutant), trace=path).run()
    assert prop in names(check_trace(path))


def _counterexample(tmp_path: Path, name: str, cfg: Any, **settings: Any) -> Path:
    model = explore_model(ExploreSettings(**settings), cfg)
    result = Explorer(model, stop_at=(name,), properties=[PROPERTIES_BY_NAME[name]], liveness=False).run()
    path = tmp_path / f"{name}.jsonl"
    with TraceRecorder(model.world, path) as recorder:
        recorder.write_catalog()
        for n, _, step in iter_story(result.violations[0]):
            recorder.record(step.transition, n * 1000)
    return path


@pytest.mark.parametrize(
    ("name", "mutant", "settings"),
    [
        ("exclusive-binding", None, {}),
        ("outcome-matches-cause", None, {"exclusive_resources": 0, "jobs": 1}),
        ("no-resurrection", "no-terminal-guard", {"exclusive_resources": 0, "jobs": 1}),
        ("expired-only-after-allocation", "expire-early", {"exclusive_resources": 0, "jobs": 1}),
        ("state-domain", "legacy-canceling", {"exclusive_resources": 0, "jobs": 1}),
        ("charge-only-running", "charge-in-queue", {"exclusive_resources": 0, "jobs": 1, "accounting": True}),
        (
            "only-owning-provider",
            "accept-foreign-provider",
            {"exclusive_resources": 0, "jobs": 1, "providers": 2},
        ),
    ],
)
def test_model_checker_counterexamples_are_refused(
    tmp_path: Path, name: str, mutant: str | None, settings: dict[str, Any]
) -> None:
    cfg = resolve("documented", mutant=mutant) if mutant else CURRENT
    path = _counterexample(tmp_path, name, cfg, **settings)
    report = check_trace(path)
    assert name in names(report), report.violations
    if mutant is None:  # a ucloud-current behaviour: accepted under that variant
        assert check_trace(path, CURRENT).verdict == "conforms"
