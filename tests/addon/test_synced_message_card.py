"""The Gmail card for a message only sync has stored: no Gmail API call, three Firestore round trips.

End to end: gsim delivers the message, the real sync (`python -m sync once`)
stores it, then the card is opened through HTTP with real tokens. The card's
Google API calls are read from gsim's counters; its Firestore round trips by
counting the calls on the app's Firestore client's RPC layer (an observation
only: every call goes through unchanged).
"""

from __future__ import annotations

import functools

import pytest

from sync.__main__ import main as sync_main
from tests.addon.conftest import card_of, texts

GMAIL = "/addon/gmail/message"
FIRESTORE_RPCS = ("get_document", "list_documents", "create_document", "update_document", "delete_document",
                  "batch_get_documents", "begin_transaction", "commit", "batch_write", "rollback", "run_query",
                  "run_aggregation_query", "partition_query", "write", "listen", "list_collection_ids")
MAX_ROUND_TRIPS = 3  # settings + the message's records; its activity; its people with their recent timeline


@pytest.fixture
def synced_message(google, rep, repo, project_id, firestore_emulator, tmp_path, monkeypatch):
    """A message the rep sent to a new person today, stored by the real sync and by nothing else."""
    message = google.add_message(rep, sender=rep, to=['"Quinn Newton" <quinn@newton-h1.example>'],
                                 subject="Proposal for Newton")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", project_id)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    monkeypatch.setenv("SIDECAR_GOOGLE_API_ROOT", google.url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(google.write_service_account_key(tmp_path / "k.json")))
    assert sync_main(["once", "--user", rep]) == 0
    assert repo.find_contact_by_email("quinn@newton-h1.example") is not None  # sync created the contact
    index = repo.message_index_ref(rep, message.id).get().to_dict() or {}
    assert message.id in (index.get("ids") or {})  # sync's Gmail-id index has the message...
    assert not repo.message_ref(rep, message.id).get().exists  # ...and the add-on has no record of it
    return message


@pytest.fixture
def round_trips(app, monkeypatch):
    """Counts the Firestore RPCs the app's client makes (each a round trip), by method."""
    api = app.extensions["sidecar"].firestore._firestore_api
    calls: list[str] = []

    def counted(name, method):
        @functools.wraps(method)
        def call(*args, **kwargs):
            calls.append(name)
            return method(*args, **kwargs)
        return call

    for name in FIRESTORE_RPCS:
        if hasattr(api, name):
            monkeypatch.setattr(api, name, counted(name, getattr(api, name)))
    return calls


@pytest.mark.parametrize("form", ["hex", "msg-f"])
def test_a_message_only_sync_stored_opens_without_calling_the_gmail_api(addon, google, synced_message, form):
    message_id = synced_message.id if form == "hex" else f"msg-f:{int(synced_message.id, 16)}"
    oauth_token = addon.gmail_access()  # real tokens: a Gmail call would succeed, and be counted
    google.reset_counters()

    card = card_of(addon.post(GMAIL, gmail={"messageId": message_id, "accessToken": oauth_token},
                              oauth_token=oauth_token))

    counters = google.counters()  # (its one HTTP request is the certificate fetch of token verification)
    assert counters["total"]["calls"] == 0 and not counters["by_method"]
    assert "Quinn Newton" in texts(card) and "Proposal for Newton" in texts(card)
    assert "Add as contact" not in texts(card)  # the contact sync created, with its timeline


def test_the_gmail_card_costs_at_most_three_firestore_round_trips_for_a_synced_message(
        addon, synced_message, round_trips):
    card = card_of(addon.post(GMAIL, gmail={"messageId": synced_message.id, "accessToken": "unused"},
                              oauth_token="ya29.unused"))

    assert "Quinn Newton" in texts(card)
    assert len(round_trips) <= MAX_ROUND_TRIPS, round_trips
    assert "commit" not in round_trips  # opening a stored message writes nothing
