"""Bad input with a valid token is a 400 or a card that says what is wrong, never a 500 or a vain Retry (#12.7, 8, 11).

Every request here carries real RS256 tokens; a 400 or an error card also
means nothing was written, and no log line carries a traceback.
"""

from __future__ import annotations

import json
import logging
import socket
import time

import pytest

from app import MAX_EVENT_BYTES, create_app
from models.domain import CustomFieldDefinition, Settings
from models.segments import list_segments
from tests.addon.conftest import AddonClient, app_config, card_of, seed_contact, texts
from tests.addon.hostile import snapshot, tracebacks

GMAIL = "/addon/gmail/message"
CALENDAR = "/addon/calendar/event"


@pytest.fixture
def jane(repo):
    repo.save_settings(Settings(custom_fields=[CustomFieldDefinition("budget", "Budget", "number"),
                                              CustomFieldDefinition("renewal", "Renewal", "date")]))
    return seed_contact(repo, "jane@acme.com")


@pytest.fixture
def quiet(caplog, firestore_client):
    """Checks, after the test, that nothing logged a traceback; `unchanged()` asserts nothing was written."""
    caplog.set_level(logging.DEBUG)

    class Watch:
        before = snapshot(firestore_client)

        def unchanged(self):
            assert snapshot(firestore_client) == self.before

    yield Watch()
    assert tracebacks(caplog.records) == []
    assert "unexpected error" not in caplog.text


def no_retry(response) -> dict:
    card = card_of(response)
    assert "Retry" not in texts(card), "a permanent error never offers a Retry"
    return card


def test_a_custom_number_beyond_64_bits_is_refused_on_the_form(addon, repo, jane, quiet):
    card = no_retry(addon.action("edit_fields", params={"contact_id": jane.id},
                                 inputs={"custom.budget": "99999999999999999999"}))
    assert "Budget must be a number between" in texts(card)
    quiet.unchanged()


@pytest.mark.parametrize("ms", [1e20, "100000000000000000000", -1e20, 1e999])
def test_a_date_input_out_of_range_is_a_400(addon, jane, quiet, ms):
    body = addon.event(params={"contact_id": jane.id}, inputs={"custom.renewal": {"dateInput": {"msSinceEpoch": ms}}})
    response = addon.post("/addon/action/edit_fields", body=json.dumps(body))  # 1e999 is sent as JSON's 1e999
    assert response.status_code == 400
    assert "msSinceEpoch" in response.get_json()["error"]
    quiet.unchanged()


@pytest.mark.parametrize("days", ["²", "٣٠", "9" * 5000])
def test_segment_days_in_other_digits_are_refused_on_the_form(addon, repo, rep, quiet, days):
    card = no_retry(addon.action("save_segment", inputs={"name": "Quiet ones", "activity_mode": "inactive",
                                                         "activity_days": days}))
    assert "whole number" in texts(card)
    assert list_segments(repo, rep) == []
    quiet.unchanged()


@pytest.mark.parametrize("offset", ["1e999", "-1e999", "NaN", '"9' + "9" * 5000 + '"'])
def test_a_time_zone_offset_that_is_no_number_is_a_400(addon, quiet, offset):
    body = json.dumps(addon.event()).replace('"offset": 0', '"offset": ' + offset)
    assert addon.post("/addon/homepage", body=body).status_code == 400
    quiet.unchanged()


@pytest.mark.parametrize("message_id", ["msg-f:²", "msg-f:" + "9" * 5000, "msg-f:18446744073709551616",
                                        "f" * 17, "abc/def", ".."])
def test_a_gmail_message_id_gmail_never_issues_is_a_400(addon, quiet, message_id):
    response = addon.post(GMAIL, gmail={"messageId": message_id, "accessToken": "x"})
    assert response.status_code == 400
    assert "messageId" in response.get_json()["error"]
    quiet.unchanged()


