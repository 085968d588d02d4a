"""Bounded model checking: every schedule of a small configuration, breadth first, like TLC.

:func:`explore` walks the state graph of a :class:`~spec.system.ProtocolModel` from its initial
state, breadth first, over *all* enabled actions. Because it is breadth first, the first violation of
a property it meets is reached by a shortest schedule. On every transition it checks the action
properties; on every new state the invariants (of the jobs the step touched); a state where nothing
at all is enabled while a job is not final is a deadlock. When the search completes, the liveness
properties are checked on the state graph (networkx) under weak fairness of
:data:`spec.actions.FAIR_ACTIONS`: a fair cycle on which an obligation stays open forever is printed
as a lasso (a stem from the initial state, then a loop).

State identity
--------------
Visited states are kept as 64-bit *fingerprints* of a canonical key (as TLC does): the key is built
from the lean records, ignoring the order of calls in flight when the network may reorder them (a
multiset), keeping it when it may not (FIFO channels). The chance that two of a million distinct
states share a fingerprint is about 3 in 100 million.

Symmetry
--------
Job ids are names: nothing in the protocol depends on which number a job got, only on what each job
is. With ``symmetry=True`` two states that differ only by a renaming of job ids are one state: the key
sorts the jobs by everything about them except their ids (their Core record, provider records, calls
in flight, usage), names them in that order, and writes the relations between jobs (bindings,
reservations, FIFO order) with those names; ties are broken by trying every order of the tied jobs and
keeping the least. Provider ids are *not* symmetric in UCloud worlds (a request names its provider,
and providers declare different support), so they are kept. Symmetry is turned off automatically when
a request names another job (``peers``), since renaming would then change the meaning of a request.

Liveness with symmetry reduction judges weak fairness on action labels written in each state's
canonical names; without symmetry the check is exact. The tests compare both on every mutant.
"""

from __future__ import annotations

import gc
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from spec import actions as A
from spec.properties import ACTION_PROPERTIES, INVARIANTS, LIVENESS, Property, may_fail_on, step_changed_jobs
from spec.rules import DEFAULT, Config
from spec.state import FINAL, UIDS_PER_JOB, Budgets, SystemState
from spec.system import ProtocolModel, Transition
from spec.world import World, default_world

__all__ = [
    "Counterexample",
    "ExploreResult",
    "ExploreSettings",
    "Explorer",
    "actor_of",
    "canonical_key",
    "describe_calls",
    "describe_state",
    "explore",
    "explore_model",
    "fair_lasso",
    "iter_story",
    "relabel_action",
]

# --------------------------------------------------------------------------- the configuration


