"""Relationship signals: where the team stands with one person, from the team's own timeline (SPEC §8).

Everything here is a pure function of a contact's *exchanges* and of `now`;
nothing reads or writes Firestore. An exchange is what one email or meeting
says about the relationship with one contact, kept on the contact as a small
string under the activity's id (`Contact.exchanges`, written by sync in the
same write as the contact's counters: `Repository.record_touches`):

    "<epoch seconds>|<kind>|<direction>|<teammates>|<thread>|<utc offset minutes>"

- kind: `e` an email, `m` a meeting;
- direction (emails): `i` the person wrote to the team, `o` a teammate wrote
  to the person (in To), `c` the person was only copied, or on someone else's mail;
- teammates: the team's addresses on it (the sender of an `o`, the To/Cc of
  an `i` or `c`, the attendees of a meeting), comma-separated;
- thread: `models.rep_privacy.thread_key`, a short hash of the subject without its "Re:"/"Fwd:"
  prefixes (the key reps mark a thread private under too). Gmail
  thread ids differ from one mailbox to the next, the subject does not, so two
  teammates' copies of one conversation fall in the same thread;
- utc offset: of the sender's `Date` header (an `i` only), for best time to reach.

Why this shape: every value depends only on the activity and the contact's
addresses, never on which mailbox wrote it or when, so each write is a
field-level merge of `exchanges.{activity id}` that two mailboxes may make at
once, a rerun makes again and a removal deletes (`remove_activity`). The
signals computed from the map are then the same whatever the order of the
writes: `compute(exchanges_from_activities(...))` over the whole timeline equals
`compute(contact.exchanges)` (tests/models/test_signals_incremental.py). Times
are compared with `now` when the card is read, so a meeting that passes moves
from "Next meeting" to "Last meeting" without a sync.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import operator
import statistics
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from models.addresses import is_internal
from models.domain import INBOUND, INTERNAL, OUTBOUND, Activity, ActivityKind, Contact, Settings, utcnow
from models.rep_privacy import thread_key

EXCHANGE_HORIZON_DAYS = 400  # older mail and meetings are not recorded: no signal looks back further than a year
# The newest exchanges a contact keeps (about 100 KB of its document, which the card reads): a correspondent of
# thousands of emails a month must not grow the contact toward Firestore's 1 MiB limit. Signals read no more
# than these, whether computed from the stored map or from scratch, so both ways agree.
EXCHANGES_MAX = 1_500
SIGNAL_WINDOW_DAYS = 365  # strength and going cold look at the last year
RESPONSE_WINDOW_DAYS = 180  # response rate: the team's outbound emails of the last 180 days
REPLY_WITHIN_DAYS = 7  # an answer counts when it comes within 7 days in the same thread
THREAD_GAP_DAYS = 30  # a subject taken up again after 30 silent days is a new conversation ("Re: Renewal" next year)
OPEN_THREAD_DAYS = 30  # a conversation silent for 30 days waits on nobody any more: it is going cold, not open
WAITING_ON_US_DAYS = 2  # default tenant threshold: more than 2 working days unanswered is "waiting on us"
WAITING_ON_THEM_DAYS = 5  # default tenant threshold: more than 5 working days is "waiting on them"
COLD_AFTER_DAYS = 30  # default tenant threshold: going cold is never sooner than 30 days
COLD_GAP_FACTOR = 2  # ... and only once the silence is twice their usual gap
REGULAR_MIN_TWO_WAY = 4  # "exchanged regularly": at least 4 two-way exchanges in the window
BEST_TIME_MIN_REPLIES = 5  # best time to reach is shown from 5 of their replies on
BEST_TIME_WINDOW_HOURS = 3  # shown as a 3-hour window of their local time
RECENCY_HALF_LIFE_DAYS = 30  # strength's recency halves every 30 days of silence
FREQUENCY_SATURATION = 50  # strength's frequency is full at 50 weighted exchanges a year
MEETING_WEIGHT = 2  # a meeting counts as two emails in strength's frequency
STRENGTH_WEIGHTS = (0.4, 0.35, 0.25)  # recency, frequency, reciprocity

EMAIL, MEETING = "e", "m"
THEIRS, OURS, COPIED = "i", "o", "c"
Internal = Callable[[str], bool]


class Exchange(NamedTuple):
    """One email or meeting as it bears on one contact (see the module doc for the stored form).

    A named tuple, not a frozen dataclass: a card decodes every exchange of a
    contact on each open (up to `EXCHANGES_MAX`), and a frozen dataclass costs
    several times as much to make.
    """

    at: dt.datetime
    kind: str  # EMAIL or MEETING
    direction: str = ""  # THEIRS, OURS or COPIED (emails)
    reps: tuple[str, ...] = ()
    thread: str = ""
    utc_offset: int | None = None  # minutes east of UTC of the sender's Date header

    def encode(self) -> str:
        offset = "" if self.utc_offset is None else str(self.utc_offset)
        return "|".join([str(int(self.at.timestamp())), self.kind, self.direction, ",".join(self.reps),
                         self.thread, offset])

    @classmethod
    def decode(cls, raw: str) -> Exchange:
        at, kind, direction, reps, thread, offset = raw.split("|")
        return _make(cls, (_from_epoch(int(at), dt.UTC), kind, direction, tuple(filter(None, reps.split(","))),
                           thread, int(offset) if offset else None))


_make = tuple.__new__  # what a named tuple's own constructor calls, without its Python frame
_from_epoch = dt.datetime.fromtimestamp


def exchange_of(activity: Activity, is_theirs: Callable[[str], bool], is_internal: Internal,
                now: dt.datetime) -> Exchange | None:
    """What `activity` says of the relationship with one contact, or None when it says nothing.

    `is_theirs(address)` tells whether an address is the contact's own. Notes,
    calls, internal mail and anything older than `EXCHANGE_HORIZON_DAYS` say nothing.
    """
    if activity.at < now - dt.timedelta(days=EXCHANGE_HORIZON_DAYS) or activity.direction == INTERNAL:
        return None
    team = tuple(sorted({p.email for p in activity.participants if is_internal(p.email)
                         and p.role in ("from", "to", "cc", "organizer", "attendee")}))
    if activity.kind == ActivityKind.MEETING:
        return Exchange(activity.at, MEETING, "", team)
    if activity.kind != ActivityKind.EMAIL:
        return None
    sender = next((p for p in activity.participants if p.role == "from"), None)
    thread = thread_key(activity.subject) or ""  # the emails without a subject: one thread
    if activity.direction == OUTBOUND and sender is not None:
        addressed = any(p.role == "to" and is_theirs(p.email) for p in activity.participants)
        return Exchange(activity.at, EMAIL, OURS if addressed else COPIED, (sender.email,), thread)
    if activity.direction == INBOUND and sender is not None:
        recipients = tuple(r for r in team if r != sender.email)
        if is_theirs(sender.email):
            return Exchange(activity.at, EMAIL, THEIRS, recipients, thread, activity.utc_offset)
        return Exchange(activity.at, EMAIL, COPIED, recipients, thread)
    return None


def exchange_code(activity: Activity, contact_id: str, contact_of: Callable[[str], str | None],
                  is_internal: Internal, now: dt.datetime) -> str | None:
    """`exchange_of` for sync, stored form: `contact_of(address)` is the contact id an address belongs to."""
    exchange = exchange_of(activity, lambda address: contact_of(address) == contact_id, is_internal, now)
    return exchange.encode() if exchange is not None else None


def exchanges_from_activities(activities: Iterable[Activity], contact_id: str, emails: Iterable[str],
                              is_internal: Internal, now: dt.datetime) -> dict[str, str]:
    """The exchanges map computed from scratch over a contact's activities (tests and repairs)."""
    own = set(emails)
    found = {}
    for activity in activities:
        if contact_id in activity.contact_ids:
            exchange = exchange_of(activity, own.__contains__, is_internal, now)
            if exchange is not None:
                found[activity.id] = exchange.encode()
    return newest_exchanges(found)