@pytest.mark.parametrize("depth", [1_100, 100_000])
def test_json_nested_deeper_than_the_parser_goes_is_a_400(addon, quiet, depth):
    body = json.dumps(addon.event())[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
    response = addon.post("/addon/homepage", body=body)
    assert response.status_code == 400
    assert response.get_json() == {"error": "the request body must be a JSON object"}
    quiet.unchanged()


@pytest.mark.parametrize("forged", ["x/y", "/id", "id/", "..", ".", "__name__", "c" + "0" * 200, "C0FFEE", ""])
@pytest.mark.parametrize(("action", "param"), [
    ("open_contact", "contact_id"), ("add_note", "contact_id"), ("merge_form", "keep_id"),
    ("merge_contacts", "merge_id"), ("open_segment", "segment_id"), ("delete_segment", "segment_id"),
    ("open_company", "domain"), ("edit_company", "domain"),
])
def test_an_id_in_no_shape_the_repository_issues_is_a_400(addon, jane, quiet, action, param, forged):
    params = {"contact_id": jane.id, "keep_id": jane.id, "merge_id": jane.id, "segment_id": "s0", "domain": "acme.com"}
    params[param] = forged
    response = addon.action(action, params=params, inputs={"body": "a note", "name": "Acme"})
    assert response.status_code == 400
    assert param in response.get_json()["error"]
    quiet.unchanged()


@pytest.mark.parametrize("email", ["__a@b__", "..", "x" * 300 + "@acme.com"])
def test_an_attendee_address_firestore_reserves_still_gets_its_card(addon, quiet, email):
    calendar = {"id": "evt1", "calendarId": "primary",
                "attendees": [{"email": email}, {"email": "pat@globex.com", "displayName": "Pat"}]}
    card = no_retry(addon.post(CALENDAR, host="CALENDAR", calendar=calendar))
    assert card["name"] != "error"


def test_a_body_over_the_limit_is_a_413_with_a_short_json_error(addon, jane, quiet):
    body = addon.event(params={"contact_id": jane.id, "pad": "x" * MAX_EVENT_BYTES}, inputs={"body": "note"})
    response = addon.post("/addon/action/add_note", body=body)
    assert response.status_code == 413
    assert response.get_json() == {"error": f"the request body is over {MAX_EVENT_BYTES:,} bytes"}
    quiet.unchanged()


def test_a_body_just_under_the_limit_is_served(addon, quiet):
    body = addon.event(params={"pad": "x" * (MAX_EVENT_BYTES - 8_000)})
    card_of(addon.post("/addon/homepage", body=body))


@pytest.fixture
def silent_google():
    """A Google API root that accepts connections and never answers (the kernel queues them)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"


def test_a_trigger_answers_an_error_card_with_retry_when_its_budget_is_spent(project_id, firestore_emulator, google,
                                                                             rep, silent_google):
    app = create_app(app_config(project_id, firestore_emulator.host, google, google_api_root=silent_google,
                                trigger_budget_seconds=1))
    addon = AddonClient(app.test_client(), google, rep)
    started = time.monotonic()
    response = addon.post(GMAIL, gmail={"messageId": "18c0ffee00000bad", "accessToken": "x"})
    elapsed = time.monotonic() - started
    card = card_of(response)
    assert card["name"] == "error" and "took too long" in texts(card)
    assert elapsed < 4, f"answered after {elapsed:.1f}s; the Gmail API alone waits 10 s"
    retry = [b for w in card["sections"][0]["widgets"] for b in w.get("buttonList", {}).get("buttons", [])]
    assert retry[0]["onClick"]["action"]["function"].endswith("/addon/action/refresh")
    app.extensions["sidecar"].close()


def test_the_retry_of_a_slow_trigger_is_held_to_the_same_budget(project_id, firestore_emulator, google, rep,
                                                                silent_google):
    app = create_app(app_config(project_id, firestore_emulator.host, google, google_api_root=silent_google,
                                trigger_budget_seconds=1))
    addon = AddonClient(app.test_client(), google, rep)
    started = time.monotonic()
    response = addon.action("refresh", params={"view": "gmail"},
                            gmail={"messageId": "18c0ffee00000bad", "accessToken": "x"})
    elapsed = time.monotonic() - started
    card = response.get_json()["renderActions"]["action"]["navigations"][0]["updateCard"]
    assert card["name"] == "error" and "took too long" in texts(card)
    assert elapsed < 4, f"answered after {elapsed:.1f}s; the Gmail API alone waits 10 s"
    retry = [b for w in card["sections"][0]["widgets"] for b in w.get("buttonList", {}).get("buttons", [])]
    assert retry[0]["onClick"]["action"]["function"].endswith("/addon/action/refresh")
    assert retry[0]["onClick"]["action"]["parameters"] == [{"key": "view", "value": "gmail"}]
    app.extensions["sidecar"].close()


@pytest.mark.parametrize("text", ["\ud800", "a note \udfff"])
def test_half_a_surrogate_pair_is_a_400_not_a_failed_write(addon, jane, quiet, text):
    response = addon.action("add_note", params={"contact_id": jane.id}, inputs={"body": text})
    assert response.status_code == 400
    assert "Unicode" in response.get_json()["error"]
    quiet.unchanged()


@pytest.mark.parametrize("value", [{"stringInputs": {"value": "not a list"}}, {"dateInput": {"msSinceEpoch": 1e20}}])
def test_a_bad_input_named_with_a_newline_cannot_forge_a_log_line(addon, caplog, value):
    caplog.set_level(logging.DEBUG)
    name = "x\naddon ok path=/addon/admin rep=ceo@example.com"
    response = addon.post("/addon/homepage", inputs={name: value})
    assert response.status_code == 400
    assert all("\n" not in r.getMessage() for r in caplog.records if r.name.startswith("addon"))
