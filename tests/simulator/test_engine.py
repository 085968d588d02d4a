"""The SimPy engine (``simulator.engine``): conservation, determinism, faults, variants, mutants, outputs.

Every run here checks every property on every step. Under ``documented`` a correct engine on a
correct spec must show no violation whatever goes wrong (faults are not protocol violations); under
``ucloud-current`` or a mutant the same runs must show the violations the protocol predicts.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from simulator.engine import Engine
from simulator.examples import stress_scenario
from simulator.workload import Arrival
from spec import actions as A
from spec.rules import resolve
from spec.state import FINAL

ROOT = Path(__file__).resolve().parents[2]

PERFECT_NETWORK: dict[str, Any] = {
    "network__core_to_provider": {"latency_ms": 5},
    "network__provider_to_core": {"latency_ms": 5},
    "network__partitions": [],
}
NO_FAULTS: dict[str, Any] = {
    "faults__provider_crash": {},
    "faults__node_failure": {},
    "faults__core_restart": {},
}
# Short jobs whose RUNNING update is often lost and retried only after they ended: a late,
# non-final update reaches Core after the final one (Core must drop it).
LATE_UPDATES: dict[str, Any] = {
    "workload__runtime_s": {"kind": "exponential", "mean": 30},
    "network__provider_to_core__loss": 0.3,
    "providers__0__behaviour__update_retry_s": 60,
    "providers__1__behaviour__update_retry_s": 60,
}
# Most requests want the one public link and creates travel slowly (see the projection test).
CONTENDED: dict[str, Any] = {
    "workload__mix__3__weight": 300,
    "network__core_to_provider__latency_ms": {"kind": "uniform", "low": 1000, "high": 5000},
}


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------- conservation
def test_every_request_ends_refused_or_in_exactly_one_final_state(tmp_path: Path) -> None:
    engine = Engine(stress_scenario(jobs=300, seed=11))
    finals: Counter[int] = Counter()

    def hook(action: A.Action, now: int, old: Any, t: Any) -> None:
        for jid in t.touched:
            before, after = old.jobs.get(jid), t.state.jobs.get(jid)
            if after is not None and after.state in FINAL and (before is None or before.state not in FINAL):
                finals[jid] += 1
        for ps in engine.providers.values():  # capacity is never exceeded, node by node
            ps.cluster.check()

    engine.on_step = hook
    result = engine.run()
    m = result.metrics
    assert result.stopped == "drained" and m["violations"]["total"] == 0
    assert m["jobs_live_at_end"] == 0
    assert m["jobs_submitted"] == 300
    assert m["jobs_accepted"] + sum(m["refused_by_reason"].values()) == 300
    assert sum(m["jobs_by_state"].values()) == m["jobs_accepted"]
    assert set(m["jobs_by_state"]) <= FINAL
    result.write(tmp_path, plots=False)
    rows = read_rows(tmp_path / "jobs.csv")
    assert len(rows) == m["jobs_accepted"] == len({r["job_id"] for r in rows})
    assert all(finals[int(r["job_id"])] == 1 for r in rows)
    assert max(finals.values()) == 1
    for ps in engine.providers.values():  # everything was released and nothing waits
        assert ps.cluster.busy_cores == 0 and len(ps.policy) == 0
    assert not engine.tables.bindings and not engine.tables.reserved


# ---------------------------------------------------------------------------------------- determinism
_RUN = """
import sys
from simulator.engine import Engine
from simulator.examples import stress_scenario
out = sys.argv[1]
Engine(stress_scenario(jobs=150, seed=3), trace=out + "/trace.jsonl.gz").run().write(out, plots=False)
"""


def test_same_seed_same_bytes_across_processes(tmp_path: Path) -> None:
    outs = []
    for hashseed in ("0", "4242"):
        out = tmp_path / hashseed
        out.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        subprocess.run([sys.executable, "-c", _RUN, str(out)], cwd=ROOT, env=env, check=True, timeout=120)
        outs.append(out)
    a, b = outs
    assert (a / "jobs.csv").read_bytes() == (b / "jobs.csv").read_bytes()
    assert (a / "trace.jsonl.gz").read_bytes() == (b / "trace.jsonl.gz").read_bytes()
    trace = gzip.decompress((a / "trace.jsonl.gz").read_bytes()).splitlines()
    assert orjson.loads(trace[0])["kind"] == "catalog" and len(trace) > 500
    ma, mb = (orjson.loads((o / "metrics.json").read_bytes()) for o in outs)
    ma["run"].pop("wall_s"), mb["run"].pop("wall_s")
    assert ma == mb


class _Recording(Engine):
    """Notes every request it submits (the workload's stream) before submitting it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests: list[tuple[Any, ...]] = []
        self.submits: list[tuple[int, int]] = []
        self.on_step = self._note

    def _submit(self, a: Arrival, submit_ms: int) -> None:
        self.requests.append((a.seq, a.time_s, a.template, a.runtime_s, a.exit_code, a.cancel_after_s))
        super()._submit(a, submit_ms)

    def _note(self, action: A.Action, now: int, old: Any, t: Any) -> None:
        if isinstance(action, A.Submit):
            self.submits.append((now, action.template))


def test_faults_do_not_move_the_workload() -> None:
    """Common random numbers: raising the fault rate from 0 to 0.2 changes no submitted request."""
    calm = _Recording(stress_scenario(jobs=200, seed=8, **PERFECT_NETWORK, **NO_FAULTS))
    stormy = _Recording(
        stress_scenario(
            jobs=200,
            seed=8,
            network__provider_to_core__loss=0.2,
            network__core_to_provider__loss=0.2,
            network__provider_to_core__duplicate=0.2,
            faults__provider_crash={"mtbf_s": 3_000},
            faults__node_failure={"mtbf_s": 5_000, "repair_s": 600},
            faults__core_restart={},
        )
    )
    calm.run()
    stormy.run()
    assert sum(stormy.metrics.faults.values()) > 0
    assert calm.requests == stormy.requests and len(calm.requests) == 200
    assert calm.submits == stormy.submits


# ---------------------------------------------------------------------------------------- faults
_ONLY: dict[str, dict[str, Any]] = {
    "provider-crash": {**PERFECT_NETWORK, **NO_FAULTS, "faults__provider_crash": {"mtbf_s": 1500}},
    "node-failure": {
        **PERFECT_NETWORK,
        **NO_FAULTS,
        "faults__node_failure": {"mtbf_s": 5000, "repair_s": 900},
    },
    "core-restart": {**PERFECT_NETWORK, **NO_FAULTS, "faults__core_restart": {"times_s": [600, 1800, 3000]}},
    "network": {**NO_FAULTS},
    "late-updates": {**NO_FAULTS, **LATE_UPDATES},
}


@pytest.mark.parametrize("fault", sorted(_ONLY))
def test_each_fault_breaks_no_property_under_documented(fault: str) -> None:
    engine = Engine(stress_scenario(jobs=250, seed=21, **_ONLY[fault]))
    kinds: Counter[str] = Counter()
    engine.on_step = lambda action, now, old, t: kinds.update([type(action).__name__])
    result = engine.run()
    if fault in ("network", "late-updates"):
        assert kinds["Lose"] > 0 and kinds["Duplicate"] > 0
    else:
        assert engine.metrics.faults[fault] > 0
    assert result.violations == [] and result.violation_count == 0, result.violations[:1]
    assert result.stopped == "drained" and result.metrics["jobs_live_at_end"] == 0


# ---------------------------------------------------------------------------------------- variants, mutants
def test_ucloud_current_shows_check_then_bind_under_concurrency() -> None:
    documented = Engine(stress_scenario(jobs=250, seed=4, **CONTENDED))
    assert documented.run().violation_count == 0
    current = Engine(stress_scenario(jobs=250, seed=4, variant="ucloud-current", **CONTENDED))
    result = current.run()
    assert current.violations_by_property.get("exclusive-binding", 0) > 0
    first = next(v for v in result.violations if v["property"] == "exclusive-binding")
    assert "ingress:55 is held by live jobs" in first["reason"]
    assert any("jobs.create -> 200" in line for line in first["trace"])  # the story of the job


def test_a_mutant_is_caught_online_and_fail_fast_stops_there() -> None:
    scenario = stress_scenario(jobs=200, seed=6, **LATE_UPDATES)
    assert Engine(scenario).run().violation_count == 0  # documented Core drops the late updates
    engine = Engine(scenario, config=resolve("documented", mutant="no-terminal-guard"))
    result = engine.run()
    assert engine.violations_by_property["no-resurrection"] > 0
    fast = Engine(scenario, config=resolve("documented", mutant="no-terminal-guard"), fail_fast=True)
    stopped = fast.run()
    assert stopped.stopped == "fail-fast"
    assert 0 < stopped.violation_count <= 3 < result.violation_count
    assert stopped.metrics["run"]["simulated_s"] < result.metrics["run"]["simulated_s"]


@pytest.mark.parametrize(
    ("mutant", "caught_by"),
    [
        ("exit-code-failure", "outcome-matches-cause"),
        ("no-exclusivity-check", "exclusive-binding"),
        ("bind-before-accept", "bind-after-accept"),
        ("no-replica-charge", "charge-formula"),
        ("provider-drops-final-report", "ended-eventually-reported"),
    ],
)
def test_mutants_with_their_hint(mutant: str, caught_by: str) -> None:
    engine = Engine(stress_scenario(jobs=250, seed=5), config=resolve("documented", mutant=mutant))
    engine.run()
    assert engine.violations_by_property.get(caught_by, 0) > 0, engine.violations_by_property


def test_a_run_without_drain_stops_at_until_and_judges_no_liveness() -> None:
    engine = Engine(stress_scenario(jobs=10_000, seed=2, run={"until_s": 1500, "drain": False}))
    result = engine.run()
    assert result.stopped == "until" and engine.now <= 1_500_000
    assert result.metrics["jobs_live_at_end"] > 0  # their rows show where they were
    assert all(v["kind"] != "liveness" for v in result.violations)


# ---------------------------------------------------------------------------------------- outputs
_TIME = re.compile(r"^(0|[1-9]\d*)(\.\d{0,2}[1-9])?$")  # integers when whole, at most 3 decimals


def test_jobs_csv_and_metrics_format(tmp_path: Path) -> None:
    result = Engine(stress_scenario(jobs=250, seed=12)).run()
    assert result.violation_count == 0
    result.write(tmp_path)
    text = (tmp_path / "jobs.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "job_id,user,provider,product,replicas,submit,start,end,state,exit_code"
    rows = read_rows(tmp_path / "jobs.csv")
    keys = [(float(r["submit"]), int(r["job_id"])) for r in rows]
    assert keys == sorted(keys)
    for r in rows:
        for col in ("submit", "start", "end"):
            assert r[col] == "" or _TIME.match(r[col]), (col, r[col])
        assert r["state"] in FINAL or r["state"] == "RUNNING"  # a final update lost in the partition
        if r["start"]:
            assert float(r["submit"]) <= float(r["start"]) <= float(r["end"])
        else:
            assert r["end"]  # ended (cancelled, its wallet locked, its node failed) before it ran
        if r["state"] in ("FAILURE", "EXPIRED") or not r["start"]:
            assert r["exit_code"] == ""  # only a job whose application exited has an exit code
        if r["exit_code"]:
            assert r["state"] in ("SUCCESS", "RUNNING")  # documented: any exit code is a normal end
    m = orjson.loads((tmp_path / "metrics.json").read_bytes())
    for key in (
        "jobs_by_state",
        "refused_by_reason",
        "wait_mean_s",
        "wait_median_s",
        "wait_p95_s",
        "bounded_slowdown_mean",
        "utilisation",
        "makespan_s",
        "throughput_jobs_per_s",
        "violations",
        "faults",
        "property_preconditions",
        "provenance",
    ):
        assert key in m
    assert set(m["utilisation"]) == {"k8s", "slurm"} and all(0 < u <= 1 for u in m["utilisation"].values())
    assert m["property_preconditions"]["outcome-matches-cause"] == m["jobs_accepted"]
    assert m["property_preconditions"]["expired-only-after-allocation"] == m["jobs_by_state"].get(
        "EXPIRED", 0
    )
    assert {"seed", "variant", "rules", "mutant", "ucsim_version", "scenario_sha256"} <= set(m["provenance"])
    assert {p.name for p in (tmp_path).glob("*.png")} == {"queue.png", "utilisation.png", "waits.png"}


# ---------------------------------------------------------------------------------------- the command
def _cli(*args: str) -> Any:
    from click.testing import CliRunner

    from ucsim.cli import main

    return CliRunner().invoke(main, ["run", *args])


def test_cli_runs_and_exit_codes(tmp_path: Path) -> None:
    ok = _cli(
        "--jobs", "60", "--out", str(tmp_path / "ok"), "--no-plots", "--trace", str(tmp_path / "t.jsonl.gz")
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "ok" / "jobs.csv").is_file() and "violations" in ok.output
    assert gzip.decompress((tmp_path / "t.jsonl.gz").read_bytes()).startswith(b'{"kind":"catalog"')

    bad = _cli("--jobs", "300", "--mutant", "exit-code-failure", "--out", str(tmp_path / "bad"), "--no-plots")
    assert bad.exit_code == 1, bad.output
    assert "outcome-matches-cause" in bad.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["no/such/scenario.toml"], "cannot read the scenario"),
        (["--variant", "newest"], "unknown variant"),
        (["--rule", "final-to-final=maybe"], "NAME=on or NAME=off"),
        (["--rule", "no-such-rule=on"], "unknown rule"),
        (["--mutant", "no-such-mutant"], "unknown mutant"),
        (["--jobs", "0"], "--jobs"),
    ],
)
def test_cli_bad_input_exits_2_without_a_traceback(args: list[str], says: str) -> None:
    result = _cli(*args)
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert "Traceback" not in result.output


def test_cli_bad_scenario_file_and_unwritable_out(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[providers]]\nname = 'k8s'\ncluster = { nodes = [ { cores = 0 } ] }\n")
    result = _cli(str(broken))
    assert result.exit_code == 2 and "broken.toml:3" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = _cli("--jobs", "20", "--out", str(blocker / "out"), "--no-plots")
    assert result.exit_code == 2 and "cannot write" in result.output
