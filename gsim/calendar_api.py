"""Calendar v3 ``events.list`` and ``events.get`` for a rep's primary calendar.

Sync semantics follow Google's guide: a full list pages with ``nextPageToken``
and only the last page carries ``nextSyncToken``; a list with ``syncToken``
returns everything changed since (cancelled events and occurrences included,
whatever ``showDeleted`` says); an invalidated or unreadable token answers 410
``fullSyncRequired``; and the restrictions Google refuses next to a sync token
answer 400. Recurring series expand into instances with ``singleEvents=true``
(ids ``<series>_<UTC start>``, ``recurringEventId``, ``originalStartTime``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

from . import errors
from .world import UTC, Calendar, Event, as_datetime

EVENTS_LIST_DEFAULT = 250  # events.list maxResults default
EVENTS_LIST_MAX = 2500  # events.list maxResults maximum
# Google: "parameters that cannot be specified together with nextSyncToken".
SYNC_TOKEN_EXCLUSIVE = ("iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty",
                        "timeMin", "timeMax", "updatedMin")  # fmt: skip
CALENDAR_TIME_ZONE = "UTC"
DEFAULT_REMINDERS = [{"method": "popup", "minutes": 10}]


def full_sync_required() -> errors.ApiError:
    return errors.ApiError(
        410, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired", domain="calendar",
        with_status=False,
    )  # fmt: skip


def calendar_bad_request(message: str = "Bad Request", reason: str = "badRequest") -> errors.ApiError:
    return errors.ApiError(400, message, reason, with_status=False)


def rfc3339(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _time_field(value: dt.datetime | dt.date) -> dict:
    if isinstance(value, dt.datetime):
        return {"dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "timeZone": CALENDAR_TIME_ZONE}
    return {"date": value.isoformat()}


def _parse_time(name: str, raw: str | None) -> dt.datetime | None:
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise calendar_bad_request() from None
    if value.tzinfo is None or "T" not in raw:
        raise calendar_bad_request()
    return value


def _encode(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def etag(event: Event) -> str:
    return '"' + str(int(event.updated.timestamp() * 1000) * 1000 + event.sequence) + '"'


def render_event(event: Event, owner: str, instance_start=None, cancelled_instance=False) -> dict:
    """An event (or one occurrence) as ``owner``'s calendar shows it."""
    if cancelled_instance:
        return {
            "kind": "calendar#event",
            "etag": etag(event),
            "id": event.instance_id(instance_start),
            "status": "cancelled",
            "recurringEventId": event.id,
            "originalStartTime": _time_field(instance_start),
        }
    start, end = event.start, event.end
    if instance_start is not None:
        end = instance_start + (event.end - event.start)
        start = instance_start
    event_id = event.instance_id(start) if instance_start is not None else event.id
    eid = base64.urlsafe_b64encode(f"{event_id} {owner}".encode()).decode().rstrip("=")
    organizer = {"email": event.organizer.email}
    if event.organizer.display_name:
        organizer["displayName"] = event.organizer.display_name
    if event.organizer.email.lower() == owner:
        organizer["self"] = True
    body = {
        "kind": "calendar#event",
        "etag": etag(event),
        "id": event_id,
        "status": event.status,
        "htmlLink": "https://www.google.com/calendar/event?eid=" + eid,
        "created": rfc3339(event.created),
        "updated": rfc3339(event.updated),
        "summary": event.summary,
    }
    if event.description:
        body["description"] = event.description
    if event.location:
        body["location"] = event.location
    if event.visibility != "default":  # Google leaves the default out
        body["visibility"] = event.visibility
    creator = {"email": event.organizer.email}
    if event.organizer.email.lower() == owner:
        creator["self"] = True
    body.update(creator=creator, organizer=organizer, start=_time_field(start), end=_time_field(end))
    if event.recurrence and instance_start is None:
        body["recurrence"] = list(event.recurrence)
    if instance_start is not None:
        body["recurringEventId"] = event.id
        body["originalStartTime"] = _time_field(instance_start)
    body["iCalUID"] = event.ical_uid
    body["sequence"] = event.sequence
    attendees = []
    for attendee in event.attendees:
        item = {"email": attendee.email}
        if attendee.display_name:
            item["displayName"] = attendee.display_name
        if attendee.email.lower() == event.organizer.email.lower():
            item["organizer"] = True
        if attendee.email.lower() == owner:
            item["self"] = True
        item["responseStatus"] = attendee.response_status
        attendees.append(item)
    if attendees:
        body["attendees"] = attendees
    body.update(reminders={"useDefault": True}, eventType="default")
    return body


