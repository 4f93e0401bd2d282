"""The card preview: a mail-client page that plays Gmail's and Calendar's part towards the add-on.

Served only in demo mode (`init_app` refuses otherwise; `demo.wsgi` is the only
caller). The page lists the chosen rep's messages and events, read from the
simulator through the real Gmail and Calendar APIs with that rep's delegated
token. Opening one makes this module build the event Google would POST (the
shapes of Google's add-on event reference: `commonEventObject`,
`authorizationEventObject`, `gmail` or `calendar`), sign its tokens with the
simulator's ID-token issuer, and POST it to the backend's own URL with the
system ID token in `Authorization`, exactly as Google would. The backend's answer
goes back to the page unchanged, with the event that was sent (tokens masked).

Gmail's web client sends message and thread ids as `msg-f:<decimal>` and
`thread-f:<decimal>`; the preview does the same, so that form is what the demo
exercises.

"Deliver a new email" (`/demo/api/deliver`) has the simulator deliver a message
from an external contact to the rep, through its admin API (`POST
/_sim/messages`), as mail arriving at Gmail would: the mailbox's history moves,
its Gmail watch publishes a notification to Pub/Sub, a worker syncs the mailbox,
and the page refreshes the open card until the message is on it. Nothing here
writes to Firestore: what the card shows is what sync stored.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import urllib.parse
import zoneinfo
from email.utils import formataddr, getaddresses, parsedate_to_datetime
from pathlib import Path

import google.auth.transport.requests
import requests
from flask import Blueprint, Flask, abort, current_app, jsonify, request, send_from_directory
from googleapiclient.errors import HttpError

from google_clients import build_service, delegated_credentials, new_batch

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
PREVIEW_SCOPES = (  # what the add-on's manifest asks of the rep (deployment.json)
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/calendar.readonly",
)
MESSAGE_HEADERS = ("From", "To", "Cc", "Subject", "Date")
MESSAGES_SHOWN = 60  # one screen of a mail client
EVENTS_SHOWN = 80
EVENTS_PAST_DAYS = 60
EVENTS_AHEAD_DAYS = 30
BACKEND_TIMEOUT_SECONDS = 30
SIM_TIMEOUT_SECONDS = 10
DEMO_TIME_ZONE = "America/Los_Angeles"
DEMO_LOCALE = "en"
TRIGGER_PATHS = {"homepage": "/addon/homepage", "gmail": "/addon/gmail/message", "calendar": "/addon/calendar/event"}
MASK = "<signed by the simulator>"
DELIVERED_SUBJECT = "Quick question about your proposal"  # + the time, so each delivery is told apart on the card
DELIVERED_BODY = "Hi, could we go over the pricing tiers on a call this week? Thanks!"
ADDRESS_MAX = 254  # RFC 5321: the longest address a path holds

bp = Blueprint("demo_preview", __name__, url_prefix="/demo")


class PreviewError(Exception):
    """A request the page made cannot be served; answered as JSON with a status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def init_app(app: Flask) -> None:
    """Register the preview; only ever in demo mode, whatever the caller."""
    config = app.extensions["sidecar"].config
    if not config.demo:
        raise RuntimeError("the card preview is served in demo mode only (SIDECAR_DEMO=1)")
    config.require_web()
    if not config.google_application_credentials or not config.users:
        raise RuntimeError("the preview needs GOOGLE_APPLICATION_CREDENTIALS and SIDECAR_USERS "
                           "(python -m demo sets them)")
    app.extensions["sidecar_preview"] = Workspace(config)
    app.register_blueprint(bp)


def workspace() -> Workspace:
    return current_app.extensions["sidecar_preview"]


