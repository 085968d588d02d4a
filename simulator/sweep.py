"""Parameter sweeps: many runs of one scenario, varied along a grid and over seeds.

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

One *run* is one (setting, seed). Runs execute on a local process pool or, given the address of
a Dask scheduler, on a Dask distributed cluster (:func:`run_sweep`). Either way each finished run
is appended as one JSON line to ``OUT/runs.jsonl`` under its run id (a hash of setting and seed),
so a sweep started again skips the runs already there, whichever backend ran them (``OUT/sweep.json``
pins the base scenario and overrides those runs had, so another sweep cannot resume into them). A run
is a pure function of its (scenario, setting, seed), so where it ran never changes its record.

:func:`write_results` turns the records into one table with a row per run (``OUT/runs.parquet``
or ``OUT/runs.csv``: run id, setting, seed, provenance, metrics), ``OUT/summary.*`` with the mean
and the 95% Student-t confidence interval per setting and metric, and ``OUT/plots/METRIC.png``.
The t quantile is computed here (no scipy at run time). Dask, pyarrow and matplotlib are imported
only by the paths that need them.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "FORMATS",
    "PROVENANCE",
    "RunSpec",
    "SummaryRow",
    "SweepError",
    "SweepFile",
    "default_format",
    "execute_run",
    "load_sweep",
    "mean_ci",
    "plan_runs",
    "read_runs",
    "run_id",
    "run_sweep",
    "runs_table",
    "student_t_cdf",
    "student_t_quantile",
    "summarise",
    "write_plots",
    "write_results",
]

METRICS = ("wait_mean_s", "wait_p95_s", "bounded_slowdown_mean", "stuck_in_core", "violations")
"""Kept for every run, plus ``utilisation.<provider>`` for each provider."""

PROVENANCE = ("scenario", "scenario_sha256", "variant", "mutant", "ucsim_version")
"""Where each run's figures come from, kept in its record and its row of the runs table: the
scenario's name and the sha256 of the exact scenario simulated (setting and seed applied), the
rule variant and mutant, and the version of ucsim that ran it."""

FORMATS = ("parquet", "csv")
"""Formats of the runs and summary tables: Parquet (needs pyarrow) or CSV (always available)."""


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


def _base_scenario(base: str) -> Any:
    """The base scenario ("default" or a path), loaded once per process and file version: a file
    changed since (another size or modification time) is read again."""
    if base == "default":
        return _load_base(base, None)
    try:
        stat = Path(base).stat()
    except OSError:
        return _load_base(base, None)  # load_scenario says why it cannot be read
    return _load_base(base, (stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=4)
def _load_base(base: str, version: tuple[int, int] | None) -> Any:
    """Load a base scenario; ``version`` only keys the cache."""
    from simulator.scenario import load_default_scenario, load_scenario

    return load_default_scenario() if base == "default" else load_scenario(base)


def execute_run(spec: RunSpec, base_scenario: Any = None) -> dict[str, Any]:
    """Simulate one run (in whichever process, on whichever machine) and return its record for
    ``runs.jsonl``: run id, setting, seed, the :data:`PROVENANCE` fields and the metrics.

    ``base_scenario`` is the already loaded base :class:`~simulator.scenario.Scenario`; without
    it the scenario named by ``spec`` is loaded (once per process). The Dask path ships the
    loaded scenario to its workers, so they need not see the sweep's files.
    """
    from simulator.engine import Engine

    base = _base_scenario(spec.scenario) if base_scenario is None else base_scenario
    scenario = base.with_overrides({**dict(spec.overrides), **dict(spec.setting), "seed": spec.seed})
    m = Engine(scenario).run().metrics
    metrics: dict[str, Any] = {k: m[k] for k in METRICS if k != "violations"}
    for provider, value in sorted(m["utilisation"].items()):
        metrics[f"utilisation.{provider}"] = value
    metrics["violations"] = m["violations"]["total"]
    provenance = m["provenance"]
    return {
        "run_id": spec.run_id,
        "setting": dict(spec.setting),
        "seed": spec.seed,
        **{key: provenance.get(key) for key in PROVENANCE},
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


def _check_same_sweep(specs: list[RunSpec], out: Path) -> None:
    """Make sure ``OUT`` holds runs of this sweep only, or none.

    A run id hashes the setting and the seed only, so runs of two sweeps that differ in their base
    scenario or their fixed overrides would share ids, and the second would silently skip runs it
    never made. ``OUT/sweep.json`` records the sha256 of the base scenario (its seed aside) and the
    overrides of the first start; a later start with others is refused (:class:`SweepError`). Adding seeds or grid
    values keeps the identity, so a sweep can grow in place."""
    if not specs:
        return
    from simulator.engine import scenario_hash

    identities = {
        json.dumps(
            {
                # the base's own seed is replaced in every run: it is not part of the identity
                "base_scenario_sha256": scenario_hash(_base_scenario(s.scenario).with_overrides({"seed": 0})),
                "overrides": dict(s.overrides),
            },
            sort_keys=True,
        )
        for s in {(s.scenario, s.overrides): s for s in specs}.values()
    }
    if len(identities) > 1:
        raise SweepError("the runs given mix base scenarios or overrides: plan them as separate sweeps")
    [identity] = identities
    manifest = out / "sweep.json"
    if not manifest.exists():
        manifest.write_text(identity + "\n", encoding="utf-8")
        return
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise SweepError(f"{manifest}: unreadable ({error}); remove it if this folder is yours") from None
    wanted = json.loads(identity)
    if recorded != wanted:
        changed = sorted(k for k in wanted if recorded.get(k) != wanted[k])
        raise SweepError(
            f"{out} holds the runs of another sweep ({' and '.join(changed)} differ, see {manifest}): "
            "use another --out, or remove that folder to start over"
        )


def run_sweep(
    specs: list[RunSpec],
    out_dir: str | Path,
    workers: int | None = None,
    max_runs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    scheduler: str | None = None,
    connect_timeout: float = 10.0,
) -> int:
    """Execute the runs of ``specs`` not yet in ``OUT/runs.jsonl`` (at most ``max_runs`` of them),
    appending each as it finishes; returns how many were executed.

    Where the runs execute:

    * ``scheduler`` given (``"tcp://HOST:PORT"``): on that Dask distributed cluster. Dask is an
      optional extra (``pip install 'ucsim[dask]'``); without it, or when the scheduler cannot be
      reached within ``connect_timeout`` seconds, :class:`SweepError` says so. The workers need
      ucsim installed, nothing else: the base scenario is sent to them.
    * otherwise ``workers`` = 1 runs in this process, any other number on a local process pool of
      that many (default: all cores). This path never imports Dask.

    ``progress(done, total)`` is called before the first run and as runs finish. The runs already
    executed stay in ``runs.jsonl`` when a later one fails or the sweep is interrupted. ``OUT``
    must not hold the runs of a sweep with another base scenario or overrides (``OUT/sweep.json``
    says which it holds; :class:`SweepError` otherwise).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _check_same_sweep(specs, out)
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

        if scheduler is not None:
            _run_on_dask(pending, scheduler, record, connect_timeout)
        elif workers == 1 or total <= 1:
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


