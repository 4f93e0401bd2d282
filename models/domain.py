"""Sidecar's domain objects: plain dataclasses in the words a CRM admin and the Gmail API use.

Nothing here knows Firestore, Flask or Gmail; `models.repository` maps these to documents.
Times are timezone-aware UTC datetimes; email addresses are stored normalised
(`models.addresses.normalize_email`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
from typing import Any

# SPEC §8, in funnel order; the value is what is stored, the label what a rep reads.
LIFECYCLE_STAGES: dict[str, str] = {
    "subscriber": "Subscriber",
    "lead": "Lead",
    "marketing_qualified": "Marketing qualified",
    "sales_qualified": "Sales qualified",
    "opportunity": "Opportunity",
    "customer": "Customer",
    "evangelist": "Evangelist",
    "other": "Other",
}
DEFAULT_LIFECYCLE_STAGE = "lead"

# Other spellings of the stages, as HubSpot exports them (its internal values and
# labels) and as people type them; compared after dropping case, spaces and
# punctuation (see `parse_lifecycle_stage`).
LIFECYCLE_STAGE_ALIASES: dict[str, str] = {
    "marketingqualifiedlead": "marketing_qualified",
    "mql": "marketing_qualified",
    "salesqualifiedlead": "sales_qualified",
    "sql": "sales_qualified",
    "advocate": "evangelist",
}


def _squash(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def parse_lifecycle_stage(text: str) -> str:
    """The stored stage for a key, label or HubSpot value ("Marketing Qualified Lead", "salesqualifiedlead").

    Raises ValueError naming the accepted values, so an import or a card can say what is wrong.
    """
    wanted = _squash(text)
    for key, label in LIFECYCLE_STAGES.items():
        if wanted in (_squash(key), _squash(label)):
            return key
    if wanted in LIFECYCLE_STAGE_ALIASES:
        return LIFECYCLE_STAGE_ALIASES[wanted]
    raise ValueError(f"unknown lifecycle stage {text!r} (expected one of: {', '.join(LIFECYCLE_STAGES.values())})")



class ActivityKind(enum.StrEnum):
    """What an activity is (SPEC §6): synced from Gmail or Calendar, or written by a rep on a card.

    A StrEnum: stored as its plain value and equal to it, so documents and
    comparisons with stored strings are unchanged.
    """

    EMAIL = "email"
    MEETING = "meeting"
    NOTE = "note"
    CALL = "call"


class MailboxState(enum.StrEnum):
    """Where a rep's mailbox stands with sync (SPEC §6): what the admin card and `sync status` show."""

    NEW = "new"  # never synced
    SYNCING = "syncing"
    OK = "ok"  # the last run succeeded
    FAILED = "failed"  # the last run failed; the next one tries again
    REVOKED = "revoked"  # access refused (401, invalid_grant, missing permission): skipped until the next run
    DEPARTED = "departed"  # the rep was suspended or deleted in the Directory: no longer synced, history kept


INBOUND, OUTBOUND, INTERNAL = "inbound", "outbound", "internal"
DEPARTED_BY_DIRECTORY = "directory"  # Mailbox.departed_by when sync found the rep suspended or deleted

PRIVACY_LEVELS = ("metadata", "subject", "snippet")  # SPEC §9, least to most shown
DEFAULT_PRIVACY_LEVEL = "subject"

# Who becomes a contact automatically (SPEC §7): people the rep wrote to or met
# with (default), also people who only wrote to the rep, or nobody.
AUTO_CREATE_POLICIES = ("outbound", "all", "none")
DEFAULT_AUTO_CREATE = "outbound"

CUSTOM_FIELD_TYPES = ("text", "number", "date", "select")
CUSTOM_TEXT_MAX = 1000  # a field, not a note: longer text belongs on the timeline
CUSTOM_NUMBER_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")  # "1,234.5"
ISO_DATE_LENGTH = len("2026-01-31")
CUSTOM_NUMBER_MAX = 2**63 - 1  # Firestore stores a whole number as a signed 64-bit integer

