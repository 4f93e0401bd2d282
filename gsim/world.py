"""The simulated Workspace: mailboxes, calendars, users and how they change.

Everything a client can observe about change lives here: Gmail history ids
(one decimal counter per mailbox, bumped by every change and recorded as a
history record) and Calendar sync positions (one change sequence per calendar,
plus an epoch that invalidates every older sync token). Mutations go through
:class:`World` methods so that history and sync tokens advance exactly as
Google's do. One re-entrant lock guards it all: the server is threaded.
"""

from __future__ import annotations

import bisect
import datetime as dt
import email.utils
import hashlib
import html
import threading
from dataclasses import dataclass, field

UTC = dt.UTC
GMAIL_ID_RANDOM_BITS = 20  # Gmail ids are a millisecond timestamp shifted left by 20 bits, plus noise
SNIPPET_MAX_CHARS = 200  # Gmail snippets stop around 200 characters
FIRST_HISTORY_ID = 1_000_000  # real mailboxes start far above zero; a plain int would hide parsing bugs
SYSTEM_LABELS = (
    "CHAT", "SENT", "INBOX", "IMPORTANT", "TRASH", "DRAFT", "SPAM", "CATEGORY_FORUMS",
    "CATEGORY_UPDATES", "CATEGORY_PERSONAL", "CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL",
    "STARRED", "UNREAD",
)  # fmt: skip
# Labels whose list visibility Gmail reports in labels.list.
HIDDEN_SYSTEM_LABELS = {"CHAT", "SPAM", "TRASH", "DRAFT", "IMPORTANT", "UNREAD", "STARRED"}


@dataclass(slots=True)
class Message:
    """One Gmail message in one mailbox (the same mail in two mailboxes is two of these)."""

    id: str
    thread_id: str
    internal_date: int  # ms since epoch
    label_ids: list[str]
    headers: list[tuple[str, str]]
    body: str
    history_id: int

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    @property
    def snippet(self) -> str:
        text = " ".join(self.body.split())[:SNIPPET_MAX_CHARS]
        return html.escape(text, quote=True).replace("&#x27;", "&#39;")

    def raw(self) -> bytes:
        """The RFC 822 form (what ``format=raw`` returns and ``sizeEstimate`` measures)."""
        lines = [f"{key}: {value}" for key, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n" + self.body.replace("\n", "\r\n")).encode("utf-8")

    @property
    def size_estimate(self) -> int:
        return len(self.raw())


@dataclass(slots=True)
class HistoryRecord:
    id: int
    kind: str  # messageAdded, messageDeleted, labelAdded, labelRemoved
    message_id: str
    thread_id: str
    label_ids: list[str]  # the message's labels after the change
    changed_labels: list[str] = field(default_factory=list)


class Mailbox:
    """A Gmail mailbox: messages in date order and the history of changes."""

    def __init__(self, address: str, first_history_id: int = FIRST_HISTORY_ID):
        self.address = address
        self.messages: dict[str, Message] = {}
        self.order: list[tuple[int, str]] = []  # ascending (internalDate, id)
        self.threads: dict[str, list[tuple[int, str]]] = {}  # thread id -> its messages, ascending (internalDate, id)
        self.history: list[HistoryRecord] = []
        self.history_id = first_history_id
        self.oldest_history_id = first_history_id
        self.user_labels: dict[str, str] = {}  # id -> name
        self.watch_expiration: int | None = None
        self._id_noise = int(hashlib.sha256(address.encode()).hexdigest()[:5], 16)

    def new_message_id(self, internal_date: int) -> str:
        value = (internal_date << GMAIL_ID_RANDOM_BITS) | self._id_noise
        while format(value, "x") in self.messages:
            value += 1
        self._id_noise = (self._id_noise * 1103515245 + 12345) % (1 << GMAIL_ID_RANDOM_BITS)
        return format(value, "x")

    def insert(self, message: Message) -> None:
        self.messages[message.id] = message
        bisect.insort(self.order, (message.internal_date, message.id))
        bisect.insort(self.threads.setdefault(message.thread_id, []), (message.internal_date, message.id))

    def remove(self, message_id: str) -> Message:
        message = self.messages.pop(message_id)
        index = bisect.bisect_left(self.order, (message.internal_date, message.id))
        del self.order[index]
        thread = self.threads[message.thread_id]
        thread.remove((message.internal_date, message.id))
        if not thread:
            del self.threads[message.thread_id]
        return message

    def record(self, kind: str, message: Message, changed: list[str] | None = None) -> int:
        self.history_id += 1
        self.history.append(
            HistoryRecord(self.history_id, kind, message.id, message.thread_id, list(message.label_ids), changed or [])
        )
        return self.history_id

    def threads_total(self) -> int:
        return len(self.threads)

    def thread_messages(self, thread_id: str) -> list[Message]:
        """A thread's messages, oldest first (as threads.get returns them); empty when there is none."""
        return [self.messages[message_id] for _, message_id in self.threads.get(thread_id, ())]


@dataclass
class Attendee:
    email: str
    display_name: str | None = None
    response_status: str = "needsAction"


@dataclass
class Event:
    """A calendar event as its organizer owns it; shown in every rep's calendar it involves."""

    id: str
    summary: str
    start: dt.datetime | dt.date
    end: dt.datetime | dt.date
    organizer: Attendee
    attendees: list[Attendee]
    created: dt.datetime
    updated: dt.datetime
    status: str = "confirmed"
    description: str | None = None
    location: str | None = None
    recurrence: list[str] | None = None
    sequence: int = 0
    cancelled_instances: dict[str, dt.datetime] = field(default_factory=dict)  # instance id -> when
    visibility: str = "default"  # Calendar: default, public, private or confidential (set with update_event)

    @property
    def ical_uid(self) -> str:
        return self.id + "@google.com"

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, dt.datetime)

    def participants(self) -> set[str]:
        return {self.organizer.email.lower()} | {a.email.lower() for a in self.attendees}

    def instance_starts(self) -> list[dt.datetime | dt.date]:
        """Occurrence starts of a recurring event (FREQ=DAILY/WEEKLY with COUNT or UNTIL)."""
        if not self.recurrence:
            return [self.start]
        rule = dict(part.split("=", 1) for part in self.recurrence[0].removeprefix("RRULE:").split(";"))
        step = dt.timedelta(days=7 if rule.get("FREQ") == "WEEKLY" else 1) * int(rule.get("INTERVAL", 1))
        count = int(rule.get("COUNT", 0)) or None
        until = parse_rrule_until(rule["UNTIL"]) if "UNTIL" in rule else None
        starts, current = [], self.start
        while (count is None or len(starts) < count) and len(starts) < RRULE_MAX_INSTANCES:
            if until is not None and as_datetime(current) > until:
                break
            starts.append(current)
            current = current + step
        return starts

    def instance_id(self, start: dt.datetime | dt.date) -> str:
        if isinstance(start, dt.datetime):
            return f"{self.id}_{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
        return f"{self.id}_{start:%Y%m%d}"


