"""Sweeps (local path): the sweep file, resumability, 1 vs 2 workers, and the Student-t intervals."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.sweep import (
    SweepError,
    load_sweep,
    mean_ci,
    plan_runs,
    read_runs,
    run_sweep,
    student_t_quantile,
    write_results,
)

SWEEP = """
scenario = "default"
seeds = 2
first_seed = 5
[overrides]
"run.jobs" = 40
[grid]
"providers.1.scheduling.policy" = ["fcfs", "easy"]
"""


def _sweep_file(tmp_path: Path, text: str = SWEEP) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("n", [2, 3, 5, 10, 31, 200])
@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.95, 0.99, 0.999])
def test_t_quantile_matches_scipy(n: int, confidence: float) -> None:
    """The hand-made t quantile gives scipy's interval for several n and confidence levels."""
    stats = pytest.importorskip("scipy.stats")
    values = [float((i * 7919) % 13) + 0.25 * i for i in range(n)]
    mean, low, high = mean_ci(values, confidence)
    sem = stats.sem(values)
    want_low, want_high = stats.t.interval(confidence, n - 1, loc=mean, scale=sem)
    assert low == pytest.approx(want_low, rel=1e-9, abs=1e-9)
    assert high == pytest.approx(want_high, rel=1e-9, abs=1e-9)
    p = 0.5 + confidence / 2
    assert student_t_quantile(p, n - 1) == pytest.approx(stats.t.ppf(p, n - 1), rel=1e-10)
    assert student_t_quantile(1 - p, n - 1) == pytest.approx(stats.t.ppf(1 - p, n - 1), rel=1e-10)


def test_mean_ci_degenerate() -> None:
    """One value has no interval; equal values have a zero-width one."""
    mean, low, high = mean_ci([3.0])
    assert mean == 3.0 and low != low and high != high  # NaN
    assert mean_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)


def test_plan(tmp_path: Path) -> None:
    """2 settings x 2 seeds = 4 runs with distinct ids, every seed override applied."""
    sweep, base = load_sweep(_sweep_file(tmp_path))
    specs = plan_runs(sweep, base)
    assert len(specs) == 4
    assert len({s.run_id for s in specs}) == 4
    assert sorted({s.seed for s in specs}) == [5, 6]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (SWEEP.replace("seeds = 2", "seeds = 0"), "seeds"),
        ("bogus = 1\n" + SWEEP, "bogus"),
        (SWEEP + "x = 1\n", "grid.x"),
        (SWEEP.replace('["fcfs", "easy"]', "[]"), "grid"),
        (SWEEP.replace('["fcfs", "easy"]', '["no-such-policy"]'), "grid"),
    ],
)
def test_bad_sweep_file_names_the_field(tmp_path: Path, text: str, field: str) -> None:
    """Errors name the field of the sweep file."""
    with pytest.raises(SweepError, match=f"field '{field}"):
        load_sweep(_sweep_file(tmp_path, text))


def test_resume_executes_exactly_the_rest(tmp_path: Path) -> None:
    """Interrupted after k of N runs, a sweep started again executes exactly the N - k others."""
    sweep, base = load_sweep(_sweep_file(tmp_path))
    specs = plan_runs(sweep, base)
    out = tmp_path / "out"
    assert run_sweep(specs, out, workers=1, max_runs=1) == 1
    # a line cut short by the interruption is dropped, not fatal
    with open(out / "runs.jsonl", "a", encoding="utf-8") as f:
        f.write('{"run_id": "trunc')
    assert len(read_runs(out / "runs.jsonl")) == 1
    assert run_sweep(specs, out, workers=1) == len(specs) - 1
    assert run_sweep(specs, out, workers=1) == 0
    lines = (out / "runs.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["run_id"] for line in lines) == sorted(s.run_id for s in specs)


def test_one_and_two_workers_agree(tmp_path: Path) -> None:
    """The same runs in one process and on a pool of two give identical per-run results."""
    sweep, base = load_sweep(_sweep_file(tmp_path))
    specs = plan_runs(sweep, base)
    for workers in (1, 2):
        assert run_sweep(specs, tmp_path / f"w{workers}", workers=workers) == len(specs)
        write_results(specs, tmp_path / f"w{workers}")
    one = (tmp_path / "w1" / "runs.csv").read_text(encoding="utf-8")
    two = (tmp_path / "w2" / "runs.csv").read_text(encoding="utf-8")
    assert one == two
    rows = _rows(tmp_path / "w1" / "runs.csv")
    assert [r["run_id"] for r in rows] == sorted(s.run_id for s in specs)
    assert {"wait_mean_s", "wait_p95_s", "bounded_slowdown_mean", "violations", "scenario_sha256"} <= set(
        rows[0]
    )
    assert any(k.startswith("utilisation.") for k in rows[0])
    assert len({r["scenario_sha256"] for r in rows}) == 4  # settings and seeds change the scenario


def test_cli(tmp_path: Path) -> None:
    """`ucsim sweep` writes runs.csv and summary.csv (mean and CI per setting and metric)."""
    from ucsim.cli import main

    out = tmp_path / "out"
    args = ["sweep", str(_sweep_file(tmp_path)), "--out", str(out), "--workers", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "4 executed" in result.output
    summary = _rows(out / "summary.csv")
    assert {r["providers.1.scheduling.policy"] for r in summary} == {"fcfs", "easy"}
    assert all(r["n"] == "2" for r in summary)
    for r in summary:
        assert float(r["ci95_low"]) <= float(r["mean"]) <= float(r["ci95_high"])
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "0 executed" in again.output
    bad = CliRunner().invoke(main, ["sweep", str(tmp_path / "missing.toml"), "--out", str(out)])
    assert bad.exit_code == 2
