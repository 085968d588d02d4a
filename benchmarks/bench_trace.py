"""How fast traces are read (and checked) and written, against bare ``orjson`` on the same file.

The checker reads and the simulator writes millions of trace lines, so the envelope checks of
:mod:`spec.trace` must cost little next to JSON decoding itself. Figures:

* ``trace.read_validate`` - lines/s of :func:`spec.trace.read_trace` over a synthetic trace, against
  ``orjson.loads`` of every line of the same file (no checks, no objects): ratio < 1, the closer to 1
  the cheaper our checks;
* ``trace.write`` - lines/s of :meth:`spec.trace.TraceWriter.write_call`, against ``orjson.dumps`` of the
  same lines as ready-made dicts plus ``write``;
* ``trace.read_peak_memory`` - peak Python memory while streaming the whole file, against the file's
  size: well below 1 shows the reader streams.

The synthetic trace is realistic in shape: per job, ``jobs.create`` with a full JobSpecification,
``jobs.provider.create`` with the Job, ``jobs.control.update`` to RUNNING, periodic
``accounting.reportUsage``, and a final update with ``facts``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from benchmarks.harness import Record, loads_every_line, make_record, measure
from spec.trace import TraceWriter, read_trace

__all__ = ["FULL_LINES", "QUICK_LINES", "generate_calls", "run", "write_synthetic_trace"]

FULL_LINES = 200_000
QUICK_LINES = 20_000
_PROVIDER = "k8s"


def _specification(job: int) -> dict[str, Any]:
    return {
        "product": {"id": f"u1-standard-{1 << (job % 4)}", "category": "u1-standard", "provider": _PROVIDER},
        "labels": {},
        "application": {"name": "jupyter-lab" if job % 3 else "terminal-ubuntu", "version": "4.2.0"},
        "name": f"analysis {job}",
        "replicas": 1 + (job % 5 == 0),
        "allowDuplicateJob": False,
        "parameters": {
            "notebook": {
                "type": "file",
                "path": f"/{1000 + job % 50}/work/notebook.ipynb",
                "readOnly": False,
            },
            "threads": {"type": "integer", "value": 1 << (job % 4)},
            "debug": {"type": "boolean", "value": job % 7 == 0},
        },
        "resources": [{"type": "file", "path": f"/{1000 + job % 50}/data", "readOnly": True}],
        "timeAllocation": {"hours": 1 + job % 12, "minutes": 0, "seconds": 0},
        "openedFile": "",
        "restartOnExit": False,
        "sshEnabled": False,
    }


def generate_calls(lines: int) -> Iterator[dict[str, Any]]:
    """Keyword arguments of :meth:`TraceWriter.write_call` for ``lines`` call lines (deterministic)."""
    seq = 0
    clock = 0
    job = 0
    while True:
        job += 1
        user = f"user:user{job % 97}"
        owner = {"type": "user", "username": user[5:]}
        spec = _specification(job)
        job_id = str(job)
        running_ms = 0
        steps: list[dict[str, Any]] = [
            dict(
                actor=user,
                call="jobs.create",
                request={"items": [spec]},
                status=200,
                body={"responses": [{"id": job_id}]},
            ),
            dict(
                actor="ucloud",
                call="jobs.provider.create",
                provider=_PROVIDER,
                request={
                    "items": [
                        {
                            "id": job_id,
                            "createdAt": 1_700_000_000_000 + clock,
                            "owner": {"createdBy": user[5:], "project": None},
                            "permissions": {"myself": ["ADMIN", "READ", "EDIT"], "others": []},
                            "updates": [],
                            "specification": spec,
                            "status": {"state": "IN_QUEUE", "allowRestart": False},
                            "output": {"outputFolder": None},
                        }
                    ]
                },
                status=200,
                body={"responses": [{"id": ""}]},
            ),
            dict(
                actor=f"provider:{_PROVIDER}",
                call="jobs.control.update",
                request={
                    "items": [{"id": job_id, "update": {"state": "RUNNING", "status": "Job is now running"}}]
                },
                status=200,
                body=None,
                facts={job_id: {"coreState": "RUNNING"}},
            ),
        ]
        for report in range(job % 3):
            running_ms = 30_000 * (report + 1)
            steps.append(
                dict(
                    actor=f"provider:{_PROVIDER}",
                    call="accounting.reportUsage",
                    request={
                        "items": [
                            {
                                "isDeltaCharge": False,
                                "owner": owner,
                                "categoryIdV2": {"name": "u1-standard", "provider": _PROVIDER},
                                "usage": running_ms // 60_000,
                                "description": {"scope": f"job-{job_id}", "description": ""},
                            }
                        ]
                    },
                    status=200,
                    body={"responses": [True]},
                )
            )
        running_ms += 1_000 + job % 60_000
        steps.append(
            dict(
                actor=f"provider:{_PROVIDER}",
                call="jobs.control.update",
                request={
                    "items": [{"id": job_id, "update": {"state": "SUCCESS", "status": "Job has finished"}}]
                },
                status=200,
                body=None,
                facts={
                    job_id: {
                        "cause": "exit",
                        "exitCode": job % 2,
                        "runningMs": running_ms,
                        "coreState": "SUCCESS",
                    }
                },
            )
        )
        for step in steps:
            seq += 1
            clock += 7 + (seq * 7919) % 500
            yield {"seq": seq, "time": clock, **step}
            if seq >= lines:
                return


def write_synthetic_trace(path: str | os.PathLike[str], lines: int) -> int:
    """Write a synthetic trace of ``lines`` call lines to ``path``; returns its size in bytes."""
    with TraceWriter(path) as writer:
        for kwargs in generate_calls(lines):
            writer.write_call(**kwargs)
    return os.path.getsize(path)


def _wire_dicts(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same lines as ready-made wire dicts (what a bare ``orjson.dumps`` would be given)."""
    out = []
    for c in calls:
        line: dict[str, Any] = {"seq": c["seq"], "time": c["time"], "actor": c["actor"], "call": c["call"]}
        if "provider" in c:
            line["provider"] = c["provider"]
        line["request"] = c["request"]
        line["response"] = {"status": c["status"], "body": c.get("body")}
        if "facts" in c:
            line["facts"] = c["facts"]
        out.append(line)
    return out


