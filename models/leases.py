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

Together. A process syncing many mailboxes at once (a Pub/Sub worker: the
requests of one pull start together) acquires and releases in groups
(`_Group`): the acquisitions and releases asked for while one is in flight go
out together as the next, one `get_all` and one commit for the group's
acquisitions, one commit for its releases, instead of a round trip each. Each
write in a group commit keeps its own precondition, and a commit lands whole
or not at all: when any precondition fails (a lease someone else took first,
a mark that landed, a holder fenced out), nothing of the group lands and each
member does what it does alone, above, from what it read. A call that finds
nothing in flight goes at once, alone: nothing waits to be grouped, so the
protocol and its round trips are the ones above whenever calls are sparse.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from google.api_core import exceptions
from google.cloud import firestore

from models import encoding

GROUP_MAX = 100  # members of a group read or commit: 3 writes each at most, within Firestore's 500 a commit
ALONE = object()  # a group's answer to a member that is to do its part alone (module doc, "Together")


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
        self._acquiring = _Group(self._acquire_together)
        self._releasing = _Group(self._release_together)

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
        ask = _Acquisition(name, owner, ttl_seconds, tuple(also))
        answer = self._acquiring.run(ask)
        if answer is ALONE:  # its group's read failed: alone, from the start
            [answer] = self._acquire_together([ask])
        lease, held, marked, others = answer
        if lease is ALONE:
            lease = self._take(name, held, owner, ttl_seconds)
        if lease is not None:
            lease.mark_seen = marked.update_time if marked.exists else None
        return lease, others

    def _acquire_together(self, group: list[_Acquisition]) -> list[tuple]:
        """One `get_all` for the group's leases, marks and documents, then one commit of the leases found free
        (module doc). Each member's answer: (its lease, None while held, or ALONE: to take it alone from what
        was read; the lease, mark and other snapshots as read)."""
        refs = {}
        for ask in group:
            refs.update((ref.path, ref) for ref in (self._ref(ask.name), self.documents.dirty(ask.name), *ask.also))
        read = encoding.read_all(self.client, list(refs.values()))
        answers, takes, names = [], [], set()
        for ask in group:
            held, marked = read[self._ref(ask.name).path], read[self.documents.dirty(ask.name).path]
            answers.append([ALONE, held, marked, [read[other.path] for other in ask.also]])
            plan = self._plan_take(held, ask.owner, ask.ttl_seconds)
            if plan is None:
                answers[-1][0] = None
            elif len(group) > 1 and ask.name not in names:  # a name asked twice: the second tries alone
                takes.append((answers[-1], ask, plan))
                names.add(ask.name)
        if takes:
            batch = self.client.batch()
            for _, ask, (data, option) in takes:
                if option is None:
                    batch.create(self._ref(ask.name), data)
                else:
                    batch.update(self._ref(ask.name), data, option=option)
            try:
                results = batch.commit()
            except (exceptions.Conflict, exceptions.FailedPrecondition):
                return [tuple(answer) for answer in answers]  # each takes its own alone: one of them lost a race
            for (answer, ask, (data, _)), result in zip(takes, results, strict=True):
                answer[0] = Lease(ask.name, ask.owner, data["fence"], ask.ttl_seconds, result.update_time,
                                  result.update_time)
        return [tuple(answer) for answer in answers]

    def _plan_take(self, snapshot, owner: str, ttl_seconds: float) -> tuple[dict, Any] | None:
        """The lease document for `owner` and the write's precondition (None: a create) when `snapshot` (the
        lease as read) shows it free or expired; None while another holds it."""
        data = {"owner": owner, "ttl_seconds": ttl_seconds}
        if not snapshot.exists:
            return {**data, "fence": 1}, None
        held = snapshot.to_dict()
        if held.get("owner") and snapshot.read_time < _expiry(snapshot.update_time, held["ttl_seconds"]):
            return None
        return ({**data, "fence": int(held.get("fence") or 0) + 1},
                self.client.write_option(last_update_time=snapshot.update_time))

    def _take(self, name: str, snapshot, owner: str, ttl_seconds: float) -> Lease | None:
        """Write the lease for `owner` if `snapshot` (the lease as read) shows it free or expired."""
        plan = self._plan_take(snapshot, owner, ttl_seconds)
        if plan is None:
            return None
        (data, option), ref = plan, self._ref(name)
        try:
            result = ref.create(data) if option is None else ref.update(data, option=option)
        except (exceptions.Conflict, exceptions.FailedPrecondition):
            return None  # another acquirer wrote first
        return Lease(name, owner, data["fence"], ttl_seconds, result.update_time, result.update_time)

    def renew(self, lease: Lease) -> None:
        """Extend the lease by its ttl from now (the heartbeat); `Fenced` when another holds it."""
        try:
            result = self._ref(lease.name).update({"renewed_at": firestore.SERVER_TIMESTAMP},
                                                   option=self._precondition(lease))
        except (exceptions.FailedPrecondition, exceptions.NotFound) as exc:
            raise Fenced(f"lease {lease.name} fence {lease.fence} was taken over") from exc
        lease.written_at = result.update_time

    def commit_fenced(self, lease: Lease, writes: list[tuple[Any, dict]], release: bool = False) -> bool:
        """Commit `writes` (reference, whole document) atomically with a fence check, and release if asked.

        The lease document is updated in the same commit under the holder's
        precondition, so the writes land only while `lease` is still the
        current holder's; otherwise nothing lands and `Fenced` is raised.
        Returns, when releasing, whether the name was marked dirty since the
        lease was read to acquire it (module doc: the check rides on the
        commit); False when keeping it. Each write is a whole-document set
        (`encoding.add_set`).
        """
        update = {"owner": None} if release else {"renewed_at": firestore.SERVER_TIMESTAMP}
        if not release:
            self._commit(lease, writes, update)
            return False
        together = self._releasing.run(_Release(lease, tuple(writes)))
        if together is not ALONE:
            return together
        mark = self.documents.dirty(lease.name)
        unchanged = self._unmarked(lease)
        try:
            self._commit(lease, writes, update, clear=(mark, unchanged))
            return False
        except (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Conflict):
            pass  # the mark moved, or the lease did: the lease's precondition alone tells which
        self._commit(lease, writes, update)
        return True

    def _unmarked(self, lease: Lease):
        """The precondition that the lease's dirty mark is as its acquisition read it (module doc)."""
        return (self.client.write_option(exists=False) if lease.mark_seen is None
                else self.client.write_option(last_update_time=lease.mark_seen))

    def _release_together(self, group: list[_Release]) -> list:
        """The group's cursor commits and releases in one commit, each with its checks (module doc): False
        (not marked) for each when it landed; ALONE for each when a check failed, or for a group of one."""
        if len(group) == 1 or len({member.lease.name for member in group}) < len(group):
            return [ALONE] * len(group)  # alone; a name twice (a holder fenced out and the next) as well
        batch = self.client.batch()
        at, written = [], 0  # where each member's lease update sits among the commit's writes (one write a call)
        for member in group:
            clear = (self.documents.dirty(member.lease.name), self._unmarked(member.lease))
            written += self._add_commit(batch, member.lease, member.writes, {"owner": None}, clear)
            at.append(written - 1)
        try:
            results = batch.commit()
        except (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Conflict):
            return [ALONE] * len(group)
        if len(results) != written:
            raise RuntimeError(f"a group release wrote {len(results)} documents, not {written}")
        for member, index in zip(group, at, strict=True):
            member.lease.written_at = results[index].update_time
        return [False] * len(group)

    def _add_commit(self, batch, lease: Lease, writes, update: dict, clear: tuple[Any, Any] | None = None) -> int:
        """Add to `batch` a holder's writes (whole-document sets), the deletion `clear` (its dirty mark and that
        mark's precondition) and the lease's `update` under the holder's precondition; how many writes that is
        (the lease's update is the last)."""
        for ref, data in writes:
            encoding.add_set(batch, ref, data)
        if clear is not None:
            batch.delete(clear[0], option=clear[1])
        batch.update(self._ref(lease.name), update, option=self._precondition(lease))
        return len(writes) + (2 if clear is not None else 1)

    def _commit(self, lease: Lease, writes: list[tuple[Any, dict]], update: dict,
                clear: tuple[Any, Any] | None = None) -> None:
        batch = self.client.batch()
        self._add_commit(batch, lease, writes, update, clear)
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


