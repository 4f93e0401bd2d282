"""The three triggers: Gmail message open, Calendar event open, and the home page (SPEC §1, §5)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint

from addon import google_apis
from addon.context import ACTION_PATH, Request, addon_endpoint
from addon.events import BadEvent
from addon.people import MAX_ATTENDEES, MAX_PEOPLE, external, load_people, settings_and_message
from cards import responses
from cards.calendar import BRIEF_WINDOW_DAYS, Brief, event_card
from cards.contact import message_card
from cards.home import home_card
from models import segments as segments_model
from models.addresses import is_excluded
from models.domain import Participant, Segment, utcnow
from models.repository import settings_from_doc

bp = Blueprint("addon_triggers", __name__, url_prefix="/addon")
MY_CONTACTS_SHOWN = 20  # "my contacts" on the home page, by name (models.search: the owner index)


def refresh_retry(view: str):
    """An error card on a trigger retries through the `refresh` action, which answers like an action."""
    return lambda req: (req.public_url + ACTION_PATH + "refresh", {"view": view})


def gmail_message(req: Request) -> dict:
    gmail = req.event.gmail
    if gmail is None:
        raise BadEvent("gmail is missing: this endpoint serves Gmail message events")
    req._settings, recorded = settings_and_message(req.repo, req.rep, gmail.message_id)
    found = None
    if recorded and (recorded.get("participants") or not recorded.get("activity_id")):
        found = [Participant(**p) for p in recorded["participants"]], recorded.get("subject") or ""
    elif recorded:
        found = req.repo.get_message(req.rep, gmail.message_id)  # recorded by sync: its activity has the people
    if found is None:
        participants, subject = google_apis.message_people(req.api_root, req.event.user_oauth_token,
                                                           gmail.access_token, gmail.message_id)
        if not any(is_excluded(p.email, req.settings.exclusions) for p in participants):
            # excluded mail is never stored (SPEC §9), not even as the add-on's record of its people
            req.repo.record_message(req.rep, gmail.message_id, participants=participants, subject=subject)
    else:
        participants, subject = found
    order = {"from": 0, "to": 1, "cc": 2}
    ordered = sorted(participants, key=lambda p: order.get(p.role, 3))
    people = external([(p.email, p.name) for p in ordered], req.rep, req.identity.tenant, req.settings)
    loaded = load_people(req.repo, people[:MAX_PEOPLE])
    return message_card(loaded, req.viewer, subject, hidden=max(0, len(people) - MAX_PEOPLE))


def calendar_event(req: Request) -> dict:
    calendar = req.event.calendar
    if calendar is None:
        raise BadEvent("calendar is missing: this endpoint serves Calendar event events")
    attendees = calendar.attendees
    if attendees is None:
        attendees = google_apis.event_attendees(req.api_root, req.event.user_oauth_token,
                                                calendar.calendar_id, calendar.event_id)
    pairs = [(a.email, a.name) for a in attendees if not a.resource and not a.is_self]
    people = external(pairs, req.rep, req.identity.tenant, req.settings)
    since = utcnow() - dt.timedelta(days=BRIEF_WINDOW_DAYS)
    loaded = load_people(req.repo, people[:MAX_ATTENDEES], since=since)
    return event_card([Brief.of(p) for p in loaded], req.viewer, hidden=max(0, len(people) - MAX_ATTENDEES))


def homepage(req: Request, segments: list[Segment] | None = None) -> dict:
    """Settings and the rep's segments in one batched read, then "my contacts" from the owner index (no query).

    Segment counts are the cached ones (see models.segments): counting here would
    cost a query per segment on every open of the home page.
    """
    if segments is None:
        rep_doc = segments_model.rep_ref(req.repo, req.rep)
        found = {s.reference.path: s for s in req.repo.get_all([req.repo.root, rep_doc])}
        root = found.get(req.repo.root.path)
        req._settings = settings_from_doc((root.to_dict() or {}).get("settings") if root else None)
        segments = segments_model.segments_in(found[rep_doc.path].to_dict() if rep_doc.path in found else None)
    mine = req.repo.contacts_owned_by(req.rep, MY_CONTACTS_SHOWN)
    return home_card(mine, req.viewer, segments=segments, is_admin=req.is_admin)


VIEWS = {"gmail": gmail_message, "calendar": calendar_event, "home": homepage}


@bp.post("/gmail/message")
@addon_endpoint("trigger", retry=refresh_retry("gmail"))
def gmail_trigger(req: Request):
    return responses.trigger(gmail_message(req))


@bp.post("/calendar/event")
@addon_endpoint("trigger", retry=refresh_retry("calendar"))
def calendar_trigger(req: Request):
    return responses.trigger(calendar_event(req))


@bp.post("/homepage")
@addon_endpoint("trigger", retry=refresh_retry("home"))
def homepage_trigger(req: Request):
    return responses.trigger(homepage(req))
