"""A simulation scenario: one TOML file that says what exists, what users ask for, and what goes wrong.

A scenario is what a user of an HPC simulator expects to write: the machines, the products sold on
them, the applications, the users and their wallets, the workload, the network and the faults, and
the seed. It is validated by pydantic models with ``extra="forbid"`` (a typo is an error, not a
silently ignored key), then checked as a whole (every reference resolves, and every request template
gets the answer from Core's validation that the scenario says it should). The smallest useful
scenario is a handful of lines; everything else has a default::

    [[providers]]
    name = "k8s"                                   # containers (DOCKER) unless support says otherwise

    [[products]]
    name = "u1-standard-4"
    provider = "k8s"
    cpu = 4

    [[applications]]
    name = "acme-batch"                            # a DOCKER BATCH application without parameters

The sections (see each model's docstring for its keys and defaults):

=====================  ==========================================================================
``seed``, ``run``      the seed of every random stream; run length (``jobs``, ``until_s``, ``drain``)
``variant``, ``rules``  the protocol's rule switches and, optionally, a ``mutant`` (:mod:`spec.rules`)
``[[providers]]``      support per backend, ``cluster.nodes`` groups, ``scheduling`` policy, behaviour
``[[products]]``       compute slices: provider, category, cpu, memory_gb, gpu, price per time_unit
``[[applications]]``   name, version, type (BATCH/VNC/WEB), backend, typed parameters
``users``, ``[[projects]]``, ``[[wallets]]``, ``[[resources]]``   who pays, with what quota, and
                       the public links, public IPs and licenses they own
``[workload]``         arrivals (Poisson or bursty; a rate or a target offered load), run times,
                       ``[[workload.mix]]`` request templates, invalid requests, cancellations,
                       extensions, exit codes; or ``[workload.swf]`` to replay an SWF trace
``[network]``          per direction latency (ms), loss, duplication, reordering; partitions
``[faults]``           provider crashes, node failures, Core restarts
=====================  ==========================================================================

Errors name the file, the line and the field::

    scenario.toml:14: providers[0].cluster.nodes[0].cores: Input should be greater than 0

From a scenario the specification's own objects are built: :meth:`Scenario.catalog` (UCloud wire
objects), :meth:`Scenario.request_templates` (real ``JobSpecification`` s) and :meth:`Scenario.world`;
the workload that drives them is in :mod:`simulator.workload`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import re
import tomllib
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources as importlib_resources
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from spec.catalog import Catalog, owner_key
from spec.rules import MUTANTS_BY_NAME, RULES_BY_NAME, VARIANTS, Config, resolve
from spec.validation import validate_submission
from spec.wire import (
    Application,
    ApplicationParameterType,
    Ingress,
    JobSpecification,
    JobSupport,
    License,
    ProductV2,
    PublicIP,
    SimpleDuration,
    Wallet,
    value_type_for_parameter,
)
from spec.world import RequestTemplate, World

if TYPE_CHECKING:
    import random

    from simulator.cluster import Cluster, Node, Slice

__all__ = [
    "DEFAULT_POLICIES",
    "INVALID_KINDS",
    "Distribution",
    "Problem",
    "Scenario",
    "ScenarioError",
    "TemplateInfo",
    "load_default_scenario",
    "load_scenario",
    "toml_positions",
]


# =============================================================================== errors and lines


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a scenario: where (a field path and, when known, the line) and what."""

    path: str
    message: str
    line: int | None = None

    def render(self, source: str) -> str:
        """``source:line: path: message`` (the parts that are known)."""
        where = f"{source}:{self.line}" if self.line is not None else source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(Exception):
    """A scenario that cannot be used, with every problem found: file, line, field path, reason.

    ``str(error)`` is the message for a person (one problem per line); ``error.problems`` is the
    list of :class:`Problem` for a program. It is not a ``ValueError`` on purpose: pydantic would
    wrap a ``ValueError`` raised in a validator and lose the field paths.
    """

    MAX_SHOWN = 20

    def __init__(self, problems: Sequence[Problem], source: str = "<scenario>") -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(self._format())

    def _format(self) -> str:
        shown = [p.render(self.source) for p in self.problems[: self.MAX_SHOWN]]
        if len(self.problems) == 1:
            return shown[0]
        more = len(self.problems) - len(shown)
        tail = [f"  ... and {more} more"] if more > 0 else []
        return "\n".join([f"{self.source}: {len(self.problems)} problems", *("  " + s for s in shown), *tail])


