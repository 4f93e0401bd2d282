"""A worker pulling with unary calls (`sync worker --unary-pull`, what bench/scale.py's kill -9 relies on)."""

from __future__ import annotations

import threading
import time

from config import PubSubConfig
from sync.pubsub import Queue, SyncRequest, Worker
from tests.sync.conftest import SHORT_LEASE_TTL_SECONDS, SMALL_CHUNK_WRITES, SMALL_FETCH_GROUP

WAIT_SECONDS = 90


def test_a_unary_pull_worker_syncs_what_both_subscriptions_request_and_stops(
        services, simulator, tenant_repo, pubsub_emulator, project_id, monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    queue = Queue(project_id, PubSubConfig(emulator_host=pubsub_emulator.host, sync_topic="sidecar-sync",
                                           worker_mailboxes=2), retry_backoff_seconds=(0, 1))
    queue.setup()
    stop = threading.Event()
    worker = Worker(services.repository, services.google_service, services.config, queue, stop,
                    {"fetch_group": SMALL_FETCH_GROUP, "chunk_writes_max": SMALL_CHUNK_WRITES,
                     "lease_ttl_seconds": SHORT_LEASE_TTL_SECONDS})
    thread = threading.Thread(target=worker.run, kwargs={"unary": True})
    thread.start()
    try:
        reps = list(simulator.reps)[:2]
        for rep in reps:
            queue.publish(SyncRequest(rep, "new"), backfill=rep == reps[0]).result()
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and not all(
                (m := tenant_repo.get_mailbox(rep)) is not None and m.history_id for rep in reps):
            time.sleep(0.2)
        assert all(tenant_repo.get_mailbox(rep).history_id for rep in reps)
    finally:
        stop.set()
        thread.join(timeout=WAIT_SECONDS)
        queue.close()
    assert not thread.is_alive()
