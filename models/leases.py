"""Leases in Firestore: who may sync a mailbox (or lead the dispatch) right now, and a fence for what it commits.

Owned and built by the repository (`Repository.acquire_lease` and its
section, `models.repository.leader_leases`), which hands this module the lease
documents' places (`LeaseDocuments`): the layout is known in the repository
alone; this module knows the protocol.

A lease is one document per name: `owner` (unique to each
attempt, never to a process, so two threads never share a lease), `fence` (a
number that grows by one at every acquisition) and `ttl_seconds`. Every write
to it is conditional, never a transaction (the emulator stalls for seconds on
contended transactions):

- acquiring creates the document (fails if it exists) or updates it with a
  precondition on the update time read with it, so of two processes that saw
  the same free or expired lease exactly one wins;
- renewing (the heartbeat), the fenced commit and the release are updates with
  a precondition on the update time the holder's own last write returned.
  Only the holder writes the document, so that time changes only when someone
  else acquired it: the holder's next write then fails, and so does a cursor
  commit of a worker that lost its lease (`Fenced`).

Expiry is read on the server's clock, never a worker's: a lease is expired when
the read time of its snapshot is past its last write (`update_time`) plus
`ttl_seconds`. A holder whose lease expired but was never taken over may still
commit: nobody else has moved the cursors in between.

A notification for a leased mailbox marks it dirty instead (one document per
name beside the lease, its server time overwritten: any number of marks
coalesce into one); the holder sees, when it lets go, whether a mark landed
after it read the lease to acquire it, and syncs again. The mark lives apart
from the lease because a write to the lease document would fence its holder
out. A marker marks first and tries the lease again after, so a holder that
let go in between is never left unaware.

Round trips. Acquiring reads the lease, its mark and whatever the caller
reads with it (the repository: the mailbox document) in one `get_all`, then
writes the lease: two. Letting go is the one commit that moves the cursors,
and it also answers "was the mailbox marked meanwhile?" without another read:
the release deletes the mark the acquisition read, preconditioned on its
update time (or on its absence), so a mark that landed since makes the commit
fail; it is then committed again without that check (the lease's own
precondition cannot have failed the first time if it holds the second: only
the holder writes the lease, and nothing of a failed commit lands), and the
mark stays for the sync that follows. So either the release saw the mark, or
the mark landed after the release, and its marker's next try takes the lease:
never missed. A mark older than the acquisition is deleted with the release,
which is what it asked for (the sync that followed it is done).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from google.api_core import exceptions
from google.cloud import firestore


class Fenced(RuntimeError):
    """The lease was taken over by another holder: this holder's write was refused."""


@dataclasses.dataclass
class Lease:
    """A lease held: `fence` orders holders; `written_at` is the server time of the holder's last write;
    `mark_seen` the update time of the dirty mark the acquisition read (None: there was none)."""

    name: str
    owner: str
    fence: int
    ttl_seconds: float
    acquired_at: dt.datetime
    written_at: dt.datetime
    mark_seen: dt.datetime | None = None


@dataclasses.dataclass(frozen=True)
class LeaseState:
    """What `sync status` shows of a lease document."""

    name: str
    owner: str | None
    fence: int
    expires_at: dt.datetime | None  # None when released


@dataclasses.dataclass(frozen=True)
class LeaseDocuments:
    """Where one family of leases lives, as the repository lays it out."""

    lease: Callable[[str], Any]  # name -> the lease's document reference
    dirty: Callable[[str], Any]  # name -> its dirty mark's document reference
    all: Callable[[], Iterator[Any]]  # every lease document's snapshot


