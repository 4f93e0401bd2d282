"""The Firestore repository: every read and write of one tenant's documents.

It is the only module that knows where a document lives (with `models.search`,
which it owns): the rest of the code speaks to it in domain terms and never
holds a document reference, builds a path or looks at which collection a
snapshot came from.

Layout (SPEC §6), everything under `tenants/{tenant}`:

    tenants/{tenant}                         settings (privacy level, exclusions, ...)
      contacts/{contact_id}                  a Contact (with `timeline_months`, the buckets that exist, and
                                             `timeline_parts`, each bucket's time span)
        timeline/{YYYY-MM}                   {entries: {activity_id: TimelineEntry}, rows}: a month's first rows
        timeline/{YYYY-MM.N}                 the month's further parts, once each before it holds
                                             `TIMELINE_PART_ROWS` rows (see "Bounded documents")
      emails/{email}                         {contact_id, domain}: the address index
      companies/{domain}                     a Company, keyed by registrable domain
      activities/{activity_id}               an Activity, one per message/meeting/note/call
      mailboxes/{email}                      a rep's Mailbox and its sync cursors
        messages/{gmail id}                  the add-on's record of a message it read from the Gmail API
                                             (with `tenant` and `exclusion_keys`, which a purge queries)
        message_index/{0..15}                {ids: {gmail id: activity_id}}: sync's Gmail-id index, bucketed
      names/{folded full name}               {contact_ids: [...]}: the name index sync uses to spot
                                             a known person at a new company (a likely job change)
      unlinked/{email}                       {activity_ids: [...], noted, overflow}: activities sync stored
                                             naming an address no contact held yet, linked when one is
                                             created (at most `UNLINKED_IDS_MAX`, then `overflow`)
      merges/{merged contact id}             the journal of a merge (`models.merge`)
      requests/{hash of rep and request id}  {kind, id, rep, at, expires_at}: what one card click created, so
                                             its retry creates nothing more (`add_activity_once`); deleted
                                             by a Firestore TTL policy on `expires_at` (REQUEST_WINDOW)
      reps/{rep}                             {segments: {...}}: a rep's saved segments (`models.segments`)
      search/{prefix}, owners/{rep}/shards/{n}   the search and owner indexes (`models.search`)
      leases/{email}, watches/{email}        a mailbox's lease (`models.leases`), its push watches
      health/queue                           the sync queue as the dispatcher last measured it (`models.health`)

Why this shape: a card must cost a handful of reads whatever the tenant's size,
and the emulator scans whole collections on queries. So a contact is found by
address with one `get` of `emails/{email}`, a company by one `get` of
`companies/{domain}`, and a timeline page is one batched `get_all` of the
contact's newest monthly timeline buckets, which carry what a row shows. The
emulator's queries cost time in proportion to the whole database (measured:
a 21-row query on one contact's subcollection took 17 ms at 1k activities and
30 ms at 10k), while gets stay flat, so no card ever runs a query. A bucket is
written with a field-level merge (`entries.{activity_id}`), so concurrent
writers never clash and a rerun rewrites the same values.

What the rest of the code asks for:

- Read views, one round trip each for what a surface shows: `message_view`
  (the Gmail card: settings, the add-on's record of the message and sync's
  Gmail-id index bucket in one `get_all`; then the activity of a message only
  sync stored), `people_view` (the people of a message or event: address
  index, contacts, companies and their newest timeline months in one
  `get_all`, which `timeline(buckets=...)` reuses), `home_view` (settings and
  the rep's segments), `admin_view` (the admin card's mailboxes, bounded, with
  their leases, watches and the queue's health). A Gmail card for recent
  synced mail costs three round trips and no Google API call.
- Named write operations that take a `models.writes.WriteSet` (a batch, a
  recording for sync's chunks and tests), so the caller
  chooses what commits together: `put_activity(ies)`, `remove_activity` (the
  one removal: timeline rows, the add-on's records and sync's Gmail-id index
  entries, the document last), `record_touches`, `record_synced_messages`,
  `index_emails`, `index_name`, `put_synced_contact`, `put_merged_contact`,
  `remove_contact`, `make_alias`, ...; and whole operations that commit
  themselves (`create_contact`, `save_contact`,
  `settle_synced_contacts`, `settle_job_changes`, `move_timeline_bucket`).
  `commit_recorded` commits a recorded write set the way sync's chunks need
  (activity documents last, plain sets through `models.encoding`).
- `SYNC_ONLY_FIELDS`: the counters only sync's `Maximum` transforms set, left
  out of every other write of a contact.

Counters that several writers touch at once (a contact's last activity, who on
the team last touched them) are Firestore `Maximum` transforms on epoch
seconds, so two mailboxes syncing the same person concurrently can neither
lose nor lower a value, and a rerun writes the same numbers again.

Sync's queries (the `# --- sync` section) are the exception that proves the
rule: they run in the daemon, never behind a card, and only for what is rare
(a deleted message or cancelled event found by its id in one mailbox, a
resync's reconciliation, the few contacts still `link_pending`). Contacts sync
creates carry `link_pending` until sync has linked the activities stored
before they existed, which `unlinked/{email}` lists (one read per address,
where a query over activities would scan them all). The admin's look-ups
(exclusions, address conflicts) and segment queries are the other queries;
none runs behind a Gmail or Calendar card.

Bounded documents (SPEC §7: none grows without bound with the customer's
data; Firestore refuses a document over 1 MiB):

- a timeline bucket holds at most about `TIMELINE_PART_ROWS` rows, each of a
  bounded size (`_entry_doc`): a busy month spills into numbered parts. Which
  part a new row goes to is decided by `TimelinePlacement`, which counts the
  rows of each bucket (each bucket's `rows`, an `Increment`, read once, then
  counted as it places); the row's bucket is recorded on the activity
  (`timeline_buckets`), so a rewrite or a removal finds it without a read.
  The contact lists the buckets and records each one's time span with
  `Minimum` and `Maximum` transforms, so concurrent writers merge. The reader
  takes buckets newest span first and stops once the page is full and no
  unread bucket can hold a newer row: the newest 20 rows of a 10,000-email
  month cost one part's read. Two processes filling the same contact's month
  at once can each put one chunk's rows in the same part, which the row
  bound leaves room for.
- `unlinked/{email}` keeps at most about `UNLINKED_IDS_MAX` activity ids
  (sync counts them, `noted`); past that it only says `overflow`, and the
  link pass finds that address's activities by a query instead (a busy
  sender nobody wrote to would otherwise grow it forever).
- Bounded by something other than the data's volume, with the bound: a
  contact's `touches`, `first_touches` and `names_seen` (one entry per rep);
  its `timeline_months`/`timeline_parts` (one entry per bucket: ~60 bytes a
  month, plus one per 200 rows of a busy month); `names/{key}` (the
  contacts sharing one folded full name: ~40,000 fit); a mailbox's 16
  `message_index` buckets (~20,000 ids each: ~320,000 messages in the
  backfill window). Not bounded: a search prefix document (`models.search`)
  holds every contact with a word starting with those two letters (~8,000
  fit), and an activity's participants are what the sender wrote (one over
  1 MiB is skipped and counted by sync).

The repository is scoped to one tenant when it is made; nothing it does takes a
tenant from its arguments. Made with a `deadline` (the web process), it passes
`retry=` and `timeout=` on each Firestore call so a call and its retries give
up in time for the add-on to answer Google (`deadline_options`). That is why
creating and saving a contact are a read and a conditional commit rather than
a transaction: google-cloud-firestore offers no per-call setting for a
transaction's begin and commit.

What a read costs in the process, since a Gmail card is mostly reads: batched
reads (`get_all`) are decoded straight from the protobuf, once
(`models.encoding.batch_get`), and streamed calls run on the reading thread
(`connect`'s `_CallerStreamsTransport`); a timeline page decodes only the rows
it shows.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
import operator
import os
import random
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote

from google.api_core import exceptions as core_exceptions
from google.api_core import retry as retries
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter, Or
from google.cloud.firestore_v1.field_path import FieldPath
from google.cloud.firestore_v1.services.firestore import client as firestore_gapic
from google.cloud.firestore_v1.services.firestore.transports import grpc as firestore_grpc

from models import encoding
from models.addresses import (
    company_domain,
    exclusion_terms,
    name_key,
    normalize_email,
)
from models.domain import (
    DEPARTED_BY_DIRECTORY,
    SEGMENT_ACTIVITY_MODES,
    Activity,
    ActivityKind,
    Company,
    Contact,
    CustomFieldDefinition,
    Mailbox,
    MailboxState,
    Participant,
    Segment,
    Settings,
    TimelineEntry,
    utcnow,
)
from models.health import QueueHealth, SyncHealth
from models.leases import Lease, LeaseDocuments, Leases, LeaseState, lease_state
from models.precedence import NAME_SOURCE_RANK, best_name, first_owner, name_rank
from models.search import MAX_RESULTS, SearchHit, SearchIndex
from models.signals import (
    OPEN_THREAD_DAYS,
    Thresholds,
    expired_exchanges,
    merged_exchanges,
    of_contact,
    stored_fields,
    waiting_cutoff,
)
from models.watches import Watch
from models.writes import FIRESTORE_BATCH_MAX, BufferedWriteSet, RecordingWriteSet, Write, WriteSet

log = logging.getLogger(__name__)

FIRESTORE_IN_MAX = 30  # Firestore: at most 30 values in an `in` or `array_contains_any` filter
FIRESTORE_GET_ALL_CHUNK = 300  # keeps one BatchGetDocuments request comfortably small
TIMELINE_PAGE_SIZE = 20
MESSAGE_INDEX_BUCKETS = 16  # ~600 Gmail ids a bucket per 10,000 messages; at most 16 writes a sync chunk
COMPANY_CONTACT_SAMPLE = 25  # how many contact ids a company keeps for its card
UNLINKED_IDS_MAX = 2_000  # activity ids an `unlinked/{email}` list keeps (~60 KB) before it says `overflow`
TIMELINE_BUCKETS_PER_READ = 3  # months fetched per get_all while filling a timeline page
NEXT_MONTH_DAYS = 31  # from any day, 31 days later is in the next calendar month
# Rows a timeline bucket takes before the month spills into its next part. A row is at most ~3.2 KB
# (`_entry_doc`'s bounds), so a full part stays under 0.7 MiB, leaving room for concurrent writers'
# overfill under Firestore's 1 MiB document limit; a typical row (~400 B) makes a part ~80 KB.
TIMELINE_PART_ROWS = 200
TIMELINE_ROW_SUBJECT_MAX = 250  # characters of a subject a timeline row keeps (the activity keeps it whole)
TIMELINE_ROW_HOLDERS_MAX = 25  # holders a row lists (sorted); a wider mail shows its first 25
TIMELINE_ROW_COUNTERPART_MAX = 100
WRITE_ATTEMPTS = 5  # a conditional write planned again when its reads went stale (a transaction's default)
RETRY_INITIAL_SECONDS = 0.1  # the generated Firestore client's own first backoff
RETRY_MULTIPLIER = 1.3  # and its growth
RELEASE_CHUNK = 20  # activities one release transaction decides (a removal writes a few documents each)
RELEASE_ATTEMPTS = 10  # a release transaction retried on contention, at most
RELEASE_ROUNDS = 5  # rounds of RELEASE_ATTEMPTS, apart by a random pause (`_release_chunk`)
RELEASE_PAUSE_SECONDS = 1.0  # the longest pause between two rounds, times the round's number

# Fields stored as epoch seconds so `Maximum` transforms can merge them (see module doc).
_EPOCH_FIELDS = ("last_activity_at", "last_email_at", "last_meeting_at")
# A contact's fields only sync's counters set (`record_touches`): an edit, an import, a merge or
# sync's own contact creation writes a contact without them, so it never resets what was raised.
# The reps' privacy marks (`set_person_private`, `set_thread_private`) are written by transforms only, too.
SIGNAL_FIELDS = ("awaiting_us_at", "awaiting_them_at", "cold_at", "next_meeting_at", "strength")  # models.signals
SYNC_ONLY_FIELDS = (*_EPOCH_FIELDS, "touches", "timeline_months", "timeline_parts", "exchanges", "private_reps",
                    "private_threads")
_KIND_COUNTERS = {ActivityKind.EMAIL: ("last_email_at",), ActivityKind.MEETING: ("last_meeting_at",)}


class NotFound(LookupError):
    """The document asked for does not exist in this tenant."""


class Conflict(ValueError):
    """A write would break an invariant (e.g. an address already held by another contact)."""


def connect(project: str, emulator_host: str | None = None) -> firestore.Client:
    """A Firestore client; the emulator when a host is given (the client reads the standard variable).

    Its streamed reads (`get_all`, queries) run on the thread that reads them
    (`_CallerStreamsTransport`).
    """
    if emulator_host:
        os.environ["FIRESTORE_EMULATOR_HOST"] = emulator_host
    client = firestore.Client(project=project)
    client._firestore_api_helper(_CallerStreamsTransport, firestore_gapic.FirestoreClient, firestore_gapic)
    return client


class _CallerStreamsTransport(firestore_grpc.FirestoreGrpcTransport):
    """The Firestore client's own transport, on a channel that runs unary-stream calls on the caller's thread.

    BatchGetDocuments and RunQuery are unary-stream calls. By default gRPC
    Python starts a thread for each such call made while no other is in
    flight, and hands each streamed document from that thread to the reader:
    for a Gmail card (three batched reads, a dozen documents) that was about a
    tenth of the request's CPU, and more of its time on a busy machine.
    gRPC's `SingleThreadedUnaryStream` channel option (experimental, public)
    makes the reading thread drive the call itself; a stream abandoned part
    read is cancelled when its iterator is collected, as before.

    The option is read when a channel is made, and the Firestore client makes
    its channel itself (emulator or Google, with its own credentials and
    options), so this transport sets what the option sets on the channel it is
    given, before its stubs are made; `connect` has the client build its
    generated API with it, through the helper the client uses for that. Both
    are non-public names, of the versions pinned in requirements.txt:
    `Client._firestore_api_helper(transport, client_class, client_module)`
    (google-cloud-firestore) and `Channel._single_threaded_unary_stream`
    (grpcio: what the channel option sets). On a channel of another kind the
    attribute is unused and calls run as before.
    """

    def __init__(self, *args, channel=None, **kwargs):
        if channel is not None:
            channel._single_threaded_unary_stream = True
        super().__init__(*args, channel=channel, **kwargs)


def doc_id(value: str) -> str:
    """A Firestore-safe document id for an address or domain ('/' is a path separator)."""
    quoted = quote(value, safe="@+-_.!~*'()=") or "_"
    if quoted in (".", "..") or (len(quoted) >= 4 and quoted.startswith("__") and quoted.endswith("__")):
        quoted = f"%{ord(quoted[0]):02X}{quoted[1:]}"  # Firestore reserves ".", ".." and "__*__" ids
    return quoted


def contact_id_for(email: str) -> str:
    """Deterministic, so a sync that crashes and reruns creates the same contact, not a twin."""
    return "c" + hashlib.sha256(email.encode()).hexdigest()[:20]


def activity_id_for(external_key: str) -> str:
    """Deterministic from the Message-ID (or iCalUID + start): one activity per real event."""
    return "a" + hashlib.sha256(external_key.encode()).hexdigest()[:24]


EXCLUSION_KEYS = "exclusion_keys"  # on activities and the add-on's message records: see `exclusion_keys`


def exclusion_keys(addresses: Iterable[str]) -> list[str]:
    """What an exclusion can match of these addresses (`models.addresses.exclusion_terms`), sorted.

    Stored on each activity and add-on message record so that a purge finds
    what an address or a domain exclusion covers with one `array_contains`
    query, instead of reading every activity of the tenant.
    """
    return sorted({term for address in addresses for term in exclusion_terms(address)})


def request_key(rep: str, request_id: str) -> str:
    """The document id of a card click's record (`Repository.add_activity_once`): rep and request id, hashed."""
    return "r" + hashlib.sha256(f"{rep}\n{request_id}".encode()).hexdigest()[:32]


