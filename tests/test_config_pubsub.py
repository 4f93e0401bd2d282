"""The distributed sync's settings: distributed mode on with the sync topic, bad names refused by name."""

from __future__ import annotations

import pytest

from config import DEFAULT_SYNC_SUBSCRIPTION, ConfigError, PubSubConfig, log_format


def test_without_a_sync_topic_the_sync_is_not_distributed():
    assert not PubSubConfig.from_env({}).distributed


def test_the_sync_topic_turns_distributed_mode_on_with_named_defaults():
    settings = PubSubConfig.from_env({"SIDECAR_SYNC_TOPIC": "sidecar-sync", "PUBSUB_EMULATOR_HOST": "localhost:8085"})
    assert settings.distributed and settings.sync_topic == "sidecar-sync"
    assert settings.sync_subscription == DEFAULT_SYNC_SUBSCRIPTION
    assert settings.emulator_host == "localhost:8085"


@pytest.mark.parametrize(("name", "value"), [("SIDECAR_SYNC_TOPIC", "x"), ("SIDECAR_SYNC_TOPIC", "goog-sync"),
                                             ("SIDECAR_BACKFILL_SUBSCRIPTION", "has space"),
                                             ("SIDECAR_SYNC_MAX_DELIVERIES", "4"),
                                             ("SIDECAR_SYNC_MAX_DELIVERIES", "101")])
def test_an_invalid_setting_is_refused_by_its_name(name, value):
    with pytest.raises(ConfigError, match=name):
        PubSubConfig.from_env({"SIDECAR_SYNC_TOPIC": "sidecar-sync", name: value})


def test_logs_are_json_when_distributed_or_asked_and_text_otherwise():
    assert log_format({}) == "text"
    assert log_format({"SIDECAR_SYNC_TOPIC": "sidecar-sync"}) == "json"
    assert log_format({"SIDECAR_LOG_FORMAT": "JSON"}) == "json"
    with pytest.raises(ConfigError, match="SIDECAR_LOG_FORMAT"):
        log_format({"SIDECAR_LOG_FORMAT": "xml"})
