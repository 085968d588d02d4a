"""Sweeps on Dask: a real ``distributed.LocalCluster`` on loopback runs the same runs as the local
pool with identical per-run results, resumes what the local path started, and a missing Dask or an
unreachable scheduler is a one-line error, not a traceback."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from simulator.sweep import RunSpec, SweepError, load_sweep, plan_runs, read_runs, run_sweep, write_results

distributed = pytest.importorskip("distributed")

# The "done when": at least 3 settings x 10 seeds, locally and on a LocalCluster. A run
# simulates 8 jobs (about 10 ms), so the cluster's start-up dominates.
SWEEP = """
scenario = "default"
seeds = 10
first_seed = 1
[overrides]
"run.jobs" = 8
[grid]
"providers.1.scheduling.policy" = ["fcfs", "easy", "k8s-priority"]
"""


@pytest.fixture
def sweep_file(tmp_path: Path) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP, encoding="utf-8")
    return path


# dashboard_address=":0": the scheduler's HTTP server takes any free port, so clusters started at
# the same time (pytest -n 2, other test runs on the machine) do not race for 8787.


@pytest.fixture(scope="module")
def threads_cluster() -> Iterator[str]:
    """A cluster of two single-threaded workers in this process (fast to start), reached over TCP
    on loopback as a remote one would be; its address."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=":0",
    ) as cluster:
        yield cluster.scheduler_address


def _free_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_local_and_dask_give_identical_runs(sweep_file: Path, tmp_path: Path) -> None:
    """3 settings x 10 seeds on the local pool and on a LocalCluster of two worker *processes*
    (so specs, the scenario and results really cross process boundaries, pickled): the same 30
    records, and byte-identical runs tables."""
    sweep, base = load_sweep(sweep_file)
    specs = plan_runs(sweep, base)
    assert len(specs) == 30
    local, dask = tmp_path / "local", tmp_path / "dask"
    assert run_sweep(specs, local, workers=2) == 30
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        assert run_sweep(specs, dask, scheduler=cluster.scheduler_address) == 30
    on_local, on_dask = read_runs(local / "runs.jsonl"), read_runs(dask / "runs.jsonl")
    assert set(on_local) == {s.run_id for s in specs}
    assert on_dask == on_local
    for out in (local, dask):
        write_results(specs, out, fmt="csv")
    table = (local / "runs.csv").read_text(encoding="utf-8")
    assert (dask / "runs.csv").read_text(encoding="utf-8") == table
    assert len(table.splitlines()) == 31
    # the runs differ from each other, so equal tables are not equal by accident
    assert len({r["scenario_sha256"] for r in on_local.values()}) == 30
    assert len({r["metrics"]["wait_mean_s"] for r in on_local.values()}) >= 10  # one per seed at least


def test_dask_resumes_what_the_local_path_started(
    sweep_file: Path, tmp_path: Path, threads_cluster: str
) -> None:
    """runs.jsonl is shared by both paths: 7 runs locally, then Dask executes exactly the 23 others,
    then nothing; every run is recorded once."""
    assert threads_cluster.startswith("tcp://127.0.0.1:")
    sweep, base = load_sweep(sweep_file)
    specs = plan_runs(sweep, base)
    out = tmp_path / "out"
    assert run_sweep(specs, out, workers=1, max_runs=7) == 7
    seen: list[tuple[int, int]] = []
    executed = run_sweep(
        specs, out, scheduler=threads_cluster, progress=lambda done, total: seen.append((done, total))
    )
    assert executed == 23
    assert seen == [(i, 23) for i in range(24)]
    assert run_sweep(specs, out, scheduler=threads_cluster) == 0
    ids = [json.loads(line)["run_id"] for line in (out / "runs.jsonl").read_text().splitlines()]
    assert sorted(ids) == sorted(s.run_id for s in specs)


