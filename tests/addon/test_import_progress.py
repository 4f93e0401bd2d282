"""A rep whose history is still importing is told so on their own cards; the admin sees every mailbox's progress."""

from __future__ import annotations

import datetime as dt

import pytest

from models.domain import Mailbox, Participant, Settings, utcnow
from tests.addon.conftest import card_of, texts

GMAIL, HOME = "/addon/gmail/message", "/addon/homepage"
MESSAGE_ID = "18c0ffee0000abcd"


def importing(email: str, listed: int, total: int, seconds_left: float | None = None) -> Mailbox:
    started = utcnow()
    return Mailbox(email=email, backfill_since=started - dt.timedelta(days=365), backfill_started_at=started,
                   backfill_listed=listed, backfill_total=total, backfill_seconds_left=seconds_left)


@pytest.fixture
def recorded_message(repo, rep):
    """A message the add-on already recorded, so the card reads it from Firestore alone."""
    repo.record_message(rep, MESSAGE_ID, participants=[Participant("pat@customer.example", "Pat Lee", "from")],
                        subject="Pricing")
    return MESSAGE_ID


def test_the_gmail_card_of_a_rep_whose_backfill_is_at_40_percent_says_so(addon, repo, rep, recorded_message):
    repo.save_mailbox(importing(rep, listed=400, total=1000))
    card = card_of(addon.post(GMAIL, gmail={"messageId": recorded_message}))
    assert "Your history is still importing (40%)" in texts(card)


def test_the_home_page_says_so_too_and_nothing_once_the_import_is_done(addon, repo, rep):
    repo.save_mailbox(importing(rep, listed=100, total=1000))
    assert "still importing (10%)" in texts(card_of(addon.post(HOME)))
    done = importing(rep, listed=1000, total=1000)
    done.backfill_done_at, done.history_id = utcnow(), "12345"
    repo.save_mailbox(done)
    assert "still importing" not in texts(card_of(addon.post(HOME)))


def test_a_teammates_import_is_not_shown_on_my_cards(addon, repo, rep, teammate, recorded_message):
    repo.save_mailbox(importing(teammate, listed=400, total=1000))
    assert "still importing" not in texts(card_of(addon.post(GMAIL, gmail={"messageId": recorded_message})))


def test_the_admin_card_shows_each_mailbox_and_the_tenant_total(addon, repo, rep, teammate):
    repo.save_settings(Settings(admins=[rep]))
    repo.save_mailbox(importing(rep, listed=400, total=1000, seconds_left=720))
    repo.save_mailbox(importing(teammate, listed=100, total=1000))
    text = texts(card_of(addon.action("admin")))
    assert "History import: 2 of 2 mailboxes importing: 500 of 2,000 messages, 25%" in text
    assert "Importing 40%, about 12 min left" in text
    assert "Importing 10%" in text
