"""How fast the trace checker (``ucsim check``) judges a trace, against bare ``orjson`` on the same file.

Figures:

* ``check.events_per_s`` - call lines/s of :func:`spec.conformance.check_trace` (read, envelope checks,
  every judgement, the report) against ``orjson.loads`` of every line of the same file: the ratio says
  what reading and judging cost next to JSON decoding alone; the issue's target is 100,000 events/s;
* ``check.peak_memory`` - peak Python memory (tracemalloc) while checking the whole trace, against the
  file's size: well below 1 shows the checker streams (what it keeps grows with the jobs, not the lines).

The trace is a real simulator trace (the hostile ``stress_scenario``: lossy network, retries, crashes,
invalid requests, extensions, usage reports; catalog on line 1, facts on every update), tiled to the
wanted length: each copy is shifted in seq and time and its job ids are renumbered, so the checker sees
ever new jobs, as in a long recording. Full: 1,000,000 events; quick: 100,000.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson

from benchmarks.harness import Record, loads_every_line, make_record, measure
from spec.conformance import check_trace

__all__ = ["FULL_EVENTS", "QUICK_EVENTS", "run", "write_tiled_trace"]

FULL_EVENTS = 1_000_000
QUICK_EVENTS = 100_000
_JOBS_PER_TILE = 1_000


def _renumber(line: dict[str, Any], offset: int) -> None:
    """Shift every job id a call line mentions by ``offset`` (in place)."""

    def shift(jid: str) -> str:
        return str(int(jid) + offset)

    call = line["call"]
    request = line["request"]
    items = request.get("items", []) if isinstance(request, dict) else []
    if call == "jobs.create":
        body = line["response"]["body"]
        for answer in (body or {}).get("responses", []):
            answer["id"] = shift(answer["id"])
    elif call == "accounting.reportUsage":
        for item in items:
            item["description"]["scope"] = f"job-{shift(item['description']['scope'][4:])}"
    elif call == "jobs.follow":
        request["id"] = shift(request["id"])
    else:
        for item in items:
            if "job" in item:
                item["job"] = dict(item["job"], id=shift(item["job"]["id"]))
            elif "jobId" in item:
                item["jobId"] = shift(item["jobId"])
            else:
                item["id"] = shift(item["id"])
    if "facts" in line:
        line["facts"] = {shift(k): v for k, v in line["facts"].items()}


def write_tiled_trace(path: Path, events: int, *, seed: int = 7) -> int:
    """Write a trace of ``events`` call lines (plus the catalog) by tiling one simulator run; returns
    the file's size in bytes."""
    from simulator.engine import Engine
    from simulator.examples import stress_scenario

    tile_path = path.with_name("tile.jsonl")
    Engine(stress_scenario(jobs=_JOBS_PER_TILE, seed=seed), trace=tile_path).run()
    raw = tile_path.read_bytes().splitlines()
    catalog, tile = raw[0], [orjson.loads(r) for r in raw[1:]]
    span = tile[-1]["time"] + 1
    ids = 10 * _JOBS_PER_TILE
    written = 0
    with open(path, "wb") as out:
        out.write(catalog + b"\n")
        copy = 0
        while written < events:
            for template in tile:
                if written >= events:
                    break
                line = orjson.loads(orjson.dumps(template))
                line["seq"] = written + 1
                line["time"] += copy * span
                if "end" in line:
                    line["end"] += copy * span
                if copy:
                    _renumber(line, copy * ids)
                out.write(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))
                written += 1
            copy += 1
    return path.stat().st_size


def run(quick: bool, *, events: int | None = None, repeat: int | None = None) -> list[Record]:
    """Measure the figures above on a tiled simulator trace of ``events`` call lines."""
    n = events if events is not None else (QUICK_EVENTS if quick else FULL_EVENTS)
    rounds = repeat if repeat is not None else (2 if quick else 3)
    details: dict[str, Any] = {"events": n, "quick": quick, "repeat": rounds}
    with tempfile.TemporaryDirectory(prefix="bench_check_") as tmp:
        path = Path(tmp) / "trace.jsonl"
        details["file_bytes"] = write_tiled_trace(path, n)
        report = check_trace(path)
        assert report.verdict == "conforms" and report.events == n, report.violations[:1]
        details["jobs"] = len(report.jobs)

        base = measure(lambda: loads_every_line(path), repeat=rounds)
        ours = measure(lambda: check_trace(path), repeat=rounds, memory=True)
    assert ours.peak_bytes is not None
    return [
        make_record(
            "check.events_per_s",
            ours.rate(n),
            "events/s",
            baseline="orjson.loads per line",
            baseline_value=base.rate(n),
            details=details,
        ),
        make_record(
            "check.peak_memory",
            ours.peak_bytes / 2**20,
            "MiB",
            baseline="file size",
            baseline_value=details["file_bytes"] / 2**20,
            details=details,
        ),
    ]


if __name__ == "__main__":  # a quick look without the runner
    for record in run(quick=True):
        print(record.name, f"{record.value:,.1f}", record.unit, "ratio", f"{record.ratio:.2f}")
