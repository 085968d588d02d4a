"""Run the benchmarks and rebuild the report: ``python -m benchmarks.run [--quick] [--only NAME]``.

Every module ``benchmarks/bench_NAME.py`` is a benchmark; it exposes ``run(quick: bool) -> list[Record]``
(see :mod:`benchmarks.harness`). The runner imports each (or only ``NAME``), runs it, stores its records
as JSON in the results folder, then rebuilds ``REPORT.md`` from all the records stored there. A
benchmark that fails is reported and the others still run; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from collections.abc import Sequence
from types import ModuleType

import benchmarks
from benchmarks.harness import Record, results_dir, write_records
from benchmarks.report import build_report

__all__ = ["discover", "main", "run_benchmarks"]


def discover(only: Sequence[str] = ()) -> list[ModuleType]:
    """Import the benchmark modules (``bench_*``), sorted by name; ``only`` keeps those named (with or
    without the ``bench_`` prefix). An unknown name is an error."""
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    if only:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in only}
        unknown = wanted - set(names)
        if unknown:
            available = ", ".join(n.removeprefix("bench_") for n in names)
            raise SystemExit(f"unknown benchmark {', '.join(sorted(unknown))}; available: {available}")
        names = [n for n in names if n in wanted]
    return [importlib.import_module(f"benchmarks.{name}") for name in names]


def run_benchmarks(
    modules: Sequence[ModuleType], *, quick: bool, results: str | None = None
) -> tuple[list[Record], list[str]]:
    """Run each module's ``run(quick)`` and store its records; returns (records, names that failed)."""
    records: list[Record] = []
    failed: list[str] = []
    for module in modules:
        name = module.__name__.rsplit(".", 1)[-1]
        print(f"{name}: running{' (quick)' if quick else ''}...", flush=True)
        started = time.perf_counter()
        try:
            produced = list(module.run(quick))
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        write_records(produced, results)
        records.extend(produced)
        for r in produced:
            ratio = "" if r.ratio is None else f"  ({r.ratio:.2f}x {r.baseline})"
            print(f"  {r.name}: {r.value:,.1f} {r.unit}{ratio}")
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    return records, failed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a fast look or CI")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this benchmark")
    parser.add_argument("--results", help="folder for the JSON records (default benchmarks/results)")
    parser.add_argument("--report", help="report file to rebuild (default benchmarks/REPORT.md)")
    args = parser.parse_args(argv)
    _, failed = run_benchmarks(discover(args.only), quick=args.quick, results=args.results)
    report = build_report(results_dir(args.results), args.report)
    print(f"report: {report}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
