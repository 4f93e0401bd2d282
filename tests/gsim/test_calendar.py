"""Calendar through the real googleapiclient: full sync, incremental sync, 410."""

from __future__ import annotations

import datetime as dt

import pytest
from googleapiclient.errors import HttpError

from gsim import Attendee

from .conftest import ANCHOR
from .helpers import error_body, list_all

BACKFILL_START = (ANCHOR - dt.timedelta(days=365)).isoformat()


def full_sync(calendar, **kwargs):
    pages = list_all(calendar.events().list, calendarId="primary", singleEvents=True, **kwargs)
    return pages, [item for page in pages for item in page["items"]]


def test_full_sync_pages_and_only_the_last_page_has_a_sync_token(calendar):
    pages, items = full_sync(calendar, timeMin=BACKFILL_START, maxResults=10)
    assert len(pages) > 1
    assert all("nextSyncToken" not in page for page in pages[:-1])
    assert "nextSyncToken" in pages[-1] and "nextPageToken" not in pages[-1]
    assert len({item["id"] for item in items}) == len(items)
    assert all(item["status"] == "confirmed" for item in items)


def test_recurring_series_expand_into_instances(calendar):
    _, items = full_sync(calendar)
    instances = [item for item in items if "recurringEventId" in item]
    assert instances, "the generator makes weekly series"
    first = instances[0]
    assert first["id"].startswith(first["recurringEventId"] + "_")
    assert first["originalStartTime"] == first["start"] and "recurrence" not in first
    series = calendar.events().list(calendarId="primary").execute()["items"]
    assert any("recurrence" in item for item in series)


def test_incremental_sync_returns_exactly_the_changes(simulator, calendar, rep):
    _, items = full_sync(calendar, timeMin=BACKFILL_START)
    token = list_all(calendar.events().list, calendarId="primary", singleEvents=True)[-1]["nextSyncToken"]

    start = dt.datetime(2025, 3, 10, 15, tzinfo=dt.UTC)
    event = simulator.add_event(
        rep, summary="Globex kickoff", start=start, end=start + dt.timedelta(hours=1),
        attendees=[rep, Attendee("buyer@globex.io", "Bea Buyer", "accepted")],
    )  # fmt: skip
    changed = calendar.events().list(calendarId="primary", singleEvents=True, syncToken=token).execute()
    assert [item["id"] for item in changed["items"]] == [event.id]
    assert changed["items"][0]["attendees"][1] == {
        "email": "buyer@globex.io", "displayName": "Bea Buyer", "responseStatus": "accepted",
    }  # fmt: skip

    simulator.cancel_event(rep, event.id)
    cancelled = (
        calendar.events().list(calendarId="primary", singleEvents=True, syncToken=changed["nextSyncToken"]).execute()
    )
    assert [(i["id"], i["status"]) for i in cancelled["items"]] == [(event.id, "cancelled")]
    unchanged = (
        calendar.events().list(calendarId="primary", singleEvents=True, syncToken=cancelled["nextSyncToken"]).execute()
    )
    assert unchanged["items"] == []


def test_an_invalidated_sync_token_answers_410_full_sync_required(simulator, calendar, rep):
    token = list_all(calendar.events().list, calendarId="primary", singleEvents=True)[-1]["nextSyncToken"]
    simulator.invalidate_sync_token(rep)
    with pytest.raises(HttpError) as gone:
        calendar.events().list(calendarId="primary", singleEvents=True, syncToken=token).execute()
    assert gone.value.status_code == 410
    assert error_body(gone.value)["errors"][0] == {
        "message": "Sync token is no longer valid, a full sync is required.",
        "domain": "calendar",
        "reason": "fullSyncRequired",
    }
    fresh = list_all(calendar.events().list, calendarId="primary", singleEvents=True)[-1]["nextSyncToken"]
    assert calendar.events().list(calendarId="primary", singleEvents=True, syncToken=fresh).execute()["items"] == []


@pytest.mark.parametrize("restriction", [{"timeMin": BACKFILL_START}, {"q": "demo"}, {"updatedMin": BACKFILL_START}])
def test_restrictions_google_refuses_next_to_a_sync_token_answer_400(calendar, restriction):
    token = list_all(calendar.events().list, calendarId="primary", singleEvents=True)[-1]["nextSyncToken"]
    with pytest.raises(HttpError) as refused:
        calendar.events().list(calendarId="primary", singleEvents=True, syncToken=token, **restriction).execute()
    assert refused.value.status_code == 400


def test_cancelled_events_only_show_when_asked(calendar):
    _, visible = full_sync(calendar)
    _, everything = full_sync(calendar, showDeleted=True)
    cancelled = [item for item in everything if item["status"] == "cancelled"]
    assert cancelled and not [item for item in visible if item["status"] == "cancelled"]


def test_get_an_event_and_an_instance(calendar):
    _, items = full_sync(calendar)
    instance = next(item for item in items if "recurringEventId" in item)
    assert calendar.events().get(calendarId="primary", eventId=instance["id"]).execute() == instance
    series = calendar.events().get(calendarId="primary", eventId=instance["recurringEventId"]).execute()
    assert series["recurrence"][0].startswith("RRULE:")
    with pytest.raises(HttpError) as missing:
        calendar.events().get(calendarId="primary", eventId="nosuchevent").execute()
    assert missing.value.status_code == 404


def test_another_reps_calendar_is_not_visible(simulator, calendar):
    with pytest.raises(HttpError) as hidden:
        calendar.events().list(calendarId=simulator.reps[1]).execute()
    assert hidden.value.status_code == 404
