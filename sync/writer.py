"""Writing what one mailbox synced: contacts first, then activities in atomic chunks, cursor last.

The rules that make a crashed-and-rerun sync leave what an uninterrupted run
leaves (SPEC §7):

- ids are deterministic (`activity_id_for`, `contact_id_for`), so a rerun
  writes the same documents, never twins;
- an activity already stored is rewritten only when something changed (a new
  holder, a new linked contact, new participants), so a rerun of unchanged
  data writes nothing;
- a chunk's writes (counters, timeline rows, activity documents) commit
  together, in one atomic commit of at most `CHUNK_WRITES_MAX` writes; a
  mailbox's cursor is written after everything it covers has been committed;
- counters (a contact's last activity and touches, a company's
  `last_activity_at`) are `Maximum` transforms, and counters, timeline rows and
  the mailbox's Gmail-id index are aggregated per chunk: one write per contact,
  per company, per contact-month bucket and per index bucket, not one per message.

Chunk commits run in the background, `COMMITTERS` at once (the emulator, like
Firestore, takes parallel commits faster than serial ones; bench/sync.py
prints both rates), while the mailbox's next messages are fetched and merged.
Bounded: at most `IN_FLIGHT_MAX` chunks wait for their commit. An activity
whose commit is still in flight is never read back half-known: whoever merges
it next waits for that commit first (`TenantState.in_flight`). `drain()` waits
for every commit and raises the first failure; the Gmail and Calendar syncs
drain before they hand back the cursor their writes cover, so the cursor still
advances only after what it covers is committed, and a crash anywhere leaves
only whole chunks behind, which a rerun completes.

An activity's `company_ids` are the stored companies of its linked contacts
(never the addresses' domains): a contact whose address is at a subdomain, or
a personal address on a contact an admin placed at a company, puts the
activity on that contact's company, the same way on every run and from every
mailbox. A contact without a company adds none.

Mailboxes of one tenant syncing at once share a `TenantState`: its lock makes
"read the stored activities, then write them" atomic within the process, and
its caches spare repeated lookups of the same addresses. It also keeps the
tenant's `TimelinePlacement` (which part of a busy month a new row goes to).
Across processes (workers syncing reps who share a thread) nothing is
read-then-overwritten: an activity is a field-level merge that writes only
this mailbox's holder (`holders.{mailbox}`) and adds linked contacts and
companies as `ArrayUnion`s and its rows' buckets one map field each, counters
are `Maximum` transforms, timeline rows and indexes merge one map field each;
releasing what a mailbox no longer holds is the one transaction
(`Repository.release_activities`), which deletes an activity only when it
reads that no other holder is left.

What a sender writes never rewrites another rep's copy (SPEC §9). An email is
found by its Message-ID, but merged into a stored activity only when the
`evidence` agrees (sender, Date header, subject: `sync.gmail.message_evidence`);
a copy that disagrees is another message, stored under a key that adds its
evidence (`distinct_key`), so neither rewrites the other and neither's
holders widen. An update never changes an email's subject, snippet or time:
what the first holder stored stands (the same message has the same ones).

A permanent per-document failure (Firestore's InvalidArgument, e.g. a
document over 1 MiB) fails one chunk's commit: its activities are then
committed one by one, and one that still fails is skipped, logged by ids and
counted (`WriteCounts.skipped`), so the mailbox and its cursor go on instead
of failing on it forever.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Iterable

from google.api_core import exceptions as core_exceptions

from models.addresses import name_key, person_name
from models.domain import Activity, ActivityKind, Company, Contact, Participant, utcnow
from models.precedence import name_rank
from models.repository import (
    COMPANY_CONTACT_SAMPLE,
    UNLINKED_IDS_MAX,
    Repository,
    Touch,
    activity_id_for,
    contact_id_for,
    message_index_bucket,
    month_of,
)
from models.rules import company_name_for
from models.signals import exchange_code, is_internal_to, thresholds_of
from models.writes import RecordingWriteSet
from sync.linking import Item, Team
from sync.people import settle_job_changes

log = logging.getLogger(__name__)

CHUNK_WRITES_MAX = 490  # Firestore takes at most 500 writes a commit; a chunk is one atomic commit
COMMITTERS = 2  # chunk commits in flight per mailbox: raw, the emulator took 2 at once 7-130% faster than 1
IN_FLIGHT_MAX = 4  # chunks built and waiting for their commit, at most, per mailbox (bounds memory)


class TenantState:
    """What the mailboxes of one tenant share during a run (see module doc)."""

    def __init__(self, repo: Repository, team: Team):
        self.repo = repo
        self.team = team
        self.lock = threading.Lock()
        self.contacts: dict[str, str | None] = {}  # address -> contact id, None when there is none
        self.company_of: dict[str, str | None] = {}  # contact id -> company id
        self.companies: set[str] = set()  # company ids known to exist
        self.sampled: dict[str, int] = {}  # company id -> contact ids its bounded sample holds
        self.created: list[str] = []  # contact ids created this run
        self.created_refreshed = 0  # how many of `created` had their signals refreshed (`refresh_signals`)
        self.in_flight: dict[str, concurrent.futures.Future] = {}  # activity id -> the commit writing it
        self.noted: set[str] = set()  # addresses noted unlinked this run: `link_pending` checks them again
        self.touched: set[str] = set()  # contact ids whose exchanges this run changed (`refresh_signals`)
        # address without a contact -> ids its `unlinked` list holds (None: it says `overflow`)
        self.unlinked: dict[str, int | None] = {}
        self.placement = repo.timeline_placement()  # used under `lock`
        # contact id -> rep -> (best name parts that rep's mail showed, their name_source): `settle_contacts`
        self.names_seen: dict[str, dict[str, tuple[tuple[str, str, str], str]]] = {}

    def note_name(self, contact_id: str, rep: str, display_name: str, email: str) -> None:
        """Remember a name a rep's mail showed for a contact, if it is the best that rep's mail showed."""
        first, middle, last, source = person_name(display_name, email)  # cached: `models.addresses`
        parsed = ((first, middle, last), source)
        seen = self.names_seen.setdefault(contact_id, {})
        if rep not in seen or name_rank(*parsed) > name_rank(*seen[rep]):
            seen[rep] = parsed


def distinct_key(item: Item) -> str:
    """The key of an email whose Message-ID a different message already holds (module doc)."""
    return f"{item.external_key}\n{item.evidence}"


@dataclasses.dataclass
class WriteCounts:
    stored: int = 0  # activities written (new or changed)
    unchanged: int = 0
    removed: int = 0  # holders dropped (activities deleted when none was left)
    contacts_created: int = 0
    skipped: int = 0  # activities whose writes Firestore refused for good (module doc)


class SyncWriter:
    """One mailbox's writes: chunk commits in the background, the rest through one buffered batch."""

    def __init__(self, state: TenantState, mailbox: str, chunk_writes_max: int = CHUNK_WRITES_MAX):
        self.state = state
        self.chunk_writes_max = chunk_writes_max  # writes of one chunk's atomic commit, at most
        self.repo = state.repo
        self.team = state.team
        self.mailbox = mailbox
        self.batch = self.repo.batch()
        self.counts = WriteCounts()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(IN_FLIGHT_MAX)
        self._pending: list[concurrent.futures.Future] = []
        self._committed = 0  # writes of chunk commits that succeeded
        self._committed_lock = threading.Lock()
        self._named = False  # the rep's own name was recorded this run

    @property
    def writes(self) -> int:
        return self.batch.writes + self._committed

    # --- storing messages and meetings --------------------------------------------------------

    def store(self, items: list[Item]) -> None:
        """Link and write items: contacts for the whole list first (oldest first), then chunks.

        The tenant's exclusions are read again first (one get a group), so an
        exclusion an admin adds mid-run stops matching mail within a group; a
        group already being written when it is added can still land, and adding
        the exclusion again purges it. Nothing to store reads nothing (an
        unchanged mailbox's calendar).
        """
        if not items:
            return
        self.team.update_exclusions(self.repo.get_settings().exclusions)
        kept = []
        for item in items:
            if self.team.excludes(item):
                continue
            self.team.arrange(item)
            kept.append(item)
        if not kept:
            return
        kept.sort(key=lambda i: (i.at, i.activity_id))  # a chunk then spans a short time: fewer buckets
        self._note_own_name(kept)
        with self.state.lock:
            self._lookup({p.email for item in kept for p in self.team.external(item)})
            self._create_contacts(kept)
            for item in kept:
                for person in self.team.external(item):
                    contact_id = self.state.contacts.get(person.email)
                    if contact_id:
                        self.state.note_name(contact_id, self.mailbox, person.name, person.email)
            self._write_activities(kept)

    def _note_own_name(self, items: list[Item]) -> None:
        """The rep's display name from the From header of their own mail, once a run (`record_rep_name`)."""
        if self._named:
            return
        name = next((p.name for item in items for p in item.participants
                     if p.role == "from" and p.email == self.mailbox and p.name), "")
        if name:
            self._named = True
            self.repo.record_rep_name(self.batch, self.mailbox, name)

    def _lookup(self, emails: set[str]) -> None:
        missing = [e for e in emails if e not in self.state.contacts]
        if missing:
            found = self.repo.contact_ids_by_email(missing)
            for email in missing:
                self.state.contacts[email] = found.get(email)
            nobody = [email for email in missing if email not in found]
            counts = self.repo.unlinked_counts(nobody) if nobody else {}
            for email in nobody:
                self.state.unlinked.setdefault(email, counts.get(email, 0))
            self._load_contacts([cid for cid in found.values() if cid not in self.state.company_of])

    def _load_contacts(self, contact_ids: list[str]) -> None:
        """Company and timeline placement of stored contacts (linking needs them)."""
        if not contact_ids:
            return
        for contact_id, contact in self.repo.get_contacts(contact_ids).items():
            self.state.placement.learn(contact)
            self.state.company_of[contact_id] = contact.company_id

    def _create_contacts(self, items: list[Item]) -> None:
        """Create the contacts this group's creatable people lack, each with its latest activity so far.

        `last_activity_at` at creation is the latest item of the group that has happened by now (an
        upcoming meeting is not an activity yet: `Repository.record_touches`' rule). So it is never more
        than what the touches of the contact's activities raise it to, whichever mailbox and group create
        the contact: a contact first met in a rep's calendar holding a meeting next week, or in a
        teammate's sent mail, ends with the same value (it used to keep the meeting's date when the
        calendar came first, the fault-injected convergence test's rare failure).
        """
        planned: dict[str, Participant] = {}  # the best-ranked name this group shows (`_better_name`)
        latest: dict[str, float] = {}  # each new contact's latest past activity in the group (epoch)
        now = utcnow()
        for item in sorted(items, key=lambda i: (i.at, i.activity_id)):
            for person in self.team.creatable(item):
                if self.state.contacts.get(person.email):
                    continue
                if item.at <= now:
                    latest[person.email] = item.at.timestamp()
                if person.email not in planned or self._better_name(person, planned[person.email]):
                    planned[person.email] = person
        if not planned:
            return
        contacts = []
        for email, person in planned.items():
            first, middle, last, source = person_name(person.name, email)
            contact = Contact(id=contact_id_for(email), emails=[email], first_name=first, middle_name=middle,
                              last_name=last, company_id=self.team.company_of(email), owner=self.mailbox,
                              source="sync", name_source=source)
            contacts.append((contact, name_key(first, last)))
        self._load_companies([c.company_id for c, _ in contacts if c.company_id])
        # a known person at a new corporate domain is judged after the pass, on evidence beyond the
        # name (sync.people.settle_job_changes, after the pass), never here from the name alone
        self.batch.commit()
        for contact, key in contacts:
            new_company = None
            if contact.company_id and contact.company_id not in self.state.companies:
                new_company = Company(id=contact.company_id, name=company_name_for(contact.company_id))
                self.state.companies.add(contact.company_id)
            sampled = self.state.sampled.get(contact.company_id or "", 0)
            self.state.sampled[contact.company_id or ""] = sampled + 1
            self.repo.put_synced_contact(self.batch, contact, key, new_company,
                                         in_sample=sampled < COMPANY_CONTACT_SAMPLE,
                                         seen_at=latest.get(contact.primary_email))
            self.state.placement.learn_new(contact.id)
            self.state.contacts[contact.primary_email] = contact.id
            self.state.company_of[contact.id] = contact.company_id
            self.state.created.append(contact.id)
        self.batch.commit()
        self.counts.contacts_created += len(contacts)

    def _better_name(self, person: Participant, than: Participant) -> bool:
        """Whether `person`'s display name makes a better name than `than`'s (`models.precedence.name_rank`)."""
        first, second = (person_name(who.name, who.email) for who in (person, than))
        return name_rank(first[:3], first[3]) > name_rank(second[:3], second[3])

    def _load_companies(self, ids: list[str]) -> None:
        missing = [c for c in dict.fromkeys(ids) if c not in self.state.companies]
        if missing:
            found = self.repo.get_companies(missing)
            self.state.companies.update(found)
            for company_id, company in found.items():
                self.state.sampled.setdefault(company_id, len(company.contact_ids))

    def _write_activities(self, items: list[Item]) -> None:
        """Merge items with what is stored (one batched read), then commit what changed in chunks."""
        ids = list(dict.fromkeys(item.activity_id for item in items))
        for activity_id in ids:  # an activity a commit in flight writes is read only once it landed
            future = self.state.in_flight.get(activity_id)
            if future is not None and not future.done():
                concurrent.futures.wait([future])
        stored = self.repo.get_activities(ids)
        self._separate_distinct(items, stored)
        activities: dict[str, Activity] = {}
        for item in items:
            old = activities.get(item.activity_id) or stored.get(item.activity_id)
            activity = self._merge(item, old)
            if activity is None:
                self.counts.unchanged += 1
                continue
            activities[activity.id] = activity
        chunk: list[Activity] = []
        documents: set[tuple[str, str]] = set()  # what the chunk writes, as (kind, id): its write count
        for activity in activities.values():
            adds = self._documents(activity) - documents
            if chunk and len(documents) + len(adds) > self.chunk_writes_max:
                self._submit(chunk)
                chunk, documents, adds = [], set(), self._documents(activity)
            chunk.append(activity)
            documents |= adds
        if chunk:
            self._submit(chunk)
        self.counts.stored += len(activities)

    def _separate_distinct(self, items: list[Item], stored: dict[str, Activity]) -> None:
        """Re-key each email whose evidence differs from what its Message-ID's activity holds (module doc).

        The first of the group's items with a key counts as stored when nothing
        is, so two different messages sharing a Message-ID in one group part too.
        """
        first: dict[str, str] = {a.id: a.evidence for a in stored.values()}
        moved = []
        for item in items:
            if item.kind != ActivityKind.EMAIL or not item.evidence:
                continue
            held = first.setdefault(item.activity_id, item.evidence)
            if held and held != item.evidence:
                item.external_key = distinct_key(item)
                item.activity_id = activity_id_for(item.external_key)
                moved.append(item.activity_id)
        if moved:
            for activity_id in moved:
                future = self.state.in_flight.get(activity_id)
                if future is not None and not future.done():
                    concurrent.futures.wait([future])
            stored.update(self.repo.get_activities(moved))

    def _documents(self, activity: Activity) -> set[tuple[str, str]]:
        """The documents `_chunk_writes` writes for this activity (each once a chunk)."""
        month = month_of(activity.at)
        found = {("activity", activity.id)}
        found.update(("contact", c) for c in activity.contact_ids)
        found.update(("timeline", c) for c in activity.contact_ids)  # its buckets' counts and spans
        found.update(("bucket", f"{c}/{month}") for c in activity.contact_ids)
        found.update(("company", c) for c in activity.company_ids)
        found.update(("unlinked", p.email) for p in self.team.external_participants(activity.participants)
                     if not self.state.contacts.get(p.email) and not self.team.is_role(p.email))
        if activity.kind == ActivityKind.EMAIL:
            found.add(("message_index", message_index_bucket(activity.holders[self.mailbox])))
        return found

    def _chunk_writes(self, activities: list[Activity]) -> RecordingWriteSet:
        """Every write a chunk makes: counters per contact and company, buckets, unlinked notes, activities."""
        writes = RecordingWriteSet()  # exactly one write per document `_documents` names
        # places new rows first; field-level, naming this mailbox's holder only (module doc)
        self.repo.put_activities(writes, activities, self.state.placement, holders=[self.mailbox])
        touches: dict[str, list[Touch]] = collections.defaultdict(list)
        companies: dict[str, dt.datetime] = {}
        unlinked: dict[str, list[str]] = collections.defaultdict(list)
        now = utcnow()
        for activity in activities:
            for contact_id in activity.contact_ids:  # with what it says of the relationship (models.signals)
                exchange = exchange_code(activity, contact_id, self.state.contacts.get, self.team.is_internal, now)
                touches[contact_id].append(Touch(activity.at, activity.kind, self.mailbox, activity.id, exchange,
                                                 bucket=activity.timeline_buckets.get(contact_id)))
            for company_id in activity.company_ids:
                companies[company_id] = max(companies.get(company_id, activity.at), activity.at)
            for person in self.team.external_participants(activity.participants):
                if not self.state.contacts.get(person.email) and not self.team.is_role(person.email):
                    unlinked[person.email].append(activity.id)
        self.state.touched.update(touches)
        for contact_id, marks in touches.items():
            self.repo.record_touches(writes, contact_id, marks, now)
        for company_id, at in companies.items():
            self.repo.record_company_activity(writes, company_id, at)
        for email, activity_ids in unlinked.items():
            noted = self.state.unlinked.get(email, 0)
            if noted is None:
                continue  # its list already says `overflow`
            if noted < UNLINKED_IDS_MAX:
                self.repo.note_unlinked(writes, email, activity_ids)
                self.state.unlinked[email] = noted + len(activity_ids)
            else:
                self.repo.note_unlinked(writes, email, activity_ids, overflow=True)
                self.state.unlinked[email] = None
        self.state.noted.update(unlinked)
        # the Gmail card finds a synced message by its Gmail id with one get (Repository.get_message)
        self.repo.record_synced_messages(writes, self.mailbox, {
            a.holders[self.mailbox]: a.id for a in activities if a.kind == ActivityKind.EMAIL})
        return writes

    def _submit(self, chunk: list[Activity]) -> None:
        """Commit one chunk in the background (waiting while `IN_FLIGHT_MAX` are already in flight)."""
        self._raise_failed()
        writes = self._chunk_writes(chunk)
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(COMMITTERS, thread_name_prefix="commit")
        self._slots.acquire()
        future = self._pool.submit(self._commit, writes, chunk)
        future.add_done_callback(lambda _: self._slots.release())
        self._pending.append(future)
        for activity in chunk:
            self.state.in_flight[activity.id] = future

    def _commit(self, writes: RecordingWriteSet, chunk: list[Activity]) -> None:
        """One atomic commit (several only for a lone activity too big for one: `Repository.commit_recorded`).

        Refused for good (InvalidArgument): the chunk's activities one by one, skipping those refused.
        """
        try:
            committed = self.repo.commit_recorded(writes)
        except core_exceptions.InvalidArgument:
            committed = 0
            for activity in chunk:  # every row is placed already, so this places nothing again
                try:
                    committed += self.repo.commit_recorded(self._chunk_writes([activity]))
                except core_exceptions.InvalidArgument as exc:
                    with self._committed_lock:
                        self.counts.skipped += 1
                    log.warning("activity skipped mailbox=%s activity=%s held_id=%s reason=%s", self.mailbox,
                                activity.id, activity.holders.get(self.mailbox), type(exc).__name__)
        with self._committed_lock:
            self._committed += committed

    def _raise_failed(self) -> None:
        for future in self._pending:
            if future.done() and future.exception() is not None:
                raise future.exception()

    def drain(self) -> None:
        """Wait until every chunk commit has landed; raise the first that failed."""
        pending, self._pending = self._pending, []
        concurrent.futures.wait(pending)
        for future in pending:
            if future.exception() is not None:
                raise future.exception()

    def settle(self) -> None:
        """Wait for the commits in flight after a failure; theirs are logged, the mailbox's stands."""
        try:
            self.drain()
        except Exception as exc:  # the mailbox has already failed with its own reason
            log.warning("chunk commit failed mailbox=%s error=%s", self.mailbox, type(exc).__name__)

    def _merge(self, item: Item, old: Activity | None) -> Activity | None:
        """The activity to write for `item`, or None when what is stored already says it all."""
        linked = [self.state.contacts.get(p.email) for p in self.team.external(item)]
        contact_ids = list(dict.fromkeys(c for c in linked if c))
        participants = list(item.participants)
        holders = {self.mailbox: item.held_id}
        created_at = None
        placed: dict[str, str] = {}
        if old is not None and item.kind == ActivityKind.EMAIL:
            # the same message has the same subject, snippet and time in every mailbox: the first stands
            item = dataclasses.replace(item, subject=old.subject, snippet=old.snippet, at=old.at,
                                       end_at=old.end_at)
        if old is not None:
            placed = dict(old.timeline_buckets)
            contact_ids = old.contact_ids + [c for c in contact_ids if c not in old.contact_ids]
            known = {p.email for p in old.participants}
            participants = old.participants + [p for p in item.participants if p.email not in known]
            self.team.arrange_participants(participants)
            holders = {**old.holders, self.mailbox: item.held_id}
            unchanged = (holders == old.holders and contact_ids == old.contact_ids
                         and len(participants) == len(old.participants) and old.private == item.private
                         and (old.subject, old.at, old.end_at) == (item.subject, item.at, item.end_at))
            if unchanged:
                return None
            created_at = old.created_at
        companies = sorted({self.state.company_of.get(c) or "" for c in contact_ids} - {""})  # see module doc
        private = item.private or (old is not None and old.private)  # one holder's private copy keeps it private
        if private:
            participants = [dataclasses.replace(p, name="") for p in participants]
        activity = Activity(id=item.activity_id, kind=item.kind, at=item.at, subject="" if private else item.subject,
                            snippet=item.snippet, participants=participants, contact_ids=contact_ids,
                            company_ids=companies, holders=holders, end_at=item.end_at,
                            external_key=item.external_key, utc_offset=item.utc_offset,
                            evidence=(old.evidence if old else "") or item.evidence,
                            timeline_buckets=placed, private=private)
        activity.direction = self.team.direction_of(activity.participants, item.kind)
        if created_at is not None:
            activity.created_at = created_at
        return activity

    # --- removing what a mailbox no longer holds ------------------------------------------------

    def release(self, activities: list[Activity]) -> None:
        """Drop this mailbox from each activity's holders; an activity nobody holds is deleted."""
        self.drain()
        with self.state.lock:
            self.batch.commit()
            held = [activity for activity in activities if self.mailbox in activity.holders]
            # decided where it is stored, in a transaction: another process may hold them too (module doc)
            self.counts.removed += self.repo.release_activities(self.mailbox, [a.id for a in held])
            for activity in held:  # their signals are refreshed (an activity removed takes its exchanges)
                self.state.touched.update(activity.contact_ids)

    def release_held(self, held_ids: list[str], kind: str) -> None:
        """Release the activities holding these Gmail message or Calendar event ids here."""
        if not held_ids:
            return
        wanted = set(held_ids)
        self.drain()
        found = self.repo.activities_held_by(self.mailbox, held_ids)
        self.release([a for a in found if a.kind == kind and a.holders.get(self.mailbox) in wanted])

    def flush(self) -> None:
        """Commit everything: chunks in flight, then what the buffered batch holds."""
        self.drain()
        self.batch.commit()

    def close(self) -> None:
        self.settle()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def refresh_signals(state: TenantState, passed_meetings: bool = True) -> int:
    """After a pass (a worker: after each mailbox): what the contacts touched, and those created, since the
    last refresh keep of their signals, and with `passed_meetings` those whose meeting passed (a query).

    A contact created is refreshed once, after the link that gives it its
    exchanges; later changes to it come as touches. Returns the Firestore
    writes made (none when nothing changed: a no-op pass costs the query,
    when asked for, and nothing else).
    """
    repo, now = state.repo, utcnow()
    contact_ids = state.touched | set(state.created[state.created_refreshed:])
    if passed_meetings:
        contact_ids |= set(repo.contacts_with_passed_meetings(now))
    state.touched.clear()  # in place, under the caller's lock: a worker's refreshed state shares the set
    state.created_refreshed = len(state.created)
    if not contact_ids:
        return 0
    return repo.refresh_signals(sorted(contact_ids), thresholds_of(repo.get_settings()), now)


