"""What a busy correspondent and a hostile sender do to sync (issue #12, points 1 and 2, acceptance 3).

Synced through `SyncRun` against the simulator and the emulator, then read the way a rep reads it: the
Gmail card over HTTP with real tokens, paged with "Show more".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

import quotas
from app import create_app
from gsim import Simulator
from models.domain import Settings
from models.repository import TIMELINE_PART_ROWS, UNLINKED_IDS_MAX, Repository
from sync.runner import SyncRun
from tests.addon.conftest import AddonClient, app_config, card_of, texts
from wiring import Services

GMAIL = "/addon/gmail/message"
BUYER = "Dana Buyer <dana.buyer@busyco.io>"
BUSY_EMAILS = 10_000  # acceptance 3: one correspondent, one month
MINUTES_APART = 4  # 10,000 emails four minutes apart fill 28 days: one calendar month
UNLIMITED = 10**9  # quota units a minute: this test is about Firestore, not Google's pacing
ROW = re.compile(r"Order (\d+)")
SMALL_SLACK = 500  # ids one sync group may add before it learns the list is full
CROWD = 9_000  # participants of ~120 bytes each in the activity document: over Firestore's 1 MiB


@pytest.fixture
def simulator():
    """A small team (two reps), no background mail of note, Google's quota not enforced."""
    sim = Simulator(seed=11, reps=2, companies=1, messages=2, events=1, days=30,
                    quota_units_per_minute=0).start()
    yield sim
    sim.stop()


def run(services: Services, mailboxes: list[str]):
    unlimited = quotas.profile().scaled(gmail_units_per_user_minute=UNLIMITED)
    return SyncRun(services.repository, services.google_service, services.config, quota=unlimited).run(mailboxes)


@pytest.fixture
def addon(services, simulator, project_id, firestore_emulator):
    app = create_app(app_config(project_id, firestore_emulator.host, simulator))
    yield lambda rep: AddonClient(app.test_client(), simulator, rep)
    app.extensions["sidecar"].close()


def gmail_card(client: AddonClient, domain: str, message_id: str) -> dict:
    return card_of(client.post(GMAIL, hd=domain, gmail={"messageId": message_id}))


def show_more(card: dict) -> dict | None:
    for section in card["sections"]:
        for widget in section["widgets"]:
            for button in widget.get("buttonList", {}).get("buttons", []):
                if button["text"] == "Show more":
                    return {p["key"]: p["value"] for p in button["onClick"]["action"]["parameters"]}
    return None


def order_numbers(card: dict) -> list[int]:
    """The numbers of the "Order N" timeline rows a card shows, in card order."""
    numbers = []
    for section in card["sections"]:
        for widget in section["widgets"]:
            text = widget.get("decoratedText", {})
            if text.get("topLabel", "").startswith("Email"):
                numbers += [int(n) for n in ROW.findall(text["text"])]
    return numbers


# --- point 1 and acceptance 3: a busy correspondent ----------------------------------------------

