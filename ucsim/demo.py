"""What ``make run`` shows until the simulator exists: a job validated against the wire models.

It builds the job of reference §1.8 (as a provider receives it in ``jobs.provider.create``) with a
file mount written the way Go writes it (every field zero-filled), a public link and a time
allocation; parses it with :mod:`spec.wire`; prints what the models understood, the minimal wire JSON,
and a summary of the exported JSON Schemas.
"""

from __future__ import annotations

from typing import Any

import orjson
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

# The reference §1.8 example, with `{...}` replaced by null, plus a file mount (zero-filled, as Go
# writes it), a public link and a 1 h 30 min time allocation.
EXAMPLE_JOB: dict[str, Any] = {
    "id": "54112",
    "createdAt": 1633329776235,
    "owner": {"createdBy": "user", "project": None},
    "permissions": {"myself": ["ADMIN", "READ", "EDIT"], "others": []},
    "updates": [],
    "specification": {
        "product": {"id": "example-compute-1", "category": "example-compute", "provider": "example"},
        "labels": {},
        "application": {"name": "acme-batch", "version": "1.0.0"},
        "replicas": 1,
        "allowDuplicateJob": False,
        "parameters": {
            "debug": {"type": "boolean", "value": True},
            "value": {"type": "text", "value": "Hello, World!"},
        },
        "resources": [
            {
                "type": "file",
                "path": "/12512/shared",
                "mountPath": "",
                "readOnly": False,
                "value": None,
                "hostname": "",
                "jobId": "",
                "id": "",
                "port": 0,
                "tls": False,
                "server": "",
                "token": "",
                "tokenType": "",
                "modules": None,
                "specification": None,
            },
            {"type": "ingress", "id": "55", "port": 0},
        ],
        "timeAllocation": {"hours": 1, "minutes": 30, "seconds": 0},
    },
    "status": {
        "state": "IN_QUEUE",
        "jobParametersJson": None,
        "resolvedApplication": None,
        "allowRestart": False,
    },
    "output": {"outputFolder": None},
}

# The schemas worth a line in the summary; `ucsim schema` exports all of them.
_SHOWN_SCHEMAS = (
    "Job",
    "JobSpecification",
    "JobStatus",
    "JobUpdate",
    "AppParameterValue",
    "Application",
    "ApplicationParameter",
    "ProductV2",
    "JobSupport",
    "Ingress",
    "Wallet",
    "ReportUsageRequest",
    "jobs.control.update.request",
)


def _pretty(data: Any, indent: int = 0, width: int = 88) -> str:
    """JSON that opens an object or list one member per line only when its compact form is too wide."""
    compact = orjson.dumps(data).decode()
    if not isinstance(data, dict | list) or len(compact) + 2 * indent <= width:
        return compact
    pad = "  " * (indent + 1)
    if isinstance(data, list):
        items = [pad + _pretty(item, indent + 1, width) for item in data]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    members = [
        f"{pad}{orjson.dumps(key).decode()}: {_pretty(value, indent + 1, width)}"
        for key, value in data.items()
    ]
    return "{\n" + ",\n".join(members) + "\n" + "  " * indent + "}"


def _describe_value(value: Any) -> str:
    fields = value.to_wire()
    kind = fields.pop("type")
    return f"{kind} " + ", ".join(f"{k}={v!r}" for k, v in fields.items())


def run_demo(console: Console | None = None) -> None:
    """Print the demonstration (replaced by the default scenario once the simulator exists)."""
    from spec.wire import Job
    from spec.wire.schema import all_schemas

    console = console or Console()
    from ucsim.lifecycle import print_job_life

    console.rule("[bold]The protocol, executed: one job through the specification")
    if not print_job_life(console):
        raise SystemExit("a property was violated in the demonstration (see above)")
    job = Job.model_validate(EXAMPLE_JOB)
    spec = job.specification

    console.rule("[bold]A job as a provider receives it (jobs.provider.create), read by spec.wire")
    facts = Table(show_header=False, box=None, padding=(0, 2))
    facts.add_row("id / owner", f"{job.id} / {job.owner.created_by} (project: {job.owner.project or '-'})")
    facts.add_row("application", f"{spec.application.name} {spec.application.version}")
    facts.add_row("product", f"{spec.product.id} ({spec.product.category} at {spec.product.provider})")
    facts.add_row("state", f"{job.state.value} (final: {job.state.is_final})")
    if spec.time_allocation is not None:
        allocation = spec.time_allocation
        facts.add_row(
            "time allocation",
            f"{allocation.hours} h {allocation.minutes} min = {allocation.to_millis():,} ms",
        )
    for name, value in spec.parameters.items():
        facts.add_row(f"parameter {name}", _describe_value(value))
    for index, value in enumerate(spec.resources):
        facts.add_row(f"resource {index}", _describe_value(value))
    console.print(facts)

    given = orjson.dumps(EXAMPLE_JOB)
    minimal = job.to_json()
    console.print(
        f"\nMinimal wire JSON ({len(minimal)} bytes; the Go-shaped input had {len(given)}: "
        "null fields and the file mount's zero-filled foreign fields are dropped):"
    )
    console.print(Syntax(_pretty(job.to_wire()), "json", word_wrap=True))

    schemas = all_schemas()
    table = Table(title=f"JSON Schemas ({len(schemas)} exported; `ucsim schema --out DIR` writes them all)")
    table.add_column("schema")
    table.add_column("properties", justify="right")
    table.add_column("required")
    for name in _SHOWN_SCHEMAS:
        schema = schemas[name]
        if "properties" in schema:
            table.add_row(name, str(len(schema["properties"])), ", ".join(schema.get("required", [])) or "-")
        else:  # a union: count its variants
            table.add_row(name, f"{len(schema.get('oneOf', []))} variants", "type")
    console.print(table)