@dataclass(frozen=True)
class ExploreSettings:
    """The knobs of ``ucsim explore``: how big a world to search exhaustively.

    * ``jobs``: how many jobs users may submit (the submission budget);
    * ``providers``: 1 (``k8s``) or 2 (``k8s`` and ``slurm``; a second provider may also try to
      update the first one's jobs, which Core must refuse);
    * ``exclusive_resources``: 1 makes every job ask for the same exclusive public link (two jobs
      competing for it), 0 submits plain batch jobs;
    * ``reorder``: calls may overtake each other (else FIFO per channel);
    * ``restart``: a provider may crash once and restart;
    * ``duplicates``: how many provider calls may be delivered twice (retries);
    * ``extend``, ``accounting``, ``guards``, ``sessions``: the optional parts of the protocol
      (time extensions; usage reports and a wallet lock; ``expectedState`` guards and re-assertions;
      following logs and interactive sessions). Each multiplies the state space, so they are off by
      default and the mutant tests turn on what each mutant needs;
    * ``vanish``: a workload may vanish while its provider is down (:class:`spec.actions.Vanish`;
      the unknown-state rule of reference §7.2 then decides what is reported);
    * ``requests``: template names of :func:`spec.examples.default_requests` to submit instead of
      the ones chosen by ``exclusive_resources`` and ``providers``.
    """

    jobs: int = 2
    providers: int = 1
    exclusive_resources: int = 1
    reorder: bool = True
    restart: bool = True
    duplicates: int = 1
    extend: bool = False
    accounting: bool = False
    guards: bool = False
    sessions: bool = False
    vanish: bool = False
    requests: tuple[str, ...] | None = None

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first knob out of range."""
        if self.jobs < 0:
            raise ValueError(f"--jobs must be >= 0, got {self.jobs}")
        if self.providers not in (1, 2):
            raise ValueError(
                f"--providers must be 1 or 2 (the built-in world has k8s and slurm), got {self.providers}"
            )
        if self.exclusive_resources not in (0, 1):
            raise ValueError(
                f"--exclusive-resources must be 0 or 1 (one public link in the built-in world), "
                f"got {self.exclusive_resources}"
            )
        if self.duplicates < 0:
            raise ValueError(f"--duplicates must be >= 0, got {self.duplicates}")

    def world(self) -> World:
        """The :class:`World` these settings describe."""
        self.validate()
        if self.requests is not None:
            names: Sequence[str] = self.requests
        else:
            names = ["web+link" if self.exclusive_resources else "batch"]
            if self.providers == 2:
                names = [*names, "slurm"]
        return default_world(
            providers=self.providers,
            requests=list(names),
            reorder=self.reorder,
            sessions=self.sessions,
            accounting=self.accounting,
            update_guards=self.guards,
            extension_ms=World.extension_ms if self.extend else 0,
            impersonation=self.providers > 1,
            vanish=self.vanish,
        )

    def budgets(self) -> Budgets:
        return Budgets(
            submissions=self.jobs,
            duplicates=self.duplicates,
            losses=0,
            crashes=1 if self.restart else 0,
            core_restarts=0,
            locks=1 if self.accounting else 0,
        )


def explore_model(settings: ExploreSettings | None = None, config: Config = DEFAULT) -> ProtocolModel:
    """The :class:`ProtocolModel` that ``ucsim explore`` searches for these settings."""
    settings = settings or ExploreSettings()
    return ProtocolModel(settings.world(), config, settings.budgets())


# --------------------------------------------------------------------------- canonical keys

_CORE = attrgetter(
    "template",
    "provider",
    "owner",
    "state",
    "confirmed",
    "started_at",
    "alloc_ms",
    "requested_ms",
    "terminate_requested",
    "suspends",
)
_PJOB = attrgetter(
    "template",
    "owner",
    "phase",
    "cause",
    "exit_code",
    "ran_ms",
    "alloc_ms",
    "reported",
    "sent",
    "charged",
    "cancelled",
    "reasserted",
    "past_expiry",
)
Perm = dict[int, int]


def _scope_job(scope: str) -> int | None:
    return int(scope[4:]) if scope.startswith("job-") else None


def canonical_key(s: SystemState, reorder: bool, symmetry: bool) -> tuple[tuple[Any, ...], Perm | None]:
    """A hashable key of ``s`` (equal keys: the same state up to what the protocol cannot observe),
    and, with symmetry, the renaming of job ids it applied (``None`` means the identity)."""
    ids: set[int] = set(s.jobs)
    for p in s.providers.values():
        ids.update(p.jobs)
    if not symmetry or len(ids) + len(s.flight) == 0:
        return s.key(reorder), None
    for m in s.flight:
        ids.add(m.job)
    for holders in s.bindings.values():
        ids.update(holders)
    ids.update(s.reserved.values())
    for _, scope in s.usage:
        jid = _scope_job(scope)
        if jid is not None:
            ids.add(jid)
    if len(ids) < 2:
        return s.key(reorder), None
    return _symmetric_key(s, reorder, sorted(ids))


def _symmetric_key(s: SystemState, reorder: bool, ids: list[int]) -> tuple[tuple[Any, ...], Perm]:
    per = UIDS_PER_JOB
    providers = sorted(s.providers.items())
    msgs: dict[int, list[tuple[Any, ...]]] = {j: [] for j in ids}
    if reorder:
        for m in s.flight:
            msgs[m.job].append((m.uid % per, m.kind, m.provider, m.payload))
    usage: dict[int, list[tuple[str, int]]] = {j: [] for j in ids}
    other_usage = []
    for (owner, scope), v in s.usage.items():
        jid = _scope_job(scope)
        if jid is None:
            other_usage.append((owner, scope, v))
        else:
            usage[jid].append((owner, v))
    sigs: dict[int, tuple[Any, ...]] = {}
    for jid in ids:
        j = s.jobs.get(jid)
        core = () if j is None else (_CORE(j), tuple(sorted(u % per for u in j.handled)))
        pjobs = tuple((pid, _PJOB(p.jobs[jid])) for pid, p in providers if jid in p.jobs)
        sigs[jid] = (core, pjobs, tuple(sorted(msgs[jid])), tuple(sorted(usage[jid])))
    # Order the jobs by what they are. Any order that depends only on the signatures will do, and a
    # hash is much cheaper than a total order over fields that mix None and numbers. Equal hashes
    # (equal signatures, or a collision) are ties, resolved below by trying every order.
    rank = {jid: hash(sig) for jid, sig in sigs.items()}
    order = sorted(ids, key=rank.__getitem__)
    groups = [list(g) for _, g in itertools.groupby(order, key=rank.__getitem__)]
    best: tuple[Any, ...] | None = None
    best_perm: Perm = {}
    candidates: Iterable[tuple[tuple[int, ...], ...]]
    if all(len(g) == 1 for g in groups):
        candidates = (tuple(tuple(g) for g in groups),)
    else:
        candidates = itertools.product(*(itertools.permutations(g) for g in groups))
    for choice in candidates:
        ordered = [jid for g in choice for jid in g]
        perm = dict(zip(ordered, ids, strict=True))
        relational = (
            tuple(sorted((k, tuple(perm[j] for j in v)) for k, v in s.bindings.items() if v)),
            tuple(sorted((k, perm[j]) for k, j in s.reserved.items())),
            ()
            if reorder
            else tuple((perm[m.job], m.uid % per, m.kind, m.provider, m.payload) for m in s.flight),
        )
        if best is None or relational < best:
            best, best_perm = relational, perm
    assert best is not None
    key = (
        tuple(ids),
        tuple(sigs[jid] for jid in sorted(ids, key=best_perm.__getitem__)),
        tuple((pid, p.up, p.restarts) for pid, p in providers),
        best,
        tuple(sorted(other_usage)),
        tuple(sorted(s.locked)),
        s.next_id,
        s.budgets,
    )
    return key, best_perm


def relabel_action(action: A.Action, perm: Perm | None) -> A.Action:
    """``action`` with its job ids (and call uids) renamed by ``perm`` (``None``: unchanged)."""
    if not perm:
        return action
    fields = type(action)._fields
    if "job" in fields:
        return action._replace(job=perm.get(action.job, action.job))  # type: ignore[attr-defined]
    if "uid" in fields:
        uid = action.uid  # type: ignore[attr-defined]
        job, k = divmod(uid, UIDS_PER_JOB)
        return action._replace(uid=perm.get(job, job) * UIDS_PER_JOB + k)  # type: ignore[attr-defined]
    return action


Label = tuple[Any, ...]


def _label(action: A.Action, perm: Perm | None) -> Label:
    """A fairness label: the action in canonical names, *with its kind* (named tuples of different
    kinds compare equal: ``EnforceLock(1) == Suspend(1)``). Equal to
    ``(type(action), *relabel_action(action, perm))``, without building the renamed action."""
    if not perm:
        return (type(action), *action)
    kind = type(action)
    labeller = _LABELLERS.get(kind)
    if labeller is None:
        labeller = _LABELLERS[kind] = _labeller(kind)
    return labeller(action, perm)


def _labeller(kind: type) -> Callable[[Any, Perm], Label]:
    """``_label`` for one kind of action: the position of its job id or call uid, found once."""
    fields: tuple[str, ...] = kind._fields  # type: ignore[attr-defined]
    per = UIDS_PER_JOB
    if "job" in fields:
        k = fields.index("job")

        def by_job(a: Any, perm: Perm) -> Label:
            v = list(a)
            v[k] = perm.get(v[k], v[k])
            return (kind, *v)

        return by_job
    if "uid" in fields:
        k = fields.index("uid")

        def by_uid(a: Any, perm: Perm) -> Label:
            v = list(a)
            job, n = divmod(v[k], per)
            v[k] = perm.get(job, job) * per + n
            return (kind, *v)

        return by_uid
    return lambda a, perm: (kind, *a)


_LABELLERS: dict[type, Callable[[Any, Perm], Label]] = {}


def _unlabel(label: Label) -> A.Action:
    return label[0](*label[1:])  # type: ignore[no-any-return]


def _inverse(perm: Perm | None) -> Perm | None:
    return None if perm is None else {v: k for k, v in perm.items()}


# --------------------------------------------------------------------------- fast fingerprints

# Tags that open the parts of a job's signature after its Core and provider records (calls in
# flight, bindings, reservations, usage); tuples, so that no provider id (a string) can pass for one.
_TAG_M, _TAG_B, _TAG_R, _TAG_U = ("calls",), ("bound",), ("reserved",), ("usage",)


class Fingerprinter:
    """64-bit fingerprints of :func:`canonical_key`'s classes, computed without building the key: the
    search's hot path (``canonical_key`` stays the readable definition, and the exact one).

    **The same classes, another canonical form.** ``canonical_key`` writes the relations between
    jobs (bindings, reservations, the FIFO order of calls) with the jobs' canonical names, so it must
    choose names first, trying every order of tied jobs. Here each relation is written into the
    signature of the job it mentions instead, without naming any other job: the resources bound to
    it with its position in each ``boundTo`` list, the resources reserved for it, and (FIFO network)
    the positions of its calls in the queue. Those signatures hold everything about each job, the
    relations included (bindings, reservations and the queue can be rebuilt from them), and mention
    no job id; so two states are renamings of each other exactly when they have the same job ids,
    the same things outside the jobs, and the same *multiset* of job signatures, written as the
    sorted tuple of their hashes. No permutation is ever tried, ties included.

    ``fingerprint(s)`` returns ``(fp, order, ids)``: ``ids`` the job ids sorted, ``order`` the same
    ids sorted by signature (tied jobs are interchangeable: the same signature means the same job,
    relations included). The canonical name of ``order[k]`` is ``ids[k]`` (:func:`order_perm`); the
    search only builds that renaming for the states it keeps, not for every successor.

    **Why it is fast.** A step shares every record it did not touch with its source state, so most
    :class:`~spec.state.CoreJob`, :class:`~spec.state.ProviderJob` and :class:`~spec.state.Msg`
    objects of a state were already seen in its source, its siblings and its ancestors. Each
    record's hash is computed once per record object and memoised by ``id``; a memo entry holds the
    record, so its id cannot be reused by another object while the entry exists. The calls in flight
    of a job are a multiset (reordering network), written as their hashes sorted (never summed: the
    hash of a tuple is close enough to additive in its fields that sums of them collide). A state then costs one lookup per record, one hash of a short tuple per job, a sort of the
    job ids by signature and one hash of a short flat tuple: O(records + jobs log jobs), where
    ``canonical_key`` rebuilt and hashed the whole nested key twice (rank, then fingerprint) and
    tried k! orders for k tied jobs. The memo is emptied when it reaches ``limit`` entries (O(1)
    amortised; it refills from the live frontier), which bounds the memory it holds on to: with
    2**16 entries, the default search is about 2% slower than with 2**18 and peaks ~50 MB lower (as low as without the memo).
    """

    __slots__ = ("_records", "limit", "reorder", "symmetry")

    def __init__(self, reorder: bool, symmetry: bool, limit: int = 1 << 16) -> None:
        self.reorder = reorder
        self.symmetry = symmetry
        self.limit = limit
        self._records: dict[int, tuple[Any, int]] = {}  # id(record) -> (record, hash of its fields)

    def fingerprint(self, s: SystemState) -> tuple[int, list[int], list[int]]:
        """``(fp, order, ids)`` of ``s``; see the class docstring."""
        rec = self._records
        if len(rec) >= self.limit:
            rec.clear()
        per = UIDS_PER_JOB
        parts: dict[int, list[Any]] = {}
        for jid, j in s.jobs.items():
            c = rec.get(id(j))
            if c is None or c[0] is not j:
                c = rec[id(j)] = (j, hash((_CORE(j), tuple(sorted([u % per for u in j.handled])))))
            parts[jid] = [c[1]]
        providers = s.providers
        extra = []
        for pid in sorted(providers) if len(providers) > 1 else providers:
            p = providers[pid]
            extra.append((pid, p.up, p.restarts))
            for jid, pj in p.jobs.items():
                c = rec.get(id(pj))
                if c is None or c[0] is not pj:
                    c = rec[id(pj)] = (pj, hash(_PJOB(pj)))
                lst = parts.get(jid)
                if lst is None:
                    parts[jid] = [None, pid, c[1]]
                else:
                    lst += (pid, c[1])
        if s.flight:
            fifo = not self.reorder
            calls: dict[int, list[Any]] = {}
            for pos, m in enumerate(s.flight):
                c = rec.get(id(m))
                if c is None or c[0] is not m:
                    c = rec[id(m)] = (m, hash((m.uid % per, m.kind, m.provider, m.payload)))
                # FIFO: each call with its place in the queue (so in queue order)
                h = (pos, c[1]) if fifo else c[1]
                lst = calls.get(m.job)
                if lst is None:
                    calls[m.job] = [h]
                else:
                    lst.append(h)
            for jid, hs in calls.items():
                if not fifo:  # reordering: a multiset per job, as its calls' hashes sorted
                    hs.sort()
                lst = parts.get(jid)
                if lst is None:
                    parts[jid] = [None, _TAG_M, *hs]
                else:
                    lst += (_TAG_M, *hs)
        for r, holders in s.bindings.items() if len(s.bindings) < 2 else sorted(s.bindings.items()):
            for pos, jid in enumerate(holders):
                lst = parts.get(jid)
                if lst is None:
                    parts[jid] = [None, _TAG_B, r, pos]
                else:
                    lst += (_TAG_B, r, pos)
        for r, jid in s.reserved.items() if len(s.reserved) < 2 else sorted(s.reserved.items()):
            lst = parts.get(jid)
            if lst is None:
                parts[jid] = [None, _TAG_R, r]
            else:
                lst += (_TAG_R, r)
        if s.usage:
            for (owner, scope), v in sorted(s.usage.items()):
                jid = _scope_job(scope)
                if jid is None:
                    extra.append((owner, scope, v))
                    continue
                lst = parts.get(jid)
                if lst is None:
                    parts[jid] = [None, _TAG_U, owner, v]
                else:
                    lst += (_TAG_U, owner, v)
        ids = sorted(parts)
        sig = {jid: hash(tuple(v)) for jid, v in parts.items()}
        order = sorted(ids, key=sig.__getitem__) if self.symmetry else ids
        fp = hash((tuple(ids), tuple([sig[j] for j in order]), tuple(extra), s.locked, s.next_id, s.budgets))
        return fp, order, ids


def order_perm(order: list[int], ids: list[int]) -> Perm | None:
    """The renaming that gives ``order[k]`` the name ``ids[k]`` (``None`` when that is the identity)."""
    if order == ids:
        return None
    return dict(zip(order, ids, strict=True))


# --------------------------------------------------------------------------- results


@dataclass
class Step:
    """One step of a counterexample: the action, the calls Core saw, the state after."""

    action: A.Action
    transition: Transition


@dataclass
class Counterexample:
    """A property violated by a schedule. For liveness, ``loop`` repeats forever after ``steps``
    (empty loop: the system stutters, no fair action being enabled)."""

    prop: Property | None  # None for a deadlock
    name: str
    kind: str
    job: int | None
    reason: str
    steps: list[Step]
    loop: list[Step] = field(default_factory=list)
    lasso: bool = False

    @property
    def length(self) -> int:
        """The number of actions of the schedule (stem plus loop)."""
        return len(self.steps) + len(self.loop)

    @property
    def actions(self) -> list[A.Action]:
        return [st.action for st in self.steps]


@dataclass
class ExploreResult:
    """What a search found, and what it cost."""

    states: int
    transitions: int
    depth: int
    seconds: float
    complete: bool
    limited: bool
    symmetry: bool
    config: str
    violations: list[Counterexample]
    liveness_checked: bool
    pending_states: int = 0
    graph: Any = None

    @property
    def states_per_s(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else float("inf")

    @property
    def ok(self) -> bool:
        return self.complete and not self.violations

    def violated(self) -> list[str]:
        """Names of the violated properties, in the order they were found."""
        return [v.name for v in self.violations]


# --------------------------------------------------------------------------- the search


class Explorer:
    """Breadth-first search over every schedule of ``model``. Use :func:`explore` for one call.

    ``stop_at``: property names that end the search as soon as one of them is violated (``"*"``:
    any); ``liveness``: check the liveness properties once the search is complete; ``graph``: keep
    the whole state graph (for ``--export``; costs memory); ``visit(state)`` is called on every
    distinct state as it is first reached; ``exact`` keeps whole canonical keys instead of 64-bit
    fingerprints (default: only when the world has negative exit codes, which ``hash`` conflates).
    """

    def __init__(
        self,
        model: ProtocolModel,
        *,
        symmetry: bool = True,
        max_states: int | None = None,
        stop_at: Iterable[str] = (),
        liveness: bool = True,
        graph: bool = False,
        properties: Iterable[Property] | None = None,
        progress: Callable[[int, int, int], None] | None = None,
        visit: Callable[[SystemState], None] | None = None,
        exact: bool | None = None,
    ) -> None:
        self.model = model
        self.symmetry = symmetry and not any(t.peers for t in model.world.templates)
        self.max_states = max_states
        self.stop_at = frozenset(stop_at)
        self.liveness = liveness
        self.keep_graph = graph
        props = tuple(properties) if properties is not None else None
        self.invariants = tuple(p for p in INVARIANTS if props is None or p in props)
        self.action_props = tuple(p for p in ACTION_PROPERTIES if props is None or p in props)
        self.live_props = tuple(p for p in LIVENESS if props is None or p in props)
        self.progress = progress
        self.visit = visit
        # Python hashes -1 and -2 alike, so fingerprints could merge states that differ only there;
        # keep whole keys when the world has negative exit codes (or when asked).
        self.exact = any(c < 0 for c in model.world.exit_codes) if exact is None else exact
        self._fingerprints = Fingerprinter(model.reorder, self.symmetry)

    # -- keys
    def _key(self, s: SystemState) -> tuple[Any, Perm | None]:
        if self.exact:
            return canonical_key(s, self.model.reorder, self.symmetry)
        fp, order, ids = self._fingerprints.fingerprint(s)
        return fp, order_perm(order, ids)

    def run(self) -> ExploreResult:
        """Search, then check liveness; see :class:`ExploreResult`.

        The cyclic garbage collector is paused meanwhile. The search allocates millions of small
        immutable records that live as long as the search (visited states, queue, edges) and form no
        reference cycles, so every full collection would traverse all of them for nothing: with the
        collector running, the default search spends about a fifth of its time (and the liveness
        phase most of its time) in collections that free nothing.
        """
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if was_enabled:
                gc.enable()

    def _run(self) -> ExploreResult:
        model = self.model
        started = time.perf_counter()
        s0 = model.init_state()
        fp0, perm0 = self._key(s0)
        index: dict[Any, int] = {fp0: 0}
        parent: list[int] = [-1]
        via: list[A.Action | None] = [None]
        depth: list[int] = [0]
        queue: deque[tuple[SystemState, int, Perm | None]] = deque([(s0, 0, perm0)])
        visit = self.visit
        if visit is not None:
            visit(s0)
        found: dict[str, tuple[int, A.Action | None, Property | None, int | None, str]] = {}
        transitions = 0
        complete = True
        live_props = self.live_props if self.liveness else ()
        # Liveness bookkeeping, only for states where some obligation is open.
        pending_mask: dict[int, int] = {}
        fair_enabled: dict[int, frozenset[Label]] = {}
        live_edges: list[tuple[int, int, A.Action, Label]] = []
        all_edges: list[tuple[int, int, A.Action]] | None = [] if self.keep_graph else None
        invariants, action_props = self.invariants, self.action_props
        exact, fingerprint = self.exact, self._fingerprints.fingerprint
        # the action properties to check, by what a step did: a handful of entries
        props_for: dict[tuple[bool, tuple[str, ...]], tuple[Property, ...]] = {}
        stop_at = self.stop_at

        pending_fns = [(1 << bit, p.pending) for bit, p in enumerate(live_props)]

        def mask_of(s: SystemState) -> int:
            m = 0
            for flag, pending in pending_fns:
                jobs = pending(model, s)  # type: ignore[misc]
                if jobs if isinstance(jobs, list | tuple) else any(True for _ in jobs):
                    m |= flag
            return m

        if live_props:
            m0 = mask_of(s0)
            if m0:
                pending_mask[0] = m0
        stopped = limited = False
        while queue and not stopped:
            s, i, perm = queue.popleft()
            actions = list(model.actions(s))
            if not actions and any(j.state not in FINAL for j in s.jobs.values()):
                found.setdefault(
                    "deadlock", (i, None, None, None, "no action is enabled and a job is not final")
                )
                if stop_at and ("*" in stop_at or "deadlock" in stop_at):
                    stopped = True
                    break
            src_mask = pending_mask.get(i, 0)
            if src_mask:
                fair_enabled[i] = frozenset(_label(a, perm) for a in actions if isinstance(a, A.FAIR_ACTIONS))
            for a in actions:
                t = model.step(s, a)
                transitions += 1
                bad = False
                what = (step_changed_jobs(s, t), tuple([c.call for c in t.calls]))
                props = props_for.get(what)
                if props is None:
                    props = props_for[what] = may_fail_on(action_props, *what)
                for p in props:
                    why = p.action(model, s, a, t)  # type: ignore[misc]
                    if why is not None:
                        bad = True
                        if p.name not in found:
                            found[p.name] = (i, a, p, None, why)
                if t.state is s:  # a refused or idle call: the same state, no key to compute
                    fp, tperm, j = -1, perm, i
                elif exact:
                    fp, tperm = self._key(t.state)
                    j = index.get(fp)
                else:  # the renaming is only needed if the state is new: built below
                    fp, order, ids = fingerprint(t.state)
                    j = index.get(fp)
                if j is None:
                    for p in invariants:
                        for jid in t.touched:
                            why = p.invariant(model, t.state, jid)  # type: ignore[misc]
                            if why is not None:
                                bad = True
                                if p.name not in found:
                                    found[p.name] = (i, a, p, jid, why)
                    if bad:
                        # An error state: reported, never expanded (its successors would repeat it).
                        if stop_at and ("*" in stop_at or not stop_at.isdisjoint(found)):
                            stopped = True
                            break
                        continue
                    j = len(parent)
                    index[fp] = j
                    parent.append(i)
                    via.append(a)
                    depth.append(depth[i] + 1)
                    if not exact:
                        tperm = order_perm(order, ids)
                    queue.append((t.state, j, tperm))
                    if visit is not None:
                        visit(t.state)
                    if live_props:
                        m = mask_of(t.state)
                        if m:
                            pending_mask[j] = m
                    if self.max_states is not None and len(parent) >= self.max_states:
                        limited = True
                        stopped = True
                        break
                    if self.progress is not None and j % 50_000 == 0:
                        self.progress(j, transitions, depth[j])
                elif bad and stop_at and ("*" in stop_at or not stop_at.isdisjoint(found)):
                    stopped = True
                    break
                if all_edges is not None:
                    all_edges.append((i, j, a))
                if src_mask and pending_mask.get(j, 0) & src_mask:
                    live_edges.append((i, j, a, _label(a, perm)))
        if stopped:
            complete = False  # stopped by --max-states or at a violation named in stop_at
        seconds = time.perf_counter() - started

        violations: list[Counterexample] = []
        for name, (i, a, p, jid, why) in found.items():
            steps = self._replay(via, parent, i)
            if a is not None:
                steps.append(Step(a, model.step(steps[-1].transition.state if steps else s0, a)))
            kind = p.kind if p is not None else "deadlock"
            violations.append(Counterexample(p, name, kind, jid, why, steps))
        liveness_checked = False
        if live_props and complete:
            liveness_checked = True
            for bit, p in enumerate(live_props):
                cx = self._liveness(bit, p, pending_mask, fair_enabled, live_edges, depth, via, parent)
                if cx is not None:
                    violations.append(cx)
        graph = None
        if all_edges is not None:
            graph = self._graph(all_edges, depth)
        return ExploreResult(
            states=len(parent),
            transitions=transitions,
            depth=max(depth),
            seconds=seconds,
            complete=complete,
            limited=limited,
            symmetry=self.symmetry,
            config=model.cfg.describe(),
            violations=violations,
            liveness_checked=liveness_checked,
            pending_states=len(pending_mask),
            graph=graph,
        )

    # -- counterexamples
    def _path(self, via: list[A.Action | None], parent: list[int], i: int) -> list[A.Action]:
        out: list[A.Action] = []
        while i > 0:
            out.append(via[i])  # type: ignore[arg-type]
            i = parent[i]
        out.reverse()
        return out

    def _replay(self, via: list[A.Action | None], parent: list[int], i: int) -> list[Step]:
        s = self.model.init_state()
        steps: list[Step] = []
        for a in self._path(via, parent, i):
            t = self.model.step(s, a)
            steps.append(Step(a, t))
            s = t.state
        return steps

    def _liveness(
        self,
        bit: int,
        prop: Property,
        pending_mask: dict[int, int],
        fair_enabled: dict[int, frozenset[Label]],
        live_edges: list[tuple[int, int, A.Action, Label]],
        depth: list[int],
        via: list[A.Action | None],
        parent: list[int],
    ) -> Counterexample | None:
        """The fair lasso with the shortest stem on which ``prop`` stays pending forever, if any."""
        flag = 1 << bit
        nodes = [n for n, m in pending_mask.items() if m & flag]
        edges = [
            (u, v, label)
            for u, v, _, label in live_edges
            if pending_mask[u] & flag and pending_mask.get(v, 0) & flag
        ]
        found = fair_lasso(nodes, fair_enabled, edges, depth)
        if found is None:
            return None
        entry, cycle = found
        steps = self._replay(via, parent, entry)
        state = steps[-1].transition.state if steps else self.model.init_state()
        loop = self._replay_loop(state, [label for _, _, label in cycle])
        jobs = list(prop.pending(self.model, state))  # type: ignore[misc]
        how = "stutters" if not cycle else f"loops over {len(cycle)} step(s)"
        reason = f"the obligation stays open forever: the system {how} under weak fairness"
        return Counterexample(
            prop, prop.name, "liveness", jobs[0] if jobs else None, reason, steps, loop, True
        )

    def _replay_loop(self, state: SystemState, labels: list[Label]) -> list[Step]:
        """Play the loop's canonical actions from ``state``, renaming them into its actual job ids."""
        steps: list[Step] = []
        for canon in labels:
            _, perm = self._key(state)
            action = relabel_action(_unlabel(canon), _inverse(perm))
            t = self.model.step(state, action)
            steps.append(Step(action, t))
            state = t.state
        return steps

    @staticmethod
    def _graph(edges: list[tuple[int, int, A.Action]], depth: list[int]) -> Any:
        import networkx as nx

        g = nx.MultiDiGraph()
        for n, d in enumerate(depth):
            g.add_node(n, depth=d)
        for u, v, a in edges:
            g.add_edge(u, v, action=repr(a))
        return g


