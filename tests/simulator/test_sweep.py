"""Sweeps (local path): the sweep file, resumability, 1 vs 2 workers, the Student-t intervals, the
results (runs table as CSV and Parquet with provenance, summary, plots), and no Dask on this path."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.sweep import (
    PROVENANCE,
    SweepError,
    default_format,
    load_sweep,
    mean_ci,
    plan_runs,
    read_runs,
    run_sweep,
    runs_table,
    student_t_quantile,
    summarise,
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
    """`ucsim sweep` writes runs.csv, summary.csv (mean and CI per setting and metric) and one plot
    per metric; started again it executes nothing; a missing file is exit 2."""
    from ucsim.cli import main

    out = tmp_path / "out"
    args = ["sweep", str(_sweep_file(tmp_path)), "--out", str(out), "--workers", "2", "--format", "csv"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "4 executed" in result.output
    summary = _rows(out / "summary.csv")
    assert {r["providers.1.scheduling.policy"] for r in summary} == {"fcfs", "easy"}
    assert all(r["n"] == "2" for r in summary)
    for r in summary:
        assert float(r["ci95_low"]) <= float(r["mean"]) <= float(r["ci95_high"])
    metrics = {r["metric"] for r in summary}
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == sorted(f"{m}.png" for m in metrics)
    assert (out / "plots" / "wait_mean_s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "0 executed" in again.output
    bad = CliRunner().invoke(main, ["sweep", str(tmp_path / "missing.toml"), "--out", str(out)])
    assert bad.exit_code == 2


def test_runs_table_has_provenance(tmp_path: Path) -> None:
    """One row per run: run id, setting, seed, then scenario name and hash, variant, mutant and the
    ucsim version, then the metrics; a run's hash is that of the scenario it simulated."""
    from simulator.engine import scenario_hash
    from simulator.scenario import load_default_scenario
    from ucsim import __version__

    sweep, base = load_sweep(_sweep_file(tmp_path))
    specs = plan_runs(sweep, base)
    run_sweep(specs, tmp_path, workers=1)
    columns, rows = runs_table(specs, tmp_path)
    assert columns[:8] == ["run_id", "providers.1.scheduling.policy", "seed", *PROVENANCE]
    assert len(rows) == 4
    by_id = {s.run_id: s for s in specs}
    for row in rows:
        cell = dict(zip(columns, row, strict=True))
        spec = by_id[cell["run_id"]]
        simulated = load_default_scenario().with_overrides(
            {**dict(spec.overrides), **dict(spec.setting), "seed": spec.seed}
        )
        assert cell["scenario_sha256"] == scenario_hash(simulated)
        assert (cell["seed"], cell["providers.1.scheduling.policy"]) == (
            spec.seed,
            dict(spec.setting)["providers.1.scheduling.policy"],
        )
        assert (cell["scenario"], cell["variant"], cell["mutant"]) == ("default", "documented", None)
        assert cell["ucsim_version"] == __version__


def test_parquet_and_csv_hold_the_same_tables(tmp_path: Path) -> None:
    """The Parquet runs table and summary have the CSV's columns and values, with real types."""
    pq = pytest.importorskip("pyarrow.parquet")
    sweep, base = load_sweep(_sweep_file(tmp_path))
    specs = plan_runs(sweep, base)
    run_sweep(specs, tmp_path, workers=1)
    written = write_results(specs, tmp_path, fmt="parquet")
    assert [p.name for p in written] == ["runs.parquet", "summary.parquet"]
    write_results(specs, tmp_path, fmt="csv")
    runs = pq.read_table(tmp_path / "runs.parquet")
    assert str(runs.schema.field("seed").type) == "int64"
    assert str(runs.schema.field("wait_mean_s").type) == "double"
    assert str(runs.schema.field("mutant").type) == "string"  # all missing, still typed
    csv_rows = _rows(tmp_path / "runs.csv")
    assert runs.column_names == list(csv_rows[0])
    for got, want in zip(runs.to_pylist(), csv_rows, strict=True):
        assert {k: "" if v is None else str(v) for k, v in got.items()} == want
    summary = pq.read_table(tmp_path / "summary.parquet").to_pylist()
    csv_summary = _rows(tmp_path / "summary.csv")
    assert len(summary) == len(csv_summary) == 2 * len({r["metric"] for r in csv_summary})
    for got, want in zip(summary, csv_summary, strict=True):
        assert got["metric"] == want["metric"] and got["n"] == int(want["n"])
        assert got["mean"] == float(want["mean"])


