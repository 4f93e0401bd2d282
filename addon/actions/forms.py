"""Reading a card's inputs for the rules in `models.rules`: what every handler shares.

The rules themselves (what a tag, a phone, a custom value may be) live in
`models.rules`; here is only what a card adds: the request's inputs, the
tenant the request is for, and a date picker's milliseconds.
"""

from __future__ import annotations

import datetime as dt
import re

from addon.context import Request
from addon.events import BadEvent
from cards import responses
from models import rules
from models.repository import REQUEST_WINDOW, issue_request_id, request_open
from models.rules import Invalid

__all__ = ["EXPIRED_REQUEST", "Invalid", "check_teammate", "invalid", "new_request_id", "request_id_of",
           "request_usable", "text", "typed_custom_fields"]

# What `new_request_id` makes ("r", 8 hex digits of time, 16 random), or, from a form built before request ids
# carried their time, "r" and 20 random hex digits (honoured as expired: `models.repository.request_open`).
REQUEST_ID_PATTERN = re.compile(r"^r(?:[0-9a-f]{20}|[0-9a-f]{24})$")
EXPIRED_REQUEST = (f"This form was opened more than {REQUEST_WINDOW.days} days ago, so Sidecar cannot tell "
                   "whether it was already sent. Check the timeline, then send it again if it is not there.")


def text(req: Request, name: str) -> str:
    return (req.event.input(name) or "").strip()


def invalid(card: dict, message: str) -> dict:
    """The form again, saying what is wrong; nothing was written."""
    return responses.update_card(card, message)


def check_teammate(req: Request, raw: str) -> str:
    """`models.rules.check_teammate` for the request's tenant and its other domains."""
    return rules.check_teammate(raw, req.identity.tenant, req.settings.internal_domains)


def typed_custom_fields(req: Request, applies_to: str, current: dict, typed: dict[str, str]) -> dict:
    """The record's custom values with the form's applied, each parsed by its definition.

    Raises Invalid saying what is wrong; `typed` collects what was typed, to
    show the form again as it was.
    """
    definitions = [d for d in req.settings.custom_fields if d.applies_to == applies_to]
    raw: dict[str, str] = {}
    for definition in definitions:
        key = "custom." + definition.key
        if definition.type == "date" and key in req.event.date_inputs:
            ms = req.event.date_inputs[key]
            raw[definition.key] = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date().isoformat()
        else:
            raw[definition.key] = typed[key] = text(req, key)
    return rules.apply_custom_values(definitions, raw, current)


def new_request_id() -> str:
    """The id of one click on a form's button, made where the form is built and carried in its parameters.

    A handler that creates something does it once per request id (#12): the
    same click posted again (Google's retry, the error card's Retry, which
    repeats the parameters) finds what the first one created, for
    `models.repository.REQUEST_WINDOW` after the form was built (the id
    carries that time: `models.repository.issue_request_id`).
    """
    return issue_request_id()


def request_usable(request_id: str | None) -> bool:
    """Whether a click's request id is still honoured (`models.repository.request_open`); a form without
    one (built before request ids) is not refused here: its handler creates without one."""
    return request_id is None or request_open(request_id)


def request_id_of(req: Request) -> str | None:
    """The click's request id from our card's parameters; None from a card built before they existed."""
    raw = req.event.parameters.get("request_id")
    if raw is None:
        return None
    if not REQUEST_ID_PATTERN.match(raw):
        raise BadEvent("invalid request id")
    return raw