# Gmail's inbox tabs (search operator category:NAME) a tenant may leave out of sync: mail there is never
# listed, so never paid for. By default the three that hold machine mail (newsletters, network
# notifications, mailing lists) and next to no conversation with a customer; "updates" is kept (receipts,
# invoices and order confirmations from customers' systems land there).
GMAIL_CATEGORIES = ("promotions", "social", "forums", "updates")
DEFAULT_SKIPPED_CATEGORIES = ("promotions", "social", "forums")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass
class CustomFieldDefinition:
    """A tenant-defined field shown on contacts or companies."""

    key: str
    label: str
    type: str = "text"
    options: list[str] = dataclasses.field(default_factory=list)
    applies_to: str = "contact"  # "contact" or "company"

    def parse(self, raw: str) -> Any:
        """The stored value for text typed by a person (a card input, a CSV cell); None when blank.

        number -> int or float ("1,234.5" allowed), date -> "YYYY-MM-DD" (ISO only:
        "03/04/2026" means different days in different countries), select -> the
        option as defined, matched case-insensitively. Raises ValueError saying
        what was expected.
        """
        text = (raw or "").strip()
        if not text:
            return None
        if self.type == "number":
            plain = text.replace(" ", "")
            if CUSTOM_NUMBER_THOUSANDS.match(plain):
                plain = plain.replace(",", "")
            try:
                number = float(plain)
            except ValueError:
                raise ValueError(f"{self.label} must be a number, got {text!r}") from None
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError(f"{self.label} must be a number, got {text!r}")
            if abs(number) > CUSTOM_NUMBER_MAX:
                raise ValueError(f"{self.label} must be a number between {-CUSTOM_NUMBER_MAX:,} and "
                                 f"{CUSTOM_NUMBER_MAX:,}, got {text!r}")
            return int(number) if number.is_integer() and "." not in plain and "e" not in plain.lower() else number
        if self.type == "date":
            try:
                return (dt.date.fromisoformat(text) if len(text) == ISO_DATE_LENGTH
                        else dt.datetime.fromisoformat(text).date()).isoformat()
            except ValueError:
                raise ValueError(f"{self.label} must be a date as YYYY-MM-DD, got {text!r}") from None
        if self.type == "select":
            for option in self.options:
                if option.casefold() == text.casefold():
                    return option
            raise ValueError(f"{self.label} must be one of {', '.join(self.options)}; got {text!r}")
        if len(text) > CUSTOM_TEXT_MAX:
            raise ValueError(f"{self.label} is longer than {CUSTOM_TEXT_MAX} characters")
        return text


@dataclasses.dataclass
class Settings:
    """A tenant's policy: what teammates see, what is never stored, who is auto-created."""

    privacy_level: str = DEFAULT_PRIVACY_LEVEL
    exclusions: list[str] = dataclasses.field(default_factory=list)  # addresses and domains
    auto_create: str = DEFAULT_AUTO_CREATE
    internal_domains: list[str] = dataclasses.field(default_factory=list)
    custom_fields: list[CustomFieldDefinition] = dataclasses.field(default_factory=list)
    admins: list[str] = dataclasses.field(default_factory=list)
    # "Needs attention" thresholds (issue 17; defaults in models.signals): working days unanswered, days silent
    waiting_on_us_days: int = 2
    waiting_on_them_days: int = 5
    cold_after_days: int = 30
    # rep mailbox -> display name, from the From header of their own mail (`Repository.record_rep_name`);
    # kept beside the settings by sync, never edited on the admin card
    rep_names: dict[str, str] = dataclasses.field(default_factory=dict)
    skipped_categories: list[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_SKIPPED_CATEGORIES))
    # reps who left (suspended or deleted in the Directory, or marked by an admin): kept by sync and the
    # admin actions through `Repository.mark_departed`/`mark_returned`, never by `save_settings`
    departed_reps: list[str] = dataclasses.field(default_factory=list)

    def rep_name(self, rep: str) -> str:
        """How a teammate is shown: their name when sync learnt it, else their address."""
        return self.rep_names.get(rep) or rep

    def field_definition(self, key: str, applies_to: str = "contact") -> CustomFieldDefinition | None:
        for definition in self.custom_fields:
            if definition.key == key and definition.applies_to == applies_to:
                return definition
        return None


SEGMENT_ACTIVITY_MODES = ("inactive", "active")  # "no touch in N days" / "touched in the last N days"
# relationship signals a segment may filter on (issue 17; models.signals), with what a rep reads
SEGMENT_SIGNALS = {"waiting_on_us": "waiting on us", "waiting_on_them": "waiting on them",
                   "going_cold": "going cold", "strength": "strength at least"}