# A card click's request id is honoured this long after its form was built, and its record kept as long
# (then deleted by Firestore's TTL policy on `expires_at`, README "Deploying"). Google retries a card action
# within seconds and the error card's Retry repeats a click minutes later; a week also covers a form left
# open in the sidebar over a long weekend. What that costs: one ~200-byte document a click, a week's worth.
REQUEST_WINDOW = dt.timedelta(days=7)
# The web service's instances are NTP-synced; an instance whose clock is this far behind Google's still finds
# the record of a click it honours (the record outlives the window by this much).
REQUEST_CLOCK_SKEW = dt.timedelta(minutes=5)
REQUEST_ID_TIME_HEX = 8  # a request id: "r", the form's time (epoch seconds, 8 hex digits, good until 2106)...
REQUEST_ID_RANDOM_HEX = 16  # ...and 64 random bits
REQUEST_ID_LENGTH = 1 + REQUEST_ID_TIME_HEX + REQUEST_ID_RANDOM_HEX


class RequestExpired(ValueError):
    """A card click whose request id is outside its window (`request_open`): nothing is read or written for it."""


def issue_request_id(now: dt.datetime | None = None) -> str:
    """The id of one click on a form's button: "r", the time the form is built, random bits (see `request_open`)."""
    seconds = int((now or utcnow()).timestamp())
    return f"r{seconds:0{REQUEST_ID_TIME_HEX}x}{uuid.uuid4().hex[:REQUEST_ID_RANDOM_HEX]}"


def request_issued_at(request_id: str) -> dt.datetime | None:
    """When the request id's form was built; None for an id without a time (forms built before ids had one)."""
    if len(request_id) != REQUEST_ID_LENGTH:
        return None
    return dt.datetime.fromtimestamp(int(request_id[1:1 + REQUEST_ID_TIME_HEX], 16), dt.UTC)


def request_open(request_id: str, now: dt.datetime | None = None) -> bool:
    """Whether a click with this request id is honoured now: within `REQUEST_WINDOW` of its form's time.

    Why the window is read from the id and not from the record: the record is
    what tells a retry from a new click, and Firestore's TTL deletes it at some
    point after `expires_at`, not at it. A click is honoured only while its
    record, if the first click wrote one, is certain to exist (it expires
    `REQUEST_WINDOW + REQUEST_CLOCK_SKEW` after the form's time, and TTL never
    deletes early), so whether an expired record is still there never changes
    an answer. Decided: a click after the window (an old form, or one built
    before ids carried a time) is refused with a card that says so and offers
    the form again under a new id; it never creates a second note or contact.
    """
    issued = request_issued_at(request_id)
    if issued is None:
        return False
    now = now or utcnow()
    return issued - REQUEST_CLOCK_SKEW <= now < issued + REQUEST_WINDOW


def request_expires_at(request_id: str) -> dt.datetime:
    """The record's TTL time: after the last moment any instance honours the click (`request_open`)."""
    issued = request_issued_at(request_id)
    if issued is None:
        raise RequestExpired("the request id carries no time")
    return issued + REQUEST_WINDOW + REQUEST_CLOCK_SKEW


def request_activity_id(rep: str, request_id: str) -> str:
    """The id of the note or call a card click creates: the same for every retry of that click."""
    return "a" + hashlib.sha256(f"card request\n{rep}\n{request_id}".encode()).hexdigest()[:24]


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:20]


