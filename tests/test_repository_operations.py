"""The repository's named operations and write sets, against the real emulator."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time

import pytest
from google.api_core import exceptions as core_exceptions
from google.cloud import firestore

from models.domain import Activity, Contact, Participant
from models.repository import Conflict, NotFound, Repository, Touch, activity_id_for, contact_id_for
from models.writes import RecordingWriteSet, Write

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
REP = "rep@example.com"
RACES = 6  # rounds of two creators racing for one address
DEADLINE_SECONDS = 1


def race(repo: Repository, contacts: list[Contact]) -> dict[str, str]:
    """Create the contacts at once, one thread each; contact id -> "created" or "conflict"."""
    outcomes: dict[str, str] = {}
    start = threading.Barrier(len(contacts))

    def create(contact: Contact) -> None:
        start.wait()
        try:
            repo.create_contact(contact)
            outcomes[contact.id] = "created"
        except Conflict:
            outcomes[contact.id] = "conflict"

    threads = [threading.Thread(target=create, args=(c,)) for c in contacts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_creators_racing_for_one_address_one_wins_and_the_other_writes_nothing(repo):
    for n in range(RACES):
        address = f"shared{n}@acme.com"
        outcomes = race(repo, [Contact(id=f"c{side}{n}", emails=[address], first_name=side) for side in "ab"])
        assert sorted(outcomes.values()) == ["conflict", "created"]
        (winner,) = [cid for cid, outcome in outcomes.items() if outcome == "created"]
        (loser,) = [cid for cid, outcome in outcomes.items() if outcome == "conflict"]
        assert repo.contact_ids_by_email([address]) == {address: winner}
        with pytest.raises(NotFound):
            repo.get_contact(loser)


def test_saving_a_contact_claims_new_addresses_and_releases_old_ones(repo):
    jane = repo.create_contact(Contact(id=contact_id_for("jane@acme.com"), emails=["jane@acme.com"]))
    repo.create_contact(Contact(id=contact_id_for("bob@acme.com"), emails=["bob@acme.com"]))
    jane.emails = ["jane.doe@acme.com"]
    repo.save_contact(jane)
    assert repo.contact_ids_by_email(["jane@acme.com", "jane.doe@acme.com"]) == {"jane.doe@acme.com": jane.id}
    jane.emails = ["jane.doe@acme.com", "bob@acme.com"]
    with pytest.raises(Conflict, match="bob@acme.com"):
        repo.save_contact(jane)
    assert repo.get_contact(jane.id).emails == ["jane.doe@acme.com"]


def test_removing_an_activity_clears_every_index_that_names_it(repo):
    contact = repo.create_contact(Contact(id=contact_id_for("jane@acme.com"), emails=["jane@acme.com"]))
    email = Activity(id=activity_id_for("<m1@x>"), kind="email", at=T0, subject="Hi",
                     participants=[Participant("jane@acme.com", "Jane", "from"), Participant(REP, "", "to")],
                     contact_ids=[contact.id], holders={REP: "18c0ffee"})
    with repo.batch() as writer:
        repo.put_activity(writer, email)
        repo.record_touches(writer, contact.id, [Touch(email.at, "email", REP)])
        repo.record_synced_messages(writer, REP, {"18c0ffee": email.id})
    repo.record_message(REP, "18c0ffee", activity_id=email.id)
    assert repo.get_message(REP, "18c0ffee") is not None

    with repo.batch() as writer:
        repo.remove_activity(writer, email)

    assert repo.timeline(contact.id).entries == []
    assert repo.get_message(REP, "18c0ffee") is None  # neither the add-on's record nor sync's index has it
    assert not repo.message_ref(REP, "18c0ffee").get().exists
    with pytest.raises(NotFound):
        repo.get_activity(email.id)


def test_a_recorded_write_set_commits_through_the_repository_activity_documents_last(repo):
    contact = repo.create_contact(Contact(id=contact_id_for("jane@acme.com"), emails=["jane@acme.com"]))
    email = Activity(id=activity_id_for("<m2@x>"), kind="email", at=T0, subject="Hi", contact_ids=[contact.id],
                     holders={REP: "abc"})
    recorded = RecordingWriteSet()
    repo.put_activity(recorded, email)
    repo.record_touches(recorded, contact.id, [Touch(email.at, "email", REP)])

    assert len(recorded) == 3 and all(isinstance(w, Write) and w.op == "set" for w in recorded.writes)
    assert repo.commit_recorded(recorded) == 3
    assert [e.activity_id for e in repo.timeline(contact.id).entries] == [email.id]
    assert repo.get_activity(email.id).subject == "Hi"


def test_a_deadline_bounds_every_call_retries_included(project_id, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{closed_port}")  # nothing listens there
    client = firestore.Client(project=project_id)
    try:
        repo = Repository(client, "example.com", deadline=DEADLINE_SECONDS)
        calls = (repo.get_settings, lambda: repo.get_contacts(["c1"]), lambda: repo.message_view(REP, "1"),
                 lambda: repo.add_activity(Activity(id="a1", kind="note", at=T0, contact_ids=["c1"])),
                 lambda: repo.create_contact(Contact(id="c1", emails=["jane@acme.com"])))
        started = time.monotonic()
        for call in calls:
            with pytest.raises((core_exceptions.RetryError, core_exceptions.GoogleAPICallError)):
                call()
        # each call gives up after about the deadline, where the client's defaults retry for 60 s
        assert time.monotonic() - started < len(calls) * DEADLINE_SECONDS * 4
    finally:
        client.close()