@dataclasses.dataclass
class Segment:
    """A rep's saved filter over the tenant's contacts (SPEC §1, §8); every filter set must match.

    `tag`, `lifecycle_stage`, `owner`, `company_id` and each `custom` value are
    equalities; `activity_days` with `activity_mode` "inactive" means no touch
    in that many days (contacts never touched included), "active" a touch
    within them. `signal` filters on a relationship signal (`SEGMENT_SIGNALS`; "strength"
    with `strength_at_least`), one range a query: never with an activity window.
    `count`/`counted_at` cache the last count (see models.segments).
    """

    id: str
    name: str
    tag: str | None = None
    lifecycle_stage: str | None = None
    owner: str | None = None
    company_id: str | None = None
    activity_mode: str | None = None
    activity_days: int | None = None
    custom: dict[str, Any] = dataclasses.field(default_factory=dict)
    signal: str | None = None
    strength_at_least: int | None = None
    count: int | None = None
    counted_at: dt.datetime | None = None
    created_at: dt.datetime = dataclasses.field(default_factory=utcnow)


@dataclasses.dataclass
class Contact:
    """A person the team deals with; `emails[0]` is the primary address."""

    id: str
    emails: list[str]
    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    title: str = ""
    phone: str = ""  # E.164
    company_id: str | None = None  # the company's registrable domain
    owner: str | None = None  # a rep's mailbox
    tags: list[str] = dataclasses.field(default_factory=list)
    lifecycle_stage: str = DEFAULT_LIFECYCLE_STAGE
    custom: dict[str, Any] = dataclasses.field(default_factory=dict)
    source: str = "manual"  # sync, gmail_card, import or manual
    created_at: dt.datetime = dataclasses.field(default_factory=utcnow)
    updated_at: dt.datetime = dataclasses.field(default_factory=utcnow)
    last_activity_at: dt.datetime | None = None
    last_email_at: dt.datetime | None = None
    last_meeting_at: dt.datetime | None = None
    # rep mailbox -> when that rep last emailed or met this person ("also in touch")
    touches: dict[str, dt.datetime] = dataclasses.field(default_factory=dict)
    # set when the person appeared at a new corporate domain: {"company_id", "email", "seen_at"}
    job_change: dict[str, Any] | None = None
    previous_companies: list[str] = dataclasses.field(default_factory=list)
    merged_into: str | None = None  # an alias left behind by a merge
    # the timeline buckets that exist: "YYYY-MM", and "YYYY-MM.N" for a busy month's further parts
    timeline_months: list[str] = dataclasses.field(default_factory=list)
    # bucket -> {"rows": rows placed there, "lo"/"hi": epoch seconds of its oldest/newest row}
    # (`models.repository`: how the reader finds the newest rows without reading every part)
    timeline_parts: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    # activity id -> what that email or meeting says of the relationship (models.signals, sync-maintained)
    exchanges: dict[str, str] = dataclasses.field(default_factory=dict)
    # privacy a rep controls (models.rep_privacy): reps who made everything with this person private, and
    # thread keys (a normalised subject's hash) -> the reps who made that thread private
    private_reps: list[str] = dataclasses.field(default_factory=list)
    private_threads: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.middle_name, self.last_name) if part)

    @property
    def primary_email(self) -> str:
        return self.emails[0] if self.emails else ""

    @property
    def display_name(self) -> str:
        return self.name or self.primary_email


@dataclasses.dataclass
class Company:
    """An organisation, identified by its registrable domain (`acme.co.uk`)."""

    id: str  # == domain
    name: str = ""
    custom: dict[str, Any] = dataclasses.field(default_factory=dict)
    created_at: dt.datetime = dataclasses.field(default_factory=utcnow)
    updated_at: dt.datetime = dataclasses.field(default_factory=utcnow)
    last_activity_at: dt.datetime | None = None
    # a bounded sample of the company's contacts, newest first, for the company card
    contact_ids: list[str] = dataclasses.field(default_factory=list)

    @property
    def domain(self) -> str:
        return self.id


@dataclasses.dataclass
class Participant:
    """One address on an activity and its role there (from, to, cc, bcc, attendee, organizer)."""

    email: str
    name: str = ""
    role: str = "to"