def fair_lasso(
    nodes: Iterable[int],
    fair_enabled: Mapping[int, frozenset[Label]],
    edges: Iterable[tuple[int, int, Label]],
    depth: Sequence[int] | Mapping[int, int],
) -> tuple[int, list[tuple[int, int, Label]]] | None:
    """Where a run can stay forever in ``nodes`` (the states where an obligation is open) without
    being unfair: ``(entry, loop)`` with the shallowest entry, or ``None``.

    Weak fairness: a run may not, from some point on, keep a fair action enabled and never take it.
    So a run may end in a *stuttering* state (no fair action enabled: ``loop == []``), or repeat a
    cycle forever provided that every fair label enabled in all of the cycle's states is taken on
    it. A strongly connected component ``C`` of the graph restricted to ``nodes`` holds such a cycle
    exactly when every label enabled in all states of ``C`` is carried by an edge inside ``C``; the
    loop returned visits every state of ``C``, takes each of those edges and returns to the entry.

    ``nodes`` are the states where *an* obligation of the property is open, not one job's: a cycle on
    which one job's obligation closes while another's opens would count. The protocol's state graph
    has no such cycle (it is acyclic apart from self-loops: every step spends a budget, advances a
    phase or grows a counter), so over the spec this is exact; keep it in mind for other graphs.

    >>> fair_lasso([1, 2], {1: frozenset({"F"}), 2: frozenset()}, [(1, 2, "F")], {1: 3, 2: 4})
    (2, [])
    >>> fair_lasso([1, 2], {1: frozenset({"F"}), 2: frozenset({"F"})}, [(1, 2, "a"), (2, 1, "F")], {1: 3, 2: 4})
    (1, [(1, 2, 'a'), (2, 1, 'F')])
    >>> fair_lasso([1, 2], {1: frozenset({"F"}), 2: frozenset({"F"})}, [(1, 2, "a"), (2, 1, "b")], {1: 3, 2: 4})
    """
    import networkx as nx

    nodes = list(nodes)
    candidates: list[tuple[int, int, list[tuple[int, int, Label]], int, frozenset[Label]]] = [
        (depth[n], n, [], -1, frozenset()) for n in nodes if not fair_enabled.get(n)
    ]
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    labels: dict[tuple[int, int], list[Label]] = {}
    for u, v, label in edges:
        g.add_edge(u, v)
        labels.setdefault((u, v), []).append(label)
    comps = [
        c for c in nx.strongly_connected_components(g) if len(c) > 1 or g.has_edge(*(next(iter(c)),) * 2)
    ]
    comp_of = {n: k for k, c in enumerate(comps) for n in c}
    inside: list[list[tuple[int, int, Label]]] = [[] for _ in comps]
    for (u, v), ls in labels.items():
        k = comp_of.get(u)
        if k is not None and comp_of.get(v) == k:
            inside[k].extend((u, v, lab) for lab in ls)
    for k, comp in enumerate(comps):
        required = frozenset.intersection(*(fair_enabled.get(n, frozenset()) for n in comp))
        if required <= {lab for _, _, lab in inside[k]}:
            entry = min(comp, key=lambda n: (depth[n], n))
            candidates.append((depth[entry], entry, [], k, required))  # the loop is built for the winner only
    if not candidates:
        return None
    _, entry, _, k, required = min(candidates, key=lambda c: (c[0], c[1], c[3]))
    if k < 0:
        return entry, []
    return entry, _fair_loop(g, comps[k], entry, inside[k], required)