def _overlaps(start, end, time_min, time_max) -> bool:
    """Google: timeMin bounds an event's end, timeMax its start (both exclusive)."""
    if time_min is not None and as_datetime(end) <= time_min:
        return False
    if time_max is not None and as_datetime(start) >= time_max:
        return False
    return True


def _expand(event: Event, owner: str, single: bool, want_cancelled: bool, window=(None, None)):
    """Yield (sort start, rendered item) for one event under the list's options."""
    if not event.recurrence or not single:
        if event.status == "cancelled" and not want_cancelled:
            return
        starts = event.instance_starts()
        last_end = starts[-1] + (event.end - event.start)
        if _overlaps(event.start, last_end, *window):
            yield event.start, render_event(event, owner)
        if event.recurrence and want_cancelled:  # the cancelled exceptions of a series
            for start in starts:
                if event.instance_id(start) in event.cancelled_instances and _overlaps(start, start, *window):
                    yield start, render_event(event, owner, start, cancelled_instance=True)
        return
    for start in event.instance_starts():
        cancelled = event.status == "cancelled" or event.instance_id(start) in event.cancelled_instances
        if cancelled and not want_cancelled:
            continue
        if not _overlaps(start, start + (event.end - event.start), *window):
            continue
        yield start, render_event(event, owner, start, cancelled_instance=cancelled)


def list_events(call) -> dict:
    params, world = call.params, call.world
    calendar: Calendar = call.calendar
    owner = calendar.owner
    single = params.bool("singleEvents")
    show_deleted = params.bool("showDeleted")
    max_results = params.int("maxResults", EVENTS_LIST_DEFAULT, EVENTS_LIST_MAX) or EVENTS_LIST_DEFAULT
    sync_token = params.str("syncToken")
    order_by = params.str("orderBy")
    if order_by == "startTime" and not single:
        raise calendar_bad_request("The requested ordering is not available for the particular query.")
    page_token = params.str("pageToken")
    with world.lock:
        if sync_token is not None:
            for name in SYNC_TOKEN_EXCLUSIVE:
                if params.str(name) is not None:
                    raise calendar_bad_request(f"Sync token cannot be used with the {name} parameter.", "invalid")
            try:
                since = _decode(sync_token)
                valid = since["c"] == owner and since["e"] == calendar.epoch and since["s"] <= calendar.seq
            except (ValueError, KeyError, TypeError):
                valid = False
            if not valid:
                raise full_sync_required()
        state = _page_state(page_token, calendar)
        snapshot = state.get("s", calendar.seq)
        if sync_token is not None:
            items = _changed_items(world, calendar, since["s"], snapshot, single)
        else:
            window = (_parse_time("timeMin", params.str("timeMin")), _parse_time("timeMax", params.str("timeMax")))
            if window[0] and window[1] and window[1] <= window[0]:
                raise calendar_bad_request("The specified time range is empty.", "timeRangeEmpty")
            updated_min = _parse_time("updatedMin", params.str("updatedMin"))
            items = []
            for event_id in calendar.event_ids:
                event = world.events[event_id]
                if updated_min and event.updated < updated_min:
                    continue
                for start, item in _expand(event, owner, single, show_deleted, window):
                    items.append(((as_datetime(start).isoformat(), item["id"]), item))
        items.sort(key=lambda pair: pair[0])
        if "k" in state:
            last = tuple(state["k"])
            items = [pair for pair in items if tuple(pair[0]) > last]
        page = items[:max_results]
        body = {
            "kind": "calendar#events",
            "etag": f'"p{snapshot:x}{calendar.epoch:x}"',
            "summary": owner,
            "updated": rfc3339(max((world.events[e].updated for e in calendar.event_ids), default=world.now)),
            "timeZone": CALENDAR_TIME_ZONE,
            "accessRole": "owner",
            "defaultReminders": DEFAULT_REMINDERS,
        }
        if len(items) > max_results:
            body["nextPageToken"] = _encode({"s": snapshot, "k": list(page[-1][0])})
        else:
            body["nextSyncToken"] = _encode({"c": owner, "s": snapshot, "e": calendar.epoch})
        body["items"] = [item for _, item in page]
    return body


