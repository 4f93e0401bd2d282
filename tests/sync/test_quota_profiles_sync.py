"""A full sync priced and paced by each quota profile, against a simulator enforcing the same profile.

The budgets are scaled down (and Google's sliding minute shortened to a few
seconds on both sides) so that each mailbox needs several windows' worth of
units: a sync that did not pace itself by the profile's prices would be refused.
"""

from __future__ import annotations

import pytest

import quotas
from gsim import Simulator
from sync.runner import SyncRun

from .conftest import TEAM_SIZE

WINDOW_SECONDS = 3.0  # Google's minute, shortened for the test on both sides
# Per-user Gmail budget a window: about a third of what one seeded mailbox's full sync spends at the profile's prices.
SCALED_BUDGETS = {"2026": 400, "legacy": 100}


@pytest.fixture(params=sorted(SCALED_BUDGETS))
def quota_profile(request) -> str:
    return request.param


@pytest.fixture
def simulator(quota_profile):
    sim = Simulator(**TEAM_SIZE, quota_profile=quota_profile, quota_units_per_minute=SCALED_BUDGETS[quota_profile],
                    quota_window_seconds=WINDOW_SECONDS).start()
    yield sim
    sim.stop()


@pytest.fixture
def sync_config(sync_config, quota_profile) -> dict:
    return {**sync_config, "quota_profile": quota_profile}


def test_a_full_sync_under_the_profile_finishes_with_no_failed_or_refused_call(services, simulator, quota_profile):
    scaled = quotas.profile(quota_profile).scaled(gmail_units_per_user_minute=SCALED_BUDGETS[quota_profile],
                                                  window_seconds=WINDOW_SECONDS)
    results = SyncRun(services.repository, services.google_service, services.config, quota=scaled).run(simulator.reps)

    assert [r.state for r in results] == ["ok"] * len(simulator.reps)
    assert [r.failed_calls for r in results] == [0] * len(simulator.reps)
    counters = simulator.counters()
    assert counters["total"]["rate_limited"] == 0  # paced, never refused
    price = quotas.profile(quota_profile).units("gmail.users.messages.get")
    gets = counters["by_method"]["gmail.users.messages.get"]
    assert gets["units"] == gets["calls"] * price
    for rep in simulator.reps:
        spent = sum(method["units"] for name, method in counters["by_mailbox"][rep].items()
                    if name.startswith("gmail."))
        assert spent > 2 * SCALED_BUDGETS[quota_profile]  # it took several windows: the pacing was exercised
    assert all(r.messages > 0 for r in results)
