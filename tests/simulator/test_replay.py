"""The classic SWF replay and ``ucsim swf``: outputs, skipped and refused jobs, determinism, bad input."""

from __future__ import annotations

import csv
import doctest
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import simulator.replay
from simulator.policies import make_policy
from simulator.replay import JOBS_CSV_HEADER, replay_swf, simulate, write_outputs
from simulator.swf import generate_swf, write_swf
from ucsim.cli import main


def swf_line(job: int, submit: float, run: float, procs: int, req_time: float = -1, user: int = 1) -> str:
    """An SWF job line with the fields the replay reads; ``procs`` goes in field 8 (requested)."""
    return f"{job} {submit} -1 {run} -1 -1 -1 {procs} {req_time} -1 1 {user} -1 -1 -1 -1 -1 -1"


def write(tmp_path: Path, lines: list[str], name: str = "w.swf") -> Path:
    path = tmp_path / name
    path.write_text("; MaxProcs: 4\n" + "\n".join(lines) + "\n")
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_doctests() -> None:
    assert doctest.testmod(simulator.replay).failed == 0


def test_jobs_csv_format_order_and_numbers(tmp_path: Path) -> None:
    lines = [
        swf_line(5, 0, 10, 4, user=9),  # first in the file: starts first, at 0
        swf_line(3, 0, 2, 2, user=8),  # same submit time, smaller number: first row; waits for 5 (FCFS)
        swf_line(7, 1.5, 0.3333, 1, user=7),  # fractions: 3 decimals at most
    ]
    result = replay_swf(write(tmp_path, lines), 4, make_policy("fcfs"))
    write_outputs(result, tmp_path / "out")
    text = (tmp_path / "out" / "jobs.csv").read_text()
    assert text.splitlines()[0] == "job_id,user,provider,product,replicas,submit,start,end,state,exit_code"
    assert text.splitlines()[1:] == [
        "3,8,swf,core-1,2,0,10,12,SUCCESS,0",
        "5,9,swf,core-1,4,0,0,10,SUCCESS,0",
        "7,7,swf,core-1,1,1.5,10,10.333,SUCCESS,0",
    ]
    assert tuple(read_csv(tmp_path / "out" / "jobs.csv")[0]) == JOBS_CSV_HEADER


def test_processors_come_from_field_8_then_field_5(tmp_path: Path) -> None:
    allocated_only = "1 0 -1 5 3 -1 -1 -1 -1 -1 1 1 -1 -1 -1 -1 -1 -1"  # field 8 is -1, field 5 is 3
    result = replay_swf(write(tmp_path, [allocated_only, swf_line(2, 0, 5, 2)]), 4, make_policy("fcfs"))
    assert [j.size for j in result.jobs] == [3, 2]


def test_estimate_is_requested_time_but_never_below_the_run_time(tmp_path: Path) -> None:
    lines = [swf_line(1, 0, 50, 1, req_time=100), swf_line(2, 0, 50, 1, req_time=10), swf_line(3, 0, 50, 1)]
    result = replay_swf(write(tmp_path, lines), 4, make_policy("easy"))
    assert [j.estimate for j in result.jobs] == [100, 50, 50]


def test_skipped_and_refused_jobs(tmp_path: Path) -> None:
    lines = [
        swf_line(1, 0, -1, 2),  # no run time: skipped
        "2 0 -1 10 -1 -1 -1 -1 -1 -1 1 1 -1 -1 -1 -1 -1 -1",  # no processor count: skipped
        swf_line(3, 0, 10, 5),  # more than the 4 processors: refused
        swf_line(4, 0, 10, 4),
        swf_line(5, 3, 0, 4),  # run time 0: waits for job 4, then starts and ends at 10
        swf_line(6, 4, 1, 1),  # behind job 5 (FCFS): also starts at 10, once job 5 has ended
    ]
    result = replay_swf(write(tmp_path, lines), 4, make_policy("fcfs"))
    assert [s.reason for s in result.skipped] == ["no-run-time", "no-processors"]
    assert [(s.job.job, s.reason) for s in result.refused] == [(3, "too-large")]
    assert [(j.number, j.start, j.end) for j in result.jobs] == [(4, 0, 10), (5, 10, 10), (6, 10, 11)]
    metrics = write_outputs(result, tmp_path / "out")
    assert metrics["refused_by_reason"] == {"too-large": 1}
    assert metrics["skipped_by_reason"] == {"no-processors": 1, "no-run-time": 1}
    assert metrics["jobs_by_state"] == {"SUCCESS": 3}
    assert [r["job_id"] for r in read_csv(tmp_path / "out" / "jobs.csv")] == ["4", "5", "6"]


