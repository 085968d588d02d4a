"""The synthetic workload, its seeded streams, the offered-load helper, SWF replay and fault events.

Statistical checks use a fixed seed and generous tolerances: they catch a wrong formula (a rate off
by a factor, a mean computed for the wrong parameter), not sampling noise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import statistics
import tracemalloc
from pathlib import Path

import pytest

from simulator.rng import Streams, derive_seed
from simulator.scenario import Scenario, load_default_scenario
from simulator.workload import (
    Arrival,
    Workload,
    arrival_rate_for_load,
    arrivals,
    fault_events,
    offered_load,
)

SIMPLE = """\
seed = 11
[run]
jobs = {jobs}

[[providers]]
name = "k8s"
[[providers.cluster.nodes]]
count = 10
cores = 16

[[products]]
name = "p4"
provider = "k8s"
cpu = 4

[[applications]]
name = "app"

[workload]
runtime_s = {runtime}
arrivals = {arrivals}

[[workload.mix]]
name = "a"
application = "app"
product = "p4"
replicas = {{ values = [1, 3], weights = [0.75, 0.25] }}
time_allocation_s = {allocation}

[workload.invalid]
fraction = {invalid}
kinds = ["zero-replicas", "no-allocation"]

[workload.cancellations]
probability = 0.2
delay_s = 100

[workload.extensions]
probability = 0.5
amount_s = 600
max_count = 3

