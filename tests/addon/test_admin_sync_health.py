"""The admin card's sync health (issue 14 point 6): the queue's depth, leases held, watch expiry, last push.

Leases, watches and the queue's measurement are written through the repository's own operations (what
sync, push and the dispatcher call), then the card is opened through the add-on; `card_of` checks every
card against google.apps.card.v1.Card and Google's limits.
"""

from __future__ import annotations

import datetime as dt

import pytest

from cards.admin import MAILBOXES_SHOWN
from models.domain import Mailbox, MailboxState, Settings, utcnow
from models.health import ATTENTION_MAX, QueueHealth
from models.watches import Watch
from tests.addon.conftest import MAX_WIDGETS, card_of, texts


@pytest.fixture
def admin(repo, rep):
    repo.save_settings(Settings(admins=[rep]))
    return rep


def sync_section(addon) -> dict:
    card = card_of(addon.action("admin"))
    section = card["sections"][0]
    assert section["header"] == "Mailboxes and sync health"
    return section


def row_of(section: dict, email: str) -> dict:
    return next(w["decoratedText"] for w in section["widgets"]
                if w.get("decoratedText", {}).get("text", "").startswith(email))


def test_single_process_sync_says_so_and_each_mailbox_shows_its_lease_watch_and_last_push(
        addon, repo, admin, teammate, monkeypatch):
    monkeypatch.delenv("SIDECAR_SYNC_TOPIC", raising=False)
    now = utcnow()
    repo.save_mailbox(Mailbox(email=admin, state="ok", last_success_at=now))
    repo.save_mailbox(Mailbox(email=teammate, state="ok", last_success_at=now))
    assert repo.acquire_lease(teammate, "sync-host/4242/0123456789ab", 600) is not None
    repo.save_watch(Watch(teammate, gmail_expires_at=now + dt.timedelta(days=6, hours=1),
                          channel_expires_at=now - dt.timedelta(minutes=1)), ("gmail_expires_at", "channel_expires_at"))
    repo.record_push(teammate, history_id=77)

    section = sync_section(addon)

    assert "single process (python -m sync run): no queue; 1 lease held" in texts(section)
    busy = row_of(section, teammate)["bottomLabel"]
    assert "syncing now (sync-host/4242 " in busy and "watch gmail 6d cal expired" in busy
    assert "last push " in busy and " ago" in busy
    idle = row_of(section, admin)["bottomLabel"]
    assert "syncing" not in idle and "watch" not in idle and "last push" not in idle


def test_distributed_sync_shows_the_queue_the_dispatcher_measured(addon, repo, admin, monkeypatch):
    monkeypatch.setenv("SIDECAR_SYNC_TOPIC", "sidecar-sync")
    repo.save_mailbox(Mailbox(email=admin, state="ok", last_success_at=utcnow()))

    assert "no measurement yet: is python -m sync dispatch running?" in texts(sync_section(addon))

    now = utcnow()
    repo.record_queue_health(QueueHealth(recorded_at=now - dt.timedelta(seconds=8), waiting=3, backfills_waiting=1,
                                         oldest_waiting_at=now - dt.timedelta(seconds=40), leases_held=2,
                                         dead_lettered=1, mailboxes=9))
    text = texts(sync_section(addon))
    assert "3 syncs and 1 backfill waiting for a worker (oldest 4" in text  # 40 or 41 s
    assert "1 dead-lettered, 2 leases held; measured by the dispatcher " in text
    assert "stale" not in text

    repo.record_queue_health(QueueHealth(recorded_at=now - dt.timedelta(hours=1), mailboxes=9))
    assert "stale: is python -m sync dispatch running?" in texts(sync_section(addon))


def test_a_measurement_left_by_an_old_distributed_deployment_does_not_hide_single_process(
        addon, repo, admin, monkeypatch):
    monkeypatch.delenv("SIDECAR_SYNC_TOPIC", raising=False)
    repo.record_queue_health(QueueHealth(recorded_at=utcnow() - dt.timedelta(days=2), waiting=5))
    assert "single process" in texts(sync_section(addon))


def test_a_large_tenant_lists_a_bounded_page_with_the_failed_mailboxes_first(addon, repo, admin, monkeypatch):
    monkeypatch.setenv("SIDECAR_SYNC_TOPIC", "sidecar-sync")
    emails = [f"rep{n:03d}@example.com" for n in range(MAILBOXES_SHOWN + 10)]
    batch = repo.batch()
    for email in emails:
        repo.save_mailbox(Mailbox(email=email, state="ok"), writer=batch)
    batch.commit()
    failed = emails[-1]  # last by address: not among the first page
    repo.save_mailbox(Mailbox(email=failed, state=MailboxState.FAILED, last_error="sync request dead-lettered"))
    repo.record_queue_health(QueueHealth(recorded_at=utcnow(), dead_lettered=1, mailboxes=len(emails),
                                         attention=[failed]))

    view = repo.admin_view(MAILBOXES_SHOWN)
    assert view.more and len(view.mailboxes) == MAILBOXES_SHOWN + 1 and view.mailboxes[0].email == failed

    section = sync_section(addon)
    assert len(section["widgets"]) <= MAX_WIDGETS
    first_row = next(w["decoratedText"] for w in section["widgets"] if "decoratedText" in w)
    assert first_row["text"].startswith(failed) and "failed" in first_row["text"]
    assert f"The first {MAILBOXES_SHOWN} mailboxes, failed ones first" in texts(section)
    assert MAILBOXES_SHOWN + ATTENTION_MAX + 3 <= MAX_WIDGETS  # the page, the named failures, the summary lines