def _page_state(token: str | None, calendar: Calendar) -> dict:
    if token is None:
        return {}
    try:
        state = _decode(token)
        if not isinstance(state, dict) or state.get("s", 0) > calendar.seq:
            raise ValueError(token)
        return state
    except (ValueError, TypeError):
        raise calendar_bad_request("Invalid page token value.", "invalid") from None


def _changed_items(world, calendar: Calendar, since: int, snapshot: int, single: bool) -> list:
    """Everything whose change sequence lies in (since, snapshot], cancelled included."""
    items, seen = [], set()
    for key, seq in calendar.changes.items():
        if not since < seq <= snapshot:
            continue
        event_id, _, _ = key.partition("_")
        event = world.events.get(event_id)
        if event is None or calendar.owner not in event.participants():
            continue
        if key == event_id:
            rendered = _expand(event, calendar.owner, single, want_cancelled=True)
        else:
            start = next(s for s in event.instance_starts() if event.instance_id(s) == key)
            cancelled = key in event.cancelled_instances or event.status == "cancelled"
            if single:
                rendered = [(start, render_event(event, calendar.owner, start, cancelled_instance=cancelled))]
            else:
                rendered = [(start, render_event(event, calendar.owner, start, cancelled_instance=True))]
        for _, item in rendered:
            if item["id"] not in seen:
                seen.add(item["id"])
                items.append(((seq, item["id"]), item))
    return items


def get_event(call) -> dict:
    event_id = call.path["eventId"]
    base, _, _ = event_id.partition("_")
    calendar: Calendar = call.calendar
    event = call.world.events.get(base)
    if event is None or base not in calendar.event_ids:
        raise errors.calendar_not_found()
    if base == event_id:
        return render_event(event, calendar.owner)
    for start in event.instance_starts():
        if event.instance_id(start) == event_id:
            cancelled = event_id in event.cancelled_instances or event.status == "cancelled"
            return render_event(event, calendar.owner, start, cancelled_instance=cancelled)
    raise errors.calendar_not_found()


CHANNEL_LIFETIME_MS = 7 * 24 * 3600 * 1000  # the lifetime a channel gets when it asks for none (or more)


def watch_events(call) -> dict:
    """events.watch: a web-hook channel on the caller's calendar (`gsim.push`)."""
    body = call.json or {}
    if body.get("type") not in ("web_hook", "webhook") or not body.get("id") or not body.get("address"):
        raise calendar_bad_request("A channel needs an id, type web_hook and an address.", "required")
    now_ms = int(time.time() * 1000)
    expiration = min(int(body.get("expiration") or now_ms + CHANNEL_LIFETIME_MS), now_ms + CHANNEL_LIFETIME_MS)
    if call.world.push is None:
        raise calendar_bad_request("Push notifications are not enabled on this simulator.", "pushNotSupported")
    channel = call.world.push.watch_calendar(call.calendar.owner, body["id"], body["address"], body.get("token"),
                                             expiration)
    return {"kind": "api#channel", "id": channel.id, "resourceId": channel.resource_id,
            "resourceUri": channel.resource_uri, "token": channel.token, "expiration": str(expiration)}


def stop_channel(call) -> None:
    body = call.json or {}
    if call.world.push is None or not call.world.push.stop_channel(body.get("id", ""), body.get("resourceId")):
        raise errors.calendar_not_found()
    return None


HANDLERS = {
    "calendar.events.list": list_events,
    "calendar.events.get": get_event,
    "calendar.events.watch": watch_events,
    "calendar.channels.stop": stop_channel,
}
