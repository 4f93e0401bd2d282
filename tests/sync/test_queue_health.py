"""The queue's depth (issue 14 point 6, `models.health`): what the dispatcher measures and `sync status` prints."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading

from config import PubSubConfig
from models.domain import Mailbox, MailboxState
from models.health import DEAD_LETTERED, measure
from models.leases import LeaseState
from sync.__main__ import queue_lines
from sync.pubsub import Dispatcher
from tests.sync.conftest import sync_run

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


def test_a_request_waits_from_its_publish_until_a_worker_takes_the_mailbox():
    emails = ["queued@x.test", "started@x.test", "syncing@x.test", "backfill@x.test", "idle@x.test", "dead@x.test"]
    stored = {
        "queued@x.test": Mailbox("queued@x.test", state="ok", last_attempt_at=ago(400)),
        "started@x.test": Mailbox("started@x.test", state="ok", last_attempt_at=ago(5)),  # after its publish
        "syncing@x.test": Mailbox("syncing@x.test", state="ok", last_attempt_at=ago(400)),
        "idle@x.test": Mailbox("idle@x.test", state="ok", last_attempt_at=ago(10)),
        "dead@x.test": Mailbox("dead@x.test", state=MailboxState.FAILED,
                               last_error=f"{DEAD_LETTERED} after 5 attempts; last error: 400"),
    }
    leases = {"syncing@x.test": LeaseState("syncing@x.test", "w/1/a", 3, ago(-30)),
              "idle@x.test": LeaseState("idle@x.test", "w/2/b", 2, ago(3))}  # expired: nobody holds it
    published = {"queued@x.test": ago(30), "started@x.test": ago(20), "syncing@x.test": ago(25),
                 "backfill@x.test": ago(12)}

    health = measure(emails, stored, leases, published, {"backfill@x.test"}, NOW)

    assert (health.waiting, health.backfills_waiting, health.oldest_waiting_at) == (1, 1, ago(30))
    assert (health.leases_held, health.dead_lettered, health.mailboxes) == (1, 1, 6)
    assert health.attention == ["dead@x.test"]
    assert health.summary(NOW) == ("1 sync and 1 backfill waiting for a worker (oldest 30s), 1 dead-lettered, "
                                   "1 lease held; measured by the dispatcher 0s ago")
    assert health.summary(NOW + dt.timedelta(hours=1)).endswith("(stale: is python -m sync dispatch running?)")


def test_the_dispatcher_records_what_it_published_until_a_worker_holds_it_and_status_prints_it(
        services, queue, simulator, tenant_repo):
    reps = list(simulator.reps)
    sync_run(services).run(reps[:2])
    synced, due, newcomer = reps[0], reps[1], "newcomer@" + simulator.domain
    old = tenant_repo.get_mailbox(due)
    old.last_attempt_at -= dt.timedelta(seconds=2 * services.config.sync_interval_seconds)
    tenant_repo.save_mailbox(old)
    dispatcher = Dispatcher(services.repository, services.google_service,
                            dataclasses.replace(services.config, users=(synced, due, newcomer)),
                            queue, services.leader_leases(), threading.Event())

    assert sorted(r.mailbox for r in dispatcher.cycle()) == sorted([due, newcomer])

    first = tenant_repo.queue_health()
    assert (first.waiting, first.backfills_waiting, first.leases_held, first.mailboxes) == (1, 1, 0, 3)
    assert first.oldest_waiting_at is not None

    assert tenant_repo.acquire_lease(due, "worker/1/a", 600) is not None  # a worker took it
    assert dispatcher.cycle() == []

    second = tenant_repo.queue_health()
    assert (second.waiting, second.backfills_waiting, second.leases_held) == (0, 1, 1)
    assert second.recorded_at > first.recorded_at

    [line] = queue_lines(services, queue.settings, [simulator.domain])
    assert re.fullmatch(rf"queue {re.escape(simulator.domain)}: 0 syncs and 1 backfill waiting for a worker "
                        r"\(oldest \d+s\), 0 dead-lettered, 1 lease held; measured by the dispatcher \d+s ago", line)


def test_status_says_single_process_without_a_sync_topic_and_asks_for_the_dispatcher_without_a_measurement(
        services, simulator):
    assert queue_lines(services, PubSubConfig(), [simulator.domain]) == [
        "queue: single process (python -m sync run syncs every mailbox itself; no Pub/Sub queue)"]
    assert queue_lines(services, PubSubConfig(emulator_host="127.0.0.1:1", sync_topic="sidecar-sync"),
                       [simulator.domain]) == [
        f"queue {simulator.domain}: no measurement yet (is python -m sync dispatch running?)"]
