"""sync.google_clients: a batch part sync sends is serialised into the very bytes the client makes."""

from __future__ import annotations

from googleapiclient.http import BatchHttpRequest

from sync import google_clients
from sync.api import MailboxApi
from sync.gmail import METADATA_HEADERS


def test_a_batch_part_is_serialised_as_the_client_serialises_it(services, simulator, monkeypatch):
    rep = simulator.reps[0]
    api = MailboxApi(rep, services.google_service, simulator.url, 6000)
    message_id = next(iter(simulator.world.mailboxes[rep].messages))
    assert api.get_messages([message_id], METADATA_HEADERS)[message_id]  # a real batch: the token is fresh
    messages = api.gmail["messages"]
    gets = [messages.get(userId="me", id=message_id, format="metadata", metadataHeaders=METADATA_HEADERS),
            messages.get(userId="me", id="18c0ffee", format="minimal"), api.gmail["users"].getProfile(userId="me")]
    with_body = messages.modify(userId="me", id=message_id, body={"addLabelIds": ["STARRED"]})
    client_bytes = BatchHttpRequest._serialize_request
    expected = [client_bytes(BatchHttpRequest(), r) for r in [*gets, with_body]]
    assert all("authorization: Bearer " in text for text in expected)
    used_client = []
    monkeypatch.setattr(BatchHttpRequest, "_serialize_request",
                        lambda self, request: used_client.append(request) or client_bytes(self, request))
    fast = google_clients.new_batch("gmail", simulator.url)

    got = [fast._serialize_request(r) for r in [*gets, with_body]]

    assert got == expected
    assert used_client == [with_body]  # the GETs took the direct path; a part with a body the client's
    for request in gets:
        request.http = None  # no credentials to apply
        assert fast._serialize_request(request) == client_bytes(BatchHttpRequest(), request)
