"""Issue 17, acceptance 1, end to end: a scripted history in gsim, the real sync, the cards through HTTP.

Ana answered two of the rep's three emails, met the team a month ago and meets
it again in three days; Ben asked the rep a question three working days ago.
Each card is opened with real tokens and validated against
google.apps.card.v1.Card (`card_of`); what it says is read off its widgets.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from zoneinfo import ZoneInfo

import pytest

from cards.timeline import fmt_date, fmt_datetime
from models.domain import utcnow
from models.rep_privacy import thread_key
from models.signals import working_days_between
from sync.__main__ import main as sync_main
from tests.addon.conftest import card_of, texts
from tests.addon.test_synced_message_card import FIRESTORE_RPCS, MAX_ROUND_TRIPS, round_trips  # noqa: F401

GMAIL, CALENDAR, HOME = "/addon/gmail/message", "/addon/calendar/event", "/addon/homepage"
LONDON = ZoneInfo("Europe/London")  # the time zone of the events AddonClient sends


def named(google, address: str) -> str:
    user = google.world.users[address]
    return f"{user.given_name} {user.family_name}"


def widget(card: dict, top_label: str) -> dict:
    """The decorated text under `top_label` (the first one), as a dict of its text and labels."""
    for section in card["sections"]:
        for w in section["widgets"]:
            text = w.get("decoratedText")
            if text and text.get("topLabel") == top_label:
                return text
    raise AssertionError(f"no {top_label!r} on the card: {texts(card)}")


def needs_attention(home: dict) -> dict[str, str]:
    """Name -> why, for each row of the home page's "Needs attention"."""
    section = next(s for s in home["sections"] if s.get("header") == "Needs attention")
    return {w["decoratedText"]["text"]: w["decoratedText"]["topLabel"] for w in section["widgets"]
            if "decoratedText" in w}


def working_days_ago(count: int, now: dt.datetime) -> dt.datetime:
    """The latest hour at which a message is `count` working days old now."""
    at = now - dt.timedelta(hours=1)
    while working_days_between(at, now) < count:
        at -= dt.timedelta(hours=1)
    return at


