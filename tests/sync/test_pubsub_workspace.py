"""The distributed sync under the Workspace tenant (#14 with #15): a rep on a secondary domain is filed under
the primary domain by the worker, the dispatcher and `sync status`, and a departed rep is no longer published."""

from __future__ import annotations

import threading

import pytest

from config import PubSubConfig
from gsim.world import User
from models.domain import MailboxState
from sync.__main__ import status_table
from sync.pubsub import Dispatcher, Queue, SyncRequest, Worker
from sync.runner import current_workspace, lease_states, status_rows
from tests.sync.conftest import SHORT_LEASE_TTL_SECONDS, SMALL_CHUNK_WRITES, SMALL_FETCH_GROUP
from tests.sync.test_pubsub import wait_for

SECONDARY = "emea-h3.test"
TUNING = {"fetch_group": SMALL_FETCH_GROUP, "chunk_writes_max": SMALL_CHUNK_WRITES,
          "lease_ttl_seconds": SHORT_LEASE_TTL_SECONDS}


@pytest.fixture
def pubsub(pubsub_emulator, project_id, monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    queue = Queue(project_id, PubSubConfig(emulator_host=pubsub_emulator.host, sync_topic="sidecar-sync-h3ws"),
                  retry_backoff_seconds=(0, 1))
    queue.setup()
    yield queue
    queue.close()


def test_worker_dispatcher_and_status_file_a_secondary_domain_rep_under_the_primary_tenant(
        services, simulator, tenant_repo, pubsub):
    rep = f"sam.emea@{SECONDARY}"
    simulator.add_domain(SECONDARY)
    simulator.world.add_user(User(rep, "Sam", "Emea"))
    simulator.add_message(rep, sender='"Bea Buyer" <bea.buyer@customer-h3.test>', to=[rep], subject="EMEA pricing")
    leaver = simulator.reps[0]
    stop = threading.Event()
    worker = Worker(services.repository, services.google_service, services.config, pubsub, stop, TUNING)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        for mailbox in (rep, leaver):
            pubsub.publish(SyncRequest(mailbox, "new"), backfill=True).result(timeout=30)
        wait_for(lambda: (m := tenant_repo.get_mailbox(leaver)) and m.state == MailboxState.OK)
        mailbox = wait_for(lambda: (m := tenant_repo.get_mailbox(rep)) and m.state == MailboxState.OK and m)
    finally:
        stop.set()
        thread.join(timeout=90)
    assert mailbox.history_id and worker.tenant_of(rep) == simulator.domain
    assert services.repository(SECONDARY).get_mailbox(rep) is None  # not a tenant of its own
    assert "EMEA pricing" in {a.subject for a in tenant_repo.activities_held_by(rep)}

    simulator.suspend_user(leaver)
    dispatcher = Dispatcher(services.repository, services.google_service, services.config, pubsub,
                            services.leader_leases(), threading.Event())
    published = {r.mailbox: r.reason for r in dispatcher.cycle()}
    # the others were never synced: new; Sam's mailbox is found under the primary tenant, synced just now;
    # the leaver is departed
    assert rep not in published and leaver not in published
    assert set(published) == set(simulator.reps) - {leaver} and set(published.values()) == {"new"}
    assert tenant_repo.get_mailbox(leaver).state == MailboxState.DEPARTED

    workspace = current_workspace(services.config, services.google_service)
    rows = status_rows(services.repository, [rep, leaver], workspace.tenant_of)
    assert [m.email for m in rows if m.email == rep] == [rep]
    table = status_table(rows, lease_states(services.repository, rows, workspace.tenant_of))
    assert any(line.startswith(rep) and " ok " in f" {line} " for line in table)
