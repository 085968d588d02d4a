"""The bounded model checker (`spec.explore`, `ucsim explore`): soundness of its reductions, shortest
counterexamples, liveness under weak fairness, exit codes, and teeth against every mutant."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from spec import actions as A
from spec.explore import (
    Explorer,
    ExploreSettings,
    canonical_key,
    explore,
    explore_model,
    fair_lasso,
    relabel_action,
)
from spec.rules import resolve
from spec.state import Budgets, call_uid
from spec.system import ProtocolModel
from spec.trace import read_trace
from spec.world import default_world
from ucsim.cli import main

SMALL = ExploreSettings(jobs=2, restart=False, duplicates=0)


def test_documented_holds_on_a_small_world_and_liveness_is_checked() -> None:
    r = explore(SMALL)
    assert r.complete and r.liveness_checked and not r.limited
    assert r.violations == []
    assert r.states > 10_000 and r.transitions > r.states and r.depth >= 20


def _two_concurrent_batch_jobs(
    reorder: bool, exit_codes: tuple[int, ...] = (0,), jobs: int = 2
) -> ProtocolModel:
    """Plain batch jobs at one provider, no optional protocol parts: small, and with ``jobs=2`` the
    jobs really run side by side (what symmetry reduction is about)."""
    world = default_world(
        providers=1,
        requests=["batch"],
        sessions=False,
        accounting=False,
        update_guards=False,
        extension_ms=0,
        exit_codes=exit_codes,
        reorder=reorder,
    )
    return ProtocolModel(world, budgets=Budgets(submissions=jobs, duplicates=0, crashes=0))


@pytest.mark.parametrize("reorder", [False, True])
def test_symmetry_reduction_is_sound_and_reduces(reorder: bool) -> None:
    """The canonicalised states reached without symmetry are exactly those reached with it."""
    model = _two_concurrent_batch_jobs(reorder)
    plain, reduced = [], []
    r_plain = Explorer(model, symmetry=False, visit=plain.append).run()
    r_sym = Explorer(model, symmetry=True, visit=reduced.append).run()
    assert r_plain.ok and r_sym.ok
    canon = {canonical_key(s, reorder, True)[0] for s in plain}
    assert canon == {canonical_key(s, reorder, True)[0] for s in reduced}
    assert r_sym.states == len(canon) < r_plain.states
    # And without symmetry, no two distinct states share a key (fingerprints do not collide here).
    assert len({canonical_key(s, reorder, False)[0] for s in plain}) == r_plain.states


def test_relabel_action_renames_jobs_and_call_uids() -> None:
    from spec.state import call_uid

    perm = {1: 2, 2: 1}
    assert relabel_action(A.Terminate(1), perm) == A.Terminate(2)
    # A call uid names its job and the call's number for that job: only the job part is renamed.
    assert relabel_action(A.Deliver(call_uid(1, 3)), perm) == A.Deliver(call_uid(2, 3))
    assert relabel_action(A.Submit(0), perm) == A.Submit(0)  # no job in it
    assert relabel_action(A.Deliver(call_uid(1, 3)), None) == A.Deliver(call_uid(1, 3))


def test_max_states_stops_the_search_and_says_so() -> None:
    r = explore(ExploreSettings(), max_states=500)
    assert r.limited and not r.complete and not r.liveness_checked
    assert r.states == 500


# -- ucloud-current: the discrepancies of reference §9.3, with their shortest counterexamples


def test_check_then_bind_two_jobs_hold_one_public_link() -> None:
    """Hand-computed shortest schedule, 6 steps: submit job 1, submit job 2 (Core only *checks* the
    link, so both pass), deliver both creates (the provider accepts both), deliver both replies (Core
    binds the link to 1, then to 2 without checking again)."""
    r = explore(SMALL, resolve("ucloud-current"), stop_at=["exclusive-binding"])
    cx = next(v for v in r.violations if v.name == "exclusive-binding")
    assert cx.length == 6
    assert [type(a).__name__ for a in cx.actions] == ["Submit", "Submit", *["Deliver"] * 4]
    # The same finding from the documented variant with that one rule switched.
    r2 = explore(SMALL, resolve("documented", ["check-then-bind=on"]), stop_at=["exclusive-binding"])
    assert "exclusive-binding" in r2.violated()


def test_final_to_final_update_is_applied() -> None:
    """Hand-computed shortest schedule, 9 steps: submit (1), deliver the create (2) and its reply (3,
    the job is confirmed so the user may cancel it), start (4), exit (5), terminate (6: the provider,
    forwarding the terminate of an ended job, reports SUCCESS), deliver it (7: SUCCESS), the provider's
    own report of the exit (8), deliver it (9: Core applies an update to a final job)."""
    one = ExploreSettings(jobs=1, restart=False, duplicates=0)
    r = explore(one, resolve("ucloud-current"), stop_at=["terminal-finality"])
    cx = next(v for v in r.violations if v.name == "terminal-finality")
    assert cx.length == 9
    assert explore(one, resolve("documented")).ok


def test_unknown_state_rule_expires_a_vanished_job_by_the_wall_clock() -> None:
    """§7.2 under ``ucloud-current``: a workload that vanished while its provider was down is reported
    EXPIRED when the wall clock passed expiresAt, whatever it ran. Hand-computed shortest schedule, 8
    steps: submit (1), deliver the create (2), start (3), the provider crashes (4), the workload
    vanishes, the downtime outlasting expiresAt (5), restart (6), the first monitoring pass reports
    EXPIRED (7), Core applies it (8) after 0 ms of RUNNING time. The create's reply is never needed:
    Core applies updates to a job it has not confirmed yet (reference §9.3 item 8)."""
    vanish = ExploreSettings(jobs=1, duplicates=0, vanish=True)
    r = explore(vanish, resolve("ucloud-current"), stop_at=["expired-only-after-allocation"])
    cx = next(v for v in r.violations if v.name == "expired-only-after-allocation")
    assert cx.length == 8
    assert cx.actions == [
        A.Submit(0),
        A.Deliver(call_uid(1, 0)),
        A.Start(1),
        A.Crash("k8s"),
        A.Vanish(1, past_expiry=True),
        A.Restart("k8s"),
        A.Report(1),
        A.Deliver(call_uid(1, 1)),
    ]
    assert "EXPIRED after 0 ms of RUNNING time" in cx.reason
    # The rule is the cause: switched off, ucloud-current holds on this property; documented holds on
    # all, and documented with the rule switched on breaks the same way.
    off = explore(vanish, resolve("ucloud-current", ["unknown-state-wall-clock=off"]))
    assert "expired-only-after-allocation" not in off.violated()
    assert explore(vanish, resolve("documented")).ok
    on = explore(vanish, resolve("documented", ["unknown-state-wall-clock=on"]))
    assert {v.name: v.length for v in on.violations} == {
        "expired-only-after-allocation": 8,
        "outcome-matches-cause": 8,
    }


def test_vanish_is_off_by_default_and_does_not_change_the_default_search() -> None:
    assert ExploreSettings().vanish is False and default_world().vanish is False
    base = explore(SMALL)
    with_vanish = explore(ExploreSettings(jobs=2, restart=False, duplicates=0, vanish=True))
    assert with_vanish.states == base.states  # no crash, so no provider is ever down to vanish under


# -- liveness under weak fairness


def test_fair_lasso_finds_a_real_cycle_and_ignores_unfair_ones() -> None:
    # 1 -> 2 -> 3 -> 2: the obligation is open in all three. F (fair) is enabled in 2 and 3.
    nodes = [1, 2, 3]
    depth = {1: 0, 2: 1, 3: 2}
    edges = [(1, 2, "a"), (2, 3, "b"), (3, 2, "F")]
    enabled = {1: frozenset({"F"}), 2: frozenset({"F"}), 3: frozenset({"F"})}
    # F is taken on the cycle 2 -> 3 -> 2: a fair run can loop there forever.
    assert fair_lasso(nodes, enabled, edges, depth) == (2, [(2, 3, "b"), (3, 2, "F")])
    # If the cycle never takes F although F stays enabled, the cycle is unfair: nothing to report.
    unfair = [(1, 2, "a"), (2, 3, "b"), (3, 2, "c")]
    assert fair_lasso(nodes, enabled, unfair, depth) is None
    # If F is disabled somewhere on the cycle, looping without F is fair.
    enabled_partly = {**enabled, 3: frozenset()}
    assert fair_lasso(nodes, enabled_partly, unfair, depth) == (2, [(2, 3, "b"), (3, 2, "c")])
    # A state with nothing fair enabled is a fair end by itself (stuttering), if no cycle is shallower.
    assert fair_lasso([3], enabled_partly, [], depth) == (3, [])
    enabled_other = {1: frozenset({"F"}), 2: frozenset({"F"}), 3: frozenset({"G"})}
    assert fair_lasso(nodes, enabled_other, unfair, depth) == (2, [(2, 3, "b"), (3, 2, "c")])


def test_a_cancelled_job_that_never_ends_is_a_lasso() -> None:
    r = explore(
        ExploreSettings(jobs=1, restart=False, duplicates=0),
        resolve(mutant="provider-ignores-terminate"),
        stop_at=["cancelled-eventually-terminal"],
    )
    cx = next(v for v in r.violations if v.name == "cancelled-eventually-terminal")
    assert cx.lasso and cx.kind == "liveness"
    last = cx.steps[-1].transition.state
    assert any(j.terminate_requested and not j.final for j in last.jobs.values())


def test_self_loops_of_users_are_not_fair_cycles() -> None:
    """With sessions on, a user may follow logs forever (self-loops) while calls are in flight: those
    loops are unfair (a delivery stays enabled and is never taken), so documented still holds."""
    r = explore(ExploreSettings(jobs=1, restart=True, duplicates=1, sessions=True))
    assert r.ok and r.liveness_checked and r.pending_states > 0


@pytest.mark.parametrize(
    "mutant", ["provider-ignores-terminate", "provider-ignores-expiry", "provider-drops-final-report"]
)
def test_liveness_verdicts_agree_with_and_without_symmetry(mutant: str) -> None:
    settings = ExploreSettings(jobs=2, exclusive_resources=0, restart=False, duplicates=0)
    cfg = resolve(mutant=mutant)
    on = explore(settings, cfg, symmetry=True)
    off = explore(settings, cfg, symmetry=False)
    live = lambda r: sorted(v.name for v in r.violations if v.kind == "liveness")  # noqa: E731
    assert live(on) == live(off) and live(on)


# -- the command line


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["explore", *args])
    return result.exit_code, result.output


def test_cli_exit_codes() -> None:
    assert _run("--jobs", "1", "--no-restart", "--duplicates", "0")[0] == 0
    code, out = _run("--jobs", "1", "--no-restart", "--duplicates", "0", "--variant", "ucloud-current")
    assert code == 1 and "terminal-finality" in out and "shortest counterexample" in out
    assert _run("--max-states", "20")[0] == 3
    for bad in (["--providers", "3"], ["--mutant", "nonesuch"], ["--rule", "x"], ["--export", "g.txt"]):
        code, out = _run(*bad)
        assert code == 2 and "Error" in out and "Traceback" not in out


def test_cli_vanish_flag() -> None:
    one = ("--jobs", "1", "--duplicates", "0", "--vanish")
    assert _run(*one)[0] == 0  # documented: a vanished workload is SUCCESS
    code, out = _run(*one, "--variant", "ucloud-current", "--rule", "nonzero-exit-failure=off")
    assert code == 1 and "expired-only-after-allocation" in out
    assert "Vanish(job=1, past_expiry=True)" in out


def test_cli_json_and_emitted_trace(tmp_path) -> None:
    trace = tmp_path / "cx.jsonl"
    code, out = _run("--variant", "ucloud-current", "--stop-at-first", "--json", "--emit-trace", str(trace))
    assert code == 1
    doc = json.loads(out)
    assert doc["verdict"] == "violations" and doc["states"] > 0
    cx = doc["violations"][0]
    assert cx["length"] == len(cx["steps"]) and cx["property"]
    lines = list(read_trace(trace))
    assert lines[0].kind == "catalog"
    calls = [ln.call for ln in lines[1:]]  # type: ignore[union-attr]
    assert "jobs.provider.create" in calls and "jobs.create" in calls


@pytest.mark.parametrize("suffix", [".graphml", ".dot"])
def test_cli_exports_the_state_graph(tmp_path, suffix: str) -> None:
    out = tmp_path / f"g{suffix}"
    code, _ = _run("--jobs", "1", "--no-restart", "--duplicates", "0", "--export", str(out))
    assert code == 0
    text = out.read_text()
    assert ("<graphml" in text) if suffix == ".graphml" else text.startswith("digraph")
    if suffix == ".graphml":
        import networkx as nx

        g = nx.read_graphml(out)
        assert g.number_of_nodes() == explore(ExploreSettings(jobs=1, restart=False, duplicates=0)).states


def test_explore_model_uses_the_settings() -> None:
    m = explore_model(ExploreSettings(jobs=3, providers=2, exclusive_resources=0))
    assert [t.name for t in m.world.templates] == ["batch", "slurm"]
    assert m.init_state().budgets.submissions == 3
    with pytest.raises(ValueError, match="--providers"):
        explore_model(ExploreSettings(providers=0))


def _loop_is_fair(loop, enabled) -> bool:  # type: ignore[no-untyped-def]
    visited = {u for u, _, _ in loop}
    everywhere = frozenset.intersection(*(enabled[n] for n in visited))
    return everywhere <= {label for _, _, label in loop}


def test_the_printed_loop_is_itself_fair() -> None:
    """The loop must visit the whole component: a shortcut through part of it can leave a fair label
    enabled all along and never taken (a case found in review)."""
    enabled = {1: frozenset({"F"}), 2: frozenset({"F"}), 3: frozenset()}
    edges = [(1, 2, "a"), (2, 1, "b"), (1, 3, "c"), (3, 1, "d")]
    entry, loop = fair_lasso([1, 2, 3], enabled, edges, {1: 0, 2: 1, 3: 1})  # type: ignore[misc]
    assert entry == 1 and loop[0][0] == 1 and loop[-1][1] == 1
    assert _loop_is_fair(loop, enabled)
    enabled2 = {1: frozenset({"F", "G"}), 2: frozenset({"F", "G"}), 3: frozenset({"F"})}
    edges2 = [(1, 2, "a"), (2, 1, "F"), (1, 3, "c"), (3, 1, "G")]
    _, loop2 = fair_lasso([1, 2, 3], enabled2, edges2, {1: 0, 2: 1, 3: 1})  # type: ignore[misc]
    assert _loop_is_fair(loop2, enabled2)


def test_negative_exit_codes_keep_whole_keys() -> None:
    """hash(-1) == hash(-2) in Python: fingerprints would merge states that differ only there."""
    model = _two_concurrent_batch_jobs(reorder=True, exit_codes=(-1, -2), jobs=1)
    exact = Explorer(model, symmetry=False).run()
    assert Explorer(model, symmetry=False).exact
    merged = Explorer(model, symmetry=False, exact=False).run()
    assert exact.states > merged.states  # the fingerprints really do merge -1 with -2