class Workspace:
    """The simulated Google side: the reps' mail and calendars, their tokens, and event signing."""

    def __init__(self, config):
        self.config = config
        self.api_root = config.google_api_root
        self.reps = list(config.users)
        self._credentials = {}
        self._lock = threading.Lock()
        self._http = requests.Session()

    def rep(self, email: str | None) -> str:
        email = (email or self.reps[0]).strip().lower()
        if email not in self.reps:
            raise PreviewError(f"{email} is not one of the demo's reps")
        return email

    # -- tokens ------------------------------------------------------------------------
    def access_token(self, rep: str) -> str:
        """The rep's OAuth access token, from the simulator's token endpoint (domain-wide delegation)."""
        with self._lock:
            credentials = self._credentials.get(rep)
            if credentials is None:
                credentials = delegated_credentials(self.config.google_application_credentials, rep, PREVIEW_SCOPES)
                self._credentials[rep] = credentials
            if not credentials.valid:
                credentials.refresh(google.auth.transport.requests.Request())
            return credentials.token

    def id_token(self, audience: str, email: str | None = None, hd: str | None = None) -> str:
        """An ID token from the simulator's issuer; no email makes it the add-on's system token."""
        body = {"audience": audience}
        if email:
            body.update(email=email, hd=hd)
        response = self._http.post(self.api_root + "_sim/id-token", json=body, timeout=SIM_TIMEOUT_SECONDS)
        response.raise_for_status()
        return response.json()["token"]

    # -- the mailbox ------------------------------------------------------------------
    def _service(self, rep: str, api: str, version: str):
        credentials = delegated_credentials(self.config.google_application_credentials, rep, PREVIEW_SCOPES)
        return build_service(api, version, credentials, self.api_root)

    def messages(self, rep: str, query: str | None) -> list[dict]:
        gmail = self._service(rep, "gmail", "v1")
        listing = gmail.users().messages().list(userId="me", maxResults=MESSAGES_SHOWN, q=query or None).execute()
        found: dict[str, dict] = {}

        def keep(request_id, response, exception):
            if exception is None:
                found[response["id"]] = response

        batch = new_batch("gmail", self.api_root, callback=keep)
        for item in listing.get("messages", []):
            batch.add(gmail.users().messages().get(userId="me", id=item["id"], format="metadata",
                                                   metadataHeaders=list(MESSAGE_HEADERS)))
        if listing.get("messages"):
            batch.execute()
        return [summarise_message(found[item["id"]]) for item in listing.get("messages", []) if item["id"] in found]

    def message(self, rep: str, message_id: str) -> dict:
        gmail = self._service(rep, "gmail", "v1")
        return gmail.users().messages().get(userId="me", id=message_id, format="metadata",
                                            metadataHeaders=list(MESSAGE_HEADERS)).execute()

    def events(self, rep: str) -> list[dict]:
        calendar = self._service(rep, "calendar", "v3")
        now = dt.datetime.now(dt.UTC)
        listing = calendar.events().list(
            calendarId="primary", singleEvents=True, orderBy="startTime", maxResults=2500,
            timeMin=(now - dt.timedelta(days=EVENTS_PAST_DAYS)).isoformat(),
            timeMax=(now + dt.timedelta(days=EVENTS_AHEAD_DAYS)).isoformat()).execute()
        items = [summarise_event(item) for item in listing.get("items", []) if item.get("status") != "cancelled"]
        items.reverse()  # newest first, like the message list
        return items[:EVENTS_SHOWN]

    def event(self, rep: str, event_id: str) -> dict:
        calendar = self._service(rep, "calendar", "v3")
        return calendar.events().get(calendarId="primary", eventId=event_id).execute()

    def deliver(self, rep: str, sender: str, name: str) -> dict:
        """Have the simulator deliver a new email from `sender` to the rep now (module doc); what it made."""
        at = dt.datetime.now(dt.UTC)
        subject = f"{DELIVERED_SUBJECT} ({at:%H:%M:%S})"
        response = self._http.post(self.api_root + "_sim/messages", timeout=SIM_TIMEOUT_SECONDS, json={
            "mailbox": rep, "sender": formataddr((name, sender)), "to": [rep], "subject": subject,
            "body": DELIVERED_BODY})
        response.raise_for_status()
        made = response.json()
        log.info("preview delivered rep=%s message=%s", rep, made["id"])
        return {"id": made["id"], "threadId": made["threadId"], "subject": subject, "from": sender,
                "deliveredAt": at.isoformat()}

    def external(self, address: str) -> str:
        """`address` normalised, if it is one address outside the demo team's domains; else PreviewError."""
        found = getaddresses([address or ""])
        sender = found[0][1].strip().lower() if len(found) == 1 else ""
        local, _, domain = sender.rpartition("@")
        if not local or "." not in domain or len(sender) > ADDRESS_MAX or any(c.isspace() for c in sender):
            raise PreviewError(f"{address!r} is not an email address")
        if domain in {rep.partition("@")[2] for rep in self.reps}:
            raise PreviewError("the new email comes from someone outside the team: open a customer's message")
        return sender

    # -- what Google sends ---------------------------------------------------------------
    def build_event(self, rep: str, host_app: str, context: dict, endpoint: str, form_inputs: dict | None = None,
                    parameters: dict | None = None) -> dict:
        """The add-on event object for this rep and context (Google's EventObject, HTTP runtime)."""
        # Google's `hd` is the Workspace's primary domain, also for a rep on a secondary domain: the admin's
        domain = (self.config.admin_email or rep).partition("@")[2]
        zone = zoneinfo.ZoneInfo(DEMO_TIME_ZONE)
        offset = dt.datetime.now(zone).utcoffset() or dt.timedelta(0)
        common = {"hostApp": host_app, "platform": "WEB", "userLocale": DEMO_LOCALE,
                  "timeZone": {"id": DEMO_TIME_ZONE, "offset": int(offset.total_seconds() * 1000)}}
        if form_inputs:
            common["formInputs"] = form_inputs
        if parameters:
            common["parameters"] = parameters
        token = self.access_token(rep)
        event = {
            "commonEventObject": common,
            "authorizationEventObject": {
                "userOAuthToken": token,
                "userIdToken": self.id_token(self.config.oauth_client_id, email=rep, hd=domain),
                "systemIdToken": self.id_token(self.audience(endpoint)),
            },
        }
        if context.get("messageId"):
            message = self.message(rep, context["messageId"])
            headers = {h["name"].lower(): h["value"] for h in message.get("payload", {}).get("headers", [])}
            event["gmail"] = {
                "messageId": "msg-f:" + str(int(message["id"], 16)),
                "threadId": "thread-f:" + str(int(message["threadId"], 16)),
                "accessToken": token,
                "toRecipients": [address for _, address in getaddresses([headers.get("to", "")]) if address],
                "ccRecipients": [address for _, address in getaddresses([headers.get("cc", "")]) if address],
            }
        elif context.get("eventId"):
            item = self.event(rep, context["eventId"])
            calendar = {"id": item["id"], "calendarId": rep,
                        "organizer": {"email": item.get("organizer", {}).get("email", rep)},
                        "attendees": [attendee_object(a) for a in item.get("attendees", [])],
                        "capabilities": {"canSeeAttendees": True, "canAddAttendees": False,
                                         "canSetConferenceData": False}}
            if item.get("recurringEventId"):
                calendar["recurringEventId"] = item["recurringEventId"]
            event["calendar"] = calendar
        return event

    def send(self, path_or_url: str, event: dict) -> tuple[int, object, float]:
        """POST the event to the backend as Google would; (status, JSON or text, milliseconds)."""
        url = self.backend_url(path_or_url)
        headers = {"Authorization": "Bearer " + self.id_token(self.audience(url))}
        began = time.monotonic()
        response = self._http.post(url, json=event, headers=headers, timeout=BACKEND_TIMEOUT_SECONDS)
        elapsed = (time.monotonic() - began) * 1000
        try:
            body = response.json()
        except ValueError:
            body = response.text
        log.info("preview sent path=%s status=%s ms=%.0f",
                 urllib.parse.urlsplit(url).path, response.status_code, elapsed)
        return response.status_code, body, elapsed

    def audience(self, path_or_url: str) -> str:
        """Google's system ID token is for the endpoint: SIDECAR_PUBLIC_URL + the request path (SPEC §5)."""
        return self.config.public_url + urllib.parse.urlsplit(self.backend_url(path_or_url)).path

    def backend_url(self, path_or_url: str) -> str:
        """Only the add-on's own endpoints: a card's action URL must live under SIDECAR_PUBLIC_URL/addon/."""
        url = path_or_url if "://" in path_or_url else self.config.public_url + path_or_url
        if not url.startswith(self.config.public_url + "/addon/"):
            raise PreviewError(f"{path_or_url!r} is not an endpoint of this add-on "
                               f"({self.config.public_url}/addon/...)")
        return url


