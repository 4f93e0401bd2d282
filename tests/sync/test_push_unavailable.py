"""What the web service's push endpoints do when they cannot turn a notification into a sync request: without
SIDECAR_SYNC_TOPIC (distributed mode off), or when the publish fails, they answer 503, which Calendar and a
Pub/Sub push subscription retry; never a 500 page, never a 200 for a request not made."""

from __future__ import annotations

import base64
import json

import pytest

from app import create_app
from config import PubSubConfig
from sync.pubsub import Queue, SyncRequest
from sync.push import Watches

SYNC_TOPIC = "sidecar-sync"


@pytest.fixture
def channel(services, simulator, tenant_repo):
    """A Calendar channel set up by the dispatcher's `Watches`, as a distributed deployment leaves it: the
    headers its notification carries."""
    rep = simulator.reps[0]
    settings = PubSubConfig(calendar_push_url="http://127.0.0.1:9/push/calendar")
    Watches(services.repository, services.google_service, services.config.google_cloud_project,
            settings).renew([rep])
    watch = tenant_repo.get_watch(rep)
    return rep, {"X-Goog-Channel-ID": watch.channel_id, "X-Goog-Resource-State": "exists",
                 "X-Goog-Channel-Token": f"{tenant_repo.tenant}:{rep}:{watch.channel_token}"}


def test_without_a_sync_topic_push_is_answered_503_naming_it_and_nothing_is_recorded(
        sync_config, channel, tenant_repo, monkeypatch):
    monkeypatch.delenv("SIDECAR_SYNC_TOPIC", raising=False)
    rep, headers = channel
    client = create_app(sync_config).test_client()

    calendar = client.post("/push/calendar", headers=headers)
    data = base64.b64encode(json.dumps({"emailAddress": rep, "historyId": 10 ** 9}).encode()).decode()
    gmail = client.post("/push/gmail", json={"message": {"data": data}})

    for answer in (calendar, gmail):
        assert answer.status_code == 503  # what Google retries with backoff
        assert "SIDECAR_SYNC_TOPIC" in answer.get_json()["reason"]
    assert tenant_repo.get_watch(rep).pushes == 0  # not counted as a push handled


def test_a_push_whose_request_cannot_be_published_is_answered_503_and_its_retry_goes_through(
        sync_config, channel, pubsub_emulator, project_id, monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    monkeypatch.setenv("SIDECAR_SYNC_TOPIC", SYNC_TOPIC)  # set, but `sync setup` has not created it yet
    rep, headers = channel
    client = create_app(sync_config).test_client()

    refused = client.post("/push/calendar", headers=headers)

    assert refused.status_code == 503 and "NotFound" in refused.get_json()["reason"]
    queue = Queue(project_id, PubSubConfig(emulator_host=pubsub_emulator.host, sync_topic=SYNC_TOPIC))
    try:
        queue.setup()
        retried = client.post("/push/calendar", headers=headers)  # Google's retry, once the topic exists
        assert retried.status_code == 200 and retried.get_json() == {"queued": True}
        path = queue.subscription(queue.settings.sync_subscription)
        response = queue.subscriber.pull(subscription=path, max_messages=10, timeout=30)
        assert [SyncRequest.decode(m.message.data) for m in response.received_messages] == [SyncRequest(rep, "push")]
    finally:
        queue.close()
