"""How fast the provider test kit drives a provider (``ucsim conformance``).

* ``kit.steps_reference`` - kit steps/s against the reference provider in process (each step: one
  generated call or hook, the provider's updates, the trace line(s) written and judged by the trace
  checker), against a trivial ``RuleBasedStateMachine`` under the same Hypothesis settings: the ratio
  is what playing Core and judging costs on top of Hypothesis;
* ``kit.steps_http`` - the same over HTTP (the reference provider served on 127.0.0.1, the kit's
  control endpoint receiving its updates), against the in-process rate of the same run: the ratio is
  what the network path costs.
"""

from __future__ import annotations

import time

from benchmarks.bench_checking import _trivial_machine
from benchmarks.harness import Record, make_record

__all__ = ["run"]


def _kit_rate(adapter: object, examples: int, steps: int, settle_s: float) -> tuple[float, int]:
    from providerkit.kit import KitSettings, run_kit
    from spec.rules import resolve
    from spec.world import default_world

    started = time.perf_counter()
    report = run_kit(adapter, default_world(providers=1), resolve(), KitSettings(examples, steps, settle_s))  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    if not report.passed:
        raise RuntimeError(f"the reference provider failed the kit: {report.failure}")
    return report.steps_run / seconds, report.steps_run


def run(quick: bool) -> list[Record]:
    from hypothesis import HealthCheck, Phase, settings

    from providerkit.http import HttpAdapter
    from providerkit.reference import ReferenceAdapter
    from providerkit.server import serve
    from spec.world import default_world

    examples, steps = (30, 15) if quick else (150, 25)
    world = default_world(providers=1)
    local_rate, local_steps = _kit_rate(ReferenceAdapter(world, "k8s"), examples, steps, 0.0)

    counter = [0]
    trivial = _trivial_machine(counter)
    trivial.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=steps,
        phases=(Phase.explicit, Phase.generate),
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    started = time.perf_counter()
    trivial.TestCase().runTest()
    trivial_rate = counter[0] / (time.perf_counter() - started)

    with (
        HttpAdapter("http://127.0.0.1:9", "k8s") as adapter,
        serve(world, "k8s", core_url=adapter.control_url) as server,
    ):
        adapter.base_url = server.url
        # settle 0: the reference server sends its updates before it answers (a settle time would
        # measure sleeping, not the network path)
        http_rate, http_steps = _kit_rate(adapter, examples, steps, 0.0)
    details = {"examples": examples, "max_steps": steps, "quick": quick}
    return [
        make_record(
            "kit.steps_reference",
            local_rate,
            "steps/s",
            baseline="trivial RuleBasedStateMachine",
            baseline_value=trivial_rate,
            details={**details, "steps": local_steps},
        ),
        make_record(
            "kit.steps_http",
            http_rate,
            "steps/s",
            baseline="the kit in process (same run)",
            baseline_value=local_rate,
            details={**details, "steps": http_steps, "settle_ms": 0},
        ),
    ]
