"""Parameter sweeps: many runs of one scenario, varied along a grid and over seeds (local path).

A sweep file (TOML) names a base scenario, fixed overrides, the parameters to vary (dotted
scenario keys, each with a list of values: the settings are their cartesian product) and the
number of seeds::

    scenario = "default"            # or a path, relative to the sweep file
    seeds = 10                      # seeds first_seed .. first_seed + seeds - 1
    first_seed = 1
    [overrides]                     # applied to every run
    "run.jobs" = 200
    [grid]
    "providers.1.scheduling.policy" = ["fcfs", "easy"]

One *run* is one (setting, seed). Runs execute on a process pool; each finished run is appended
as one JSON line to ``OUT/runs.jsonl`` under its run id (a hash of setting and seed), so a sweep
started again skips the runs already there. ``OUT/runs.csv`` has one row per run (sorted by run
id) and ``OUT/summary.csv`` the mean and the 95% Student-t confidence interval per setting and
metric. The t quantile is computed here (no scipy at run time).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import tomllib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "RunSpec",
    "SweepError",
    "SweepFile",
    "execute_run",
    "load_sweep",
    "mean_ci",
    "plan_runs",
    "read_runs",
    "run_id",
    "run_sweep",
    "student_t_cdf",
    "student_t_quantile",
    "write_results",
]

METRICS = ("wait_mean_s", "wait_p95_s", "bounded_slowdown_mean", "violations")
"""Kept for every run, plus ``utilisation.<provider>`` for each provider."""


class SweepError(Exception):
    """A sweep file that cannot be used; the message names the file and the field."""


class SweepFile(BaseModel):
    """The sweep file, validated (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")

    scenario: str = Field("default", description='Base scenario: a TOML path or "default".')
    seeds: int = Field(1, ge=1, description="Number of seeds per setting.")
    first_seed: int = Field(0, ge=0, description="The first seed; seeds are consecutive.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted keys set in every run.")
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="Dotted keys and their values; settings = cartesian product."
    )

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """Every grid parameter needs at least one value, and no parameter may be the seed."""
        for key, values in grid.items():
            if not values:
                raise ValueError(f"parameter {key!r} has no values")
            if key == "seed":
                raise ValueError("the seed is not a grid parameter: use `seeds` and `first_seed`")
        return grid

    def settings(self) -> list[dict[str, Any]]:
        """The settings of the grid, in the order of the file (last key varies fastest)."""
        keys = list(self.grid)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*self.grid.values())]


@dataclass(frozen=True)
class RunSpec:
    """One run: the base scenario, the overrides of every run, one setting and one seed."""

    scenario: str
    overrides: tuple[tuple[str, Any], ...]
    setting: tuple[tuple[str, Any], ...]
    seed: int

    @property
    def run_id(self) -> str:
        """The run's id (a hash of setting and seed)."""
        return run_id(dict(self.setting), self.seed)


