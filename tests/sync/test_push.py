"""Push (issue 14 point 5) on real parts: gsim's watches, the Pub/Sub and Firestore emulators, the web app."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time

import pytest

from app import create_app
from config import PubSubConfig
from sync.pubsub import Dispatcher, Queue, SyncRequest
from sync.push import CHANNEL_RENEW_BEFORE, GMAIL_WATCH_RENEW_AFTER, GmailNotifications, Watches
from tests.sync.conftest import sync_run

PUSH_TOPIC = "gmail-push"
WAIT_SECONDS = 20


@pytest.fixture
def push_settings(pubsub_emulator, monkeypatch) -> PubSubConfig:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)  # gsim's publisher and ours read it
    monkeypatch.setenv("SIDECAR_SYNC_TOPIC", "sidecar-sync")
    return PubSubConfig(emulator_host=pubsub_emulator.host, sync_topic="sidecar-sync", gmail_push_topic=PUSH_TOPIC,
                        calendar_push_url="http://127.0.0.1:9/push/calendar")


@pytest.fixture
def queue(push_settings, project_id):
    queue = Queue(project_id, push_settings, retry_backoff_seconds=(0, 1))
    queue.setup()
    yield queue
    queue.close()


def pull(queue: Queue, subscription: str, wait: float = WAIT_SECONDS) -> list:
    """Messages of a subscription, acked; waits up to `wait` seconds for the first."""
    deadline = time.monotonic() + wait
    while True:
        response = queue.subscriber.pull(subscription=queue.subscription(subscription), max_messages=50, timeout=10)
        if response.received_messages or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if response.received_messages:
        queue.subscriber.acknowledge(subscription=queue.subscription(subscription),
                                     ack_ids=[m.ack_id for m in response.received_messages])
    return [m.message.data for m in response.received_messages]


def test_watches_are_set_up_then_renewed_daily_and_channels_a_day_before_they_expire(services, simulator,
                                                                                    tenant_repo, push_settings):
    rep = simulator.reps[0]
    watches = Watches(services.repository, services.google_service, services.config.google_cloud_project,
                      push_settings)
    now = dt.datetime.now(dt.UTC)

    assert dataclasses.astuple(watches.renew([rep], now)) == (1, 1, 0)
    first = tenant_repo.get_watch(rep)
    assert first.gmail_expires_at > now + dt.timedelta(days=6) and first.channel_token
    assert set(simulator.push.channels) == {first.channel_id}
    assert simulator.push.gmail_topics[rep] == f"projects/{services.config.google_cloud_project}/topics/{PUSH_TOPIC}"
    assert dataclasses.astuple(watches.renew([rep], now + dt.timedelta(hours=1))) == (0, 0, 0)  # nothing due

    later = now + GMAIL_WATCH_RENEW_AFTER + dt.timedelta(seconds=1)
    assert dataclasses.astuple(watches.renew([rep], later)) == (1, 0, 0)  # Gmail's daily renewal only
    assert tenant_repo.get_watch(rep).gmail_watched_at == later

    before_expiry = first.channel_expires_at - CHANNEL_RENEW_BEFORE + dt.timedelta(seconds=1)
    assert dataclasses.astuple(watches.renew([rep], before_expiry)).count(1) >= 1
    renewed = tenant_repo.get_watch(rep)
    assert renewed.channel_id != first.channel_id and renewed.channel_token != first.channel_token
    assert set(simulator.push.channels) == {renewed.channel_id}  # the old channel was stopped


def test_a_gmail_notification_older_than_the_stored_history_id_does_nothing(services, simulator, tenant_repo):
    rep = simulator.reps[0]
    sync_run(services).run([rep])
    stored = int(tenant_repo.get_mailbox(rep).history_id)
    requested: list[str] = []
    notifications = GmailNotifications(services.repository, requested.append)

    assert notifications.notify(rep, stored) is False
    assert notifications.notify(rep, stored - 5) is False
    assert requested == []
    assert notifications.notify(rep, stored + 1) is True
    assert requested == [rep]
    watch = tenant_repo.get_watch(rep)
    assert (watch.pushes, watch.skipped_pushes, watch.last_push_history_id) == (3, 2, stored + 1)


def test_new_mail_in_a_watched_mailbox_is_notified_at_most_once_a_second_then_becomes_a_sync_request(
        services, simulator, tenant_repo, queue, push_settings):
    rep = simulator.reps[0]
    sync_run(services).run([rep])
    Watches(services.repository, services.google_service, services.config.google_cloud_project,
            push_settings).renew([rep])
    simulator.add_message(rep, subject="Quote")
    first = pull(queue, push_settings.gmail_push_subscription)
    sent = time.monotonic()
    for n in range(3):  # within the second after it: one more notification, once the second is up
        last = simulator.add_message(rep, subject=f"Quote {n}")
    second = pull(queue, push_settings.gmail_push_subscription)
    waited = time.monotonic() - sent
    time.sleep(1.2)
    assert pull(queue, push_settings.gmail_push_subscription, wait=0) == []

    bodies = [json.loads(data) for data in first + second]
    assert len(bodies) == 2 and all(b["emailAddress"] == rep for b in bodies)
    assert bodies[-1]["historyId"] == last.history_id and waited >= 0.9
    notifications = GmailNotifications(services.repository, queue.request_sync)
    assert notifications.notify(rep, bodies[-1]["historyId"]) is True
    assert [SyncRequest.decode(d) for d in pull(queue, push_settings.sync_subscription)] == [SyncRequest(rep, "push")]


def test_a_calendar_notification_is_checked_against_its_channel_and_a_wrong_token_is_refused(
        services, simulator, tenant_repo, queue, push_settings, sync_config, monkeypatch):
    rep = simulator.reps[0]
    Watches(services.repository, services.google_service, services.config.google_cloud_project,
            push_settings).renew([rep])
    watch = tenant_repo.get_watch(rep)
    client = create_app(sync_config).test_client()
    headers = {"X-Goog-Channel-ID": watch.channel_id, "X-Goog-Resource-State": "exists",
               "X-Goog-Channel-Token": f"{tenant_repo.tenant}:{rep}:{watch.channel_token}"}

    for wrong in ({"X-Goog-Channel-Token": f"{tenant_repo.tenant}:{rep}:not-the-secret"},
                  {"X-Goog-Channel-Token": ""},
                  {"X-Goog-Channel-Token": f"another.example:{rep}:{watch.channel_token}"},
                  {"X-Goog-Channel-ID": "sidecar-another-channel"},
                  {"X-Goog-Channel-Token": f"{tenant_repo.tenant}:{simulator.reps[1]}:{watch.channel_token}"}):
        assert client.post("/push/calendar", headers={**headers, **wrong}).status_code == 403
    assert pull(queue, push_settings.sync_subscription, wait=1) == []

    answer = client.post("/push/calendar", headers=headers)
    assert answer.status_code == 200 and answer.get_json() == {"queued": True}
    assert [SyncRequest.decode(d) for d in pull(queue, push_settings.sync_subscription)] == [
        SyncRequest(rep, "push")]


def test_a_calendar_change_posts_a_channel_notification_with_googles_headers(services, simulator, push_settings,
                                                                              tenant_repo):
    rep = simulator.reps[0]
    received: list[dict] = []
    from werkzeug.serving import make_server

    def hook(environ, start_response):
        received.append({k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_X")})
        start_response("200 OK", [])
        return [b""]

    server = make_server("127.0.0.1", 0, hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = dataclasses.replace(push_settings, gmail_push_topic=None,
                                       calendar_push_url=f"http://127.0.0.1:{server.server_port}/push/calendar")
        Watches(services.repository, services.google_service, services.config.google_cloud_project,
                settings).renew([rep])
        simulator.add_event(rep, summary="Pricing call", start=dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC),
                            end=dt.datetime(2026, 3, 2, 16, tzinfo=dt.UTC), attendees=["pat.buyer@acme.co.uk"])
        deadline = time.monotonic() + WAIT_SECONDS
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.shutdown()
    assert [r["X-Goog-Resource-State"] for r in received] == ["sync", "exists"]
    assert all(r["X-Goog-Channel-Token"].startswith(f"{tenant_repo.tenant}:{rep}:")
               and r["X-Goog-Channel-Id"].startswith("sidecar-") for r in received)


def test_a_user_suspended_in_the_directory_stops_being_synced_and_their_history_stays(services, simulator,
                                                                                    tenant_repo, queue):
    reps = list(simulator.reps)
    sync_run(services).run(reps)
    held = len(tenant_repo.activities_held_by(reps[0]))
    assert held
    simulator.suspend_user(reps[0])
    directory = dataclasses.replace(services.config, users=())  # the mailboxes come from the Directory
    dispatcher = Dispatcher(services.repository, services.google_service, directory, queue,
                            services.leader_leases(), threading.Event())
    for rep in reps:  # every mailbox is due
        mailbox = tenant_repo.get_mailbox(rep)
        mailbox.last_attempt_at -= dt.timedelta(seconds=2 * services.config.sync_interval_seconds)
        tenant_repo.save_mailbox(mailbox)

    published = dispatcher.cycle()

    published = {r.mailbox for r in published}  # the Directory's other users are new ones
    assert reps[0] not in published and set(reps[1:]) <= published
    assert len(tenant_repo.activities_held_by(reps[0])) == held  # their history stays
    assert tenant_repo.get_mailbox(reps[0]).history_id


def test_a_worker_syncs_a_gmail_notification_at_once_and_coalesces_one_for_a_leased_mailbox(services, simulator,
                                                                                           tenant_repo):
    from sync.pubsub import Worker

    class Requests:  # the sync topic: only a failed sync would go there
        settings = None

        def __init__(self):
            self.sent: list[str] = []

        def request_sync(self, mailbox: str) -> None:
            self.sent.append(mailbox)

    requests = Requests()
    worker = Worker(services.repository, services.google_service, services.config, requests, threading.Event(),
                    {"lease_ttl_seconds": 5.0})
    rep, busy = simulator.reps[0], simulator.reps[1]
    notifications = GmailNotifications(services.repository, worker.sync_now)
    sync_run(services).run([rep, busy])
    message = simulator.add_message(rep, subject="Fresh")

    assert notifications.notify(rep, message.history_id) is True
    assert tenant_repo.get_message(rep, message.id) is not None  # synced by the notification itself
    lease = tenant_repo.acquire_lease(busy, "another-worker", 60)
    assert notifications.notify(busy, simulator.add_message(busy, subject="Later").history_id) is True
    # coalesced: the holder's release says so, and it goes again
    assert tenant_repo.commit_cursors(tenant_repo.get_mailbox(busy), lease) is True
    assert requests.sent == []
