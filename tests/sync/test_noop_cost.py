"""A no-op sync stays cheap: the key is parsed once a process, tokens live as long as Google lets them,
Resources are the process's and connections each thread's."""

from __future__ import annotations

import functools
import os
import sys
import threading

from google_clients import GMAIL_SCOPES
from models.domain import MailboxState
from sync import runner
from sync.runner import SyncRun
from tests.sync.conftest import sync_run

opened: list[str] = []  # every path the watcher below saw opened


def _watch_opens(event: str, args: tuple) -> None:
    if event == "open" and isinstance(args[0], (str, os.PathLike)):
        opened.append(os.fspath(args[0]))


sys.addaudithook(_watch_opens)  # audit hooks cannot be removed; this one only records paths


def test_the_key_file_is_read_once_for_every_mailbox_and_every_pass(services, simulator, key_file):
    opened.clear()
    for _ in range(2):
        results = sync_run(services).run(simulator.reps)
        assert {r.state for r in results} == {MailboxState.OK}

    assert opened.count(key_file) == 1  # 3 mailboxes, Gmail and Calendar each, twice


def test_a_second_pass_reuses_every_access_token(services, simulator):
    sync_run(services).run(simulator.reps)
    issued = simulator.oauth.tokens_issued
    assert issued == len(simulator.reps)  # one per mailbox, for Gmail and Calendar together (SYNC_SCOPES)

    results = sync_run(services).run(simulator.reps)

    assert {r.state for r in results} == {MailboxState.OK}
    assert simulator.oauth.tokens_issued == issued


def test_a_token_google_no_longer_accepts_is_fetched_again(services, simulator):
    sync_run(services).run(simulator.reps)
    issued = simulator.oauth.tokens_issued
    simulator.oauth.expire_all()  # an hour passes, as far as Google is concerned

    results = sync_run(services).run(simulator.reps)

    assert {r.state for r in results} == {MailboxState.OK}
    assert simulator.oauth.tokens_issued == 2 * issued


def test_the_mailboxes_a_thread_syncs_share_its_connection_each_sending_as_itself(services, simulator):
    first, second = simulator.reps[:2]
    gmail = {rep: services.google_service("gmail", "v1", rep, GMAIL_SCOPES) for rep in (first, second)}
    for service in gmail.values():
        service.users().getProfile(userId="me").execute()

    calls = simulator.counters()["by_mailbox"]
    assert calls[first]["gmail.users.getProfile"]["calls"] == 1
    assert calls[second]["gmail.users.getProfile"]["calls"] == 1
    assert gmail[first]._http.credentials is not gmail[second]._http.credentials
    assert gmail[first]._http.http is gmail[second]._http.http  # one keep-alive connection for the thread
    elsewhere = []
    thread = threading.Thread(target=lambda: elsewhere.append(
        services.google_service("gmail", "v1", first, GMAIL_SCOPES)))
    thread.start()
    thread.join()
    assert elsewhere[0]._http.http is not gmail[first]._http.http  # httplib2 is not thread-safe


def test_a_workers_link_after_an_unchanged_mailbox_looks_for_nothing_and_links_what_it_created_at_once(
        services, simulator, tenant_repo, monkeypatch):
    rep = simulator.reps[0]
    sync_run(services).run(simulator.reps)
    worker = SyncRun(services.repository, services.google_service, services.config, wait_for_lease=False)
    worker.sync_mailbox(rep)
    worker.link(simulator.domain)  # a run's first link looks for what others left
    repo, looked = worker.tenant(simulator.domain).repo, []

    def counted(found, name, *args, **kwargs):
        looked.append(name)
        return found(*args, **kwargs)

    for name in ("contacts_pending_links", "contacts_with_passed_meetings", "refresh_signals"):
        monkeypatch.setattr(repo, name, functools.partial(counted, getattr(repo, name), name))

    worker.sync_mailbox(rep)
    worker.link(simulator.domain)
    assert looked == []  # it looked a moment ago, and has nothing of its own to link

    simulator.add_message(rep, sender=f"Rep <{rep}>", to=["dana.new@newco-example.com"], subject="Intro")
    worker.sync_mailbox(rep)
    worker.link(simulator.domain)
    assert tenant_repo.find_contact_by_email("dana.new@newco-example.com") is not None
    assert "contacts_pending_links" in looked and tenant_repo.contacts_pending_links() == []  # linked at once
    assert "refresh_signals" in looked  # the contact created, once its exchanges are linked

    looked.clear()
    worker.sync_mailbox(rep)
    worker.link(simulator.domain)
    assert looked == []  # the contact it created is not read again

    monkeypatch.setattr(runner, "LINK_SCAN_SECONDS", 0.0)  # time to look again
    looked.clear()
    worker.sync_mailbox(rep)
    worker.link(simulator.domain)
    assert {"contacts_pending_links", "contacts_with_passed_meetings"} <= set(looked)
