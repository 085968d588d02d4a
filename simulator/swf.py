"""The Standard Workload Format (SWF) of the Parallel Workloads Archive: read, write, generate.

An SWF file is plain text. Lines starting with ``;`` are header comments (``; MaxProcs: 128``); every
other non-blank line is one job: 18 whitespace-separated numbers, ``-1`` where unknown
(https://www.cs.huji.ac.il/labs/parallel/workload/swf.html):

====  =========================  ===========================================================
 #    field (:class:`SwfJob`)    meaning
====  =========================  ===========================================================
 1    ``job``                    job number (1, 2, ... in the archive's logs)
 2    ``submit``                 submit time (s, from the start of the log)
 3    ``wait``                   wait time in the queue (s)
 4    ``run``                    run time (s, wall clock)
 5    ``alloc_procs``            processors allocated
 6    ``avg_cpu``                average CPU time used per processor (s)
 7    ``used_mem``               memory used per processor (KB)
 8    ``req_procs``              processors requested
 9    ``req_time``               time requested (s): the user's estimate
 10   ``req_mem``                memory requested per processor (KB)
 11   ``status``                 1 completed, 0 failed, 5 cancelled, ...
 12   ``user``                   user id
 13   ``group``                  group id
 14   ``executable``             application number
 15   ``queue``                  queue number
 16   ``partition``              partition number
 17   ``preceding``              preceding job number (dependency)
 18   ``think``                  think time from the preceding job (s)
====  =========================  ===========================================================

>>> import io
>>> text = "; MaxProcs: 8\\n1 0 -1 30 4 -1 -1 4 60 -1 1 3 -1 -1 -1 -1 -1 -1\\n"
>>> workload = read_swf(io.StringIO(text))
>>> workload.header, workload.jobs[0].run, workload.jobs[0].req_procs
(['; MaxProcs: 8'], 30, 4)
>>> out = io.StringIO(); _ = write_swf(out, workload.jobs, workload.header); out.getvalue() == text
True

Values are integers, except where a log has a fraction (``avg_cpu`` often does): such a value is
kept as a float. The writer's form (one space between fields, integers without a point, floats in
Python's shortest ``repr``) is the *normalised* form: ``write(read(x)) == x`` for any normalised file.
"""

from __future__ import annotations

import io
import math
import os
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, TextIO

__all__ = [
    "SWF_FIELDS",
    "SwfFormatError",
    "SwfJob",
    "SwfReader",
    "SwfWorkload",
    "generate_swf",
    "read_swf",
    "write_swf",
]

Number = int | float


class SwfJob(NamedTuple):
    """One job line of an SWF file: the 18 fields in order (see the module docstring), ``-1`` if unknown."""

    job: int
    submit: Number
    wait: Number
    run: Number
    alloc_procs: int
    avg_cpu: Number
    used_mem: Number
    req_procs: int
    req_time: Number
    req_mem: Number
    status: int
    user: int
    group: int
    executable: int
    queue: int
    partition: int
    preceding: int
    think: Number

    @property
    def processors(self) -> int:
        """Processors the job needs: requested (field 8), else allocated (field 5); ``<= 0`` if unknown."""
        return int(self.req_procs if self.req_procs != -1 else self.alloc_procs)

    @property
    def estimate(self) -> Number:
        """The run time a backfilling scheduler plans with: ``max(field 9, field 4)``, or field 4 when
        field 9 is -1 (a job is never killed for exceeding its request in a classic replay)."""
        return self.run if self.req_time == -1 else max(self.req_time, self.run)

    def to_line(self) -> str:
        """The job as a normalised SWF line (no newline)."""
        return " ".join(map(_format, self))


SWF_FIELDS: tuple[tuple[str, str], ...] = tuple(
    zip(
        SwfJob._fields,
        (
            "job number",
            "submit time",
            "wait time",
            "run time",
            "allocated processors",
            "average CPU time",
            "used memory",
            "requested processors",
            "requested time",
            "requested memory",
            "status",
            "user id",
            "group id",
            "executable number",
            "queue number",
            "partition number",
            "preceding job number",
            "think time",
        ),
        strict=True,
    )
)
"""``(attribute, description)`` of the 18 fields, in file order."""

