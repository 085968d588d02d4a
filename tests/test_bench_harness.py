"""The benchmark harness: timing, well-formed records, a report built from records only, and the trace
benchmark end to end at a tiny size."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import orjson
import pytest

# ``benchmarks`` is a folder of the repository, not an installed package: make it importable when
# pytest runs from elsewhere (``python -m benchmarks.run`` runs from the repository root).
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from benchmarks import bench_trace, report  # noqa: E402
from benchmarks import run as bench_run  # noqa: E402
from benchmarks.harness import (  # noqa: E402
    Record,
    make_record,
    measure,
    read_records,
    results_dir,
    write_records,
)
from spec.trace import read_trace  # noqa: E402


def test_measure_takes_the_best_of_n():
    delays = iter([0.02, 0.001, 0.02])
    timing = measure(lambda: time.sleep(next(delays)), repeat=3)
    assert len(timing.times) == 3
    assert timing.best == min(timing.times)
    assert 0.0009 < timing.best < 0.015
    assert timing.rate(10) == pytest.approx(10 / timing.best)


def test_measure_divides_by_number_and_reports_peak_memory():
    calls = []
    timing = measure(lambda: calls.append(bytearray(4 << 20)), repeat=2, number=3, memory=True)
    assert len(calls) == 2 * 3 + 1  # the memory run is one more call
    assert timing.number == 3
    assert timing.peak_bytes is not None and timing.peak_bytes >= 4 << 20


def test_measure_refuses_zero_repeats():
    with pytest.raises(ValueError):
        measure(lambda: None, repeat=0)


def test_make_record_computes_the_ratio_and_stamps_machine_and_date():
    record = make_record(
        "demo.speed", 300.0, "lines/s", baseline="bare", baseline_value=600.0, details={"n": 5}
    )
    assert record.ratio == pytest.approx(0.5)
    assert record.benchmark == "demo"
    assert "CPUs" in record.machine and "Python" in record.machine
    stamp = dt.datetime.fromisoformat(record.date)
    assert stamp.tzinfo is not None and abs(dt.datetime.now(dt.UTC) - stamp) < dt.timedelta(minutes=5)
    assert make_record("demo.alone", 1.0, "s").ratio is None
    with pytest.raises(ValueError):
        make_record("demo.half", 1.0, "s", baseline="bare")


def test_records_are_written_one_json_file_per_figure(tmp_path):
    records = [
        make_record("demo.read", 10.0, "lines/s", baseline="bare", baseline_value=20.0),
        make_record("demo.write", 5.0, "lines/s"),
    ]
    paths = write_records(records, tmp_path)
    assert sorted(p.name for p in paths) == ["demo.read.json", "demo.write.json"]
    stored = orjson.loads((tmp_path / "demo.read.json").read_bytes())
    assert list(stored)[:8] == [
        "name",
        "value",
        "unit",
        "baseline",
        "baseline_value",
        "ratio",
        "machine",
        "date",
    ]
    assert (stored["name"], stored["value"], stored["unit"], stored["ratio"]) == (
        "demo.read",
        10.0,
        "lines/s",
        0.5,
    )
    assert read_records(tmp_path) == records


def test_a_malformed_record_is_named(tmp_path):
    (tmp_path / "broken.json").write_text('{"name": "x"}')
    with pytest.raises(ValueError, match=r"broken\.json"):
        read_records(tmp_path)


def test_results_dir_can_be_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("UCSIM_BENCH_RESULTS", str(tmp_path / "env"))
    assert results_dir() == tmp_path / "env"
    assert results_dir(tmp_path / "arg") == tmp_path / "arg"


def test_the_report_is_built_from_the_records_only(tmp_path):
    results = tmp_path / "results"
    write_records(
        [
            Record(
                "alpha.speed",
                1234.5,
                "lines/s",
                "bare",
                2469.0,
                0.5,
                "test machine",
                "2026-01-02T03:04:05+00:00",
            ),
            Record(
                "beta.size",
                3.0,
                "MiB",
                None,
                None,
                None,
                "test machine",
                "2026-01-02T03:04:05+00:00",
                {"n": 7},
            ),
        ],
        results,
    )
    out = report.build_report(results, tmp_path / "REPORT.md")
    text = out.read_text()
    assert "same run" in text  # the preface explains the baselines
    assert "## alpha" in text and "## beta" in text
    assert "| figure | value | unit | baseline | baseline value | ratio | machine | date |" in text
    assert (
        "| alpha.speed | 1,234 | lines/s | bare | 2,469 | 0.50 | test machine | 2026-01-02T03:04:05+00:00 |"
        in text
    )
    assert "| beta.size | 3 | MiB | – | – | – |" in text
    assert "`beta.size`: n=7" in text
    # change a stored figure by hand: the report follows the records, it does not re-measure
    stored = orjson.loads((results / "alpha.speed.json").read_bytes())
    stored["value"] = 99999.0
    (results / "alpha.speed.json").write_bytes(orjson.dumps(stored))
    assert "| alpha.speed | 99,999 |" in report.build_report(results, tmp_path / "REPORT.md").read_text()


def test_bench_trace_runs_at_a_tiny_size(tmp_path):
    records = bench_trace.run(True, lines=300, repeat=1)
    by_name = {r.name: r for r in records}
    assert set(by_name) == {"trace.read_validate", "trace.write", "trace.read_peak_memory"}
    read = by_name["trace.read_validate"]
    assert read.unit == "lines/s" and read.value > 0 and read.baseline == "orjson.loads per line"
    assert read.ratio == pytest.approx(read.value / read.baseline_value)
    assert by_name["trace.write"].baseline == "orjson.dumps + write"
    assert read.details["lines"] == 300
    write_records(records, tmp_path)
    assert len(read_records(tmp_path)) == 3


def test_the_synthetic_trace_is_a_valid_trace_of_the_requested_size(tmp_path):
    path = tmp_path / "t.jsonl"
    bench_trace.write_synthetic_trace(path, 50)
    lines = list(read_trace(path))
    assert len(lines) == 50
    assert {line.call for line in lines} >= {"jobs.create", "jobs.provider.create", "jobs.control.update"}
    assert any(line.facts for line in lines)


def test_the_runner_runs_a_named_benchmark_and_rebuilds_the_report(tmp_path, monkeypatch):
    original = bench_trace.run

    def tiny(quick: bool):
        assert quick
        return original(quick, lines=200, repeat=1)

    monkeypatch.setattr(bench_trace, "run", tiny)
    results, out = tmp_path / "results", tmp_path / "REPORT.md"
    status = bench_run.main(["--quick", "--only", "trace", "--results", str(results), "--report", str(out)])
    assert status == 0
    assert (results / "trace.write.json").exists()
    assert "| trace.read_validate |" in out.read_text()


def test_the_runner_refuses_an_unknown_benchmark():
    with pytest.raises(SystemExit, match=r"available: .*\btrace\b"):
        bench_run.discover(["nonesuch"])


def test_spec_benchmark_end_to_end_tiny() -> None:
    from benchmarks import bench_spec

    records = bench_spec.run(quick=True, episodes=3, repeat=1)
    assert [r.name for r in records] == ["spec.walk", "spec.walk_checked"]
    for r in records:
        assert r.unit == "steps/s" and r.value > 0 and r.details["steps"] > 3 * bench_spec.DEPTH // 2
        # Stepping the protocol costs more than only drawing the same random numbers.
        assert r.ratio is not None and 0 < r.ratio < 1


def test_checking_benchmark_bare_bfs_counts_the_states_of_a_tiny_model() -> None:
    from benchmarks.bench_checking import bare_bfs
    from spec.explore import ExploreSettings, explore, explore_model

    settings = ExploreSettings(jobs=1, restart=False, duplicates=0)
    assert bare_bfs(explore_model(settings)) == explore(settings, symmetry=False).states
