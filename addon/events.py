"""Google's add-on event object, parsed into small dataclasses; a bad shape is a `BadEvent` (400).

Only what Sidecar uses is read. Tokens are kept out of every `repr` so an
event can never leak one into a log line, and `loggable()` strips the
authorization object before anything about a raw event is logged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

HOST_APPS = ("GMAIL", "CALENDAR", "DRIVE", "DOCS", "SHEETS", "SLIDES", "CHAT")
RETRY_INPUT_PREFIX = "input."  # an error card's Retry carries the rep's typed inputs as these parameters
MSG_F_PREFIX = "msg-f:"  # Gmail's web ids: "msg-f:<decimal>" for the API's hex id
GMAIL_ID_MAX = 2**64 - 1  # Gmail's message ids are 64-bit: 16 hex digits, or 20 decimal ones after msg-f:
MSG_F_DECIMAL = re.compile(r"[0-9]{1,20}")  # ASCII only: "²".isdigit() is True but int("²") fails
GMAIL_HEX_ID = re.compile(r"[0-9a-fA-F]{1,16}")
# Form dates Python can represent (years 1 to 9999), in ms since the epoch: a dateInput outside is forged.
MS_SINCE_EPOCH_MIN = int((dt.datetime(1, 1, 2, tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
                         .total_seconds() * 1000)
MS_SINCE_EPOCH_MAX = int((dt.datetime(9999, 12, 30, tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
                         .total_seconds() * 1000)
TIME_ZONE_OFFSET_MAX_MS = 24 * 3600 * 1000  # an offset is less than a day
NAME_SHOWN_MAX = 40  # characters of a form input's name quoted in an error
ADDRESS_MAX = 254  # RFC 5321's longest forward path: a longer attendee "address" is not one

# Ids our own cards put in action parameters, in the shapes the repository issues (models.repository):
# a contact is "c" + hex (contact_id_for, new_id("c")), a segment "s" + hex (new_id("s")), a company
# its domain. Anything else (a "/", "..", "__name__") could only be forged, and would otherwise reach
# Firestore as a path: it is a 400 here, before any handler runs.
CONTACT_ID = re.compile(r"c[0-9a-f]{1,40}")
SEGMENT_ID = re.compile(r"s[0-9a-f]{1,40}")
# \w: IDN labels in any script; %: a percent-quoted id (models.repository.doc_id); never "/" nor ".."
DOMAIN = re.compile(r"(?=.{1,253}\Z)[\w%-]+(?:\.[\w%-]+)+")
PAGE = re.compile(r"[1-9][0-9]{0,5}")
ID_PARAMETERS = {"contact_id": CONTACT_ID, "keep_id": CONTACT_ID, "merge_id": CONTACT_ID,
                 "segment_id": SEGMENT_ID, "domain": DOMAIN, "page": PAGE}


class BadEvent(ValueError):
    """The request body is not a usable add-on event; the message says which part is wrong."""


@dataclasses.dataclass(frozen=True)
class Attendee:
    email: str
    name: str = ""
    organizer: bool = False
    is_self: bool = False
    resource: bool = False


@dataclasses.dataclass(frozen=True)
class GmailContext:
    message_id: str  # the API's hex form, whatever form the event used
    thread_id: str | None = None
    access_token: str | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass(frozen=True)
class CalendarContext:
    calendar_id: str
    event_id: str
    recurring_event_id: str | None = None
    organizer: str | None = None
    attendees: tuple[Attendee, ...] | None = None  # None: the event did not carry them


@dataclasses.dataclass(frozen=True)
class Event:
    """One add-on event, as Sidecar reads it."""

    host_app: str
    platform: str | None = None
    locale: str | None = None
    time_zone: dt.tzinfo = dt.UTC
    string_inputs: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    date_inputs: dict[str, int] = dataclasses.field(default_factory=dict)  # ms since epoch
    parameters: dict[str, str] = dataclasses.field(default_factory=dict)
    gmail: GmailContext | None = None
    calendar: CalendarContext | None = None
    user_oauth_token: str | None = dataclasses.field(default=None, repr=False)

    def input(self, name: str) -> str | None:
        values = self.string_inputs.get(name)
        return values[0] if values else None

    def inputs(self, name: str) -> list[str]:
        return list(self.string_inputs.get(name, []))

    def parameter(self, name: str) -> str:
        """A required action parameter; our own cards always send it, so its absence is a bad request."""
        value = self.parameters.get(name)
        if not value:
            raise BadEvent(f"missing parameter {name!r}")
        return value


def loggable(body: Any) -> Any:
    """The event without its authorization object, for any log line that mentions an event."""
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k != "authorizationEventObject"}
    return body


def user_id_token(body: dict) -> object:
    auth = body.get("authorizationEventObject")
    return auth.get("userIdToken") if isinstance(auth, dict) else None


def parse(body: Any) -> Event:
    if not isinstance(body, dict):
        raise BadEvent("the request body must be a JSON object")
    _check_unicode(body)
    common = _object(body, "commonEventObject")
    host_app = common.get("hostApp")
    if host_app not in HOST_APPS:
        raise BadEvent("commonEventObject.hostApp is missing or unknown")
    auth = body.get("authorizationEventObject") or {}
    parameters = _parameters(common.get("parameters"))
    string_inputs = _string_inputs(common.get("formInputs"))
    for name, value in parameters.items():
        if name.startswith(RETRY_INPUT_PREFIX):
            string_inputs.setdefault(name[len(RETRY_INPUT_PREFIX):], [value])
    return Event(
        host_app=host_app,
        platform=_optional_str(common, "platform"),
        locale=_optional_str(common, "userLocale"),
        time_zone=_time_zone(common.get("timeZone")),
        string_inputs=string_inputs,
        date_inputs=_date_inputs(common.get("formInputs")),
        parameters=parameters,
        gmail=_gmail(body.get("gmail")) if body.get("gmail") is not None else None,
        calendar=_calendar(body.get("calendar")) if body.get("calendar") is not None else None,
        user_oauth_token=auth.get("userOAuthToken") if isinstance(auth, dict) else None,
    )


def _check_unicode(body: dict) -> None:
    """JSON may escape half a surrogate pair ("\\ud800"); such text cannot be stored, shown or logged as UTF-8."""
    pending: list[Any] = [body]
    while pending:  # a loop, not recursion: the parser already bounded the depth, this keeps it cheap
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadEvent("the event holds text that is not valid Unicode") from None


def gmail_message_id(raw: str) -> str:
    """`msg-f:1790000000000000000` (Gmail web) or the API's hex id -> the API's hex id."""
    raw = raw.strip()
    if raw.startswith(MSG_F_PREFIX):
        decimal = raw[len(MSG_F_PREFIX):]
        if not MSG_F_DECIMAL.fullmatch(decimal) or int(decimal) > GMAIL_ID_MAX:
            raise BadEvent("gmail.messageId is not a valid msg-f id")
        return format(int(decimal), "x")
    if not GMAIL_HEX_ID.fullmatch(raw):
        raise BadEvent("gmail.messageId is not a Gmail message id")
    return raw.lower()


def _object(body: dict, name: str) -> dict:
    value = body.get(name)
    if not isinstance(value, dict):
        raise BadEvent(f"{name} is missing or not an object")
    return value


def _optional_str(data: dict, name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def _time_zone(value: Any) -> dt.tzinfo:
    """`{"id": "Europe/Paris", "offset": 3600000}`; the offset (ms) is enough to show local times."""
    if not isinstance(value, dict):
        return dt.UTC
    try:
        offset_ms = int(value.get("offset", 0))  # 1e999 parses as inf: OverflowError
    except (TypeError, ValueError, OverflowError):
        raise BadEvent("commonEventObject.timeZone.offset is not a number") from None
    if abs(offset_ms) >= TIME_ZONE_OFFSET_MAX_MS:
        raise BadEvent("commonEventObject.timeZone.offset is out of range")
    return dt.timezone(dt.timedelta(milliseconds=offset_ms)) if offset_ms else dt.UTC


def _string_inputs(form_inputs: Any) -> dict[str, list[str]]:
    if form_inputs is None:
        return {}
    if not isinstance(form_inputs, dict):
        raise BadEvent("commonEventObject.formInputs is not an object")
    result = {}
    for name, value in form_inputs.items():
        strings = value.get("stringInputs") if isinstance(value, dict) else None
        if strings is None:
            continue
        values = strings.get("value") if isinstance(strings, dict) else None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise BadEvent(f"formInputs[{_shown(name)}].stringInputs.value must be a list of strings")
        result[name] = values
    return result


def _date_inputs(form_inputs: Any) -> dict[str, int]:
    result = {}
    for name, value in (form_inputs or {}).items():
        if not isinstance(value, dict):
            continue
        date = value.get("dateInput") or value.get("dateTimeInput")
        if date is None:
            continue
        try:
            ms = int(date["msSinceEpoch"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise BadEvent(f"formInputs[{_shown(name)}] has no valid msSinceEpoch") from None
        if not MS_SINCE_EPOCH_MIN <= ms <= MS_SINCE_EPOCH_MAX:
            raise BadEvent(f"formInputs[{_shown(name)}].msSinceEpoch is out of range")
        result[name] = ms
    return result


def _parameters(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise BadEvent("commonEventObject.parameters must map names to strings")
    for name, shape in ID_PARAMETERS.items():
        if name in value and not shape.fullmatch(value[name]):
            raise BadEvent(f"parameter {name!r} is not a valid {name.replace('_', ' ')}")
    return dict(value)


def _gmail(value: Any) -> GmailContext:
    if not isinstance(value, dict) or not isinstance(value.get("messageId"), str):
        raise BadEvent("gmail.messageId is missing")
    return GmailContext(message_id=gmail_message_id(value["messageId"]),
                        thread_id=_optional_str(value, "threadId"),
                        access_token=_optional_str(value, "accessToken"))


def _calendar(value: Any) -> CalendarContext:
    if not isinstance(value, dict):
        raise BadEvent("calendar is not an object")
    event_id = _optional_str(value, "id")
    if event_id is None:
        raise BadEvent("calendar.id is missing")
    attendees = value.get("attendees")
    parsed = None
    if attendees is not None:
        if not isinstance(attendees, list):
            raise BadEvent("calendar.attendees is not a list")
        parsed = tuple(_attendee(a) for a in attendees if isinstance(a, dict) and _is_address(a.get("email")))
    organizer = value.get("organizer")
    return CalendarContext(
        calendar_id=_optional_str(value, "calendarId") or "primary",
        event_id=event_id,
        recurring_event_id=_optional_str(value, "recurringEventId"),
        organizer=organizer.get("email") if isinstance(organizer, dict) else None,
        attendees=parsed,
    )


def _attendee(value: dict) -> Attendee:
    return Attendee(email=value["email"], name=str(value.get("displayName") or ""),
                    organizer=bool(value.get("organizer")), is_self=bool(value.get("self")),
                    resource=bool(value.get("resource")))


def _shown(name: str) -> str:
    """An input's name as a message quotes it: escaped (no newline reaches a log line) and short."""
    return repr(name[:NAME_SHOWN_MAX])


def _is_address(value: Any) -> bool:
    """Enough of an address to look up: a string with an @, no longer than any address can be."""
    return isinstance(value, str) and "@" in value and len(value) <= ADDRESS_MAX
