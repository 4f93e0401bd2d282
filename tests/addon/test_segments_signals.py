"""Segments on relationship signals (issue 17, point 5), and what a contact keeps of its signals as time passes."""

from __future__ import annotations

import datetime as dt

import pytest

from models import segments
from models.domain import Settings, utcnow
from models.repository import Touch
from models.signals import EMAIL, MEETING, OURS, THEIRS, Exchange, Thresholds, thread_key
from tests.addon.conftest import card_of, notification, seed_contact, texts


def names_on(card: dict) -> set[str]:
    return {w["decoratedText"]["text"] for w in card["sections"][0]["widgets"]
            if "decoratedText" in w and w["decoratedText"].get("onClick")}


def exchange(repo, contact, at: dt.datetime, kind: str, direction: str, rep: str, n: int, now: dt.datetime) -> None:
    """What sync records for one email or meeting of `contact` (`record_touches` with its exchange)."""
    code = Exchange(at, kind, direction, (rep,), thread_key(f"thread {contact.id} {n}")).encode()
    with repo.batch() as writer:
        repo.record_touches(writer, contact.id, [Touch(at, kind, rep, f"a-{contact.id}-{n}", code)], now)


@pytest.fixture
def people(repo, rep):
    """Ann wrote 6 working days ago (waiting on us); Bob has our unanswered mail; Cat met us weekly, then nothing."""
    repo.save_settings(Settings(waiting_on_us_days=2))
    now = utcnow()
    ann = seed_contact(repo, "ann@acme.com", first="Ann", last="Lee", owner=rep)
    bob = seed_contact(repo, "bob@acme.com", first="Bob", last="Ray", owner=rep)
    cat = seed_contact(repo, "cat@globex.com", first="Cat", last="Kim", company="globex.com", owner=rep)
    exchange(repo, ann, now - dt.timedelta(days=9), EMAIL, THEIRS, rep, 1, now)
    exchange(repo, bob, now - dt.timedelta(days=12), EMAIL, OURS, rep, 1, now)
    for week in range(6):
        exchange(repo, cat, now - dt.timedelta(days=90 + 7 * week), MEETING, "", rep, week, now)
    repo.refresh_signals([ann.id, bob.id, cat.id], Thresholds(), now)
    return {"ann": ann, "bob": bob, "cat": cat}


@pytest.mark.parametrize(("inputs", "expected"), [
    ({"signal": "waiting_on_us"}, {"Ann Lee"}),
    ({"signal": "waiting_on_them"}, {"Bob Ray"}),
    ({"signal": "going_cold"}, {"Cat Kim"}),
    ({"signal": "strength", "strength": "1"}, {"Ann Lee", "Bob Ray", "Cat Kim"}),
    ({"signal": "strength", "strength": "100"}, set()),
    ({"signal": "waiting_on_us", "owner": "me"}, {"Ann Lee"}),
])
def test_a_segment_filters_on_a_relationship_signal(addon, repo, rep, people, inputs, expected):
    response = addon.action("save_segment", inputs={"name": "Signals", **inputs})
    card = card_of(response)
    assert notification(response) == "Saved Signals"
    assert names_on(card) == expected
    [saved] = segments.list_segments(repo, rep)
    assert saved.count == len(expected)


def test_a_signal_and_an_activity_window_are_refused_together(addon, people):
    response = addon.action("save_segment", inputs={"name": "Both", "signal": "going_cold",
                                                    "activity_mode": "inactive", "activity_days": "30"})
    assert "not both" in texts(card_of(response))


def test_a_meeting_that_passes_becomes_the_last_without_new_mail(repo, rep):
    now = utcnow()
    dan = seed_contact(repo, "dan@acme.com", first="Dan", last="Cho", owner=rep)
    exchange(repo, dan, now + dt.timedelta(hours=2), MEETING, "", rep, 1, now)
    stored = repo.get_contact(dan.id)
    assert stored.last_meeting_at is None and stored.last_activity_at is None  # the future raises nothing
    repo.refresh_signals([dan.id], Thresholds(), now)
    assert dan.id not in repo.contacts_with_passed_meetings(now)

    later = now + dt.timedelta(hours=3)
    assert repo.contacts_with_passed_meetings(later) == [dan.id]
    assert repo.refresh_signals([dan.id], Thresholds(), later) == 1
    stored = repo.get_contact(dan.id)
    assert stored.last_meeting_at == stored.last_activity_at == (now + dt.timedelta(hours=2)).replace(microsecond=0)
    assert repo.contacts_with_passed_meetings(later) == []
    assert repo.refresh_signals([dan.id], Thresholds(), later) == 0  # nothing changed: nothing written


def test_the_admin_sets_the_needs_attention_thresholds_and_the_home_page_follows(addon, repo, rep, people):
    repo.save_settings(Settings(admins=[rep]))
    home = card_of(addon.post("/addon/homepage"))
    attention = next(s for s in home["sections"] if s.get("header") == "Needs attention")
    assert "Ann Lee" in texts(attention) and "Waiting on us" in texts(attention)

    refused = card_of(addon.action("admin_attention", inputs={"waiting_on_us_days": "0", "waiting_on_them_days": "5",
                                                              "cold_after_days": "30"}))
    assert "whole number" in texts(refused) and repo.get_settings().waiting_on_us_days == 2
    response = addon.action("admin_attention", inputs={"waiting_on_us_days": "10", "waiting_on_them_days": "5",
                                                       "cold_after_days": "30"})
    assert notification(response) == "Thresholds saved"
    assert repo.get_settings().waiting_on_us_days == 10
    home = card_of(addon.post("/addon/homepage"))
    attention = next(s for s in home["sections"] if s.get("header") == "Needs attention")
    assert "Waiting on us" not in texts(attention)  # Ann's 6 or 7 working days are under 10 now


def test_exchanges_older_than_any_signal_looks_are_dropped_when_the_signals_are_refreshed(repo, rep):
    now = utcnow()
    eve = seed_contact(repo, "eve@acme.com", first="Eve", last="Poe", owner=rep)
    exchange(repo, eve, now - dt.timedelta(days=500), EMAIL, THEIRS, rep, 1, now)
    exchange(repo, eve, now - dt.timedelta(days=5), EMAIL, THEIRS, rep, 2, now)
    assert len(repo.get_contact(eve.id).exchanges) == 2
    repo.refresh_signals([eve.id], Thresholds(), now)
    assert list(repo.get_contact(eve.id).exchanges) == [f"a-{eve.id}-2"]
    assert repo.get_contact(eve.id).last_email_at is not None  # the counters keep what the map forgot
