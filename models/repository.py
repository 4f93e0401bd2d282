"""The Firestore repository: every read and write of one tenant's documents.

Layout (SPEC §6), everything under `tenants/{tenant}`:

    tenants/{tenant}                         settings (privacy level, exclusions, ...)
      contacts/{contact_id}                  a Contact
        timeline/{activity_id}               {at, kind, direction}: the contact's pointer to an activity
      emails/{email}                         {contact_id, domain}: the address index
      companies/{domain}                     a Company, keyed by registrable domain
      activities/{activity_id}               an Activity, one per message/meeting/note/call
      mailboxes/{email}                      a rep's Mailbox and its sync cursors

Why this shape: a card must cost a handful of reads whatever the tenant's size,
and the emulator scans whole collections on queries. So a contact is found by
address with one `get` of `emails/{email}`, a company by one `get` of
`companies/{domain}`, and a timeline page is a query on the contact's own small
`timeline` subcollection followed by one batched `get_all` of the activities.
No card ever queries `activities` or `contacts`.

Counters that several writers touch at once (a contact's last activity, who on
the team last touched them) are Firestore `Maximum` transforms on epoch
seconds, so two mailboxes syncing the same person concurrently can neither
lose nor lower a value, and a rerun writes the same numbers again.

The repository is scoped to one tenant when it is made; nothing it does takes a
tenant from its arguments.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, unquote

from google.cloud import firestore
from google.cloud.firestore_v1.field_path import FieldPath

from models.addresses import normalize_email
from models.domain import (
    Activity,
    Company,
    Contact,
    CustomFieldDefinition,
    Mailbox,
    Participant,
    Settings,
    TimelineEntry,
    utcnow,
)

log = logging.getLogger(__name__)

FIRESTORE_BATCH_MAX = 500  # Firestore: at most 500 writes in one batch or transaction
FIRESTORE_GET_ALL_CHUNK = 300  # keeps one BatchGetDocuments request comfortably small
TIMELINE_PAGE_SIZE = 20
COMPANY_CONTACT_SAMPLE = 25  # how many contact ids a company keeps for its card

# Fields stored as epoch seconds so `Maximum` transforms can merge them (see module doc).
_EPOCH_FIELDS = ("last_activity_at", "last_email_at", "last_meeting_at")


class NotFound(LookupError):
    """The document asked for does not exist in this tenant."""


class Conflict(ValueError):
    """A write would break an invariant (e.g. an address already held by another contact)."""


def connect(project: str, emulator_host: str | None = None) -> firestore.Client:
    """A Firestore client; the emulator when a host is given (the client reads the standard variable)."""
    if emulator_host:
        os.environ["FIRESTORE_EMULATOR_HOST"] = emulator_host
    return firestore.Client(project=project)


def doc_id(value: str) -> str:
    """A Firestore-safe document id for an address or domain ('/' is a path separator)."""
    return quote(value, safe="@+-_.!~*'()=") or "_"


def contact_id_for(email: str) -> str:
    """Deterministic, so a sync that crashes and reruns creates the same contact, not a twin."""
    return "c" + hashlib.sha256(email.encode()).hexdigest()[:20]


def activity_id_for(external_key: str) -> str:
    """Deterministic from the Message-ID (or iCalUID + start): one activity per real event."""
    return "a" + hashlib.sha256(external_key.encode()).hexdigest()[:24]


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
    return Company(id=snapshot.id, **_known(Company, data))


def activity_to_doc(activity: Activity) -> dict[str, Any]:
    data = dataclasses.asdict(activity)
    data.pop("id")
    data["holders"] = {doc_id(mailbox): held_id for mailbox, held_id in activity.holders.items()}
    # for admin clean-ups (exclusions): which addresses and domains the activity involves
    data["addresses"] = sorted({p.email for p in activity.participants})
    return data


def activity_from_doc(snapshot) -> Activity:
    data = snapshot.to_dict()
    data["participants"] = [Participant(**p) for p in data.get("participants") or []]
    data["holders"] = {unquote(m): held for m, held in (data.get("holders") or {}).items()}
    return Activity(id=snapshot.id, **_known(Activity, data))


def mailbox_to_doc(mailbox: Mailbox) -> dict[str, Any]:
    return dataclasses.asdict(mailbox)


def mailbox_from_doc(snapshot) -> Mailbox:
    return Mailbox(**_known(Mailbox, snapshot.to_dict()))


def settings_from_doc(data: dict[str, Any] | None) -> Settings:
    data = dict(data or {})
    data["custom_fields"] = [CustomFieldDefinition(**f) for f in data.get("custom_fields") or []]
    return Settings(**_known(Settings, data))


def _known(cls, data: dict[str, Any]) -> dict[str, Any]:
    """Drop stored fields the dataclass does not (or no longer) have."""
    names = {f.name for f in dataclasses.fields(cls)} - {"id"}
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
    activities: list[Activity]
    next_cursor: str | None


class Batch:
    """Buffered writes committed at most `FIRESTORE_BATCH_MAX` at a time.

    Sync writes in bulk through this; `commit()` flushes what is left. Used as a
    context manager, it commits on a clean exit and drops the buffer on error, so
    a failure leaves whole batches only.
    """

    def __init__(self, client: firestore.Client):
        self._client = client
        self._batch = client.batch()
        self._pending = 0
        self.writes = 0  # every write committed, for the benchmarks

    def set(self, ref, data: dict[str, Any], merge: bool | list = False) -> None:
        self._batch.set(ref, data, merge=merge)
        self._count()

    def update(self, ref, data: dict[str, Any]) -> None:
        self._batch.update(ref, data)
        self._count()

    def delete(self, ref) -> None:
        self._batch.delete(ref)
        self._count()

    def _count(self) -> None:
        self._pending += 1
        if self._pending >= FIRESTORE_BATCH_MAX:
            self.commit()

    def commit(self) -> None:
        if self._pending:
            self._batch.commit()
            self.writes += self._pending
        self._batch = self._client.batch()
        self._pending = 0

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()


class Repository:
    """One tenant's contacts, companies, activities, mailboxes and settings."""

    def __init__(self, client: firestore.Client, tenant: str):
        if not tenant or "/" in tenant:
            raise ValueError(f"invalid tenant {tenant!r}")
        self.client = client
        self.tenant = tenant
        self.root = client.collection("tenants").document(doc_id(tenant))

    # --- references ---------------------------------------------------------------------

    def contact_ref(self, contact_id: str):
        return self.root.collection("contacts").document(contact_id)

    def timeline_ref(self, contact_id: str, activity_id: str):
        return self.contact_ref(contact_id).collection("timeline").document(activity_id)

    def email_ref(self, email: str):
        return self.root.collection("emails").document(doc_id(email))

    def company_ref(self, domain: str):
        return self.root.collection("companies").document(doc_id(domain))

    def activity_ref(self, activity_id: str):
        return self.root.collection("activities").document(activity_id)

    def mailbox_ref(self, email: str):
        return self.root.collection("mailboxes").document(doc_id(email))

    def batch(self) -> Batch:
        return Batch(self.client)

    def get_all(self, refs: list) -> Iterator:
        """Existing snapshots for many references, in chunks (one RPC each)."""
        for start in range(0, len(refs), FIRESTORE_GET_ALL_CHUNK):
            for snapshot in self.client.get_all(refs[start:start + FIRESTORE_GET_ALL_CHUNK]):
                if snapshot.exists:
                    yield snapshot

    # --- settings -----------------------------------------------------------------------

    def get_settings(self) -> Settings:
        snapshot = self.root.get()
        return settings_from_doc((snapshot.to_dict() or {}).get("settings") if snapshot.exists else None)

    def save_settings(self, settings: Settings) -> None:
        self.root.set({"settings": dataclasses.asdict(settings)}, merge=True)

    # --- contacts -----------------------------------------------------------------------

    def get_contact(self, contact_id: str, follow_alias: bool = True) -> Contact:
        snapshot = self.contact_ref(contact_id).get()
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
        snapshot = self.email_ref(normalize_email(email)).get()
        if not snapshot.exists:
            return None
        try:
            return self.get_contact(snapshot.get("contact_id"))
        except NotFound:
            return None

    def create_contact(self, contact: Contact) -> Contact:
        """Create a contact and claim its addresses, atomically; Conflict if one is taken."""
        transaction = self.client.transaction()

        @firestore.transactional
        def create(transaction):
            for email in contact.emails:
                snapshot = self.email_ref(email).get(transaction=transaction)
                if snapshot.exists and snapshot.get("contact_id") != contact.id:
                    raise Conflict(f"{email} already belongs to another contact")
            transaction.set(self.contact_ref(contact.id), contact_to_doc(contact))
            for email in contact.emails:
                transaction.set(self.email_ref(email), _email_doc(contact.id, email))
            if contact.company_id:
                transaction.set(self.company_ref(contact.company_id),
                                {"contact_ids": firestore.ArrayUnion([contact.id])}, merge=True)

        create(transaction)
        return contact

    def save_contact(self, contact: Contact) -> Contact:
        """Write a contact's editable fields and keep the address index in step, atomically."""
        transaction = self.client.transaction()

        @firestore.transactional
        def save(transaction):
            stored = self.contact_ref(contact.id).get(transaction=transaction)
            old_emails = set(stored.get("emails") or []) if stored.exists else set()
            for email in set(contact.emails) - old_emails:
                snapshot = self.email_ref(email).get(transaction=transaction)
                if snapshot.exists and snapshot.get("contact_id") != contact.id:
                    raise Conflict(f"{email} already belongs to another contact")
            contact.updated_at = utcnow()
            data = contact_to_doc(contact)
            # counters belong to sync's Maximum transforms; never overwrite them from an edit
            for name in (*_EPOCH_FIELDS, "touches"):
                data.pop(name)
            transaction.set(self.contact_ref(contact.id), data, merge=True)
            for email in set(contact.emails) - old_emails:
                transaction.set(self.email_ref(email), _email_doc(contact.id, email))
            for email in old_emails - set(contact.emails):
                transaction.delete(self.email_ref(email))

        save(transaction)
        return contact

    def record_touch(self, writer: Batch | Any, contact_id: str, rep: str | None, at: dt.datetime,
                     kind: str) -> None:
        """Raise a contact's activity counters to `at` (never lowers them; safe to repeat)."""
        epoch = at.timestamp()
        data: dict[str, Any] = {"last_activity_at": firestore.Maximum(epoch)}
        if kind == "email":
            data["last_email_at"] = firestore.Maximum(epoch)
        elif kind == "meeting":
            data["last_meeting_at"] = firestore.Maximum(epoch)
        if rep and kind in ("email", "meeting"):
            data["touches"] = {doc_id(rep): firestore.Maximum(epoch)}
        writer.set(self.contact_ref(contact_id), data, merge=True)

    # --- companies ----------------------------------------------------------------------

    def get_company(self, domain: str) -> Company | None:
        snapshot = self.company_ref(domain).get()
        return company_from_doc(snapshot) if snapshot.exists else None

    def get_companies(self, domains: Iterable[str]) -> dict[str, Company]:
        refs = [self.company_ref(d) for d in dict.fromkeys(domains)]
        return {s.id: company_from_doc(s) for s in self.get_all(refs)}

    def save_company(self, company: Company) -> Company:
        company.updated_at = utcnow()
        data = company_to_doc(company)
        data.pop("last_activity_at")
        data["contact_ids"] = data["contact_ids"][:COMPANY_CONTACT_SAMPLE]
        self.company_ref(company.id).set(data, merge=True)
        return company

    # --- activities and timelines ---------------------------------------------------------

    def get_activity(self, activity_id: str) -> Activity:
        snapshot = self.activity_ref(activity_id).get()
        if not snapshot.exists:
            raise NotFound(f"activity {activity_id}")
        return activity_from_doc(snapshot)

    def get_activities(self, activity_ids: Iterable[str]) -> dict[str, Activity]:
        refs = [self.activity_ref(aid) for aid in dict.fromkeys(activity_ids)]
        return {s.id: activity_from_doc(s) for s in self.get_all(refs)}

    def put_activity(self, writer: Batch | Any, activity: Activity) -> None:
        """Write an activity and one timeline pointer per linked contact, through `writer`."""
        writer.set(self.activity_ref(activity.id), activity_to_doc(activity))
        for contact_id in activity.contact_ids:
            writer.set(self.timeline_ref(contact_id, activity.id), _timeline_doc(activity))

    def add_activity(self, activity: Activity) -> Activity:
        """One activity written now (a note or a call from a card), with its counters."""
        with self.batch() as writer:
            self.put_activity(writer, activity)
            for contact_id in activity.contact_ids:
                self.record_touch(writer, contact_id, None, activity.at, activity.kind)
        return activity

    def delete_activity(self, writer: Batch | Any, activity: Activity) -> None:
        """Remove an activity and its timeline pointers."""
        writer.delete(self.activity_ref(activity.id))
        for contact_id in activity.contact_ids:
            writer.delete(self.timeline_ref(contact_id, activity.id))

    def timeline(self, contact_id: str, cursor: str | None = None,
                 limit: int = TIMELINE_PAGE_SIZE) -> TimelinePage:
        """A page of a contact's activities, newest first; `next_cursor` is None on the last page."""
        query = (self.contact_ref(contact_id).collection("timeline")
                 .order_by("at", direction=firestore.Query.DESCENDING)
                 .order_by(FieldPath.document_id(), direction=firestore.Query.DESCENDING))
        if cursor:
            at, activity_id = decode_cursor(cursor)
            query = query.start_after({"at": at, FieldPath.document_id(): self.timeline_ref(contact_id, activity_id)})
        snapshots = list(query.limit(limit + 1).stream())
        entries = [_timeline_entry(s) for s in snapshots[:limit]]
        activities = self.get_activities(e.activity_id for e in entries)
        next_cursor = encode_cursor(entries[-1]) if len(snapshots) > limit else None
        return TimelinePage([activities[e.activity_id] for e in entries if e.activity_id in activities], next_cursor)

    def timeline_since(self, contact_id: str, since: dt.datetime) -> list[TimelineEntry]:
        """Every timeline pointer of a contact since a time (meeting brief counts)."""
        query = self.contact_ref(contact_id).collection("timeline").where(
            filter=firestore.FieldFilter("at", ">=", since))
        return [_timeline_entry(s) for s in query.stream()]

    # --- mailboxes ----------------------------------------------------------------------

    def get_mailbox(self, email: str) -> Mailbox | None:
        snapshot = self.mailbox_ref(email).get()
        return mailbox_from_doc(snapshot) if snapshot.exists else None

    def save_mailbox(self, mailbox: Mailbox, writer: Batch | Any | None = None) -> None:
        """Write a mailbox now, or through `writer` so its cursor commits with the data it covers."""
        ref = self.mailbox_ref(mailbox.email)
        if writer is None:
            ref.set(mailbox_to_doc(mailbox))
        else:
            writer.set(ref, mailbox_to_doc(mailbox))

    def list_mailboxes(self) -> list[Mailbox]:
        return [mailbox_from_doc(s) for s in self.root.collection("mailboxes").stream()]


def _email_doc(contact_id: str, email: str) -> dict[str, str]:
    return {"contact_id": contact_id, "domain": email.rpartition("@")[2]}


def _timeline_doc(activity: Activity) -> dict[str, Any]:
    return {"at": activity.at, "kind": activity.kind, "direction": activity.direction}


def _timeline_entry(snapshot) -> TimelineEntry:
    data = snapshot.to_dict()
    return TimelineEntry(activity_id=snapshot.id, at=data["at"], kind=data["kind"], direction=data.get("direction"))