def newest_exchanges(exchanges: Mapping[str, str]) -> Mapping[str, str]:
    """The newest `EXCHANGES_MAX` of a contact's exchanges, by time and then activity id (what it keeps)."""
    if len(exchanges) <= EXCHANGES_MAX:
        return exchanges
    kept = sorted(exchanges, key=lambda aid: (int(exchanges[aid].split("|", 1)[0]), aid), reverse=True)
    return {aid: exchanges[aid] for aid in kept[:EXCHANGES_MAX]}


def expired_exchanges(exchanges: Mapping[str, str], now: dt.datetime) -> list[str]:
    """Activity ids of exchanges older than `EXCHANGE_HORIZON_DAYS`, which sync would not record today, and
    of those beyond the newest `EXCHANGES_MAX`, which no signal reads."""
    horizon = (now - dt.timedelta(days=EXCHANGE_HORIZON_DAYS)).timestamp()
    kept = newest_exchanges(exchanges)
    return sorted(aid for aid, raw in exchanges.items() if int(raw.split("|", 1)[0]) < horizon or aid not in kept)


_STRONGER = {THEIRS: 3, OURS: 2, COPIED: 1, "": 0}


def merged_exchanges(kept: Mapping[str, str], other: Mapping[str, str]) -> dict[str, str]:
    """The exchanges of two merged contacts: one email from one to the other's copy is theirs, not copied."""
    merged = dict(kept)
    for activity_id, raw in other.items():
        mine = merged.get(activity_id)
        if mine is None or _STRONGER[Exchange.decode(raw).direction] > _STRONGER[Exchange.decode(mine).direction]:
            merged[activity_id] = raw
    return merged


