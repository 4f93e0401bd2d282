"""The dispatcher reads the Directory once every `DIRECTORY_REFRESH_SECONDS`, not every tick, and still stops
publishing a user suspended there (on the simulator's Directory and the real emulators)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

from models.domain import MailboxState, utcnow
from sync.pubsub import DIRECTORY_REFRESH_SECONDS, DISPATCH_TICK_MAX_SECONDS, Dispatcher
from tests.sync.conftest import sync_run


def directory_calls(simulator) -> int:
    """Every Directory call the simulator answered (users.list pages, domains.list, domainAliases.list)."""
    return sum(m["calls"] for name, m in simulator.counters()["by_method"].items() if name.startswith("directory."))


def test_the_dispatcher_reads_the_directory_once_an_interval_and_a_suspended_user_stops_at_the_next_read(
        services, simulator, tenant_repo, queue):
    reps = list(simulator.reps)
    sync_run(services).run(reps)
    directory = dataclasses.replace(services.config, users=())  # the mailboxes come from the Directory
    dispatcher = Dispatcher(services.repository, services.google_service, directory, queue,
                            services.leader_leases(), threading.Event())
    held = len(tenant_repo.activities_held_by(reps[0]))
    simulator.reset_counters()
    start = utcnow()
    tick = dt.timedelta(seconds=DISPATCH_TICK_MAX_SECONDS)

    dispatcher.cycle(start)
    one_read = directory_calls(simulator)
    assert one_read >= 3  # domains, aliases and at least one page of users
    ticks = int(DIRECTORY_REFRESH_SECONDS // DISPATCH_TICK_MAX_SECONDS) - 1
    for n in range(1, ticks + 1):  # the ticks of one refresh interval: the Workspace read first is reused
        dispatcher.cycle(start + n * tick)
    assert directory_calls(simulator) == one_read

    simulator.suspend_user(reps[0])
    refreshed = start + dt.timedelta(seconds=DIRECTORY_REFRESH_SECONDS)
    published = {r.mailbox for r in dispatcher.cycle(refreshed)}  # the Directory is read again
    assert directory_calls(simulator) == 2 * one_read
    assert reps[0] not in published
    assert tenant_repo.get_mailbox(reps[0]).state == MailboxState.DEPARTED

    later = refreshed + 2 * dispatcher.interval  # every other mailbox is due again, and published
    published = {r.mailbox for r in dispatcher.cycle(later)}
    assert directory_calls(simulator) == 3 * one_read
    assert reps[0] not in published and set(reps[1:]) <= published
    assert len(tenant_repo.activities_held_by(reps[0])) == held  # their history stays