Path_ = tuple[str | int, ...]
"""A field path: keys and array indices, ``("providers", 1, "cluster", "nodes", 0, "cores")``."""

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_path(path: Path_) -> str:
    """``("providers", 1, "cluster")`` -> ``providers[1].cluster`` (odd keys are quoted, as in TOML)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else f'"{part}"'
            out += f".{key}" if out else key
    return out


def toml_positions(text: str) -> dict[Path_, int]:
    """The line (1-based) where each key path of a TOML document is first written.

    ``tomllib`` gives values but no positions, so error messages could not point at a line. This is
    a small scanner that understands just enough TOML to follow keys: ``[table]`` and
    ``[[array.of.tables]]`` headers (an array element is indexed by how many headers came before),
    dotted and quoted keys, inline tables and arrays (each element at the line where it starts),
    strings of the four kinds, and comments. It assumes the text is valid TOML (``tomllib`` parsed
    it first) and is best-effort otherwise.

    >>> pos = toml_positions('seed = 1\\n[[providers]]\\nname = "a"\\n[[providers]]\\nname = "b"\\n'
    ...                      'cluster = { nodes = [ { cores = 4 } ] }\\n')
    >>> pos[("providers", 1)], pos[("providers", 1, "name")], pos[("providers", 1, "cluster", "nodes", 0, "cores")]
    (4, 5, 6)
    """
    scanner = _TomlScanner(text)
    with contextlib.suppress(IndexError):  # ran off the end of malformed text: keep what was found
        scanner.document()
    return scanner.positions


def locate(positions: Mapping[Path_, int], path: Path_) -> int | None:
    """The line of ``path``, or of its longest prefix that has one (a missing key: its table's line)."""
    for k in range(len(path), 0, -1):
        line = positions.get(path[:k])
        if line is not None:
            return line
    return None


class _TomlScanner:
    """See :func:`toml_positions`. ``i`` is the read position in ``s``."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.positions: dict[Path_, int] = {}
        self.arrays: dict[Path_, int] = {}  # array-of-tables path -> elements so far

    def line(self, at: int) -> int:
        return bisect_right(self.starts, at)

    def record(self, path: Path_, at: int) -> None:
        line = self.line(at)
        for k in range(1, len(path) + 1):
            self.positions.setdefault(path[:k], line)

    def peek(self, k: int = 1) -> str:
        return self.s[self.i : self.i + k]

    def skip(self, newlines: bool) -> None:
        """Skip blanks and comments (and line breaks if ``newlines``)."""
        s, n = self.s, len(self.s)
        while self.i < n:
            c = s[self.i]
            if c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            elif c == "#":
                end = s.find("\n", self.i)
                self.i = n if end < 0 else end
            else:
                return

    def document(self) -> None:
        current: Path_ = ()
        while True:
            self.skip(newlines=True)
            if self.i >= len(self.s):
                return
            start = self.i
            if self.peek(2) == "[[":
                self.i += 2
                keys = self.key()
                self.skip(newlines=False)
                self.i += 2  # "]]"
                parent = (*self.resolve(keys[:-1]), keys[-1])
                index = self.arrays.get(parent, 0)
                self.arrays[parent] = index + 1
                current = (*parent, index)
                self.record(current, start)
            elif self.peek() == "[":
                self.i += 1
                keys = self.key()
                self.skip(newlines=False)
                self.i += 1  # "]"
                current = self.resolve(keys)
                self.record(current, start)
            else:
                self.keyval(current)
            if self.i == start:  # not TOML we understand: move on rather than loop
                self.i += 1

    def resolve(self, keys: Sequence[str]) -> Path_:
        """A header's keys as a path: a key naming an array of tables means its latest element."""
        out: Path_ = ()
        for key in keys:
            out = (*out, key)
            if out in self.arrays:
                out = (*out, self.arrays[out] - 1)
        return out

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip(newlines=False)
            c = self.peek()
            if c in "\"'":
                start = self.i
                self.string()
                parts.append(self.s[start + 1 : self.i - 1])
            else:
                m = _BARE_KEY.match(self.s, self.i)
                if m is None:
                    return tuple(parts)
                parts.append(m.group())
                self.i = m.end()
            self.skip(newlines=False)
            if self.peek() != ".":
                return tuple(parts)
            self.i += 1

    def keyval(self, base: Path_) -> None:
        start = self.i
        keys = self.key()
        if not keys:
            return
        self.skip(newlines=False)
        self.i += 1  # "="
        self.skip(newlines=False)
        path = base + keys
        self.record(path, start)
        self.value(path)

    def value(self, path: Path_) -> None:
        c = self.peek()
        if c == "{":
            self.i += 1
            while True:
                self.skip(newlines=True)
                if self.peek() in ("}", ""):
                    self.i += 1
                    return
                before = self.i
                self.keyval(path)
                self.skip(newlines=True)
                if self.peek() == "," or self.i == before:  # (no progress: skip what we do not know)
                    self.i += 1
        elif c == "[":
            self.i += 1
            index = 0
            while True:
                self.skip(newlines=True)
                if self.peek() in ("]", ""):
                    self.i += 1
                    return
                before = self.i
                self.record((*path, index), self.i)
                self.value((*path, index))
                index += 1
                self.skip(newlines=True)
                if self.peek() == "," or self.i == before:  # (no progress: skip what we do not know)
                    self.i += 1
        elif c in "\"'":
            self.string()
        else:
            s, n = self.s, len(self.s)
            while self.i < n and s[self.i] not in ",]}\r\n#":
                self.i += 1

    def string(self) -> None:
        """Skip one string of any of the four kinds; ``i`` ends just after its closing quote."""
        s = self.s
        quote = s[self.i]
        if s.startswith(quote * 3, self.i):
            j = self.i + 3
            while not s.startswith(quote * 3, j):
                j += 2 if quote == '"' and s[j] == "\\" else 1
            while s.startswith(quote * 4, j):  # up to two quotes may end the content
                j += 1
            self.i = j + 3
            return
        j = self.i + 1
        while s[j] != quote:
            j += 2 if quote == '"' and s[j] == "\\" else 1
        self.i = j + 1


def _clean_loc(loc: Sequence[str | int], data: Any, missing: bool = True) -> Path_:
    """A pydantic error location as a path in the user's data.

    Pydantic puts union tags (``"lognormal"``), validator names and the like into locations; they
    are not keys of the document. Walk the data and keep only what exists, plus (if ``missing``: the
    error is about a missing field) a final missing key of a table.
    """
    out: list[str | int] = []
    node = data
    for k, part in enumerate(loc):
        is_key = isinstance(node, dict) and isinstance(part, str) and part in node
        is_index = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if is_key or is_index:
            out.append(part)
            node = node[part]  # type: ignore[index]
        elif missing and k == len(loc) - 1 and isinstance(node, dict) and isinstance(part, str):
            out.append(part)
    return tuple(out)


class _Problems:
    """Collects problems while a scenario is checked; renders them with lines when it knows the text."""

    def __init__(self, context: Mapping[str, Any] | None) -> None:
        context = context or {}
        self.source: str = context.get("source", "<scenario>")
        self.positions: Mapping[Path_, int] = context.get("positions", {})
        self.data: Any = context.get("data")
        self.items: list[Problem] = []
        self.warnings: list[str] = []

    def add(self, path: Path_, message: str, clean: bool = False) -> None:
        """A problem at ``path`` (``clean``: a pydantic location, to be reduced to the document's keys)."""
        if clean and self.data is not None:
            path = _clean_loc(path, self.data)
        self.items.append(Problem(format_path(path), message, locate(self.positions, path)))

    def raise_if_any(self) -> None:
        if self.items:
            raise ScenarioError(self.items, self.source)


def _pydantic_problems(error: ValidationError, problems: _Problems) -> None:
    seen: set[tuple[str, str]] = set()
    for e in error.errors():
        loc = e["loc"]
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            key = str(loc[-1])
            if key in _field_names():
                # Known elsewhere: in TOML, a key written after a [table] header belongs to that table.
                message = (
                    f"unknown field {key!r} here (is it under the wrong [table]? keys after a header "
                    "belong to that table, so top-level keys go before the first one)"
                )
            else:
                close = difflib.get_close_matches(key, _field_names(), n=1)
                message = f"unknown field {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
        elif e["type"] == "missing":
            message = "missing required field"
        elif e["type"].startswith("value_error"):
            message = message.removeprefix("Value error, ")
        missing = e["type"] == "missing"
        path = _clean_loc(loc, problems.data, missing) if problems.data is not None else tuple(loc)
        if (format_path(path), message) in seen:  # union members repeat the same complaint
            continue
        seen.add((format_path(path), message))
        problems.items.append(Problem(format_path(path), message, locate(problems.positions, path)))


@cache
def _field_names() -> tuple[str, ...]:
    names: set[str] = set()
    stack: list[type[_Model]] = [_Model]
    while stack:
        cls = stack.pop()
        names.update(cls.model_fields)
        stack.extend(cls.__subclasses__())
    return tuple(sorted(names))


# ====================================================================================== base model


class _Model(BaseModel):
    """Strict (no silent ``"4"`` -> 4), closed (unknown keys are errors) and immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0)]
PositiveSeconds = Annotated[float, Field(gt=0.0)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


# =================================================================================== distributions


class _Dist(_Model):
    """A non-negative random quantity. ``max`` clips samples (and the mean) from above.

    Samples are drawn by inverting the distribution function at one uniform number
    (:meth:`quantile`), so each sample consumes exactly one number of its stream (see
    :mod:`simulator.rng`) and the same uniform gives comparable samples under different parameters.
    """

    max: PositiveSeconds | None = None

    def quantile(self, u: float) -> float:
        """The sample for the uniform number ``u`` in [0, 1), clipped at ``max``."""
        x = self._quantile(min(max(u, 1e-12), 1.0 - 1e-12))
        return x if self.max is None or x < self.max else self.max

    def sample(self, rng: random.Random) -> float:
        """One sample, from one ``rng.random()``."""
        return self.quantile(rng.random())

    def mean(self, cap: float | None = None) -> float:
        """The mean of ``min(X, max, cap)``: exact, so that offered load can be set from it."""
        caps = [c for c in (self.max, cap) if c is not None]
        return self._mean(min(caps) if caps else None)

    def _quantile(self, u: float) -> float:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def _mean(self, cap: float | None) -> float:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


class Constant(_Dist):
    """Always ``value``. A bare number in the file (``latency_ms = 5``) means this."""

    kind: Literal["constant"] = "constant"
    value: Seconds

    def _quantile(self, u: float) -> float:
        return self.value

    def _mean(self, cap: float | None) -> float:
        return self.value if cap is None else min(self.value, cap)


class Uniform(_Dist):
    """Uniform on [``low``, ``high``]."""

    kind: Literal["uniform"]
    low: Seconds
    high: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must not be below low ({self.low})")
        return self

    def _quantile(self, u: float) -> float:
        return self.low + u * (self.high - self.low)

    def _mean(self, cap: float | None) -> float:
        lo, hi = self.low, self.high
        if cap is None or cap >= hi:
            return (lo + hi) / 2
        if cap <= lo or hi == lo:
            return min(cap, lo)
        # E[min(X, c)] = integral of P(X > x) from 0 to c
        return lo + ((hi - lo) ** 2 - (hi - cap) ** 2) / (2 * (hi - lo))


class Exponential(_Dist):
    """Exponential with the given ``mean`` (memoryless: Poisson gaps, failure times)."""

    kind: Literal["exponential"]
    mean_: PositiveSeconds = Field(alias="mean")

    model_config = ConfigDict(populate_by_name=True)

    def _quantile(self, u: float) -> float:
        return -self.mean_ * math.log1p(-u)

    def _mean(self, cap: float | None) -> float:
        if cap is None:
            return self.mean_
        return self.mean_ * -math.expm1(-cap / self.mean_)


class LogNormal(_Dist):
    """Log-normal: ``exp(N(mu, sigma))``, heavy-tailed. Give ``sigma`` and one of ``mu``, ``median``
    (``= exp(mu)``) or ``mean`` (``= exp(mu + sigma²/2)``). Typical for job run times and latencies."""

    kind: Literal["lognormal"]
    sigma: Annotated[float, Field(gt=0.0)]
    mu: float | None = None
    median: PositiveSeconds | None = None
    mean_: PositiveSeconds | None = Field(default=None, alias="mean")

    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _one_location(self) -> Self:
        given = [
            k for k, v in (("mu", self.mu), ("median", self.median), ("mean", self.mean_)) if v is not None
        ]
        if len(given) != 1:
            raise ValueError(f"give exactly one of mu, median or mean (got {', '.join(given) or 'none'})")
        return self

    @property
    def location(self) -> float:
        """``mu``, the mean of the underlying normal distribution."""
        if self.mu is not None:
            return self.mu
        if self.median is not None:
            return math.log(self.median)
        return math.log(self.mean_) - self.sigma**2 / 2  # type: ignore[arg-type]

    def _quantile(self, u: float) -> float:
        return math.exp(self.location + self.sigma * _NORMAL.inv_cdf(u))

    def _mean(self, cap: float | None) -> float:
        mu, s = self.location, self.sigma
        full = math.exp(mu + s * s / 2)
        if cap is None:
            return full
        z = (math.log(cap) - mu) / s
        return full * _NORMAL.cdf(z - s) + cap * (1.0 - _NORMAL.cdf(z))


class Pareto(_Dist):
    """Pareto: ``P(X > x) = (scale / x) ** alpha`` for ``x >= scale``; the heaviest tail here.
    With ``alpha <= 1`` the mean is infinite, so ``max`` is then required."""

    kind: Literal["pareto"]
    alpha: Annotated[float, Field(gt=0.0)]
    scale: PositiveSeconds

    @model_validator(mode="after")
    def _finite_mean(self) -> Self:
        if self.alpha <= 1.0 and self.max is None:
            raise ValueError(f"a Pareto distribution with alpha={self.alpha} <= 1 has no mean; set max")
        return self

    def _quantile(self, u: float) -> float:
        return self.scale * (1.0 - u) ** (-1.0 / self.alpha)

    def _mean(self, cap: float | None) -> float:
        a, xm = self.alpha, self.scale
        if cap is None:
            return a * xm / (a - 1.0)
        if cap <= xm:
            return cap
        if a == 1.0:
            return xm + xm * math.log(cap / xm)
        return xm + xm**a * (cap ** (1.0 - a) - xm ** (1.0 - a)) / (1.0 - a)


_NORMAL = NormalDist()


def _number_as_constant(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"kind": "constant", "value": float(value)}
    return value


Distribution = Annotated[
    Constant | Uniform | Exponential | LogNormal | Pareto,
    Field(discriminator="kind"),
    BeforeValidator(_number_as_constant),
]
"""A distribution table ``{kind = "lognormal", mean = 600, sigma = 1.0, max = 86400}`` or a number.

Kinds: ``constant`` (value), ``uniform`` (low, high), ``exponential`` (mean), ``lognormal`` (sigma and
mu | median | mean), ``pareto`` (alpha, scale). Any kind takes ``max``. The unit is the field's
(``runtime_s``: seconds, ``latency_ms``: milliseconds).
"""


# ========================================================================================= the run


class RunConfig(_Model):
    """How long to simulate. Arrivals stop after ``jobs`` submissions or at ``until_s``, whichever
    comes first (neither given: 1000 jobs). With ``drain`` the run then continues until every job
    is final; without, it stops at ``until_s`` (or at the last arrival)."""

    jobs: Annotated[int, Field(gt=0)] | None = None
    until_s: PositiveSeconds | None = None
    drain: bool = True

    @model_validator(mode="before")
    @classmethod
    def _some_limit(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("jobs") is None and data.get("until_s") is None:
            return {**data, "jobs": 1000}
        return data


# ======================================================================================= providers


class BackendSupport(_Model):
    """What a provider supports for one tool backend (UCloud's ``UniversalBackendSupport``).

    Writing the block declares the backend: ``enabled`` defaults to true here. The flags become
    Core's feature keys (``time_extension`` is ``timeExtension`` on the wire, key ``...extension``).
    """

    enabled: bool = True
    web: bool = False
    vnc: bool = False
    logs: bool = False
    terminal: bool = False
    peers: bool = False
    time_extension: bool = False
    bind_link_to_port: bool = False

    def to_wire(self) -> dict[str, bool]:
        return {
            "enabled": self.enabled,
            "web": self.web,
            "vnc": self.vnc,
            "logs": self.logs,
            "terminal": self.terminal,
            "peers": self.peers,
            "timeExtension": self.time_extension,
            "bindLinkToPort": self.bind_link_to_port,
        }


class VmSupport(BackendSupport):
    """The virtual-machine block adds ``suspension`` (the provider can suspend and resume a VM)."""

    suspension: bool = False

    def to_wire(self) -> dict[str, bool]:
        return {**super().to_wire(), "suspension": self.suspension}


class SupportConfig(_Model):
    """The backends a provider runs, one block each; an absent block is a backend it does not run.
    A provider without any ``support`` runs containers: ``docker = {}``."""

    docker: BackendSupport | None = None
    virtual_machine: VmSupport | None = None
    native: BackendSupport | None = None

    def backends(self) -> list[str]:
        """The enabled backends as UCloud names (``DOCKER``, ``VIRTUAL_MACHINE``, ``NATIVE``)."""
        blocks = (("DOCKER", self.docker), ("VIRTUAL_MACHINE", self.virtual_machine), ("NATIVE", self.native))
        return [name for name, block in blocks if block is not None and block.enabled]


class NodeGroup(_Model):
    """``count`` identical nodes. Node names are ``<name>-<i>`` (``name`` defaults to ``g<group index>``)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] | None = None
    count: Annotated[int, Field(gt=0)] = 1
    cores: Annotated[int, Field(gt=0)]
    memory_gb: Annotated[int, Field(ge=0)] = 0
    gpus: Annotated[int, Field(ge=0)] = 0


class ClusterConfig(_Model):
    """The provider's machines, as groups of identical nodes. Default: 4 nodes of 32 cores, 128 GB.
    (How replicas are placed on them is the scheduling policy's ``placement`` parameter.)"""

    nodes: Annotated[list[NodeGroup], Field(min_length=1)] = Field(
        default_factory=lambda: [NodeGroup(count=4, cores=32, memory_gb=128)]
    )


class SchedulingConfig(_Model):
    """The provider's queue discipline: a policy name of :mod:`simulator.policies` (``fcfs``,
    ``easy``, ``k8s-priority``) and the keyword parameters of its constructor, e.g.
    ``params = { placement = "most-full" }`` (pack; the default ``least-full`` spreads)."""

    policy: str = "fcfs"
    params: dict[str, Any] = Field(default_factory=dict)


class BehaviourConfig(_Model):
    """How the provider behaves, apart from faults.

    * ``usage_report_interval_s``: period of ``accounting.reportUsage`` (absolute usage per job);
    * ``monitor_interval_s``: how often the provider looks at its jobs (a state change is noticed
      and reported at the next look);
    * ``start_delay_s``: from placement to RUNNING (image pull, VM boot), a distribution;
    * ``update_retry_s`` / ``max_update_retries``: how a ``jobs.control.update`` that was lost or
      timed out is sent again;
    * ``restart_delay_s``: how long the provider is down after a crash (see ``faults``).
    """

    usage_report_interval_s: PositiveSeconds = 60.0
    monitor_interval_s: PositiveSeconds = 5.0
    start_delay_s: Distribution = Field(default_factory=lambda: Constant(value=0.0))
    update_retry_s: PositiveSeconds = 10.0
    max_update_retries: Annotated[int, Field(ge=0)] = 5
    restart_delay_s: Distribution = Field(default_factory=lambda: Constant(value=30.0))


class ProviderConfig(_Model):
    """A compute provider: what it supports, its machines, its scheduler and its behaviour."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    support: SupportConfig = Field(default_factory=lambda: SupportConfig(docker=BackendSupport()))
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    scheduling: SchedulingConfig = Field(default_factory=SchedulingConfig)
    behaviour: BehaviourConfig = Field(default_factory=BehaviourConfig)

    def node_specs(self) -> list[tuple[str, int, int, int]]:
        """Every node as ``(name, cores, memory_gb, gpus)``; names are unique within the provider."""
        out = []
        for g, group in enumerate(self.cluster.nodes):
            prefix = group.name or f"g{g}"
            out += [(f"{prefix}-{i}", group.cores, group.memory_gb, group.gpus) for i in range(group.count)]
        return out

    def nodes(self) -> list[Node]:
        """The nodes as :class:`simulator.cluster.Node` objects."""
        from simulator.cluster import Node

        return [Node(*spec) for spec in self.node_specs()]

    def build_cluster(self) -> Cluster:
        """A fresh :class:`simulator.cluster.Cluster` of this provider's nodes."""
        from simulator.cluster import Cluster

        return Cluster(self.nodes())

    @property
    def total_cores(self) -> int:
        return sum(g.count * g.cores for g in self.cluster.nodes)


# ================================================================================ products and apps

_FREQUENCY = {"minute": "PERIODIC_MINUTE", "hour": "PERIODIC_HOUR", "day": "PERIODIC_DAY"}


class ProductConfig(_Model):
    """A compute product: one slice of a node (``cpu`` cores, ``memory_gb``, ``gpu``) at ``provider``.

    Charging follows UCloud: a job is charged ``replicas x cpu x price`` per ``time_unit`` of
    running time, in ``unit`` s of its ``category`` (default: the product's name). Products of one
    category must agree on unit, time unit and ``free_to_use``; wallets are per category.
    """

    name: Name
    provider: Name
    category: Name | None = None
    cpu: Annotated[int, Field(gt=0)] = 1
    memory_gb: Annotated[int, Field(ge=0)] = 0
    gpu: Annotated[int, Field(ge=0)] = 0
    price: Annotated[int, Field(ge=0)] = 1
    time_unit: Literal["minute", "hour", "day"] = "minute"
    unit: Name = "Core"
    unit_plural: Name | None = None
    free_to_use: bool = False
    description: str = ""

    @property
    def category_name(self) -> str:
        return self.category or self.name

    def slice(self) -> Slice:
        """The :class:`simulator.cluster.Slice` one replica of a job on this product needs."""
        from simulator.cluster import Slice

        return Slice(cores=self.cpu, memory_gb=self.memory_gb, gpus=self.gpu)

    def to_wire(self) -> ProductV2:
        category = {
            "name": self.category_name,
            "provider": self.provider,
            "productType": "COMPUTE",
            "accountingUnit": {
                "name": self.unit,
                "namePlural": self.unit_plural or f"{self.unit}s",
                "floatingPoint": False,
                "displayFrequencySuffix": True,
            },
            "accountingFrequency": _FREQUENCY[self.time_unit],
            "freeToUse": self.free_to_use,
        }
        return ProductV2.model_validate(
            {
                "type": "compute",
                "category": category,
                "name": self.name,
                "description": self.description or f"{self.cpu} vCPU",
                "productType": "COMPUTE",
                "price": self.price,
                "cpu": self.cpu,
                "memoryInGigs": self.memory_gb,
                "gpu": self.gpu,
            }
        )


ParameterType = Literal[tuple(t.value for t in ApplicationParameterType)]  # type: ignore[valid-type]


class ParameterConfig(_Model):
    """One application parameter (``ApplicationParameter``): ``type`` is one of UCloud's 16 kinds
    (``text``, ``integer``, ``boolean``, ``input_file``, ``ingress``, ``license_server``, ...). A
    parameter is required unless ``optional`` or it has a ``default``."""

    name: Name
    type: ParameterType
    optional: bool = False
    default: Any = None
    title: str | None = None
    description: str | None = None
    options: list[str] | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "name": self.name, "optional": self.optional}
        if self.default is not None:
            out["defaultValue"] = self.default
        for key in ("title", "description"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.options is not None:
            out["options"] = [{"name": o, "value": o} for o in self.options]
        return out


class ApplicationConfig(_Model):
    """An application: ``type`` (how users interact: BATCH, VNC, WEB) and tool ``backend`` (which
    support block of a provider applies: DOCKER, VIRTUAL_MACHINE, NATIVE; SINGULARITY and UCX exist
    in UCloud but Core refuses them)."""

    name: Name
    version: Name = "1"
    type: Literal["BATCH", "VNC", "WEB"] = "BATCH"
    backend: Literal["DOCKER", "VIRTUAL_MACHINE", "NATIVE", "SINGULARITY", "UCX"] = "DOCKER"
    title: str | None = None
    ssh: Literal["DISABLED", "OPTIONAL", "MANDATORY"] = "DISABLED"
    web_port: Annotated[int, Field(gt=0, lt=65536)] | None = None
    parameters: list[ParameterConfig] = Field(default_factory=list)

    def to_wire(self) -> Application:
        from spec.examples import _tool  # the tool block of spec.examples' applications

        invocation: dict[str, Any] = {
            "tool": _tool(self.name, self.backend),
            "applicationType": self.type,
            "parameters": [p.to_wire() for p in self.parameters],
        }
        if self.ssh != "DISABLED":
            invocation["ssh"] = {"mode": self.ssh}
        if self.web_port is not None or self.type == "WEB":
            invocation["web"] = {"port": self.web_port or 8080}
        metadata = {"name": self.name, "version": self.version, "title": self.title or self.name}
        return Application.model_validate({"metadata": metadata, "invocation": invocation})


# ========================================================================= users, projects, wallets


def _name_as_user(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class UserConfig(_Model):
    """A user. In the file, ``users = ["alice", "bob"]`` or ``[[users]] name = "alice"``."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@#-]+$")]


class ProjectConfig(_Model):
    """A project (a shared workspace with its own wallets); ``members`` may submit jobs in it."""

    id: Name
    title: str | None = None
    members: list[str] = Field(default_factory=list)


class WalletConfig(_Model):
    """A wallet: who pays (``user`` or ``project``), for which product ``category`` (at ``provider``,
    needed only when the category name exists at two providers), ``quota`` and ``max_usable``
    (default: the quota) in the category's unit. A wallet is locked when nothing is usable."""

    user: str | None = None
    project: str | None = None
    category: Name
    provider: str | None = None
    quota: Annotated[int, Field(ge=0)]
    max_usable: int | None = None

    @model_validator(mode="after")
    def _one_owner(self) -> Self:
        if (self.user is None) == (self.project is None):
            raise ValueError("a wallet belongs to exactly one of: user, project")
        return self


class ResourceConfig(_Model):
    """A bound resource owned by ``user`` (in ``project`` if given): a public link (``ingress``,
    exclusive), a public IP (``public_ip``, exclusive) or a software ``license`` (shared)."""

    type: Literal["ingress", "public_ip", "license"]
    id: Name
    provider: Name
    user: Name
    project: str | None = None
    domain: str | None = None
    ip_address: str | None = None
    product: str | None = None


# ======================================================================================= workload


class ReplicaChoice(_Model):
    """A replica count drawn per job: ``values`` with ``weights`` (default: equal)."""

    values: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]
    weights: list[Annotated[float, Field(gt=0.0)]] | None = None

    @model_validator(mode="after")
    def _same_length(self) -> Self:
        if self.weights is not None and len(self.weights) != len(self.values):
            raise ValueError(f"{len(self.values)} values but {len(self.weights)} weights")
        if len(set(self.values)) != len(self.values):
            raise ValueError("replica values must be distinct")
        return self

    def pairs(self) -> list[tuple[int, float]]:
        weights = self.weights or [1.0] * len(self.values)
        return list(zip(self.values, weights, strict=True))


class MixEntry(_Model):
    """One kind of request users send, chosen with probability proportional to ``weight``.

    It becomes a real ``JobSpecification``: ``application`` (``version`` needed only when several
    exist), ``product`` (``provider`` needed only when two providers sell that name), ``replicas``
    (a number or a :class:`ReplicaChoice`: one template per value), ``time_allocation_s`` (absent:
    no allocation; Core clears it for VMs), ``parameters`` (UCloud values, or plain ``"text"``,
    ``true``, ``42``, ``4.2`` for text, boolean, integer, floating_point), ``resources`` (UCloud
    values), ``ssh_enabled``. ``runtime_s`` overrides the workload's run-time distribution.

    Every entry is passed through Core's validation when the scenario loads: it must be accepted,
    unless ``expect`` gives the status Core must answer instead (a deliberately invalid request).
    """

    name: Name
    weight: Annotated[float, Field(gt=0.0)] = 1.0
    user: str | None = None
    project: str | None = None
    application: Name
    version: str | None = None
    product: Name
    provider: str | None = None
    replicas: int | ReplicaChoice = 1
    time_allocation_s: Annotated[int, Field(ge=0)] | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    resources: list[dict[str, Any]] = Field(default_factory=list)
    ssh_enabled: bool | None = None
    runtime_s: Distribution | None = None
    expect: Literal[400, 402, 403, 404] | None = None

    def replica_pairs(self) -> list[tuple[int, float]]:
        return [(self.replicas, 1.0)] if isinstance(self.replicas, int) else self.replicas.pairs()


class _ArrivalRate(_Model):
    rate_per_s: PositiveSeconds | None = None
    offered_load: Annotated[float, Field(gt=0.0)] | None = None

    @model_validator(mode="after")
    def _one_rate(self) -> Self:
        if (self.rate_per_s is None) == (self.offered_load is None):
            raise ValueError("give exactly one of rate_per_s, offered_load")
        return self


class PoissonArrivals(_ArrivalRate):
    """Independent arrivals at a constant rate: ``rate_per_s``, or ``offered_load`` (the submitted
    work as a fraction of the cluster's cores; see :func:`simulator.workload.arrival_rate_for_load`)."""

    kind: Literal["poisson"] = "poisson"


class BurstyArrivals(_ArrivalRate):
    """Bursts (a two-state Markov-modulated Poisson process) with the same *mean* rate: a fraction
    ``burst_fraction`` of the time is spent in bursts that last ``mean_burst_s`` on average, during
    which jobs arrive ``peak_factor`` times faster than in the calm."""

    kind: Literal["bursty"]
    peak_factor: Annotated[float, Field(ge=1.0)] = 10.0
    burst_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    mean_burst_s: PositiveSeconds = 600.0


Arrivals = Annotated[PoissonArrivals | BurstyArrivals, Field(discriminator="kind")]

INVALID_KINDS: dict[str, int] = {
    "zero-replicas": 400,
    "unknown-application": 400,
    "unknown-product": 400,
    "unsupported-backend": 400,
    "zero-allocation": 400,
    "unknown-parameter": 400,
    "wrong-parameter-type": 400,
    "missing-parameter": 400,
    "ssh-not-allowed": 400,
    "no-allocation": 402,
}
"""Kinds of deliberately invalid request the workload can send, with the status Core answers."""

InvalidKind = Literal[tuple(INVALID_KINDS)]  # type: ignore[valid-type]


class InvalidConfig(_Model):
    """A ``fraction`` of all requests is deliberately invalid; ``kinds`` (a list: equal weights, or
    a table ``{kind = weight}``) says how (:data:`INVALID_KINDS`). Each kind is built from a valid
    mix entry and must be refused by Core with its status."""

    fraction: Probability = 0.0
    kinds: list[InvalidKind] | dict[InvalidKind, Annotated[float, Field(gt=0.0)]] = Field(
        default_factory=lambda: ["zero-replicas", "unknown-application", "no-allocation"]
    )

    def weighted(self) -> list[tuple[str, float]]:
        if isinstance(self.kinds, dict):
            return list(self.kinds.items())
        return [(k, 1.0) for k in dict.fromkeys(self.kinds)]


class CancellationConfig(_Model):
    """With ``probability``, the user cancels the job ``delay_s`` after submitting it (it may still
    be queued then, or already finished: then nothing happens)."""

    probability: Probability = 0.0
    delay_s: Distribution = Field(default_factory=lambda: Exponential(kind="exponential", mean=600.0))


class ExtensionConfig(_Model):
    """With ``probability``, the user extends a job's time allocation by ``amount_s``; again with the
    same probability, up to ``max_count`` times. Extension *k* is asked for when the job's running
    time reaches a uniform fraction in [``at_fraction_min``, ``at_fraction_max``] of its current
    allocation (and only if the job still runs then). Jobs without an allocation are never extended."""

    probability: Probability = 0.0
    amount_s: Annotated[int, Field(gt=0)] = 3600
    max_count: Annotated[int, Field(ge=1)] = 1
    at_fraction_min: Probability = 0.5
    at_fraction_max: Probability = 0.95

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.at_fraction_max < self.at_fraction_min:
            raise ValueError("at_fraction_max must not be below at_fraction_min")
        return self


class ExitCodeConfig(_Model):
    """With ``nonzero_probability`` a job that runs to its end exits with one of ``codes`` (uniformly)."""

    nonzero_probability: Probability = 0.0
    codes: Annotated[list[int], Field(min_length=1)] = Field(default_factory=lambda: [1])

    @model_validator(mode="after")
    def _nonzero(self) -> Self:
        if 0 in self.codes:
            raise ValueError("codes are the non-zero exit codes; 0 is the normal exit")
        return self


class FollowConfig(_Model):
    """With ``fraction``, the user of a job that starts calls ``jobs.follow`` (log streaming) once,
    ``delay_s`` after the job started. Core streams only for a RUNNING job whose backend declares
    ``logs``; otherwise it answers without a stream."""

    fraction: Probability = 0.0
    delay_s: Distribution = Field(default_factory=lambda: Exponential(kind="exponential", mean=120.0))


class SessionConfig(_Model):
    """With ``fraction``, the user of a job that starts opens one interactive session
    (``jobs.interactiveSession``) of a kind drawn uniformly from ``kinds``, ``delay_s`` after the job
    started. Core answers 400 when the backend does not declare the kind's feature (web, vnc,
    terminal) or the job is not RUNNING."""

    fraction: Probability = 0.0
    kinds: Annotated[list[Literal["WEB", "VNC", "SHELL"]], Field(min_length=1)] = Field(
        default_factory=lambda: ["WEB", "VNC", "SHELL"]
    )
    delay_s: Distribution = Field(default_factory=lambda: Exponential(kind="exponential", mean=120.0))


class SuspensionConfig(_Model):
    """With ``fraction``, the user of a job whose backend declares ``suspension`` (virtual machines,
    reference §7.7) suspends it once, when it has run ``after_s``, and unsuspends it ``for_s`` later
    (once Core shows it SUSPENDED). A suspended job keeps its place on the cluster and does not run
    (no running time, no charge). Jobs of other backends are never suspended."""

    fraction: Probability = 0.0
    after_s: Distribution = Field(default_factory=lambda: Exponential(kind="exponential", mean=600.0))
    for_s: Distribution = Field(default_factory=lambda: Exponential(kind="exponential", mean=600.0))


class SwfConfig(_Model):
    """Replay a Standard Workload Format trace (``path``, relative to the scenario file) instead of
    synthetic arrivals. Each SWF job becomes a request shaped like the mix entry ``template``
    (default: the first entry whose product is at ``provider``), with ``ceil(processors /
    processors_per_replica)`` replicas (default: the product's cpu). ``time_scale`` multiplies times."""

    path: Name
    provider: Name
    template: str | None = None
    processors_per_replica: Annotated[int, Field(gt=0)] | None = None
    time_scale: PositiveSeconds = 1.0


class WorkloadConfig(_Model):
    """What users send and when.

    ``arrivals`` (default: Poisson at offered load 0.7), ``runtime_s`` (the true run time once
    RUNNING, default log-normal with mean 1800 s and sigma 1), ``mix`` (request templates; default:
    one entry per application, on the first product whose provider runs its backend), ``invalid``,
    ``cancellations``, ``extensions``, ``exit_codes``, the users' calls on running jobs (``follow``,
    ``sessions``, ``suspensions``); or ``swf`` to replay a trace.
    """

    arrivals: Arrivals = Field(default_factory=lambda: PoissonArrivals(offered_load=0.7))
    runtime_s: Distribution = Field(
        default_factory=lambda: LogNormal(kind="lognormal", mean=1800.0, sigma=1.0)
    )
    mix: list[MixEntry] = Field(default_factory=list)
    invalid: InvalidConfig = Field(default_factory=InvalidConfig)
    cancellations: CancellationConfig = Field(default_factory=CancellationConfig)
    extensions: ExtensionConfig = Field(default_factory=ExtensionConfig)
    exit_codes: ExitCodeConfig = Field(default_factory=ExitCodeConfig)
    follow: FollowConfig = Field(default_factory=FollowConfig)
    sessions: SessionConfig = Field(default_factory=SessionConfig)
    suspensions: SuspensionConfig = Field(default_factory=SuspensionConfig)
    swf: SwfConfig | None = None


# ======================================================================================== network


class LinkConfig(_Model):
    """One direction of the network between Core and a provider.

    ``latency_ms`` (a distribution, milliseconds), ``loss`` and ``duplicate`` probabilities per
    message, and ``reorder``: ``false`` keeps messages in order (FIFO), ``true`` lets each message
    take its own latency (later ones may overtake), a number is the probability that a message may
    overtake (the others keep FIFO).
    """

    latency_ms: Distribution = Field(default_factory=lambda: Constant(value=1.0))
    loss: Probability = 0.0
    duplicate: Probability = 0.0
    reorder: bool | Probability = False

    @property
    def reorder_probability(self) -> float:
        """``reorder`` as a probability: false 0, true 1."""
        return float(self.reorder)


class PartitionConfig(_Model):
    """During [``start_s``, ``end_s``) the messages between Core and ``provider`` in ``direction``
    are dropped (the senders' retries and timeouts then apply)."""

    provider: Name
    start_s: Seconds
    end_s: PositiveSeconds
    direction: Literal["both", "core_to_provider", "provider_to_core"] = "both"

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        return self


class DirectionsConfig(_Model):
    """Both directions of one provider's link (an override of the network-wide ones)."""

    core_to_provider: LinkConfig | None = None
    provider_to_core: LinkConfig | None = None


class NetworkConfig(_Model):
    """The network: ``core_to_provider`` and ``provider_to_core`` links for every provider, per
    provider overrides in ``per_provider.<name>``, ``partitions``, and ``timeout_s`` (a call without
    an answer by then fails with 504). Default: a perfect network with 1 ms latency."""

    core_to_provider: LinkConfig = Field(default_factory=LinkConfig)
    provider_to_core: LinkConfig = Field(default_factory=LinkConfig)
    per_provider: dict[str, DirectionsConfig] = Field(default_factory=dict)
    partitions: list[PartitionConfig] = Field(default_factory=list)
    timeout_s: PositiveSeconds = 30.0

    def link(self, provider: str, direction: Literal["core_to_provider", "provider_to_core"]) -> LinkConfig:
        """The link that applies to ``provider`` in ``direction``."""
        override = self.per_provider.get(provider)
        chosen = getattr(override, direction) if override is not None else None
        return chosen if chosen is not None else getattr(self, direction)


# ========================================================================================= faults


class _Rate(_Model):
    mtbf_s: PositiveSeconds | None = None
    rate_per_hour: PositiveSeconds | None = None

    @model_validator(mode="after")
    def _not_both(self) -> Self:
        if self.mtbf_s is not None and self.rate_per_hour is not None:
            raise ValueError("give mtbf_s or rate_per_hour, not both")
        return self

    @property
    def rate_per_s(self) -> float:
        """Events per second (0: never)."""
        if self.mtbf_s is not None:
            return 1.0 / self.mtbf_s
        return (self.rate_per_hour or 0.0) / 3600.0


class ProviderCrashConfig(_Rate):
    """Each provider in ``providers`` (default: all) crashes with this rate (``mtbf_s`` or
    ``rate_per_hour``, counted while it is up); it comes back after its ``behaviour.restart_delay_s``
    and must then recover its jobs from its durable table."""

    providers: list[str] = Field(default_factory=list)


class NodeFailureConfig(_Rate):
    """Each node (of ``providers``, default all) fails with this rate while up, killing the jobs on
    it (FAILURE), and is repaired after ``repair_s``."""

    repair_s: Distribution = Field(default_factory=lambda: Constant(value=3600.0))
    providers: list[str] = Field(default_factory=list)


class CoreRestartConfig(_Rate):
    """UCloud/Core restarts at the given ``times_s`` and/or with a rate; it is down for ``downtime_s``
    (calls to it fail meanwhile) and loses what it had not stored."""

    times_s: list[Seconds] = Field(default_factory=list)
    downtime_s: Distribution = Field(default_factory=lambda: Constant(value=10.0))


class VanishConfig(_Model):
    """A workload of a provider in ``providers`` (default: all) that ends while its provider is down
    vanishes with ``probability``: its record is gone from the cluster when the restarted provider
    looks for it (Slurm purged the finished job), so the provider cannot tell how it ended. What it
    reports then is the unknown-state rule's business (reference §7.2; ``spec.actions.Vanish``):
    SUCCESS under ``documented``, EXPIRED under ``ucloud-current`` when the provider's first pass after
    the restart comes after the job's ``expiresAt`` (its start + its allocation). Needs provider
    crashes to happen at all. Queued jobs never vanish here (the spec allows it; §7.2 spares them for
    five minutes, and nothing in the simulator removes a queued job from a cluster)."""

    probability: Probability = 0.0
    providers: list[str] = Field(default_factory=list)


class FaultsConfig(_Model):
    """What goes wrong. Everything is off by default."""

    provider_crash: ProviderCrashConfig = Field(default_factory=ProviderCrashConfig)
    node_failure: NodeFailureConfig = Field(default_factory=NodeFailureConfig)
    core_restart: CoreRestartConfig = Field(default_factory=CoreRestartConfig)
    vanish: VanishConfig = Field(default_factory=VanishConfig)


# ======================================================================================= scenario

DEFAULT_POLICIES: tuple[str, ...] = ("fcfs", "easy", "k8s-priority")
"""Policy names accepted when :mod:`simulator.policies` cannot be imported."""

UNLIMITED_QUOTA = 10**15
"""The quota of the wallets a scenario without ``[[wallets]]`` gives every user."""

NO_WALLET_USER = "nobody"
"""The user a ``no-allocation`` invalid request is sent as when every configured user has a wallet."""


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    """What the workload needs to know of one request template (``world.templates[index]``)."""

    index: int
    name: str
    entry: int | None  # the workload.mix index; None for a generated invalid request
    provider: str
    cores: int  # product cpu, per replica
    replicas: int
    allocation_s: int | None  # effective: None without one, and for VMs (Core clears it)
    expect: int | None  # Core's status for a deliberately invalid request; None: Core accepts it
    provider_refusal: tuple[int, str] | None


@dataclass(frozen=True)
class _Built:
    catalog: Catalog
    entries: tuple[MixEntry, ...]  # workload.mix, or the automatic mix when none is given
    requests: tuple[RequestTemplate, ...]
    info: tuple[TemplateInfo, ...]
    # per mix entry: (weight, [(template index, replica weight)]); then invalid: [(template index, weight)]
    mix: tuple[tuple[float, tuple[tuple[int, float], ...]], ...]
    invalid: tuple[tuple[int, float], ...]
    swf: Mapping[int, int]  # SWF replay: replica count -> template index
    warnings: tuple[str, ...]


class Scenario(_Model):
    """A whole scenario. Load one with :func:`load_scenario`, :meth:`from_toml`, :meth:`from_dict`
    or :func:`load_default_scenario`; every check runs on construction, and problems raise
    :class:`ScenarioError`. See the module docstring for the layout of the file.
    """

    name: str = "scenario"
    description: str = ""
    seed: int = 0
    variant: str = "documented"
    rules: dict[str, bool] = Field(default_factory=dict)
    mutant: str | None = None
    run: RunConfig = Field(default_factory=RunConfig)
    providers: Annotated[list[ProviderConfig], Field(min_length=1)]
    products: Annotated[list[ProductConfig], Field(min_length=1)]
    applications: Annotated[list[ApplicationConfig], Field(min_length=1)]
    users: Annotated[list[Annotated[UserConfig, BeforeValidator(_name_as_user)]], Field(min_length=1)] = (
        Field(default_factory=lambda: [UserConfig(name="user")])
    )
    projects: list[ProjectConfig] = Field(default_factory=list)
    wallets: list[WalletConfig] | None = None
    resources: list[ResourceConfig] = Field(default_factory=list)
    workload: WorkloadConfig = Field(default_factory=WorkloadConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    faults: FaultsConfig = Field(default_factory=FaultsConfig)

    _built: _Built = PrivateAttr()
    _source: Path | None = PrivateAttr(default=None)

    # -- loading -------------------------------------------------------------------------------------
    @classmethod
    def from_toml(cls, text: str, source: str | Path = "<scenario>") -> Scenario:
        """Parse and check a scenario from TOML text; ``source`` names it in errors and anchors
        relative paths (``workload.swf.path``)."""
        name = str(source)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            m = re.search(r"\(at line (\d+), column \d+\)", str(e))
            line = int(m.group(1)) if m else None
            raise ScenarioError([Problem("", f"not valid TOML: {e}", line)], name) from None
        return cls.from_dict(data, source=source, positions=toml_positions(text))

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        source: str | Path = "<scenario>",
        positions: Mapping[Path_, int] | None = None,
    ) -> Scenario:
        """Check a scenario given as plain data (what ``tomllib`` returns)."""
        path = Path(source) if isinstance(source, Path) or Path(str(source)).suffix == ".toml" else None
        context = {"source": str(source), "positions": positions or {}, "data": data, "path": path}
        try:
            return cls.model_validate(dict(data), context=context)
        except ValidationError as e:
            problems = _Problems(context)
            _pydantic_problems(e, problems)
            raise ScenarioError(problems.items, str(source)) from None

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """A copy with dotted keys replaced, checked again: ``{"faults.node_failure.mtbf_s": 3600,
        "providers.0.scheduling.policy": "easy"}`` (list elements by index)."""
        data = self.model_dump(by_alias=True, exclude_none=True)
        if self.workload.swf is not None and "arrivals" not in self.workload.model_fields_set:
            # The dump writes the default arrivals back; with an SWF replay they were never given, and
            # giving both is refused. (An override of workload.arrivals still sets them, and is refused.)
            data["workload"].pop("arrivals", None)
        for dotted, value in overrides.items():
            node: Any = data
            parts = dotted.split(".")
            for part in parts[:-1]:
                node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
            last = parts[-1]
            if isinstance(node, list):
                node[int(last)] = value
            else:
                node[last] = value
        return Scenario.from_dict(data, source=str(self._source or "<scenario>"))

    # -- the whole-scenario checks -------------------------------------------------------------------
    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        context = info.context or {}
        problems = _Problems(context)
        self._source = context.get("path")
        _check_names(self, problems)
        problems.raise_if_any()  # the world below needs the references to resolve
        self._built = _build(self, problems)
        _check_workload(self, problems)
        problems.raise_if_any()
        warnings = tuple(dict.fromkeys([*self._built.warnings, *problems.warnings]))  # each once, in order
        self._built = dataclasses.replace(self._built, warnings=warnings)
        return self

    # -- what the rest of the simulator consumes -----------------------------------------------------
    def config(self) -> Config:
        """The protocol's rule switches and mutant (:func:`spec.rules.resolve`)."""
        return resolve(self.variant, self.rules, self.mutant)

    def catalog(self) -> Catalog:
        """The catalog of UCloud wire objects (shared: treat it as read-only)."""
        return self._built.catalog

    def request_templates(self) -> list[RequestTemplate]:
        """The request templates, valid mix entries first (one per replica value), then the
        deliberately invalid kinds. ``Arrival.template`` indexes this list (and ``world().templates``)."""
        return list(self._built.requests)

    def template_info(self) -> tuple[TemplateInfo, ...]:
        """Per template: its mix entry, provider, cores, replicas, effective allocation, expected status."""
        return self._built.info

    def world(self, **bounds: Any) -> World:
        """A fresh :class:`spec.world.World` of this scenario (``bounds`` override World fields)."""
        defaults: dict[str, Any] = {
            "reorder": any(
                self.network.link(p.name, d).reorder_probability > 0 for p in self.providers for d in _DIRS
            ),
            "extension_ms": self.workload.extensions.amount_s * 1000,
            "exit_codes": (0, *dict.fromkeys(self.workload.exit_codes.codes)),
            "vanish": self.faults.vanish.probability > 0,
        }
        defaults.update(bounds)
        names = tuple(p.name for p in self.providers)
        return World(catalog=self._built.catalog, requests=self._built.requests, providers=names, **defaults)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Things that are allowed but probably not meant (a product that fits no node, load > 1...)."""
        return self._built.warnings

    @property
    def source(self) -> Path | None:
        """The file the scenario was loaded from, if any."""
        return self._source

    def provider(self, name: str) -> ProviderConfig:
        return next(p for p in self.providers if p.name == name)

    def product(self, name: str, provider: str | None = None) -> ProductConfig:
        return next(p for p in self.products if p.name == name and provider in (None, p.provider))

    def swf_path(self) -> Path | None:
        """``workload.swf.path`` resolved against the scenario file's directory."""
        if self.workload.swf is None:
            return None
        path = Path(self.workload.swf.path)
        if not path.is_absolute() and self._source is not None:
            path = self._source.parent / path
        return path

    # -- load ----------------------------------------------------------------------------------------
    def mix_plan(
        self,
    ) -> tuple[tuple[tuple[float, tuple[tuple[int, float], ...]], ...], tuple[tuple[int, float], ...]]:
        """``(entries, invalid)``: per mix entry ``(weight, ((template, replica weight), ...))``, and
        the invalid templates with their weights. The workload generator draws from these."""
        return self._built.mix, self._built.invalid

    def mix_entries(self) -> tuple[MixEntry, ...]:
        """The mix entries in use: ``workload.mix``, or the automatic one-per-application mix."""
        return self._built.entries

    def swf_templates(self) -> Mapping[int, int]:
        """For an SWF replay: replica count -> template index (one template per count in the file)."""
        return self._built.swf

    def template_shares(self) -> list[float]:
        """The probability that an arrival uses each template."""
        shares = [0.0] * len(self._built.info)
        f = self.workload.invalid.fraction if self._built.invalid else 0.0
        total = sum(w for w, _ in self._built.mix)
        for weight, reps in self._built.mix:
            rtotal = sum(rw for _, rw in reps)
            for t, rw in reps:
                shares[t] += (1.0 - f) * weight / total * rw / rtotal
        itotal = sum(w for _, w in self._built.invalid)
        for t, w in self._built.invalid:
            shares[t] += f * w / itotal
        return shares

    def template_demand_core_s(self, index: int) -> float:
        """Core-seconds template ``index`` asks for on average: replicas x cores x E[min(run time,
        allocation)] (0 for a request that is refused)."""
        t = self._built.info[index]
        if t.expect is not None or t.provider_refusal is not None or t.entry is None:
            return 0.0
        dist = self._built.entries[t.entry].runtime_s or self.workload.runtime_s
        return t.replicas * t.cores * dist.mean(t.allocation_s)

    def mean_demand_core_s(self, provider: str | None = None) -> float:
        """Mean core-seconds per arrival (only the work that goes to ``provider``, if given)."""
        return sum(
            share * self.template_demand_core_s(i)
            for i, share in enumerate(self.template_shares())
            if provider is None or self._built.info[i].provider == provider
        )

    def capacity_cores(self, providers: Iterable[str] | None = None) -> int:
        """Total cores of ``providers`` (default: the providers the workload sends work to)."""
        names = set(providers) if providers is not None else self.working_providers()
        return sum(p.total_cores for p in self.providers if p.name in names)

    def working_providers(self) -> set[str]:
        """Providers that receive valid work."""
        return {t.provider for i, t in enumerate(self._built.info) if self.template_demand_core_s(i) > 0}

    def arrival_rate_per_s(self) -> float:
        """The arrival rate: ``rate_per_s``, or the rate that gives ``offered_load``."""
        from simulator.workload import arrival_rate_for_load

        arrivals = self.workload.arrivals
        if arrivals.rate_per_s is not None:
            return arrivals.rate_per_s
        return arrival_rate_for_load(arrivals.offered_load, self.capacity_cores(), self.mean_demand_core_s())  # type: ignore[arg-type]

    def offered_load(self, provider: str | None = None) -> float:
        """Submitted work per second over capacity (of ``provider``, or of all working providers)."""
        cap = self.capacity_cores([provider] if provider else None)
        return self.arrival_rate_per_s() * self.mean_demand_core_s(provider) / cap if cap else 0.0


_DIRS: tuple[Literal["core_to_provider", "provider_to_core"], ...] = ("core_to_provider", "provider_to_core")


# ========================================================================= checks and construction


def _known_policies() -> tuple[str, ...]:
    try:
        from simulator.policies import policy_names
    except ImportError:  # a trimmed installation without the policies: accept the usual names
        return DEFAULT_POLICIES
    return tuple(policy_names())


def _unknown(kind: str, name: object, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {kind} {name!r}{hint}; known: {', '.join(known) or 'none'}"


def _check_names(s: Scenario, problems: _Problems) -> None:
    """References between sections: every name used is defined, every definition is unique."""
    add = problems.add
    if s.variant not in VARIANTS:
        add(("variant",), _unknown("variant", s.variant, VARIANTS))
    for rule in s.rules:
        if rule not in RULES_BY_NAME:
            add(("rules", rule), _unknown("rule", rule, RULES_BY_NAME))
    if s.mutant is not None and s.mutant not in MUTANTS_BY_NAME:
        add(("mutant",), _unknown("mutant", s.mutant, MUTANTS_BY_NAME))

    providers = [p.name for p in s.providers]
    policies = _known_policies()
    for i, p in enumerate(s.providers):
        if p.name in providers[:i]:
            add(("providers", i, "name"), f"provider {p.name!r} is defined twice")
        groups = [g.name or f"g{k}" for k, g in enumerate(p.cluster.nodes)]
        for k, g in enumerate(groups):
            if g in groups[:k]:
                add(("providers", i, "cluster", "nodes", k, "name"), f"node group name {g!r} is used twice")
        if p.scheduling.policy not in policies:
            add(
                ("providers", i, "scheduling", "policy"),
                _unknown("scheduling policy", p.scheduling.policy, policies),
            )
        else:
            _check_policy_params(p, ("providers", i, "scheduling", "params"), problems)
        if not p.support.backends():
            problems.warnings.append(f"provider {p.name!r} enables no backend: Core refuses every job there")

    categories: dict[tuple[str, str], ProductConfig] = {}
    seen_products: set[tuple[str, str]] = set()
    for i, prod in enumerate(s.products):
        if prod.provider not in providers:
            add(("products", i, "provider"), _unknown("provider", prod.provider, providers))
        if (prod.provider, prod.name) in seen_products:
            add(("products", i, "name"), f"product {prod.name!r} is defined twice at {prod.provider!r}")
        seen_products.add((prod.provider, prod.name))
        first = categories.setdefault((prod.provider, prod.category_name), prod)
        for key in ("time_unit", "unit", "free_to_use"):
            if getattr(first, key) != getattr(prod, key):
                add(
                    ("products", i, key),
                    f"category {prod.category_name!r} has {key} {getattr(first, key)!r} in product "
                    f"{first.name!r}; all products of a category must agree",
                )

    apps: set[tuple[str, str]] = set()
    enabled = {b for p in s.providers for b in p.support.backends()}
    for i, app in enumerate(s.applications):
        if (app.name, app.version) in apps:
            add(("applications", i, "name"), f"application {app.name} {app.version} is defined twice")
        apps.add((app.name, app.version))
        if app.backend not in enabled:
            problems.warnings.append(
                f"application {app.name!r}: no provider runs {app.backend}; Core refuses it everywhere"
            )
        names = [prm.name for prm in app.parameters]
        for k, prm in enumerate(app.parameters):
            if prm.name in names[:k]:
                add(("applications", i, "parameters", k, "name"), f"parameter {prm.name!r} is defined twice")

    users = [u.name for u in s.users]
    for i, u in enumerate(s.users):
        if u.name in users[:i]:
            add(("users", i), f"user {u.name!r} is defined twice")
    projects = {p.id: p for p in s.projects}
    for i, proj in enumerate(s.projects):
        for k, m in enumerate(proj.members):
            if m not in users:
                add(("projects", i, "members", k), _unknown("user", m, users))

    category_names = {c for _, c in categories}
    for i, w in enumerate(s.wallets or []):
        if w.user is not None and w.user not in users:
            add(("wallets", i, "user"), _unknown("user", w.user, users))
        if w.project is not None and w.project not in projects:
            add(("wallets", i, "project"), _unknown("project", w.project, projects))
        at = [prov for prov, c in categories if c == w.category and w.provider in (None, prov)]
        if not at:
            known = (
                category_names if w.provider is None else {c for prov, c in categories if prov == w.provider}
            )
            add(("wallets", i, "category"), _unknown("product category", w.category, sorted(known)))
        elif len(at) > 1:
            add(
                ("wallets", i, "provider"),
                f"category {w.category!r} exists at {', '.join(at)}: say which provider",
            )

    seen_resources: set[tuple[str, str]] = set()
    for i, r in enumerate(s.resources):
        if r.provider not in providers:
            add(("resources", i, "provider"), _unknown("provider", r.provider, providers))
        if r.user not in users:
            add(("resources", i, "user"), _unknown("user", r.user, users))
        if r.project is not None and r.project not in projects:
            add(("resources", i, "project"), _unknown("project", r.project, projects))
        if (r.type, r.id) in seen_resources:
            add(("resources", i, "id"), f"{r.type} {r.id!r} is defined twice")
        seen_resources.add((r.type, r.id))

    for i, e in enumerate(s.workload.mix):
        where: Path_ = ("workload", "mix", i)
        if e.name in [m.name for m in s.workload.mix[:i]]:
            add((*where, "name"), f"mix entry name {e.name!r} is used twice")
        if e.user is not None and e.user not in users:
            add((*where, "user"), _unknown("user", e.user, users))
        if e.project is not None:
            if e.project not in projects:
                add((*where, "project"), _unknown("project", e.project, projects))
            elif (e.user or users[0]) not in projects[e.project].members:
                add(
                    (*where, "project"),
                    f"user {e.user or users[0]!r} is not a member of project {e.project!r}",
                )
        if e.expect is None:  # a deliberately invalid entry may name things that do not exist
            _resolve_app(s, e, (*where, "application"), problems)
            _resolve_product(s, e, (*where, "product"), problems)

    for key, names in (
        ("per_provider", list(s.network.per_provider)),
        ("partitions", [p.provider for p in s.network.partitions]),
    ):
        for i, name in enumerate(names):
            if name not in providers:
                path: Path_ = (
                    ("network", key, name) if key == "per_provider" else ("network", key, i, "provider")
                )
                add(path, _unknown("provider", name, providers))
    for kind in ("provider_crash", "node_failure", "vanish"):
        for i, name in enumerate(getattr(s.faults, kind).providers):
            if name not in providers:
                add(("faults", kind, "providers", i), _unknown("provider", name, providers))


def _check_policy_params(p: ProviderConfig, where: Path_, problems: _Problems) -> None:
    """Let the policy registry judge the parameters, when it exists."""
    try:
        from simulator.policies import make_policy
    except ImportError:
        return
    try:
        make_policy(p.scheduling.policy, **p.scheduling.params)
    except (TypeError, ValueError) as e:  # an unknown keyword is a TypeError, a bad value a ValueError
        problems.add(where, f"policy {p.scheduling.policy!r} does not accept these parameters: {e}")


def _resolve_app(
    s: Scenario, e: MixEntry, where: Path_, problems: _Problems | None
) -> ApplicationConfig | None:
    found = [a for a in s.applications if a.name == e.application and e.version in (None, a.version)]
    if len(found) == 1:
        return found[0]
    if problems is not None:
        if not found:
            known = sorted({f"{a.name} {a.version}" for a in s.applications})
            what = e.application if e.version is None else f"{e.application} {e.version}"
            problems.add(where, _unknown("application", what, known))
        else:
            versions = ", ".join(a.version for a in found)
            problems.add(where, f"application {e.application!r} has versions {versions}: set version")
    return None


def _resolve_product(
    s: Scenario, e: MixEntry, where: Path_, problems: _Problems | None
) -> ProductConfig | None:
    found = [p for p in s.products if p.name == e.product and e.provider in (None, p.provider)]
    if len(found) == 1:
        return found[0]
    if problems is not None:
        if not found:
            problems.add(where, _unknown("product", e.product, sorted({p.name for p in s.products})))
        else:
            problems.add(
                where, f"product {e.product!r} exists at {', '.join(p.provider for p in found)}: set provider"
            )
    return None


def _parameter_value(value: Any) -> Any:
    """Plain TOML values as UCloud parameter values; tables are taken as UCloud JSON."""
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, int):
        return {"type": "integer", "value": value}
    if isinstance(value, float):
        return {"type": "floating_point", "value": value}
    if isinstance(value, str):
        return {"type": "text", "value": value}
    return value


def _fits(provider: ProviderConfig, product: ProductConfig, replicas: int) -> bool:
    """Whether an empty cluster could hold the job (each replica on one node; all at once)."""
    per_node = [
        (
            g.count,
            min(
                g.cores // product.cpu,
                g.memory_gb // product.memory_gb if product.memory_gb else 1 << 30,
                g.gpus // product.gpu if product.gpu else 1 << 30,
            ),
        )
        for g in provider.cluster.nodes
    ]
    return sum(count * k for count, k in per_node) >= max(replicas, 1)


def _auto_mix(s: Scenario) -> list[MixEntry]:
    """One entry per application, on the first product whose provider runs its backend."""
    out = []
    for app in s.applications:
        for prod in s.products:
            prov = next((p for p in s.providers if p.name == prod.provider), None)
            if prov is not None and app.backend in prov.support.backends():
                params = {
                    p.name: _example_value(p.type)
                    for p in app.parameters
                    if p.optional is False and p.default is None
                }
                if any(v is None for v in params.values()):
                    break  # a required parameter we cannot invent a value for: leave the app out
                out.append(
                    MixEntry(
                        name=f"{app.name}@{prod.name}",
                        application=app.name,
                        version=app.version,
                        product=prod.name,
                        provider=prod.provider,
                        parameters=params,
                    )
                )
                break
    return out


def _example_value(param_type: str) -> Any:
    return {
        "text": "x",
        "textarea": "x",
        "enumeration": "x",
        "integer": 1,
        "boolean": False,
        "floating_point": 1.0,
    }.get(param_type)


def _job_body(s: Scenario, e: MixEntry, replicas: int) -> dict[str, Any]:
    """A mix entry as the JSON body of a ``jobs.create`` item."""
    prod = _resolve_product(s, e, (), None)
    app = _resolve_app(s, e, (), None)
    ref = {
        "id": e.product,
        "category": prod.category_name if prod else e.product,
        "provider": prod.provider if prod else (e.provider or "unknown"),
    }
    body: dict[str, Any] = {
        "product": ref,
        "application": {"name": e.application, "version": app.version if app else (e.version or "1")},
        "replicas": replicas,
        "parameters": {k: _parameter_value(v) for k, v in e.parameters.items()},
        "resources": list(e.resources),
    }
    if e.time_allocation_s is not None:
        body["timeAllocation"] = SimpleDuration.from_millis(e.time_allocation_s * 1000).to_wire()
    if e.ssh_enabled is not None:
        body["sshEnabled"] = e.ssh_enabled
    return body


def _build_catalog(s: Scenario) -> Catalog:
    from spec.examples import _resource  # the resource envelope of spec.examples' public link and license

    support = []
    for prod in s.products:
        prov = s.provider(prod.provider)
        block = {
            "product": {"id": prod.name, "category": prod.category_name, "provider": prod.provider},
            "docker": prov.support.docker.to_wire() if prov.support.docker else {},
            "virtualMachine": prov.support.virtual_machine.to_wire() if prov.support.virtual_machine else {},
            "native": prov.support.native.to_wire() if prov.support.native else {},
        }
        support.append(JobSupport.model_validate(block))
    ingresses, ips, licenses = [], [], []
    for n, r in enumerate(s.resources):
        kind = {"ingress": "u1-public-link", "public_ip": "u1-public-ip", "license": "licenses"}[r.type]
        ref = {"id": r.product or kind, "category": r.product or kind, "provider": r.provider}
        spec: dict[str, Any] = {"product": ref}
        extra: dict[str, Any] = {}
        if r.type == "ingress":
            spec["domain"] = r.domain or f"app-{r.id}.{r.provider}.example.org"
        if r.type == "public_ip":
            extra["ipAddress"] = r.ip_address or f"192.0.2.{n % 254 + 1}"
        body = _resource(r.id, r.user, spec, extra)
        body["owner"]["project"] = r.project
        {"ingress": ingresses, "public_ip": ips, "license": licenses}[r.type].append(body)
    if s.wallets is None:
        categories = dict.fromkeys((p.category_name, p.provider) for p in s.products)
        wallets = [
            {
                "owner": {"type": "user", "username": u.name},
                "paysFor": {"name": c, "provider": prov},
                "quota": UNLIMITED_QUOTA,
                "maxUsable": UNLIMITED_QUOTA,
            }
            for u in s.users
            for c, prov in categories
        ]
    else:
        wallets = []
        for w in s.wallets:
            provider = w.provider or next(p.provider for p in s.products if p.category_name == w.category)
            owner = (
                {"type": "user", "username": w.user}
                if w.user is not None
                else {"type": "project", "projectId": w.project}
            )
            usable = w.quota if w.max_usable is None else w.max_usable
            wallets.append(
                {
                    "owner": owner,
                    "paysFor": {"name": w.category, "provider": provider},
                    "quota": w.quota,
                    "maxUsable": usable,
                }
            )
    return Catalog.build(
        applications=[a.to_wire() for a in s.applications],
        products=[p.to_wire() for p in s.products],
        support=support,
        ingresses=[Ingress.model_validate(r) for r in ingresses],
        public_ips=[PublicIP.model_validate(r) for r in ips],
        licenses=[License.model_validate(r) for r in licenses],
        wallets=[Wallet.model_validate(w) for w in wallets],
    )


def _build(s: Scenario, problems: _Problems) -> _Built:
    """The catalog, the request templates (each checked against Core's validation) and the mix plan."""
    catalog = _build_catalog(s)
    cfg = resolve(s.variant, s.rules)  # a correct Core: what the templates promise does not depend on mutants
    users = [u.name for u in s.users]
    entries = s.workload.mix or _auto_mix(s)
    requests: list[RequestTemplate] = []
    info: list[TemplateInfo] = []
    mix: list[tuple[float, tuple[tuple[int, float], ...]]] = []
    warnings = list(problems.warnings)
    explicit = bool(s.workload.mix)

    def add_template(
        name: str,
        entry: int | None,
        user: str,
        project: str | None,
        spec: JobSpecification,
        expect: int | None,
    ) -> int:
        prod = next(
            (p for p in s.products if p.name == spec.product.id and p.provider == spec.product.provider), None
        )
        prov = next((p for p in s.providers if p.name == spec.product.provider), None)
        refusal = None
        if expect is None and prod is not None and prov is not None and not _fits(prov, prod, spec.replicas):
            refusal = (400, "no node can fit this job")
            warnings.append(
                f"request {name!r}: {spec.replicas} x {prod.name} does not fit {prov.name}'s "
                "cluster; the provider will refuse it"
            )
        app = catalog.application(spec.application.name, spec.application.version)
        alloc = spec.time_allocation.to_millis() // 1000 if spec.time_allocation is not None else None
        if app is not None and app.backend is not None and app.backend.value == "VIRTUAL_MACHINE":
            alloc = None  # Core clears the allocation of VM tools (core2 job.go: jobsValidateForSubmission)
        index = len(requests)
        requests.append(RequestTemplate(name, user, spec, project, refusal))
        info.append(
            TemplateInfo(
                index,
                name,
                entry,
                spec.product.provider,
                prod.cpu if prod else 1,
                spec.replicas,
                alloc,
                expect,
                refusal,
            )
        )
        return index

    for i, e in enumerate(entries):
        where: Path_ = ("workload", "mix", i) if explicit else ("workload",)
        user = e.user or users[0]
        reps: list[tuple[int, float]] = []
        for replicas, weight in e.replica_pairs():
            try:
                spec = JobSpecification.model_validate(_job_body(s, e, replicas))
            except ValidationError as err:
                for d in err.errors():
                    problems.add((*where, *_spec_loc(d["loc"])), d["msg"], clean=True)
                break
            refusal = validate_submission(spec, user, e.project, catalog, cfg=cfg)
            got = refusal.status if refusal is not None else None
            if got != e.expect:
                if refusal is None:
                    problems.add((*where, "expect"), f"Core accepts this request, but expect = {e.expect}")
                else:
                    problems.add(
                        (*where, *_refusal_field(refusal.field)),
                        f"Core refuses this request: {refusal.status} {refusal.why}"
                        + _refusal_hint(s, e, refusal.why)
                        + (f" (expect = {e.expect})" if e.expect else ""),
                    )
                break
            name = e.name if isinstance(e.replicas, int) else f"{e.name}[replicas={replicas}]"
            reps.append((add_template(name, i, user, e.project, spec, e.expect), weight))
        else:
            mix.append((e.weight, tuple(reps)))
    if not entries and s.workload.swf is None:
        problems.add(("workload", "mix"), "no request templates: add [[workload.mix]] entries")

    invalid: list[tuple[int, float]] = []
    if s.workload.invalid.fraction > 0 and len(mix) == len(entries) and entries:
        valid = [
            (e, requests[mix[i][1][0][0]])
            for i, e in enumerate(entries)
            if e.expect is None and info[mix[i][1][0][0]].provider_refusal is None
        ]
        for k, (kind, weight) in enumerate(s.workload.invalid.weighted()):
            where = (
                "workload",
                "invalid",
                "kinds",
                kind if isinstance(s.workload.invalid.kinds, dict) else k,
            )
            made = _invalid_request(s, kind, valid, catalog)
            if isinstance(made, str):
                problems.add(where, made)
                continue
            user, project, spec = made
            refusal = validate_submission(spec, user, project, catalog, cfg=cfg)
            if refusal is None or refusal.status != INVALID_KINDS[kind]:
                got = "accepted" if refusal is None else f"{refusal.status} {refusal.why}"
                problems.add(where, f"the {kind} request was {got}, not {INVALID_KINDS[kind]}")
                continue
            invalid.append(
                (add_template(f"invalid:{kind}", None, user, project, spec, refusal.status), weight)
            )
    swf: dict[int, int] = {}
    if s.workload.swf is not None and not problems.items:
        swf = _swf_templates(s, entries, problems, add_template, cfg, catalog)
    return _Built(
        catalog,
        tuple(entries),
        tuple(requests),
        tuple(info),
        tuple(mix),
        tuple(invalid),
        swf,
        tuple(warnings),
    )


def _swf_templates(
    s: Scenario,
    entries: list[MixEntry],
    problems: _Problems,
    add_template: Any,
    cfg: Config,
    catalog: Catalog,
) -> dict[int, int]:
    """One template per replica count found in the SWF file, shaped like the chosen mix entry.

    The file is read once here (streaming), so that every job of the replay has a template whose
    ``replicas`` is its own: the specification charges and checks by template.
    """
    from simulator.swf import SwfFormatError, SwfReader

    swf = s.workload.swf
    assert swf is not None
    products = {(p.name, p.provider): p for p in s.products}
    chosen = next(
        (
            (i, e)
            for i, e in enumerate(entries)
            if (e.name == swf.template if swf.template is not None else e.expect is None)
            and (prod := _resolve_product(s, e, (), None)) is not None
            and prod.provider == swf.provider
        ),
        None,
    )
    if chosen is None:
        what = f"mix entry {swf.template!r}" if swf.template else "a valid mix entry"
        problems.add(("workload", "swf", "template"), f"{what} with a product at {swf.provider!r} is needed")
        return {}
    index, entry = chosen
    product = products.get((entry.product, swf.provider))
    per_replica = swf.processors_per_replica or (product.cpu if product else 1)
    path = s.swf_path()
    if path is None or not path.is_file():
        return {}  # reported by _check_workload
    counts: set[int] = set()
    try:
        for job in SwfReader(path):
            procs = job.processors
            if procs > 0:
                counts.add(-(-procs // per_replica))
    except (OSError, SwfFormatError) as e:
        problems.add(("workload", "swf", "path"), f"cannot read the SWF file: {e}")
        return {}
    out: dict[int, int] = {}
    for replicas in sorted(counts):
        spec = JobSpecification.model_validate(_job_body(s, entry, replicas))
        user = entry.user or s.users[0].name
        refusal = validate_submission(spec, user, entry.project, catalog, cfg=cfg)
        expect = refusal.status if refusal is not None else None
        out[replicas] = add_template(
            f"swf:{entry.name}[replicas={replicas}]", index, user, entry.project, spec, expect
        )
    return out


def _refusal_hint(s: Scenario, e: MixEntry, why: str) -> str:
    """Why Core refused, in the scenario's terms, where the reason alone is terse."""
    if why != "the application is not supported on this machine type":
        return ""
    app, prod = _resolve_app(s, e, (), None), _resolve_product(s, e, (), None)
    if app is None or prod is None:
        return ""
    runs = ", ".join(s.provider(prod.provider).support.backends()) or "no backend"
    return f" ({app.name} is a {app.backend} application; provider {prod.provider!r} runs {runs})"


def _spec_loc(loc: Sequence[str | int]) -> Path_:
    """A location in a JobSpecification body as a path in the mix entry."""
    head = {"timeAllocation": "time_allocation_s", "sshEnabled": "ssh_enabled"}
    return tuple(head.get(str(p), p) if k == 0 else p for k, p in enumerate(loc))


def _refusal_field(field: str) -> Path_:
    """Core's refusal field (``parameters.value``, ``resources[0].id``, ``timeAllocation``) as a path."""
    out: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", field):
        if part.startswith("["):
            out.append(int(part[1:-1]))
        else:
            out.append({"timeAllocation": "time_allocation_s", "sshEnabled": "ssh_enabled"}.get(part, part))
    return tuple(out)


_OWNED_VALUES = frozenset(
    {"file", "peer", "ingress", "network", "license_server", "block_storage", "private_network"}
)


def _invalid_request(
    s: Scenario, kind: str, valid: list[tuple[MixEntry, RequestTemplate]], catalog: Catalog
) -> tuple[str, str | None, JobSpecification] | str:
    """A request of ``kind`` derived from a valid mix entry: ``(user, project, spec)``, or why not."""
    if not valid:
        return "no valid mix entry to derive invalid requests from"
    _, base = valid[0]
    body = base.request.to_wire()
    user, project = base.user, base.project

    def apps_with(pred: Any, plain: bool = False) -> tuple[MixEntry, RequestTemplate, Application] | None:
        for e, r in valid:
            app = catalog.application(r.request.application.name, r.request.application.version)
            values = [*r.request.parameters.values(), *r.request.resources]
            if plain and any(v.type in _OWNED_VALUES for v in values):
                continue
            if app is not None and pred(app):
                return e, r, app
        return None

    if kind == "zero-replicas":
        body["replicas"] = 0
    elif kind == "unknown-application":
        body["application"] = {"name": "no-such-application", "version": "0"}
    elif kind == "unknown-product":
        body["product"] = {**body["product"], "id": "no-such-product"}
    elif kind == "unsupported-backend":
        pair = next(
            (
                (app, ref)
                for app in catalog.applications.values()
                for ref, sup in catalog.support.items()
                if app.backend is not None and "enabled" not in sup.backend_features(app.backend)
            ),
            None,
        )
        if pair is None:
            return (
                "unsupported-backend needs an application whose backend some product's provider does not run"
            )
        app, (provider, category, product) = pair
        body["application"] = {"name": app.metadata.name, "version": app.metadata.version}
        body["product"] = {"id": product, "category": category, "provider": provider}
        body["parameters"], body["resources"] = {}, []
    elif kind == "zero-allocation":
        found = apps_with(lambda a: a.backend is not None and a.backend.value != "VIRTUAL_MACHINE")
        if found is None:
            return "zero-allocation needs a mix entry that is not a virtual machine"
        _, r, _ = found
        body, user, project = r.request.to_wire(), r.user, r.project
        body["timeAllocation"] = {"hours": 0, "minutes": 0, "seconds": 0}
    elif kind == "unknown-parameter":
        body["parameters"] = {
            **body.get("parameters", {}),
            "no_such_parameter": {"type": "text", "value": "x"},
        }
    elif kind in ("wrong-parameter-type", "missing-parameter"):
        need_required = kind == "missing-parameter"
        found = apps_with(lambda a: any(p.required or not need_required for p in a.invocation.parameters))
        if found is None:
            return f"{kind} needs a mix entry whose application has {'a required' if need_required else 'a'} parameter"
        _, r, app = found
        body, user, project = r.request.to_wire(), r.user, r.project
        param = next(p for p in app.invocation.parameters if p.required or not need_required)
        params = dict(body.get("parameters", {}))
        if need_required:
            params.pop(param.name, None)
        else:
            accepts_text = "text" in {v.value for v in value_type_for_parameter(param.type)}
            params[param.name] = (
                {"type": "integer", "value": 42} if accepts_text else {"type": "text", "value": "x"}
            )
        body["parameters"] = params
    elif kind == "ssh-not-allowed":
        found = apps_with(lambda a: a.ssh_mode.value == "DISABLED")
        if found is None:
            return "ssh-not-allowed needs a mix entry whose application does not allow SSH"
        _, r, _ = found
        body, user, project = r.request.to_wire(), r.user, r.project
        body["sshEnabled"] = True
    elif kind == "no-allocation":
        # Resources and files are checked before the allocation gate and belong to their owner, so
        # another user must send a request that names none of them.
        found = apps_with(lambda a: True, plain=True)
        if found is None:
            return "no-allocation needs a mix entry that names no resources, files or peers"
        _, r, _ = found
        body = r.request.to_wire()
        have = {o for (o, _, prov) in catalog.wallets if prov == r.request.product.provider}
        user = next((u.name for u in s.users if owner_key(u.name, None) not in have), NO_WALLET_USER)
        project = None
    return user, project, JobSpecification.model_validate(body)


def _check_workload(s: Scenario, problems: _Problems) -> None:
    """The workload's numbers: a rate that can be computed, an SWF file that exists."""
    w = s.workload
    if w.swf is not None:
        if "arrivals" in w.model_fields_set:
            problems.add(("workload", "arrivals"), "give either workload.arrivals or workload.swf, not both")
        if w.swf.provider not in [p.name for p in s.providers]:
            problems.add(
                ("workload", "swf", "provider"),
                _unknown("provider", w.swf.provider, [p.name for p in s.providers]),
            )
        if w.swf.template is not None and w.swf.template not in [e.name for e in w.mix]:
            problems.add(
                ("workload", "swf", "template"),
                _unknown("mix entry", w.swf.template, [e.name for e in w.mix]),
            )
        path = s.swf_path()
        if path is not None and not path.is_file():
            problems.add(("workload", "swf", "path"), f"no such file: {path}")
        return
    if problems.items:
        return
    if w.arrivals.offered_load is not None and s.mean_demand_core_s() <= 0:
        problems.add(
            ("workload", "arrivals", "offered_load"),
            "no request demands any work (all are refused), so no rate gives an offered load",
        )
        return
    for name in sorted(s.working_providers()):
        load = s.offered_load(name)
        if load > 1.0:
            problems.warnings.append(
                f"offered load at {name!r} is {load:.2f} > 1: its queue grows without bound"
            )


# ========================================================================================= loading


def load_scenario(path: str | Path) -> Scenario:
    """Load and check a scenario file (TOML). Raises :class:`ScenarioError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(
            [Problem("", f"cannot read the scenario: {e.strerror or e}")], str(path)
        ) from None
    return Scenario.from_toml(text, source=path)


def default_scenario_text() -> str:
    """The TOML text of the default scenario shipped with the package."""
    return (
        importlib_resources.files("simulator.scenarios").joinpath("default.toml").read_text(encoding="utf-8")
    )


def load_default_scenario() -> Scenario:
    """The default scenario (``simulator/scenarios/default.toml``): a Kubernetes-like and a
    Slurm-like provider, a few applications and users, a few thousand jobs."""
    return Scenario.from_toml(default_scenario_text(), source="default.toml")