def _fair_loop(
    g: Any, comp: set[int], entry: int, inside: list[tuple[int, int, Label]], required: frozenset[Label]
) -> list[tuple[int, int, Label]]:
    """A loop from ``entry`` back to it, inside ``comp``, taking an edge of every required label."""
    edge_label = {}
    for u, v, lab in inside:
        edge_label.setdefault((u, v), lab)
    sub = g.subgraph(comp)

    def walk(a: int, b: int) -> list[tuple[int, int, Label]]:
        path = nx_shortest_path(sub, a, b)
        return [(x, y, edge_label[(x, y)]) for x, y in itertools.pairwise(path)]

    # Visit every state of the component (so that the labels enabled all along the loop are exactly
    # the labels enabled in all of the component), then take an edge of each required label.
    loop: list[tuple[int, int, Label]] = []
    here = entry
    for n in sorted(comp):
        if n != here:
            loop += walk(here, n)
            here = n
    for lab in sorted(required, key=repr):
        u, v, _ = next(e for e in inside if e[2] == lab)
        loop += walk(here, u)
        loop.append((u, v, lab))
        here = v
    loop += walk(here, entry)
    if not loop:  # a single state whose loop needs no fair label: its self-loop
        return [(entry, entry, edge_label[(entry, entry)])]
    return loop


