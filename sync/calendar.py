"""Calendar sync for one mailbox (SPEC §7): the primary calendar, full list then syncToken.

Full: `events.list(singleEvents=true, timeMin=backfill)` over every page,
keeping the last page's `nextSyncToken`. Incremental: the same list with the
token; `410` means a full resync (which also drops this mailbox from meetings
it no longer has). Each occurrence is one activity keyed by iCalUID and start
(UTC), so the meeting in several reps' calendars is one activity held by each.
A cancelled event or occurrence releases this mailbox's hold; a moved one
releases the old occurrence's activity.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from googleapiclient.errors import HttpError

from models.addresses import is_valid_email, normalize_email
from models.domain import Activity, ActivityKind, Mailbox, Participant, utcnow
from models.repository import activity_id_for
from sync.api import MailboxApi, status_of
from sync.linking import Item
from sync.writer import SyncWriter

# Calendar's `visibility`: "private" and "confidential" events are kept to "a meeting" and its time
PRIVATE_VISIBILITY = ("private", "confidential")

log = logging.getLogger(__name__)

EVENTS_PAGE_MAX = 2500  # events.list maxResults maximum


def event_start(event: dict) -> tuple[dt.datetime, str] | None:
    """(start instant, its normalised text for the key): UTC ISO for timed events, the date for all-day ones."""
    start = event.get("start") or {}
    if start.get("dateTime"):
        at = dt.datetime.fromisoformat(start["dateTime"].replace("Z", "+00:00")).astimezone(dt.UTC)
        return at, at.isoformat()
    if start.get("date"):
        day = dt.date.fromisoformat(start["date"])
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC), day.isoformat()
    return None


def event_end(event: dict) -> dt.datetime | None:
    end = event.get("end") or {}
    if end.get("dateTime"):
        return dt.datetime.fromisoformat(end["dateTime"].replace("Z", "+00:00")).astimezone(dt.UTC)
    if end.get("date"):
        day = dt.date.fromisoformat(end["date"])
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return None


def meeting_key(event: dict) -> str | None:
    start = event_start(event)
    if not event.get("iCalUID") or start is None:
        return None
    return f"{event['iCalUID']}|{start[1]}"


def parse_event(event: dict) -> Item | None:
    """A confirmed or tentative occurrence as an Item (None when it lacks what a meeting needs)."""
    key, start = meeting_key(event), event_start(event)
    if key is None or start is None:
        return None
    participants: list[Participant] = []
    seen = set()
    declined = set()
    organizer = event.get("organizer") or {}
    attendees = [a for a in event.get("attendees") or () if not a.get("resource")]  # rooms are not people
    people = [(organizer, "organizer")] + [(a, "attendee") for a in attendees]
    written = tuple(str(person.get("email")) for person, _ in people if person.get("email"))  # for exclusions
    for person, role in people:
        address = normalize_email(person.get("email") or "")
        if not is_valid_email(address) or address in seen:
            continue
        seen.add(address)
        participants.append(Participant(email=address, name=(person.get("displayName") or "").strip(), role=role))
        if person.get("responseStatus") == "declined":
            declined.add(address)
    private = event.get("visibility") in PRIVATE_VISIBILITY
    if private:  # its title and who came are the rep's alone: neither is stored (models.rep_privacy)
        participants = [dataclasses.replace(p, name="") for p in participants]
    return Item(external_key=key, activity_id=activity_id_for(key), kind=ActivityKind.MEETING, held_id=event["id"],
                at=start[0], end_at=event_end(event), subject="" if private else (event.get("summary") or "").strip(),
                participants=participants, declined=frozenset(declined), address_text=written, private=private)


class CalendarSync:
    def __init__(self, api: MailboxApi, writer: SyncWriter, backfill_days: int):
        self.api = api
        self.writer = writer
        self.backfill_days = backfill_days
        self.events = 0

    def run(self, mailbox: Mailbox) -> str | None:
        """Sync, and return the sync token the caller may store once the writes are committed."""
        if mailbox.sync_token:
            try:
                return self._sync(sync_token=mailbox.sync_token)
            except HttpError as exc:
                if status_of(exc) != 410:
                    raise
                log.info("sync token invalidated mailbox=%s state=resync", mailbox.email)
                return self._sync(resync=True)
        return self._sync()

    def _sync(self, sync_token: str | None = None, resync: bool = False) -> str | None:
        since = utcnow() - dt.timedelta(days=self.backfill_days)
        params = {"calendarId": "primary", "singleEvents": True, "maxResults": EVENTS_PAGE_MAX}
        if sync_token:
            params["syncToken"] = sync_token
        else:
            params["timeMin"] = since.isoformat()
        items: list[Item] = []
        cancelled: list[dict] = []
        page_token, next_sync_token = None, None
        while True:
            response = self.api.call(self.api.events.list(**params, pageToken=page_token))
            for event in response.get("items") or ():
                item = parse_event(event) if event.get("status") != "cancelled" else None
                if item is not None:
                    items.append(item)
                elif event.get("status") == "cancelled" or event.get("id"):
                    cancelled.append(event)
            page_token = response.get("nextPageToken")
            if not page_token:
                next_sync_token = response.get("nextSyncToken")
                break
        if sync_token:
            self._release_moved(items)
        self.writer.store(items)
        self.events += len(items)
        self._release_cancelled(cancelled)
        if resync:
            listed = {item.held_id for item in items}
            held = self.writer.repo.activities_held_by(self.api.mailbox)
            self.writer.release([a for a in held if a.kind == ActivityKind.MEETING and a.at >= since
                                 and a.holders.get(self.api.mailbox) not in listed])
        self.writer.drain()  # the token covers these writes: they land before it is handed back
        return next_sync_token

    def _release_cancelled(self, events: list[dict]) -> None:
        """Cancelled occurrences may carry only an id (Google sends little for them): found by holder."""
        if events:
            self.writer.release_held([e["id"] for e in events if e.get("id")], ActivityKind.MEETING)

    def _release_moved(self, items: list[Item]) -> None:
        """An occurrence whose start changed is a new activity; the old one loses this holder."""
        if not items:
            return
        current = {item.held_id: item.activity_id for item in items}
        found = self.writer.repo.activities_held_by(self.api.mailbox, list(current))
        moved: list[Activity] = [a for a in found if a.kind == ActivityKind.MEETING
                                 and current.get(a.holders.get(self.api.mailbox)) not in (None, a.id)]
        self.writer.release(moved)