def working_days_between(start: dt.datetime, end: dt.datetime) -> int:
    """Weekdays (Monday to Friday, UTC dates) after `start`'s day up to and including `end`'s day.

    A message of Monday is 3 working days old on Thursday; one of Friday is 1 working day old on Monday.
    """
    first, last = start.astimezone(dt.UTC).date(), end.astimezone(dt.UTC).date()
    if last <= first:
        return 0
    days = (last - first).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for offset in range(1, rest + 1):
        if (first + dt.timedelta(days=weeks * 7 + offset)).weekday() < 5:
            count += 1
    return count


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """A tenant's "Needs attention" thresholds (admin card; `Settings`)."""

    waiting_on_us_days: int = WAITING_ON_US_DAYS
    waiting_on_them_days: int = WAITING_ON_THEM_DAYS
    cold_after_days: int = COLD_AFTER_DAYS


@dataclasses.dataclass
class Signals:
    """Where the team stands with one person at `now` (definitions in `compute`)."""

    last_email_at: dt.datetime | None = None
    last_meeting_at: dt.datetime | None = None
    next_meeting_at: dt.datetime | None = None
    last_activity_at: dt.datetime | None = None
    emails_answered: int = 0
    emails_asked: int = 0
    their_reply_median: dt.timedelta | None = None
    our_reply_median: dt.timedelta | None = None
    awaiting_us_at: dt.datetime | None = None  # their oldest message still the latest of its thread
    awaiting_them_at: dt.datetime | None = None  # our oldest message still the latest of its thread
    waiting_on_us_since: dt.datetime | None = None  # awaiting_us_at, once past the threshold
    waiting_on_them_since: dt.datetime | None = None
    waiting_on_us_days: int = 0
    waiting_on_them_days: int = 0
    strength: int = 0
    strength_by_rep: dict[str, int] = dataclasses.field(default_factory=dict)
    strongest: str | None = None
    going_cold: bool = False
    cold_at: dt.datetime | None = None  # when a regular contact goes (went) cold if nothing happens
    last_two_way_at: dt.datetime | None = None
    best_hours: tuple[int, int] | None = None  # local start and end hour of their usual reply window

    @property
    def waiting_on_us(self) -> bool:
        return self.waiting_on_us_since is not None

    @property
    def waiting_on_them(self) -> bool:
        return self.waiting_on_them_since is not None

    @property
    def response_rate(self) -> float | None:
        return self.emails_answered / self.emails_asked if self.emails_asked else None