def nx_shortest_path(g: Any, a: int, b: int) -> list[int]:
    """Nodes of a shortest path from ``a`` to ``b`` (``[a]`` when ``a == b``)."""
    import networkx as nx

    return list(nx.shortest_path(g, a, b))


def explore(
    settings: ExploreSettings | None = None,
    config: Config = DEFAULT,
    **options: Any,
) -> ExploreResult:
    """Search every schedule of ``settings`` under ``config``; ``options`` go to :class:`Explorer`.

    >>> r = explore(ExploreSettings(jobs=1, restart=False, duplicates=0))
    >>> r.ok, r.states > 50
    (True, True)
    """
    return Explorer(explore_model(settings, config), **options).run()


def iter_story(cx: Counterexample) -> Iterator[tuple[int, str, Step]]:
    """(number, "stem" or "loop", step) for each step of a counterexample."""
    for n, st in enumerate(cx.steps, 1):
        yield n, "stem", st
    for n, st in enumerate(cx.loop, len(cx.steps) + 1):
        yield n, "loop", st


# --------------------------------------------------------------------------- telling the story

_USER_ACTIONS = (A.Submit, A.Terminate, A.Extend, A.Suspend, A.Unsuspend, A.Follow, A.OpenSession)
_WORKLOAD_ACTIONS = A.WORKLOAD_ACTIONS
_PROVIDER_ACTIONS = (A.Report, A.ReportUsage, A.EnforceLock)


