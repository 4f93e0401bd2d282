"""The backfill stores the newest mail first, resumes where it stopped without fetching again what it
stored, lets new mail through between its slices, and says how far it has got."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest

import sync.gmail
from gsim import Simulator
from models.domain import Mailbox
from models.progress import import_label, import_percent
from sync.__main__ import status_table
from sync.gmail import GmailSync, log_progress
from sync.runner import LEASE_LOST, SyncRun

from .conftest import SHORT_LEASE_TTL_SECONDS, SMALL_CHUNK_WRITES, SMALL_FETCH_GROUP, TEAM_SIZE
from .test_fetch_strategy import SKIPPED, SKIPPED_TABS, expected_gmail_ids, stored_gmail_ids

STOP_AFTER_GROUPS = 3
RECENT_DAYS = 30
MESSAGES_GET, THREADS_GET = "gmail.users.messages.get", "gmail.users.threads.get"


@pytest.fixture
def simulator():
    """One year of mail, enough for a dozen fetch groups a mailbox, under the 2026 prices."""
    sim = Simulator(**{**TEAM_SIZE, "messages": 240, "days": 365, "thread_mix": "realistic"}).start()
    yield sim
    sim.stop()


@pytest.fixture
def checkpoints(monkeypatch):
    """Calls `hook(gmail_sync, mailbox)` after each backfill checkpoint (the cursor saved)."""
    hooks = []
    real = GmailSync._checkpoint

    def checkpoint(self, mailbox):
        real(self, mailbox)
        if mailbox.backfilling and mailbox.backfill_listed:
            for hook in hooks:
                hook(self, mailbox)

    monkeypatch.setattr(GmailSync, "_checkpoint", checkpoint)
    return hooks


def sync_run(services, stop: threading.Event | None = None, **tuning) -> SyncRun:
    """A pass with the small groups and chunks of the sync tests (conftest), and any other `SyncRun` tuning."""
    return SyncRun(services.repository, services.google_service, services.config, stop,
                   fetch_group=SMALL_FETCH_GROUP, chunk_writes_max=SMALL_CHUNK_WRITES,
                   lease_ttl_seconds=SHORT_LEASE_TTL_SECONDS, **tuning)


def fetched(simulator, rep: str) -> dict[str, list[str]]:
    return simulator.counters()["fetched"].get(rep, {})


def test_a_backfill_stopped_halfway_resumes_and_fetches_nothing_it_stored_again(services, simulator, tenant_repo,
                                                                                  checkpoints):
    rep = simulator.reps[0]
    stop = threading.Event()
    saved = []

    def stop_after_groups(_sync, mailbox):
        saved.append(mailbox.backfill_listed)
        if len(saved) == STOP_AFTER_GROUPS:
            stop.set()

    checkpoints.append(stop_after_groups)
    [first] = sync_run(services, stop).run([rep])

    assert first.error == "stopped"
    stored_first = stored_gmail_ids(tenant_repo, rep)
    expected = expected_gmail_ids(simulator, rep)
    assert stored_first and stored_first < expected
    mailbox = tenant_repo.get_mailbox(rep)
    assert mailbox.backfilling and mailbox.history_id
    assert mailbox.backfill_listed == saved[-1] and len(saved) >= STOP_AFTER_GROUPS  # every group it stored
    assert mailbox.backfill_stored == len(stored_first)
    assert 0 < import_percent(mailbox) < 100
    first_gets = fetched(simulator, rep)
    simulator.reset_counters()

    [second] = sync_run(services).run([rep])

    assert second.state == "ok" and not second.error
    assert stored_gmail_ids(tenant_repo, rep) == expected
    box = simulator.world.mailbox(rep)
    listed = {m.id: m for m in box.messages.values() if not (SKIPPED | SKIPPED_TABS) & set(m.label_ids)}
    gets = fetched(simulator, rep)
    assert not set(gets.get(MESSAGES_GET, [])) & stored_first  # no stored message fetched again
    for thread_id in gets.get(THREADS_GET, []):  # a thread fetched again had listed messages not stored yet
        assert {i for i, m in listed.items() if m.thread_id == thread_id} - stored_first, thread_id
    # what the first run fetched and did not store was fetched ahead (at most the groups in flight)
    refetched = set(gets.get(MESSAGES_GET, [])) & set(first_gets.get(MESSAGES_GET, []))
    assert len(refetched) <= (sync.gmail.FETCH_AHEAD + sync.gmail.FETCHERS) * SMALL_FETCH_GROUP
    done = tenant_repo.get_mailbox(rep)
    assert not done.backfilling and done.backfill_listed == done.backfill_total == len(listed)
    assert import_label(done) is None


def test_the_newest_30_days_are_stored_before_older_mail(services, simulator, tenant_repo, checkpoints):
    rep = simulator.reps[0]
    stored_at_checkpoints: list[set[str]] = []
    checkpoints.append(lambda _sync, _mailbox: stored_at_checkpoints.append(stored_gmail_ids(tenant_repo, rep)))
    began = dt.datetime.now(dt.UTC)

    [result] = sync_run(services, list_page=SMALL_FETCH_GROUP).run([rep])  # several pages, as at full size

    assert result.state == "ok"
    cutoff = began - dt.timedelta(days=RECENT_DAYS)
    expected = expected_gmail_ids(simulator, rep)
    box = simulator.world.mailbox(rep)
    recent = {i for i in expected if box.messages[i].internal_date >= cutoff.timestamp() * 1000}
    assert recent
    stored = next(ids for ids in stored_at_checkpoints if recent <= ids)  # when the last 30 days were all in
    # nothing older was stored by then but older messages of their threads (fetched with them)
    recent_threads = {box.messages[i].thread_id for i in recent}
    assert {box.messages[i].thread_id for i in stored - recent} <= recent_threads
    assert len(stored) < len(expected) / 2
    assert stored_at_checkpoints[-1] == expected


def test_new_mail_is_synced_between_slices_of_a_long_backfill(services, simulator, tenant_repo):
    rep = simulator.reps[0]
    [first] = sync_run(services, backfill_seconds=0).run([rep])  # the daemon's pass, its slice cut short
    assert first.state == "ok" and not first.error
    assert tenant_repo.get_mailbox(rep).backfilling
    new = simulator.add_message(rep, subject="Re: pricing, signed today")

    sync_run(services, backfill_seconds=0).run([rep])

    assert new.id in stored_gmail_ids(tenant_repo, rep)
    assert tenant_repo.get_mailbox(rep).backfilling  # the backfill had not finished: new mail did not wait
    sync_run(services).run([rep])
    mailbox = tenant_repo.get_mailbox(rep)
    assert not mailbox.backfilling
    assert stored_gmail_ids(tenant_repo, rep) == expected_gmail_ids(simulator, rep)


def test_sync_status_shows_how_far_a_backfill_has_got():
    now = dt.datetime.now(dt.UTC)
    running = Mailbox("a@example.com", state="ok", history_id="9", backfill_since=now - dt.timedelta(days=365),
                      backfill_started_at=now, backfill_reached=now - dt.timedelta(days=100), backfill_listed=4000,
                      backfill_total=10000, backfill_stored=3500, backfill_seconds_left=780)
    done = Mailbox("b@example.com", state="ok", history_id="9", backfill_since=now - dt.timedelta(days=365),
                   backfill_started_at=now, backfill_done_at=now, backfill_listed=10, backfill_total=10,
                   backfill_stored=9)
    lines = status_table([running, done])

    assert "BACKFILL" in lines[0]
    assert f"40% back to {(now - dt.timedelta(days=100)):%Y-%m-%d}" in lines[1]
    assert "3500 stored" in lines[1] and "~13m left" in lines[1]
    assert "done 9 stored" in lines[2]


def test_a_rep_whose_backfill_is_at_40_percent_is_importing_40_percent():
    now = dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(days=100)
    running = Mailbox("a@example.com", history_id="9", backfill_since=since, backfill_started_at=now,
                      backfill_listed=400, backfill_total=1000)
    assert import_label(running) == "importing 40%"
    by_date = Mailbox("a@example.com", history_id="9", backfill_since=since, backfill_started_at=now,
                      backfill_reached=now - dt.timedelta(days=25))
    assert import_label(by_date) == "importing 25%"  # nothing counted yet: how far back of the window
    assert import_label(Mailbox("new@example.com")) == "importing 0%"
    assert import_label(Mailbox("old@example.com", history_id="9")) is None  # synced before backfills were recorded
    assert import_label(None) is None
    finished = Mailbox("a@example.com", history_id="9", backfill_since=since, backfill_started_at=now,
                       backfill_done_at=now, backfill_listed=1000, backfill_total=1000)
    assert import_label(finished) is None


def test_progress_is_logged_at_most_every_10_seconds_per_mailbox_and_without_content(caplog):
    now = dt.datetime.now(dt.UTC)
    mailbox = Mailbox("progress@example.com", history_id="9", backfill_since=now - dt.timedelta(days=365),
                      backfill_started_at=now, backfill_listed=500, backfill_total=10000, backfill_stored=480,
                      backfill_units=5200, backfill_seconds_left=900.0)
    other = Mailbox("other@example.com", history_id="9", backfill_since=mailbox.backfill_since,
                    backfill_started_at=now)
    times = iter([100.0, 105.0, 105.0, 110.5, 111.0])
    with caplog.at_level(logging.INFO, logger="sync.gmail"):
        logged = [log_progress(mailbox, lambda: next(times)), log_progress(mailbox, lambda: next(times)),
                  log_progress(other, lambda: next(times)), log_progress(mailbox, lambda: next(times))]
        mailbox.backfill_done_at = now
        logged.append(log_progress(mailbox, lambda: next(times)))  # the last line always goes out

    assert logged == [True, False, True, True, True]
    lines = [r.getMessage() for r in caplog.records if "backfill progress" in r.getMessage()]
    assert "mailbox=progress@example.com state=running" in lines[0]
    assert "listed=500 total=10000 stored=480 units=5200 seconds_left=900" in lines[0]
    assert "state=done" in lines[-1]


def test_the_tenants_skipped_gmail_categories_are_never_fetched(services, simulator, tenant_repo):
    rep = simulator.reps[0]
    sync_run(services).run([rep])
    promotion = simulator.add_message(rep, subject="Quarterly offer", label_ids=["INBOX", "CATEGORY_PROMOTIONS"])
    personal = simulator.add_message(rep, subject="Re: pricing", label_ids=["INBOX", "CATEGORY_PERSONAL"])
    simulator.reset_counters()

    sync_run(services).run([rep])  # the default: promotions, social and forums left out

    assert set(fetched(simulator, rep).get(MESSAGES_GET, [])) == {personal.id}
    stored = stored_gmail_ids(tenant_repo, rep)
    assert personal.id in stored and promotion.id not in stored
    settings = tenant_repo.get_settings()
    settings.skipped_categories = []
    tenant_repo.save_settings(settings)
    tenant_repo.save_mailbox(Mailbox(rep))  # a new backfill, which now lists the promotions tab too

    sync_run(services).run([rep])

    assert promotion.id in stored_gmail_ids(tenant_repo, rep)


def test_a_backfill_whose_lease_is_taken_over_never_moves_its_cursor_again(services, simulator, tenant_repo,
                                                                           checkpoints):
    rep = simulator.reps[0]
    saved = []

    def take_over_after_the_first_group(_sync, mailbox):
        saved.append(mailbox.backfill_listed)
        if len(saved) == 1:  # another holder's write to the lease document (a takeover after an expiry)
            tenant_repo.root.collection("leases").document(rep).update({"owner": "intruder", "fence": 99})

    checkpoints.append(take_over_after_the_first_group)
    [result] = sync_run(services).run([rep])

    assert result.error == LEASE_LOST
    assert saved == saved[:1]  # every later checkpoint was refused by the fence
    mailbox = tenant_repo.get_mailbox(rep)
    assert mailbox.backfilling and mailbox.backfill_listed == saved[0]  # the cursor the lease let it save
    assert mailbox.backfill_listed < len(expected_gmail_ids(simulator, rep))
