"""Holding a mailbox's lease while it syncs: a unique owner per attempt and a heartbeat (SPEC §7 "Scale").

The lease documents and their fence are the repository's (`models.leases`);
this module keeps one alive from the sync's side. `Heartbeat` renews it every
third of its ttl, and its `halt` (what the mailbox's API calls watch) is set
when the lease is lost or the process is asked to stop, so a worker that lost
its lease stops fetching; whatever it still tries to commit is refused by the
fence. Renewals and the cursor commit both rewrite the lease document under
the holder's last update time, so they take turns on one lock.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from google.api_core import exceptions

from models.domain import Mailbox
from models.leases import Fenced, Lease
from models.repository import Repository

log = logging.getLogger(__name__)

LEASE_TTL_SECONDS = 60.0  # a worker killed mid-sync holds its mailbox this long at most
RENEWALS_PER_TTL = 3  # the heartbeat renews three times a ttl: two renewals may fail before it lapses
HALT_POLL_SECONDS = 0.5  # how soon a lost lease halts the mailbox's API calls (a stop halts them at once)


def new_owner() -> str:
    """An owner unique to one attempt (threads of one process never share a lease), readable in `sync status`."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


class Halt:
    """What a leased mailbox's API calls watch: set at once when the process stops, or when the lease is lost.

    Quacks like the `threading.Event` it wraps (`is_set`, `wait`, `set`): a
    wait sleeps on the process's own stop event, so a stop request ends it at
    once; a lost lease ends it within `HALT_POLL_SECONDS`.
    """

    def __init__(self, stop: threading.Event):
        self.stop = stop
        self.lost = threading.Event()

    def is_set(self) -> bool:
        return self.stop.is_set() or self.lost.is_set()

    def set(self) -> None:
        self.lost.set()

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = HALT_POLL_SECONDS if deadline is None else min(HALT_POLL_SECONDS, deadline - time.monotonic())
            if left <= 0:
                return False
            self.stop.wait(left)
        return True


class Heartbeat:
    """Keeps `lease` alive while the mailbox syncs (see module doc); a context manager around the sync."""

    def __init__(self, repo: Repository, lease: Lease, stop: threading.Event):
        self.repo = repo
        self.lease = lease
        self.stop = stop
        self.halt = Halt(stop)
        self.lost = False
        self.renewals = 0
        self.checkpoints = 0  # fenced saves of the cursors mid-sync (a backfill's, after each group)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{lease.name}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        interval = self.lease.ttl_seconds / RENEWALS_PER_TTL
        due = time.monotonic() + interval
        while not self._done.wait(HALT_POLL_SECONDS):
            if time.monotonic() < due:
                continue
            try:
                with self._lock:
                    self.repo.renew_lease(self.lease)
                self.renewals += 1
            except Fenced:
                log.warning("lease lost mailbox=%s fence=%d state=halting", self.lease.name, self.lease.fence)
                self.lost = True
                self.halt.set()
                return
            except exceptions.GoogleAPICallError as exc:  # transient: the next beat tries again
                log.warning("lease renewal failed mailbox=%s error=%s", self.lease.name, type(exc).__name__)
            due = time.monotonic() + interval

    def commit(self, mailbox: Mailbox) -> bool:
        """The mailbox's cursors and state, fenced, and the lease released in the same commit; whether the
        mailbox was marked dirty since the lease was taken (`Repository.commit_cursors`)."""
        with self._lock:
            return self.repo.commit_cursors(mailbox, self.lease, release=True)

    def checkpoint(self, mailbox: Mailbox) -> None:
        """The mailbox's cursors so far, fenced, the lease kept (and renewed by the same commit)."""
        with self._lock:
            self.repo.commit_cursors(mailbox, self.lease, release=False)
            self.checkpoints += 1