def actor_of(model: ProtocolModel, s: SystemState, action: A.Action) -> str:
    """Who takes ``action`` in ``s``: ``user:NAME``, ``network``, ``provider:ID``, ``workload@ID``,
    ``ucloud`` or ``accounting``."""
    if isinstance(action, A.Submit):
        return f"user:{model.world.templates[action.template].user}"
    if isinstance(action, _USER_ACTIONS):
        job = s.jobs.get(action.job)  # type: ignore[union-attr]
        return f"user:{model.world.templates[job.template].user}" if job is not None else "user"
    if isinstance(action, A.Deliver | A.Duplicate | A.Lose):
        return "network"
    if isinstance(action, _WORKLOAD_ACTIONS + _PROVIDER_ACTIONS):
        pid = next((p.id for p in s.providers.values() if action.job in p.jobs), "?")  # type: ignore[union-attr]
        return f"workload@{pid}" if isinstance(action, _WORKLOAD_ACTIONS) else f"provider:{pid}"
    if isinstance(action, A.Impersonate | A.Crash | A.Restart):
        return f"provider:{action.provider}"
    if isinstance(action, A.CoreRestart):
        return "ucloud"
    return "accounting"


def describe_state(s: SystemState) -> str:
    """A one-line summary: each job's state in Core and at its provider, bindings, calls in flight."""
    parts = []
    for jid in sorted(set(s.jobs) | {j for p in s.providers.values() for j in p.jobs}):
        job = s.jobs.get(jid)
        core = "gone" if job is None else job.state + ("" if job.confirmed else "?")
        if job is not None and job.terminate_requested:
            core += " (cancelled)"
        at = [
            f"{p.id}:{p.jobs[jid].phase}" + (f"/{p.jobs[jid].cause}" if p.jobs[jid].cause else "")
            for p in s.providers.values()
            if jid in p.jobs
        ]
        parts.append(f"job {jid} {core}" + (f" [{', '.join(at)}]" if at else ""))
    down = [p.id for p in s.providers.values() if not p.up]
    if down:
        parts.append("down: " + ", ".join(down))
    bound = [f"{k}->{','.join(map(str, v))}" for k, v in sorted(s.bindings.items()) if v]
    if bound:
        parts.append("bound " + " ".join(bound))
    if s.flight:
        parts.append(f"{len(s.flight)} call(s) in flight")
    return "; ".join(parts) if parts else "nothing yet"


def describe_calls(t: Transition) -> str:
    """The calls Core saw in a step, ``actor call -> status (why)``."""
    return "; ".join(f"{c.actor} {c.call} -> {c.status}" + (f" ({c.why})" if c.why else "") for c in t.calls)
