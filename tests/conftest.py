"""Test-suite wide settings: the Hypothesis profiles.

``UCSIM_HYPOTHESIS_PROFILE=ci`` (the default, what ``make test`` uses): few, derandomized examples
and no deadline, so CI is fast and never flaky. ``deep`` (``make test-deep``): many more examples
and longer schedules.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "deep",
    max_examples=2_000,
    stateful_step_count=80,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=200, stateful_step_count=50, deadline=None)
settings.load_profile(os.environ.get("UCSIM_HYPOTHESIS_PROFILE", "ci"))