class Leases:
    """The leases of one family (a tenant's mailboxes, or the process-wide leader)."""

    def __init__(self, client: firestore.Client, documents: LeaseDocuments):
        self.client = client
        self.documents = documents

    def _ref(self, name: str):
        return self.documents.lease(name)

    def _precondition(self, lease: Lease):
        return self.client.write_option(last_update_time=lease.written_at)

    def acquire(self, name: str, owner: str, ttl_seconds: float) -> Lease | None:
        """The lease for `owner`, or None while another holds it unexpired (or won the race for it)."""
        return self.acquire_reading(name, owner, ttl_seconds)[0]

    def acquire_reading(self, name: str, owner: str, ttl_seconds: float,
                        also: Sequence[Any] = ()) -> tuple[Lease | None, list[Any]]:
        """`acquire`, reading the documents `also` in the same round trip as the lease: (the lease or None,
        their snapshots in that order, read before the lease was written)."""
        ref, mark = self._ref(name), self.documents.dirty(name)
        read = {snapshot.reference.path: snapshot for snapshot in self.client.get_all([ref, mark, *also])}
        marked = read[mark.path]
        lease = self._take(name, read[ref.path], owner, ttl_seconds)
        if lease is not None:
            lease.mark_seen = marked.update_time if marked.exists else None
        return lease, [read[other.path] for other in also]

    def _take(self, name: str, snapshot, owner: str, ttl_seconds: float) -> Lease | None:
        """Write the lease for `owner` if `snapshot` (the lease as read) shows it free or expired."""
        ref = self._ref(name)
        data = {"owner": owner, "ttl_seconds": ttl_seconds}
        try:
            if not snapshot.exists:
                fence = 1
                result = ref.create({**data, "fence": fence})
            else:
                held = snapshot.to_dict()
                if held.get("owner") and snapshot.read_time < _expiry(snapshot.update_time, held["ttl_seconds"]):
                    return None
                fence = int(held.get("fence") or 0) + 1
                result = ref.update({**data, "fence": fence},
                                    option=self.client.write_option(last_update_time=snapshot.update_time))
        except (exceptions.Conflict, exceptions.FailedPrecondition):
            return None  # another acquirer wrote first
        return Lease(name, owner, fence, ttl_seconds, result.update_time, result.update_time)

    def renew(self, lease: Lease) -> None:
        """Extend the lease by its ttl from now (the heartbeat); `Fenced` when another holds it."""
        try:
            result = self._ref(lease.name).update({"renewed_at": firestore.SERVER_TIMESTAMP},
                                                   option=self._precondition(lease))
        except (exceptions.FailedPrecondition, exceptions.NotFound) as exc:
            raise Fenced(f"lease {lease.name} fence {lease.fence} was taken over") from exc
        lease.written_at = result.update_time

    def commit_fenced(self, lease: Lease, writes: list[tuple[Any, dict]], release: bool = False,
                      add_set: Callable[[Any, Any, dict], None] | None = None) -> bool:
        """Commit `writes` (reference, whole document) atomically with a fence check, and release if asked.

        The lease document is updated in the same commit under the holder's
        precondition, so the writes land only while `lease` is still the
        current holder's; otherwise nothing lands and `Fenced` is raised.
        Returns, when releasing, whether the name was marked dirty since the
        lease was read to acquire it (module doc: the check rides on the
        commit); False when keeping it. `add_set(batch, ref, data)` adds a
        whole-document set (default: the client's `batch.set`).
        """
        update = {"owner": None} if release else {"renewed_at": firestore.SERVER_TIMESTAMP}
        if not release:
            self._commit(lease, writes, update, add_set)
            return False
        mark = self.documents.dirty(lease.name)
        unchanged = (self.client.write_option(exists=False) if lease.mark_seen is None
                     else self.client.write_option(last_update_time=lease.mark_seen))
        try:
            self._commit(lease, writes, update, add_set, clear=(mark, unchanged))
            return False
        except (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Conflict):
            pass  # the mark moved, or the lease did: the lease's precondition alone tells which
        self._commit(lease, writes, update, add_set)
        return True

    def _commit(self, lease: Lease, writes: list[tuple[Any, dict]], update: dict, add_set,
                clear: tuple[Any, Any] | None = None) -> None:
        batch = self.client.batch()
        for ref, data in writes:
            if add_set is None:
                batch.set(ref, data)
            else:
                add_set(batch, ref, data)
        if clear is not None:
            batch.delete(clear[0], option=clear[1])
        batch.update(self._ref(lease.name), update, option=self._precondition(lease))
        try:
            results = batch.commit()
        except (exceptions.FailedPrecondition, exceptions.NotFound) as exc:
            if clear is not None:
                raise
            raise Fenced(f"lease {lease.name} fence {lease.fence} was taken over; commit refused") from exc
        lease.written_at = results[-1].update_time

    def release(self, lease: Lease) -> None:
        """Let go now (the next acquirer need not wait for the expiry); a lease already taken over is left."""
        try:
            self.commit_fenced(lease, [], release=True)
        except Fenced:
            pass

    def mark_dirty(self, name: str) -> None:
        """Ask the holder to go again when it lets go; marks coalesce (the same document, overwritten)."""
        self.documents.dirty(name).set({"marked_at": firestore.SERVER_TIMESTAMP})

    def held(self) -> list[LeaseState]:
        """Every lease document, held or not (a handful per tenant: one per mailbox)."""
        return sorted((lease_state(snapshot) for snapshot in self.documents.all()), key=lambda s: s.name)


def lease_state(snapshot) -> LeaseState:
    """What a lease document's snapshot says: its holder, fence and expiry (server time), for status views."""
    data = snapshot.to_dict()
    expires = _expiry(snapshot.update_time, data.get("ttl_seconds") or 0) if data.get("owner") else None
    return LeaseState(snapshot.id, data.get("owner"), int(data.get("fence") or 0), expires)


def _expiry(written_at: dt.datetime, ttl_seconds: float) -> dt.datetime:
    return written_at + dt.timedelta(seconds=float(ttl_seconds))
