"""Gmail sync for one mailbox (SPEC §7): a backfill, newest first and resumable, then history.list.

A run (`GmailSync.run`) syncs new mail first: `history.list` (messageAdded,
messageDeleted) from the stored history id, paged. Then, while the mailbox has
a backfill under way, it resumes it.

Backfill (a full sync: the first run, or a resync after a 404 says the history
id expired). It starts by taking the profile's history id, which becomes the
mailbox's history id at once: incremental sync covers everything after it, the
backfill everything before, back to SIDECAR_BACKFILL_DAYS (`begin_backfill`).
Each run of it lists the window up to the backfill's start (`messages.list`,
500 a page, 5 units: 100 units for 10,000 messages), leaving out what is never
stored (`NEVER_STORED_QUERY`), newest first with each thread's messages
together (`order_by_thread`), and fetches and stores it in groups of
`FETCH_GROUP`, newest first; the last `RECENT_DAYS` (listed once more on
their own, at 5 units a page) end a group, so they are all stored before any
older mail but their threads': a rep's last weeks are stored in the first
minutes. Metadata comes through batches with only the headers linking needs:
a thread whose listed messages cost more one by one than one `threads.get`
(3 or more at the 2026 and the legacy prices) comes whole from `threads.get`,
the rest from `messages.get` (`MailboxApi.get_messages`).

The backfill cursor (`Mailbox.backfill_cursor`: the last ids stored, with the
counts, the date reached and the estimate of time left) is saved after each
group, once the group's writes are committed (the same rule as the history
id), through the mailbox's lease (`checkpoint`: a fenced commit, so a worker
that lost its lease never moves it and stops there): a backfill stopped
anywhere, by a stop, a failure or a crash, resumes after the last group it
stored and fetches nothing of it again (`resume_at`; only groups fetched ahead
and not yet stored are fetched again). New mail is
not held up behind a long backfill: each run syncs it first, every
`BACKFILL_SLICE_SECONDS` of backfill it is synced again in between groups, and
the daemon bounds a mailbox's backfill to one sync interval a pass
(`SyncRun(backfill_seconds=...)`), so a 10,000-message backfill (about 20
minutes at the 2026 per-user quota) resumes over a few passes and holds up no
other mailbox. A resync, once its backfill is done, drops this mailbox from
what it held in the window and no longer lists. Progress: a `key=value` line
per mailbox at most every `PROGRESS_LOG_SECONDS` (`log_progress`), the
Mailbox's fields for `python -m sync status`, and `models.progress` for cards.

Fetching and writing overlap (`_fetched`): background threads fetch the next
groups of messages (Gmail batches; `FETCHERS` groups at once, so one batch's
round trip overlaps another's parsing) while the caller links and commits the
current one, through a queue of at most `FETCH_AHEAD` groups, handed over in
order. The fetchers call only `MailboxApi.get_messages`, which is built for
several threads (each its own connection, the quota windows shared under
locks), so the caller may sync new mail between groups meanwhile; they are
joined before the sync goes on.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime as dt
import email.utils
import hashlib
import html
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from googleapiclient.errors import HttpError

from models.addresses import decode_words, parse_address_list
from models.domain import GMAIL_CATEGORIES, ActivityKind, Mailbox, Participant, utcnow
from models.repository import activity_id_for
from sync.api import MailboxApi, order_by_thread, status_of
from sync.budget import BackfillPaused
from sync.linking import Item
from sync.writer import SyncWriter

log = logging.getLogger(__name__)

METADATA_HEADERS = ["From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
                    "List-Id", "List-Unsubscribe", "Precedence", "Auto-Submitted"]  # SPEC §7: only these
SKIPPED_LABELS = frozenset({"SPAM", "TRASH", "DRAFT", "CHAT"})
BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
MESSAGES_PAGE_MAX = 500  # messages.list maxResults maximum
HISTORY_PAGE_MAX = 500  # history.list maxResults maximum
FETCH_GROUP = 500  # ids fetched (10 batches) and stored as one group: one read of the stored activities
FETCH_AHEAD = 2  # fetched groups waiting for the writes, at most (bounds memory)
FETCHERS = 2  # groups fetched at once: measured, the fetch was the pipeline's slowest stage with one
QUEUE_POLL_SECONDS = 0.2  # how often a fetcher waiting for room checks that the writer still wants more
HISTORY_TYPES = ["messageAdded", "messageDeleted"]
# What is never stored (SKIPPED_LABELS) is never listed, so never paid for (Gmail's search operators).
NEVER_STORED_QUERY = "-in:spam -in:trash -in:drafts -in:chats"
CATEGORY_LABEL = "CATEGORY_"  # Gmail's label of a tab: category:promotions is CATEGORY_PROMOTIONS


def category_names(names: list[str]) -> list[str]:
    """The tenant's skipped categories that Gmail knows (GMAIL_CATEGORIES), lower case, in its order."""
    wanted = {name.strip().lower() for name in names or ()}
    return [name for name in GMAIL_CATEGORIES if name in wanted]
