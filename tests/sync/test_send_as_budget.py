"""The send-as lists a pass reads before it links anything are paid from the project's budget shared by every
process (`sync.budget.ProjectBudget`), like every other Gmail call, at the quota profile's price."""

from __future__ import annotations

import threading

import quotas
from sync.budget import ProjectBudget
from sync.people import learn_send_as
from sync.runner import SyncRun

SEND_AS_LIST = "gmail.users.settings.sendAs.list"
DAILY = 100_000  # a scaled-down daily threshold, so a test can spend it


def test_the_send_as_lists_are_paid_from_the_project_budget(services, simulator):
    reps = list(simulator.reps)
    run = SyncRun(services.repository, services.google_service, services.config)

    learn_send_as(run, reps)

    calls = simulator.counters()["by_method"][SEND_AS_LIST]["calls"]
    assert calls == len(reps)
    assert run.project_budget is not None
    run.project_budget.close()  # its grants' unspent rest goes back: the day holds what was spent
    assert run.project_budget.used_today("gmail") == calls * run.quota.units(SEND_AS_LIST)


def test_a_project_day_spent_by_other_processes_holds_the_send_as_list_back(services, simulator):
    profile = quotas.profile("2026").scaled(gmail_units_per_project_day=DAILY)
    others = ProjectBudget(services.firestore, profile.scaled(gmail_units_per_project_minute=10 ** 9,
                                                              gmail_units_per_project_day=0))
    others.spend("gmail", DAILY, 0, threading.Event())  # the whole day, by the project's other processes
    run = SyncRun(services.repository, services.google_service, services.config, quota=profile)

    learn_send_as(run, [simulator.reps[0]])

    assert SEND_AS_LIST not in simulator.counters()["by_method"]  # never sent: Google would refuse it anyway
    assert run.send_as_fetched == {}  # left to the mailbox's own sync, which meets the same refusal