def to_epoch(value: dt.datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def from_epoch(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromtimestamp(float(value), dt.UTC)


# --- mapping between dataclasses and documents -------------------------------------------

def contact_to_doc(contact: Contact) -> dict[str, Any]:
    data = dataclasses.asdict(contact)
    data.pop("id")
    for name in _EPOCH_FIELDS:
        data[name] = to_epoch(data[name])
    data["touches"] = {doc_id(rep): to_epoch(at) for rep, at in contact.touches.items()}
    return data


def contact_from_doc(snapshot) -> Contact:
    data = snapshot.to_dict()
    for name in _EPOCH_FIELDS:
        data[name] = from_epoch(data.get(name))
    data["touches"] = {unquote(rep): from_epoch(at) for rep, at in (data.get("touches") or {}).items()}
    return Contact(id=snapshot.id, **_known(Contact, data))


def company_to_doc(company: Company) -> dict[str, Any]:
    data = dataclasses.asdict(company)
    data.pop("id")
    data["last_activity_at"] = to_epoch(company.last_activity_at)
    return data


def company_from_doc(snapshot) -> Company:
    data = snapshot.to_dict()
    data["last_activity_at"] = from_epoch(data.get("last_activity_at"))
    return Company(id=unquote(snapshot.id), **_known(Company, data))  # an IDN domain's id is quoted (doc_id)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def activity_to_doc(activity: Activity) -> dict[str, Any]:
    # by hand, not dataclasses.asdict: its deep copies were a tenth of a full sync's CPU
    data = {name: getattr(activity, name) for name in _field_names(Activity) if name != "id"}
    data["participants"] = [{name: getattr(p, name) for name in _field_names(Participant)}
                            for p in activity.participants]
    data["contact_ids"], data["company_ids"] = list(activity.contact_ids), list(activity.company_ids)
    data["holders"] = {doc_id(mailbox): held_id for mailbox, held_id in activity.holders.items()}
    # for admin clean-ups (exclusions): which addresses and domains the activity involves
    data["addresses"] = sorted({p.email for p in activity.participants})
    data[EXCLUSION_KEYS] = exclusion_keys(p.email for p in activity.participants)
    return data


def activity_merge(activity: Activity, holders: Iterable[str] | None = None) -> dict[str, Any]:
    """An activity as a field-level merge two processes can write at once (issue 14 point 3).

    Holders merge one map field each (`holders.{mailbox}`): only those named
    in `holders` (all when None), so a writer never rewrites, nor brings back,
    another mailbox's holder. Linked contacts and companies are `ArrayUnion`s:
    two writers each add theirs; where each contact's row is placed
    (`timeline_buckets`) merges one map field per contact. The rest (subject,
    time, participants, direction, evidence, privacy, exclusion keys, ...) is
    what every holder reads from the same message or event.
    """
    data = activity_to_doc(activity)
    if holders is not None:
        wanted = {doc_id(mailbox) for mailbox in holders}
        data["holders"] = {key: held for key, held in data["holders"].items() if key in wanted}
        if not data["holders"]:
            del data["holders"]  # a merge of an empty map would clear the others (a note has none at all)
    if not data["timeline_buckets"]:
        del data["timeline_buckets"]  # likewise: another writer's placed rows stay recorded
    for field in ("contact_ids", "company_ids"):
        data[field] = _array_union(data[field])
    return data


def _array_union(values: list) -> Any:
    """`ArrayUnion(values)`; for no values, one that leaves a stored array as it is and makes a missing one []
    (Firestore's `ArrayRemove` of a value never stored: an `ArrayUnion` must have values)."""
    return firestore.ArrayUnion(values) if values else firestore.ArrayRemove([""])


def activity_from_doc(snapshot) -> Activity:
    data = snapshot.to_dict()
    data["participants"] = [Participant(**p) for p in data.get("participants") or []]
    data["holders"] = {unquote(m): held for m, held in (data.get("holders") or {}).items()}
    # stored before buckets had parts: every row is in its month's first bucket
    buckets = dict(data.get("timeline_buckets") or {})
    if len(buckets) < len(data.get("contact_ids") or ()) and data.get("at") is not None:
        for contact_id in data.get("contact_ids") or ():
            buckets.setdefault(contact_id, month_of(data["at"]))
    data["timeline_buckets"] = buckets
    return Activity(id=snapshot.id, **_known(Activity, data))


def mailbox_to_doc(mailbox: Mailbox) -> dict[str, Any]:
    """The mailbox's fields, its lists and maps copied one level (all they hold is plain values): what
    `dataclasses.asdict` gives, without deep-copying every datetime (a no-op sync's mailbox, each time)."""
    data = {}
    for name in _field_names(Mailbox):
        value = getattr(mailbox, name)
        data[name] = list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value
    return data


def mailbox_from_doc(snapshot) -> Mailbox:
    return Mailbox(**_known(Mailbox, snapshot.to_dict()))


def settings_from_doc(data: dict[str, Any] | None) -> Settings:
    data = dict(data or {})
    data["custom_fields"] = [CustomFieldDefinition(**f) for f in data.get("custom_fields") or []]
    return Settings(**_known(Settings, data))


# What a card reads of the rep's own mailbox: enough for models.progress to say how far the import has got.
MAILBOX_PROGRESS_FIELDS = ("history_id", "backfill_since", "backfill_started_at", "backfill_done_at",
                           "backfill_reached", "backfill_listed", "backfill_total")


def _progress_of(snapshot, rep: str) -> Mailbox | None:
    """The rep's mailbox as far as `MAILBOX_PROGRESS_FIELDS` go; None when it has never synced."""
    if snapshot is None:
        return None
    return Mailbox(**{**_known(Mailbox, snapshot.to_dict() or {}), "email": rep})


def _settings_of(root_snapshot) -> Settings:
    """The settings a tenant's root document holds (defaults when it does not exist).

    The teammates' names sync learnt (`rep_names`, beside `settings` so that saving
    the admin's settings never overwrites them) come with them.
    """
    data = (root_snapshot.to_dict() or {}) if root_snapshot.exists else {}
    settings = settings_from_doc(data.get("settings"))
    settings.rep_names = {unquote(rep): name for rep, name in (data.get("rep_names") or {}).items()}
    return settings


_KNOWN_NAMES: dict[type, frozenset[str]] = {}


def _known(cls, data: dict[str, Any]) -> dict[str, Any]:
    """Drop stored fields the dataclass does not (or no longer) have.

    The names are worked out once per class: `dataclasses.fields` costs a few
    microseconds a call, and a timeline page decodes a row per call.
    """
    names = _KNOWN_NAMES.get(cls)
    if names is None:
        names = _KNOWN_NAMES[cls] = frozenset(_field_names(cls)) - {"id"}
    return {k: v for k, v in data.items() if k in names}


def encode_cursor(entry: TimelineEntry) -> str:
    """An opaque 'Show more' token: the last entry's time and id, so pages never skip or repeat."""
    raw = json.dumps([entry.at.isoformat(), entry.activity_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[dt.datetime, str]:
    """Refuses anything that is not a cursor we made (it arrives from a card parameter)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        at, activity_id = json.loads(raw)
        return dt.datetime.fromisoformat(at), str(activity_id)
    except (ValueError, TypeError) as exc:
        raise ValueError("invalid timeline cursor") from exc


@dataclasses.dataclass
class TimelinePage:
    entries: list[TimelineEntry]
    next_cursor: str | None


@dataclasses.dataclass
class MessageView:
    """The Gmail card's read view of an open message (`Repository.message_view`)."""

    settings: Settings
    participants: list[Participant] | None  # None: neither sync nor the add-on has stored the message
    subject: str = ""
    activity: Activity | None = None  # sync's activity, when the people came from it
    mailbox: Mailbox | None = None  # the rep's own mailbox (how far their history import has got)


@dataclasses.dataclass
class PeopleView:
    """The people of a message or event (`Repository.people_view`), by address."""

    contacts: dict[str, Contact]  # address -> its contact (an alias resolved to the contact it became)
    companies: dict[str, Company]  # address -> its contact's company, or its domain's
    buckets: dict[str, dict[str, dict[str, str]]]  # contact id -> month -> rows already read, for `timeline`


@dataclasses.dataclass
class HomeView:
    """The home page's read view (`Repository.home_view`)."""

    settings: Settings
    segments: list[Segment]
    mailbox: Mailbox | None = None  # the rep's own mailbox (how far their history import has got)


@dataclasses.dataclass(frozen=True)
class Touch:
    """One activity's mark on a contact: when, what kind, and which rep (None for notes and calls).

    `exchange` is what the activity says of the relationship (`models.signals.Exchange.encode`),
    kept on the contact under `activity_id`.
    """

    at: dt.datetime
    kind: str
    rep: str | None = None
    activity_id: str | None = None
    exchange: str | None = None
    bucket: str | None = None  # the timeline bucket its row is in, when known (else its month's first)


def month_of(at: dt.datetime) -> str:
    """The timeline bucket an instant falls in (UTC month)."""
    return at.astimezone(dt.timezone.utc).strftime("%Y-%m")


def recent_months(now: dt.datetime, count: int) -> list[str]:
    """The `count` timeline buckets up to `now`, newest first: ["2026-12", "2026-11", "2026-10"]."""
    year, month = (int(part) for part in month_of(now).split("-"))
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def timeline_bucket(month: str, part: int) -> str:
    """A timeline bucket's id: the month for its first part, "YYYY-MM.N" for the next ones."""
    return month if part == 0 else f"{month}.{part}"


def bucket_month(bucket: str) -> str:
    """The month a timeline bucket belongs to ("2026-11.3" -> "2026-11")."""
    return bucket.partition(".")[0]


def _month_span(month: str) -> tuple[float, float]:
    """Epoch seconds of a month's first instant and of the last one before the next month."""
    year, number = (int(part) for part in month.split("-"))
    start = dt.datetime(year, number, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=dt.UTC)
    return start.timestamp(), end.timestamp() - 1e-6


class TimelinePlacement:
    """Where new timeline rows go: each contact's month fills its parts in order (module doc).

    Counts the rows of each bucket: a bucket document carries its own count
    (`rows`, an `Increment` of the rows placed there); the buckets of a month
    are those the contact lists. Both are read once (the contact through
    `learn` when the caller has it, else in one batched read; the counts of a
    month's buckets in one masked read), then counted here as rows are placed.
    A bucket listed without a count (stored before parts existed) counts as
    full, so it takes no more rows. Not thread-safe: sync places under its
    tenant lock, everyone else makes one per write.
    """

    def __init__(self, repo: Repository, part_rows: int = TIMELINE_PART_ROWS):
        self._repo = repo
        self.part_rows = part_rows
        self._listed: dict[str, set[str]] = {}  # contact id -> buckets its document lists
        self._rows: dict[str, dict[str, int]] = {}  # contact id -> bucket -> rows (months read so far)
        self._months: set[tuple[str, str]] = set()  # (contact id, month) whose counts are known

    def learn(self, contact: Contact) -> None:
        """Take the buckets a contact lists from a copy just read (sync reads its contacts anyway)."""
        self._listed.setdefault(contact.id, set(contact.timeline_months))

    def learn_new(self, contact_id: str) -> None:
        """A contact just created: its timeline is empty."""
        self._listed.setdefault(contact_id, set())

    def place(self, activities: Iterable[Activity]) -> list[tuple[Activity, str, str, bool]]:
        """(activity, contact id, bucket, new row?) for every row the activities show.

        A row already placed (`activity.timeline_buckets`) keeps its bucket; a
        new one goes to the first part of its month with room, and the
        activity records where.
        """
        activities = list(activities)
        wanted = {(c, month_of(a.at)) for a in activities for c in a.contact_ids if c not in a.timeline_buckets}
        self._count({pair for pair in wanted if pair not in self._months})
        placed = []
        for activity in activities:
            month = month_of(activity.at)
            for contact_id in activity.contact_ids:
                bucket = activity.timeline_buckets.get(contact_id)
                if bucket is not None:
                    placed.append((activity, contact_id, bucket, False))
                    continue
                rows = self._rows.setdefault(contact_id, {})
                part = 0
                while rows.get(timeline_bucket(month, part), 0) >= self.part_rows:
                    part += 1
                bucket = timeline_bucket(month, part)
                rows[bucket] = rows.get(bucket, 0) + 1
                activity.timeline_buckets[contact_id] = bucket
                placed.append((activity, contact_id, bucket, True))
        return placed

    def _count(self, pairs: set[tuple[str, str]]) -> None:
        """Read the row counts of these contacts' months: their listed buckets, one masked batched read."""
        if not pairs:
            return
        unknown = {c for c, _ in pairs if c not in self._listed}
        if unknown:
            found = self._repo.get_contacts(unknown)
            for contact_id in unknown:
                self._listed[contact_id] = set(found[contact_id].timeline_months) if contact_id in found else set()
        where: dict[str, tuple[str, str]] = {}  # bucket document path -> (contact id, bucket)
        refs = []
        for contact_id, month in pairs:
            rows = self._rows.setdefault(contact_id, {})
            for bucket in self._listed[contact_id]:
                if bucket_month(bucket) == month:
                    rows[bucket] = self.part_rows  # full unless its count says otherwise (a legacy bucket)
                    ref = self._repo.timeline_ref(contact_id, bucket)
                    where[ref.path] = (contact_id, bucket)
                    refs.append(ref)
            self._months.add((contact_id, month))
        for snapshot in self._repo.get_all(refs, field_paths=["rows"]):
            count = (snapshot.to_dict() or {}).get("rows")
            if count is not None:
                contact_id, bucket = where[snapshot.reference.path]
                self._rows[contact_id][bucket] = int(count)


def message_index_bucket(message_id: str) -> str:
    """Which bucket of a mailbox's Gmail-id index holds a message (`Repository.message_index_ref`)."""
    return str(int(hashlib.sha1(message_id.encode()).hexdigest()[:8], 16) % MESSAGE_INDEX_BUCKETS)


def deadline_options(deadline: float | None) -> dict[str, Any]:
    """`retry=` and `timeout=` for every Firestore call of a repository with a deadline (module doc).

    The generated client retries each method for 60 s (300 s for reads and
    queries) by default; with a deadline, a call and all its retries give up
    after `deadline` seconds. Only what every method's own default retries is
    retried (RESOURCE_EXHAUSTED and UNAVAILABLE), so a write is never retried
    on an error its default policy would not retry.
    """
    if deadline is None:
        return {}
    retry = retries.Retry(initial=RETRY_INITIAL_SECONDS, maximum=deadline, multiplier=RETRY_MULTIPLIER,
                          predicate=retries.if_exception_type(core_exceptions.ResourceExhausted,
                                                              core_exceptions.ServiceUnavailable),
                          timeout=deadline)
    return {"retry": retry, "timeout": deadline}


class Repository:
    """One tenant's contacts, companies, activities, mailboxes and settings.

    `deadline` (seconds) caps every Firestore call, retries included: the web
    process passes one so a card answers before Google gives up on it; sync
    keeps the client's defaults.
    """

    def __init__(self, client: firestore.Client, tenant: str, deadline: float | None = None):
        if not tenant or "/" in tenant:
            raise ValueError(f"invalid tenant {tenant!r}")
        self.client = client
        self.tenant = tenant
        self.deadline = deadline
        self._rpc = deadline_options(deadline)
        self.root = client.collection("tenants").document(doc_id(tenant))
        self.search_index = SearchIndex(self.root, self._rpc)

    # --- references: for this module and tests only ----------------------------------------
    # (contact_ref, email_ref, name_ref and company_ref stay public until models/csv_io.py's write
    # planning moves into the `# --- CSV import` section below; then they become private too)

    def contact_ref(self, contact_id: str):
        return self.root.collection("contacts").document(contact_id)

    def timeline_ref(self, contact_id: str, month: str):
        return self.contact_ref(contact_id).collection("timeline").document(month)

    def email_ref(self, email: str):
        return self.root.collection("emails").document(doc_id(email))

    def company_ref(self, domain: str):
        return self.root.collection("companies").document(doc_id(domain))

    def activity_ref(self, activity_id: str):
        return self.root.collection("activities").document(activity_id)

    def mailbox_ref(self, email: str):
        return self.root.collection("mailboxes").document(doc_id(email))

    def batch(self) -> BufferedWriteSet:
        """A write set committed 500 writes at a time (`models.writes`), under this repository's deadline."""
        return BufferedWriteSet(self.client, **self._rpc)

    def get_all(self, refs: list, field_paths: list[str] | None = None) -> Iterator[encoding.Document]:
        """Existing documents for many references, in chunks (one RPC each), only `field_paths` when given.

        Read as `Client.get_all` reads them, decoded once and without the
        client's copies (`models.encoding.batch_get`, which says why).
        """
        for start in range(0, len(refs), FIRESTORE_GET_ALL_CHUNK):
            yield from encoding.batch_get(self.client, refs[start:start + FIRESTORE_GET_ALL_CHUNK], field_paths,
                                          **self._rpc)

    def _get(self, ref):
        return ref.get(**self._rpc)

    def _stream(self, query) -> Iterator:
        return query.stream(**self._rpc)

    def commit_recorded(self, recorded: RecordingWriteSet) -> int:
        """Commit recorded writes (sync's chunks) in as few atomic commits as Firestore takes; the write count.

        Activity documents go last: a lone activity with more linked contacts
        than one commit takes is written in several, its document last, so a
        crash in between leaves it for a rerun to write. Plain sets skip the
        client's proto-plus encoding (`models.encoding`).
        """
        ordered = sorted(recorded.writes, key=lambda write: write.ref.parent.id == "activities")
        for start in range(0, len(ordered), FIRESTORE_BATCH_MAX):
            batch = self.client.batch()
            for write in ordered[start:start + FIRESTORE_BATCH_MAX]:
                if write.op == "set":
                    encoding.add_set(batch, write.ref, write.data, write.merge)
                elif write.op == "update":
                    batch.update(write.ref, write.data)
                else:
                    batch.delete(write.ref)
            batch.commit(**self._rpc)
        return len(ordered)

    # --- settings -----------------------------------------------------------------------

    def get_settings(self) -> Settings:
        return _settings_of(self._get(self.root))

    def save_settings(self, settings: Settings) -> None:
        data = dataclasses.asdict(settings)
        data.pop("rep_names")  # sync's, beside the settings (`record_rep_name`)
        data.pop("departed_reps")  # kept by mark_departed / mark_returned only (a transform, never a stale copy)
        self.root.set({"settings": data}, merge=True, **self._rpc)

    def record_rep_name(self, writer: WriteSet, rep: str, name: str) -> None:
        """Remember how a teammate is called (their own From name; the Directory's `name.fullName` would do too).

        A field-level merge of `rep_names.{rep}` on the tenant's root document, which
        every card already reads for the settings: showing names costs no read.
        """
        writer.set(self.root, {"rep_names": {doc_id(rep): name}}, merge=True)

    # --- contacts -----------------------------------------------------------------------

    def get_contact(self, contact_id: str, follow_alias: bool = True) -> Contact:
        snapshot = self._get(self.contact_ref(contact_id))
        if not snapshot.exists:
            raise NotFound(f"contact {contact_id}")
        contact = contact_from_doc(snapshot)
        if follow_alias and contact.merged_into:
            return self.get_contact(contact.merged_into, follow_alias=False)
        return contact

    def get_contacts(self, contact_ids: Iterable[str]) -> dict[str, Contact]:
        refs = [self.contact_ref(cid) for cid in dict.fromkeys(contact_ids)]
        return {s.id: contact_from_doc(s) for s in self.get_all(refs)}

    def contact_ids_by_email(self, emails: Iterable[str]) -> dict[str, str]:
        """Address -> contact id for every address that belongs to a contact (one batched read)."""
        emails = list(dict.fromkeys(emails))
        by_id = {doc_id(e): e for e in emails}
        refs = [self.email_ref(e) for e in emails]
        return {by_id[s.id]: s.get("contact_id") for s in self.get_all(refs)}

    def find_contact_by_email(self, email: str) -> Contact | None:
        snapshot = self._get(self.email_ref(normalize_email(email)))
        if not snapshot.exists:
            return None
        try:
            return self.get_contact(snapshot.get("contact_id"))
        except NotFound:
            return None

    def create_contact(self, contact: Contact, request: tuple[str, str] | None = None) -> Contact:
        """Create a contact, claim its addresses and index its name, atomically; Conflict if it or an address exists.

        One batched read, then one commit whose preconditions make it atomic
        with that read (see `_claim_addresses`): the contact is created (the
        commit fails if it exists by then), so is each unclaimed address.
        `request` (rep, request id) is a card click's: its record is created in
        the same commit, so the click's retry can tell it succeeded (`created_by_request`);
        `RequestExpired`, and nothing written, outside the click's window (`request_open`).
        """
        ref = self.contact_ref(contact.id)
        for _ in range(WRITE_ATTEMPTS):
            found = self._snapshots([ref, *(self.email_ref(e) for e in contact.emails)])
            if ref.path in found:
                raise Conflict(f"contact {contact.id} already exists")
            batch = self.client.batch()
            batch.create(ref, contact_to_doc(contact))
            if request is not None:
                self._record_request(batch, *request, "contact", contact.id)
            self._claim_addresses(batch, contact, contact.emails, found)
            self._reindex_name(batch, contact, None)
            self.search_index.index_contact(batch, contact)
            if contact.company_id:
                self.add_to_company_sample(batch, contact.company_id, contact.id)
            if self._commit_unless_stale(batch):
                return contact
        raise Conflict(f"contact {contact.id} kept changing while it was created; try again")

    def save_contact(self, contact: Contact) -> Contact:
        """Write a contact's editable fields and keep the address and name indexes in step, atomically.

        One batched read (the contact and its addresses' index entries), then
        one commit conditional on what was read (`_commit_unless_stale`): the
        contact updated only if unchanged since the read, each new address
        claimed only if still unclaimed (or still ours).
        """
        ref = self.contact_ref(contact.id)
        for _ in range(WRITE_ATTEMPTS):
            found = self._snapshots([ref, *(self.email_ref(e) for e in contact.emails)])
            stored = found.get(ref.path)
            old_emails = set(stored.get("emails") or []) if stored is not None else set()
            contact.updated_at = utcnow()
            data = contact_to_doc(contact)
            # counters belong to sync's Maximum transforms; never overwrite them from an edit
            for name in SYNC_ONLY_FIELDS:
                data.pop(name)
            batch = self.client.batch()
            if stored is None:
                batch.create(ref, data)
            else:  # whole top-level fields are replaced, so a removed tag or custom value is gone
                batch.update(ref, data, option=self.client.write_option(last_update_time=stored.update_time))
            self._claim_addresses(batch, contact, set(contact.emails) - old_emails, found)
            self.unindex_emails(batch, old_emails - set(contact.emails))
            previous = contact_from_doc(stored) if stored is not None else None
            self._reindex_name(batch, contact, previous)
            self.search_index.index_contact(batch, contact, previous=previous)
            if self._commit_unless_stale(batch):
                return contact
        raise Conflict(f"contact {contact.id} kept changing while it was saved; try again")

    def _reindex_name(self, writer: WriteSet, contact: Contact, previous: Contact | None) -> None:
        """Move a contact in the name index when its folded full name changed (sync's job-change review reads it)."""
        old_key = name_key(previous.first_name, previous.last_name) if previous is not None else None
        new_key = name_key(contact.first_name, contact.last_name)
        if old_key == new_key:
            return
        if old_key:
            self.unindex_name(writer, old_key, contact.id)
        if new_key:
            self.index_name(writer, new_key, contact.id)

    def _snapshots(self, refs: list) -> dict[str, Any]:
        """Path -> snapshot of those of `refs` that exist (one batched read)."""
        return {snapshot.reference.path: snapshot for snapshot in self.get_all(refs)}

    def _claim_addresses(self, batch, contact: Contact, emails: Iterable[str], found: dict[str, Any]) -> None:
        """Index addresses to `contact` in `batch`, on condition they are as `found` read them.

        Conflict for an address another contact holds. An unclaimed address is
        created (the commit fails if someone claimed it since), one already
        ours is rewritten only if unchanged since the read.
        """
        for email in sorted(set(emails)):
            ref = self.email_ref(email)
            snapshot = found.get(ref.path)
            if snapshot is None:
                batch.create(ref, _email_doc(contact.id, email))
            elif snapshot.get("contact_id") != contact.id:
                raise Conflict(f"{email} already belongs to another contact")
            else:
                batch.update(ref, _email_doc(contact.id, email),
                             option=self.client.write_option(last_update_time=snapshot.update_time))

    def _commit_unless_stale(self, batch) -> bool:
        """Commit a batch whose preconditions hold what was read; False when one no longer does.

        This is what a transaction would give, without one: every call here
        carries the repository's deadline, which a transaction's begin and
        commit cannot.
        """
        try:
            batch.commit(**self._rpc)
        except (core_exceptions.AlreadyExists, core_exceptions.FailedPrecondition, core_exceptions.NotFound):
            return False
        return True

    def index_emails(self, writer: WriteSet, contact_id: str, emails: Iterable[str]) -> None:
        """Point each address at the contact in the address index (`emails/{address}`): one write each."""
        for email in sorted(emails):
            writer.set(self.email_ref(email), _email_doc(contact_id, email))

    def unindex_emails(self, writer: WriteSet, emails: Iterable[str]) -> None:
        """Take addresses out of the address index."""
        for email in sorted(emails):
            writer.delete(self.email_ref(email))

    def contact_ids_at_domain(self, domain: str) -> list[str]:
        """Contacts holding an address at exactly `domain` (a query on the address index: admin use only)."""
        query = self.root.collection("emails").where(filter=FieldFilter("domain", "==", domain))
        return [snapshot.get("contact_id") for snapshot in self._stream(query)]

    def index_name(self, writer: WriteSet, name_key: str, contact_id: str) -> None:
        """List a contact under its folded full name (the name index sync's job-change check reads)."""
        writer.set(self.name_ref(name_key), {"contact_ids": firestore.ArrayUnion([contact_id])}, merge=True)

    def unindex_name(self, writer: WriteSet, name_key: str, contact_id: str) -> None:
        writer.set(self.name_ref(name_key), {"contact_ids": firestore.ArrayRemove([contact_id])}, merge=True)

    def add_to_company_sample(self, writer: WriteSet, company_id: str, contact_id: str) -> None:
        """Add a contact to its company's sample of contact ids (`Company.contact_ids`)."""
        writer.set(self.company_ref(company_id), {"contact_ids": firestore.ArrayUnion([contact_id])}, merge=True)

    def remove_from_company_sample(self, writer: WriteSet, company_id: str, contact_id: str) -> None:
        writer.set(self.company_ref(company_id), {"contact_ids": firestore.ArrayRemove([contact_id])}, merge=True)

    def set_company_sample(self, writer: WriteSet, company_id: str, contact_ids: list[str]) -> None:
        writer.set(self.company_ref(company_id), {"contact_ids": contact_ids[:COMPANY_CONTACT_SAMPLE]}, merge=True)

    def all_contacts(self) -> Iterator[Contact]:
        """Every contact of the tenant, aliases included (a scan: admin commands only, never a card)."""
        for snapshot in self._stream(self.root.collection("contacts")):
            yield contact_from_doc(snapshot)

    def remove_contact(self, writer: WriteSet, contact: Contact, name_key: str | None = None) -> None:
        """A contact and everything that indexes it: timeline buckets, addresses, search and owner rows,
        name index entry, company sample entry; the contact document last."""
        for month in sorted(set(contact.timeline_months)):
            writer.delete(self.timeline_ref(contact.id, month))
        self.unindex_emails(writer, contact.emails)
        self.search_index.remove_contact(writer, contact)
        if name_key:
            self.unindex_name(writer, name_key, contact.id)
        if contact.company_id:
            self.remove_from_company_sample(writer, contact.company_id, contact.id)
        writer.delete(self.contact_ref(contact.id))

    def record_touches(self, writer: WriteSet, contact_id: str, touches: Iterable[Touch],
                       now: dt.datetime | None = None) -> None:
        """Raise a contact's counters to what `touches` show, in one write (never lowers; safe to repeat).

        Every `put_activity` for a contact must be followed by this for the same
        activities: it is what lists the contact's timeline months. Only what has
        happened by `now` raises "last" counters: an upcoming meeting is kept in
        `exchanges` (with each touch's), from which the cards tell past from
        upcoming when they are read (`models.signals`). Each exchange is a
        field-level merge under its activity id, so concurrent writers and
        reruns write the same value.
        """
        now = now or utcnow()
        latest: dict[str, float] = {}
        reps: dict[str, float] = {}
        firsts: dict[str, float] = {}
        exchanges: dict[str, str] = {}
        months = set()
        spans: dict[str, list[float]] = {}
        for touch in touches:
            epoch = touch.at.timestamp()
            bucket = touch.bucket or month_of(touch.at)
            months.add(bucket)
            span = spans.setdefault(bucket, [epoch, epoch])
            span[0], span[1] = min(span[0], epoch), max(span[1], epoch)
            if touch.activity_id and touch.exchange:
                exchanges[touch.activity_id] = touch.exchange
            exchanged = bool(touch.rep) and touch.kind in (ActivityKind.EMAIL, ActivityKind.MEETING)
            if exchanged:  # an upcoming meeting too: the owner never depends on when sync ran
                firsts[doc_id(touch.rep)] = min(firsts.get(doc_id(touch.rep), epoch), epoch)
            if touch.at > now:
                continue
            fields = ["last_activity_at", *_KIND_COUNTERS.get(touch.kind, ())]
            for name in fields:
                latest[name] = max(latest.get(name, epoch), epoch)
            if exchanged:
                reps[doc_id(touch.rep)] = max(reps.get(doc_id(touch.rep), epoch), epoch)
        if not months:
            return
        data: dict[str, Any] = {name: firestore.Maximum(value) for name, value in latest.items()}
        if reps:
            data["touches"] = {rep: firestore.Maximum(value) for rep, value in reps.items()}
        if firsts:  # each rep's first exchange: what `settle_synced_contacts` picks the owner by
            data["first_touches"] = {rep: firestore.Minimum(value) for rep, value in firsts.items()}
        data["timeline_months"] = firestore.ArrayUnion(sorted(months))
        data["timeline_parts"] = {bucket: {"lo": firestore.Minimum(lo), "hi": firestore.Maximum(hi)}
                                  for bucket, (lo, hi) in spans.items()}
        if exchanges:
            data["exchanges"] = exchanges
        writer.set(self.contact_ref(contact_id), data, merge=True)

    def refresh_signals(self, contact_ids: Iterable[str], thresholds: Thresholds,
                        now: dt.datetime | None = None) -> int:
        """Bring what contacts keep of their signals up to date with their exchanges; the writes made.

        Sync calls it after a pass for the contacts it touched and those whose
        next meeting has passed (`contacts_with_passed_meetings`). It writes the
        moments segments query (`models.signals.stored_fields`) where they
        changed, raises "last" counters to what has now happened (a meeting
        that passed), as `Maximum` transforms, and drops exchanges older than
        `models.signals.EXCHANGE_HORIZON_DAYS` (no signal reads them). Each write is conditional on the
        contact being unchanged since it was read (`_commit_unless_stale`),
        so a concurrent sync's exchanges are never overwritten with values
        computed without them: the batch is planned again from a fresh read.
        """
        now = now or utcnow()
        ids = list(dict.fromkeys(contact_ids))
        written = 0
        for start in range(0, len(ids), FIRESTORE_BATCH_MAX):
            refs = [self.contact_ref(c) for c in ids[start:start + FIRESTORE_BATCH_MAX]]
            for _ in range(WRITE_ATTEMPTS):
                batch, count = self.client.batch(), 0
                for snapshot in self.get_all(refs):
                    contact = contact_from_doc(snapshot)
                    if contact.merged_into:
                        continue
                    signals = of_contact(contact, now, thresholds)
                    stored = snapshot.to_dict()
                    data: dict[str, Any] = {k: v for k, v in stored_fields(signals).items() if stored.get(k) != v}
                    for name in _EPOCH_FIELDS:
                        at = getattr(signals, name)
                        if at is not None and (stored.get(name) is None or at.timestamp() > stored[name]):
                            data[name] = firestore.Maximum(at.timestamp())
                    for activity_id in expired_exchanges(contact.exchanges, now):  # keeps the map bounded
                        data[FieldPath("exchanges", activity_id).to_api_repr()] = firestore.DELETE_FIELD
                    if data:
                        batch.update(snapshot.reference, data,
                                     option=self.client.write_option(last_update_time=snapshot.update_time))
                        count += 1
                if not count or self._commit_unless_stale(batch):
                    written += count
                    break
        return written

    def rebuild_exchanges(self, contact_id: str, exchanges: Mapping[str, str]) -> None:
        """Replace a contact's whole `exchanges` map (`models.signals.rebuild_signals`: an admin repair)."""
        self.contact_ref(contact_id).update({"exchanges": dict(exchanges)}, **self._rpc)

    def contacts_with_passed_meetings(self, now: dt.datetime | None = None) -> list[str]:
        """Contacts whose next meeting has started since their signals were refreshed (a query: sync only)."""
        query = self.root.collection("contacts").where(
            filter=FieldFilter("next_meeting_at", "<=", to_epoch(now or utcnow())))
        return [s.id for s in self._stream(query.select([]))]

    def record_company_activity(self, writer: WriteSet, company_id: str, at: dt.datetime) -> None:
        """Raise a company's `last_activity_at` to `at` (a `Maximum`, like a contact's counters)."""
        writer.set(self.company_ref(company_id), {"last_activity_at": firestore.Maximum(at.timestamp())},
                   merge=True)

    # --- companies ----------------------------------------------------------------------

    def get_company(self, domain: str) -> Company | None:
        snapshot = self._get(self.company_ref(domain))
        return company_from_doc(snapshot) if snapshot.exists else None

    def get_companies(self, domains: Iterable[str]) -> dict[str, Company]:
        refs = [self.company_ref(d) for d in dict.fromkeys(domains)]
        return {unquote(s.id): company_from_doc(s) for s in self.get_all(refs)}

    def save_company(self, company: Company) -> Company:
        company.updated_at = utcnow()
        data = company_to_doc(company)
        data.pop("last_activity_at")
        data["contact_ids"] = data["contact_ids"][:COMPANY_CONTACT_SAMPLE]
        previous = self.get_company(company.id)
        with self.batch() as writer:
            writer.set(self.company_ref(company.id), data, merge=list(data))
            self.search_index.index_company(writer, company, previous)
        return company

    def remove_company(self, writer: WriteSet, company: Company) -> None:
        """A company record and its search rows."""
        self.search_index.remove_company(writer, company)
        writer.delete(self.company_ref(company.id))

    def search(self, query: str, limit: int = MAX_RESULTS) -> list[SearchHit]:
        """Contacts and companies matching every word of `query` (see models.search)."""
        return self.search_index.search(query, limit)

    # --- activities and timelines ---------------------------------------------------------

    def get_activity(self, activity_id: str) -> Activity:
        snapshot = self._get(self.activity_ref(activity_id))
        if not snapshot.exists:
            raise NotFound(f"activity {activity_id}")
        return activity_from_doc(snapshot)

    def get_activities(self, activity_ids: Iterable[str]) -> dict[str, Activity]:
        refs = [self.activity_ref(aid) for aid in dict.fromkeys(activity_ids)]
        return {s.id: activity_from_doc(s) for s in self.get_all(refs)}

    def put_activity(self, writer: WriteSet, activity: Activity, holders: Iterable[str] | None = None) -> None:
        """Write an activity and its row on each linked contact's timeline, through `writer`.

        A field-level merge (`activity_merge`): `holders` names the holders it
        writes (None: all the activity names). Pair it with `record_touches`
        for the same contacts (see there). A new row's bucket costs one read of
        its contacts (`TimelinePlacement`).
        """
        self.put_activities(writer, [activity], holders=holders)

    def timeline_placement(self) -> TimelinePlacement:
        """Where new timeline rows go; a writer of many activities keeps one (sync: one per tenant and run)."""
        return TimelinePlacement(self)

    def put_activities(self, writer: WriteSet, activities: Iterable[Activity],
                       placement: TimelinePlacement | None = None, holders: Iterable[str] | None = None) -> None:
        """`put_activity` for many: one write per activity and per timeline bucket.

        Each activity is a field-level merge (`activity_merge`) naming only
        `holders` (None: all it names); sync's bulk writes name the one holder
        they write (its mailbox). Rows of one contact's bucket merge into a
        single field-level merge of `entries` (the same result as writing them
        one by one) that counts the new ones (`rows`, an `Increment`); a
        contact whose rows went to a month's later part gets one more write
        listing it and widening its span (a month's first bucket is
        `record_touches`'s). New rows are placed by `placement` (a fresh one,
        which reads the contacts, when None), and the activity records where
        (`timeline_buckets`). Pair it with `record_touches` in the same way.
        """
        activities = list(activities)
        holders = None if holders is None else tuple(holders)
        placed = (placement or TimelinePlacement(self)).place(activities)
        rows: dict[tuple[str, str], dict[str, str]] = {}
        added: dict[tuple[str, str], int] = {}
        parts: dict[str, dict[str, list[float]]] = {}  # contact -> part (not a month's first bucket) -> [lo, hi]
        encoded: dict[str, str] = {}
        for activity, contact_id, bucket, new in placed:
            row = encoded.get(activity.id)
            if row is None:
                row = encoded[activity.id] = _entry_doc(TimelineEntry.of(activity))
            rows.setdefault((contact_id, bucket), {})[activity.id] = row
            added[(contact_id, bucket)] = added.get((contact_id, bucket), 0) + (1 if new else 0)
            if bucket != month_of(activity.at):
                epoch = activity.at.timestamp()
                span = parts.setdefault(contact_id, {}).setdefault(bucket, [epoch, epoch])
                span[0], span[1] = min(span[0], epoch), max(span[1], epoch)
        for activity in activities:
            writer.set(self.activity_ref(activity.id), activity_merge(activity, holders), merge=True)
        for key, entries in rows.items():
            data: dict[str, Any] = {"entries": entries}
            if added[key]:
                data["rows"] = firestore.Increment(added[key])
            writer.set(self.timeline_ref(*key), data, merge=True)
        for contact_id, spans in parts.items():  # a month's first bucket is listed by `record_touches`
            self._list_buckets(writer, contact_id, spans)

    def _list_buckets(self, writer: WriteSet, contact_id: str, spans: Mapping[str, list[float]]) -> None:
        """List buckets on a contact and widen their recorded spans ([lo, hi] epoch seconds each)."""
        writer.set(self.contact_ref(contact_id), {
            "timeline_months": firestore.ArrayUnion(sorted(spans)),
            "timeline_parts": {bucket: {"lo": firestore.Minimum(lo), "hi": firestore.Maximum(hi)}
                               for bucket, (lo, hi) in spans.items()}}, merge=True)

    def add_activity(self, activity: Activity, rep: str | None = None) -> Activity:
        """One activity written now (a note or a call from a card), with its counters."""
        with self.batch() as writer:
            self.put_activity(writer, activity)
            for contact_id in activity.contact_ids:
                self.record_touches(writer, contact_id, [Touch(activity.at, activity.kind, rep)])
        return activity

    def remove_activity(self, writer: WriteSet, activity: Activity) -> None:
        """Remove an activity everywhere it is indexed, the activity document last.

        Its row on each linked contact's timeline, and for each mailbox holding
        it the add-on's record (`mailboxes/{rep}/messages/{id}`) and, for an
        email, sync's Gmail-id index entry; then the document. A crash in
        between leaves the document, so whoever removed it removes it again
        (sync's rerun, a repeated exclusion); every write is idempotent.
        """
        for contact_id in activity.contact_ids:
            bucket = activity.timeline_buckets.get(contact_id) or month_of(activity.at)
            writer.set(self.timeline_ref(contact_id, bucket), {"entries": {activity.id: firestore.DELETE_FIELD}},
                       merge=True)
            if activity.kind in (ActivityKind.EMAIL, ActivityKind.MEETING):
                writer.set(self.contact_ref(contact_id), {"exchanges": {activity.id: firestore.DELETE_FIELD}},
                           merge=True)
        for mailbox, held_id in activity.holders.items() if activity.kind == ActivityKind.EMAIL else ():
            writer.delete(self.message_ref(mailbox, held_id))
            writer.set(self.message_index_ref(mailbox, held_id), {"ids": {held_id: firestore.DELETE_FIELD}},
                       merge=True)
        writer.delete(self.activity_ref(activity.id))

    def release_activities(self, mailbox: str, activity_ids: Iterable[str]) -> int:
        """Drop `mailbox` from these activities' holders; the activities nobody holds then are removed.

        Safe across processes (issue 14 point 3): one transaction per
        `RELEASE_CHUNK` activities reads what is stored and decides there, so a
        holder another process added meanwhile keeps its activity, and two
        holders letting go at once cannot both leave it behind, holderless.
        An activity still held elsewhere loses one map field
        (`holders.{mailbox}`, a merge); the last holder's release is
        `remove_activity`. Returns how many activities this mailbox released.
        """
        ids = list(dict.fromkeys(activity_ids))
        released = 0
        for start in range(0, len(ids), RELEASE_CHUNK):
            released += self._release_chunk(mailbox, ids[start:start + RELEASE_CHUNK])
        return released

    def _release_chunk(self, mailbox: str, activity_ids: list[str]) -> int:
        @firestore.transactional
        def release(transaction) -> int:
            count = 0
            refs = [self.activity_ref(aid) for aid in activity_ids]
            for snapshot in transaction.get_all(refs):
                if not snapshot.exists:
                    continue
                activity = activity_from_doc(snapshot)
                if mailbox not in activity.holders:
                    continue
                count += 1
                if set(activity.holders) - {mailbox}:
                    transaction.set(snapshot.reference, {"holders": {doc_id(mailbox): firestore.DELETE_FIELD}},
                                    merge=True)
                    del activity.holders[mailbox]  # its timeline rows name the holders left, as read here
                    row = {"entries": {activity.id: _entry_doc(TimelineEntry.of(activity))}}
                    for contact_id in activity.contact_ids:  # each row where it was placed (`TimelinePlacement`)
                        bucket = activity.timeline_buckets.get(contact_id) or month_of(activity.at)
                        transaction.set(self.timeline_ref(contact_id, bucket), row, merge=True)
                else:
                    self.remove_activity(transaction, activity)
            return count

        # Holders letting go of one activity at once contend for it: the transactions retry in step and,
        # on the emulator ("Transaction lock timeout"), can all use up their attempts together. Each new
        # round starts after a random pause, so the contenders fall out of step; only an aborted
        # transaction goes round again, any other failure is raised at once.
        for round_ in range(1, RELEASE_ROUNDS):
            try:
                return release(self.client.transaction(max_attempts=RELEASE_ATTEMPTS))
            except ValueError as exc:  # the client's "failed to commit in N attempts", from the last Aborted
                if not isinstance(exc.__cause__, core_exceptions.Aborted):
                    raise
                log.warning("release contended mailbox=%s round=%d", mailbox, round_)
                time.sleep(random.uniform(0, RELEASE_PAUSE_SECONDS * round_))
        return release(self.client.transaction(max_attempts=RELEASE_ATTEMPTS))  # the last round raises

    def repoint_activities(self, writer: WriteSet, activities: Iterable[Activity], from_id: str,
                           to_id: str, buckets: Mapping[str, str] | None = None) -> None:
        """Link activities to contact `to_id` in place of `from_id` (a merge), rewriting only their ids.

        `buckets` (activity id -> bucket of `to_id`'s timeline) records where their rows now are.
        """
        for activity in activities:
            if from_id in activity.contact_ids or to_id not in activity.contact_ids:
                ids = [to_id if cid == from_id else cid for cid in activity.contact_ids]
                if to_id not in ids:
                    ids.append(to_id)
                placed = {cid: b for cid, b in activity.timeline_buckets.items() if cid != from_id}
                if buckets and activity.id in buckets:
                    placed[to_id] = buckets[activity.id]
                writer.update(self.activity_ref(activity.id), {"contact_ids": list(dict.fromkeys(ids)),
                                                               "timeline_buckets": placed})

    def move_timeline_bucket(self, from_id: str, to_id: str, month: str) -> int:
        """Move one bucket (`month`: a bucket id) of contact `from_id`'s timeline to `to_id`'s; the rows moved.

        Idempotent, the bucket deleted last: the rows are placed on the
        receiving timeline as new rows are (`TimelinePlacement`, so a busy
        month still spills into parts) and the activities re-pointed first
        (batches that hold nothing else), then one atomic commit copies the
        rows, lists and counts the buckets on the receiving contact, deletes
        the bucket and unlists it on the giving one. A rerun after a crash
        finds the bucket again, with the rows' places already on the
        activities, or finds it gone and moves nothing.
        """
        snapshot = self._get(self.timeline_ref(from_id, month))
        if not snapshot.exists:
            return 0  # moved by an earlier, interrupted run
        entries: dict[str, Any] = snapshot.get("entries") or {}
        activities = self.get_activities(entries)
        receiving = []
        for activity in activities.values():
            copy = dataclasses.replace(activity, contact_ids=[to_id], timeline_buckets={
                to_id: activity.timeline_buckets[to_id]} if to_id in activity.timeline_buckets else {})
            receiving.append(copy)
        placed = {a.id: bucket for a, _, bucket, _ in TimelinePlacement(self).place(receiving)}
        with self.batch() as writer:
            self.repoint_activities(writer, activities.values(), from_id, to_id, placed)
        rows: dict[str, dict[str, Any]] = {}
        spans: dict[str, list[float]] = {}
        for activity_id, raw in entries.items():
            bucket = placed.get(activity_id, month)
            rows.setdefault(bucket, {})[activity_id] = raw
            epoch = _entry_from_doc(activity_id, raw).at.timestamp()
            span = spans.setdefault(bucket, [epoch, epoch])
            span[0], span[1] = min(span[0], epoch), max(span[1], epoch)
        with self.batch() as writer:
            for bucket, moved in rows.items():
                writer.set(self.timeline_ref(to_id, bucket), {"entries": moved, "rows": firestore.Increment(
                    len(moved))}, merge=True)
            self._list_buckets(writer, to_id, spans)
            writer.delete(self.timeline_ref(from_id, month))
            writer.set(self.contact_ref(from_id), {"timeline_months": firestore.ArrayRemove([month])}, merge=True)
        return len(entries)

    def timeline_is_empty(self, contact: Contact) -> bool:
        """Whether no bucket of the contact's timeline holds a row (one batched read)."""
        buckets = self.get_all([self.timeline_ref(contact.id, m) for m in sorted(set(contact.timeline_months))])
        return not any(snapshot.get("entries") for snapshot in buckets)

    def timeline(self, contact_id: str, cursor: str | None = None, limit: int = TIMELINE_PAGE_SIZE,
                 contact: Contact | None = None, since: dt.datetime | None = None,
                 buckets: Mapping[str, Mapping[str, str]] | None = None) -> TimelinePage:
        """A page of a contact's timeline, newest first; `next_cursor` is None on the last page.

        Takes the contact's buckets by the newest row they can hold (their
        recorded span, else their month's), a few per `get_all`, and stops once
        the page is full and no unread bucket can hold a row newer than the
        page's last: usually one `get_all`, and one part of a busy month. Pass
        `contact` when it is already loaded to save a read, and `buckets`
        (bucket -> rows) when a read view already fetched some
        (`PeopleView.buckets`): a bucket found there is not read again.
        `since` stops at a time instead of a page size (meeting briefs).
        Buckets are taken newest first either way, so the page is the same.
        """
        contact = contact or self.get_contact(contact_id, follow_alias=False)
        after = decode_cursor(cursor) if cursor else None
        spans = []  # (newest, oldest, bucket): recorded, else the month's
        for bucket in set(contact.timeline_months):
            meta = contact.timeline_parts.get(bucket) or {}
            start, end = _month_span(bucket_month(bucket))
            spans.append((float(meta.get("hi", end)), float(meta.get("lo", start)), bucket))
        busy = {bucket_month(bucket) for bucket in contact.timeline_months if bucket != bucket_month(bucket)}
        if after:
            spans = [span for span in spans if span[1] <= after[0].timestamp()]
        if since:
            spans = [span for span in spans if span[0] >= since.timestamp()]
        spans.sort(reverse=True)
        rows: list[tuple[dt.datetime, str, str]] = []  # (at, activity id, stored row): decoded once chosen
        wanted = None if since else limit + 1
        known = buckets or {}
        position = 0
        while position < len(spans):
            if wanted is not None and len(rows) >= wanted:
                rows.sort(key=_ROW_ORDER, reverse=True)
                if rows[wanted - 1][0].timestamp() > spans[position][0]:
                    break  # no unread bucket holds a row newer than the page's last
            if spans[position][2] in known:
                chunk, found = [spans[position][2]], [known[spans[position][2]]]
            else:
                chunk = []
                for _, _, bucket in spans[position:]:
                    if bucket in known or len(chunk) == TIMELINE_BUCKETS_PER_READ:
                        break
                    if chunk and wanted is not None and {bucket_month(b) for b in [*chunk, bucket]} & busy:
                        break  # a busy month's part is likely to fill the page alone: read it alone
                    chunk.append(bucket)
                found = [s.get("entries") for s in self.get_all([self.timeline_ref(contact.id, b) for b in chunk])]
            position += len(chunk)
            for entries in found:
                for activity_id, raw in (entries or {}).items():
                    at = _entry_at(raw)
                    before_cursor = after is None or (at, activity_id) < after
                    if before_cursor and (since is None or at >= since):
                        rows.append((at, activity_id, raw))
        rows.sort(key=_ROW_ORDER, reverse=True)
        if wanted is None:
            return TimelinePage([_entry_from_doc(activity_id, raw) for _, activity_id, raw in rows], None)
        page = [_entry_from_doc(activity_id, raw) for _, activity_id, raw in rows[:limit]]
        return TimelinePage(page, encode_cursor(page[-1]) if len(rows) > limit else None)

    # --- merges: `merges/{merged contact id}`, the journal of the merge that makes it an alias ---

    def _merge_ref(self, merge_id: str):
        return self.root.collection("merges").document(merge_id)

    def merge_journal(self, merge_id: str) -> dict[str, Any] | None:
        snapshot = self._get(self._merge_ref(merge_id))
        return snapshot.to_dict() if snapshot.exists else None

    def start_merge_journal(self, merge_id: str, journal: dict[str, Any]) -> None:
        self._merge_ref(merge_id).set(journal, **self._rpc)

    def update_merge_journal(self, writer: WriteSet, merge_id: str, fields: dict[str, Any]) -> None:
        writer.set(self._merge_ref(merge_id), fields, merge=True)

    def aliases_of(self, contact_id: str) -> list[str]:
        """Contacts merged into `contact_id` earlier: a query, but on the merges journal (one document a merge)."""
        query = self.root.collection("merges").where(filter=FieldFilter("keep_id", "==", contact_id))
        return [snapshot.id for snapshot in self._stream(query)]

    def put_merged_contact(self, writer: WriteSet, kept: Contact, other: Contact, note_month: str | None,
                           link_pending: bool) -> None:
        """The kept contact of a merge: its fields, its addresses indexed, its counters raised to the other's.

        Its counters only rise (`Maximum`), and the note's month is listed here
        rather than through `record_touches`: a merge is not a touch and must
        not move "last activity". `link_pending` flags addresses it gained, so
        activities sync parked under them (`unlinked/{email}`) find it.
        """
        data = contact_to_doc(kept)
        for name in (*SYNC_ONLY_FIELDS, "merged_into"):
            data.pop(name)
        data["updated_at"] = utcnow()
        if link_pending:
            data["link_pending"] = True
        for name in _EPOCH_FIELDS:
            value = getattr(other, name)
            if value is not None:
                data[name] = firestore.Maximum(to_epoch(value))
        if note_month is not None:
            data["timeline_months"] = firestore.ArrayUnion([note_month])
        if other.touches:
            data["touches"] = {doc_id(rep): firestore.Maximum(to_epoch(at)) for rep, at in other.touches.items()}
        exchanges = merged_exchanges(kept.exchanges, other.exchanges)
        changed = {aid: raw for aid, raw in exchanges.items() if kept.exchanges.get(aid) != raw}
        if changed:  # field by field, so what sync adds meanwhile stays
            data["exchanges"] = changed
        if other.private_reps:  # what a rep made private with the merged person stays private
            data["private_reps"] = firestore.ArrayUnion(other.private_reps)
        if other.private_threads:
            data["private_threads"] = {key: firestore.ArrayUnion(reps) for key, reps in other.private_threads.items()}
        writer.set(self.contact_ref(kept.id), data, merge=True)
        self.index_emails(writer, kept.id, kept.emails)

    def make_alias(self, writer: WriteSet, contact: Contact, keep_id: str, name_key: str | None = None) -> None:
        """Turn a merged contact into an alias of `keep_id`: no addresses, no timeline, out of every index."""
        writer.set(self.contact_ref(contact.id), {"merged_into": keep_id, "emails": [], "timeline_months": [],
                                                  "updated_at": utcnow()}, merge=True)
        self.search_index.remove_contact(writer, contact)
        if name_key:
            self.unindex_name(writer, name_key, contact.id)

    def point_alias(self, writer: WriteSet, alias_id: str, keep_id: str) -> None:
        """An older alias re-pointed at where its contact went, so a chain never takes two hops."""
        writer.set(self.contact_ref(alias_id), {"merged_into": keep_id}, merge=True)
        writer.set(self._merge_ref(alias_id), {"keep_id": keep_id}, merge=True)

    # --- segments: `reps/{rep}` holds {segments: {segment_id: {...}}} (see models.segments) -----

    def _rep_ref(self, rep: str):
        return self.root.collection("reps").document(doc_id(rep))

    def list_segments(self, rep: str) -> list[Segment]:
        """A rep's segments, oldest first (one get)."""
        snapshot = self._get(self._rep_ref(rep))
        return segments_in(snapshot.to_dict() if snapshot.exists else None)

    def save_segment(self, rep: str, segment: Segment) -> Segment:
        """Write one segment (a field-level merge: the rep's other segments are untouched)."""
        self._rep_ref(rep).set({"segments": {segment.id: segment_to_doc(segment)}}, merge=True, **self._rpc)
        return segment

    def delete_segment(self, rep: str, segment_id: str) -> None:
        self._rep_ref(rep).set({"segments": {segment_id: firestore.DELETE_FIELD}}, merge=True, **self._rpc)

    def store_segment_counts(self, rep: str, segments: list[Segment]) -> None:
        """Cache counts with a field-level merge, so a segment deleted meanwhile is not brought back."""
        known = {s.id for s in self.list_segments(rep)}
        updates = {s.id: {"count": s.count, "counted_at": to_epoch(s.counted_at)} for s in segments if s.id in known}
        if updates:
            self._rep_ref(rep).set({"segments": updates}, merge=True, **self._rpc)

    def _segment_query(self, segment: Segment, now: dt.datetime | None = None):
        """The Firestore query for a segment's contacts, ordered as its list shows them (models.segments)."""
        q = self.root.collection("contacts").where(filter=FieldFilter("merged_into", "==", None))
        if segment.tag:
            q = q.where(filter=FieldFilter("tags", "array_contains", segment.tag))
        for field in ("lifecycle_stage", "owner", "company_id"):
            value = getattr(segment, field)
            if value:
                q = q.where(filter=FieldFilter(field, "==", value))
        for key, value in sorted(segment.custom.items()):
            q = q.where(filter=FieldFilter(f"custom.{key}", "==", value))
        if segment.signal:
            return self._signal_query(q, segment, now or utcnow())
        if segment.activity_mode in SEGMENT_ACTIVITY_MODES and segment.activity_days:
            cutoff = to_epoch((now or utcnow()) - dt.timedelta(days=segment.activity_days))
            if segment.activity_mode == "inactive":
                q = q.where(filter=Or([FieldFilter("last_activity_at", "<", cutoff),
                                       FieldFilter("last_activity_at", "==", None)]))
                q = q.order_by("last_activity_at", direction=firestore.Query.ASCENDING)
            else:
                q = q.where(filter=FieldFilter("last_activity_at", ">=", cutoff))
                q = q.order_by("last_activity_at", direction=firestore.Query.DESCENDING)
        return q

    def _signal_query(self, q, segment: Segment, now: dt.datetime):
        """A segment's signal filter: a range on the moment the contact keeps (`refresh_signals`), compared
        with `now` and the tenant's thresholds here, so a contact enters the segment as time passes."""
        if segment.activity_mode and segment.activity_days:
            raise ValueError("a segment filters on a signal or on last activity, not both")
        if segment.signal == "strength":
            q = q.where(filter=FieldFilter("strength", ">=", int(segment.strength_at_least or 0)))
            return q.order_by("strength", direction=firestore.Query.DESCENDING)
        settings = self.get_settings()
        if segment.signal in ("waiting_on_us", "waiting_on_them"):
            field = "awaiting_us_at" if segment.signal == "waiting_on_us" else "awaiting_them_at"
            days = settings.waiting_on_us_days if segment.signal == "waiting_on_us" else settings.waiting_on_them_days
            cutoff = waiting_cutoff(now, days)
        elif segment.signal == "going_cold":
            field, cutoff = "cold_at", now
        else:
            raise ValueError(f"unknown segment signal {segment.signal!r}")
        q = q.where(filter=FieldFilter(field, "<=", to_epoch(cutoff)))
        if field != "cold_at":  # a conversation silent for long is closed (models.signals.OPEN_THREAD_DAYS)
            q = q.where(filter=FieldFilter(field, ">=", to_epoch(now - dt.timedelta(days=OPEN_THREAD_DAYS))))
        return q.order_by(field, direction=firestore.Query.ASCENDING)  # the longest waiting first

    def segment_contacts(self, segment: Segment, after: str | None, size: int,
                         now: dt.datetime | None = None) -> list[Contact]:
        """Up to `size` of a segment's contacts in its order, after contact `after`; ValueError when that
        contact does not exist (a cursor we did not make)."""
        q = self._segment_query(segment, now)
        if after:
            snapshot = self._get(self.contact_ref(after))
            if not snapshot.exists:
                raise ValueError("invalid segment cursor")
            q = q.start_after(snapshot)
        return [contact_from_doc(s) for s in self._stream(q.limit(size))]

    def count_segment(self, segment: Segment, now: dt.datetime | None = None) -> int:
        """How many contacts match, by a Firestore `count()` aggregation (no documents read)."""
        result = self._segment_query(segment, now).count().get(**self._rpc)
        return int(result[0][0].value)

    # --- exclusions (models.privacy): the admin's indexed look-ups --------------------------

    def activity_ids_naming(self, address: str) -> list[str]:
        """Ids of the activities whose participants include `address` (one query on `addresses`)."""
        query = self.root.collection("activities").where(filter=FieldFilter("addresses", "array_contains", address))
        return [s.id for s in self._stream(query.select(["addresses"]))]

    def activity_ids_excluded_by(self, entry: str) -> list[str]:
        """Ids of the activities an exclusion covers: one `array_contains` query on their exclusion terms.

        `entry` is in its canonical form (`models.addresses.exclusion_entry`); an
        address entry also finds plus-tagged and differently spelled copies, a
        domain entry its subdomains' (see `exclusion_keys`).
        """
        query = self.root.collection("activities").where(filter=FieldFilter(EXCLUSION_KEYS, "array_contains", entry))
        return [s.id for s in self._stream(query.select([EXCLUSION_KEYS]))]

    def message_records_excluded_by(self, entry: str) -> list[tuple[str, str]]:
        """(mailbox, Gmail id) of every add-on record of a message an exclusion covers (`record_message`).

        One collection-group query on `messages`, scoped to this tenant by its
        `tenant` field (a composite index in firestore.indexes.json): it finds
        the records of mail sync never stored (bulk, spam, not synced yet) as
        well as the others, and costs what matches, not the tenant's size.
        """
        query = self.client.collection_group("messages").where(
            filter=FieldFilter("tenant", "==", self.tenant)).where(
            filter=FieldFilter(EXCLUSION_KEYS, "array_contains", entry))
        found = []
        for snapshot in self._stream(query.select(["tenant"])):
            mailbox = snapshot.reference.parent.parent
            if mailbox.parent.parent.id == self.root.id:  # belt and braces: the path is this tenant's
                found.append((unquote(mailbox.id), unquote(snapshot.id)))
        return found

    def forget_message(self, writer: WriteSet, mailbox: str, message_id: str) -> None:
        """Delete the add-on's record of a message (an exclusion covers it)."""
        writer.delete(self.message_ref(mailbox, message_id))

    # --- card requests: what a card action creates, it creates once per click (#12) --------
    # `requests/{key}`: {kind, id, rep, at, expires_at}, keyed by a hash of the rep and the request id
    # our card carried in its parameters (made where the form was built, `issue_request_id`). Created in
    # the same commit as what the click creates, on condition it does not exist: the same click posted
    # again (Google's retry, the error card's Retry) finds it and writes nothing. One small document per
    # thing created, deleted by Firestore's TTL policy on `expires_at` (the README's `gcloud firestore
    # fields ttls update`; the emulator never deletes it). A click outside its window is refused before
    # anything is read or written (`RequestExpired`, `request_open`), so nothing relies on a record
    # past its `expires_at` being there, or being gone.

    def _request_ref(self, rep: str, request_id: str):
        return self.root.collection("requests").document(request_key(rep, request_id))

    @staticmethod
    def _check_request(request_id: str) -> None:
        if not request_open(request_id):
            raise RequestExpired(f"request {request_id} is outside its {REQUEST_WINDOW.days}-day window")

    def _record_request(self, batch, rep: str, request_id: str, kind: str, created_id: str) -> None:
        """In a Firestore batch (a conditional create: `WriteSet` has none), the click's record; RequestExpired
        outside its window."""
        self._check_request(request_id)
        batch.create(self._request_ref(rep, request_id), {"kind": kind, "id": created_id, "rep": rep,
                                                           "at": utcnow(),
                                                           "expires_at": request_expires_at(request_id)})

    def add_activity_once(self, activity: Activity, rep: str, request_id: str) -> bool:
        """A note or call from a card, written with its counters unless this click already wrote it.

        One commit: the request's record (created only if absent), the activity
        and its timeline rows, the counters (`add_activity`'s writes). False, and
        nothing written, when the click's record exists; `RequestExpired`, and
        nothing written, outside the click's window (`request_open`). Give the activity
        `request_activity_id(rep, request_id)` so even a lost record cannot make two.
        """
        batch = self.client.batch()
        self._record_request(batch, rep, request_id, str(activity.kind), activity.id)
        self.put_activity(batch, activity)
        for contact_id in activity.contact_ids:
            self.record_touches(batch, contact_id, [Touch(activity.at, activity.kind, None)])
        return self._commit_unless_stale(batch)

    def created_by_request(self, rep: str, request_id: str) -> str | None:
        """The id of what a card click created (`create_contact(request=...)`, `add_activity_once`), or None;
        RequestExpired outside the click's window (its record may be gone by then)."""
        self._check_request(request_id)
        snapshot = self._get(self._request_ref(rep, request_id))
        return snapshot.get("id") if snapshot.exists else None

    # --- mailboxes ----------------------------------------------------------------------

    def get_mailbox(self, email: str) -> Mailbox | None:
        snapshot = self._get(self.mailbox_ref(email))
        return mailbox_from_doc(snapshot) if snapshot.exists else None

    def save_mailbox(self, mailbox: Mailbox, writer: WriteSet | None = None) -> None:
        """Write a mailbox now, or through `writer` so its cursor commits with the data it covers."""
        ref = self.mailbox_ref(mailbox.email)
        if writer is None:
            ref.set(mailbox_to_doc(mailbox), **self._rpc)
        else:
            writer.set(ref, mailbox_to_doc(mailbox))

    def list_mailboxes(self) -> list[Mailbox]:
        return [mailbox_from_doc(s) for s in self._stream(self.root.collection("mailboxes"))]

    def mailbox_send_as(self) -> dict[str, Mailbox]:
        """Every mailbox with only its address, send-as aliases and history id (`sync.people.learn_send_as`):
        three fields of each document, which a worker reads for its tenant once, not the whole of them."""
        query = self.root.collection("mailboxes").select(["email", "send_as", "history_id"])
        return {m.email: m for m in (mailbox_from_doc(s) for s in self._stream(query))}

    # --- bulk reassignment (#15; models.reassign): `reassignments/{op}` and its `chunks/{n}` --------

    def _reassignment_ref(self, op_id: str):
        return self.root.collection("reassignments").document(op_id)

    def _reassignment_chunk_ref(self, op_id: str, chunk: int):
        return self._reassignment_ref(op_id).collection("chunks").document(str(chunk))

    def owned_contact_ids(self, rep: str) -> list[str]:
        """Every contact in a rep's owner index (`models.search`), sorted: its shards in one batched read."""
        ids: set[str] = set()
        for snapshot in self.get_all(self.search_index.owner_shards(rep)):
            ids.update((snapshot.to_dict() or {}).get("contacts") or {})
        return sorted(ids)

    def reassignment_journal(self, op_id: str) -> dict[str, Any] | None:
        snapshot = self._get(self._reassignment_ref(op_id))
        return snapshot.to_dict() if snapshot.exists else None

    def plan_reassignment(self, op_id: str, journal: dict[str, Any], chunks: list[dict[str, str]]) -> None:
        """The plan's chunks (`{contact_id: new owner}` each), then the journal naming how many: a crash in
        between leaves no journal, and the rerun plans again."""
        with self.batch() as writer:
            for number, assignments in enumerate(chunks):
                writer.set(self._reassignment_chunk_ref(op_id, number), {"assignments": assignments, "done": False})
        self._reassignment_ref(op_id).set({**journal, "chunks": len(chunks)}, **self._rpc)

    def reassignment_chunks(self, op_id: str, count: int) -> list[dict[str, Any]]:
        """The plan's chunks, in order (one batched read)."""
        refs = [self._reassignment_chunk_ref(op_id, n) for n in range(count)]
        found = {s.reference.path: s.to_dict() for s in self.get_all(refs)}
        return [found.get(ref.path) or {"assignments": {}, "done": False} for ref in refs]

    def reassign_owner(self, writer: WriteSet, contact: Contact, new_owner: str) -> None:
        """A contact's owner, and the owner index row with it (`SearchIndex.move_owner`)."""
        self.search_index.move_owner(writer, contact, new_owner)
        writer.update(self.contact_ref(contact.id), {"owner": new_owner, "updated_at": utcnow()})

    def finish_reassignment_chunk(self, writer: WriteSet, op_id: str, chunk: int, result: dict[str, Any]) -> None:
        writer.set(self._reassignment_chunk_ref(op_id, chunk), {**result, "done": True}, merge=True)

    def update_reassignment_journal(self, op_id: str, fields: dict[str, Any]) -> None:
        self._reassignment_ref(op_id).set(fields, merge=True, **self._rpc)

    # --- privacy a rep controls (#15; models.rep_privacy) ---------------------------------------
    # The marks live on the contact (read with it by every card: no extra read) as transforms only
    # (SYNC_ONLY_FIELDS keeps every other write off them); `reps/{rep}.private` keeps what each rep
    # marked, for the admin's counts.

    def set_person_private(self, rep: str, contact_id: str, private: bool) -> None:
        """Everything `rep` has with this person private (or shared again); idempotent, one commit."""
        batch = self.client.batch()
        change = firestore.ArrayUnion([rep]) if private else firestore.ArrayRemove([rep])
        batch.set(self.contact_ref(contact_id), {"private_reps": change}, merge=True)
        batch.set(self._rep_ref(rep), {"private": {"people": {contact_id: utcnow() if private
                                                              else firestore.DELETE_FIELD}}}, merge=True)
        batch.commit(**self._rpc)

    def set_thread_private(self, rep: str, contact_ids: Iterable[str], thread_key: str, private: bool) -> None:
        """One thread of `rep`'s with these people private (or shared again); idempotent, one commit."""
        batch = self.client.batch()
        change = firestore.ArrayUnion([rep]) if private else firestore.ArrayRemove([rep])
        for contact_id in sorted(set(contact_ids)):
            batch.set(self.contact_ref(contact_id), {"private_threads": {thread_key: change}}, merge=True)
        batch.set(self._rep_ref(rep), {"private": {"threads": {thread_key: utcnow() if private
                                                               else firestore.DELETE_FIELD}}}, merge=True)
        batch.commit(**self._rpc)

    def private_counts(self, reps: Iterable[str]) -> dict[str, dict[str, int]]:
        """Per rep, how many threads and people they made private (one batched read; counts only)."""
        reps = sorted(set(reps))
        found = {s.reference.path: s.to_dict() or {} for s in self.get_all([self._rep_ref(r) for r in reps],
                                                                               field_paths=["private"])}
        counts = {}
        for rep in reps:
            marks = (found.get(self._rep_ref(rep).path) or {}).get("private") or {}
            counts[rep] = {"threads": len(marks.get("threads") or {}), "people": len(marks.get("people") or {})}
        return counts

    # --- the Workspace: its domains and departed reps (#15; sync.directory) -------------------
    # The tenant's root holds `workspace` = {primary, domains, read_at}, written by sync from the
    # Directory; each of those domains is also added to `settings.internal_domains` (an ArrayUnion,
    # so an admin's own internal domains are kept and a concurrent writer loses nothing).

    def record_workspace(self, primary: str, domains: list[str]) -> None:
        """Store the Workspace's domains (primary first) and make every one of them internal."""
        others = [d for d in domains if d != self.tenant]
        data: dict[str, Any] = {"workspace": {"primary": primary, "domains": list(domains), "read_at": utcnow()}}
        if others:
            data["settings"] = {"internal_domains": firestore.ArrayUnion(others)}
        self.root.set(data, merge=True, **self._rpc)

    def workspace_domains(self) -> list[str]:
        """The tenant's domains as the Directory last listed them (the tenant alone before a sync); one get."""
        snapshot = self.client.get_all([self.root], field_paths=["workspace"], **self._rpc)
        found = next((s for s in snapshot if s.exists), None)
        stored = ((found.to_dict() or {}).get("workspace") or {}).get("domains") if found is not None else None
        return list(dict.fromkeys([self.tenant, *(stored or [])]))

    def mark_departed(self, email: str, by: str = DEPARTED_BY_DIRECTORY) -> None:
        """A rep who left: their mailbox is `departed` (cursors and counts kept) and the tenant's settings
        list them, so every card can say "former teammate" without another read. One atomic commit."""
        batch = self.client.batch()
        batch.set(self.mailbox_ref(email), {"email": email, "state": MailboxState.DEPARTED.value,
                                            "departed_at": utcnow(), "departed_by": by}, merge=True)
        batch.set(self.root, {"settings": {"departed_reps": firestore.ArrayUnion([email])}}, merge=True)
        batch.commit(**self._rpc)

    def mark_returned(self, email: str) -> None:
        """A departed rep is back (reinstated in the Directory, or by an admin): synced again from the next pass."""
        batch = self.client.batch()
        batch.set(self.mailbox_ref(email), {"email": email, "state": MailboxState.NEW.value, "departed_at": None,
                                            "departed_by": None}, merge=True)
        batch.set(self.root, {"settings": {"departed_reps": firestore.ArrayRemove([email])}}, merge=True)
        batch.commit(**self._rpc)

    # --- sync: bulk creation, the name index and the daemon's few queries --------------------

    def name_ref(self, name_key: str):
        return self.root.collection("names").document(doc_id(name_key))

    def contact_ids_by_name(self, name_keys: Iterable[str]) -> dict[str, list[str]]:
        """Folded full name -> ids of the contacts carrying it (one batched read)."""
        keys = list(dict.fromkeys(name_keys))
        by_id = {doc_id(k): k for k in keys}
        return {by_id[s.id]: list(s.get("contact_ids") or []) for s in self.get_all([self.name_ref(k) for k in keys])}

    def put_synced_contact(self, writer: WriteSet, contact: Contact, name_key: str | None = None,
                           new_company: Company | None = None, in_sample: bool = True,
                           seen_at: float | None = None) -> None:
        """A contact sync creates, with its address, name and search indexes and company, through `writer`.

        A field merge that leaves the counters alone, so a rerun (or a second
        mailbox creating the same person at once) rewrites the same values and
        never resets what `record_touches` already raised. `in_sample`: whether
        it joins its company's sample of contact ids; the caller, which counts
        them, says no once the sample holds `COMPANY_CONTACT_SAMPLE` (an
        `ArrayUnion` cannot stop at a size itself). `seen_at` (epoch), the
        latest activity the contact is created for that has happened (never an
        upcoming meeting: `record_touches`' rule, so the value is the same
        whichever mailbox creates the contact), raises `last_activity_at`
        already: another process judging a job change by it reads it with the
        contact, not only once the activity's chunk landed.
        """
        data = contact_to_doc(contact)
        for name in SYNC_ONLY_FIELDS:
            data.pop(name)
        if seen_at is not None:
            data["last_activity_at"] = firestore.Maximum(seen_at)
        if contact.job_change is None:
            data.pop("job_change")
        else:
            data["sync_job_change"] = contact.job_change
        data["link_pending"] = True
        # what sync chose, so `settle_synced_contacts` can tell its own choice from a person's edit
        data["sync_name"] = [contact.first_name, contact.middle_name, contact.last_name]
        data["sync_owner"] = contact.owner
        writer.set(self.contact_ref(contact.id), data, merge=True)
        self.index_emails(writer, contact.id, contact.emails)
        if contact.company_id:
            company: dict[str, Any] = {"contact_ids": firestore.ArrayUnion([contact.id])} if in_sample else {}
            if new_company is not None:
                company.update(name=new_company.name, custom={}, created_at=new_company.created_at,
                               updated_at=new_company.updated_at)
            if company:
                writer.set(self.company_ref(contact.company_id), company, merge=True)
        if name_key:
            self.index_name(writer, name_key, contact.id)
        self.search_index.index_contact(writer, contact)
        if new_company is not None:
            self.search_index.index_company(writer, new_company)

    def settle_synced_contacts(self, names_seen: Mapping[str, Mapping[str, tuple[tuple[str, str, str], str]]]
                               ) -> int:
        """Give each contact sync named the best name seen, and each it created the owner with the earliest exchange.

        `names_seen`: contact id -> rep -> (the best name parts that rep's mail
        showed this pass, their `name_source`: `models.addresses.person_name`). The rules are
        `models.precedence`'s (`name_rank`, `first_owner`); what makes the
        result independent of which mailbox, thread or process saw what first:

        - each rep's best name is kept on the contact (`names_seen`, one entry
          a rep: bounded by the team), raised only by a better one, and the
          name is the best of them; each rep's first exchange is a `Minimum`
          transform (`first_touches`, written by `record_touches`), and the
          owner is the earliest of them. Nothing seen is lost when two
          creators overwrite each other's name or owner: the next settle
          computes both again from what every writer added;
        - each contact is read, then written on condition it is unchanged
          since (`_commit_unless_stale`; a stale one is read again), so two
          processes settling at once cannot write an older view last;
        - a name a rep typed or imported (`name_source == ""`) is never
          touched; one sync guessed or took from a display name
          (`name_source` "address" or "header", an import's local-part guess
          too) is replaced only by a better-ranked one, so a display name
          beats a guess; a name or owner a person (an edit, a merge, an
          admin's reassignment) set differs from what sync last chose
          (`sync_name`, `sync_owner`) and is never touched either.

        The search, owner and name indexes follow a changed name or owner.
        Returns the contacts changed.
        """
        pending = dict(names_seen)
        changed = 0
        for _ in range(WRITE_ATTEMPTS):
            stale = {}
            for snapshot in self.get_all([self.contact_ref(c) for c in pending]):
                updates = _settled(snapshot.to_dict(), pending[snapshot.id])
                if not updates:
                    continue
                before = contact_from_doc(snapshot)
                after = dataclasses.replace(before, **{k: v for k, v in updates.items()
                                                       if k in ("first_name", "middle_name", "last_name", "owner")})
                batch = self.client.batch()
                batch.update(snapshot.reference, updates,
                             option=self.client.write_option(last_update_time=snapshot.update_time))
                old_key, new_key = name_key(before.first_name, before.last_name), name_key(after.first_name,
                                                                                            after.last_name)
                if old_key != new_key:
                    if old_key:
                        self.unindex_name(batch, old_key, before.id)
                    if new_key:
                        self.index_name(batch, new_key, before.id)
                self.search_index.index_contact(batch, after, previous=before)
                if self._commit_unless_stale(batch):
                    changed += 1
                else:
                    stale[snapshot.id] = pending[snapshot.id]
            if not stale:
                break
            pending = stale
        return changed

    def flag_job_change(self, writer: WriteSet, contact_id: str, job_change: dict[str, Any]) -> None:
        """Flag a likely job change (what sync flagged is kept too: `settle_job_changes`)."""
        writer.set(self.contact_ref(contact_id), {"job_change": job_change, "sync_job_change": job_change},
                   merge=True)

    def settle_job_changes(self, wanted: Mapping[str, dict[str, Any] | None]) -> int:
        """Give each contact the job-change flag sync judged for it now (contact id -> flag, or None for none).

        Which records are one person's old and current jobs is `sync.people`'s
        judgement on evidence (issue #16), made after every write of a pass;
        this writes it the way #12 needs: each contact is read, then written on
        condition it is unchanged since (a stale one is read again), so two
        processes settling at once converge; a flag a person handled (accepted
        or dismissed: it differs from `sync_job_change`, what sync last set) is
        left alone, as is a merged contact. Returns the contacts changed.
        """
        pending = dict(wanted)
        changed = 0
        for _ in range(WRITE_ATTEMPTS):
            stale = {}
            for snapshot in self.get_all([self.contact_ref(c) for c in sorted(pending)]):
                data, want = snapshot.to_dict() or {}, pending[snapshot.id]
                stored = data.get("job_change")
                if data.get("merged_into") or stored != data.get("sync_job_change"):
                    continue  # a person accepted or dismissed it
                if _flag_target(stored) == _flag_target(want):
                    continue
                batch = self.client.batch()
                batch.update(snapshot.reference, {"job_change": want, "sync_job_change": want},
                             option=self.client.write_option(last_update_time=snapshot.update_time))
                if self._commit_unless_stale(batch):
                    changed += 1
                    log.info("job change settled contact=%s company=%s", snapshot.id,
                             want["company_id"] if want else None)
                else:
                    stale[snapshot.id] = want
            if not stale:
                break
            pending = stale
        return changed

    def unlinked_ref(self, email: str):
        return self.root.collection("unlinked").document(doc_id(email))

    def forget_unlinked(self, writer: WriteSet, email: str) -> None:
        """Drop an address's `unlinked` list (its activities are linked, or purged)."""
        writer.delete(self.unlinked_ref(email))

    def note_unlinked(self, writer: WriteSet, email: str, activity_id: str | list[str],
                      overflow: bool = False) -> None:
        """Remember that activities name an address no contact holds yet (see module doc); one write.

        The caller counts what an address's list holds (`unlinked_counts`) and,
        past `UNLINKED_IDS_MAX`, notes `overflow` instead of more ids.
        """
        if overflow:
            writer.set(self.unlinked_ref(email), {"overflow": True}, merge=True)
            return
        ids = [activity_id] if isinstance(activity_id, str) else list(activity_id)
        writer.set(self.unlinked_ref(email), {"activity_ids": firestore.ArrayUnion(ids),
                                              "noted": firestore.Increment(len(ids))}, merge=True)

    def unlinked_counts(self, emails: Iterable[str]) -> dict[str, int]:
        """How many activity ids each address's `unlinked` list holds (`UNLINKED_IDS_MAX` once it overflowed);
        one batched read of two fields; an address with no list is left out."""
        emails = list(dict.fromkeys(emails))
        by_id = {doc_id(e): e for e in emails}
        counts = {}
        for snapshot in self.get_all([self.unlinked_ref(e) for e in emails], field_paths=["noted", "overflow"]):
            data = snapshot.to_dict() or {}
            counts[by_id[snapshot.id]] = UNLINKED_IDS_MAX if data.get("overflow") else int(data.get("noted") or 0)
        return counts

    def unlinked_activity_ids(self, emails: Iterable[str]) -> dict[str, list[str]]:
        """Address -> the activities noted for it; for a list that overflowed, the activities naming the
        address, by a query (sync's link pass only, never a card)."""
        emails = list(dict.fromkeys(emails))
        by_id = {doc_id(e): e for e in emails}
        refs = [self.unlinked_ref(e) for e in emails]
        found = {}
        for snapshot in self.get_all(refs):
            email = by_id[snapshot.id]
            data = snapshot.to_dict() or {}
            found[email] = (self.activity_ids_naming(email) if data.get("overflow")
                            else list(data.get("activity_ids") or []))
        return found

    def contacts_pending_links(self) -> list[Contact]:
        query = self.root.collection("contacts").where(filter=FieldFilter("link_pending", "==", True))
        return [contact_from_doc(s) for s in self._stream(query)]

    def clear_pending_link(self, writer: WriteSet, contact_id: str) -> None:
        writer.set(self.contact_ref(contact_id), {"link_pending": firestore.DELETE_FIELD}, merge=True)

    def activities_of_contact(self, contact_id: str) -> list[Activity]:
        """Every activity linked to a contact (a query: repairs and tests, never a card)."""
        query = self.root.collection("activities").where(filter=FieldFilter("contact_ids", "array_contains",
                                                                            contact_id))
        return [activity_from_doc(s) for s in self._stream(query)]

    def activities_held_by(self, mailbox: str, held_ids: Iterable[str] | None = None) -> list[Activity]:
        """Activities a mailbox holds: those with these Gmail/Calendar ids there, or all of them."""
        field = FieldPath("holders", doc_id(mailbox)).to_api_repr()
        collection = self.root.collection("activities")
        if held_ids is None:
            return [activity_from_doc(s) for s in self._stream(collection.where(filter=FieldFilter(field, ">=", "")))]
        held_ids = list(dict.fromkeys(held_ids))
        found = []
        for start in range(0, len(held_ids), FIRESTORE_IN_MAX):
            query = collection.where(filter=FieldFilter(field, "in", held_ids[start:start + FIRESTORE_IN_MAX]))
            found.extend(activity_from_doc(s) for s in self._stream(query))
        return found

    # --- the add-on's lookups ---------------------------------------------------------------

    def message_ref(self, mailbox: str, message_id: str):
        """`mailboxes/{email}/messages/{gmail id}`: which activity (or people) a Gmail message is."""
        return self.mailbox_ref(mailbox).collection("messages").document(doc_id(message_id))

    def record_message(self, mailbox: str, message_id: str, activity_id: str | None = None,
                       participants: Iterable[Participant] = (), subject: str = "",
                       writer: WriteSet | None = None, addresses: Iterable[str] = ()) -> None:
        """Remember a mailbox's Gmail message so the add-on finds its people with one `get`.

        Sync may record each message it stores (with `activity_id`); the add-on
        records what it read from the Gmail API (with `participants`), so a
        message opened twice costs the API once. The record is indexed by the
        exclusion terms of its participants and of `addresses` (every address the
        message names, parseable or not), so an exclusion finds it
        (`message_records_excluded_by`) even when sync never stores that mail.
        """
        participants = list(participants)
        data = {"activity_id": activity_id, "subject": subject,
                "participants": [dataclasses.asdict(p) for p in participants], "tenant": self.tenant,
                EXCLUSION_KEYS: exclusion_keys([*(p.email for p in participants), *addresses])}
        ref = self.message_ref(mailbox, message_id)
        if writer is None:
            ref.set(data, **self._rpc)
        else:
            writer.set(ref, data)

    def message_index_ref(self, mailbox: str, message_id: str):
        """`mailboxes/{email}/message_index/{n}`: sync's Gmail id -> activity id map, in buckets.

        One document per message would cost sync a write per message; a bucket
        per `MESSAGE_INDEX_BUCKETS` share of ids is written once per sync batch
        with a field-level merge, and the card still finds a message with one get.
        """
        return self.mailbox_ref(mailbox).collection("message_index").document(message_index_bucket(message_id))

    def record_synced_messages(self, writer: WriteSet, mailbox: str, activity_ids: dict[str, str]) -> None:
        """Map a batch of a mailbox's Gmail ids to their activities: one write per bucket touched."""
        buckets: dict[str, tuple[Any, dict[str, str]]] = {}
        for message_id, activity_id in activity_ids.items():
            ref = self.message_index_ref(mailbox, message_id)
            buckets.setdefault(ref.id, (ref, {}))[1][message_id] = activity_id
        for ref, ids in buckets.values():
            writer.set(ref, {"ids": ids}, merge=True)

    def get_message(self, mailbox: str, message_id: str) -> tuple[list[Participant], str] | None:
        """(participants, subject) of a stored message, or None when neither sync nor the add-on has it."""
        view = self.message_view(mailbox, message_id)
        return (view.participants, view.subject) if view.participants is not None else None

    def message_view(self, rep: str, message_id: str) -> MessageView:
        """What the Gmail card needs of an open message: settings and its people, from what is stored.

        One `get_all` reads the tenant's settings, the add-on's record of the
        message (`mailboxes/{rep}/messages/{id}`) and the bucket of sync's
        Gmail-id index that would hold it; a message only sync stored costs one
        more get, its activity (which lists the people). `participants` is None
        when neither has the message: the card then asks the Gmail API. The
        read is masked to the fields used, so a bucket of a large mailbox's
        index costs this message's entry, not the bucket's thousands.
        """
        root, recorded = self.root, self.message_ref(rep, message_id)
        indexed, own = self.message_index_ref(rep, message_id), self.mailbox_ref(rep)
        fields = ["settings", "rep_names", "activity_id", "subject", "participants",
                  FieldPath("ids", message_id).to_api_repr(), *MAILBOX_PROGRESS_FIELDS]
        found = {s.reference.path: s for s in self.get_all([root, recorded, indexed, own], field_paths=fields)}
        settings = _settings_of(found[root.path]) if root.path in found else Settings()
        view = MessageView(settings, None, mailbox=_progress_of(found.get(own.path), rep))
        record = found[recorded.path].to_dict() if recorded.path in found else None
        if record is not None and (record.get("participants") or not record.get("activity_id")):
            view.participants = [Participant(**p) for p in record.get("participants") or []]
            view.subject = record.get("subject") or ""
            return view
        bucket = found[indexed.path].to_dict() if indexed.path in found else {}
        activity_id = (record or {}).get("activity_id") or (bucket.get("ids") or {}).get(message_id)
        if activity_id:
            try:
                view.activity = self.get_activity(activity_id)
            except NotFound:
                return view
            view.participants, view.subject = view.activity.participants, view.activity.subject
        return view

    def people_view(self, emails: Iterable[str], activity: Activity | None = None,
                    now: dt.datetime | None = None) -> PeopleView:
        """The people of a message or event: each address's contact and company, with recent timeline rows.

        One batched read fetches, for every address, its index entry, the
        contact a sync-created contact would have (`contact_id_for`) and the
        company of its domain; with the stored `activity`, its linked contacts
        and companies too. In the same read go the newest
        `TIMELINE_BUCKETS_PER_READ` calendar months of those contacts'
        timelines (the activity's contacts, else the guessed ones), which
        `timeline(buckets=...)` then does not read again: a card for recent
        mail reads no timeline of its own. Only a contact found under another
        id (an edit, a merge), an alias or a company the guesses missed costs
        another read.
        """
        emails = list(dict.fromkeys(emails))
        if not emails:
            return PeopleView({}, {}, {})
        guessed = [contact_id_for(email) for email in emails]
        domains = {email: company_domain(email) for email in emails}
        linked = list(activity.contact_ids) if activity is not None else []
        contact_ids = list(dict.fromkeys([*guessed, *linked]))
        company_ids = list(dict.fromkeys([*(d for d in domains.values() if d),
                                          *(activity.company_ids if activity is not None else [])]))
        now = now or utcnow()
        # next month too: a meeting booked there heads the timeline ("Upcoming"), read in the same round trip
        months = [month_of(now + dt.timedelta(days=NEXT_MONTH_DAYS)), *recent_months(now, TIMELINE_BUCKETS_PER_READ)]
        prefetched = list(dict.fromkeys(linked if activity is not None else guessed))
        buckets: dict[str, dict[str, dict[str, str]]] = {cid: {m: {} for m in months} for cid in prefetched}
        refs = ([self.email_ref(e) for e in emails] + [self.contact_ref(c) for c in contact_ids]
                + [self.company_ref(d) for d in company_ids]
                + [self.timeline_ref(c, m) for c in prefetched for m in months])
        index: dict[str, str] = {}
        contacts: dict[str, Contact] = {}
        companies: dict[str, Company] = {}
        for snapshot in self.get_all(refs):
            kind = snapshot.reference.parent.id
            if kind == "emails":
                index[unquote(snapshot.id)] = snapshot.get("contact_id")
            elif kind == "contacts":
                contacts[snapshot.id] = contact_from_doc(snapshot)
            elif kind == "companies":
                companies[unquote(snapshot.id)] = company_from_doc(snapshot)
            else:  # a timeline bucket: contacts/{id}/timeline/{month}
                buckets[snapshot.reference.parent.parent.id][snapshot.id] = snapshot.get("entries") or {}
        missing = [cid for cid in index.values() if cid not in contacts]
        contacts.update(self.get_contacts(missing) if missing else {})
        for contact_id, contact in list(contacts.items()):
            if contact.merged_into:
                try:
                    contacts[contact_id] = self.get_contact(contact.merged_into, follow_alias=False)
                except NotFound:
                    contacts.pop(contact_id)
        contact_of = {email: contacts[index[email]] for email in emails if index.get(email) in contacts}
        other = {c.company_id for c in contact_of.values() if c.company_id} - set(companies)
        companies.update(self.get_companies(other) if other else {})
        company_of: dict[str, Company] = {}
        for email in emails:
            domain = contact_of[email].company_id if email in contact_of else domains[email]
            if domain and domain in companies:
                company_of[email] = companies[domain]
        return PeopleView(contact_of, company_of, buckets)

    def home_view(self, rep: str) -> HomeView:
        """The home page's settings and the rep's saved segments, in one batched read."""
        root, rep_doc, own = self.root, self._rep_ref(rep), self.mailbox_ref(rep)
        found = {s.reference.path: s for s in self.get_all([root, rep_doc, own])}
        settings = _settings_of(found[root.path]) if root.path in found else Settings()
        return HomeView(settings, segments_in(found[rep_doc.path].to_dict() if rep_doc.path in found else None),
                        mailbox=_progress_of(found.get(own.path), rep))

    def contacts_owned_by(self, rep: str, limit: int) -> list[Contact]:
        """At most `limit` of a rep's contacts, by name, from the owner index (`models.search`): no query.

        The first shard is read alone; the others only when it holds fewer than `limit`.
        """
        first, *others = self.search_index.owner_shards(rep)
        snapshot = self._get(first)
        names: dict[str, str] = dict((snapshot.to_dict() or {}).get("contacts") or {}) if snapshot.exists else {}
        if len(names) < limit:
            for snapshot in self.get_all(others):
                names.update(snapshot.to_dict().get("contacts") or {})
        chosen = sorted(names, key=lambda contact_id: (names[contact_id], contact_id))[:limit]
        found = self.get_contacts(chosen)
        return [found[c] for c in chosen if c in found and found[c].owner == rep and not found[c].merged_into]

    # --- CSV import
    # What `models.csv_io` asks of the store: every contact and company streamed (exports), and an
    # import's planned contacts and companies written. The import plans in domain terms; the documents,
    # the index rows and the batching are built here.

    # Fields an import may change on a stored contact; the rest belong to sync or to merges.
    IMPORT_EDITABLE = ("first_name", "middle_name", "last_name", "title", "phone", "company_id", "owner",
                       "lifecycle_stage", "emails", "tags", "custom")

    def all_companies(self) -> Iterator[Company]:
        """Every company of the tenant (a scan: exports and admin commands only, never a card)."""
        for snapshot in self._stream(self.root.collection("companies")):
            yield company_from_doc(snapshot)

    def write_import(self, contacts: Iterable[tuple[Contact, Contact | None]],
                     companies: Iterable[tuple[Company, Company | None]], *,
                     dry_run: bool = False) -> tuple[list[str], list[str], int]:
        """Write an import's contacts, then its companies: each as it should be, with the stored one or None.

        Only differences are written: a new contact whole (but never the
        counters a concurrent sync may already have raised), a stored one's
        `IMPORT_EDITABLE` fields that changed (emails and tags as unions, custom
        values one by one); a company's name and contact sample. New addresses
        get `link_pending`, so sync links the activities it parked for them
        (`unlinked/{email}`); the address, name and search indexes follow. A
        contact's writes always share one batch (at most `FIRESTORE_BATCH_MAX`),
        so a crash leaves whole contacts. Returns (ids of the contacts written,
        domains of the companies written, document writes); with `dry_run` the
        same figures and nothing written.
        """
        contact_units = [(contact.id, self._import_contact_writes(contact, stored)) for contact, stored in contacts]
        company_units = [(company.id, self._import_company_writes(company, stored)) for company, stored in companies]
        units = [(key, writes) for key, writes in [*contact_units, *company_units] if writes]
        if not dry_run:
            pending: list[Write] = []
            for _, writes in units:
                if len(pending) + len(writes) > FIRESTORE_BATCH_MAX:
                    self._commit_import(pending)
                    pending = []
                pending += writes.writes
            self._commit_import(pending)
        return ([key for key, writes in contact_units if writes], [key for key, writes in company_units if writes],
                sum(len(writes) for _, writes in units))

    def _import_contact_writes(self, contact: Contact, stored: Contact | None) -> RecordingWriteSet:
        if stored is None:
            data = contact_to_doc(contact)
            for name in SYNC_ONLY_FIELDS:
                data.pop(name)  # a concurrent sync may already have raised them: never reset
            for name in ("job_change", "merged_into"):
                if data[name] is None:
                    data.pop(name)
        else:
            data = {}
            for name in self.IMPORT_EDITABLE:
                before, after = getattr(stored, name), getattr(contact, name)
                if before == after:
                    continue
                if name in ("emails", "tags"):
                    data[name] = firestore.ArrayUnion([v for v in after if v not in before])
                elif name == "custom":
                    data["custom"] = {k: v for k, v in after.items() if before.get(k) != v}
                else:
                    data[name] = after
            if data:
                data["updated_at"] = utcnow()
        writes = RecordingWriteSet()
        if not data:
            return writes
        old = set(stored.emails) if stored else set()
        if set(contact.emails) - old:
            data["link_pending"] = True
        writes.set(self.contact_ref(contact.id), data, True)
        self.index_emails(writes, contact.id, [email for email in contact.emails if email not in old])
        self._reindex_name(writes, contact, stored)
        self.search_index.index_contact(writes, contact, previous=stored)
        return writes

    def _import_company_writes(self, company: Company, stored: Company | None) -> RecordingWriteSet:
        writes = RecordingWriteSet()
        if stored is None:
            data = dataclasses.asdict(company)
            data.pop("id")
            writes.set(self.company_ref(company.id), data, True)
            self.search_index.index_company(writes, company)
            return writes
        data = {name: getattr(company, name) for name in ("name", "contact_ids")
                if getattr(company, name) != getattr(stored, name)}
        if data:
            data["updated_at"] = utcnow()
            writes.set(self.company_ref(company.id), data, True)
            if "name" in data:
                self.search_index.index_company(writes, company, previous=stored)
        return writes

    def _commit_import(self, writes: list[Write]) -> None:
        """One atomic batch; the search rows of its contacts folded into one write per prefix document.

        Hundreds of contacts share a handful of two-letter prefixes; folding their
        field-level merges (`{contacts: {id: row}}`) into one merge per document
        writes the same values with far fewer writes.
        """
        search: dict[str, tuple[Any, dict[str, Any]]] = {}
        batch = self.client.batch()
        for _, ref, doc, merge in writes:
            if merge and ref.parent.id == "search":
                _, folded = search.setdefault(ref.path, (ref, {}))
                for field, rows in doc.items():
                    folded.setdefault(field, {}).update(rows)
            else:
                batch.set(ref, doc, merge=merge)
        for ref, folded in search.values():
            batch.set(ref, folded, merge=True)
        if writes:
            batch.commit(**self._rpc)

    # --- leases: who may sync a mailbox now, and the fenced cursor commit (models/leases.py) ---------

    @functools.cached_property
    def _leases(self) -> Leases:
        return Leases(self.client, _lease_documents(self.root, "leases"))

    def acquire_lease(self, mailbox: str, owner: str, ttl_seconds: float) -> Lease | None:
        """The mailbox's lease for `owner` (unique to one attempt), or None while another holds it."""
        return self._leases.acquire(doc_id(mailbox), owner, ttl_seconds)

    def acquire_mailbox(self, email: str, owner: str, ttl_seconds: float) -> tuple[Lease | None, Mailbox | None]:
        """`acquire_lease`, and the stored mailbox (None when it has none) read in the same round trip.

        The mailbox is read with the lease, before the lease is written: the
        write is conditional on the lease as read, and every cursor commit
        writes the lease, so a lease won this way means no cursor moved since
        that read. A mailbox read without the lease (None) still says its state.
        """
        lease, [snapshot] = self._leases.acquire_reading(doc_id(email), owner, ttl_seconds,
                                                         also=[self.mailbox_ref(email)])
        return lease, mailbox_from_doc(snapshot) if snapshot.exists else None

    def renew_lease(self, lease: Lease) -> None:
        """The heartbeat: extend the lease by its ttl; raises `Fenced` once another holder took it."""
        self._leases.renew(lease)

    def commit_cursors(self, mailbox: Mailbox, lease: Lease, release: bool = True) -> bool:
        """Write the mailbox (its cursors and state) only if `lease` is still current, releasing it too.

        One commit holds the mailbox document and the fence check, so a
        worker that lost its lease never moves a cursor (`Fenced` is raised).
        Returns, on release, whether the mailbox was marked dirty since the
        lease was taken (the holder syncs again; `models.leases`: no extra read).
        """
        return self._leases.commit_fenced(lease, [(self.mailbox_ref(mailbox.email), mailbox_to_doc(mailbox))],
                                          release)

    def release_lease(self, lease: Lease) -> None:
        self._leases.release(lease)

    def mark_mailbox_dirty(self, mailbox: str) -> None:
        """A sync request for a leased mailbox: its holder goes again when it lets go (marks coalesce)."""
        self._leases.mark_dirty(doc_id(mailbox))

    def mailbox_leases(self) -> list[LeaseState]:
        """Every mailbox lease of the tenant, held or released, for `sync status`."""
        return self._leases.held()

    # --- watches: a mailbox's push watches and the last push seen (models/watches.py) -------------

    def _watch_ref(self, mailbox: str):
        return self.root.collection("watches").document(doc_id(mailbox))

    def get_watch(self, mailbox: str) -> Watch | None:
        snapshot = self._get(self._watch_ref(mailbox))
        return _watch_of(snapshot) if snapshot.exists else None

    def list_watches(self) -> dict[str, Watch]:
        """Every stored watch of the tenant, by mailbox."""
        found = (_watch_of(s) for s in self._stream(self.root.collection("watches")))
        return {watch.mailbox: watch for watch in found}

    def save_watch(self, watch: Watch, fields: Iterable[str]) -> None:
        """Write these fields of the watch (a merge: renewals and pushes never overwrite each other)."""
        data = {name: getattr(watch, name) for name in fields}
        self._watch_ref(watch.mailbox).set({"mailbox": watch.mailbox, **data}, merge=True, **self._rpc)

    def record_push(self, mailbox: str, history_id: int | None = None, skipped: bool = False) -> None:
        """A push notification seen for the mailbox: when, its history id (the newest), counted."""
        data: dict[str, Any] = {"mailbox": mailbox, "last_push_at": firestore.SERVER_TIMESTAMP,
                                "pushes": firestore.Increment(1)}
        if history_id is not None:
            data["last_push_history_id"] = firestore.Maximum(history_id)
        if skipped:
            data["skipped_pushes"] = firestore.Increment(1)
        self._watch_ref(mailbox).set(data, merge=True, **self._rpc)

    # --- sync health: the queue as the dispatcher measured it (models/health.py), the admin card's view ---

    def _queue_health_ref(self):
        return self.root.collection("health").document("queue")

    def record_queue_health(self, health: QueueHealth) -> None:
        """The dispatcher's measurement, written whole: only the leading dispatcher writes it (models.health)."""
        self._queue_health_ref().set(dataclasses.asdict(health), **self._rpc)

    def queue_health(self) -> QueueHealth | None:
        """The tenant's last measurement, or None where no dispatcher ever ran (single-process sync)."""
        return _queue_health_of(self._get(self._queue_health_ref()))

    def admin_view(self, shown: int) -> SyncHealth:
        """What the admin card shows of sync, bounded whatever the tenant's size: one limited query and one
        `get_all`, plus one more `get_all` only when a failed mailbox the dispatcher named is not listed.

        The first `shown` mailboxes (by address), each with its lease and its push watch, and the queue's
        last measurement; the failed or revoked mailboxes that measurement names come first.
        """
        listed = [mailbox_from_doc(s) for s in self._stream(self.root.collection("mailboxes").limit(shown + 1))]
        view = SyncHealth(mailboxes=listed[:shown], more=len(listed) > shown)
        health_ref = self._queue_health_ref()
        self._admin_extras(view, [m.email for m in view.mailboxes], [health_ref])
        missing = [e for e in (view.queue.attention if view.queue else []) if e not in view.emails()]
        if missing:
            self._admin_extras(view, missing, [self.mailbox_ref(e) for e in missing])
        first = set(view.queue.attention if view.queue else ())
        view.mailboxes.sort(key=lambda m: (m.email not in first, m.email))
        return view

    def _admin_extras(self, view: SyncHealth, emails: list[str], more_refs: list) -> None:
        """One `get_all`: the leases and watches of `emails`, and `more_refs` (the queue's health, mailboxes)."""
        leases = {self._leases.documents.lease(doc_id(e)).path: e for e in emails}
        watches = {self._watch_ref(e).path: e for e in emails}
        health_path = self._queue_health_ref().path
        refs = [*more_refs, *(self._leases.documents.lease(doc_id(e)) for e in emails),
                *(self._watch_ref(e) for e in emails)]
        for snapshot in self.get_all(refs):
            path = snapshot.reference.path
            if path == health_path:
                view.queue = _queue_health_of(snapshot)
            elif path in leases:
                view.leases[leases[path]] = lease_state(snapshot)
            elif path in watches:
                view.watches[watches[path]] = _watch_of(snapshot)
            else:
                view.mailboxes.append(mailbox_from_doc(snapshot))


def _watch_of(snapshot) -> Watch:
    return Watch(**_known(Watch, snapshot.to_dict()))


def _queue_health_of(snapshot) -> QueueHealth | None:
    if snapshot is None or not snapshot.exists:
        return None
    return QueueHealth(**_known(QueueHealth, snapshot.to_dict()))




def _lease_documents(parent, collection: str) -> LeaseDocuments:
    """`{collection}/{name}` holds a lease, `{collection}_dirty/{name}` its dirty mark (models.leases)."""
    leases, dirty = parent.collection(collection), parent.collection(collection + "_dirty")
    return LeaseDocuments(lease=leases.document, dirty=dirty.document, all=leases.stream)


def leader_leases(client: firestore.Client) -> Leases:
    """Leases of the process-wide roles (the dispatcher): `sidecar/processes/leaders`, outside every tenant."""
    return Leases(client, _lease_documents(client.collection("sidecar").document("processes"), "leaders"))


def _flag_target(job_change: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """What a job-change flag says (its new company and address), without when it was seen."""
    return (job_change.get("company_id"), job_change.get("email")) if job_change else None


def _settled(data: dict[str, Any], seen: Mapping[str, tuple[tuple[str, str, str], str]]) -> dict[str, Any]:
    """The updates `Repository.settle_synced_contacts` makes to one stored contact (see there); {} for none."""
    if data.get("merged_into"):
        return {}
    stored = data.get("names_seen") or {}
    merged = dict(stored)
    for rep, (parts, source) in seen.items():
        key, candidate = doc_id(rep), [*parts, source]
        old = merged.get(key)
        if old is None or name_rank(candidate[:3], candidate[3]) > name_rank(old[:3], old[3]):
            merged[key] = candidate
    updates: dict[str, Any] = {"names_seen": merged} if merged != stored else {}
    current = [data.get("first_name") or "", data.get("middle_name") or "", data.get("last_name") or ""]
    source = data.get("name_source") or ""
    # a name a rep typed or imported ("") is never touched, nor one a person changed since sync chose it
    if source in NAME_SOURCE_RANK and current == list(data.get("sync_name") or current):
        best = best_name((c[:3], c[3]) for c in merged.values())
        if best is not None and name_rank(best[0], best[1]) > name_rank(current, source):
            parts = list(best[0])
            updates.update(first_name=parts[0], middle_name=parts[1], last_name=parts[2], sync_name=parts,
                           name_source=best[1])
    if data.get("sync_owner") is not None and data.get("owner") == data.get("sync_owner"):
        owner = first_owner({unquote(rep): at for rep, at in (data.get("first_touches") or {}).items()})
        if owner and owner != data.get("owner"):
            updates.update(owner=owner, sync_owner=owner)
    return updates


def segment_to_doc(segment: Segment) -> dict[str, Any]:
    data = dataclasses.asdict(segment)
    data.pop("id")
    data["counted_at"] = to_epoch(segment.counted_at)
    return data


def segment_from_doc(segment_id: str, data: dict[str, Any]) -> Segment:
    values = _known(Segment, data)
    values["counted_at"] = from_epoch(values.get("counted_at"))
    return Segment(id=segment_id, **values)


def segments_in(rep_doc: dict[str, Any] | None) -> list[Segment]:
    """The segments a rep document holds, oldest first."""
    raw = (rep_doc or {}).get("segments") or {}
    return sorted((segment_from_doc(sid, data) for sid, data in raw.items()), key=lambda s: (s.created_at, s.id))


def _email_doc(contact_id: str, email: str) -> dict[str, str]:
    return {"contact_id": contact_id, "domain": email.rpartition("@")[2]}


def _entry_doc(entry: TimelineEntry) -> str:
    """A timeline row as one compact JSON string.

    Measured: decoding and deep-copying a 200-row bucket of nested maps cost the
    Python client ~20 ms per read; the same rows as strings cost a fraction of it.
    """
    data = {name: getattr(entry, name) for name in _field_names(TimelineEntry) if name != "activity_id"}
    data["at"] = entry.at.isoformat()
    # bounded, so a bucket of `TIMELINE_PART_ROWS` rows stays far under Firestore's 1 MiB (module doc)
    data["subject"] = entry.subject[:TIMELINE_ROW_SUBJECT_MAX]
    data["holders"] = entry.holders[:TIMELINE_ROW_HOLDERS_MAX]
    data["counterpart"] = entry.counterpart[:TIMELINE_ROW_COUNTERPART_MAX]
    if not entry.private:
        del data["private"]  # the rare private meeting says so; every other row stays as short as before
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


_AT_KEY = '"at":"'  # how `_entry_doc`'s JSON names a row's time
_ROW_ORDER = operator.itemgetter(0, 1)  # (at, activity id) of a (at, activity id, stored row): the page's order


def _entry_at(raw: str) -> dt.datetime:
    """A stored row's time, without decoding the rest of it (a page decodes only the rows it shows).

    `_entry_doc` writes compact JSON, so the row's time is the text after
    `"at":"` up to the next quote: inside a JSON string every quote is escaped,
    so those six characters can only be the `at` key itself. A row that does
    not read that way is decoded whole.
    """
    start = raw.find(_AT_KEY)
    if start >= 0:
        start += len(_AT_KEY)
        try:
            return dt.datetime.fromisoformat(raw[start:raw.index('"', start)])
        except ValueError:
            pass
    return dt.datetime.fromisoformat(json.loads(raw)["at"])


def _entry_from_doc(activity_id: str, raw: str) -> TimelineEntry:
    data = json.loads(raw)
    data["at"] = dt.datetime.fromisoformat(data["at"])
    return TimelineEntry(activity_id=activity_id, **_known(TimelineEntry, data))


def quota_usage(client: firestore.Client):
    """The project's quota usage documents by name (`sync.budget`): `sidecar/quota/usage/{name}`, outside every
    tenant, since Google meters the budgets per Cloud project. Returns name -> document reference."""
    return client.collection("sidecar").document("quota").collection("usage").document