ADDRESS_HEADERS = (("from", "from"), ("to", "to"), ("cc", "cc"), ("bcc", "bcc"))
BACKFILL_SLICE_SECONDS = 60.0  # during a backfill, new mail (history.list, 2 units) is synced at least this often
RECENT_DAYS = 30  # "a rep's last weeks": a backfill's first groups hold them and nothing older but their threads
CURSOR_IDS = 20  # ids a backfill cursor keeps (resume_at): enough that deleting a few never loses it
PROGRESS_LOG_SECONDS = 10.0  # a backfill's progress line: at most one this often per mailbox
_progress_logged: dict[str, float] = {}  # mailbox -> when its last progress line was logged (time.monotonic)
_progress_lock = threading.Lock()


def log_progress(mailbox: Mailbox, clock: Callable[[], float] = time.monotonic) -> bool:
    """One key=value line of a mailbox's backfill progress, at most every PROGRESS_LOG_SECONDS (and
    always the last); counts and dates only, never content. True when it logged."""
    if mailbox.backfill_since is None:
        return False
    now = clock()
    with _progress_lock:
        last = _progress_logged.get(mailbox.email)
        if mailbox.backfilling and last is not None and now - last < PROGRESS_LOG_SECONDS:
            return False
        _progress_logged[mailbox.email] = now
    left = mailbox.backfill_seconds_left
    log.info("backfill progress mailbox=%s state=%s reached=%s listed=%d total=%d stored=%d units=%d "
             "seconds_left=%s", mailbox.email, "running" if mailbox.backfilling else "done",
             mailbox.backfill_reached.date() if mailbox.backfill_reached else "-", mailbox.backfill_listed,
             mailbox.backfill_total, mailbox.backfill_stored, mailbox.backfill_units,
             "-" if left is None else f"{left:.0f}")
    return True


def is_bulk(headers: dict[str, str]) -> bool:
    """Mailing lists, newsletters and machine mail (SPEC §7): never a reason to create a contact."""
    auto = headers.get("auto-submitted", "").strip().lower()
    return bool(headers.get("list-id") or headers.get("list-unsubscribe")
                or headers.get("precedence", "").strip().lower() in BULK_PRECEDENCE
                or (auto and auto != "no"))


