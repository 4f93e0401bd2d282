"""The repository's streamed reads run on the reading thread (models.repository._CallerStreamsTransport)."""

from __future__ import annotations

import threading

from models.domain import Contact
from models.repository import contact_id_for


def test_a_batched_read_and_a_query_start_no_thread(repo, monkeypatch):
    jane = repo.create_contact(Contact(id=contact_id_for("jane@acme.com"), emails=["jane@acme.com"], first_name="Jane"))
    list(repo.get_all([repo.contact_ref(jane.id)]))  # the channel is up before counting
    started = []
    start = threading.Thread.start

    def counted(thread):
        started.append(thread.name)
        return start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)

    found = list(repo.get_all([repo.contact_ref(jane.id), repo.contact_ref("c0")]))
    owned = repo.contact_ids_at_domain("acme.com")  # a query: RunQuery streams too

    assert [d.id for d in found] == [jane.id] and owned == [jane.id]
    assert started == []
