"""The API calls that may appear in a trace, who makes them, and their wire shapes.

One registry (``CALLS``) names every call of the trace format (see ``docs/architecture.md`` and
DESIGN "The trace format"). The trace reader refuses any other call name; the trace checker and the
simulator look up the request and response models here.

Sources: reference ``ucloud-jobs.md`` §5.2 (end-user API), §5.3 (provider API), §5.4 (control API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

CallerKind = Literal["user", "ucloud", "provider"]


@dataclass(frozen=True, slots=True)
class CallSpec:
    """One API call: its trace name, the kind of actor that makes it and its wire models.

    ``request_model`` / ``response_model`` are pydantic ``TypeAdapter``-able types (``None`` where the
    body is empty or not modelled).
    """

    name: str
    caller: CallerKind
    request_model: Any = None
    response_model: Any = None


# Filled with models by spec.wire; the names and callers are fixed by the trace format.
_CALLERS: dict[str, CallerKind] = {
    # user -> Core (reference §5.2)
    "jobs.create": "user",
    "jobs.terminate": "user",
    "jobs.suspend": "user",
    "jobs.unsuspend": "user",
    "jobs.extend": "user",
    "jobs.follow": "user",
    "jobs.interactiveSession": "user",
    # Core -> provider (reference §5.3)
    "jobs.provider.create": "ucloud",
    "jobs.provider.terminate": "ucloud",
    "jobs.provider.extend": "ucloud",
    "jobs.provider.suspend": "ucloud",
    "jobs.provider.unsuspend": "ucloud",
    "jobs.provider.follow": "ucloud",
    "jobs.provider.interactiveSession": "ucloud",
    # provider -> Core (reference §5.4, §4.3)
    "jobs.control.update": "provider",
    "accounting.reportUsage": "provider",
}

CALL_NAMES: frozenset[str] = frozenset(_CALLERS)
