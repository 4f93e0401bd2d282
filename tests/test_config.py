"""Configuration is parsed once, typed, and a bad value names its variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import Config, ConfigError

ROOT = Path(__file__).resolve().parents[1]
WEB = {
    "GOOGLE_CLOUD_PROJECT": "demo",
    "SIDECAR_PUBLIC_URL": "https://sidecar.example.com/",
    "SIDECAR_ADDON_SERVICE_ACCOUNT": "addon@system.gserviceaccount.com",
    "SIDECAR_OAUTH_CLIENT_ID": "123.apps.googleusercontent.com",
}


def test_defaults_apply_when_optional_variables_are_unset():
    config = Config.from_env({"GOOGLE_CLOUD_PROJECT": "demo"})
    assert config.sync_interval_seconds == 300
    assert config.backfill_days == 365
    assert config.google_api_root == "https://www.googleapis.com/"
    assert config.users == ()


def test_values_are_parsed_and_normalised():
    config = Config.from_env({**WEB, "SIDECAR_USERS": " Ann@Example.com, bob@example.com ,",
                              "SIDECAR_SYNC_INTERVAL_SECONDS": "60",
                              "SIDECAR_GOOGLE_API_ROOT": "http://127.0.0.1:9000"}, web=True)
    assert config.users == ("ann@example.com", "bob@example.com")
    assert config.sync_interval_seconds == 60
    assert config.google_api_root == "http://127.0.0.1:9000/"
    assert config.public_url == "https://sidecar.example.com"


@pytest.mark.parametrize(("env", "named"), [
    ({}, "GOOGLE_CLOUD_PROJECT"),
    ({"GOOGLE_CLOUD_PROJECT": "demo", "SIDECAR_SYNC_INTERVAL_SECONDS": "often"}, "SIDECAR_SYNC_INTERVAL_SECONDS"),
    ({"GOOGLE_CLOUD_PROJECT": "demo", "SIDECAR_BACKFILL_DAYS": "0"}, "SIDECAR_BACKFILL_DAYS"),
    ({"GOOGLE_CLOUD_PROJECT": "demo", "SIDECAR_USERS": "ann@example.com,bob"}, "SIDECAR_USERS"),
    ({"GOOGLE_CLOUD_PROJECT": "demo", "SIDECAR_GOOGLE_API_ROOT": "ftp://x"}, "SIDECAR_GOOGLE_API_ROOT"),
    ({"GOOGLE_CLOUD_PROJECT": "demo", "SIDECAR_ADMIN_EMAIL": "a@example.com,b@example.com"}, "SIDECAR_ADMIN_EMAIL"),
    ({"GOOGLE_CLOUD_PROJECT": "demo", "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"},
     "GOOGLE_APPLICATION_CREDENTIALS"),
])
def test_a_bad_value_names_its_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        Config.from_env(env)


@pytest.mark.parametrize("missing", ["SIDECAR_PUBLIC_URL", "SIDECAR_ADDON_SERVICE_ACCOUNT", "SIDECAR_OAUTH_CLIENT_ID"])
def test_the_web_process_requires_its_token_settings(missing):
    env = {k: v for k, v in WEB.items() if k != missing}
    Config.from_env(env)  # the sync daemon does not need them
    with pytest.raises(ConfigError, match=missing):
        Config.from_env(env, web=True)


def test_the_public_url_must_be_https():
    with pytest.raises(ConfigError, match="SIDECAR_PUBLIC_URL"):
        Config.from_env({**WEB, "SIDECAR_PUBLIC_URL": "http://sidecar.example.com"}, web=True)


def test_an_explicit_mapping_refuses_unknown_keys():
    with pytest.raises(ConfigError, match="colour"):
        Config.from_mapping({"google_cloud_project": "demo", "colour": "blue"})


def test_gunicorn_refuses_to_start_without_its_variables():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIDECAR_", "GOOGLE_"))}
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "app:app"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "GOOGLE_CLOUD_PROJECT" in result.stderr
