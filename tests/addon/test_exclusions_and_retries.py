"""Issue #12, points 4, 5 and 9: exclusions reach the add-on's own records and every spelling of an
address, and a card click creates what it creates once, however often it is retried.

Mail is delivered through the simulator's admin endpoint (`/_sim/messages`), opened through the Gmail
trigger with real tokens, synced with `python -m sync once`, and exclusions are added by an admin
through the add-on, as in production.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest

from models.domain import Settings
from sync.__main__ import main as sync_main
from tests.addon.conftest import card_of, notification, seed_contact, texts

GMAIL = "/addon/gmail/message"
KIM = "kim@keep-h7.com"  # a correspondent no exclusion covers, on every excluded message too


@pytest.fixture
def admin(repo, rep):
    repo.save_settings(Settings(admins=[rep]))
    return rep


def deliver(google, mailbox: str, **fields) -> str:
    """A message delivered through gsim's admin endpoint; its Gmail id."""
    request = urllib.request.Request(google.url + "/_sim/messages", data=json.dumps({"mailbox": mailbox, **fields})
                                     .encode(), headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["id"]


def open_message(addon, message_id: str) -> dict:
    """The Gmail card of a message, as the rep opening it gets it (read from the Gmail API if not stored)."""
    return card_of(addon.post(GMAIL, gmail={"messageId": message_id, "accessToken": "per-message-token"},
                              oauth_token=addon.gmail_access()))


def exclude(addon, entry: str) -> str:
    return notification(addon.action("admin_add_exclusion", inputs={"exclusion": entry}))


def buttons(card: dict) -> dict[str, dict[str, str]]:
    """Button text -> its action's parameters (what a click, and the error card's Retry, posts)."""
    found = {}
    for section in card["sections"]:
        for widget in section["widgets"]:
            for b in widget.get("buttonList", {}).get("buttons", []):
                found[b["text"]] = {p["key"]: p["value"] for p in b["onClick"]["action"].get("parameters", [])}
    return found


# --- point 4: the purge finds the add-on's records of mail sync never stored ---------------------------

def test_an_exclusion_removes_the_addons_records_of_mail_sync_never_stores(addon, google, repo, rep, admin):
    bulk = deliver(google, rep, sender="Pat <pat@lawfirm-h7.com>", to=[rep], subject="Firm newsletter",
                   extra_headers=[["List-Id", "<news.lawfirm-h7.com>"]])
    spam = deliver(google, rep, sender="Ann <ann@mail.lawfirm-h7.com>", to=[rep], cc=[KIM], subject="Offer",
                   label_ids=["SPAM"])
    tagged = deliver(google, rep, sender="Bo <bo+deals@partner-h7.com>", to=[rep], subject="Quote")
    kept = deliver(google, rep, sender=f"Kim <{KIM}>", to=[rep], subject="Hello")
    for message_id in (bulk, spam, tagged, kept):
        open_message(addon, message_id)
    assert all(repo.get_message(rep, m) is not None for m in (bulk, spam, tagged, kept))

    assert exclude(addon, "lawfirm-h7.com").startswith("Excluded lawfirm-h7.com")
    assert exclude(addon, "Bo@Partner-h7.com").startswith("Excluded bo@partner-h7.com")

    for message_id in (bulk, spam, tagged):  # subject and participants gone, subdomain and plus tag included
        assert repo.get_message(rep, message_id) is None
    assert repo.get_message(rep, kept) is not None
    open_message(addon, bulk)  # opened again: read from Gmail for the card, and not recorded again
    assert repo.get_message(rep, bulk) is None


# --- point 5: every spelling of an excluded address, parseable or not ----------------------------------

PUNYCODE_H7 = "münchen-h7.de".encode("idna").decode()


@pytest.mark.parametrize(("entry", "sender"), [
    ("pat@lawfirm-h7b.com", "Pat <pat+deal@LawFirm-h7b.com>"),  # plus tag and case
    ("lawfirm-h7c.com", "pät@lawfirm-h7c.com"),  # a local part the ASCII-only pattern drops
    ("pat@lawfirm-h7d.com", "Pat <pat@lawfirm-h7d.com.>"),  # a trailing dot
    ("münchen-h7.de", "Ann <ann@MÜNCHEN-h7.de>"),  # IDN typed in Unicode, mail in Unicode upper case
    (PUNYCODE_H7, "Ann <ann@münchen-h7.de>"),  # IDN typed as punycode
])
def test_an_excluded_sender_in_any_spelling_keeps_the_add_on_from_recording_the_message(
        addon, google, repo, rep, admin, entry, sender):
    assert exclude(addon, entry).startswith("Excluded")
    message_id = deliver(google, rep, sender=sender, to=[rep], cc=[KIM], subject="Confidential")

    card = open_message(addon, message_id)

    assert repo.get_message(rep, message_id) is None  # not even the add-on's record of its people
    assert KIM in texts(card)  # the card still shows the people no exclusion covers


def test_sync_stores_nothing_of_mail_or_meetings_naming_an_excluded_address_in_any_spelling(
        addon, google, repo, rep, admin, project_id, firestore_emulator, tmp_path, monkeypatch):
    kim = "kim@keep-h7s.com"  # the session's simulator is shared: a correspondent of this test's mail only
    for entry in ("pat@lawfirm-h7s.com", "lawfirm-h7t.com", "münchen-h7s.de"):
        assert exclude(addon, entry).startswith("Excluded")
    for n, people in enumerate([["pat+deal@LawFirm-h7s.com"], ["pät@lawfirm-h7t.com"], ["pat@lawfirm-h7s.com."],
                                ["ann@MÜNCHEN-h7s.de"], ["Jo <jo@eu.lawfirm-h7t.com.>"]]):
        deliver(google, rep, sender=rep, to=[*people, kim], subject=f"Confidential {n}")
    deliver(google, rep, sender=rep, to=[kim], subject="Allowed")
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
    google.add_event(rep, summary="Confidential meeting", start=start, end=start + dt.timedelta(hours=1),
                     attendees=["pät@lawfirm-h7t.com", kim])
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", project_id)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    monkeypatch.setenv("SIDECAR_GOOGLE_API_ROOT", google.url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(google.write_service_account_key(tmp_path / "k.json")))

    assert sync_main(["once", "--user", rep]) == 0

    contact = repo.find_contact_by_email(kim)
    assert contact is not None
    assert [e.subject for e in repo.timeline(contact.id, limit=100).entries] == ["Allowed"]
    for address in ("pat+deal@lawfirm-h7s.com", "jo@eu.lawfirm-h7t.com"):
        assert repo.find_contact_by_email(address) is None


def test_admins_exclusions_are_stored_in_the_form_they_match(addon, repo, admin):
    for typed in ("Pat+Deal@LawFirm-h7e.com.", "MÜNCHEN-h7e.de", "@Sub.Example-h7e.org."):
        exclude(addon, typed)
    assert repo.get_settings().exclusions == ["pat@lawfirm-h7e.com", "münchen-h7e.de".encode("idna").decode(),
                                              "sub.example-h7e.org"]


# --- point 9: one click, one note, however often it is retried ------------------------------------------

@pytest.mark.parametrize(("form", "name", "kind"), [("note", "add_note", "note"), ("call", "log_call", "call")])
def test_retrying_a_save_stores_one_note_and_a_new_click_stores_another(addon, repo, form, name, kind):
    jane = seed_contact(repo, "jane@acme.com")

    def new_click() -> dict[str, str]:
        """Open the form (which makes the click's request id) and take its Save button's parameters."""
        return buttons(card_of(addon.action("form", params={"form": form, "contact_id": jane.id})))["Save"]

    save = new_click()
    first = addon.action(name, params=save, inputs={"body": "Agreed on terms"})
    # the error card's Retry posts the same parameters, the typed body carried as a parameter
    retry = addon.action(name, params={**save, "input.body": "Agreed on terms"})
    assert notification(first) == notification(retry)
    assert [(e.kind, e.snippet) for e in repo.timeline(jane.id).entries] == [(kind, "Agreed on terms")]

    addon.action(name, params=new_click(), inputs={"body": "Agreed on terms"})
    assert [e.kind for e in repo.timeline(jane.id).entries] == [kind, kind]


def test_retrying_add_contact_answers_like_the_first_click(addon, repo, rep):
    def new_click() -> dict[str, str]:
        form = addon.action("form", params={"form": "add_contact", "email": "quinn@retry-h7.com", "name": "Quinn Reed"})
        return buttons(card_of(form))["Add contact"]

    add = new_click()
    first = addon.action("add_contact", params=add, inputs={"first_name": "Quinn", "last_name": "Reed"})
    retry = addon.action("add_contact", params={**add, "input.first_name": "Quinn", "input.last_name": "Reed"})
    assert notification(first) == notification(retry) == "Quinn Reed added"
    assert card_of(retry)["name"] == card_of(first)["name"]
    assert repo.find_contact_by_email("quinn@retry-h7.com").owner == rep

    another = addon.action("add_contact", params=new_click(), inputs={"first_name": "Quinn", "last_name": "Reed"})
    assert "already a contact" in texts(card_of(another))


def test_a_request_id_we_did_not_make_is_a_bad_request_and_writes_nothing(addon, repo):
    jane = seed_contact(repo, "jane@acme.com")
    for bad in ("../x", "r" + "0" * 19, "R" + "0" * 20, "r" + "g" * 20):
        response = addon.action("add_note", params={"contact_id": jane.id, "request_id": bad}, inputs={"body": "x"})
        assert response.status_code == 400
    assert repo.timeline(jane.id).entries == []


def test_retrying_save_segment_keeps_one_segment(addon, repo, rep):
    def new_click() -> dict[str, str]:
        return buttons(card_of(addon.action("segment_form")))["Save segment"]

    save = new_click()
    first = addon.action("save_segment", params=save, inputs={"name": "VIPs", "tag": "vip"})
    retry = addon.action("save_segment", params={**save, "input.name": "VIPs", "input.tag": "vip"})
    assert notification(first) == notification(retry) == "Saved VIPs"
    assert [s.name for s in repo.list_segments(rep)] == ["VIPs"]
    addon.action("save_segment", params=new_click(), inputs={"name": "VIPs", "tag": "vip"})
    assert [s.name for s in repo.list_segments(rep)] == ["VIPs", "VIPs"]  # a second click is a second segment