def test_parquet_without_pyarrow_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--format parquet without pyarrow: SweepError naming pyarrow, and the CSV way still works."""
    sweep, base = load_sweep(_sweep_file(tmp_path))
    specs = plan_runs(sweep, base)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(SweepError, match="needs pyarrow"):
        write_results(specs, tmp_path, fmt="parquet")
    with pytest.raises(SweepError, match="unknown table format 'xlsx'"):
        write_results(specs, tmp_path, fmt="xlsx")
    assert [p.name for p in write_results(specs, tmp_path, fmt="csv")] == ["runs.csv", "summary.csv"]


def test_default_format_follows_pyarrow() -> None:
    """auto means Parquet exactly when pyarrow is importable."""
    import importlib.util

    want = "parquet" if importlib.util.find_spec("pyarrow") else "csv"
    assert default_format() == want


def test_summary_of_a_partial_sweep(tmp_path: Path) -> None:
    """Settings with no run yet keep their rows (n = 0, NaN); one run gives a mean, no interval."""
    sweep, base = load_sweep(_sweep_file(tmp_path))
    specs = plan_runs(sweep, base)
    run_sweep(specs[:1], tmp_path, workers=1)
    rows = summarise(specs, tmp_path)
    first = dict(specs[0].setting)
    assert {r.n for r in rows if r.setting == first} == {1}
    assert all(r.n == 0 and math.isnan(r.mean) for r in rows if r.setting != first)
    assert all(math.isnan(r.ci95_low) for r in rows)


def test_progress_is_reported_run_by_run(tmp_path: Path) -> None:
    """The progress callback (the CLI's rich bar) sees 0/N first, then every run."""
    sweep, base = load_sweep(_sweep_file(tmp_path))
    seen: list[tuple[int, int]] = []
    run_sweep(plan_runs(sweep, base), tmp_path, workers=2, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]


def test_the_local_path_never_imports_dask(tmp_path: Path) -> None:
    """A local sweep (pool, tables, plots) runs without loading dask or distributed."""
    path = _sweep_file(tmp_path)
    code = (
        "import sys\n"
        "from ucsim.cli import main\n"
        f"args = ['sweep', {str(path)!r}, '--out', {str(tmp_path / 'out')!r}, '--workers', '2', '--no-plots']\n"
        "try:\n"
        "    main(args)\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "print('loaded:', *sorted(m for m in sys.modules if m.split('.')[0] in {'dask', 'distributed'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "4 executed" in done.stdout
    assert done.stdout.splitlines()[-1] == "loaded:"


def test_bench_sweep_tiny() -> None:
    """The sweep benchmark, at a tiny size: found by the runner, one figure with its same-run ratio."""
    from benchmarks import bench_sweep
    from benchmarks import run as bench_run

    assert bench_sweep in bench_run.discover(["sweep"])
    [record] = bench_sweep.run(True, settings=2, seeds=1, jobs=5, repeat=1, dask=False)
    assert (record.name, record.unit, record.baseline) == (
        "sweep.runs_per_s",
        "runs/s",
        "one process (--workers 1)",
    )
    assert record.value > 0 and record.baseline_value and record.baseline_value > 0
    assert record.ratio == pytest.approx(record.value / record.baseline_value)
    assert record.details["runs"] == 2 and record.details["jobs_per_run"] == 5
    assert record.details["machine_pool_speedup"] > 0


def test_an_out_folder_of_another_sweep_is_refused(tmp_path: Path) -> None:
    """Run ids hash setting and seed only: resuming into a folder whose runs had other overrides or
    another base scenario is refused (they would be skipped as if done); more seeds are fine."""
    out = tmp_path / "out"
    sweep, base = load_sweep(_sweep_file(tmp_path))
    assert run_sweep(plan_runs(sweep, base), out, workers=1, max_runs=1) == 1
    before = (out / "runs.jsonl").read_text(encoding="utf-8")
    other, base = load_sweep(_sweep_file(tmp_path, SWEEP.replace('"run.jobs" = 40', '"run.jobs" = 41')))
    with pytest.raises(SweepError, match=r"holds the runs of another sweep \(overrides differ"):
        run_sweep(plan_runs(other, base), out, workers=1)
    assert (out / "runs.jsonl").read_text(encoding="utf-8") == before
    scenario = tmp_path / "base.toml"
    from simulator.scenario import default_scenario_text

    text = default_scenario_text()
    scenario.write_text(text.replace("seed = ", "seed = 1", 1), encoding="utf-8")  # its seed aside,
    same, base = load_sweep(_sweep_file(tmp_path, SWEEP.replace('"default"', '"base.toml"')))
    assert run_sweep(plan_runs(same, base), out, workers=1, max_runs=0) == 0  # the same scenario
    scenario.write_text(text.replace('users = ["alice"', 'users = ["zoe", "alice"'), encoding="utf-8")
    changed, base = load_sweep(_sweep_file(tmp_path, SWEEP.replace('"default"', '"base.toml"')))
    with pytest.raises(SweepError, match="base_scenario_sha256 differ"):
        run_sweep(plan_runs(changed, base), out, workers=1)
    more, base = load_sweep(_sweep_file(tmp_path, SWEEP.replace("seeds = 2", "seeds = 3")))
    assert run_sweep(plan_runs(more, base), out, workers=1, max_runs=0) == 0