def compute(exchanges: Mapping[str, str] | Iterable[Exchange], now: dt.datetime,
            thresholds: Thresholds = Thresholds()) -> Signals:
    """Every signal at `now`, from one contact's exchanges. Definitions:

    - last email / last meeting: the latest that started at or before `now`;
      next meeting: the soonest that starts after `now` (a cancelled meeting is
      removed by sync, so never one). Last activity: the later of the two.
    Emails are grouped into conversations: one thread (the subject), split where
    it was silent for more than `THREAD_GAP_DAYS` days.

    - response rate: of the team's emails to the person (`o`) in the last
      `RESPONSE_WINDOW_DAYS` days, those the person answered in the same thread
      within `REPLY_WITHIN_DAYS` days ("replied to 2 of 3"). An email younger
      than that and not yet answered is not counted either way.
    - reply times: the median of the person's delays from our latest message in
      a thread to their next one there; the team's, the other way round.
    - waiting on us: in some conversation the person's message is the latest and
      more than `waiting_on_us_days` working days old; waiting on them: ours is
      the latest, more than `waiting_on_them_days` working days old. Only
      conversations heard from in the last `OPEN_THREAD_DAYS` days are open; the
      oldest such message is the one shown.
    - strength, 0-100, for each teammate (the exchanges naming them) and overall
      (all of them), over the last `SIGNAL_WINDOW_DAYS` days:
      100 * (0.4 * recency + 0.35 * frequency + 0.25 * reciprocity), where
      recency = 0.5 ** (days since the latest exchange / 30),
      frequency = min(1, ln(1 + n) / ln(1 + 50)) with n = emails + 2 * meetings,
      reciprocity = 1 with a meeting, else min(ours, theirs) / max(ours, theirs)
      over emails (a one-way blast scores 0 there). Strongest connection: the
      teammate with the highest strength (then the latest exchange, then the address).
    - going cold: at least `REGULAR_MIN_TWO_WAY` two-way exchanges (their emails
      and past meetings) in the window, and the latest is older than both
      `COLD_GAP_FACTOR` times their median gap and `cold_after_days` days.
    - best time to reach: the `BEST_TIME_WINDOW_HOURS`-hour window of their
      local time (their `Date` header's offset) holding most of their emails,
      once there are `BEST_TIME_MIN_REPLIES` of them (on ties, the window opening
      at the busiest hour, then the earliest).
    """
    items = ([Exchange.decode(v) for v in newest_exchanges(exchanges).values()] if isinstance(exchanges, Mapping)
             else list(exchanges))
    items.sort(key=_ORDER)
    past = [e for e in items if e.at <= now]
    signals = Signals()
    emails = [e for e in past if e.kind == EMAIL]
    meetings = [e for e in past if e.kind == MEETING]
    signals.last_email_at = emails[-1].at if emails else None
    signals.last_meeting_at = meetings[-1].at if meetings else None
    signals.next_meeting_at = next((e.at for e in items if e.kind == MEETING and e.at > now), None)
    signals.last_activity_at = max((t for t in (signals.last_email_at, signals.last_meeting_at) if t), default=None)
    _conversation(signals, [e for e in emails if e.direction in (THEIRS, OURS)], now, thresholds)
    window_start = now - dt.timedelta(days=SIGNAL_WINDOW_DAYS)
    window = [e for e in past if e.at >= window_start]
    signals.strength = strength(window, now)
    reps = sorted({r for e in window for r in e.reps})
    signals.strength_by_rep = {rep: strength([e for e in window if rep in e.reps], now) for rep in reps}
    if signals.strength_by_rep:
        latest = {rep: max(e.at for e in window if rep in e.reps) for rep in reps}
        signals.strongest = max(reps, key=lambda r: (signals.strength_by_rep[r], latest[r], r))
    two_way = [e.at for e in window if e.kind == MEETING or e.direction == THEIRS]
    signals.last_two_way_at = two_way[-1] if two_way else None
    if len(two_way) >= REGULAR_MIN_TWO_WAY:
        usual = statistics.median((b - a).total_seconds() for a, b in zip(two_way, two_way[1:], strict=False))
        quiet = max(COLD_GAP_FACTOR * usual, thresholds.cold_after_days * 86400)
        signals.cold_at = two_way[-1] + dt.timedelta(seconds=quiet)
        signals.going_cold = now > signals.cold_at
    signals.best_hours = best_hours([e for e in emails if e.direction == THEIRS])
    return signals