def summarise_message(message: dict) -> dict:
    headers = {h["name"].lower(): h["value"] for h in message.get("payload", {}).get("headers", [])}
    (sender_name, sender), = getaddresses([headers.get("from", "")]) or [("", "")]
    return {
        "id": message["id"],
        "threadId": message.get("threadId"),
        "from": sender_name or sender,
        "fromAddress": sender,
        "to": headers.get("to", ""),
        "subject": headers.get("subject", "(no subject)"),
        "snippet": message.get("snippet", ""),
        "date": _iso_date(headers.get("date"), message.get("internalDate")),
        "labels": message.get("labelIds", []),
    }


def _iso_date(header: str | None, internal_ms: str | None) -> str | None:
    if internal_ms:
        return dt.datetime.fromtimestamp(int(internal_ms) / 1000, dt.UTC).isoformat()
    try:
        return parsedate_to_datetime(header).isoformat() if header else None
    except (TypeError, ValueError):
        return None


def summarise_event(item: dict) -> dict:
    start, end = item.get("start", {}), item.get("end", {})
    return {
        "id": item["id"],
        "summary": item.get("summary", "(no title)"),
        "start": start.get("dateTime") or start.get("date"),
        "end": end.get("dateTime") or end.get("date"),
        "allDay": "date" in start,
        "organizer": item.get("organizer", {}).get("email"),
        "attendees": [a.get("email") for a in item.get("attendees", [])],
        "attendeeNames": [a.get("displayName") or a.get("email") for a in item.get("attendees", [])],
        "recurring": bool(item.get("recurringEventId")),
    }