def run_id(setting: Mapping[str, Any], seed: int) -> str:
    """A stable id for (setting, seed): 16 hex digits of the sha256 of their canonical JSON."""
    text = json.dumps({"setting": dict(setting), "seed": seed}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _field_path(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc) or "<file>"


def load_sweep(path: str | Path) -> tuple[SweepFile, str]:
    """Read and validate a sweep file; returns it and the base scenario ("default" or an absolute
    path). Every setting is checked against the scenario (a wrong key or value is an error).
    Raises :class:`SweepError`."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SweepError(f"{path}: cannot read: {error.strerror or error}") from error
    except tomllib.TOMLDecodeError as error:
        raise SweepError(f"{path}: not valid TOML: {error}") from error
    try:
        sweep = SweepFile.model_validate(data)
    except ValidationError as error:
        lines = [f"{path}: field {_field_path(e['loc'])!r}: {e['msg']}" for e in error.errors()]
        raise SweepError("\n".join(lines)) from error
    base = sweep.scenario if sweep.scenario == "default" else str((path.parent / sweep.scenario).resolve())
    from simulator.scenario import ScenarioError

    try:
        scenario = _base_scenario(base)
    except ScenarioError as error:
        raise SweepError(f"{path}: field 'scenario': {error}") from error
    for setting in sweep.settings():
        try:
            scenario.with_overrides({**sweep.overrides, **setting, "seed": sweep.first_seed})
        except (ScenarioError, KeyError, IndexError, ValueError, TypeError) as error:
            raise SweepError(f"{path}: field 'grid' (setting {setting}): {error}") from error
    return sweep, base


def plan_runs(sweep: SweepFile, base: str) -> list[RunSpec]:
    """Every run of the sweep, setting by setting, seed by seed."""
    overrides = tuple(sweep.overrides.items())
    return [
        RunSpec(base, overrides, tuple(setting.items()), seed)
        for setting in sweep.settings()
        for seed in range(sweep.first_seed, sweep.first_seed + sweep.seeds)
    ]


@lru_cache(maxsize=4)
def _base_scenario(base: str) -> Any:
    """The base scenario, loaded once per process."""
    from simulator.scenario import load_default_scenario, load_scenario

    return load_default_scenario() if base == "default" else load_scenario(base)


def execute_run(spec: RunSpec) -> dict[str, Any]:
    """Simulate one run (in whichever process) and return its record for ``runs.jsonl``."""
    from simulator.engine import Engine

    scenario = _base_scenario(spec.scenario).with_overrides(
        {**dict(spec.overrides), **dict(spec.setting), "seed": spec.seed}
    )
    m = Engine(scenario).run().metrics
    metrics: dict[str, Any] = {k: m[k] for k in METRICS if k != "violations"}
    for provider, value in sorted(m["utilisation"].items()):
        metrics[f"utilisation.{provider}"] = value
    metrics["violations"] = m["violations"]["total"]
    return {
        "run_id": spec.run_id,
        "setting": dict(spec.setting),
        "seed": spec.seed,
        "scenario_sha256": m["provenance"]["scenario_sha256"],
        "metrics": metrics,
    }


def read_runs(path: Path) -> dict[str, dict[str, Any]]:
    """The runs recorded in ``runs.jsonl`` by id. A line cut short by an interruption is dropped
    (and the file rewritten without it, so the next append starts on a line of its own)."""
    if not path.exists():
        return {}
    runs: dict[str, dict[str, Any]] = {}
    text = path.read_text(encoding="utf-8")
    clean = True
    for line in text.splitlines():
        try:
            record = json.loads(line)
            runs[record["run_id"]] = record
        except (json.JSONDecodeError, KeyError, TypeError):
            clean = False
    if not clean or (text and not text.endswith("\n")):
        path.write_text(
            "".join(json.dumps(r, sort_keys=True) + "\n" for r in runs.values()), encoding="utf-8"
        )
    return runs


def run_sweep(
    specs: list[RunSpec],
    out_dir: str | Path,
    workers: int | None = None,
    max_runs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Execute the runs of ``specs`` not yet in ``OUT/runs.jsonl`` (at most ``max_runs`` of them),
    appending each as it finishes; returns how many were executed. ``workers`` = 1 runs in this
    process; otherwise a process pool of that many (default: all cores). ``progress(done, total)``
    is called as runs finish."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.jsonl"
    done = read_runs(log)
    pending = [s for s in specs if s.run_id not in done]
    if max_runs is not None:
        pending = pending[:max_runs]
    total = len(pending)
    if progress:
        progress(0, total)
    executed = 0
    with open(log, "a", encoding="utf-8") as f:

        def record(result: dict[str, Any]) -> None:
            nonlocal executed
            f.write(json.dumps(result, sort_keys=True) + "\n")
            f.flush()
            executed += 1
            if progress:
                progress(executed, total)

        if workers == 1 or total <= 1:
            for spec in pending:
                record(execute_run(spec))
        elif total:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures: set[Future[dict[str, Any]]] = {pool.submit(execute_run, s) for s in pending}
                while futures:
                    finished, futures = wait(futures, return_when=FIRST_COMPLETED)
                    for future in finished:
                        record(future.result())
    return executed


# -- Student t ------------------------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def student_t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def student_t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (bisection on the CDF, to machine precision)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), not {p}")
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, not {df}")
    if p < 0.5:
        return -student_t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while student_t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if student_t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def mean_ci(values: list[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval (low, high); the interval is NaN for fewer than two
    values, and collapses to the mean when they are all equal."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = math.fsum(values) / n
    if n < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = student_t_quantile(0.5 + confidence / 2.0, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


# -- results --------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def write_results(specs: list[RunSpec], out_dir: str | Path) -> list[Path]:
    """Write ``runs.csv`` (one row per run of ``specs`` found in ``runs.jsonl``, sorted by run id)
    and ``summary.csv`` (per setting and metric: n, mean, 95% CI). Returns the paths written."""
    out = Path(out_dir)
    recorded = read_runs(out / "runs.jsonl")
    runs = sorted((recorded[s.run_id] for s in specs if s.run_id in recorded), key=lambda r: r["run_id"])
    params = list(dict.fromkeys(k for s in specs for k, _ in s.setting))
    metrics = list(dict.fromkeys(k for r in runs for k in r["metrics"]))
    with open(out / "runs.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run_id", *params, "seed", "scenario_sha256", *metrics])
        for r in runs:
            w.writerow(
                [
                    r["run_id"],
                    *(_cell(r["setting"].get(p)) for p in params),
                    r["seed"],
                    r["scenario_sha256"],
                    *(r["metrics"].get(m) for m in metrics),
                ]
            )
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in specs:
        groups.setdefault(json.dumps(dict(s.setting), sort_keys=True), [])
    for r in runs:
        groups[json.dumps(r["setting"], sort_keys=True)].append(r)
    with open(out / "summary.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow([*params, "metric", "n", "mean", "ci95_low", "ci95_high"])
        for key, members in groups.items():
            setting = json.loads(key)
            for m in metrics:
                values = [float(r["metrics"][m]) for r in members if r["metrics"].get(m) is not None]
                mean, low, high = mean_ci(values)
                w.writerow([*(_cell(setting.get(p)) for p in params), m, len(values), mean, low, high])
    return [out / "runs.csv", out / "summary.csv"]
