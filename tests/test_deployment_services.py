"""app.yaml (the web service) and sync.yaml (dispatcher and workers), deployed as the README says, agree: the
web service publishes push notifications to the topic the workers pull, Calendar channels point at the web
service, and a bad Pub/Sub setting stops the web service at start, naming it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from config import Config, ConfigError, PubSubConfig

ROOT = Path(__file__).resolve().parents[1]
ENV_LINE = re.compile(r'^  ([A-Z][A-Z0-9_]*): "([^"]*)"')  # an `env_variables` entry (not a commented one)


def service_env(name: str) -> dict[str, str]:
    """The variables a service file sets (App Engine passes them to the process as they are)."""
    lines = (ROOT / name).read_text().splitlines()
    start = lines.index("env_variables:")
    env = {}
    for line in lines[start + 1:]:
        if line and not line.startswith(" "):
            break
        if found := ENV_LINE.match(line):
            env[found.group(1)] = found.group(2)
    return env


def test_the_web_service_publishes_push_to_the_topic_the_sync_service_pulls():
    web, sync = service_env("app.yaml"), service_env("sync.yaml")
    web_config = Config.from_env(web, web=True)
    web_pubsub, sync_pubsub = PubSubConfig.from_env(web), PubSubConfig.from_env(sync)

    assert sync_pubsub.distributed and web_pubsub.distributed
    assert web_pubsub.sync_topic == sync_pubsub.sync_topic
    assert sync_pubsub.calendar_push_url == web_config.public_url + "/push/calendar"
    assert web["GOOGLE_CLOUD_PROJECT"] == sync["GOOGLE_CLOUD_PROJECT"]


def on_starting():
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.on_starting


@pytest.mark.parametrize(("name", "value"), [("SIDECAR_SYNC_TOPIC", "goog-sync"),
                                             ("SIDECAR_PUSH_SERVICE_ACCOUNT", "not an address")])
def test_a_bad_pubsub_setting_stops_the_web_service_at_start_naming_it(monkeypatch, capsys, name, value):
    for key, setting in service_env("app.yaml").items():
        monkeypatch.setenv(key, setting)
    monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit) as stopped:
        on_starting()(None)

    assert stopped.value.code == 2
    assert name in capsys.readouterr().err


@pytest.mark.parametrize("name", ["SIDECAR_PUSH_SERVICE_ACCOUNT", "SIDECAR_GMAIL_PUSH_TOPIC",
                                  "SIDECAR_CALENDAR_PUSH_URL"])
def test_a_push_setting_without_the_sync_topic_is_refused_naming_both(name):
    value = {"SIDECAR_PUSH_SERVICE_ACCOUNT": "push@example-project.iam.gserviceaccount.com",
             "SIDECAR_GMAIL_PUSH_TOPIC": "sidecar-gmail-push",
             "SIDECAR_CALENDAR_PUSH_URL": "https://example-project.appspot.com/push/calendar"}[name]
    with pytest.raises(ConfigError, match=f"{name} is set but SIDECAR_SYNC_TOPIC is not"):
        PubSubConfig.from_env({name: value})
    assert PubSubConfig.from_env({name: value, "SIDECAR_SYNC_TOPIC": "sidecar-sync"}).distributed


def test_the_sync_service_is_deployed_with_its_delegation_key_which_git_never_holds():
    key = service_env("sync.yaml")["GOOGLE_APPLICATION_CREDENTIALS"]
    ignored_by_git = (ROOT / ".gitignore").read_text().splitlines()
    ignored_by_gcloud = (ROOT / ".gcloudignore").read_text().splitlines()
    assert "/" + key in ignored_by_git
    assert not any(line.strip("/") == key for line in ignored_by_gcloud if not line.startswith("#"))
    assert "#!include:.gitignore" not in ignored_by_gcloud  # which would leave the key behind
