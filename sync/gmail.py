"""Gmail sync for one mailbox (SPEC §7): a full sync, then history.list from the stored history id.

Full sync: the profile's history id is read first (so nothing that changes
during the listing is lost), then `messages.list` (500 a page) back to the
backfill window, leaving out what is never stored (`NEVER_STORED_QUERY`), then
metadata gets through batches with only the headers linking needs: a thread
whose listed messages cost more one by one than one `threads.get` (3 or more at
the 2026 and the legacy prices) comes whole from `threads.get`, the rest from
`messages.get` (`MailboxApi.get_messages`). Incremental: `history.list` (messageAdded, messageDeleted),
paged; a 404 means the history id expired and a full resync follows, which
also drops this mailbox from activities it no longer holds. The history id is
handed back to the caller, who saves it after every write it covers.

Fetching and writing overlap (`_fetched`): background threads fetch the next
groups of messages (Gmail batches; `FETCHERS` groups at once, so one batch's
round trip overlaps another's parsing) while the caller links and commits the
current one, through a queue of at most `FETCH_AHEAD` groups, handed over in
order. While they run, the fetchers are the only users of the mailbox's API
objects (`MailboxApi.get_messages` is the one method built for it), and they
are joined before the sync goes on.
"""

from __future__ import annotations

import collections
import concurrent.futures
import datetime as dt
import email.utils
import hashlib
import html
import logging
import queue
import threading
from collections.abc import Callable, Iterator

from googleapiclient.errors import HttpError

from models.addresses import decode_words, parse_address_list
from models.domain import ActivityKind, Mailbox, Participant, utcnow
from models.repository import activity_id_for
from sync.api import MailboxApi, order_by_thread, status_of
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
ADDRESS_HEADERS = (("from", "from"), ("to", "to"), ("cc", "cc"), ("bcc", "bcc"))


def is_bulk(headers: dict[str, str]) -> bool:
    """Mailing lists, newsletters and machine mail (SPEC §7): never a reason to create a contact."""
    auto = headers.get("auto-submitted", "").strip().lower()
    return bool(headers.get("list-id") or headers.get("list-unsubscribe")
                or headers.get("precedence", "").strip().lower() in BULK_PRECEDENCE
                or (auto and auto != "no"))


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
                bulk=is_bulk(headers), evidence=message_evidence(participants, headers, subject),
                address_text=tuple(headers[h] for h, _ in ADDRESS_HEADERS if headers.get(h)))


class GmailSync:
    def __init__(self, api: MailboxApi, writer: SyncWriter, backfill_days: int, fetch_group: int = FETCH_GROUP):
        self.api = api
        self.writer = writer
        self.backfill_days = backfill_days
        self.fetch_group = fetch_group  # messages fetched and stored as one group
        self.messages = 0  # messages stored or updated this run
        self._addresses: dict[str, list[tuple[str, str]]] = {}  # header value -> parsed, for this run
        self._thread_of: dict[str, str] = {}  # message id -> thread id, as the full listing gave them

    def run(self, mailbox: Mailbox) -> str:
        """Sync, and return the history id that the caller may store once the writes are committed."""
        if mailbox.history_id:
            try:
                return self.incremental(mailbox.history_id)
            except HttpError as exc:
                if status_of(exc) != 404:
                    raise
                log.info("history expired mailbox=%s state=resync", mailbox.email)
                return self.full(resync=True)
        return self.full(resync=False)

    def full(self, resync: bool) -> str:
        users = self.api.gmail["users"]
        history_id = self.api.call(users.getProfile(userId="me"))["historyId"]
        since = utcnow() - dt.timedelta(days=self.backfill_days)
        ids = self._list_ids(f"after:{int(since.timestamp())} {NEVER_STORED_QUERY}")
        log.info("full sync mailbox=%s messages=%d resync=%s", self.api.mailbox, len(ids), resync)
        # a Stopped from the fetcher arrives after every group fetched before it has been stored:
        # that is the checkpoint, and the cursor stays where it was
        for items in self._fetched(ids):
            self._store(items)
        self.writer.drain()
        if resync:
            listed = set(ids)
            held = self.writer.repo.activities_held_by(self.api.mailbox)
            gone = [a for a in held if a.kind == ActivityKind.EMAIL and a.at >= since
                    and a.holders.get(self.api.mailbox) not in listed]
            self.writer.release(gone)
        return history_id

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
                    if not SKIPPED_LABELS.intersection(message.get("labelIds") or ()):
                        added[message["id"]] = None
                        deleted.pop(message["id"], None)
                for change in record.get("messagesDeleted") or ():
                    added.pop(change["message"]["id"], None)
                    deleted[change["message"]["id"]] = None
            latest = response.get("historyId", latest)
            page_token = response.get("nextPageToken")
            if not page_token:
                break
        for items in self._fetched(list(added)):
            self._store(items)
        self.writer.release_held(list(deleted), ActivityKind.EMAIL)
        self.writer.drain()
        return latest

    def _list_ids(self, query: str) -> list[str]:
        messages = self.api.gmail["messages"]
        ids: list[str] = []
        page_token = None
        while True:
            response = self.api.call(messages.list(userId="me", q=query, maxResults=MESSAGES_PAGE_MAX,
                                                   pageToken=page_token))
            ids.extend(m["id"] for m in response.get("messages") or ())
            self._thread_of.update((m["id"], m.get("threadId")) for m in response.get("messages") or ())
            page_token = response.get("nextPageToken")
            if not page_token:
                return order_by_thread(list(dict.fromkeys(ids)), self._thread_of)

    def _fetched(self, ids: list[str]) -> Iterator[list[Item]]:
        """The messages of `ids` in groups, fetched by a background thread ahead of the caller (module doc)."""
        if len(ids) <= self.fetch_group:
            if ids:
                yield self._fetch(ids)
            return
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
                    for start in range(0, len(ids), self.fetch_group):
                        running.append(pool.submit(self._fetch, ids[start:start + self.fetch_group]))
                        if len(running) >= FETCHERS and not hand("items", running.popleft().result()):
                            return
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

    def _fetch(self, ids: list[str]) -> list[Item]:
        found = self.api.get_messages(ids, METADATA_HEADERS, self._thread_of)
        items = []
        for message_id in ids:
            message = found.get(message_id)
            item = parse_message(message, self.api.mailbox, self._parse_addresses) if message else None
            if item is not None and not item.bulk:  # bulk mail is never stored: no one's timeline wants it
                items.append(item)
        return items

    def _store(self, items: list[Item]) -> None:
        self.writer.store(items)
        self.messages += len(items)