# Fields that identify or count things must be whole numbers; times and memory may have fractions.
_INTEGER_FIELDS = frozenset(
    i
    for i, name in enumerate(SwfJob._fields)
    if name
    in {
        "job",
        "alloc_procs",
        "req_procs",
        "status",
        "user",
        "group",
        "executable",
        "queue",
        "partition",
        "preceding",
    }
)


class SwfFormatError(ValueError):
    """A line that is not an SWF job line: names the file, the 1-based line number and the field."""

    def __init__(self, source: str, line: int, reason: str, field: int | None = None) -> None:
        self.source, self.line, self.field, self.reason = source, line, field, reason
        where = f"{source}:{line}"
        if field is not None:
            where += f": field {field + 1} ({SWF_FIELDS[field][1]})"
        super().__init__(f"{where}: {reason}")


def _format(value: Number) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _parse_number(token: str) -> Number:
    try:
        return int(token)
    except ValueError:
        value = float(token)  # ValueError again if it is no number at all
        if not math.isfinite(value):
            raise ValueError(token) from None
        return value


def parse_line(text: str, source: str = "<swf>", line: int = 0) -> SwfJob:
    """Parse one job line. Raises :class:`SwfFormatError` naming ``source``, ``line`` and the field."""
    tokens = text.split()
    if len(tokens) != 18:
        if len(tokens) < 18:
            raise SwfFormatError(
                source, line, f"missing (the line has {len(tokens)} of 18 fields)", len(tokens)
            )
        raise SwfFormatError(source, line, f"18 fields expected, found {len(tokens)}")
    try:
        return SwfJob._make(map(int, tokens))  # the common case: all integers
    except ValueError:
        pass
    values: list[Number] = []
    for i, token in enumerate(tokens):
        try:
            value = _parse_number(token)
        except ValueError:
            raise SwfFormatError(source, line, f"not a number: {token!r}", i) from None
        if i in _INTEGER_FIELDS and not isinstance(value, int):
            raise SwfFormatError(source, line, f"not a whole number: {token!r}", i)
        values.append(value)
    return SwfJob._make(values)


class SwfReader:
    """Stream the jobs of an SWF file (a path, or an open text file), one :class:`SwfJob` at a time.

    Header comment lines (``;`` first) are collected in :attr:`header` as they are met (the archive
    puts them all at the top, so the header is complete once the first job has been read). Blank lines
    are ignored. A malformed line raises :class:`SwfFormatError`.

    >>> import io
    >>> reader = SwfReader(io.StringIO("; Note: tiny\\n1 0 -1 5 1 -1 -1 1 5 -1 1 1 1 -1 -1 -1 -1 -1\\n"))
    >>> [job.job for job in reader], reader.header
    ([1], ['; Note: tiny'])
    """

    def __init__(self, source: str | os.PathLike[str] | TextIO) -> None:
        self._source = source
        self.name = getattr(source, "name", "<swf>") if isinstance(source, io.IOBase) else os.fspath(source)
        if not isinstance(self.name, str):
            self.name = "<swf>"
        self.header: list[str] = []

    def __iter__(self) -> Iterator[SwfJob]:
        if isinstance(self._source, str | os.PathLike):
            with open(self._source, encoding="utf-8") as file:
                yield from self._lines(file)
        else:
            yield from self._lines(self._source)

    def _lines(self, file: Iterable[str]) -> Iterator[SwfJob]:
        name = self.name
        try:
            for number, text in enumerate(file, start=1):
                stripped = text.strip()
                if not stripped:
                    continue
                if stripped[0] == ";":
                    self.header.append(text.rstrip("\r\n"))
                    continue
                yield parse_line(stripped, name, number)
        except UnicodeDecodeError as error:
            raise SwfFormatError(name, 0, f"not UTF-8 text ({error.reason})") from None


@dataclass
class SwfWorkload:
    """A whole SWF file in memory: its header comment lines and its jobs in file order."""

    header: list[str] = field(default_factory=list)
    jobs: list[SwfJob] = field(default_factory=list)


def read_swf(source: str | os.PathLike[str] | TextIO) -> SwfWorkload:
    """Read a whole SWF file (see :class:`SwfReader` to stream a big one)."""
    reader = SwfReader(source)
    jobs = list(reader)
    return SwfWorkload(reader.header, jobs)


