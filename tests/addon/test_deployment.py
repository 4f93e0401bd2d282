"""deployment.json is a valid add-on deployment that wires every endpoint this app serves."""

from __future__ import annotations

import json
from pathlib import Path

from google.cloud import gsuiteaddons_v1

from app import create_app

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = "https://SIDECAR_PUBLIC_URL"  # replaced with the real base URL at deploy time (README)
SCOPES = {
    "https://www.googleapis.com/auth/gmail.addons.execute",
    "https://www.googleapis.com/auth/gmail.addons.current.message.metadata",
    "https://www.googleapis.com/auth/calendar.addons.execute",
    "https://www.googleapis.com/auth/calendar.addons.current.event.read",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/script.locale",
}


def deployment() -> dict:
    return json.loads((ROOT / "deployment.json").read_text())


def test_deployment_parses_into_googles_messages():
    data = deployment()
    add_ons = gsuiteaddons_v1.AddOns.from_json(json.dumps(data["addOns"]), ignore_unknown_fields=False)
    whole = gsuiteaddons_v1.Deployment.from_json(json.dumps(data), ignore_unknown_fields=False)
    assert set(whole.oauth_scopes) == SCOPES
    assert add_ons.http_options.authorization_header.name == "SYSTEM_ID_TOKEN"
    assert add_ons.calendar.current_event_access.name == "READ"
    assert add_ons.gmail.contextual_triggers[0].unconditional is not None


def test_every_url_it_names_is_served_by_the_app():
    data = deployment()["addOns"]
    urls = [data["common"]["homepageTrigger"]["runFunction"],
            data["gmail"]["contextualTriggers"][0]["onTriggerFunction"],
            data["calendar"]["eventOpenTrigger"]["runFunction"]]
    app = create_app({"google_cloud_project": "demo"})
    routes = {rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    for url in urls:
        assert url.startswith(PLACEHOLDER + "/addon/")
        assert url[len(PLACEHOLDER):] in routes
