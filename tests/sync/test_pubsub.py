"""The distributed sync on the real Pub/Sub emulator: setup, a worker, the dead-letter topic, the dispatcher."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from config import PubSubConfig
from devtools.firestore_emulator import group_alive
from models.domain import MailboxState
from sync.pubsub import Dispatcher, Queue, SyncRequest, Worker
from tests.sync.conftest import (
    SHORT_LEASE_TTL_SECONDS,
    SMALL_BATCHES_ARGS,
    SMALL_CHUNK_WRITES,
    SMALL_FETCH_GROUP,
    reference,
    sync_run,
)
from tests.sync.helpers import snapshot

MAX_DELIVERIES = 5  # Pub/Sub's least
WAIT_SECONDS = 90
TUNING = {"fetch_group": SMALL_FETCH_GROUP, "chunk_writes_max": SMALL_CHUNK_WRITES,
          "lease_ttl_seconds": SHORT_LEASE_TTL_SECONDS}


@pytest.fixture
def queue(pubsub_emulator, project_id, monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    settings = PubSubConfig(emulator_host=pubsub_emulator.host, sync_topic="sidecar-sync",
                            max_deliveries=MAX_DELIVERIES, worker_mailboxes=2)
    queue = Queue(project_id, settings, retry_backoff_seconds=(0, 1))
    queue.setup()
    yield queue
    queue.close()


@pytest.fixture
def worker(services, queue):
    stop = threading.Event()
    worker = Worker(services.repository, services.google_service, services.config, queue, stop, TUNING)
    thread = threading.Thread(target=worker.run)
    thread.start()
    yield worker
    stop.set()
    thread.join(timeout=WAIT_SECONDS)
    assert not thread.is_alive()


def wait_for(predicate, timeout: float = WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def pull(queue: Queue, subscription: str) -> list[tuple[SyncRequest, str]]:
    response = queue.subscriber.pull(subscription=queue.subscription(subscription), max_messages=50, timeout=10)
    if response.received_messages:
        queue.subscriber.acknowledge(subscription=queue.subscription(subscription),
                                     ack_ids=[m.ack_id for m in response.received_messages])
    return sorted((SyncRequest.decode(m.message.data), m.message.attributes["mailbox"])
                  for m in response.received_messages)


def test_setup_is_idempotent_and_dead_letters_after_the_configured_attempts(queue):
    assert queue.setup() == []
    subscription = queue.subscriber.get_subscription(
        subscription=queue.subscription(queue.settings.sync_subscription))
    assert subscription.dead_letter_policy.max_delivery_attempts == MAX_DELIVERIES
    assert subscription.dead_letter_policy.dead_letter_topic == queue.topic(queue.settings.dead_letter_topic)


def test_a_worker_syncs_a_published_mailbox_and_acks_it(queue, worker, simulator, tenant_repo):
    rep = simulator.reps[0]

    queue.publish(SyncRequest(rep, "new"), backfill=True).result(timeout=30)

    mailbox = wait_for(lambda: (m := tenant_repo.get_mailbox(rep)) and m.state == MailboxState.OK and m)
    assert mailbox.history_id and mailbox.sync_token
    assert all(lease.owner is None for lease in tenant_repo.mailbox_leases())
    time.sleep(2)  # an unacked request would be delivered again and sync the mailbox a second time
    assert simulator.counters()["by_mailbox"][rep]["gmail.users.getProfile"]["calls"] == 1


def test_a_request_that_keeps_failing_is_dead_lettered_and_marks_the_mailbox_failed(queue, worker, simulator,
                                                                                    tenant_repo):
    rep = simulator.reps[1]
    simulator.fail_next(1000, 400)  # every Gmail call refused: no retry can help

    queue.publish(SyncRequest(rep, "due")).result(timeout=30)

    mailbox = wait_for(lambda: (m := tenant_repo.get_mailbox(rep)) and "dead-lettered" in (m.last_error or "")
                       and m)
    assert mailbox.state == MailboxState.FAILED
    assert mailbox.last_error.startswith(f"sync request dead-lettered after {MAX_DELIVERIES} attempts; last error: 400")


def test_the_dispatcher_publishes_new_due_and_orphaned_mailboxes_and_skips_busy_and_departed_ones(
        services, queue, simulator, tenant_repo):
    reps = list(simulator.reps)
    sync_run(services).run(reps[:3])
    busy, orphaned, due = reps[0], reps[1], reps[2]
    old = tenant_repo.get_mailbox(due)
    old.last_attempt_at -= dt.timedelta(seconds=2 * services.config.sync_interval_seconds)
    tenant_repo.save_mailbox(old)
    assert tenant_repo.acquire_lease(busy, "live-worker", 600) is not None
    assert tenant_repo.acquire_lease(orphaned, "dead-worker", 1) is not None
    time.sleep(1.5)
    newcomer = "newcomer@" + simulator.domain
    dispatcher = Dispatcher(services.repository, services.google_service,
                            dataclasses.replace(services.config, users=(busy, orphaned, due, newcomer)),
                            queue, services.leader_leases(), threading.Event())

    published = dispatcher.cycle()

    assert sorted((r.mailbox, r.reason) for r in published) == sorted(
        [(orphaned, "requeue"), (due, "due"), (newcomer, "new")])
    assert [r for r, _ in pull(queue, queue.settings.sync_subscription)] == sorted(
        [SyncRequest(orphaned, "requeue"), SyncRequest(due, "due")])
    assert [r for r, _ in pull(queue, queue.settings.backfill_subscription)] == [SyncRequest(newcomer, "new")]
    assert dispatcher.cycle() == []  # already queued this interval

    departed = Dispatcher(services.repository, services.google_service,
                          dataclasses.replace(services.config, users=(busy,)), queue, services.leader_leases(),
                          threading.Event())
    assert departed.cycle() == []


def test_one_dispatcher_leads_at_a_time(services):
    leaders = services.leader_leases()
    first = leaders.acquire("dispatcher", "dispatcher-1", 30)
    assert first is not None
    assert leaders.acquire("dispatcher", "dispatcher-2", 30) is None
    leaders.release(first)
    assert leaders.acquire("dispatcher", "dispatcher-2", 30) is not None


def test_sync_setup_creates_the_topics_and_subscriptions_once(pubsub_emulator, project_id):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PUBSUB_EMULATOR_HOST": pubsub_emulator.host, "GOOGLE_CLOUD_PROJECT": project_id,
           "SIDECAR_SYNC_TOPIC": "sidecar-sync", "PYTHONPATH": str(root)}
    runs = [subprocess.run([sys.executable, "-m", "sync", "setup"], cwd=root, env=env, capture_output=True,
                           text=True, timeout=WAIT_SECONDS) for _ in range(2)]

    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert len(runs[0].stdout.splitlines()) == 6  # three topics, three subscriptions
    assert runs[1].stdout == ""


def test_of_two_dispatchers_running_only_the_leader_publishes(services, queue, simulator):
    config = dataclasses.replace(services.config, sync_interval_seconds=1)  # a look every 0.1 s
    stop = threading.Event()
    dispatchers = [Dispatcher(services.repository, services.google_service, config, queue,
                              services.leader_leases(), stop) for _ in range(2)]
    threads = [threading.Thread(target=d.run) for d in dispatchers]
    for thread in threads:
        thread.start()
    time.sleep(3)
    stop.set()
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS)

    publishing = [d for d in dispatchers if d.published]
    assert len(publishing) == 1
    assert set(publishing[0].published) == set(simulator.reps)  # each new mailbox, to the backfill topic
    assert services.leader_leases().acquire("dispatcher", "next", 30) is not None  # released on stop


def test_mailboxes_a_worker_syncs_at_once_leave_what_one_pass_leaves(queue, worker, simulator, tenant_repo, twin):
    for rep in simulator.reps:  # incremental-topic requests: the worker holds two at once
        queue.publish(SyncRequest(rep, "due")).result(timeout=30)

    wait_for(lambda: all((m := tenant_repo.get_mailbox(rep)) and m.state == MailboxState.OK
                         for rep in simulator.reps))

    wait_for(lambda: all(lease.owner is None for lease in tenant_repo.mailbox_leases()))
    assert snapshot(tenant_repo) == reference(twin)


def test_sync_dispatch_and_sync_worker_processes_sync_every_mailbox_and_stop_on_sigterm(
        pubsub_emulator, queue, sync_env, simulator, tenant_repo):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, **sync_env, "PYTHONPATH": str(root), "PUBSUB_EMULATOR_HOST": pubsub_emulator.host,
           "GOOGLE_CLOUD_PROJECT": queue.project, "SIDECAR_SYNC_TOPIC": queue.settings.sync_topic}
    processes = [subprocess.Popen([sys.executable, "-m", "sync", *command], cwd=root, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  start_new_session=True)
                 for command in (["dispatch"], ["worker", *SMALL_BATCHES_ARGS])]
    try:
        wait_for(lambda: all((m := tenant_repo.get_mailbox(rep)) and m.state == MailboxState.OK
                             for rep in simulator.reps))
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        errors = [process.communicate(timeout=WAIT_SECONDS)[1] for process in processes]

    assert [p.returncode for p in processes] == [0, 0], errors
    assert all(not group_alive(p.pid) for p in processes)
    logged = [json.loads(line) for line in errors[1].splitlines()]  # distributed: JSON lines
    assert {e["mailbox"] for e in logged if e["message"].startswith("sync done")} == set(simulator.reps)