def write_swf(
    target: str | os.PathLike[str] | TextIO, jobs: Iterable[SwfJob], header: Iterable[str] = ()
) -> int:
    """Write header lines (a ``;`` is added to any that lacks one) then one normalised line per job.

    Returns the number of jobs written. Lines end with ``\\n``.
    """
    if isinstance(target, str | os.PathLike):
        with open(target, "w", encoding="utf-8", newline="\n") as file:
            return write_swf(file, jobs, header)
    for text in header:
        target.write(text if text.startswith(";") else f"; {text}")
        target.write("\n")
    count = 0
    for job in jobs:
        target.write(job.to_line())
        target.write("\n")
        count += 1
    return count


def generate_swf(
    n: int,
    processors: int,
    seed: int = 0,
    *,
    load: float = 0.8,
    max_run: int = 36_000,
    max_size: int | None = None,
    estimate_factor: float = 3.0,
    users: int = 32,
) -> SwfWorkload:
    """A synthetic workload of ``n`` jobs for a machine of ``processors`` processors.

    * sizes: a power of two up to ``max_size`` (default ``processors // 4``, at least 1), small ones
      more likely (as in real logs), now and then one that is not a power of two;
    * run times: log-uniform integers in ``[1, max_run]``;
    * requested times (estimates): the run time times a uniform factor in ``[1, estimate_factor]``,
      rounded up (users over-estimate);
    * submit times: integer, Poisson arrivals whose rate makes the offered load (requested
      processor-seconds per second over ``processors``) about ``load``;
    * memory fields, wait time and the fields a generator knows nothing of: ``-1``; status 1.

    The same arguments give the same jobs. Separate random streams for sizes, runs and arrivals keep
    one aspect fixed while another changes (e.g. the arrivals do not move when ``max_run`` does).
    """
    if n < 0 or processors < 1 or load <= 0 or max_run < 1 or estimate_factor < 1:
        raise ValueError("need n >= 0, processors >= 1, load > 0, max_run >= 1 and estimate_factor >= 1")
    top = max(1, max_size if max_size is not None else processors // 4)
    top = min(top, processors)
    sizes_rng = random.Random(f"{seed}:sizes")
    runs_rng = random.Random(f"{seed}:runs")
    arrivals_rng = random.Random(f"{seed}:arrivals")
    exponents = max(0, top.bit_length() - 1)
    sizes: list[int] = []
    runs: list[int] = []
    for _ in range(n):
        # Exponent biased towards small jobs: min of two uniform draws.
        e = min(sizes_rng.randint(0, exponents), sizes_rng.randint(0, exponents))
        size = 1 << e
        if size > 2 and sizes_rng.random() < 0.2:
            size = sizes_rng.randint(size // 2 + 1, size)  # now and then not a power of two
        sizes.append(min(size, top))
        runs.append(max(1, round(math.exp(runs_rng.uniform(0.0, math.log(max_run))))))
    mean_work = sum(s * r for s, r in zip(sizes, runs, strict=True)) / n if n else 1.0
    mean_gap = mean_work / (processors * load)
    header = [
        "; Version: 2.2",
        "; Computer: synthetic (simulator.swf.generate_swf)",
        f"; MaxJobs: {n}",
        f"; MaxProcs: {processors}",
        f"; Note: seed={seed} load={load} max_run={max_run} max_size={top} estimate_factor={estimate_factor}",
    ]
    jobs: list[SwfJob] = []
    clock = 0.0
    for i in range(n):
        if i:
            clock += arrivals_rng.expovariate(1.0 / mean_gap)
        run = runs[i]
        requested = math.ceil(run * runs_rng.uniform(1.0, estimate_factor))
        user = 1 + arrivals_rng.randrange(users)
        jobs.append(
            SwfJob(
                i + 1,
                int(clock),
                -1,
                run,
                sizes[i],
                -1,
                -1,
                sizes[i],
                requested,
                -1,
                1,
                user,
                1,
                -1,
                1,
                1,
                -1,
                -1,
            )
        )
    return SwfWorkload(header, jobs)
