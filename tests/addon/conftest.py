"""Fixtures for the add-on: gsim as Google (RS256 ID tokens, certs over local HTTP, Gmail and Calendar),
the app built from an explicit config on the test emulator, and a client that sends Google-shaped events."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from google.apps import card_v1
from google.auth.transport.requests import Request as AuthRequest
from google.oauth2 import service_account

import google_clients
from app import create_app
from gsim import Simulator
from models.domain import Activity, Company, Contact, Participant
from models.repository import Touch, activity_id_for, contact_id_for
from tests.conftest import TENANT

PUBLIC_URL = "https://sidecar.example.test"
CLIENT_ID = "1234567890-sidecar.apps.googleusercontent.com"
MAX_SECTIONS = MAX_WIDGETS = 100  # Google's card limits


@pytest.fixture(scope="session")
def google():
    """One simulator for the session: a tiny seeded Workspace at example.com; tests add what they need.

    Its per-user Gmail budget is off: the fuzz test alone sends hundreds of Gmail cards for one rep within
    a minute, whose API fallback would spend that rep's minute for the tests after it (quota enforcement
    has its own tests, in tests/gsim and tests/sync).
    """
    sim = Simulator(seed=5, domain=TENANT, reps=3, companies=2, messages=5, events=2, quota_units_per_minute=0).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def rep(google) -> str:
    return google.reps[0]


@pytest.fixture(scope="session")
def teammate(google) -> str:
    return google.reps[1]


def app_config(project_id: str, emulator_host: str, google: Simulator, **overrides) -> dict:
    return {
        "google_cloud_project": project_id,
        "firestore_emulator_host": emulator_host,
        "public_url": PUBLIC_URL,
        "addon_service_account": google.addon_service_account,
        "oauth_client_id": CLIENT_ID,
        "google_certs_url": google.certs_url,
        "google_api_root": google.url,
        **overrides,
    }


@pytest.fixture
def app(project_id, firestore_emulator, google):
    app = create_app(app_config(project_id, firestore_emulator.host, google))
    yield app
    app.extensions["sidecar"].close()


@pytest.fixture
def addon(app, google, rep):
    return AddonClient(app.test_client(), google, rep)


@dataclasses.dataclass
class AddonClient:
    """Sends events the way Google does: system ID token in the header, user ID token in the body."""

    client: object
    google: Simulator
    rep: str

    def user_token(self, rep: str | None = None, hd: str | None = TENANT, **claims) -> str:
        return self.google.sign_id_token(CLIENT_ID, email=rep or self.rep, hd=hd, **claims)

    def system_token(self, path: str, **claims) -> str:
        return self.google.sign_id_token(PUBLIC_URL + path, **claims)

    def event(self, host: str = "GMAIL", platform: str = "WEB", locale: str | None = "en", rep: str | None = None,
              hd: str | None = TENANT, inputs: dict | None = None, params: dict | None = None,
              gmail: dict | None = None, calendar: dict | None = None, oauth_token: str | None = "ya29.none",
              user_token: str | None = None) -> dict:
        common = {"hostApp": host, "platform": platform, "timeZone": {"id": "Europe/London", "offset": 0}}
        if locale:
            common["userLocale"] = locale
        if inputs:
            common["formInputs"] = {k: ({"stringInputs": {"value": [v]}} if isinstance(v, str) else v)
                                    for k, v in inputs.items()}
        if params:
            common["parameters"] = {k: str(v) for k, v in params.items()}
        body = {"commonEventObject": common,
                "authorizationEventObject": {"userOAuthToken": oauth_token,
                                             "userIdToken": user_token or self.user_token(rep, hd),
                                             "systemIdToken": "unused-by-http-runtime"}}
        if gmail is not None:
            body["gmail"] = gmail
        if calendar is not None:
            body["calendar"] = calendar
        return body

    def post(self, path: str, body=None, system_token: str | None = None, headers: dict | None = None, **event):
        if body is None:
            body = self.event(**event)
        token = system_token if system_token is not None else self.system_token(path)
        send = {"Authorization": f"Bearer {token}", **(headers or {})}
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.client.post(path, data=data, headers=send, content_type="application/json")

    def action(self, name: str, params: dict | None = None, inputs: dict | None = None, **event):
        return self.post("/addon/action/" + name, params=params, inputs=inputs, **event)

    def gmail_access(self, mailbox: str | None = None) -> str:
        """A real access token for a rep's mailbox from gsim's token endpoint (stands in for userOAuthToken)."""
        info = self.google.service_account_info()
        credentials = service_account.Credentials.from_service_account_info(
            info, scopes=list(google_clients.GMAIL_SCOPES + google_clients.CALENDAR_SCOPES))
        credentials = credentials.with_subject(mailbox or self.rep)
        credentials.refresh(AuthRequest())
        return credentials.token


# --- checking answers -------------------------------------------------------------------------

def cards_in(answer: dict) -> list[dict]:
    """Every card in a trigger or action answer."""
    if "action" in answer:
        navigations = answer["action"]["navigations"]
    else:
        navigations = answer["renderActions"]["action"].get("navigations", [])
    return [nav.get("pushCard") or nav.get("updateCard") for nav in navigations if nav.get("pushCard")
            or nav.get("updateCard")]


def valid_card(card: dict) -> dict:
    """Parses into google.apps.card.v1.Card (unknown fields refused) and keeps Google's limits."""
    card_v1.Card.from_json(json.dumps(card), ignore_unknown_fields=False)
    assert len(card["sections"]) <= MAX_SECTIONS
    for section in card["sections"]:
        assert len(section["widgets"]) <= MAX_WIDGETS
    return card


def card_of(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    cards = [valid_card(c) for c in cards_in(answer)]
    assert cards, answer
    return cards[-1]


def notification(response) -> str | None:
    return response.get_json()["renderActions"]["action"].get("notification", {}).get("text")


def texts(card: dict) -> str:
    """All the text a rep can read on a card, for assertions."""
    return json.dumps(card, ensure_ascii=False)


# --- data the sync would have written ----------------------------------------------------------

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def seed_contact(repo, email: str, first: str = "Jane", last: str = "Doe", company: str | None = "acme.com",
                 company_name: str = "Acme", **fields) -> Contact:
    if company and repo.get_company(company) is None:
        repo.save_company(Company(id=company, name=company_name))
    contact = Contact(id=contact_id_for(email), emails=[email], first_name=first, last_name=last,
                      company_id=company, **fields)
    return repo.create_contact(contact)


def seed_emails(repo, contact: Contact, count: int, holder: str, start: dt.datetime = T0,
                step: dt.timedelta = dt.timedelta(hours=7), subject: str = "Subject", snippet: str = "Snippet",
                direction: str = "inbound") -> list[Activity]:
    activities = []
    with repo.batch() as writer:
        touches = []
        for n in range(count):
            at = start + step * n
            activity = Activity(id=activity_id_for(f"<{contact.id}-{holder}-{n}@test>"), kind="email", at=at,
                                subject=f"{subject} {n}", snippet=f"{snippet} {n}", direction=direction,
                                participants=[Participant(contact.primary_email, role="from"),
                                              Participant(holder, role="to")],
                                contact_ids=[contact.id], holders={holder: f"{n:x}"})
            repo.put_activity(writer, activity)
            touches.append(Touch(at, "email", holder))
            activities.append(activity)
        repo.record_touches(writer, contact.id, touches)
    return activities