def date_offset(headers: dict[str, str]) -> int | None:
    """The Date header's offset from UTC in minutes (the sender's time zone), None when absent or unparsable."""
    try:
        parsed = email.utils.parsedate_to_datetime(headers.get("date") or "")
    except (TypeError, ValueError, IndexError):
        return None
    offset = parsed.utcoffset() if parsed.tzinfo is not None else None
    return int(offset.total_seconds() // 60) if offset is not None else None


def message_time(headers: dict[str, str], internal_date: str | None) -> dt.datetime:
    """The Date header (the same in every mailbox holding the mail), else Gmail's internalDate."""
    raw = headers.get("date")
    if raw:
        try:
            parsed = email.utils.parsedate_to_datetime(raw)
            if parsed.tzinfo is not None:
                return parsed.astimezone(dt.UTC)
        except (TypeError, ValueError, IndexError):
            pass
    return dt.datetime.fromtimestamp(int(internal_date or 0) / 1000, dt.UTC)


def message_evidence(participants: list[Participant], headers: dict[str, str], subject: str) -> str:
    """What identifies an email beyond its Message-ID: its sender, its Date header and its subject, digested.

    Every copy of one message carries the same three (the sent copy and each
    recipient's), while a second message reusing the Message-ID almost never
    does: `sync.writer` merges copies only when this agrees (SPEC §9).
    """
    sender = next((p.email for p in participants if p.role == "from"), "")
    raw = "\n".join([sender, " ".join(headers.get("date", "").split()), subject])
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def parse_message(message: dict, mailbox: str,
                  addresses: Callable[[str], list[tuple[str, str]]] = parse_address_list) -> Item | None:
    """A metadata-format message as an Item; None for what is never stored (SPAM, TRASH, DRAFT, CHAT).

    `addresses` parses one address header (a per-run cache of `parse_address_list` in a sync).
    """
    if SKIPPED_LABELS.intersection(message.get("labelIds") or ()):
        return None
    headers: dict[str, str] = {}
    for header in (message.get("payload") or {}).get("headers") or ():
        name = header.get("name", "").lower()
        value = header.get("value") or ""
        headers[name] = f"{headers[name]}, {value}" if name in headers and name in ("to", "cc", "bcc") else value
    participants: list[Participant] = []
    seen = set()
    for header, role in ADDRESS_HEADERS:
        for name, address in addresses(headers.get(header, "")):
            if address not in seen:
                seen.add(address)
                participants.append(Participant(email=address, name=name, role=role))
    message_id = headers.get("message-id", "").strip()
    key = message_id or f"gmail:{mailbox}:{message['id']}"
    subject = decode_words(headers.get("subject", "")).strip()
    return Item(external_key=key, activity_id=activity_id_for(key), kind=ActivityKind.EMAIL, held_id=message["id"],
                at=message_time(headers, message.get("internalDate")), subject=subject,
                snippet=html.unescape(message.get("snippet") or ""), participants=participants,
                bulk=is_bulk(headers), utc_offset=date_offset(headers),
                evidence=message_evidence(participants, headers, subject),
                address_text=tuple(headers[h] for h, _ in ADDRESS_HEADERS if headers.get(h)))


@dataclasses.dataclass
class Fetched:
    """One group of listed ids, its messages to store, and what the backfill records of it."""

    ids: list[str]
    items: list[Item]
    oldest_ms: int | None = None  # the oldest internalDate among the group's messages found
    meta: Any = None  # what the group's producer attached (the backfill: the group's last ids)


def resume_at(ordered: list[str], cursor: list[str]) -> int:
    """Where a backfill resumes in its listing: after the last of the cursor's ids still listed
    (0 for a new one). Messages deleted or moved to spam meanwhile drop out of the listing; those
    in the cursor are why it keeps several ids."""
    if not cursor:
        return 0
    wanted = set(cursor)
    for index in range(len(ordered) - 1, -1, -1):
        if ordered[index] in wanted:
            return index + 1
    log.warning("backfill cursor not found state=restart ids=%d", len(cursor))
    return 0


class GmailSync:
    def __init__(self, api: MailboxApi, writer: SyncWriter, backfill_days: int, fetch_group: int = FETCH_GROUP, *,
                 checkpoint: Callable[[Mailbox], None], list_page: int = MESSAGES_PAGE_MAX):
        self.api = api
        self.writer = writer
        self.backfill_days = backfill_days
        self.fetch_group = fetch_group  # messages fetched and stored as one group
        self.list_page = list_page  # ids a messages.list page (its maxResults)
        # saves the cursors mid-sync through the mailbox's lease (sync.leasing.Heartbeat.checkpoint): a
        # worker that lost its lease never moves one (models.leases.Fenced is raised and the sync ends)
        self.checkpoint = checkpoint
        self.messages = 0  # messages stored or updated this run
        self._addresses: dict[str, list[tuple[str, str]]] = {}  # header value -> parsed, for this run
        self._thread_of: dict[str, str] = {}  # message id -> thread id, as the listing gave them
        self.skipped_categories: list[str] | None = None  # the tenant's (Settings), read once a run

    def run(self, mailbox: Mailbox, deadline: float | None = None) -> str:
        """Sync, and return the history id that the caller may store once the writes are committed.

        New mail first (`incremental`), then the backfill resumes where its cursor
        stands; `deadline` (time.monotonic) ends the backfill's slice for this run
        after the groups already being fetched are stored. The Mailbox's cursors
        (`history_id`, the `backfill_*` fields) are advanced in place and saved
        after the writes they cover.
        """
        if mailbox.history_id:
            try:
                mailbox.history_id = self.incremental(mailbox.history_id)
            except HttpError as exc:
                if status_of(exc) != 404:
                    raise
                log.info("history expired mailbox=%s state=resync", mailbox.email)
                self.begin_backfill(mailbox, resync=True)
        else:
            self.begin_backfill(mailbox, resync=False)
        if mailbox.backfilling:
            self.backfill(mailbox, deadline)
        return mailbox.history_id

    def begin_backfill(self, mailbox: Mailbox, resync: bool) -> None:
        """Take the history id (incremental sync covers everything after it) and start a backfill of
        everything before it, back to the window."""
        users = self.api.gmail["users"]
        mailbox.history_id = self.api.call(users.getProfile(userId="me"))["historyId"]
        now = utcnow()
        mailbox.backfill_since = now - dt.timedelta(days=self.backfill_days)
        mailbox.backfill_started_at, mailbox.backfill_done_at = now, None
        mailbox.backfill_cursor, mailbox.backfill_reached, mailbox.backfill_seconds_left = [], None, None
        mailbox.backfill_listed = mailbox.backfill_total = mailbox.backfill_stored = mailbox.backfill_units = 0
        mailbox.backfill_resync = resync

    def backfill(self, mailbox: Mailbox, deadline: float | None = None) -> None:
        """Store the listing's messages in groups from the backfill cursor on, newest first; after each
        group, advance the cursor and save the mailbox (module doc)."""
        ordered = self._list_ids(self._backfill_query(mailbox), by_thread=True)
        start = resume_at(ordered, mailbox.backfill_cursor)
        mailbox.backfill_total = mailbox.backfill_listed + len(ordered) - start
        recent_end = 0
        # the last RECENT_DAYS end a group, all stored before anything older; a window of one page (at the
        # production sizes, one group) gains nothing from it and its listing would cost twice
        if len(ordered) - start > self.list_page:
            recent_since = max(mailbox.backfill_since, mailbox.backfill_started_at - dt.timedelta(days=RECENT_DAYS))
            recent = set(self._list_ids(self._backfill_query(mailbox, recent_since)))
            recent_end = max((i + 1 for i, message_id in enumerate(ordered) if message_id in recent), default=0)
        log.info("backfill mailbox=%s since=%s listed=%d recent=%d done=%d resync=%s", mailbox.email,
                 mailbox.backfill_since.date(), len(ordered), recent_end, start, mailbox.backfill_resync)
        enough = threading.Event()
        group = self.fetch_group
        cuts = [*range(start, recent_end, group), *range(max(start, recent_end), len(ordered), group),
                len(ordered)]
        groups = ((ordered[first:end], ordered[max(first, end - CURSOR_IDS):end])
                  for first, end in itertools.pairwise(cuts)
                  if self.api.open_for_backfill())  # past the day's backfill share no group starts (sync.budget)
        spent = self.api.gmail_quota.total
        done = start
        try:
            done = self._backfill_groups(mailbox, ordered, groups, enough, done, spent, deadline)
        except BackfillPaused as paused:  # a group's grant refused past the day's share: resume later
            log.info("backfill paused mailbox=%s reason=%s", mailbox.email, paused)
            return
        if done < len(ordered):
            if not self.api.open_for_backfill():
                log.info("backfill paused mailbox=%s reason=daily backfill share reached", mailbox.email)
            return
        if mailbox.backfill_resync:
            self._release_gone(mailbox, set(ordered))
        mailbox.backfill_done_at, mailbox.backfill_seconds_left = utcnow(), 0.0
        self._checkpoint(mailbox)
        log.info("backfill done mailbox=%s listed=%d stored=%d units=%d", mailbox.email,
                 mailbox.backfill_listed, mailbox.backfill_stored, mailbox.backfill_units)

    def _backfill_groups(self, mailbox: Mailbox, ordered: list[str], groups, enough: threading.Event, done: int,
                         spent: int, deadline: float | None) -> int:
        """Store each fetched group and checkpoint it (`backfill`); returns how many listed ids are done."""
        next_incremental = time.monotonic() + BACKFILL_SLICE_SECONDS
        for fetched in self._fetched(groups, enough):
            self._store(fetched.items)
            self.writer.drain()
            done += len(fetched.ids)
            mailbox.backfill_cursor = (mailbox.backfill_cursor + fetched.meta)[-CURSOR_IDS:]
            mailbox.backfill_listed += len(fetched.ids)
            mailbox.backfill_stored += len(fetched.items)
            if fetched.oldest_ms is not None:
                oldest = dt.datetime.fromtimestamp(fetched.oldest_ms / 1000, dt.UTC)
                mailbox.backfill_reached = min(mailbox.backfill_reached or oldest, oldest)
            now_spent = self.api.gmail_quota.total
            mailbox.backfill_units += now_spent - spent
            spent = now_spent
            self._estimate(mailbox)
            self._checkpoint(mailbox)
            if deadline is not None and time.monotonic() >= deadline:
                enough.set()  # the groups already being fetched are still stored; no other starts
            if done < len(ordered) and time.monotonic() >= next_incremental:
                mailbox.history_id = self.incremental(mailbox.history_id)  # new mail is never held up
                self._checkpoint(mailbox)
                next_incremental = time.monotonic() + BACKFILL_SLICE_SECONDS
        return done

    def _backfill_query(self, mailbox: Mailbox, since: dt.datetime | None = None) -> str:
        """The window (or its part from `since`), up to the backfill's start (later mail is incremental
        sync's): a listing that a resumed backfill finds the same, but for what was deleted or moved meanwhile;
        without what is never stored nor the tenant's skipped categories."""
        return (f"after:{int((since or mailbox.backfill_since).timestamp())} "
                f"before:{int(mailbox.backfill_started_at.timestamp()) + 1} {NEVER_STORED_QUERY}"
                + "".join(f" -category:{name}" for name in self._skipped_categories()))

    def _skipped_categories(self) -> list[str]:
        """The tenant's skipped Gmail categories (Settings), read once a run, when first needed (a
        no-op incremental sync never reads them)."""
        if self.skipped_categories is None:
            self.skipped_categories = category_names(self.writer.repo.get_settings().skipped_categories)
        return self.skipped_categories

    def _skipped_labels(self) -> frozenset[str]:
        """Labels of what an incremental sync leaves out: what is never stored, and the skipped categories."""
        return SKIPPED_LABELS | {CATEGORY_LABEL + name.upper() for name in self._skipped_categories()}

    def _estimate(self, mailbox: Mailbox) -> None:
        """Time left at the mailbox's per-user quota, from the units a listed message has cost so far."""
        left = max(mailbox.backfill_total - mailbox.backfill_listed, 0)
        if not mailbox.backfill_listed:
            mailbox.backfill_seconds_left = None
            return
        per_message = mailbox.backfill_units / mailbox.backfill_listed
        mailbox.backfill_seconds_left = round(left * per_message / self.api.gmail_quota.budget
                                              * self.api.gmail_quota.window, 1)

    def _checkpoint(self, mailbox: Mailbox) -> None:
        """Save the cursors, fenced by the lease: every write they cover has been committed (drained) before."""
        mailbox.cursor_at = utcnow()
        self.checkpoint(mailbox)
        log_progress(mailbox)

    def _release_gone(self, mailbox: Mailbox, listed: set[str]) -> None:
        """After a resync: drop this mailbox from what it held in the window and no longer lists."""
        held = self.writer.repo.activities_held_by(self.api.mailbox)
        gone = [a for a in held if a.kind == ActivityKind.EMAIL
                and mailbox.backfill_since <= a.at < mailbox.backfill_started_at
                and a.holders.get(self.api.mailbox) not in listed]
        self.writer.release(gone)

    def incremental(self, start_history_id: str) -> str:
        history = self.api.gmail["history"]
        added: dict[str, None] = {}
        deleted: dict[str, None] = {}
        page_token, latest = None, start_history_id
        while True:
            response = self.api.call(history.list(
                userId="me", startHistoryId=start_history_id, historyTypes=HISTORY_TYPES,
                maxResults=HISTORY_PAGE_MAX, pageToken=page_token))
            for record in response.get("history") or ():
                for change in record.get("messagesAdded") or ():
                    message = change["message"]
                    if not self._skipped_labels().intersection(message.get("labelIds") or ()):
                        added[message["id"]] = None
                        deleted.pop(message["id"], None)
                for change in record.get("messagesDeleted") or ():
                    added.pop(change["message"]["id"], None)
                    deleted[change["message"]["id"]] = None
            latest = response.get("historyId", latest)
            page_token = response.get("nextPageToken")
            if not page_token:
                break
        ids = list(added)
        if len(ids) <= self.fetch_group:  # the usual case: no fetch thread for a few messages (or none)
            if ids:
                self._store(self._fetch(ids).items)
        else:
            group = self.fetch_group
            for fetched in self._fetched((ids[s:s + group], None) for s in range(0, len(ids), group)):
                self._store(fetched.items)
        self.writer.release_held(list(deleted), ActivityKind.EMAIL)
        self.writer.drain()
        return latest

    def _list_ids(self, query: str, by_thread: bool = False) -> list[str]:
        """Every id the query lists, newest first (with `by_thread`, each thread's together: `order_by_thread`)."""
        messages = self.api.gmail["messages"]
        ids: list[str] = []
        page_token = None
        while True:
            response = self.api.call(messages.list(userId="me", q=query, maxResults=self.list_page,
                                                   pageToken=page_token))
            ids.extend(m["id"] for m in response.get("messages") or ())
            self._thread_of.update((m["id"], m.get("threadId")) for m in response.get("messages") or ())
            page_token = response.get("nextPageToken")
            if not page_token:
                ids = list(dict.fromkeys(ids))
                return order_by_thread(ids, self._thread_of) if by_thread else ids

    def _fetched(self, groups: Iterable[tuple[list[str], Any]],
                 enough: threading.Event | None = None) -> Iterator[Fetched]:
        """Each group of ids fetched, by background threads ahead of the caller (module doc), in order.

        `groups` is consumed by the fetch thread (a lazy listing lists as it goes);
        once `enough` is set no further group is started, and those already started
        are still handed over.
        """
        enough = enough or threading.Event()
        handoff: queue.Queue = queue.Queue(maxsize=FETCH_AHEAD)
        unwanted = threading.Event()  # the caller stopped consuming (it failed): the fetcher quits

        def hand(kind: str, value) -> bool:
            while not unwanted.is_set():
                try:
                    handoff.put((kind, value), timeout=QUEUE_POLL_SECONDS)
                    return True
                except queue.Full:
                    continue
            return False

        def fetch_all() -> None:
            with concurrent.futures.ThreadPoolExecutor(FETCHERS, thread_name_prefix="fetch") as pool:
                running: collections.deque[concurrent.futures.Future] = collections.deque()
                try:
                    for index, (ids, meta) in enumerate(groups, 1):  # an older group goes first (QuotaWindow)
                        running.append(pool.submit(self._fetch, ids, meta, index))
                        if len(running) >= FETCHERS and not hand("items", running.popleft().result()):
                            return
                        if enough.is_set() or unwanted.is_set():
                            break
                    while running:
                        if not hand("items", running.popleft().result()):
                            return
                except Exception as exc:  # handed to the caller, who raises it after storing what came before
                    hand("error", exc)
                    return
            hand("end", None)

        fetcher = threading.Thread(target=fetch_all, name=f"fetch-{self.api.mailbox}", daemon=True)
        fetcher.start()
        try:
            while True:
                kind, value = handoff.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            unwanted.set()
            fetcher.join()

    def _parse_addresses(self, header: str) -> list[tuple[str, str]]:
        parsed = self._addresses.get(header)
        if parsed is None:
            parsed = self._addresses[header] = parse_address_list(header)
        return parsed

    def _fetch(self, ids: list[str], meta: Any = None, priority: int = 0) -> Fetched:
        found = self.api.get_messages(ids, METADATA_HEADERS, self._thread_of, priority)
        items, oldest = [], None
        for message_id in ids:
            message = found.get(message_id)
            if not message:
                continue
            at = int(message.get("internalDate") or 0)
            oldest = at if oldest is None else min(oldest, at)
            item = parse_message(message, self.api.mailbox, self._parse_addresses)
            if item is not None and not item.bulk:  # bulk mail is never stored: no one's timeline wants it
                items.append(item)
        return Fetched(ids, items, oldest, meta)

    def _store(self, items: list[Item]) -> None:
        self.writer.store(items)
        self.messages += len(items)
