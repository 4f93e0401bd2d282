"""A full sync pays only for what it stores, the cheapest way: what is never stored is never listed,
and a thread with enough listed messages comes from one threads.get instead of a messages.get each."""

from __future__ import annotations

import collections

import pytest

import quotas
import sync.gmail
from gsim import Simulator
from models.domain import DEFAULT_SKIPPED_CATEGORIES
from sync.api import order_by_thread
from sync.runner import SyncRun

from .conftest import TEAM_SIZE

SKIPPED = {"SPAM", "TRASH", "DRAFT", "CHAT"}
# Never listed either: the tenant's skipped Gmail categories, by default (models.domain)
SKIPPED_TABS = {"CATEGORY_" + name.upper() for name in DEFAULT_SKIPPED_CATEGORIES}


@pytest.fixture
def simulator():
    """The realistic mix (long threads, machine mail in every category) under the 2026 prices."""
    sim = Simulator(**{**TEAM_SIZE, "messages": 150, "thread_mix": "realistic"}, quota_profile="2026").start()
    yield sim
    sim.stop()


def stored_gmail_ids(repo, mailbox: str) -> set[str]:
    return {s.get("holders")[mailbox] for s in repo.root.collection("activities").stream()
            if s.get("kind") == "email" and mailbox in (s.get("holders") or {})}


def expected_gmail_ids(sim, mailbox: str) -> set[str]:
    """What a message-by-message sync stores: everything but SPAM/TRASH/DRAFT/CHAT and bulk mail."""
    return {m.id for m in sim.world.mailbox(mailbox).messages.values()
            if not SKIPPED & set(m.label_ids) and not sync.gmail.is_bulk({k.lower(): v for k, v in m.headers})}


def test_a_full_sync_stores_the_same_mail_for_fewer_units(services, simulator, tenant_repo):
    results = SyncRun(services.repository, services.google_service, services.config).run(simulator.reps)

    assert [r.state for r in results] == ["ok"] * len(simulator.reps)
    for rep in simulator.reps:
        assert stored_gmail_ids(tenant_repo, rep) == expected_gmail_ids(simulator, rep)
    counters = simulator.counters()
    assert counters["total"]["rate_limited"] == 0 and counters["by_method"]["gmail.users.threads.get"]["calls"]
    profile = quotas.profile("2026")
    for rep in simulator.reps:
        box = simulator.world.mailbox(rep)
        kept = [m for m in box.messages.values() if not (SKIPPED | SKIPPED_TABS) & set(m.label_ids)]
        spent = counters["by_mailbox"][rep]
        fetched = sum(spent.get(method, {}).get("calls", 0)
                      for method in ("gmail.users.messages.get", "gmail.users.threads.get"))
        assert fetched < len(kept)  # what is never stored was never fetched, and threads brought several
        gmail_units = sum(c["units"] for name, c in spent.items() if name.startswith("gmail."))
        naive = (profile.units("gmail.users.getProfile") + len(box.messages) * profile.units("gmail.users.messages.get")
                 + profile.units("gmail.users.messages.list"))
        assert gmail_units < 0.9 * naive, (gmail_units, naive)
        fetch_units = sum(spent.get(method, {}).get("units", 0)
                          for method in ("gmail.users.messages.get", "gmail.users.threads.get"))
        assert fetch_units == planned_units(kept, profile)


def planned_units(kept, profile) -> int:
    """The fetch of exactly the listed messages (all but the never stored and the skipped tabs), newest first, each
    fetch group's threads by threads.get where it costs less than their messages one by one."""
    newest_first = sorted(kept, key=lambda m: (m.internal_date, m.id), reverse=True)
    ordered = order_by_thread([m.id for m in newest_first], {m.id: m.thread_id for m in kept})
    thread_of = {m.id: m.thread_id for m in kept}
    get, thread = profile.units("gmail.users.messages.get"), profile.units("gmail.users.threads.get")
    units = 0
    for start in range(0, len(ordered), sync.gmail.FETCH_GROUP):
        listed = collections.Counter(thread_of[i] for i in ordered[start:start + sync.gmail.FETCH_GROUP])
        units += sum(thread if thread < n * get else n * get for n in listed.values())
    return units
