"""A no-op sync stays cheap: the key is parsed once a process, tokens live as long as Google lets them."""

from __future__ import annotations

import os
import sys

from models.domain import MailboxState
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
    assert issued == 2 * len(simulator.reps)  # one for Gmail and one for Calendar, per mailbox

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
