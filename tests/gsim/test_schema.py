"""Every kind of response, checked against googleapiclient's bundled discovery schemas."""

from __future__ import annotations

import datetime as dt

import pytest

from gsim import schema

from .helpers import list_all


def test_the_validator_catches_what_google_would_not_send():
    assert schema.problems("gmail", "Profile", {"emailAddress": "a@b.c", "historyId": "12"}) == []
    found = schema.problems("gmail", "Profile", {"historyId": 12, "shoeSize": 44})
    assert any("historyId" in p and "string" in p for p in found)
    assert any("shoeSize" in p for p in found)
    assert schema.problems("calendar", "EventDateTime", {"dateTime": "yesterday"})


def test_gmail_responses_match_the_discovery_schemas(simulator, gmail, rep):
    users = gmail.users()
    schema.check("gmail", "Profile", users.getProfile(userId="me").execute())
    schema.check("gmail", "ListLabelsResponse", users.labels().list(userId="me").execute())
    listing = users.messages().list(userId="me", maxResults=500, includeSpamTrash=True).execute()
    schema.check("gmail", "ListMessagesResponse", listing)
    for message in listing["messages"][:40]:
        for fmt in ("minimal", "metadata", "full", "raw"):
            schema.check("gmail", "Message", users.messages().get(userId="me", id=message["id"], format=fmt).execute())
    start = users.getProfile(userId="me").execute()["historyId"]
    added = simulator.add_message(rep, subject="schema")
    simulator.world.modify_labels(rep, added.id, add=["STARRED"], remove=["UNREAD"])
    simulator.delete_message(rep, added.id)
    history = users.history().list(userId="me", startHistoryId=start).execute()
    assert len(history["history"]) == 4
    schema.check("gmail", "ListHistoryResponse", history)
    schema.check(
        "gmail", "ListHistoryResponse", users.history().list(userId="me", startHistoryId=start, maxResults=1).execute()
    )
    schema.check(
        "gmail", "WatchResponse", users.watch(userId="me", body={"topicName": "projects/p/topics/t"}).execute()
    )
    schema.check("gmail", "ListMessagesResponse", users.messages().list(userId="me", q="after:2999/01/01").execute())


@pytest.mark.parametrize("single_events", [True, False])
def test_calendar_responses_match_the_discovery_schemas(simulator, calendar, rep, single_events):
    pages = list_all(
        calendar.events().list, calendarId="primary", singleEvents=single_events, showDeleted=True, maxResults=7
    )
    for page in pages:
        schema.check("calendar", "Events", page)
    all_day = dt.date(2025, 3, 20)
    event = simulator.add_event(rep, summary="Offsite", start=all_day, end=all_day + dt.timedelta(days=1))
    series = next(i for p in pages for i in p["items"] if "recurrence" in i or "recurringEventId" in i)
    series_id = series.get("recurringEventId", series["id"])
    first = simulator.world.events[series_id].instance_starts()[0]
    simulator.cancel_event(rep, series_id, instance_start=first)
    changed = (
        calendar.events()
        .list(calendarId="primary", singleEvents=single_events, syncToken=pages[-1]["nextSyncToken"])
        .execute()
    )
    assert {item["id"] for item in changed["items"]} >= {event.id}
    schema.check("calendar", "Events", changed)
    schema.check("calendar", "Event", calendar.events().get(calendarId="primary", eventId=event.id).execute())


def test_directory_responses_match_the_discovery_schemas(directory):
    schema.check("directory", "Users", directory.users().list(customer="my_customer", maxResults=2).execute())
