"""The add-on's own Gmail and Calendar reads, made as the rep with the event's tokens.

Used only when Firestore does not have what the card needs yet (sync has not
seen the message or event): Gmail with `userOAuthToken` plus the per-message
`X-Goog-Gmail-Access-Token` (scope gmail.addons.current.message.metadata),
Calendar with `userOAuthToken` (calendar.addons.current.event.read). Clients
come from `google_clients` (as sync's do) so every call goes to SIDECAR_GOOGLE_API_ROOT.
"""

from __future__ import annotations

import httplib2
from google.auth.exceptions import GoogleAuthError
from googleapiclient.errors import HttpError

from addon.events import Attendee
from google_clients import build_service, user_token_http
from models.addresses import named_addresses, parse_address_list
from models.domain import Participant

GMAIL_ACCESS_TOKEN_HEADER = "X-Goog-Gmail-Access-Token"
MESSAGE_HEADERS = ("From", "To", "Cc", "Subject")  # all the card needs of the open message
API_TIMEOUT_SECONDS = 10  # leaves room in Google's ~30 s budget for Firestore and the card
API_RETRIES = 1


class ApiUnavailable(Exception):
    """Gmail or Calendar could not answer (no token, refused, unreachable); the card offers a retry."""


def _service(api: str, version: str, oauth_token: str | None, api_root: str):
    if not oauth_token:
        raise ApiUnavailable("the event carries no user OAuth token")
    return build_service(api, version, None, api_root, http=user_token_http(oauth_token, API_TIMEOUT_SECONDS))


def message_people(api_root: str, oauth_token: str | None, gmail_access_token: str | None,
                   message_id: str) -> tuple[list[Participant], str, list[str]]:
    """(participants, subject, every address named) of the open message, from its metadata headers.

    The third is every address in From, To and Cc as written, the ones parsing
    dropped too: exclusions are checked against all of them (SPEC §9).
    """
    if not gmail_access_token:
        raise ApiUnavailable("the event carries no Gmail access token")
    service = _service("gmail", "v1", oauth_token, api_root)
    request = service.users().messages().get(userId="me", id=message_id, format="metadata",
                                             metadataHeaders=list(MESSAGE_HEADERS))
    request.headers[GMAIL_ACCESS_TOKEN_HEADER] = gmail_access_token
    try:
        message = request.execute(num_retries=API_RETRIES)
    except (HttpError, GoogleAuthError, httplib2.HttpLib2Error, OSError) as exc:
        raise ApiUnavailable(f"Gmail: {_status(exc)}") from None
    headers: dict[str, str] = {}
    for header in (message.get("payload") or {}).get("headers") or []:
        headers.setdefault(str(header.get("name", "")).lower(), str(header.get("value", "")))
    people = []
    for role in ("from", "to", "cc"):
        people += [Participant(email=email, name=name, role=role)
                   for name, email in parse_address_list(headers.get(role, ""))]
    named = [address for role in ("from", "to", "cc") for address in named_addresses(headers.get(role, ""))]
    return people, headers.get("subject", ""), named


def event_attendees(api_root: str, oauth_token: str | None, calendar_id: str, event_id: str) -> list[Attendee]:
    service = _service("calendar", "v3", oauth_token, api_root)
    try:
        event = service.events().get(calendarId=calendar_id, eventId=event_id).execute(num_retries=API_RETRIES)
    except (HttpError, GoogleAuthError, httplib2.HttpLib2Error, OSError) as exc:
        raise ApiUnavailable(f"Calendar: {_status(exc)}") from None
    return [Attendee(email=a["email"], name=a.get("displayName", ""), organizer=bool(a.get("organizer")),
                     is_self=bool(a.get("self")), resource=bool(a.get("resource")))
            for a in event.get("attendees") or [] if a.get("email")]


def _status(exc: Exception) -> str:
    status = getattr(getattr(exc, "resp", None), "status", None)
    return f"HTTP {status}" if status else type(exc).__name__