def settle_contacts(state: TenantState) -> int:
    """After a pass: the contacts it linked get their order-independent name and owner, and the job-change
    flags of their names are judged again (`Repository.settle_synced_contacts`, `sync.people.settle_job_changes`;
    rules in `models.precedence`); the contacts changed.

    It runs after every write of the pass, so of two processes settling the
    same people, the later one sees both passes' contacts and activities.
    """
    with state.lock:  # emptied in place: a worker's refreshed state shares the dict (`SyncRun.refresh`)
        seen = dict(state.names_seen)
        state.names_seen.clear()
    if not seen:
        return 0
    return state.repo.settle_synced_contacts(seen) + settle_job_changes(state.repo, state.team, seen)


def link_pending(repo: Repository, noted: Iterable[str] = ()) -> int:
    """Link contacts sync created to activities other mailboxes stored before they existed.

    Runs after a pass's mailboxes have all finished. The flag `link_pending` is
    cleared only after the links are committed, so a crash leaves it to redo.
    `noted` are the addresses this process noted unlinked: another process may
    have created their contact (and run its own `link_pending`) between this
    one's look-up and its note, so they are looked up again: of two processes,
    one of the two always sees the other's contact or note.
    Returns the number of Firestore writes it made.
    """
    pending = repo.contacts_pending_links()
    known = {email for contact in pending for email in contact.emails}
    late = repo.contact_ids_by_email([e for e in noted if e not in known])
    if late:
        pending += [c for cid, c in repo.get_contacts(set(late.values())).items()
                    if cid not in {p.id for p in pending}]
    if not pending:
        return 0
    by_email = {email: contact.id for contact in pending for email in contact.emails}
    company_of = {contact.id: contact.company_id for contact in pending}
    noted = repo.unlinked_activity_ids(by_email)
    touches: dict[str, list[Touch]] = collections.defaultdict(list)
    companies: dict[str, dt.datetime] = {}
    changed, links = [], []
    settings, now = repo.get_settings(), utcnow()
    internal = is_internal_to([repo.tenant, *settings.internal_domains])
    for activity in repo.get_activities(aid for ids in noted.values() for aid in ids).values():
        linked = list(dict.fromkeys(by_email[p.email] for p in activity.participants if p.email in by_email))
        links.append((activity, linked))
        added = [c for c in linked if c not in activity.contact_ids]
        if not added:
            continue
        activity.contact_ids = activity.contact_ids + added
        activity.company_ids = sorted(set(activity.company_ids) | {company_of[c] for c in added if company_of[c]})
        changed.append(activity)
        for company_id in activity.company_ids:
            companies[company_id] = max(companies.get(company_id, activity.at), activity.at)
    with repo.batch() as batch:
        # new links only (holders are their mailboxes'); places the new rows first
        repo.put_activities(batch, changed, holders=())
        # every holder touches the contact: a holder in another process may have linked it already, but
        # only for its own mailbox (touches are `Maximum`s, exchanges one field each: recording them again
        # changes nothing)
        for activity, linked in links:
            for contact_id in linked:  # with what it says of the relationship (models.signals)
                exchange = exchange_code(activity, contact_id, by_email.get, internal, now)
                for rep in activity.holders:
                    touches[contact_id].append(Touch(activity.at, activity.kind, rep, activity.id, exchange,
                                                     bucket=activity.timeline_buckets.get(contact_id)))
        for contact_id, marks in touches.items():
            repo.record_touches(batch, contact_id, marks, now)
        for company_id, at in companies.items():
            repo.record_company_activity(batch, company_id, at)
        batch.commit()
        for email in noted:
            repo.forget_unlinked(batch, email)
        for contact in pending:
            repo.clear_pending_link(batch, contact.id)
    log.info("linked tenant=%s contacts=%d activities=%d", repo.tenant, len(pending), len(changed))
    return batch.writes