def test_ten_thousand_emails_with_one_person_in_one_month_sync_and_page_through_the_card(
        services, simulator, tenant_repo, addon):
    rep = simulator.reps[0]
    month_start = (dt.datetime.now(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
                   - dt.timedelta(days=1)).replace(day=1)  # last month: complete, inside the backfill
    last = None
    for n in range(BUSY_EMAILS):
        when = month_start + dt.timedelta(minutes=MINUTES_APART * n)
        if n % 2 == 0:
            fields = dict(sender=rep, to=[BUYER], label_ids=["SENT"])
        else:
            fields = dict(sender=BUYER, to=[rep])
        last = simulator.world.add_message(rep, subject=f"Order {n}", body=f"Line {n}", date=when,
                                           record_history=False, **fields)

    [result] = run(services, [rep])

    assert (result.state, result.error) == ("ok", None)
    assert result.messages >= BUSY_EMAILS
    dana = tenant_repo.find_contact_by_email("dana.buyer@busyco.io")
    assert len(dana.timeline_months) >= BUSY_EMAILS // TIMELINE_PART_ROWS  # the month spilled into parts
    assert tenant_repo.get_mailbox(rep).counts.get("skipped") == 0

    client = addon(rep)
    card = gmail_card(client, simulator.domain, last.id)
    seen = order_numbers(card)
    assert seen == list(range(BUSY_EMAILS - 1, BUSY_EMAILS - 21, -1))  # the newest 20, newest first
    params = show_more(card)
    while params:
        page = card_of(client.action("show_more", params=params, hd=simulator.domain))
        numbers = order_numbers(page)
        assert 0 < len(numbers) <= 20
        seen += numbers
        params = show_more(page)
    assert seen == list(range(BUSY_EMAILS - 1, -1, -1))  # all of them, once each, in order


# --- point 2: a sender does not control our activity key -------------------------------------------

def _genuine_and_forged(simulator: Simulator) -> tuple[str, str, object, object]:
    first, second = simulator.reps
    header = "<pricing-7@busyco.io>"
    genuine = simulator.add_message(first, sender=BUYER, to=[first], subject="Pricing for Q3",
                                    body="our best price is 40k", message_id_header=header,
                                    date=dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    forged = simulator.add_message(second, sender="Mallory <mallory@evil.example>", to=[second],
                                   subject="Urgent invoice", body="pay here", message_id_header=header,
                                   date=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    return first, second, genuine, forged


@pytest.mark.parametrize("order", ["genuine first", "forged first", "together"])
def test_a_second_message_reusing_a_message_id_changes_nothing_of_the_first(
        services, simulator, tenant_repo, addon, order):
    tenant_repo.save_settings(dataclasses.replace(Settings(), privacy_level="metadata", auto_create="all"))
    run(services, simulator.reps)
    first, second, genuine, forged = _genuine_and_forged(simulator)

    if order == "together":
        run(services, [first, second])
    else:
        for mailbox in ([first, second] if order == "genuine first" else [second, first]):
            run(services, [mailbox])

    copies = {a.holders.get(first) or a.holders.get(second): a
              for a in tenant_repo.activities_held_by(first) + tenant_repo.activities_held_by(second)
              if a.external_key and a.external_key.startswith("<pricing-7@busyco.io>")}
    mine, theirs = copies[genuine.id], copies[forged.id]
    assert mine.id != theirs.id
    assert (mine.subject, set(mine.holders)) == ("Pricing for Q3", {first})
    assert "best price" in mine.snippet and mine.at.date() == (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).date()
    assert (theirs.subject, set(theirs.holders)) == ("Urgent invoice", {second})
    dana = tenant_repo.find_contact_by_email("dana.buyer@busyco.io")
    assert [e.subject for e in tenant_repo.timeline(dana.id).entries] == ["Pricing for Q3"]
    assert [e.holders for e in tenant_repo.timeline(dana.id).entries] == [[first]]

    # under `metadata`, the second rep opening their own message never sees the first's subject or text
    shown = texts(gmail_card(addon(second), simulator.domain, forged.id))
    assert "Pricing for Q3" not in shown and "best price" not in shown
    shown = texts(gmail_card(addon(first), simulator.domain, genuine.id))
    assert "Pricing for Q3" in shown and "Urgent invoice" not in shown


def test_a_copy_of_the_same_message_in_two_mailboxes_is_still_one_activity(services, simulator, tenant_repo):
    first, second = simulator.reps
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    for mailbox in (first, second):
        simulator.add_message(mailbox, sender=BUYER, to=[first, second], subject="Renewal", date=when,
                              message_id_header="<renewal-1@busyco.io>")

    run(services, [first, second])

    [activity] = [a for a in tenant_repo.activities_held_by(first) if a.subject == "Renewal"]
    assert set(activity.holders) == {first, second}


# --- point 1: a permanent per-document failure skips that item, not the mailbox -------------------

def test_a_message_firestore_refuses_for_good_is_skipped_and_counted_and_the_rest_is_stored(
        services, simulator, tenant_repo):
    rep = simulator.reps[0]
    # received (so no contacts are created for the crowd), with more participants than 1 MiB holds
    crowd = [f"Someone In The Crowd Number {n} <someone.in.the.crowd.{n}@crowd.example>" for n in range(CROWD)]
    huge = simulator.add_message(rep, sender="Crowd <crowd@crowd.example>", to=[rep], cc=crowd,
                                 subject="To everyone")
    after = simulator.add_message(rep, sender=rep, to=[BUYER], subject="Just Dana")

    [result] = run(services, [rep])

    assert (result.state, result.error) == ("ok", None)
    mailbox = tenant_repo.get_mailbox(rep)
    assert mailbox.counts["skipped"] == 1 and mailbox.history_id  # the cursor went on
    held = {a.holders[rep]: a for a in tenant_repo.activities_held_by(rep)}
    assert huge.id not in held and held[after.id].subject == "Just Dana"

    [again] = run(services, [rep])  # the next run does not fail on it either
    assert (again.state, again.error) == ("ok", None)


def test_reading_the_newest_rows_of_a_busy_month_reads_one_part(services, simulator, tenant_repo):
    """The reader stops once no unread part can hold a newer row (not a timed test: it counts reads)."""
    rep = simulator.reps[0]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=20)
    for n in range(3 * TIMELINE_PART_ROWS):
        simulator.world.add_message(rep, sender=rep, to=[BUYER], subject=f"Order {n}",
                                    date=start + dt.timedelta(minutes=n), record_history=False)
    run(services, [rep])
    dana = tenant_repo.find_contact_by_email("dana.buyer@busyco.io")
    reads = []
    counting = CountingRepository(tenant_repo, reads)

    page = counting.timeline(dana.id, contact=dana)

    assert [e.subject for e in page.entries] == [f"Order {n}" for n in range(3 * TIMELINE_PART_ROWS - 1,
                                                                              3 * TIMELINE_PART_ROWS - 21, -1)]
    assert reads == [1]  # one get_all of one bucket


class CountingRepository(Repository):
    """The same tenant's repository, counting the buckets each `get_all` asks for."""

    def __init__(self, repo: Repository, reads: list[int]):
        super().__init__(repo.client, repo.tenant)
        self.reads = reads

    def get_all(self, refs, field_paths=None):
        self.reads.append(len(refs))
        return super().get_all(refs, field_paths)


def test_a_busy_sender_nobody_wrote_to_does_not_grow_one_document_forever_and_links_once_written_to(
        services, simulator, tenant_repo):
    rep = simulator.reps[0]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    busy = UNLINKED_IDS_MAX + 2 * SMALL_SLACK  # past the bound by more than one chunk
    for n in range(busy):  # received only: under the default policy, no contact yet
        simulator.world.add_message(rep, sender=BUYER, to=[rep], subject=f"Order {n}",
                                    date=start + dt.timedelta(minutes=10 * n), record_history=False)
    run(services, [rep])
    parked = tenant_repo.unlinked_ref("dana.buyer@busyco.io").get().to_dict()
    assert parked["overflow"] is True and len(parked["activity_ids"]) <= UNLINKED_IDS_MAX + SMALL_SLACK

    simulator.add_message(rep, sender=rep, to=[BUYER], subject="Let's talk", label_ids=["SENT"])
    run(services, [rep])

    dana = tenant_repo.find_contact_by_email("dana.buyer@busyco.io")
    rows = tenant_repo.timeline(dana.id, contact=dana, limit=busy + 10).entries
    assert len(rows) == busy + 1  # every parked activity found its contact
    assert not tenant_repo.unlinked_ref("dana.buyer@busyco.io").get().exists
