"""The benchmark harness: time a function, turn figures into records, store records as JSON.

Every figure is measured **against a baseline measured in the same run**, on the same machine, on the
same data: absolute numbers from a shared or noisy machine say little, the ratio to a well-chosen
baseline says much more (e.g. "reading and validating a trace runs at 0.6x the speed of bare
``orjson.loads``").

A benchmark module ``benchmarks/bench_NAME.py`` exposes ``run(quick: bool) -> list[Record]``; the runner
(:mod:`benchmarks.run`) writes the records with :func:`write_records` and rebuilds ``REPORT.md`` from the
stored records only (:mod:`benchmarks.report`).

>>> timing = measure(lambda: sum(range(1000)), repeat=3, number=10)
>>> timing.best > 0 and len(timing.times) == 3
True
>>> rec = make_record("demo.sum", 2.0, "Mops/s", baseline="builtin", baseline_value=4.0)
>>> rec.ratio
0.5
"""

from __future__ import annotations

import datetime as _dt
import gc
import os
import platform
import re
import time
import tracemalloc
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "RESULTS_DIR",
    "Measurement",
    "Record",
    "loads_every_line",
    "machine_description",
    "make_record",
    "measure",
    "read_records",
    "results_dir",
    "write_records",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
"""Default folder of the JSON records (git-ignored but for ``.gitkeep``)."""

_RESULTS_ENV = "UCSIM_BENCH_RESULTS"


def results_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The records folder: ``override``, else ``$UCSIM_BENCH_RESULTS``, else :data:`RESULTS_DIR`."""
    if override is not None:
        return Path(override)
    env = os.environ.get(_RESULTS_ENV)
    return Path(env) if env else RESULTS_DIR


@dataclass(frozen=True)
class Measurement:
    """What :func:`measure` saw: seconds per call for each repeat, the best of them, and optionally the
    peak memory allocated by Python during one extra call."""

    times: tuple[float, ...]
    number: int
    peak_bytes: int | None = None

    @property
    def best(self) -> float:
        """The fastest repeat, in seconds per call: the least disturbed by the rest of the machine."""
        return min(self.times)

    def rate(self, items: int) -> float:
        """Items per second at the best repeat, when one call handles ``items`` items."""
        return items / self.best


def measure(
    fn: Callable[[], object],
    *,
    repeat: int = 5,
    number: int = 1,
    memory: bool = False,
    setup: Callable[[], object] | None = None,
) -> Measurement:
    """Time ``fn()``: ``repeat`` rounds of ``number`` calls each, with ``time.perf_counter``.

    Returns seconds per call for every round; :attr:`Measurement.best` is best-of-N, the usual estimate
    of the cost without interference. ``setup`` (untimed) runs before every round. Garbage collection
    is paused while timing, as ``timeit`` does. With ``memory=True`` one more call runs under
    ``tracemalloc`` (which slows it down, so it is not timed) to find the peak of Python allocations.
    """
    if repeat < 1 or number < 1:
        raise ValueError("repeat and number must be >= 1")
    times: list[float] = []
    gc_was_enabled = gc.isenabled()
    try:
        for _ in range(repeat):
            if setup is not None:
                setup()
            gc.collect()
            gc.disable()
            start = time.perf_counter()
            for _ in range(number):
                fn()
            elapsed = time.perf_counter() - start
            if gc_was_enabled:
                gc.enable()
            times.append(elapsed / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    peak = None
    if memory:
        if setup is not None:
            setup()
        gc.collect()
        already_tracing = tracemalloc.is_tracing()
        if not already_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        try:
            fn()
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            if not already_tracing:
                tracemalloc.stop()
    return Measurement(tuple(times), number, peak)


@dataclass(frozen=True)
class Record:
    """One figure of one benchmark, as stored in ``results/<name>.json`` and shown in ``REPORT.md``.

    * ``name`` - ``"<benchmark>.<figure>"``, e.g. ``"trace.read_validate"`` (the report groups by the
      part before the first dot);
    * ``value`` and ``unit`` - the figure (e.g. ``412000.0``, ``"lines/s"``);
    * ``baseline`` and ``baseline_value`` - what it is compared with, measured in the same run, in the
      same unit; ``ratio`` = ``value / baseline_value``;
    * ``machine`` and ``date`` - where and when (ISO 8601, UTC);
    * ``details`` - free-form facts about the run (sizes, quick mode...).
    """

    name: str
    value: float
    unit: str
    baseline: str | None
    baseline_value: float | None
    ratio: float | None
    machine: str
    date: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def benchmark(self) -> str:
        """The benchmark a figure belongs to: its name up to the first dot."""
        return self.name.split(".", 1)[0]

    def to_json(self) -> dict[str, Any]:
        """The record as stored (field order as declared)."""
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Record:
        """Read a stored record; raises ``ValueError`` naming what is missing or ill-typed."""
        if not isinstance(obj, dict):
            raise ValueError(f"a record must be a JSON object, got {type(obj).__name__}")
        missing = [k for k in _REQUIRED if k not in obj]
        if missing:
            raise ValueError(f"record lacks {', '.join(missing)}")
        if not isinstance(obj["name"], str) or not isinstance(obj["unit"], str):
            raise ValueError("record name and unit must be strings")
        for key in ("value", "baseline_value", "ratio"):
            v = obj[key]
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise ValueError(f"record {key} must be a number or null, got {v!r}")
        if obj["value"] is None:
            raise ValueError("record value must be a number")
        return cls(
            name=obj["name"],
            value=float(obj["value"]),
            unit=obj["unit"],
            baseline=obj["baseline"],
            baseline_value=None if obj["baseline_value"] is None else float(obj["baseline_value"]),
            ratio=None if obj["ratio"] is None else float(obj["ratio"]),
            machine=str(obj["machine"]),
            date=str(obj["date"]),
            details=dict(obj.get("details") or {}),
        )


_REQUIRED = ("name", "value", "unit", "baseline", "baseline_value", "ratio", "machine", "date")


@cache
def machine_description() -> str:
    """Where a figure was measured: OS, architecture, CPU model, CPU count and Python version."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for text in info:
                if text.startswith("model name"):
                    cpu = text.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    parts = [f"{platform.system()} {platform.machine()}"]
    if cpu:
        parts.append(cpu)
    parts.append(f"{os.cpu_count()} CPUs")
    parts.append(f"{platform.python_implementation()} {platform.python_version()}")
    return ", ".join(parts)