[workload.exit_codes]
nonzero_probability = 0.3
codes = [1, 2]
"""


def simple(
    jobs: int = 20_000,
    runtime: str = '{ kind = "exponential", mean = 100 }',
    arrivals: str = '{ kind = "poisson", rate_per_s = 2.0 }',
    allocation: int = 1_000_000,
    invalid: float = 0.0,
) -> Scenario:
    text = SIMPLE.format(
        jobs=jobs, runtime=runtime, arrivals=arrivals, allocation=allocation, invalid=invalid
    )
    return Scenario.from_toml(text)


@pytest.fixture(scope="module")
def default() -> Scenario:
    return load_default_scenario()


# -------------------------------------------------------------------------------------- streams


def test_streams_are_seeded_by_name_with_sha256() -> None:
    assert derive_seed(1, "arrivals") != derive_seed(1, "runtimes") != derive_seed(2, "runtimes")
    a, b = Streams(5), Streams(5)
    _ = [a["faults"].random() for _ in range(100)]  # draining one stream...
    assert a["arrivals"].random() == b["arrivals"].random()  # ...leaves the others alone
    assert Streams(5).fresh("x").random() == Streams(5)["x"].random()


def test_derived_seeds_do_not_depend_on_pythonhashseed() -> None:
    # A fixed value computed once: sha256 is the same in every process and on every machine.
    assert derive_seed(0, "arrivals") == int.from_bytes(
        __import__("hashlib").sha256(b"0/arrivals").digest()[:16], "big"
    )


# ------------------------------------------------------------------------------------- arrivals


def test_the_workload_is_deterministic_and_restartable(default: Scenario) -> None:
    w = Workload(default)
    first = list(itertools.islice(w, 500))
    again = list(itertools.islice(w, 500))
    other = list(itertools.islice(Workload(load_default_scenario()), 500))
    assert first == again == other
    assert all(isinstance(a, Arrival) for a in first)
    assert [a.seq for a in first] == list(range(500))
    assert all(b.time_s > a.time_s for a, b in itertools.pairwise(first))


def test_the_run_length_limits_arrivals(default: Scenario) -> None:
    assert sum(1 for _ in arrivals(default)) == default.run.jobs == 3000
    timed = default.with_overrides({"run": {"until_s": 3600.0, "jobs": None}})
    times = [a.time_s for a in arrivals(timed)]
    assert times and max(times) < 3600.0
    assert len(times) == pytest.approx(3600 * timed.arrival_rate_per_s(), rel=0.25)


def test_fault_settings_do_not_change_the_submitted_jobs(default: Scenario) -> None:
    """Common random numbers: faults draw from their own streams."""
    calm = default.with_overrides(
        {
            "faults.provider_crash.mtbf_s": 1e9,
            "faults.node_failure.mtbf_s": 1e9,
            "network.core_to_provider.loss": 0.0,
        }
    )
    stormy = default.with_overrides(
        {
            "faults.provider_crash.mtbf_s": 600.0,
            "faults.node_failure.mtbf_s": 3600.0,
            "faults.core_restart.mtbf_s": 900.0,
        }
    )
    assert list(arrivals(calm)) == list(arrivals(stormy))
    horizon = 86400.0
    calm_faults = list(itertools.takewhile(lambda e: e.time_s < horizon, fault_events(calm)))
    stormy_faults = list(itertools.takewhile(lambda e: e.time_s < horizon, fault_events(stormy)))
    assert len(stormy_faults) > 10 * max(len(calm_faults), 1)


def test_one_knob_moves_only_its_own_draws() -> None:
    base = list(arrivals(simple(jobs=2000, invalid=0.1)))
    more_cancels = list(
        arrivals(simple(jobs=2000, invalid=0.1).with_overrides({"workload.cancellations.probability": 0.6}))
    )
    assert [(a.time_s, a.template, a.runtime_s, a.exit_code) for a in base] == [
        (a.time_s, a.template, a.runtime_s, a.exit_code) for a in more_cancels
    ]
    # a cancelled job stays cancelled with a higher probability, after the same delay
    assert all(
        b.cancel_after_s == a.cancel_after_s
        for a, b in zip(base, more_cancels, strict=True)
        if a.cancel_after_s
    )
    assert sum(a.cancel_after_s is not None for a in more_cancels) > 2 * sum(
        a.cancel_after_s is not None for a in base
    )


def test_user_actions_draw_on_their_own_stream(default: Scenario) -> None:
    """Follow, sessions and suspensions change nothing else about the submitted jobs, come in their
    configured shares, and suspensions go only to jobs whose backend declares ``suspension``."""
    quiet = default.with_overrides(
        {
            "run.jobs": 4000,
            "workload.follow.fraction": 0.0,
            "workload.sessions.fraction": 0.0,
            "workload.suspensions.fraction": 0.0,
        }
    )
    busy = quiet.with_overrides(
        {
            "workload.follow.fraction": 0.3,
            "workload.sessions": {"fraction": 0.2, "kinds": ["VNC", "SHELL"]},
            "workload.suspensions.fraction": 0.5,
        }
    )
    plain, users = list(arrivals(quiet)), list(arrivals(busy))
    assert all(a.follow_s is a.session is a.suspend is None for a in plain)
    unchanged = [dataclasses.replace(a, follow_s=None, session=None, suspend=None) for a in users]
    assert unchanged == plain
    assert sum(a.follow_s is not None for a in users) / len(users) == pytest.approx(0.3, abs=0.03)
    sessions = [a.session for a in users if a.session is not None]
    assert len(sessions) / len(users) == pytest.approx(0.2, abs=0.03)
    assert {kind for _, kind in sessions} == {"VNC", "SHELL"}
    templates = busy.world().templates
    vms = [a for a in users if "suspension" in templates[a.template].features]
    assert vms and all(a.suspend is None for a in users if a not in vms)
    assert sum(a.suspend is not None for a in vms) / len(vms) == pytest.approx(0.5, abs=0.1)


SUBMITTED_DIGEST = "476ba583ec3b92ed1b617af2758688ee9a77381ded0a2fe7ac7f5ed715b5cc34"
"""sha256 of the default scenario's first 500 requests with seed 1 (as below), pinned when the users'
calls on running jobs were added: a new concern must not move the submitted jobs. Change it only when
the arrivals, the mix, run times, exit codes, cancellations or extensions change on purpose."""


def test_the_submitted_jobs_of_the_default_scenario_are_pinned() -> None:
    scenario = load_default_scenario().with_overrides({"run.jobs": 500, "seed": 1})
    rows = [
        (
            a.seq,
            round(a.time_s, 6),
            a.template,
            round(a.runtime_s, 6),
            a.exit_code,
            a.cancel_after_s and round(a.cancel_after_s, 6),
            a.extensions,
        )
        for a in arrivals(scenario)
    ]
    assert hashlib.sha256(repr(rows).encode()).hexdigest() == SUBMITTED_DIGEST


def test_empirical_rate_and_run_time_match_the_configuration() -> None:
    s = simple(jobs=20_000)
    got = list(arrivals(s))
    gaps = [b.time_s - a.time_s for a, b in itertools.pairwise(got)]
    assert statistics.fmean(gaps) == pytest.approx(0.5, rel=0.03)  # rate_per_s = 2
    assert statistics.fmean(a.runtime_s for a in got) == pytest.approx(100.0, rel=0.03)
    assert sum(a.replicas == 3 for a in got) / len(got) == pytest.approx(0.25, abs=0.02)
    assert sum(a.exit_code != 0 for a in got) / len(got) == pytest.approx(0.3, abs=0.02)
    assert {a.exit_code for a in got} == {0, 1, 2}
    assert sum(a.cancel_after_s is not None for a in got) / len(got) == pytest.approx(0.2, abs=0.02)
    assert {a.cancel_after_s for a in got} == {None, 100.0}


def test_heavy_tailed_run_times_have_the_configured_mean() -> None:
    s = simple(jobs=30_000, runtime='{ kind = "lognormal", mean = 600, sigma = 1.0 }')
    runtimes = [a.runtime_s for a in arrivals(s)]
    assert statistics.fmean(runtimes) == pytest.approx(600.0, rel=0.05)
    assert statistics.median(runtimes) == pytest.approx(600.0 / math.exp(0.5), rel=0.05)
    s = simple(jobs=30_000, runtime='{ kind = "pareto", alpha = 2.5, scale = 60, max = 36000 }')
    runtimes = [a.runtime_s for a in arrivals(s)]
    assert min(runtimes) >= 60.0 and max(runtimes) <= 36000.0
    assert statistics.fmean(runtimes) == pytest.approx(s.workload.runtime_s.mean(), rel=0.05)


def test_offered_load_sets_the_rate() -> None:
    assert arrival_rate_for_load(0.5, 100, 200) == pytest.approx(0.25)
    assert offered_load(0.25, 100, 200) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        arrival_rate_for_load(0.5, 100, 0)
    s = simple(jobs=20_000, arrivals='{ kind = "poisson", offered_load = 0.85 }', allocation=150, invalid=0.1)
    # demand per valid job: 4 cores x E[replicas] 1.5 x E[min(Exp(100), 150)]; 10% are refused
    mean_demand = 0.9 * 4 * 1.5 * 100 * (1 - math.exp(-1.5))
    assert s.arrival_rate_per_s() == pytest.approx(0.85 * 160 / mean_demand)
    got = list(arrivals(s))
    info = s.template_info()
    work = sum(a.replicas * info[a.template].cores * min(a.runtime_s, 150) for a in got if a.expect is None)
    assert work / got[-1].time_s / 160 == pytest.approx(0.85, rel=0.05)


def test_invalid_requests_have_the_configured_share_and_status() -> None:
    s = simple(jobs=20_000, invalid=0.1)
    got = list(arrivals(s))
    bad = [a for a in got if a.expect is not None]
    assert len(bad) / len(got) == pytest.approx(0.1, abs=0.01)
    assert {a.expect for a in bad} == {400, 402}
    names = {s.template_info()[a.template].name for a in bad}
    assert names == {"invalid:zero-replicas", "invalid:no-allocation"}
    assert all(a.extensions == () for a in bad)


def test_extensions_come_before_the_job_ends_and_in_order() -> None:
    s = simple(jobs=5000, allocation=80)
    got = list(arrivals(s))
    extended = [a for a in got if a.extensions]
    assert 0.2 < len(extended) / len(got) < 0.6
    assert max(len(a.extensions) for a in got) <= 3 and any(len(a.extensions) >= 2 for a in got)
    for a in extended:
        ats = [at for at, _ in a.extensions]
        assert ats == sorted(ats) and ats[-1] < a.runtime_s
        assert ats[0] >= 0.5 * 80 and all(amount == 600 for _, amount in a.extensions)
    assert all(a.estimate_s == 80.0 for a in got if a.expect is None)


def test_bursty_arrivals_keep_the_mean_rate_but_cluster() -> None:
    bursty = (
        '{ kind = "bursty", rate_per_s = 2.0, peak_factor = 20, burst_fraction = 0.1, mean_burst_s = 20 }'
    )
    for spec, dispersed in (('{ kind = "poisson", rate_per_s = 2.0 }', False), (bursty, True)):
        times = [a.time_s for a in arrivals(simple(jobs=40_000, arrivals=spec))]
        assert len(times) / times[-1] == pytest.approx(2.0, rel=0.1)
        counts = [0] * (int(times[-1] // 60) + 1)
        for t in times:
            counts[int(t // 60)] += 1
        dispersion = statistics.pvariance(counts) / statistics.fmean(counts)  # 1 for Poisson
        assert (dispersion > 5) is dispersed, dispersion


def test_a_million_jobs_stream_in_constant_memory() -> None:
    s = simple(jobs=1_000_000)
    tracemalloc.start()
    try:
        last = None
        for arrival in itertools.islice(arrivals(s), 100_000):
            last = arrival
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert last is not None and last.seq == 99_999
    assert peak < 2_000_000  # bytes: nothing accumulates per job


# ---------------------------------------------------------------------------------------- faults


def test_fault_events_are_ordered_and_nodes_fail_again_only_after_repair(default: Scenario) -> None:
    s = default.with_overrides(
        {"faults.node_failure.mtbf_s": 86400.0, "faults.core_restart.times_s": [100.0, 5000.0]}
    )
    events = list(itertools.takewhile(lambda e: e.time_s < 30 * 86400, fault_events(s)))
    assert all(b.time_s >= a.time_s for a, b in itertools.pairwise(events))
    core = [e.time_s for e in events if e.kind == "core-restart"]
    assert core == [100.0, 5000.0]
    back: dict[tuple[str | None, str | None], float] = {}
    for e in events:
        if e.kind == "node-failure":
            assert e.time_s >= back.get((e.provider, e.node), 0.0)
            assert 1800 <= e.duration_s <= 7200
            back[(e.provider, e.node)] = e.time_s + e.duration_s
    failures = sum(e.kind == "node-failure" for e in events)
    assert failures == pytest.approx(26 * 30, rel=0.15)  # 26 nodes, one failure a day each
    crashes = [e for e in events if e.kind == "provider-crash"]
    assert {e.provider for e in crashes} == {"k8s", "slurm"}
    assert {e.duration_s for e in crashes} == {30.0, 120.0}  # each provider's restart delay


# ------------------------------------------------------------------------------------------- SWF


def test_swf_replay_maps_processors_to_replicas(tmp_path: Path) -> None:
    (tmp_path / "log.swf").write_text(
        "; MaxProcs: 64\n"
        "1 0 5 100 4 -1 -1 4 200 -1 1 1 1 -1 -1 -1 -1 -1\n"
        "2 10 0 50 -1 -1 -1 10 -1 -1 0 1 1 -1 -1 -1 -1 -1\n"
        "3 20 0 -1 4 -1 -1 4 200 -1 1 1 1 -1 -1 -1 -1 -1\n"
        "4 30 2 70 8 -1 -1 -1 60 -1 5 1 1 -1 -1 -1 -1 -1\n"
    )
    text = SIMPLE.format(
        jobs=100, runtime=60, arrivals='{ kind = "poisson", rate_per_s = 1.0 }', allocation=3600, invalid=0.0
    )
    text = text.replace(
        "[workload]\n", '[workload.swf]\npath = "log.swf"\nprovider = "k8s"\ntime_scale = 2.0\n\n[workload]\n'
    )
    text = text.replace('arrivals = { kind = "poisson", rate_per_s = 1.0 }\n', "")
    path = tmp_path / "s.toml"
    path.write_text(text)
    from simulator.scenario import load_scenario

    s = load_scenario(path)
    assert dict(s.swf_templates()).keys() == {1, 2, 3}  # ceil(4/4), ceil(8/4), ceil(10/4)
    got = list(arrivals(s))
    assert [a.time_s for a in got] == [0.0, 20.0, 60.0]  # job 3 has no run time: skipped
    assert [a.replicas for a in got] == [1, 3, 2]
    assert [a.runtime_s for a in got] == [200.0, 100.0, 140.0]
    assert [a.estimate_s for a in got] == [400.0, 100.0, 140.0]
    assert [a.exit_code for a in got] == [0, 1, 0]
    assert [a.cancel_after_s for a in got] == [None, None, 144.0]
    names = [s.template_info()[a.template].name for a in got]
    assert names == ["swf:a[replicas=1]", "swf:a[replicas=3]", "swf:a[replicas=2]"]
