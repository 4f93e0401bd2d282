"""The card preview exists in demo mode only; production's `app:app` never carries it."""

from __future__ import annotations

import pytest

from app import create_app
from config import ConfigError
from demo import preview, wsgi

WEB = {
    "GOOGLE_CLOUD_PROJECT": "sidecar-demo",
    "SIDECAR_PUBLIC_URL": "http://127.0.0.1:8080",
    "SIDECAR_ADDON_SERVICE_ACCOUNT": "addon@example.iam.gserviceaccount.com",
    "SIDECAR_OAUTH_CLIENT_ID": "client.apps.googleusercontent.com",
    "SIDECAR_USERS": "jane.doe@example.com",
}


def preview_routes(flask_app) -> list[str]:
    return [rule.rule for rule in flask_app.url_map.iter_rules() if rule.rule.startswith("/demo")]


def test_production_app_has_no_preview():
    import app

    assert preview_routes(app.app) == []


def test_preview_refuses_an_app_outside_demo_mode():
    flask_app = create_app({"google_cloud_project": "p", "public_url": "https://sidecar.example.com",
                            "addon_service_account": "a@example.com", "oauth_client_id": "c", "demo": False})
    with pytest.raises(RuntimeError, match="demo mode only"):
        preview.init_app(flask_app)
    assert preview_routes(flask_app) == []


def test_demo_entry_point_refuses_without_sidecar_demo(monkeypatch):
    for name, value in WEB.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SIDECAR_DEMO", raising=False)
    with pytest.raises(ConfigError, match="SIDECAR_DEMO"):
        wsgi.build_app()


def test_demo_entry_point_serves_the_preview_page(monkeypatch, tmp_path):
    key = tmp_path / "key.json"
    key.write_text("{}")
    for name, value in {**WEB, "SIDECAR_DEMO": "1", "GOOGLE_APPLICATION_CREDENTIALS": str(key)}.items():
        monkeypatch.setenv(name, value)
    client = wsgi.build_app().test_client()
    page = client.get("/demo/")
    assert page.status_code == 200 and b"cards.js" in page.data
    assert client.get("/demo/static/cards.js").status_code == 200
    assert client.get("/demo/api/reps").json["reps"] == ["jane.doe@example.com"]
    refused = client.post("/demo/api/send", json={"hostApp": "GMAIL", "trigger": "action",
                                                  "function": "https://evil.example.com/addon/action/x"})
    assert refused.status_code == 400 and "not an endpoint of this add-on" in refused.json["error"]