_ORDER = operator.attrgetter("at", "kind", "direction", "thread", "reps")  # how `compute` orders exchanges


def _conversation(signals: Signals, emails: list[Exchange], now: dt.datetime, thresholds: Thresholds) -> None:
    """Response rate, reply times and waiting on, thread by thread (emails in time order)."""
    threads: dict[str, list[list[Exchange]]] = {}
    gap = dt.timedelta(days=THREAD_GAP_DAYS)
    for e in emails:  # in time order: a long silence starts a new conversation on the same subject
        conversations = threads.setdefault(e.thread, [[]])
        if conversations[-1] and e.at - conversations[-1][-1].at > gap:
            conversations.append([])
        conversations[-1].append(e)
    since = now - dt.timedelta(days=RESPONSE_WINDOW_DAYS)
    open_since = now - dt.timedelta(days=OPEN_THREAD_DAYS)
    within = dt.timedelta(days=REPLY_WITHIN_DAYS)
    theirs_delays, ours_delays = [], []
    waiting_us, waiting_them = [], []
    for thread in (c for conversations in threads.values() for c in conversations):
        for position, e in enumerate(thread):
            if position and thread[position - 1].direction != e.direction:
                (theirs_delays if e.direction == THEIRS else ours_delays).append(e.at - thread[position - 1].at)
            if e.direction == OURS and e.at >= since:
                answered = any(later.direction == THEIRS and later.at - e.at <= within
                               for later in thread[position + 1:])
                if answered or now - e.at > within:
                    signals.emails_asked += 1
                    signals.emails_answered += answered
        latest = thread[-1]
        if latest.at >= open_since:
            (waiting_us if latest.direction == THEIRS else waiting_them).append(latest.at)
    signals.their_reply_median = _median(theirs_delays)
    signals.our_reply_median = _median(ours_delays)
    # the oldest open thread decides: if it is not past the threshold, no younger one is
    signals.awaiting_us_at, signals.awaiting_them_at = min(waiting_us, default=None), min(waiting_them, default=None)
    if signals.awaiting_us_at and working_days_between(signals.awaiting_us_at, now) > thresholds.waiting_on_us_days:
        signals.waiting_on_us_since = signals.awaiting_us_at
        signals.waiting_on_us_days = working_days_between(signals.awaiting_us_at, now)
    if (signals.awaiting_them_at
            and working_days_between(signals.awaiting_them_at, now) > thresholds.waiting_on_them_days):
        signals.waiting_on_them_since = signals.awaiting_them_at
        signals.waiting_on_them_days = working_days_between(signals.awaiting_them_at, now)


def _median(delays: list[dt.timedelta]) -> dt.timedelta | None:
    return dt.timedelta(seconds=statistics.median(d.total_seconds() for d in delays)) if delays else None


def strength(exchanges: list[Exchange], now: dt.datetime) -> int:
    """0-100 from recency, frequency and reciprocity (the formula is in `compute`'s docstring)."""
    if not exchanges:
        return 0
    days = max(0.0, (now - max(e.at for e in exchanges)).total_seconds() / 86400)
    recency = 0.5 ** (days / RECENCY_HALF_LIFE_DAYS)
    meetings = sum(e.kind == MEETING for e in exchanges)
    weighted = len(exchanges) - meetings + MEETING_WEIGHT * meetings
    frequency = min(1.0, math.log1p(weighted) / math.log1p(FREQUENCY_SATURATION))
    ours = sum(e.direction == OURS for e in exchanges)
    theirs = sum(e.direction == THEIRS for e in exchanges)
    reciprocity = 1.0 if meetings else (min(ours, theirs) / max(ours, theirs) if ours and theirs else 0.0)
    w_recency, w_frequency, w_reciprocity = STRENGTH_WEIGHTS
    return round(100 * (w_recency * recency + w_frequency * frequency + w_reciprocity * reciprocity))