def _run_on_dask(
    pending: list[RunSpec],
    address: str,
    record: Callable[[dict[str, Any]], None],
    connect_timeout: float,
) -> None:
    """Run ``pending`` on the Dask cluster whose scheduler is at ``address``, calling ``record``
    with each result in the order they finish.

    Each base scenario is loaded here once and broadcast to every worker; each run is then one
    task, with a random key (``pure=False``) so that a cluster shared by several sweeps never
    hands back another sweep's result for an equal-looking task.
    """
    try:
        from distributed import Client, KilledWorker, as_completed
        from distributed.utils import CancelledError as DaskCancelledError
    except ImportError as error:
        raise SweepError(
            "running on a Dask cluster (--scheduler) needs Dask: pip install 'ucsim[dask]' "
            f"(dask[distributed]); importing it failed: {error}"
        ) from None
    from distributed.comm import get_address_host_port, parse_address

    try:  # a malformed address, refused before a Client exists (a half-built one hangs on exit)
        if parse_address(address)[0] != "inproc":  # inproc: a cluster inside this process
            get_address_host_port(address)
    except ValueError as error:
        raise SweepError(
            f"--scheduler {address!r} is not a Dask scheduler address (tcp://HOST:PORT): {error}"
        ) from None
    try:
        client = Client(address, timeout=connect_timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as error:
        raise SweepError(
            f"cannot reach the Dask scheduler at {address!r} within {connect_timeout:g} s: {error}"
        ) from None
    try:
        if not pending:
            return
        bases = {
            name: client.scatter(_base_scenario(name), broadcast=True, hash=False)
            for name in dict.fromkeys(s.scenario for s in pending)
        }
        futures = [client.submit(execute_run, s, bases[s.scenario], pure=False) for s in pending]
        by_key = {future.key: spec for future, spec in zip(futures, pending, strict=True)}
        for future in as_completed(futures, loop=client.loop):
            try:
                result = future.result()
            except (ImportError, OSError, KilledWorker, DaskCancelledError) as error:
                # The cluster, not the run, failed: a worker without ucsim (it cannot unpickle the
                # task), a worker or the scheduler gone. A bug in a run still raises as it is.
                spec = by_key[future.key]
                hint = (
                    "is ucsim installed, at the same version, on every worker?"
                    if isinstance(error, ImportError)
                    else "the cluster lost a worker or the scheduler"
                )
                raise SweepError(
                    f"run {spec.run_id} (setting {dict(spec.setting)}, seed {spec.seed}) failed on the "
                    f"Dask cluster at {address!r}: {type(error).__name__}: {error} ({hint}); the runs "
                    "finished so far are kept in runs.jsonl"
                ) from None
            record(result)
            future.release()
    finally:
        client.close()


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


@dataclass(frozen=True)
class SummaryRow:
    """One line of the summary: a setting, a metric, how many runs had it, their mean and the
    95% Student-t confidence interval of the mean (NaN bounds with fewer than two runs)."""

    setting: dict[str, Any]
    metric: str
    n: int
    mean: float
    ci95_low: float
    ci95_high: float


def default_format() -> str:
    """``"parquet"`` when pyarrow can be imported, else ``"csv"`` (checked without importing it)."""
    import importlib.util

    return "parquet" if importlib.util.find_spec("pyarrow") is not None else "csv"


def _params(specs: list[RunSpec]) -> list[str]:
    """The grid parameters, in the order of the sweep file."""
    return list(dict.fromkeys(k for s in specs for k, _ in s.setting))


def _recorded(specs: list[RunSpec], out: Path) -> list[dict[str, Any]]:
    """The records of ``specs`` found in ``OUT/runs.jsonl``, sorted by run id (so the table does not
    depend on the order in which runs finished, nor on where they ran)."""
    recorded = read_runs(out / "runs.jsonl")
    return sorted((recorded[s.run_id] for s in specs if s.run_id in recorded), key=lambda r: r["run_id"])


def runs_table(specs: list[RunSpec], out_dir: str | Path) -> tuple[list[str], list[list[Any]]]:
    """The runs table: column names and one row per recorded run of ``specs``, sorted by run id.

    Columns: ``run_id``, one per grid parameter (its dotted key), ``seed``, the :data:`PROVENANCE`
    fields, then the metrics. A run recorded by an older version lacks some provenance: ``None``.
    """
    runs = _recorded(specs, Path(out_dir))
    params = _params(specs)
    metrics = list(dict.fromkeys(k for r in runs for k in r["metrics"]))
    columns = ["run_id", *params, "seed", *PROVENANCE, *metrics]
    rows = [
        [
            r["run_id"],
            *(r["setting"].get(p) for p in params),
            r["seed"],
            *(r.get(k) for k in PROVENANCE),
            *(r["metrics"].get(m) for m in metrics),
        ]
        for r in runs
    ]
    return columns, rows


def summarise(specs: list[RunSpec], out_dir: str | Path) -> list[SummaryRow]:
    """Per setting (in the order of the sweep file) and metric: n, mean and 95% CI over the seeds
    recorded so far. A setting with no recorded run still gets its rows (n = 0, NaN figures)."""
    runs = _recorded(specs, Path(out_dir))
    metrics = list(dict.fromkeys(k for r in runs for k in r["metrics"]))
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in specs:
        groups.setdefault(json.dumps(dict(s.setting), sort_keys=True), [])
    for r in runs:
        groups[json.dumps(r["setting"], sort_keys=True)].append(r)
    rows: list[SummaryRow] = []
    for key, members in groups.items():
        for m in metrics:
            values = [float(r["metrics"][m]) for r in members if r["metrics"].get(m) is not None]
            mean, low, high = mean_ci(values)
            rows.append(SummaryRow(json.loads(key), m, len(values), mean, low, high))
    return rows


def _cell(value: Any) -> Any:
    """A value as one CSV cell: lists and tables as JSON, ``None`` as an empty cell."""
    return json.dumps(value) if isinstance(value, list | dict) else value


def _write_csv(path: Path, columns: list[str], rows: list[list[Any]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows([_cell(v) for v in row] for row in rows)


def _write_parquet(path: Path, columns: list[str], rows: list[list[Any]]) -> None:
    """Write a table with pyarrow, letting it infer each column's type. A column it cannot type
    (e.g. a grid parameter whose values are a number in one setting and a string in another) is
    stored as the JSON text of each value, as in the CSV."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = []
    for i, _ in enumerate(columns):
        values = [row[i] for row in rows]
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
            array = pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
        if pa.types.is_null(array.type):  # every value missing (e.g. no mutant): keep a usable type
            array = array.cast(pa.string() if columns[i] in PROVENANCE else pa.float64())
        arrays.append(array)
    pq.write_table(pa.Table.from_arrays(arrays, names=columns), path)


def write_results(
    specs: list[RunSpec],
    out_dir: str | Path,
    fmt: str = "csv",
    plots: bool = False,
) -> list[Path]:
    """Write the runs table (``runs.<fmt>``, see :func:`runs_table`) and the summary
    (``summary.<fmt>``: the grid parameters, ``metric``, ``n``, ``mean``, ``ci95_low``,
    ``ci95_high``), and with ``plots`` one PNG per metric in ``plots/`` (:func:`write_plots`).
    ``fmt`` is ``"csv"`` or ``"parquet"`` (which needs pyarrow: :class:`SweepError` otherwise).
    Returns the paths written."""
    if fmt not in FORMATS:
        raise SweepError(f"unknown table format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError as error:
            raise SweepError(
                f"the Parquet format needs pyarrow (pip install pyarrow), or use CSV: {error}"
            ) from None
    out = Path(out_dir)
    write = _write_parquet if fmt == "parquet" else _write_csv
    columns, rows = runs_table(specs, out)
    write(out / f"runs.{fmt}", columns, rows)
    summary = summarise(specs, out)
    params = _params(specs)
    write(
        out / f"summary.{fmt}",
        [*params, "metric", "n", "mean", "ci95_low", "ci95_high"],
        [
            [*(s.setting.get(p) for p in params), s.metric, s.n, s.mean, s.ci95_low, s.ci95_high]
            for s in summary
        ],
    )
    written = [out / f"runs.{fmt}", out / f"summary.{fmt}"]
    if plots:
        written += write_plots(summary, params, out / "plots")
    return written


def _label(setting: Mapping[str, Any], params: list[str]) -> str:
    """A setting as a short axis label: ``policy=easy`` (the last part of each dotted key, unless
    two parameters share it), one parameter per line."""
    shorts = [p.rsplit(".", 1)[-1] for p in params]
    names = shorts if len(set(shorts)) == len(shorts) else params
    return "\n".join(f"{n}={_cell(setting.get(p))}" for n, p in zip(names, params, strict=True)) or "all"


def write_plots(summary: list[SummaryRow], params: list[str], out: Path) -> list[Path]:
    """One PNG per metric (``out/METRIC.png``): the mean of each setting with its 95% confidence
    interval as an error bar (no bar when a setting has fewer than two runs). matplotlib is
    imported here, with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    by_metric: dict[str, list[SummaryRow]] = {}
    for row in summary:
        by_metric.setdefault(row.metric, []).append(row)
    written = []
    for metric, rows in by_metric.items():
        xs = list(range(len(rows)))
        means = [r.mean for r in rows]
        below = [0.0 if math.isnan(r.ci95_low) else r.mean - r.ci95_low for r in rows]
        above = [0.0 if math.isnan(r.ci95_high) else r.ci95_high - r.mean for r in rows]
        fig, ax = plt.subplots(figsize=(min(30.0, max(6.0, 0.8 * len(rows) + 2)), 4))
        ax.errorbar(xs, means, yerr=[below, above], fmt="o", capsize=4)
        ax.set_xlim(-0.5, len(rows) - 0.5)
        ax.set_xticks(xs, [_label(r.setting, params) for r in rows], rotation=30 if len(rows) > 6 else 0)
        n = sorted({r.n for r in rows})
        runs = str(n[0]) if len(n) == 1 else f"{n[0]}-{n[-1]}"
        ax.set(ylabel=metric, title=f"{metric}: mean and 95% CI over {runs} seeds per setting")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        path = out / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', metric)}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