@dataclasses.dataclass
class Activity:
    """An email, meeting, note or call; one per real-world event, whoever's mailbox holds it.

    `holders` maps each rep mailbox that holds the activity to its id there (the
    Gmail message id or Calendar event id), so a deletion in one mailbox only
    drops that holder.
    """

    id: str
    kind: ActivityKind
    at: dt.datetime
    subject: str = ""
    snippet: str = ""
    direction: str | None = None
    participants: list[Participant] = dataclasses.field(default_factory=list)
    contact_ids: list[str] = dataclasses.field(default_factory=list)
    company_ids: list[str] = dataclasses.field(default_factory=list)
    holders: dict[str, str] = dataclasses.field(default_factory=dict)
    author: str | None = None  # the rep who wrote a note or logged a call
    body: str = ""  # a note's or call's text; never an email body (SPEC §9)
    end_at: dt.datetime | None = None
    external_key: str | None = None  # Message-ID header, or iCalUID + start
    created_at: dt.datetime = dataclasses.field(default_factory=utcnow)
    utc_offset: int | None = None  # minutes east of UTC of an email's Date header (the sender's time zone)
    # what identifies an email beyond its sender-written Message-ID (`sync.gmail.message_evidence`):
    # a copy whose evidence differs is another message, never merged into this one
    evidence: str = ""
    # linked contact id -> the bucket of its timeline holding this activity's row (`models.repository`)
    timeline_buckets: dict[str, str] = dataclasses.field(default_factory=dict)
    private: bool = False  # a Calendar event marked private: no title or names stored (sync.calendar)

    def __post_init__(self) -> None:
        self.kind = ActivityKind(self.kind)  # a stored string becomes the member; an unknown kind is refused


TIMELINE_SNIPPET_MAX = 200  # what a timeline row shows; the full note lives on the activity


@dataclasses.dataclass
class TimelineEntry:
    """What a timeline row shows of one activity, copied onto the contact's timeline.

    It carries `holders` so the card can apply the tenant's privacy level
    without reading the activity itself.
    """

    activity_id: str
    at: dt.datetime
    kind: ActivityKind
    direction: str | None = None
    subject: str = ""
    snippet: str = ""
    holders: list[str] = dataclasses.field(default_factory=list)
    author: str | None = None
    counterpart: str = ""  # the other side's name or address, for "From Jane" / "To Bob"
    private: bool = False  # a private Calendar event: teammates see "a meeting" and its time only

    def __post_init__(self) -> None:
        self.kind = ActivityKind(self.kind)

    @classmethod
    def of(cls, activity: Activity) -> TimelineEntry:
        text = activity.snippet or activity.body
        counterpart = next((p.name or p.email for p in activity.participants
                            if p.email not in activity.holders), "")
        return cls(activity_id=activity.id, at=activity.at, kind=activity.kind, direction=activity.direction,
                   subject=activity.subject, snippet=text[:TIMELINE_SNIPPET_MAX],
                   holders=sorted(activity.holders), author=activity.author, counterpart=counterpart,
                   private=activity.private)


@dataclasses.dataclass
class Mailbox:
    """A rep's synced mailbox and its cursors (SPEC §6, §7)."""

    email: str
    state: MailboxState = MailboxState.NEW
    history_id: str | None = None
    sync_token: str | None = None
    last_success_at: dt.datetime | None = None
    last_attempt_at: dt.datetime | None = None
    last_error: str | None = None
    last_error_at: dt.datetime | None = None
    cursor_at: dt.datetime | None = None  # when the cursors were last advanced
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    departed_at: dt.datetime | None = None  # when the rep was found gone (sync.directory) or marked by an admin
    departed_by: str | None = None  # DEPARTED_BY_DIRECTORY, or the admin who marked the rep departed
    # The Gmail backfill: a full sync, newest mail first, resumable (sync.gmail); all None/0 until one starts.
    backfill_since: dt.datetime | None = None  # how far back it goes (SIDECAR_BACKFILL_DAYS before its start)
    backfill_started_at: dt.datetime | None = None
    backfill_done_at: dt.datetime | None = None  # None while it runs
    # the backfill cursor: the last ids of its listing (newest first, threads together) stored so far, the
    # last one last; the next run lists again and resumes after the last of them still listed
    backfill_cursor: list[str] = dataclasses.field(default_factory=list)
    backfill_reached: dt.datetime | None = None  # the oldest listed message stored so far (how far back it got)
    backfill_listed: int = 0  # listed messages done: stored, or skipped (bulk mail, gone meanwhile)
    backfill_total: int = 0  # messages it lists in all (done and to do, as last listed)
    backfill_stored: int = 0
    backfill_units: int = 0  # Gmail quota units it has spent
    backfill_seconds_left: float | None = None  # what is left, at the mailbox's per-user quota
    backfill_resync: bool = False  # restarted after an expired history id: releases what is gone when done

    def __post_init__(self) -> None:
        self.state = MailboxState(self.state)

    @property
    def backfilling(self) -> bool:
        return self.backfill_since is not None and self.backfill_done_at is None
