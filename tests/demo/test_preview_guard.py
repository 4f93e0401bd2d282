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


def test_deliver_takes_one_address_from_outside_the_team_before_it_reaches_the_simulator(monkeypatch, tmp_path):
    key = tmp_path / "key.json"
    key.write_text("{}")
    for name, value in {**WEB, "SIDECAR_DEMO": "1", "GOOGLE_APPLICATION_CREDENTIALS": str(key),
                        "SIDECAR_GOOGLE_API_ROOT": "http://127.0.0.1:9/"}.items():  # nothing listens there
        monkeypatch.setenv(name, value)
    client = wsgi.build_app().test_client()
    teammate = client.post("/demo/api/deliver", json={"from": "Bob <bob@example.com>"})
    assert teammate.status_code == 400 and "outside the team" in teammate.json["error"]
    for bad in ("not an address", "a@b.test, c@d.test", "", 42):
        refused = client.post("/demo/api/deliver", json={"from": bad})
        assert refused.status_code == 400 and "is not an email address" in refused.json["error"], bad
    assert client.post("/demo/api/deliver", json={"rep": "eve@evil.test", "from": "x@y.test"}).status_code == 400
    unreachable = client.post("/demo/api/deliver", json={"from": "pat@customer.test"})
    assert unreachable.status_code == 502  # the simulator is down: said so, never a 500 page