@pytest.fixture
def synced(google, rep, teammate, project_id, firestore_emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", project_id)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    monkeypatch.setenv("SIDECAR_GOOGLE_API_ROOT", google.url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(google.write_service_account_key(tmp_path / "k.json")))

    def sync() -> None:
        assert sync_main(["once", "--user", rep, "--user", teammate]) == 0
    return sync


@pytest.fixture
def history(google, rep, teammate, synced):
    """The scripted history, synced; returns what the assertions need.

    The simulator is shared by the session: the people and subjects are new each time.
    """
    tag = uuid.uuid4().hex[:6]
    now = utcnow().replace(microsecond=0)
    me = f'"{named(google, rep)}" <{rep}>'
    ana_email = f"ana.{tag}@signals-h8.example"
    ana = f'"Ana Lopez" <{ana_email}>'
    paris = dt.timezone(dt.timedelta(hours=1))
    sent = {}
    for subject, days_ago, answered in ((f"Pricing {tag}", 20, True), (f"Demo {tag}", 15, True),
                                        (f"Contract {tag}", 10, False)):
        at = now - dt.timedelta(days=days_ago)
        sent[subject] = google.add_message(rep, sender=me, to=[ana], subject=subject, date=at)
        if answered:
            reply = google.add_message(rep, sender=ana, to=[me], subject=f"Re: {subject}",
                                       date=(at + dt.timedelta(hours=20)).astimezone(paris))
    last_meeting, next_meeting = now - dt.timedelta(days=30), now + dt.timedelta(days=3)
    google.add_event(rep, summary=f"Kickoff {tag}", start=last_meeting, end=last_meeting + dt.timedelta(hours=1),
                     attendees=[teammate, ana_email])
    upcoming = google.add_event(rep, summary=f"Review {tag}", start=next_meeting,
                                end=next_meeting + dt.timedelta(hours=1), attendees=[teammate, ana_email])
    # the teammate's own mail carries their name (what sync learns a teammate's name from)
    google.add_message(teammate, sender=f'"{named(google, teammate)}" <{teammate}>',
                       to=["zoe@elsewhere-h8.example"], subject="Hello", date=now - dt.timedelta(days=2))
    ben = f'"Ben Ortiz" <ben.{tag}@waiting-h8.example>'
    google.add_message(rep, sender=me, to=[ben], subject=f"Intro {tag}", date=now - dt.timedelta(days=25))
    question = google.add_message(rep, sender=ben, to=[me], subject=f"Question {tag}",
                                  date=working_days_ago(3, now))
    synced()
    return {"now": now, "reply": reply, "event": upcoming, "question": question, "me": me, "ben": ben, "tag": tag,
            "ana": ana_email, "last_meeting": last_meeting, "next_meeting": next_meeting}


def gmail_card(addon, message) -> dict:
    return card_of(addon.post(GMAIL, gmail={"messageId": message.id, "accessToken": "unused"},
                              oauth_token="ya29.unused"))


def test_the_cards_say_where_the_relationship_stands(addon, google, rep, teammate, history, round_trips):  # noqa: F811
    round_trips.clear()
    card = gmail_card(addon, history["reply"])  # Ana's reply to "Demo"
    assert len(round_trips) <= MAX_ROUND_TRIPS, round_trips  # the signals cost no read

    assert widget(card, "Response rate, last 180 days")["text"] == "Replied to 2 of 3"
    meeting = widget(card, "Next meeting")
    assert meeting["text"] == fmt_datetime(history["next_meeting"], LONDON)
    assert fmt_date(history["last_meeting"], LONDON) in meeting["bottomLabel"]
    assert fmt_date(history["next_meeting"], LONDON) not in meeting["bottomLabel"]  # never "last"
    upcoming_at = "Meeting · " + json.dumps(fmt_datetime(history["next_meeting"], LONDON))[1:-1]  # its row
    body = texts(card)
    assert body.index("<b>Upcoming</b>") < body.index(upcoming_at) < body.index("<b>Team timeline</b>")
    # teammates by name: the teammate who met Ana is "also in touch" under their name, their address beside it
    in_touch = widget(card, teammate)
    assert in_touch["text"] == named(google, teammate)
    assert "Strongest connection: you" in widget(card, "Strength")["bottomLabel"]

    calendar = {"calendarId": "primary", "id": history["event"].id, "organizer": {"email": rep},
                "attendees": [{"email": rep, "self": True, "organizer": True}, {"email": teammate},
                              {"email": history["ana"], "displayName": "Ana Lopez"}]}
    brief = card_of(addon.post(CALENDAR, host="CALENDAR", calendar=calendar))
    assert widget(brief, "Next meeting")["text"] == fmt_datetime(history["next_meeting"], LONDON)
    assert widget(brief, "Last meeting with the team")["text"] == fmt_date(history["last_meeting"], LONDON)
    contract = history["now"] - dt.timedelta(days=10)
    latest = widget(brief, f"Latest exchange · {fmt_date(contract, LONDON)} · you")
    assert latest["text"] == f"Contract {history['tag']}"
    assert named(google, teammate) in widget(brief, "Who on the team knows them")["text"]


def test_a_question_left_unanswered_three_working_days_needs_attention_until_the_team_replies(
        addon, google, rep, history, synced):
    card = gmail_card(addon, history["question"])
    assert widget(card, "Follow-up")["text"].count("Waiting on us · 3 working days") == 1
    home = card_of(addon.post(HOME))
    assert needs_attention(home)["Ben Ortiz"] == "Waiting on us · 3 working days"

    google.add_message(rep, sender=history["me"], to=[history["ben"]], subject=f"Re: Question {history['tag']}",
                       date=utcnow() - dt.timedelta(minutes=1))
    synced()

    card = gmail_card(addon, history["question"])
    assert "Waiting on us" not in texts(card)
    home = card_of(addon.post(HOME))
    # Ben is no longer waiting on us (our intro, which he never answered, is waiting on him)
    intro = working_days_between(history["now"] - dt.timedelta(days=25), utcnow())
    assert needs_attention(home)["Ben Ortiz"] == f"Waiting on them · {intro} working days"



def test_a_thread_or_person_a_rep_made_private_shows_teammates_no_subject_in_the_latest_exchange(
        addon, google, repo, rep, teammate, history):
    """#15 x #17: the brief's "Latest exchange" keeps to who and when for a private thread or person.

    The signals themselves are who and when only (no subject, no snippet), which a private thread still shows
    teammates, so they are unchanged: "Replied to 2 of 3" stays.
    """
    tag, contract = history["tag"], history["now"] - dt.timedelta(days=10)
    ana = repo.find_contact_by_email(history["ana"])

    def brief_for(viewer: str) -> dict:
        attendees = [{"email": rep, "organizer": True}, {"email": teammate},
                     {"email": history["ana"], "displayName": "Ana Lopez"}]
        for attendee in attendees:
            attendee["self"] = attendee["email"] == viewer
        calendar = {"calendarId": "primary", "id": history["event"].id, "organizer": {"email": rep},
                    "attendees": attendees}
        return card_of(addon.post(CALENDAR, host="CALENDAR", calendar=calendar, rep=viewer))

    theirs = f"Latest exchange · {fmt_date(contract, LONDON)} · {named(google, rep)}"
    mine = f"Latest exchange · {fmt_date(contract, LONDON)} · you"
    assert widget(brief_for(teammate), theirs)["text"] == f"Contract {tag}"  # the tenant's `subject` level

    addon.action("rep_privacy", params={"contact_id": ana.id, "thread": thread_key(f"Contract {tag}")})

    brief = brief_for(teammate)
    assert f"Contract {tag}" not in texts(brief)
    assert "(subject hidden)" in widget(brief, theirs)["text"]  # who and when stay
    assert widget(brief_for(rep), mine)["text"] == f"Contract {tag}"  # the rep sees all of it
    contact_card = card_of(addon.action("open_contact", params={"contact_id": ana.id}, rep=teammate))
    assert widget(contact_card, "Response rate, last 180 days")["text"] == "Replied to 2 of 3"

    addon.action("rep_privacy", params={"contact_id": ana.id, "thread": thread_key(f"Contract {tag}"), "share": "1"})
    assert widget(brief_for(teammate), theirs)["text"] == f"Contract {tag}"
    addon.action("rep_privacy", params={"contact_id": ana.id})  # everything the rep has with Ana
    brief = brief_for(teammate)
    assert f"Contract {tag}" not in texts(brief) and "(subject hidden)" in widget(brief, theirs)["text"]
