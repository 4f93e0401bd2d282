"""The project's budgets shared by every process (sync.budget), on the real emulator and the simulator.

Two `SyncRun`s, each with its own `ProjectBudget` (what two processes have),
sync one tenant against a simulator enforcing a scaled-down per-project budget
that each run's mailboxes alone would exceed; a backfill stops starting groups
past the day's backfill share while incremental sync goes on; the day's usage
starts over at midnight Pacific.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

import pytest

import quotas
from gsim import Simulator
from sync.budget import DAY_TZ, BackfillPaused, DailyBudgetSpent, ProjectBudget
from sync.runner import SyncRun

from .conftest import TEAM_SIZE

WINDOW_SECONDS = 3.0  # Google's minute, shortened on both sides
USER_BUDGET = 400  # Gmail units a window per user
PROJECT_BUDGET = 500  # per project: below two mailboxes syncing at their per-user rate
DAILY = 100_000
# the two runs sync about 4 windows' worth of units (a few seconds each); far longer means they stalled
# each other (stepping back from the budget in step, sync.budget.RETREAT_SHORTEST), which is what fails
RUNS_FINISH_SECONDS = 120


@pytest.fixture
def simulator():
    sim = Simulator(**{**TEAM_SIZE, "reps": 4}, quota_units_per_minute=USER_BUDGET,
                    quota_window_seconds=WINDOW_SECONDS).start()
    sim.quota.set_project_budget(per_minute=PROJECT_BUDGET)
    yield sim
    sim.stop()


def scaled(**budgets) -> quotas.QuotaProfile:
    return quotas.profile("2026").scaled(gmail_units_per_user_minute=USER_BUDGET,
                                         gmail_units_per_project_minute=PROJECT_BUDGET,
                                         window_seconds=WINDOW_SECONDS, **budgets)


def test_two_processes_stay_within_the_project_budget_together(services, simulator):
    profile = scaled()
    reps = list(simulator.reps)
    halves = [reps[:2], reps[2:]]
    assert all(len(half) * USER_BUDGET > PROJECT_BUDGET for half in halves)  # each alone would exceed it
    # buckets of a third of the shortened minute: a grant may be spent for a second, the slack a loaded machine
    # needs between a reservation and the call's arrival (at Google's real minute, a twelfth is 5 seconds)
    budgets = [ProjectBudget(services.firestore, profile, grant_share=0.2, buckets_per_window=3,
                             rng=random.Random(i)) for i in range(2)]
    stop = threading.Event()
    runs = [SyncRun(services.repository, services.google_service, services.config, stop, quota=profile,
                    project_budget=budget) for budget in budgets]
    results: list = [None, None]

    def go(i):
        results[i] = runs[i].run(halves[i])

    threads = [threading.Thread(target=go, args=(i,), daemon=True) for i in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, started + RUNS_FINISH_SECONDS - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        stop.set()  # the runs stop at their next call or wait, and let go of their leases
        for thread in threads:
            thread.join(RUNS_FINISH_SECONDS)
        pytest.fail(f"the two runs sharing a project budget did not finish within {RUNS_FINISH_SECONDS} s "
                    f"(refused reservations: {[budget.refused for budget in budgets]})")

    assert all(r.state == "ok" and r.failed_calls == 0 for rs in results for r in rs)
    counters = simulator.counters()
    assert counters["total"]["rate_limited"] == 0  # no project-level (nor per-user) refusal
    gmail_units = sum(m["units"] for name, m in counters["by_method"].items() if name.startswith("gmail."))
    assert gmail_units > 3 * PROJECT_BUDGET  # several windows' worth: the shared budget did the pacing
    assert all(budget.commits > 0 for budget in budgets)


def test_a_backfill_stops_starting_groups_past_the_daily_share_while_new_mail_syncs(services, simulator):
    profile = scaled(gmail_units_per_project_day=DAILY)
    filler = ProjectBudget(services.firestore, profile.scaled(gmail_units_per_project_minute=10 ** 9))
    filler.spend("gmail", int(DAILY * 0.85), 0, threading.Event())  # other processes spent 85% today
    rep = simulator.reps[0]
    run = SyncRun(services.repository, services.google_service, services.config, quota=profile)

    [first] = run.run([rep])

    assert first.state == "ok"
    mailbox = services.repository(rep.split("@")[1]).get_mailbox(rep)
    assert mailbox.backfill_stored == 0 and mailbox.backfill_done_at is None  # no group started
    assert mailbox.history_id  # incremental sync has its cursor
    simulator.add_message(rep, subject="Fresh order", sender="Pat Buyer <pat.buyer@acme.co.uk>")

    [second] = SyncRun(services.repository, services.google_service, services.config, quota=profile).run([rep])

    assert second.state == "ok" and second.messages >= 1  # the new mail went in
    mailbox = services.repository(rep.split("@")[1]).get_mailbox(rep)
    assert mailbox.backfill_stored == 0 and mailbox.backfill_done_at is None
    assert simulator.counters()["total"]["rate_limited"] == 0


def test_the_day_starts_over_at_midnight_pacific_and_nothing_crosses_the_limit(services):
    late = dt.datetime(2026, 12, 1, 23, 59, 30, tzinfo=DAY_TZ).timestamp()
    clock = [late]
    profile = scaled(gmail_units_per_project_day=DAILY).scaled(gmail_units_per_project_minute=10 ** 9)
    budget = ProjectBudget(services.firestore, profile, wall_clock=lambda: clock[0])
    stop = threading.Event()
    budget.spend("gmail", int(DAILY * 0.85), 0, stop)

    assert not budget.open_for_backfill("gmail")
    with pytest.raises(BackfillPaused):
        budget.spend("gmail", int(DAILY * 0.05), 1, stop)
    budget.spend("gmail", int(DAILY * 0.10), 0, stop)  # incremental keeps priority up to the limit
    with pytest.raises(DailyBudgetSpent):
        budget.spend("gmail", int(DAILY * 0.05), 0, stop)
    assert budget.used_today("gmail") <= DAILY

    clock[0] = dt.datetime(2026, 12, 2, 0, 0, 5, tzinfo=DAY_TZ).timestamp()  # past midnight Pacific
    fresh = ProjectBudget(services.firestore, profile, wall_clock=lambda: clock[0])
    assert fresh.used_today("gmail") == 0 and fresh.open_for_backfill("gmail")
    fresh.spend("gmail", 20, 1, stop)
    assert fresh.used_today("gmail") > 0
