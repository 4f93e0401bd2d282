"""Segment actions: create, open (a page and a fresh count), delete, and refresh the home page's counts.

See `models.segments` for how a segment is stored and evaluated, and why the
home page shows cached counts instead of counting.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from addon.actions import action
from addon.actions.forms import Invalid, check_teammate, new_request_id, request_id_of, text
from addon.context import Request
from addon.events import BadEvent
from addon.triggers import homepage
from cards import responses
from cards.segments import segment_card, segment_form
from models import rules
from models import segments as model
from models.addresses import company_domain, registrable_domain
from models.domain import SEGMENT_SIGNALS, Segment, parse_lifecycle_stage, utcnow

STRENGTH_MAX = 100  # relationship strength is 0-100 (models.signals)
ACTIVITY_DAYS_HINT = f"Days is a whole number from 1 to {model.ACTIVITY_DAYS_MAX}."


def form_values(req: Request) -> dict[str, str]:
    names = ["name", "tag", "stage", "owner", "company", "activity_mode", "activity_days", "signal", "strength"]
    names += ["custom." + d.key for d in req.settings.custom_fields if d.applies_to == "contact"]
    return {name: text(req, name) for name in names}


def build_segment(req: Request, values: dict[str, str]) -> Segment:
    """A segment from the form, every value validated as the contact fields it filters are."""
    name = " ".join(values["name"].split())
    if not name:
        raise Invalid("Give the segment a name.")
    if len(name) > model.SEGMENT_NAME_MAX:
        raise Invalid(f"A segment name has at most {model.SEGMENT_NAME_MAX} characters.")
    segment = Segment(id=model.new_segment_id(), name=name)
    if values["tag"]:
        segment.tag = rules.check_tag(values["tag"])
    if values["stage"]:
        try:
            segment.lifecycle_stage = parse_lifecycle_stage(values["stage"])
        except ValueError as exc:
            raise Invalid(str(exc)) from None
    if values["owner"]:
        segment.owner = req.rep if values["owner"].lower() == "me" else check_teammate(req, values["owner"])
    if values["company"]:
        raw = values["company"].lower().strip()
        domain = company_domain(raw) if "@" in raw else registrable_domain(raw)
        if not domain or req.repo.get_company(domain) is None:
            raise Invalid(f"No company {values['company']} in Sidecar; type its domain, e.g. acme.com.")
        segment.company_id = domain
    mode, days = values["activity_mode"], values["activity_days"]
    if mode:
        if mode not in ("inactive", "active"):
            raise Invalid("Choose how recent the last activity is.")
        whole = days.isascii() and days.isdigit() and len(days) <= len(str(model.ACTIVITY_DAYS_MAX))  # not "²"
        if not whole or not 1 <= int(days) <= model.ACTIVITY_DAYS_MAX:
            raise Invalid(ACTIVITY_DAYS_HINT)
        segment.activity_mode, segment.activity_days = mode, int(days)
    elif days:
        raise Invalid("Choose \u201cNo touch\u201d or \u201cTouched\u201d for the days to apply.")
    signal, strength = values.get("signal", ""), values.get("strength", "")
    if signal:
        if signal not in SEGMENT_SIGNALS:
            raise Invalid("Choose a relationship signal from the list.")
        if segment.activity_mode:
            raise Invalid("Filter on last activity or on a relationship signal, not both.")
        if signal == "strength":
            if not strength.isdigit() or not 0 <= int(strength) <= STRENGTH_MAX:
                raise Invalid(f"Strength is a whole number from 0 to {STRENGTH_MAX}.")
            segment.strength_at_least = int(strength)
        segment.signal = signal
    elif strength:
        raise Invalid("Choose \u201cStrength at least\u201d for the strength to apply.")
    for definition in req.settings.custom_fields:
        raw = values.get("custom." + definition.key, "")
        if definition.applies_to == "contact" and raw:
            try:
                segment.custom[definition.key] = definition.parse(raw)
            except ValueError as exc:
                raise Invalid(str(exc)) from None
    return segment


@action("segment_form")
def open_form(req: Request) -> dict:
    return responses.push_card(segment_form(req.viewer, request_id=new_request_id()))


@action("save_segment")
def save_segment(req: Request) -> dict:
    """Save the segment under an id made from the click's request id: a Retry rewrites it, never adds one."""
    values = form_values(req)
    request_id = request_id_of(req)
    try:
        segment = build_segment(req, values)
        if request_id is not None:
            segment.id = "s" + request_id.removeprefix("r")  # the shape of `model.new_segment_id`
        saved = {s.id for s in model.list_segments(req.repo, req.rep)}
        if segment.id not in saved and len(saved) >= model.SEGMENTS_MAX:
            raise Invalid(f"You have {model.SEGMENTS_MAX} segments, the most one rep keeps; delete one first.")
    except Invalid as exc:
        form = segment_form(req.viewer, error=str(exc), values=values, request_id=request_id or new_request_id())
        return responses.update_card(form, str(exc))
    first = _open(req, segment, cursor=None)
    model.save_segment(req.repo, req.rep, segment)
    return responses.update_card(segment_card(segment, first.contacts, first.next_cursor, req.viewer),
                                 f"Saved {segment.name}")


def _open(req: Request, segment: Segment, cursor: str | None) -> model.SegmentPage:
    """A page and a fresh count, queried at once (two queries in parallel; the count is cached)."""
    now = utcnow()
    with ThreadPoolExecutor(max_workers=2) as pool:
        counted = pool.submit(model.count, req.repo, segment, now)
        try:
            found = model.page(req.repo, segment, cursor, now=now)
        except ValueError:
            raise BadEvent("invalid segment cursor") from None
        segment.count, segment.counted_at = counted.result(), now
    return found


@action("open_segment")
def open_segment(req: Request) -> dict:
    segment = model.get_segment(req.repo, req.rep, req.event.parameter("segment_id"))
    if segment is None:
        return responses.update_card(home(req), "That segment was deleted")
    cursor = req.event.parameters.get("cursor")
    page = req.event.parameters.get("page", "1")
    page_number = int(page) if page.isdigit() else 1
    found = _open(req, segment, cursor)
    model.store_counts(req.repo, req.rep, [segment])
    card = segment_card(segment, found.contacts, found.next_cursor, req.viewer, page_number)
    return responses.update_card(card) if cursor else responses.push_card(card)


@action("delete_segment")
def delete_segment(req: Request) -> dict:
    segment = model.get_segment(req.repo, req.rep, req.event.parameter("segment_id"))
    if segment is not None:
        model.delete_segment(req.repo, req.rep, segment.id)
    return responses.update_card(home(req), f"Deleted {segment.name}" if segment else "Already deleted")


@action("refresh_counts")
def refresh_counts(req: Request) -> dict:
    segments = model.refresh_counts(req.repo, req.rep, model.list_segments(req.repo, req.rep))
    return responses.update_card(home(req, segments), "Counts refreshed")


def home(req: Request, segments: list[Segment] | None = None) -> dict:
    return homepage(req, segments)