def attendee_object(attendee: dict) -> dict:
    """Calendar's attendee in the add-on event: the documented fields only."""
    keys = ("email", "displayName", "optional", "organizer", "self", "resource", "responseStatus", "comment",
            "additionalGuests")
    return {key: attendee[key] for key in keys if key in attendee}


def masked(event: dict) -> dict:
    """The event as shown on the page: the same, with every token replaced."""
    shown = dict(event)
    shown["authorizationEventObject"] = {key: MASK for key in event.get("authorizationEventObject", {})}
    if "gmail" in event:
        shown["gmail"] = {**event["gmail"], "accessToken": MASK}
    return shown


# -- routes -------------------------------------------------------------------------------
@bp.errorhandler(PreviewError)
def _preview_error(exc: PreviewError):
    return jsonify(error=str(exc)), exc.status


@bp.errorhandler(HttpError)
def _google_error(exc: HttpError):
    log.warning("simulator call failed status=%s", exc.status_code)
    return jsonify(error=f"the simulator answered {exc.status_code}: {exc.reason}"), 502


@bp.errorhandler(requests.RequestException)
def _backend_unreachable(exc: requests.RequestException):
    log.warning("preview request failed error=%s", type(exc).__name__)
    return jsonify(error=f"request failed: {type(exc).__name__}"), 502


@bp.get("/")
def index():
    return send_from_directory(STATIC_DIR, "index.html")


@bp.get("/static/<path:name>")
def static_file(name: str):
    return send_from_directory(STATIC_DIR, name)


@bp.get("/api/reps")
def reps():
    ws = workspace()
    return jsonify(reps=ws.reps, publicUrl=ws.config.public_url)


@bp.get("/api/messages")
def messages():
    ws = workspace()
    rep = ws.rep(request.args.get("rep"))
    return jsonify(rep=rep, messages=ws.messages(rep, request.args.get("q")))


@bp.get("/api/events")
def events():
    ws = workspace()
    rep = ws.rep(request.args.get("rep"))
    return jsonify(rep=rep, events=ws.events(rep))


@bp.post("/api/send")
def send():
    """Build the event for a trigger or a card action, send it, and hand back the backend's answer.

    Body: `{rep, hostApp: GMAIL|CALENDAR, trigger: homepage|gmail|calendar|action,
    context: {messageId}|{eventId}|{}, function?, parameters?, formInputs?}`.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "the body must be a JSON object")
    ws = workspace()
    rep = ws.rep(body.get("rep"))
    host_app = body.get("hostApp")
    if host_app not in ("GMAIL", "CALENDAR"):
        raise PreviewError("hostApp must be GMAIL or CALENDAR")
    trigger = body.get("trigger")
    context = body.get("context") if isinstance(body.get("context"), dict) else {}
    if trigger == "action":
        target = body.get("function")
        if not isinstance(target, str):
            raise PreviewError("an action needs its function URL")
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else None
        form_inputs = body.get("formInputs") if isinstance(body.get("formInputs"), dict) else None
    elif trigger in TRIGGER_PATHS:
        target, parameters, form_inputs = TRIGGER_PATHS[trigger], None, None
        context = {} if trigger == "homepage" else context
    else:
        raise PreviewError(f"unknown trigger {trigger!r}")
    ws.backend_url(target)
    event = ws.build_event(rep, host_app, context, target, form_inputs, parameters)
    status, answer, elapsed = ws.send(target, event)
    return jsonify(status=status, body=answer, ms=round(elapsed), path=urllib.parse.urlsplit(
        ws.backend_url(target)).path, event=masked(event))


@bp.post("/api/deliver")
def deliver():
    """Body: `{rep, from, name?}`: the simulator delivers a new email from `from` (outside the team) to the rep."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "the body must be a JSON object")
    ws = workspace()
    rep = ws.rep(body.get("rep"))
    sender = ws.external(body.get("from") if isinstance(body.get("from"), str) else "")
    name = " ".join(body["name"].split())[:ADDRESS_MAX] if isinstance(body.get("name"), str) else ""
    return jsonify(ws.deliver(rep, sender, "" if name.lower() == sender else name))
