"""Streaming outputs of a simulation: ``jobs.csv`` in submit order with bounded memory, and ``metrics.json``.

Jobs end in any order, but ``jobs.csv`` lists them by submit time, then job id. Keeping every row
until the end would hold a million rows in memory; :class:`SortedRows` keeps at most ``chunk`` of
them, spills each full chunk sorted to a temporary file, and merges the chunks at the end
(an external merge sort), so memory stays flat however long the run.

The cell formats are the classic replay's (:func:`simulator.replay.format_time`, the same header), so
both commands write the same shapes.
"""

from __future__ import annotations

import csv
import heapq
import io
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from simulator.replay import JOBS_CSV_HEADER, format_time

__all__ = ["JOBS_CSV_HEADER", "SortedRows", "format_time", "ms_cell", "write_json"]

_SPECIAL = frozenset(',"\n\r')


class SortedRows:
    """Collect CSV rows keyed by ``(submit_ms, job_id)`` and write them out in key order.

    >>> import io
    >>> rows = SortedRows(chunk=2)
    >>> for key in [(5, 2), (1, 9), (5, 1), (0, 3)]:
    ...     rows.add(key, [key[1], key[0]])
    >>> out = io.StringIO()
    >>> rows.write(out, header=["id", "t"])
    4
    >>> out.getvalue().split()
    ['id,t', '3,0', '9,1', '1,5', '2,5']
    """

    def __init__(self, chunk: int = 100_000) -> None:
        self._chunk = chunk
        self._rows: list[tuple[int, int, str]] = []
        self._spills: list[IO[str]] = []
        self.count = 0

    def add(self, key: tuple[int, int], cells: Sequence[Any]) -> None:
        """Add one row (``cells`` are written with :mod:`csv` quoting rules)."""
        texts = [str(c) for c in cells]
        if _SPECIAL.isdisjoint("".join(texts)):  # one test for every cell at once
            line = ",".join(texts) + "\n"
        else:  # rare: quote as csv does
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow(texts)
            line = buf.getvalue()
        self._rows.append((key[0], key[1], line))
        self.count += 1
        if len(self._rows) >= self._chunk:
            self._spill()

    def _spill(self) -> None:
        self._rows.sort()
        file = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115 - closed in write()
        for submit, jid, line in self._rows:
            file.write(f"{submit}\t{jid}\t{line}")
        file.seek(0)
        self._spills.append(file)
        self._rows = []

    @staticmethod
    def _read(file: IO[str]) -> Iterator[tuple[int, int, str]]:
        for raw in file:
            submit, jid, line = raw.split("\t", 2)
            yield int(submit), int(jid), line

    def write(self, out: IO[str], header: Sequence[str]) -> int:
        """Write the header and every row in order to ``out``; returns the number of rows."""
        csv.writer(out, lineterminator="\n").writerow(header)
        self._rows.sort()
        try:
            for _, _, line in heapq.merge(self._rows, *(self._read(f) for f in self._spills)):
                out.write(line)
        finally:
            for f in self._spills:
                f.close()
            self._spills = []
            self._rows = []
        return self.count


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON with a final newline (deterministic: keys in insertion order)."""
    Path(path).write_bytes(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS)
    )


def ms_cell(ms: int) -> str:
    """A time in ms as a ``jobs.csv`` cell in seconds (``""`` for -1, unknown)."""
    if ms < 0:
        return ""
    return format_time(ms // 1000) if ms % 1000 == 0 else format_time(ms / 1000)
