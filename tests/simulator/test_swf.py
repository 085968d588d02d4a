"""SWF: round trip of normalised files, header kept, malformed lines named by line and field."""

from __future__ import annotations

import doctest
import io
from pathlib import Path

import pytest

import simulator.swf
from simulator.swf import SWF_FIELDS, SwfFormatError, SwfJob, SwfReader, generate_swf, read_swf, write_swf

HEADER = ["; Version: 2.2", "; Computer: test machine", "; MaxProcs: 64", ";"]
GOOD = "1 0 10 3600 32 3500.5 -1 32 7200 -1 1 7 2 -1 1 -1 -1 -1"


def test_doctests() -> None:
    assert doctest.testmod(simulator.swf).failed == 0


def test_fields_are_the_eighteen_of_the_standard() -> None:
    assert len(SWF_FIELDS) == 18 == len(SwfJob._fields)
    assert SWF_FIELDS[3] == ("run", "run time") and SWF_FIELDS[7] == ("req_procs", "requested processors")


def test_round_trip_of_a_normalised_file(tmp_path: Path) -> None:
    workload = generate_swf(500, 128, seed=3)
    first = tmp_path / "a.swf"
    write_swf(first, workload.jobs, workload.header)
    again = read_swf(first)
    assert again.header == workload.header and again.jobs == workload.jobs
    second = tmp_path / "b.swf"
    write_swf(second, again.jobs, again.header)
    assert second.read_bytes() == first.read_bytes()


def test_round_trip_keeps_fractions_and_header() -> None:
    text = "\n".join([*HEADER, GOOD, "2 5 -1 1.25 1 -1 -1 1 -1 -1 0 7 2 -1 1 -1 -1 -1"]) + "\n"
    workload = read_swf(io.StringIO(text))
    assert workload.header == HEADER
    assert workload.jobs[0].avg_cpu == 3500.5 and workload.jobs[1].run == 1.25
    out = io.StringIO()
    assert write_swf(out, workload.jobs, workload.header) == 2
    assert out.getvalue() == text


def test_reading_normalises_spacing() -> None:
    # The archive right-aligns its columns; reading then writing gives the one-space form.
    aligned = "    1      0     10   3600     32 3500.5  -1   32   7200  -1 1  7  2 -1  1 -1 -1 -1\n\n"
    out = io.StringIO()
    write_swf(out, read_swf(io.StringIO(aligned)).jobs)
    assert out.getvalue() == GOOD + "\n"


def test_streaming_reader_fills_the_header_as_it_goes(tmp_path: Path) -> None:
    path = tmp_path / "w.swf"
    path.write_text("\n".join([*HEADER, GOOD]) + "\n")
    reader = SwfReader(path)
    jobs = iter(reader)
    assert next(jobs).job == 1 and reader.header == HEADER
    assert reader.name == str(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (GOOD.replace(" 3600 ", " abc "), r"w\.swf:3: field 4 \(run time\): not a number: 'abc'"),
        (
            GOOD.replace(" 32 7200", " 3.5 7200"),
            r"w\.swf:3: field 8 \(requested processors\): not a whole number",
        ),
        (
            " ".join(GOOD.split()[:12]),
            r"w\.swf:3: field 13 \(group id\): missing \(the line has 12 of 18 fields\)",
        ),
        (GOOD + " 9", r"w\.swf:3: 18 fields expected, found 19"),
        (GOOD.replace(" 3600 ", " nan "), r"field 4 \(run time\): not a number: 'nan'"),
    ],
)
def test_malformed_lines_name_line_and_field(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "w.swf"
    path.write_text(f"; header\n{GOOD}\n{line}\n")
    with pytest.raises(SwfFormatError, match=message) as caught:
        read_swf(path)
    assert caught.value.line == 3


def test_generator_is_deterministic_and_well_formed() -> None:
    a = generate_swf(2000, 64, seed=11, load=0.9)
    assert a == generate_swf(2000, 64, seed=11, load=0.9)
    assert a.jobs != generate_swf(2000, 64, seed=12, load=0.9).jobs
    submits = [j.submit for j in a.jobs]
    assert submits == sorted(submits) and all(isinstance(s, int) for s in submits)
    for job in a.jobs:
        assert job.run >= 1 and job.req_time >= job.run
        assert 1 <= job.req_procs == job.alloc_procs <= 16  # default max_size = processors // 4
        assert job.used_mem == job.req_mem == -1
    # Offered load near the target: requested processor-seconds over the span, per processor.
    work = sum(j.req_procs * j.run for j in a.jobs)
    assert 0.7 < work / (64 * submits[-1]) < 1.1