def test_cli_on_a_cluster(sweep_file: Path, tmp_path: Path, threads_cluster: str) -> None:
    """`ucsim sweep --scheduler` runs the sweep there and writes the same tables as locally."""
    from ucsim.cli import main

    out = tmp_path / "out"
    args = ["sweep", str(sweep_file), "--out", str(out), "--format", "csv", "--no-plots"]
    result = CliRunner().invoke(main, [*args, "--scheduler", threads_cluster])
    assert result.exit_code == 0, result.output
    assert "30 executed" in result.output
    local = CliRunner().invoke(
        main,
        [
            "sweep",
            str(sweep_file),
            "--out",
            str(tmp_path / "local"),
            "--workers",
            "1",
            "--format",
            "csv",
            "--no-plots",
        ],
    )
    assert local.exit_code == 0, local.output
    assert (out / "runs.csv").read_bytes() == (tmp_path / "local" / "runs.csv").read_bytes()
    both = CliRunner().invoke(main, [*args, "--scheduler", threads_cluster, "--workers", "2"])
    assert both.exit_code == 2 and "--workers" in both.output


def test_an_unreachable_scheduler_is_a_clear_error(sweep_file: Path, tmp_path: Path) -> None:
    """Nobody listens at the address: SweepError naming it; the CLI prints one line, exit 2."""
    sweep, base = load_sweep(sweep_file)
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(SweepError, match=f"cannot reach the Dask scheduler at '{address}'"):
        run_sweep(plan_runs(sweep, base), tmp_path / "out", scheduler=address, connect_timeout=0.5)
    from ucsim.cli import main

    args = ["sweep", str(sweep_file), "--out", str(tmp_path / "out"), "--scheduler", address]
    result = CliRunner().invoke(main, [*args, "--connect-timeout", "0.5"])
    assert result.exit_code == 2
    assert "Error: cannot reach the Dask scheduler" in result.output
    assert "Traceback" not in result.output
    assert not read_runs(tmp_path / "out" / "runs.jsonl")


@pytest.mark.parametrize("address", ["http://host:8786", "garbage", "tcp://host", "tcp://host:port"])
def test_a_malformed_address_is_a_clear_error(sweep_file: Path, tmp_path: Path, address: str) -> None:
    """An address that is not tcp://HOST:PORT is refused at once, naming it, without a traceback."""
    from ucsim.cli import main

    args = ["sweep", str(sweep_file), "--out", str(tmp_path / "out"), "--scheduler", address]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert f"Error: --scheduler {address!r} is not a Dask scheduler address" in result.output
    assert "Traceback" not in result.output


def test_without_dask_the_error_says_what_to_install(
    sweep_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `distributed` not importable, --scheduler says to install the 'dask' extra."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    from ucsim.cli import main

    args = ["sweep", str(sweep_file), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "pip install 'ucsim[dask]'" in result.output
    assert "Traceback" not in result.output


def test_a_worker_that_cannot_import_is_a_clear_error(
    sweep_file: Path, tmp_path: Path, threads_cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker failing to import (as one without ucsim would) stops the sweep with a SweepError
    naming the run and the likely cause; the runs that finished are kept, and a later start runs
    the rest."""
    from simulator import sweep as sweep_module

    original = sweep_module.execute_run

    def broken(spec: RunSpec, base_scenario: Any = None) -> dict[str, Any]:
        if spec.seed == 4:
            raise ModuleNotFoundError("No module named 'simpy'")
        return original(spec, base_scenario)

    sweep, base = load_sweep(sweep_file)
    specs = plan_runs(sweep, base)
    out = tmp_path / "out"
    monkeypatch.setattr(sweep_module, "execute_run", broken)
    with pytest.raises(SweepError, match=r"seed 4\) failed on the Dask cluster.*is ucsim installed"):
        run_sweep(specs, out, scheduler=threads_cluster)
    monkeypatch.setattr(sweep_module, "execute_run", original)
    kept = read_runs(out / "runs.jsonl")
    assert all(r["seed"] != 4 for r in kept.values()) and len(kept) < 30
    assert run_sweep(specs, out, scheduler=threads_cluster) == 30 - len(kept)
