"""Holding a mailbox's lease while it syncs: a unique owner per attempt and a heartbeat (SPEC §7 "Scale").

The lease documents and their fence are the repository's (`models.leases`);
this module keeps one alive from the sync's side. `Heartbeat` renews it every
third of its ttl, and its `halt` (what the mailbox's API calls watch) is set
when the lease is lost or the process is asked to stop, so a worker that lost
its lease stops fetching; whatever it still tries to commit is refused by the
fence. Renewals and the cursor commit both rewrite the lease document under
the holder's last update time, so they take turns on one lock, and once the
commit released the lease no renewal writes it again (a write to a released
lease would make the next acquirer's conditional write fail for nothing).

The renewals of every lease the process holds are made by one thread
(`_Renewals`, started with the first lease and ended when none is left for a
while), not a thread per mailbox: most syncs (an unchanged mailbox: a few
round trips) end long before their first renewal is due, and starting and
joining a thread was a measurable share of their CPU. Renewals due at once
go one after the other: a round trip each, against a third of a ttl of slack
(two renewals may fail before a lease lapses).
"""

from __future__ import annotations

import heapq
import itertools
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
RENEWALS_IDLE_SECONDS = 30.0  # the renewal thread ends once no lease was held this long (started again on demand)


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


class _Renewals:
    """The process's one renewal thread: each held lease renewed when due (module doc)."""

    def __init__(self):
        self._wake = threading.Condition()
        self._due: list[tuple[float, int, Heartbeat]] = []  # a heap of (when, order, heartbeat)
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def hold(self, heartbeat: Heartbeat, due: float) -> None:
        with self._wake:
            heapq.heappush(self._due, (due, next(self._order), heartbeat))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lease-renewals", daemon=True)
                self._thread.start()
            elif self._due[0][2] is heartbeat:  # due before what the thread waits for: it looks again
                self._wake.notify()

    def _next(self) -> Heartbeat | None:
        """The next heartbeat due (waiting for it), or None once nothing was held for RENEWALS_IDLE_SECONDS."""
        with self._wake:
            while True:
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)  # let go since it was scheduled
                if not self._due:
                    if not self._wake.wait(RENEWALS_IDLE_SECONDS) and not self._due:
                        self._thread = None  # `hold` starts another when a lease comes
                        return None
                    continue
                due, _, heartbeat = self._due[0]
                wait = due - time.monotonic()
                if wait <= 0:
                    heapq.heappop(self._due)
                    return heartbeat
                self._wake.wait(wait)

    def _run(self) -> None:
        while (heartbeat := self._next()) is not None:
            if heartbeat.renew():
                self.hold(heartbeat, time.monotonic() + heartbeat.interval)


_renewals = _Renewals()


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
        self.interval = lease.ttl_seconds / RENEWALS_PER_TTL
        self.done = False  # let go (released, or the sync ended): no renewal writes the lease again
        self._lock = threading.Lock()

    def __enter__(self) -> Heartbeat:
        _renewals.hold(self, time.monotonic() + self.interval)
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:  # a renewal in progress ends first
            self.done = True

    def renew(self) -> bool:
        """Renew the lease now (the renewal thread); whether it is to be renewed again."""
        with self._lock:
            if self.done:
                return False
            try:
                self.repo.renew_lease(self.lease)
            except Fenced:
                log.warning("lease lost mailbox=%s fence=%d state=halting", self.lease.name, self.lease.fence)
                self.lost = True
                self.done = True
                self.halt.set()
                return False
            except (exceptions.GoogleAPICallError, exceptions.RetryError) as exc:  # the next beat tries again
                log.warning("lease renewal failed mailbox=%s error=%s", self.lease.name, type(exc).__name__)
                return True
            except Exception:  # anything else, too: the one renewal thread keeps every other lease alive
                log.exception("lease renewal failed mailbox=%s", self.lease.name)
                return True
            self.renewals += 1
            return True

    def commit(self, mailbox: Mailbox) -> bool:
        """The mailbox's cursors and state, fenced, and the lease released in the same commit; whether the
        mailbox was marked dirty since the lease was taken (`Repository.commit_cursors`)."""
        with self._lock:
            self.done = True  # released, or refused (`Fenced`): either way no longer this holder's to renew
            return self.repo.commit_cursors(mailbox, self.lease, release=True)

    def checkpoint(self, mailbox: Mailbox) -> None:
        """The mailbox's cursors so far, fenced, the lease kept (and renewed by the same commit)."""
        with self._lock:
            self.repo.commit_cursors(mailbox, self.lease, release=False)
            self.checkpoints += 1
