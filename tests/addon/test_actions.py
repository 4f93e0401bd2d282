"""Every card action: its happy path, and bad input that writes nothing and says what is wrong."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time

import pytest

from app import create_app
from models.domain import CustomFieldDefinition, Settings
from models.repository import contact_id_for
from tests.addon.conftest import AddonClient, app_config, card_of, notification, seed_contact, texts


@pytest.fixture
def jane(repo):
    return seed_contact(repo, "jane@acme.com", title="CTO", tags=["vip"])


@pytest.fixture
def fields(repo):
    repo.save_settings(Settings(custom_fields=[
        CustomFieldDefinition("budget", "Budget", "number"),
        CustomFieldDefinition("region", "Region", "select", options=["EMEA", "APAC"]),
        CustomFieldDefinition("renewal", "Renewal", "date"),
        CustomFieldDefinition("notes", "Background", "text"),
    ]))


def test_add_as_contact_creates_the_contact_and_its_company(addon, repo, rep):
    response = addon.action("add_contact", params={"email": "Pat.Buyer@Globex.co.uk"},
                            inputs={"first_name": "Pat", "last_name": "Buyer", "title": "Head of IT"})
    card = card_of(response)
    assert notification(response) == "Pat Buyer added"
    contact = repo.find_contact_by_email("pat.buyer@globex.co.uk")
    assert (contact.first_name, contact.last_name, contact.company_id, contact.owner, contact.source) == \
        ("Pat", "Buyer", "globex.co.uk", rep, "gmail_card")
    assert repo.get_company("globex.co.uk").name == "Globex"
    assert "Head of IT" in texts(card)


def test_add_as_contact_refuses_bad_input_and_duplicates(addon, repo, jane):
    card = card_of(addon.action("add_contact", params={"email": "pat@globex.com"}, inputs={"first_name": "P" * 101}))
    assert "100 at most" in texts(card)
    assert repo.find_contact_by_email("pat@globex.com") is None
    card = card_of(addon.action("add_contact", params={"email": "jane@acme.com"}, inputs={"first_name": "J"}))
    assert "already a contact" in texts(card)
    assert repo.get_contact(jane.id).first_name == "Jane"
    card = card_of(addon.action("add_contact", params={"email": "not-an-address"}))
    assert "not an email address" in texts(card)
    assert repo.get_contacts([contact_id_for("not-an-address")]) == {}


def test_edit_fields_saves_typed_custom_fields_and_an_e164_phone(addon, repo, jane, fields):
    renewal = int(dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp() * 1000)
    response = addon.action("edit_fields", params={"contact_id": jane.id}, locale="en-GB", inputs={
        "first_name": "Janet", "last_name": "Doe", "title": "CEO", "phone": "020 7946 0000",
        "custom.budget": "12,500", "custom.region": "EMEA", "custom.notes": "Met at <b>conf</b>",
        "custom.renewal": {"dateInput": {"msSinceEpoch": str(renewal)}}})
    card = card_of(response)
    saved = repo.get_contact(jane.id)
    assert (saved.first_name, saved.title, saved.phone) == ("Janet", "CEO", "+442079460000")
    assert saved.custom == {"budget": 12500, "region": "EMEA", "notes": "Met at <b>conf</b>", "renewal": "2026-03-01"}
    assert "Met at &lt;b&gt;conf&lt;/b&gt;" in texts(card)  # user text is escaped


@pytest.mark.parametrize(("inputs", "says"), [
    ({"custom.budget": "lots"}, "Budget must be a number"),
    ({"custom.region": "Mars"}, "Region"),
    ({"phone": "12"}, "phone"),
    ({"title": "T" * 201}, "200 at most"),
])
def test_edit_fields_refuses_wrong_types_and_writes_nothing(addon, repo, jane, fields, inputs, says):
    before = repo.get_contact(jane.id)
    response = addon.action("edit_fields", params={"contact_id": jane.id},
                            inputs={"first_name": "Changed", **inputs})
    card = card_of(response)
    assert says in texts(card) and notification(response)
    assert repo.get_contact(jane.id).updated_at == before.updated_at
    assert repo.get_contact(jane.id).first_name == "Jane"


def test_tags_are_added_and_removed(addon, repo, jane):
    response = addon.action("add_tag", params={"contact_id": jane.id}, inputs={"tag": "  big  deal "})
    assert notification(response) == "Tagged big deal"
    assert repo.get_contact(jane.id).tags == ["vip", "big deal"]
    card = card_of(addon.action("remove_tag", params={"contact_id": jane.id, "tag": "vip"}))
    assert repo.get_contact(jane.id).tags == ["big deal"]
    assert "vip" not in texts(card)


@pytest.mark.parametrize(("tag", "says"), [("bad!tag", "letters, digits"), ("x" * 51, "at most 50"),
                                           ("", "Type a tag"), ("VIP", "already a tag")])
def test_bad_tags_are_refused(addon, repo, jane, tag, says):
    card = card_of(addon.action("add_tag", params={"contact_id": jane.id}, inputs={"tag": tag}))
    assert says in texts(card)
    assert repo.get_contact(jane.id).tags == ["vip"]


def test_a_contact_holds_at_most_50_tags(addon, repo):
    full = seed_contact(repo, "full@acme.com", tags=[f"t{n}" for n in range(50)])
    card = card_of(addon.action("add_tag", params={"contact_id": full.id}, inputs={"tag": "one more"}))
    assert "at most 50 tags" in texts(card)
    assert len(repo.get_contact(full.id).tags) == 50


def test_removing_a_tag_the_contact_does_not_have_says_so(addon, repo, jane):
    card = card_of(addon.action("remove_tag", params={"contact_id": jane.id, "tag": "nope"}))
    assert "not a tag" in texts(card) and repo.get_contact(jane.id).tags == ["vip"]


def test_set_owner_takes_a_teammate_and_refuses_an_outsider(addon, repo, jane, teammate):
    addon.action("set_owner", params={"contact_id": jane.id}, inputs={"owner": teammate.upper()})
    assert repo.get_contact(jane.id).owner == teammate
    card = card_of(addon.action("set_owner", params={"contact_id": jane.id}, inputs={"owner": "eve@evil.test"}))
    assert "teammate" in texts(card) and repo.get_contact(jane.id).owner == teammate


def test_set_stage_takes_a_known_stage_only(addon, repo, jane):
    response = addon.action("set_stage", params={"contact_id": jane.id}, inputs={"stage": "customer"})
    assert notification(response) == "Stage saved" and repo.get_contact(jane.id).lifecycle_stage == "customer"
    card = card_of(addon.action("set_stage", params={"contact_id": jane.id}, inputs={"stage": "banana"}))
    assert "unknown lifecycle stage" in texts(card) and repo.get_contact(jane.id).lifecycle_stage == "customer"


@pytest.mark.parametrize(("name", "kind"), [("add_note", "note"), ("log_call", "call")])
def test_notes_and_calls_go_on_the_timeline(addon, repo, rep, jane, name, kind):
    card = card_of(addon.action(name, params={"contact_id": jane.id}, inputs={"body": "Talked <pricing> & terms"}))
    entries = repo.timeline(jane.id).entries
    assert [(e.kind, e.snippet, e.author) for e in entries] == [(kind, "Talked <pricing> & terms", rep)]
    assert "Talked &lt;pricing&gt; &amp; terms" in texts(card)


@pytest.mark.parametrize("name", ["add_note", "log_call"])
@pytest.mark.parametrize(("body", "says"), [("x" * 10_001, "10,000 at most"), ("   ", "Write something")])
def test_a_note_over_the_limit_or_empty_writes_nothing(addon, repo, jane, name, body, says):
    response = addon.action(name, params={"contact_id": jane.id}, inputs={"body": body})
    assert says in texts(card_of(response)) and notification(response)
    assert repo.timeline(jane.id).entries == []


def test_a_note_of_exactly_10000_characters_is_fine(addon, repo, jane):
    addon.action("add_note", params={"contact_id": jane.id}, inputs={"body": "y" * 10_000})
    assert len(repo.get_activity(repo.timeline(jane.id).entries[0].activity_id).body) == 10_000


def test_open_company_lists_its_people(addon, repo, jane):
    card = card_of(addon.action("open_company", params={"domain": "acme.com"}))
    assert "Acme" in texts(card) and "Jane Doe" in texts(card)
    assert card_of(addon.action("open_company", params={"domain": "nowhere.test"}))["name"] == "not_found"


@pytest.mark.parametrize("query", ["jan", "Jane Do", "jane@acme.com", "acme.com"])
def test_search_finds_contacts_by_name_email_and_company(addon, repo, jane, query):
    card = card_of(addon.action("search", inputs={"query": query}))
    assert "Jane Doe" in texts(card)


def test_search_refuses_a_one_letter_query(addon):
    response = addon.action("search", inputs={"query": "j"})
    assert "2 to 100 characters" in texts(card_of(response))


@pytest.mark.parametrize("form", ["note", "call", "edit", "tags", "stage"])
def test_every_form_opens_as_a_valid_card(addon, jane, fields, form):
    assert card_of(addon.action("form", params={"form": form, "contact_id": jane.id}))


def test_show_more_refuses_a_cursor_it_did_not_make(addon, jane):
    assert addon.action("show_more", params={"contact_id": jane.id, "cursor": "garbage"}).status_code == 400


def test_unknown_actions_missing_fields_and_malformed_json_answer_400(addon, jane):
    assert addon.action("drop_database").status_code == 400
    assert addon.action("add_note", inputs={"body": "hi"}).status_code == 400  # no contact_id
    assert addon.action("form", params={"form": "nope", "contact_id": jane.id}).status_code == 400
    response = addon.post("/addon/action/add_note", body="{oops")
    assert response.status_code == 400 and response.get_json()["error"]
    body = addon.event(params={"contact_id": jane.id})
    body["commonEventObject"]["formInputs"] = {"body": {"stringInputs": {"value": "not a list"}}}
    assert addon.post("/addon/action/add_note", body=body).status_code == 400
    del body["commonEventObject"]
    assert addon.post("/addon/action/add_note", body=body).status_code == 400


@pytest.fixture
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_firestore_outage_answers_an_error_card_with_retry(project_id, google, rep, closed_port):
    app = create_app(app_config(project_id, f"127.0.0.1:{closed_port}", google, firestore_deadline_seconds=1))
    addon = AddonClient(app.test_client(), google, rep)
    started = time.monotonic()
    trigger = card_of(addon.post("/addon/homepage"))
    action = addon.action("add_note", params={"contact_id": "c1"}, inputs={"body": "keep me"})
    assert time.monotonic() - started < 10
    for card in (trigger, card_of(action)):
        assert card["name"] == "error" and "Retry" in texts(card)
    retry = [b for w in trigger["sections"][0]["widgets"] for b in w.get("buttonList", {}).get("buttons", [])]
    assert retry[0]["onClick"]["action"]["function"].endswith("/addon/action/refresh")
    params = json.dumps(card_of(action))
    assert "keep me" in params  # the retry carries what the rep typed
    app.extensions["sidecar"].close()


def test_retry_of_a_trigger_renders_its_card_again(addon, repo, jane):
    repo.record_message(addon.rep, "f00d", participants=[])
    home = card_of(addon.action("refresh", params={"view": "home"}))
    assert home["name"] == "home"
    message = addon.action("refresh", params={"view": "gmail"}, gmail={"messageId": "f00d"})
    assert card_of(message)["name"] == "message" and "updateCard" in json.dumps(message.get_json())
    assert addon.action("refresh", params={"view": "nope"}).status_code == 400
