"""The three triggers: Gmail message open, Calendar event open, and the home page (SPEC §1, §5)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint

from addon import google_apis
from addon.context import ACTION_PATH, Request, addon_endpoint
from addon.events import BadEvent
from addon.people import MAX_ATTENDEES, MAX_PEOPLE, external, load_people
from cards import responses
from cards.calendar import BRIEF_WINDOW_DAYS, Brief, event_card
from cards.contact import message_card
from cards.home import home_card
from models.addresses import is_excluded
from models.domain import Segment, utcnow
from models.progress import import_percent

bp = Blueprint("addon_triggers", __name__, url_prefix="/addon")
MY_CONTACTS_SHOWN = 20  # "my contacts" on the home page, by name (models.search: the owner index)


def refresh_retry(view: str):
    """An error card on a trigger retries through the `refresh` action, which answers like an action."""
    return lambda req: (req.public_url + ACTION_PATH + "refresh", {"view": view})


def gmail_message(req: Request) -> dict:
    gmail = req.event.gmail
    if gmail is None:
        raise BadEvent("gmail is missing: this endpoint serves Gmail message events")
    # settings, the add-on's record and sync's Gmail-id index in one read; a synced message's activity
    view = req.repo.message_view(req.rep, gmail.message_id)
    req._settings, req.importing = view.settings, import_percent(view.mailbox)
    if view.participants is None:  # neither sync nor the add-on has it: ask the Gmail API once
        participants, subject, named = google_apis.message_people(req.api_root, req.event.user_oauth_token,
                                                                  gmail.access_token, gmail.message_id)
        addresses = [*(p.email for p in participants), *named]
        if not any(is_excluded(address, req.settings.exclusions) for address in addresses):
            # excluded mail is never stored (SPEC §9), not even as the add-on's record of its people; every
            # address is checked, the ones parsing dropped too, and the record is indexed by all of them
            req.repo.record_message(req.rep, gmail.message_id, participants=participants, subject=subject,
                                    addresses=addresses)
    else:
        participants, subject = view.participants, view.subject
    order = {"from": 0, "to": 1, "cc": 2}
    ordered = sorted(participants, key=lambda p: order.get(p.role, 3))
    people = external([(p.email, p.name) for p in ordered], req.rep, req.identity.tenant, req.settings)
    loaded = load_people(req.repo, people[:MAX_PEOPLE], activity=view.activity)
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
        view = req.repo.home_view(req.rep)
        req._settings, segments, req.importing = view.settings, view.segments, import_percent(view.mailbox)
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