RRULE_MAX_INSTANCES = 730  # Google expands at most ~2 years of a daily series when listing


def parse_rrule_until(value: str) -> dt.datetime:
    if "T" in value:
        return dt.datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return dt.datetime.strptime(value, "%Y%m%d").replace(tzinfo=UTC)


def as_datetime(value: dt.datetime | dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)


class Calendar:
    """A rep's primary calendar: which events it shows and when each last changed."""

    def __init__(self, owner: str):
        self.owner = owner
        self.event_ids: set[str] = set()
        self.changes: dict[str, int] = {}  # event or instance id -> change sequence
        self.seq = 0
        self.epoch = 1  # bumping it invalidates every sync token issued before

    def touch(self, key: str) -> None:
        self.seq += 1
        self.changes[key] = self.seq


@dataclass
class User:
    """A Workspace account, as the Directory API lists it."""

    primary_email: str
    given_name: str
    family_name: str
    is_admin: bool = False
    suspended: bool = False
    title: str | None = None
    send_as: list[str] = field(default_factory=list)  # Gmail send-as aliases besides the primary address
    creation_time: dt.datetime = field(default_factory=lambda: dt.datetime(2020, 1, 6, 9, 0, tzinfo=UTC))


class World:
    """All state, and every mutation that a client could observe."""

    def __init__(self, domain: str, now: dt.datetime):
        self.domain = domain
        self.now = now  # the generator's anchor; mutations use the wall clock
        self.customer_id = "C0" + hashlib.sha256(domain.encode()).hexdigest()[:7]
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.mailboxes: dict[str, Mailbox] = {}
        self.calendars: dict[str, Calendar] = {}
        self.events: dict[str, Event] = {}
        self._event_counter = 0
        self.reps: list[str] = []  # the sales reps (the mailboxes Sidecar syncs)
        self.admin: str | None = None  # the account to impersonate for the Directory API
        # the customer's other domains (Directory domains.list / domainAliases.list): secondary domains,
        # and aliases by the domain they alias (the primary is `domain`)
        self.secondary_domains: list[str] = []
        self.domain_aliases: dict[str, str] = {}
        self.push = None  # gsim.push.Push: told of every change a watch notifies (the Simulator sets it)

    def _mail_changed(self, mailbox: Mailbox) -> None:
        if self.push is not None:
            self.push.mail_changed(mailbox.address, mailbox.history_id)

    def _calendar_changed(self, calendars) -> None:
        if self.push is not None:
            self.push.calendar_changed([c.owner for c in calendars])

    # -- accounts -----------------------------------------------------------
    def add_user(self, user: User) -> None:
        address = user.primary_email.lower()
        self.users[address] = user
        self.mailboxes[address] = Mailbox(address)
        self.calendars[address] = Calendar(address)

    def add_domain(self, name: str, alias_of: str | None = None) -> None:
        """A secondary domain of the customer, or (``alias_of`` a domain it has) an alias of that domain."""
        name = name.lower()
        if alias_of is None:
            if name not in self.secondary_domains and name != self.domain:
                self.secondary_domains.append(name)
            return
        parent = alias_of.lower()
        if parent != self.domain and parent not in self.secondary_domains:
            raise ValueError(f"{alias_of} is not a domain of this customer")
        self.domain_aliases[name] = parent

    def all_domains(self) -> list[str]:
        return [self.domain, *self.secondary_domains, *self.domain_aliases]

    def is_active_user(self, address: str) -> bool:
        user = self.users.get(address.lower())
        return user is not None and not user.suspended

    def mailbox(self, address: str) -> Mailbox:
        try:
            return self.mailboxes[address.lower()]
        except KeyError:
            raise KeyError(f"no mailbox {address}") from None

    # -- Gmail ----------------------------------------------------------------
    def add_message(
        self,
        mailbox: str,
        *,
        sender: str,
        to: list[str] | str,
        subject: str,
        body: str = "",
        cc: list[str] | str = (),
        date: dt.datetime | None = None,
        label_ids: list[str] | None = None,
        message_id_header: str | None = None,
        thread_id: str | None = None,
        extra_headers: list[tuple[str, str]] = (),
        record_history: bool = True,
    ) -> Message:
        """Deliver (or file as sent) one message; returns it with its new Gmail id.

        Pass the same ``message_id_header`` to two mailboxes to model one email
        that both reps hold. ``record_history`` is False only while generating
        the initial backlog, which lies beyond the history retention window.
        """
        with self.lock:
            box = self.mailbox(mailbox)
            when = date or dt.datetime.now(UTC)
            internal_date = int(when.timestamp() * 1000)
            gmail_id = box.new_message_id(internal_date)
            to_list = [to] if isinstance(to, str) else list(to)
            cc_list = [cc] if isinstance(cc, str) else list(cc)
            if message_id_header is None:
                message_id_header = email.utils.make_msgid(domain=self.domain)
            headers = [
                ("MIME-Version", "1.0"),
                ("Date", email.utils.format_datetime(when)),
                ("Message-ID", message_id_header),
                ("Subject", subject),
                ("From", sender),
                ("To", ", ".join(to_list)),
            ]
            if cc_list:
                headers.append(("Cc", ", ".join(cc_list)))
            headers.extend(extra_headers)
            headers.append(("Content-Type", 'text/plain; charset="UTF-8"'))
            if label_ids is None:
                from_self = box.address in sender.lower()
                label_ids = ["SENT"] if from_self else ["INBOX", "UNREAD", "CATEGORY_PERSONAL"]
            message = Message(gmail_id, thread_id or gmail_id, internal_date, list(label_ids), headers, body, 0)
            box.insert(message)
            if record_history:
                message.history_id = box.record("messageAdded", message)
            else:
                box.history_id += 1
                message.history_id = box.oldest_history_id = box.history_id
            self._mail_changed(box)
            return message

    def delete_message(self, mailbox: str, message_id: str) -> int:
        """Delete permanently (not trash); returns the new mailbox history id."""
        with self.lock:
            box = self.mailbox(mailbox)
            message = box.remove(message_id)
            history_id = box.record("messageDeleted", message)
            self._mail_changed(box)
            return history_id

    def modify_labels(self, mailbox: str, message_id: str, add: list[str] = (), remove: list[str] = ()) -> int:
        with self.lock:
            box = self.mailbox(mailbox)
            message = box.messages[message_id]
            added = [label for label in add if label not in message.label_ids]
            removed = [label for label in remove if label in message.label_ids]
            message.label_ids = [label for label in message.label_ids if label not in removed] + added
            if added:
                message.history_id = box.record("labelAdded", message, added)
            if removed:
                message.history_id = box.record("labelRemoved", message, removed)
            return box.history_id

    def expire_history(self, mailbox: str) -> int:
        """Drop all retained history: any startHistoryId before now answers 404."""
        with self.lock:
            box = self.mailbox(mailbox)
            box.history.clear()
            box.oldest_history_id = box.history_id
            return box.history_id

    # -- Calendar -------------------------------------------------------------
    def new_event_id(self, seed_text: str) -> str:
        """Calendar ids use base32hex characters (a-v, 0-9), 26 long."""
        self._event_counter += 1
        digest = hashlib.sha256(f"{seed_text}:{self._event_counter}".encode()).digest()
        alphabet = "0123456789abcdefghijklmnopqrstuv"
        number = int.from_bytes(digest[:17], "big")
        return "".join(alphabet[(number >> (5 * i)) & 31] for i in range(26))

    def calendars_of(self, event: Event) -> list[Calendar]:
        return [self.calendars[p] for p in sorted(event.participants()) if p in self.calendars]

    def add_event(
        self,
        organizer: str,
        *,
        summary: str,
        start: dt.datetime | dt.date,
        end: dt.datetime | dt.date,
        attendees: list[Attendee | str] = (),
        organizer_name: str | None = None,
        recurrence: list[str] | None = None,
        description: str | None = None,
        location: str | None = None,
        created: dt.datetime | None = None,
        event_id: str | None = None,
    ) -> Event:
        """Create an event; it appears in the calendar of every rep involved."""
        with self.lock:
            when = created or dt.datetime.now(UTC)
            people = [a if isinstance(a, Attendee) else Attendee(a) for a in attendees]
            event = Event(
                id=event_id or self.new_event_id(f"{organizer}:{summary}:{start}"),
                summary=summary,
                start=start,
                end=end,
                organizer=Attendee(organizer, organizer_name, "accepted"),
                attendees=people,
                created=when,
                updated=when,
                description=description,
                location=location,
                recurrence=recurrence,
            )
            self.events[event.id] = event
            for calendar in self.calendars_of(event):
                calendar.event_ids.add(event.id)
                calendar.touch(event.id)
            self._calendar_changed(self.calendars_of(event))
            return event

    def event_in(self, calendar_owner: str, event_id: str) -> Event:
        calendar = self.calendars[calendar_owner.lower()]
        if event_id not in calendar.event_ids:
            raise KeyError(event_id)
        return self.events[event_id]

    def update_event(self, mailbox: str, event_id: str, **changes) -> Event:
        """Change fields (summary, start, end, attendees, ...); bumps ``sequence`` and ``updated``."""
        with self.lock:
            event = self.event_in(mailbox, event_id)
            before = set(self.calendars_of(event))
            for name, value in changes.items():
                if name == "attendees":
                    value = [a if isinstance(a, Attendee) else Attendee(a) for a in value]
                if not hasattr(event, name):
                    raise AttributeError(name)
                setattr(event, name, value)
            event.sequence += 1
            event.updated = dt.datetime.now(UTC)
            for calendar in before | set(self.calendars_of(event)):
                calendar.event_ids.add(event.id)
                calendar.touch(event.id)
            self._calendar_changed(before | set(self.calendars_of(event)))
            return event

    def cancel_event(self, mailbox: str, event_id: str, instance_start: dt.datetime | dt.date | None = None) -> Event:
        """Cancel an event, or one occurrence of a recurring one."""
        with self.lock:
            event = self.event_in(mailbox, event_id)
            now = dt.datetime.now(UTC)
            if instance_start is None:
                event.status = "cancelled"
                event.sequence += 1
                event.updated = now
                key = event.id
            else:
                key = event.instance_id(instance_start)
                event.cancelled_instances[key] = now
            for calendar in self.calendars_of(event):
                calendar.touch(key)
            self._calendar_changed(self.calendars_of(event))
            return event

    def invalidate_sync_tokens(self, mailbox: str) -> None:
        with self.lock:
            self.calendars[mailbox.lower()].epoch += 1