def best_hours(replies: list[Exchange]) -> tuple[int, int] | None:
    """Their usual reply window in their local time, or None below `BEST_TIME_MIN_REPLIES` known offsets."""
    known = [e for e in replies if e.utc_offset is not None]
    shift = {offset: dt.timedelta(minutes=offset) for offset in {e.utc_offset for e in known}}  # few time zones
    hours = [(e.at + shift[e.utc_offset]).hour for e in known]
    if len(hours) < BEST_TIME_MIN_REPLIES:
        return None
    counts = [hours.count(h) for h in range(24)]
    start = max(range(24), key=lambda h: (sum(counts[(h + i) % 24] for i in range(BEST_TIME_WINDOW_HOURS)),
                                          counts[h], -h))
    return start, (start + BEST_TIME_WINDOW_HOURS) % 24


def is_internal_to(domains: Iterable[str]) -> Internal:
    """An `is_internal` predicate for a tenant's domains (what sync's `Team.is_internal` answers)."""
    domains = list(domains)
    return lambda address: is_internal(address, domains)


def waiting_cutoff(now: dt.datetime, working_days: int) -> dt.datetime:
    """The latest instant a message can have been sent and be more than `working_days` working days old now.

    What a segment's query compares `awaiting_us_at` with: `working_days_between`
    counts days, so the cutoff is the last microsecond of the latest such day.
    """
    day = now.astimezone(dt.UTC).date()
    while True:
        day -= dt.timedelta(days=1)
        end = dt.datetime.combine(day, dt.time.max, dt.UTC)
        if working_days_between(end, now) > working_days:
            return end


def stored_fields(signals: Signals) -> dict[str, float | int | None]:
    """What a contact keeps of its signals for segments' queries and the passing of meetings (epoch seconds).

    Each is a moment, not a verdict, so a query compares it with `now` and the
    tenant's thresholds when it runs (`waiting_cutoff`); only `strength` is a
    value as of the last refresh.
    """
    def epoch(at: dt.datetime | None) -> float | None:
        return at.timestamp() if at is not None else None

    return {"awaiting_us_at": epoch(signals.awaiting_us_at), "awaiting_them_at": epoch(signals.awaiting_them_at),
            "cold_at": epoch(signals.cold_at), "next_meeting_at": epoch(signals.next_meeting_at),
            "strength": signals.strength}


def thresholds_of(settings: Settings) -> Thresholds:
    return Thresholds(settings.waiting_on_us_days, settings.waiting_on_them_days, settings.cold_after_days)


def of_contact(contact: Contact, now: dt.datetime, thresholds: Thresholds = Thresholds()) -> Signals:
    """A contact's signals at `now`: `compute` over its exchanges, with its counters for what is older.

    The counters (`last_email_at`, ...) remember mail older than the exchanges
    keep (`EXCHANGE_HORIZON_DAYS`) and notes and calls; a counter value after
    `now` (written before sync kept the future apart) is never taken as "last".
    """
    signals = compute(contact.exchanges, now, thresholds)

    def latest(*values: dt.datetime | None) -> dt.datetime | None:
        return max((v for v in values if v is not None and v <= now), default=None)

    signals.last_email_at = latest(signals.last_email_at, contact.last_email_at)
    signals.last_meeting_at = latest(signals.last_meeting_at, contact.last_meeting_at)
    signals.last_activity_at = latest(signals.last_activity_at, contact.last_activity_at, signals.last_email_at,
                                      signals.last_meeting_at)
    return signals


def rebuild_signals(repo) -> int:
    """Every contact's exchanges computed again from its activities, then its stored moments; the contacts done.

    For data sync stored before it kept exchanges (an upgrade), or a repair: a
    scan of the contacts and one query of activities each, never behind a card.
    Run it with sync stopped (a concurrent sync's exchange could be replaced by
    the map read before it), or simply run it again.
    """
    now = utcnow()
    settings = repo.get_settings()
    internal = is_internal_to([repo.tenant, *settings.internal_domains])
    done = []
    for contact in repo.all_contacts():
        if contact.merged_into:
            continue
        exchanges = exchanges_from_activities(repo.activities_of_contact(contact.id), contact.id, contact.emails,
                                              internal, now)
        if exchanges != contact.exchanges:
            repo.rebuild_exchanges(contact.id, exchanges)
        done.append(contact.id)
    repo.refresh_signals(done, thresholds_of(settings), now)
    return len(done)
