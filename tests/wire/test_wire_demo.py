"""``ucsim demo`` (what ``make run`` prints) shows the validated example job and the schema summary."""

from __future__ import annotations

import io

import orjson
from click.testing import CliRunner
from rich.console import Console

from spec.wire import Job
from ucsim.cli import main
from ucsim.demo import EXAMPLE_JOB, run_demo


def test_demo_prints_the_job_its_minimal_json_and_the_schemas() -> None:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    run_demo(console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "54112" in text
    assert "1 h 30 min = 5,400,000 ms" in text
    assert '"path":"/12512/shared"' in text
    assert '"tokenType"' not in text  # the zero-filled Go fields are gone from the minimal JSON
    for name in ("JobSpecification", "JobUpdate", "AppParameterValue", "14 variants"):
        assert name in text


def test_demo_example_is_valid_and_shrinks_to_its_minimal_form() -> None:
    job = Job.model_validate(EXAMPLE_JOB)
    assert [v.type for v in job.specification.resources] == ["file", "ingress"]
    assert b"null" in orjson.dumps(EXAMPLE_JOB)
    assert b"null" not in job.to_json()  # None fields and Go's zero-filled foreign fields are omitted
    assert Job.from_json(job.to_json()) == job


def test_demo_command_runs() -> None:
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert "acme-batch" in result.output