def make_record(
    name: str,
    value: float,
    unit: str,
    *,
    baseline: str | None = None,
    baseline_value: float | None = None,
    details: dict[str, Any] | None = None,
) -> Record:
    """A :class:`Record` for this machine and now, with ``ratio = value / baseline_value``."""
    if (baseline is None) != (baseline_value is None):
        raise ValueError("give both baseline and baseline_value, or neither")
    ratio = None if not baseline_value else value / baseline_value
    return Record(
        name=name,
        value=float(value),
        unit=unit,
        baseline=baseline,
        baseline_value=None if baseline_value is None else float(baseline_value),
        ratio=ratio,
        machine=machine_description(),
        date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        details=dict(details or {}),
    )


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".json"


def write_records(records: Iterable[Record], out_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Store each record as ``<out_dir>/<name>.json`` (one file per figure, overwriting the previous run's
    figure of the same name). Returns the files written."""
    folder = results_dir(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for record in records:
        path = folder / _file_name(record.name)
        path.write_bytes(
            orjson.dumps(record.to_json(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        )
        written.append(path)
    return written


def read_records(out_dir: str | os.PathLike[str] | None = None) -> list[Record]:
    """Every record stored in ``out_dir`` (see :func:`results_dir`), sorted by name."""
    folder = results_dir(out_dir)
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            records.append(Record.from_json(orjson.loads(path.read_bytes())))
        except (orjson.JSONDecodeError, ValueError) as error:
            raise ValueError(f"{path}: not a benchmark record: {error}") from None
    return sorted(records, key=lambda r: r.name)


def loads_every_line(path: str | os.PathLike[str]) -> None:
    """Decode every line of a JSON Lines file with ``orjson.loads`` and nothing else: the baseline of
    every benchmark that reads traces (what any reader must at least pay)."""
    loads = orjson.loads
    with open(path, "rb", buffering=1 << 20) as stream:
        for raw in stream:
            loads(raw)