@dataclasses.dataclass(frozen=True)
class _Acquisition:
    name: str
    owner: str
    ttl_seconds: float
    also: tuple


@dataclasses.dataclass(frozen=True)
class _Release:
    lease: Lease
    writes: tuple


class _Member:
    __slots__ = ("item", "answer", "done")

    def __init__(self, item):
        self.item, self.answer, self.done = item, None, False


class _Group:
    """Calls made while one is in flight, made together as the next one (module doc, "Together").

    `run(item)` returns `send`'s answer for `item`; `send(items)` makes one
    call for all of them and answers each, in order. The caller that finds
    nothing in flight sends at once with whatever is waiting (at most
    `GROUP_MAX`); those that arrive meanwhile wait, and the first of them to
    wake when it is done sends the next group. Should `send` raise, its caller
    gets the error and the others of its group are answered ALONE.
    """

    def __init__(self, send: Callable[[list], list]):
        self._send = send
        self._ready = threading.Condition()
        self._waiting: list[_Member] = []
        self._sending = False

    def run(self, item):
        member = _Member(item)
        with self._ready:
            self._waiting.append(member)
            while self._sending and not member.done:
                self._ready.wait()
            if member.done:
                return member.answer
            self._sending = True
            others = [m for m in self._waiting if m is not member][:GROUP_MAX - 1]
            group = [member, *others]
            self._waiting = [m for m in self._waiting if m is not member and m not in others]
        answers = None
        try:
            answers = self._send([m.item for m in group])
        finally:
            with self._ready:
                for m, answer in zip(group, answers or [ALONE] * len(group), strict=True):
                    m.answer, m.done = answer, True
                self._sending = False
                self._ready.notify_all()
        return member.answer


def lease_state(snapshot) -> LeaseState:
    """What a lease document's snapshot says: its holder, fence and expiry (server time), for status views."""
    data = snapshot.to_dict()
    expires = _expiry(snapshot.update_time, data.get("ttl_seconds") or 0) if data.get("owner") else None
    return LeaseState(snapshot.id, data.get("owner"), int(data.get("fence") or 0), expires)


def _expiry(written_at: dt.datetime, ttl_seconds: float) -> dt.datetime:
    return written_at + dt.timedelta(seconds=float(ttl_seconds))