def run(quick: bool, *, lines: int | None = None, repeat: int | None = None) -> list[Record]:
    """Measure the figures above on a fresh synthetic trace of ``lines`` call lines (default 200k, or
    20k with ``quick``) in a temporary folder."""
    n = lines if lines is not None else (QUICK_LINES if quick else FULL_LINES)
    rounds = repeat if repeat is not None else (3 if quick else 5)
    details = {"lines": n, "quick": quick, "repeat": rounds}
    with tempfile.TemporaryDirectory(prefix="bench_trace_") as tmp:
        path = Path(tmp) / "trace.jsonl"
        size = write_synthetic_trace(path, n)
        details["file_bytes"] = size

        # -- read ---------------------------------------------------------------------------------
        def read_ours() -> None:
            for _ in read_trace(path):
                pass

        baseline_read = measure(lambda: loads_every_line(path), repeat=rounds)
        ours_read = measure(read_ours, repeat=rounds, memory=True)

        # -- write --------------------------------------------------------------------------------
        calls = list(generate_calls(n))
        wire = _wire_dicts(calls)
        out_path = Path(tmp) / "out.jsonl"

        def write_ours() -> None:
            with TraceWriter(out_path) as writer:
                write_call = writer.write_call
                for kwargs in calls:
                    write_call(**kwargs)

        def write_baseline() -> None:
            dumps = orjson.dumps
            option = orjson.OPT_APPEND_NEWLINE
            with open(out_path, "wb", buffering=1 << 20) as stream:
                write = stream.write
                for line in wire:
                    write(dumps(line, option=option))

        baseline_write = measure(write_baseline, repeat=rounds)
        ours_write = measure(write_ours, repeat=rounds)

    assert ours_read.peak_bytes is not None
    return [
        make_record(
            "trace.read_validate",
            ours_read.rate(n),
            "lines/s",
            baseline="orjson.loads per line",
            baseline_value=baseline_read.rate(n),
            details=details,
        ),
        make_record(
            "trace.write",
            ours_write.rate(n),
            "lines/s",
            baseline="orjson.dumps + write",
            baseline_value=baseline_write.rate(n),
            details=details,
        ),
        make_record(
            "trace.read_peak_memory",
            ours_read.peak_bytes / 2**20,
            "MiB",
            baseline="file size",
            baseline_value=size / 2**20,
            details=details,
        ),
    ]
