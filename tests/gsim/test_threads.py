"""users.threads.list and users.threads.get, alone and in batches, in the discovery document's shapes."""

from __future__ import annotations

import collections

import pytest
from googleapiclient.errors import HttpError

import google_clients
from gsim import schema
from gsim.generator import Spec, generate

from .conftest import ANCHOR
from .helpers import list_all

HEADERS = ["From", "To", "Subject", "Message-ID"]


def test_threads_list_pages_through_every_thread_once_newest_first(simulator, gmail, rep):
    pages = list_all(gmail.users().threads().list, userId="me", maxResults=7)
    for page in pages:
        schema.check("gmail", "ListThreadsResponse", page)
    ids = [t["id"] for page in pages for t in page.get("threads", [])]
    box = simulator.world.mailbox(rep)
    kept = {m.thread_id for m in box.messages.values() if not {"SPAM", "TRASH"} & set(m.label_ids)}
    assert len(ids) == len(set(ids)) and set(ids) == kept
    newest = [max(m.internal_date for m in box.thread_messages(t) if "SPAM" not in m.label_ids) for t in ids]
    assert newest == sorted(newest, reverse=True)
    assert len(pages) > 1 and "nextPageToken" not in pages[-1]


def test_threads_list_honours_q_and_label_ids(simulator, gmail, rep):
    box = simulator.world.mailbox(rep)
    pages = list_all(gmail.users().threads().list, userId="me", q="-in:sent", labelIds=["INBOX"], maxResults=500)
    ids = {t["id"] for page in pages for t in page.get("threads", [])}
    expected = {m.thread_id for m in box.messages.values()
                if "INBOX" in m.label_ids and "SENT" not in m.label_ids and "SPAM" not in m.label_ids}
    assert ids == expected


def test_threads_get_metadata_returns_every_message_with_only_the_asked_headers(simulator, gmail, rep):
    box = simulator.world.mailbox(rep)
    thread_id = max(box.threads, key=lambda t: len(box.threads[t]))
    thread = gmail.users().threads().get(userId="me", id=thread_id, format="metadata",
                                         metadataHeaders=HEADERS).execute()
    schema.check("gmail", "Thread", thread)
    assert [m["id"] for m in thread["messages"]] == [m.id for m in box.thread_messages(thread_id)]
    assert len(thread["messages"]) > 1
    for message in thread["messages"]:
        assert {h["name"] for h in message["payload"]["headers"]} <= set(HEADERS)
        assert message["threadId"] == thread_id
    assert thread["historyId"] == str(max(m.history_id for m in box.thread_messages(thread_id)))


def test_threads_get_minimal_has_no_payload_and_an_unknown_thread_is_404(simulator, gmail, rep):
    thread_id = next(iter(simulator.world.mailbox(rep).threads))
    thread = gmail.users().threads().get(userId="me", id=thread_id, format="minimal").execute()
    schema.check("gmail", "Thread", thread)
    assert all("payload" not in m for m in thread["messages"])
    with pytest.raises(HttpError) as missing:
        gmail.users().threads().get(userId="me", id="abcdef0123", format="minimal").execute()
    assert missing.value.status_code == 404


def test_threads_get_goes_through_the_batch_endpoint_at_its_price(simulator, gmail, rep):
    threads = list(simulator.world.mailbox(rep).threads)[:20]
    results = {}
    batch = google_clients.new_batch("gmail", simulator.url,
                                     lambda request_id, response, exception: results.update({request_id: response}))
    for thread_id in threads:
        batch.add(gmail.users().threads().get(userId="me", id=thread_id, format="metadata", metadataHeaders=HEADERS),
                  request_id=thread_id)
    batch.execute()
    assert set(results) == set(threads) and all(results[t]["id"] == t for t in threads)
    counted = simulator.counters()["by_method"]["gmail.users.threads.get"]
    assert counted["calls"] == 20 and counted["units"] == 20 * 10  # the legacy price of this fixture


def test_a_new_reply_joins_its_thread(simulator, gmail, rep):
    thread_id = next(iter(simulator.world.mailbox(rep).threads))
    simulator.add_message(rep, thread_id=thread_id, subject="Re: more")
    thread = gmail.users().threads().get(userId="me", id=thread_id, format="minimal").execute()
    assert len(thread["messages"]) == len(simulator.world.mailbox(rep).threads[thread_id])
    first = gmail.users().threads().list(userId="me", maxResults=1).execute()["threads"][0]
    assert first["id"] == thread_id


def test_the_realistic_mix_has_mostly_short_threads_a_long_tail_and_every_category():
    world = generate(Spec(seed=4, reps=2, companies=6, messages=1500, events=5, now=ANCHOR))
    box = world.mailbox(world.reps[0])
    lengths = collections.Counter(len(messages) for messages in box.threads.values())
    threads = sum(lengths.values())
    assert sum(lengths[n] for n in (1, 2, 3)) / threads >= 0.8
    assert max(lengths) >= 12
    labels = collections.Counter(label for m in box.messages.values() for label in m.label_ids)
    for category in ("CATEGORY_PERSONAL", "CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL", "CATEGORY_UPDATES",
                     "CATEGORY_FORUMS"):
        assert labels[category], category
    assert len(box.messages) == 1500


def test_the_classic_mix_is_still_available_and_both_are_deterministic():
    spec = dict(seed=4, reps=2, messages=200, events=5, now=ANCHOR)
    for mix in ("classic", "realistic"):
        one, two = generate(Spec(**spec, thread_mix=mix)), generate(Spec(**spec, thread_mix=mix))
        assert [(m.id, m.thread_id, m.label_ids) for b in one.mailboxes.values() for m in b.messages.values()] == \
            [(m.id, m.thread_id, m.label_ids) for b in two.mailboxes.values() for m in b.messages.values()]
    classic = generate(Spec(**spec, thread_mix="classic"))
    assert max(len(t) for t in classic.mailbox(classic.reps[0]).threads.values()) <= 3
    with pytest.raises(ValueError, match="thread_mix"):
        Spec(**spec, thread_mix="noisy")


def test_a_query_can_leave_out_everything_sync_never_stores(simulator, gmail, rep):
    simulator.world.modify_labels(rep, next(iter(simulator.world.mailbox(rep).messages)), add=["CHAT"])
    q = "-in:spam -in:trash -in:drafts -in:chats"
    listed = {m["id"] for p in list_all(gmail.users().messages().list, userId="me", q=q, maxResults=500)
              for m in p.get("messages", [])}
    box = simulator.world.mailbox(rep)
    assert listed == {m.id for m in box.messages.values() if not {"SPAM", "TRASH", "DRAFT", "CHAT"} & set(m.label_ids)}
    assert any("DRAFT" in m.label_ids for m in box.messages.values())


def test_category_operators_select_gmails_tabs(simulator, gmail, rep):
    box = simulator.world.mailbox(rep)
    q = "-category:promotions -category:social -category:forums"
    listed = {m["id"] for p in list_all(gmail.users().messages().list, userId="me", q=q, maxResults=500)
              for m in p.get("messages", [])}
    tabs = {"CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL", "CATEGORY_FORUMS"}
    assert listed == {m.id for m in box.messages.values() if not (tabs | {"SPAM", "TRASH"}) & set(m.label_ids)}
    primary = gmail.users().messages().list(userId="me", q="category:primary", maxResults=500).execute()
    assert all("CATEGORY_PERSONAL" in box.messages[m["id"]].label_ids for m in primary["messages"])
