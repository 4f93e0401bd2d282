"""A card click's record (`requests/{key}`, what makes one click create once) has an end: it carries the time
Firestore's TTL policy deletes it after (`expires_at`), and a click is honoured only while its record is sure to
exist, so a click after the window is answered the same whether the TTL has deleted its record yet or not, and
never creates twice."""

from __future__ import annotations

import datetime as dt

import pytest

from addon.actions.forms import EXPIRED_REQUEST
from models.domain import utcnow
from models.repository import (
    REQUEST_CLOCK_SKEW,
    REQUEST_WINDOW,
    issue_request_id,
    request_expires_at,
    request_issued_at,
    request_key,
    request_open,
)
from tests.addon.conftest import card_of, notification, seed_contact, texts
from tests.addon.test_exclusions_and_retries import buttons


def request_records(repo) -> dict[str, dict]:
    return {s.id: s.to_dict() for s in repo.root.collection("requests").stream()}


def note_form(addon, contact_id: str) -> dict[str, str]:
    """The Save button's parameters of a freshly opened note form: one click."""
    return buttons(card_of(addon.action("form", params={"form": "note", "contact_id": contact_id})))["Save"]


def test_a_request_id_is_open_from_its_forms_time_for_the_window_and_its_record_outlives_that():
    issued = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
    request_id = issue_request_id(issued)
    assert request_issued_at(request_id) == issued
    assert request_open(request_id, issued)
    assert request_open(request_id, issued + REQUEST_WINDOW - dt.timedelta(seconds=1))
    assert not request_open(request_id, issued + REQUEST_WINDOW)
    assert request_open(request_id, issued - REQUEST_CLOCK_SKEW)  # another instance's clock a little ahead
    assert not request_open(request_id, issued - REQUEST_CLOCK_SKEW - dt.timedelta(seconds=1))
    assert request_expires_at(request_id) == issued + REQUEST_WINDOW + REQUEST_CLOCK_SKEW
    assert not request_open("r" + "0" * 20, issued)  # a form built before request ids carried their time


@pytest.mark.parametrize("form", ["note", "add_contact"])
def test_a_clicks_record_carries_the_time_firestores_ttl_deletes_it_after(addon, repo, form):
    if form == "note":
        jane = seed_contact(repo, "jane@acme.com")
        click = note_form(addon, jane.id)
        answer = addon.action("add_note", params=click, inputs={"body": "Agreed on terms"})
    else:
        opened = addon.action("form", params={"form": "add_contact", "email": "quinn@ttl-k4.com", "name": "Quinn Reed"})
        click = buttons(card_of(opened))["Add contact"]
        answer = addon.action("add_contact", params=click, inputs={"first_name": "Quinn", "last_name": "Reed"})
    card_of(answer)

    issued = request_issued_at(click["request_id"])
    assert issued is not None and abs(utcnow() - issued) < dt.timedelta(minutes=1)  # the form's own time
    [record] = request_records(repo).values()
    assert record["expires_at"] == issued + REQUEST_WINDOW + REQUEST_CLOCK_SKEW


def test_a_click_after_the_window_is_refused_alike_whether_its_record_is_left_or_deleted(addon, repo, rep):
    jane = seed_contact(repo, "jane@acme.com")
    stale = issue_request_id(utcnow() - REQUEST_WINDOW - dt.timedelta(minutes=1))
    click = {"contact_id": jane.id, "request_id": stale}
    record = repo.root.collection("requests").document(request_key(rep, stale))
    # what the first click wrote a week ago: Firestore's TTL deletes it some time after expires_at, not at it
    record.set({"kind": "note", "id": "a-first-click", "rep": rep, "expires_at": request_expires_at(stale)})

    answers = []
    for _ in ("left", "deleted"):
        answers.append(addon.action("add_note", params=click, inputs={"body": "Agreed on terms"}))
        record.delete()

    for answer in answers:
        card = card_of(answer)
        assert notification(answer) == EXPIRED_REQUEST
        assert "Agreed on terms" in texts(card)  # the form again, as typed
        again = buttons(card)["Save"]["request_id"]
        assert again != stale and request_open(again)  # under a new id, which a click may use
    assert repo.timeline(jane.id).entries == []
    assert request_records(repo) == {}

    addon.action("add_note", params={"contact_id": jane.id, "request_id": again}, inputs={"body": "Agreed on terms"})
    assert [e.snippet for e in repo.timeline(jane.id).entries] == ["Agreed on terms"]


def test_a_form_from_before_request_ids_carried_a_time_is_answered_as_expired_and_creates_nothing(addon, repo):
    legacy = "r" + "0123456789abcdef0123"  # what forms carried before: 20 random hex digits
    answer = addon.action("add_contact", params={"email": "quinn@legacy-k4.com", "request_id": legacy},
                          inputs={"first_name": "Quinn", "last_name": "Reed"})

    assert notification(answer) == EXPIRED_REQUEST
    assert request_open(buttons(card_of(answer))["Add contact"]["request_id"])
    assert repo.find_contact_by_email("quinn@legacy-k4.com") is None
    assert request_records(repo) == {}
