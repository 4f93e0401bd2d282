"""The Gmail message, Calendar event and home page cards, against data written through the repository."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from google.cloud.firestore_v1.query import Query

from models.domain import Participant, Settings, utcnow
from tests.addon.conftest import card_of, seed_contact, seed_emails, texts

GMAIL = "/addon/gmail/message"
CALENDAR = "/addon/calendar/event"
HOME = "/addon/homepage"
ROW = re.compile(r"Subject (\d+)")


def timeline_numbers(card: dict, section: int = 0) -> list[int]:
    """The numbers of the "Subject N" rows shown, in card order."""
    numbers = []
    for widget in card["sections"][section]["widgets"]:
        text = widget.get("decoratedText", {})
        if text.get("topLabel", "").startswith("Email"):
            match = ROW.search(text["text"])
            numbers.append(int(match.group(1)) if match else -1)
    return numbers


def show_more_parameters(card: dict) -> dict | None:
    for section in card["sections"]:
        for widget in section["widgets"]:
            for b in widget.get("buttonList", {}).get("buttons", []):
                if b["text"] == "Show more":
                    return {p["key"]: p["value"] for p in b["onClick"]["action"]["parameters"]}
    return None


@pytest.fixture
def jane(repo):
    return seed_contact(repo, "jane@acme.com", title="CTO", tags=["vip"], owner="someone@example.com")


@pytest.mark.parametrize(("platform", "locale"), [("WEB", "en"), ("MOBILE", None), ("WEB", "fr-FR")])
def test_a_known_sender_shows_their_contact_and_team_timeline(addon, repo, rep, teammate, jane, platform, locale):
    seed_emails(repo, jane, 30, holder=rep)
    seed_emails(repo, jane, 1, holder=teammate, start=utcnow() - dt.timedelta(days=2), subject="Theirs")
    repo.record_message(rep, "18c0ffee00000001", subject="Pricing", participants=[
        Participant("jane@acme.com", "Jane Doe", "from"), Participant(rep, "", "to"),
        Participant(teammate, "", "cc"), Participant("bob.smith@globex.org", "Bob Smith", "cc"),
        Participant("noreply@acme.com", "", "cc")])

    card = card_of(addon.post(GMAIL, platform=platform, locale=locale, gmail={"messageId": "18c0ffee00000001"}))

    first, second = card["sections"][0], card["sections"][1]
    assert len(card["sections"]) == 2  # Jane, then Bob; the rep, a teammate and noreply are not "people"
    assert first["header"] == "Jane Doe" and "CTO" in texts(first) and "Acme" in texts(first)
    assert "vip" in texts(first) and "someone@example.com" in texts(first)
    assert teammate in texts(first)  # also in touch, with their last touch
    assert timeline_numbers(card) == [-1, *range(29, 10, -1)]  # 20 newest, newest first: the teammate's, then 29..11
    assert show_more_parameters(card)["contact_id"] == jane.id
    assert "Add as contact" in texts(second) and "Bob Smith" in texts(second)


def test_an_unknown_sender_read_through_the_gmail_api_with_a_msg_f_id(addon, google, rep, repo):
    message = google.add_message(rep, sender='"Buyer, Pat" <pat.buyer@acme.co.uk>', to=[rep], subject="Intro")
    gmail = {"messageId": f"msg-f:{int(message.id, 16)}", "accessToken": "per-message-token"}

    card = card_of(addon.post(GMAIL, gmail=gmail, oauth_token=addon.gmail_access()))
    assert "Add as contact" in texts(card) and "pat.buyer@acme.co.uk" in texts(card)

    again = card_of(addon.post(GMAIL, gmail={"messageId": message.id}, oauth_token=None))  # now from Firestore
    assert again == card

    form = card_of(addon.action("form", params={"form": "add_contact", "email": "pat.buyer@acme.co.uk",
                                                "name": "Buyer, Pat"}))
    inputs = {w["textInput"]["name"]: w["textInput"].get("value") for w in form["sections"][0]["widgets"]
              if "textInput" in w}
    assert inputs["first_name"] == "Pat" and inputs["last_name"] == "Buyer"
    assert "acme.co.uk" in texts(form)


def test_the_gmail_api_failing_answers_an_error_card_with_retry(addon):
    card = card_of(addon.post(GMAIL, gmail={"messageId": "18c0ffee000000ff", "accessToken": "x"},
                              oauth_token="ya29.not-a-real-token"))
    assert card["name"] == "error" and "Retry" in texts(card)


@pytest.mark.parametrize(("level", "shows_subject", "shows_snippet"),
                         [("metadata", False, False), ("subject", True, False), ("snippet", True, True)])
def test_a_teammates_email_shows_what_the_privacy_level_allows(addon, repo, rep, teammate, jane, level,
                                                               shows_subject, shows_snippet):
    repo.save_settings(Settings(privacy_level=level))
    seed_emails(repo, jane, 1, holder=teammate, subject="Their pricing", snippet="their discount")
    seed_emails(repo, jane, 1, holder=rep, subject="My pricing", snippet="my discount",
                start=dt.datetime(2024, 6, 1, tzinfo=dt.UTC))
    repo.record_message(rep, "abc1", participants=[Participant("jane@acme.com", "Jane", "from")])

    shown = texts(card_of(addon.post(GMAIL, gmail={"messageId": "abc1"})))

    assert ("Their pricing" in shown) is shows_subject
    assert ("their discount" in shown) is shows_snippet
    assert "My pricing" in shown and "my discount" in shown  # a rep always sees all of their own
    assert teammate in shown  # who and when, always


def test_500_activities_page_20_at_a_time_without_gaps_or_duplicates(addon, repo, rep, jane):
    seed_emails(repo, jane, 500, holder=rep, step=dt.timedelta(hours=5))
    repo.record_message(rep, "beef", participants=[Participant("jane@acme.com", "Jane", "from")])

    card = card_of(addon.post(GMAIL, gmail={"messageId": "beef"}))
    seen = timeline_numbers(card)
    assert seen == list(range(499, 479, -1))
    params = show_more_parameters(card)
    while params:
        page = card_of(addon.action("show_more", params=params))
        numbers = timeline_numbers(page)
        assert 0 < len(numbers) <= 20
        seen += numbers
        params = show_more_parameters(page)
        if params:
            assert params.get("replace") == "1"  # pages inside the timeline card replace each other
    assert seen == list(range(499, -1, -1))


def test_a_calendar_event_briefs_each_external_attendee(addon, repo, rep, teammate, jane):
    now = utcnow()
    seed_emails(repo, jane, 3, holder=rep, start=now - dt.timedelta(days=10), step=dt.timedelta(days=1))
    seed_emails(repo, jane, 2, holder=teammate, start=now - dt.timedelta(days=5), step=dt.timedelta(days=1),
                direction="outbound")
    seed_emails(repo, jane, 4, holder=rep, start=now - dt.timedelta(days=200), step=dt.timedelta(days=1))
    calendar = {"calendarId": "primary", "id": "evt1", "organizer": {"email": rep}, "attendees": [
        {"email": rep, "self": True, "organizer": True}, {"email": teammate},
        {"email": "jane@acme.com", "displayName": "Jane Doe"},
        {"email": "new.person@initech.com", "displayName": "New Person"},
        {"email": "room-1@resource.calendar.google.com", "resource": True}]}

    card = card_of(addon.post(CALENDAR, host="CALENDAR", platform="MOBILE", calendar=calendar))

    assert [s["header"] for s in card["sections"]] == ["Jane Doe", "New Person"]
    brief = texts(card["sections"][0])
    assert "3 in · 2 out" in brief and "you" in brief and teammate in brief
    assert "Add as contact" in texts(card["sections"][1])


def test_a_calendar_event_without_attendees_reads_them_from_the_calendar_api(addon, google, rep, repo, jane):
    start = utcnow().replace(microsecond=0) + dt.timedelta(days=1)
    event = google.add_event(rep, summary="Demo", start=start, end=start + dt.timedelta(hours=1),
                             attendees=[rep, "jane@acme.com"])
    calendar = {"calendarId": "primary", "id": event.id}
    card = card_of(addon.post(CALENDAR, host="CALENDAR", calendar=calendar, oauth_token=addon.gmail_access()))
    assert [s["header"] for s in card["sections"]] == ["Jane Doe"]


def test_the_home_page_lists_my_contacts_and_recent_activity(addon, repo, rep):
    mine = seed_contact(repo, "ann@initech.com", first="Ann", last="Lee", company="initech.com", owner=rep)
    seed_contact(repo, "zed@initech.com", first="Zed", company="initech.com", owner="other@example.com")
    seed_emails(repo, mine, 2, holder=rep)
    for host in ("GMAIL", "CALENDAR"):
        card = card_of(addon.post(HOME, host=host))
        assert "Ann Lee" in texts(card["sections"][1]) and "Zed" not in texts(card)
        assert "Ann Lee" in texts(card["sections"][2])


def test_the_home_page_runs_no_query(addon, repo, rep, monkeypatch):
    """The emulator scans a whole collection for a query; a card the rep opens all day must not (SPEC §6)."""
    seed_contact(repo, "ann@initech.com", first="Ann", last="Lee", company="initech.com", owner=rep)

    def refuse(*args, **kwargs):
        raise AssertionError("the home page ran a query")

    monkeypatch.setattr(Query, "stream", refuse)
    monkeypatch.setattr(Query, "get", refuse)
    card = card_of(addon.post(HOME))
    assert "Ann Lee" in texts(card["sections"][1])


def test_events_of_the_wrong_shape_answer_400(addon):
    assert addon.post(GMAIL).status_code == 400  # no gmail object
    assert addon.post(CALENDAR, host="CALENDAR").status_code == 400
    assert addon.post(GMAIL, gmail={"messageId": "not hex!"}).status_code == 400
    body = addon.event()
    body["commonEventObject"]["hostApp"] = "FAX"
    assert addon.post(HOME, body=body).status_code == 400
    response = addon.post(HOME, body="{not json")
    assert response.status_code == 400 and "error" in response.get_json()
