"""The Pub/Sub harness: the real emulator, in its own process group, reached by the real client."""

from __future__ import annotations

import pytest

from devtools.firestore_emulator import EmulatorError, group_alive
from devtools.pubsub_emulator import PubSubEmulator


def test_a_message_published_to_the_emulator_is_pulled_back(pubsub_emulator, project_id, monkeypatch):
    from google.cloud import pubsub_v1

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(project_id, "harness-topic")
    subscription = subscriber.subscription_path(project_id, "harness-subscription")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)
    publisher.publish(topic, b"hello", mailbox="rep@example.com").result(timeout=30)
    response = subscriber.pull(subscription=subscription, max_messages=10, timeout=30)
    assert [(m.message.data, dict(m.message.attributes)) for m in response.received_messages] == [
        (b"hello", {"mailbox": "rep@example.com"})]
    subscriber.close()


def test_stopping_the_emulator_leaves_none_of_its_process_group(tmp_path):
    emulator = PubSubEmulator(log_path=tmp_path / "emulator.log").start()
    pgid = emulator.process.pid
    assert group_alive(pgid) and emulator.ready()
    emulator.stop()
    assert not group_alive(pgid)
    assert not emulator.ready()


def test_a_missing_emulator_names_the_package_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("SIDECAR_CLOUD_SDK_ROOT", str(tmp_path / "no-sdk"))
    with pytest.raises(EmulatorError, match="google-cloud-cli-pubsub-emulator"):
        PubSubEmulator().start()