def test_metrics(tmp_path: Path) -> None:
    # P=4: job 1 (4 procs, 100 s) at 0..100; job 2 (2 procs, 5 s) waits 100 s: 100..105.
    path = write(tmp_path, [swf_line(1, 0, 100, 4), swf_line(2, 0, 5, 2)])
    metrics = write_outputs(replay_swf(path, 4, make_policy("fcfs")), tmp_path / "out")
    stored = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert stored == metrics
    assert metrics["wait_mean_s"] == 50 and metrics["wait_median_s"] == 50 and metrics["wait_p95_s"] == 100
    # bounded slowdown: job 1: (0 + 100) / 100 = 1; job 2: (100 + 5) / max(5, 10) = 10.5
    assert metrics["bounded_slowdown_mean"] == pytest.approx((1 + 10.5) / 2)
    assert metrics["makespan_s"] == 105
    assert metrics["utilisation"] == {"swf": pytest.approx((400 + 10) / (4 * 105))}
    assert metrics["throughput_jobs_per_s"] == pytest.approx(2 / 105)
    provenance = metrics["provenance"]
    assert provenance["policy"] == "fcfs" and provenance["processors"] == 4
    assert provenance["input_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "ucsim_version" in provenance


def test_capacity_is_never_exceeded_and_nothing_stays_placed(tmp_path: Path) -> None:
    workload = generate_swf(600, 32, seed=5, load=1.2)
    path = tmp_path / "g.swf"
    write_swf(path, workload.jobs, workload.header)
    for policy in ("fcfs", "easy"):
        result = replay_swf(path, 32, make_policy(policy))
        events = sorted(
            [(j.start, 1, j.size) for j in result.jobs] + [(j.end, 0, -j.size) for j in result.jobs]
        )
        busy = 0
        for _, _, delta in events:  # ends before starts at equal times
            busy += delta
            assert 0 <= busy <= 32
        assert all(j.start >= j.submit for j in result.jobs)


def test_simulate_leaves_the_cluster_empty() -> None:
    from simulator.replay import ReplayJob

    jobs = [ReplayJob(i, i + 1, 0, i, 1 + i % 3, 5, 5) for i in range(30)]
    cluster = simulate(jobs, 3, make_policy("easy"))
    assert cluster.running == [] and cluster.free_cores == 3


# -- the command line ---------------------------------------------------------------------------------


def test_cli_replays_and_is_deterministic(tmp_path: Path) -> None:
    workload = generate_swf(300, 16, seed=2)
    path = tmp_path / "g.swf"
    write_swf(path, workload.jobs, workload.header)
    runner = CliRunner()
    outputs = []
    for out in ("a", "b"):
        result = runner.invoke(
            main, ["swf", str(path), "--processors", "16", "--policy", "easy", "--out", str(tmp_path / out)]
        )
        assert result.exit_code == 0, result.output
        assert "jobs replayed" in result.output
        outputs.append((tmp_path / out / "jobs.csv").read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") == 301


def test_cli_warns_about_skipped_and_refused_jobs(tmp_path: Path) -> None:
    path = write(tmp_path, [swf_line(1, 0, -1, 1), swf_line(2, 0, 5, 9), swf_line(3, 0, 5, 1)])
    result = CliRunner().invoke(main, ["swf", str(path), "-p", "4", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0
    assert "skipped job 1: no run time" in result.output
    assert "refused job 2: needs 9 processors, the machine has 4" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.swf", "-p", "4"], "does not exist"),
        (["bad.swf", "-p", "4"], "malformed SWF: "),
        (["good.swf", "-p", "4", "--policy", "sjf"], "unknown scheduling policy 'sjf'; known policies: "),
        (["good.swf", "-p", "0"], "--processors must be a positive number"),
        (["good.swf", "-p", "-3"], "--processors must be a positive number"),
        (["good.swf", "-p", "many"], "is not a valid integer"),
        (["good.swf"], "Missing option '--processors'"),
    ],
)
def test_cli_bad_input_exits_2_with_a_clear_message(tmp_path: Path, args: list[str], message: str) -> None:
    write(tmp_path, [swf_line(1, 0, 5, 1)], "good.swf")
    write(tmp_path, [swf_line(1, 0, 5, 1), swf_line(2, 0, "x", 1)], "bad.swf")  # type: ignore[arg-type]
    args = [str(tmp_path / a) if a.endswith(".swf") else a for a in args]
    result = CliRunner().invoke(main, ["swf", *args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_names_line_and_field_of_a_malformed_line(tmp_path: Path) -> None:
    path = write(tmp_path, [swf_line(1, 0, 5, 1), swf_line(2, 0, "x", 1)])  # type: ignore[arg-type]
    result = CliRunner().invoke(main, ["swf", str(path), "-p", "4", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "w.swf:3: field 4 (run time): not a number: 'x'" in result.output


def test_scheduling_benchmark_runs_at_a_tiny_size() -> None:
    from benchmarks import bench_sched

    records = bench_sched.run(True, events=20, jobs=200, repeat=1)
    names = {r.name for r in records}
    assert {
        "sched.fcfs_event_q1k",
        "sched.easy_event_q50k",
        "sched.replay_fcfs",
        "sched.replay_easy",
    } <= names
    for record in records:
        assert record.value > 0 and (record.ratio is None or record.ratio > 0)
