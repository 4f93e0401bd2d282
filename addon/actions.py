"""Card actions: `/addon/action/<name>`, routed by the ACTIONS table; an unknown name is a 400.

Each handler validates what the rep typed before it writes anything; invalid
input answers the same form again with what is wrong (and a notification),
and nothing is written. A contact id always comes from our own card's
parameters and is read through the tenant's repository, so an id of another
tenant is simply not found.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable

import phonenumbers
from flask import Blueprint, jsonify

from addon.context import Request, addon_endpoint
from addon.events import BadEvent
from addon.people import fill_timeline, person_of
from addon.triggers import VIEWS
from cards import errors as error_cards
from cards import responses
from cards.contact import (
    activity_form,
    add_contact_form,
    company_card,
    company_form,
    contact_card,
    edit_form,
    merge_card,
    stage_form,
    tags_form,
    timeline_card,
)
from cards.home import results_card
from cards.people import Person
from models.addresses import (
    company_domain,
    domain_matches,
    email_domain,
    is_valid_email,
    name_parts,
    normalize_email,
)
from models.domain import Activity, ActivityKind, Company, Contact, parse_lifecycle_stage, utcnow
from models.merge import FIELD_LABELS, absorb, merge_contacts
from models.repository import Conflict, NotFound, contact_id_for, new_id
from models.search import SearchHit

bp = Blueprint("addon_actions", __name__, url_prefix="/addon/action")

NOTE_MAX = 10_000  # characters in a note or call summary
TAG_MAX_LENGTH = 50
TAGS_MAX = 50  # tags on one contact
TAG_PATTERN = re.compile(r"^[A-Za-z0-9 _-]+$")
NAME_MAX = 100
TITLE_MAX = 200
SEARCH_MIN, SEARCH_MAX = 2, 100  # characters of a search
SEARCH_RESULTS = 20
SEARCH_NOTE = f"Matches the start of names, addresses and company domains; {SEARCH_RESULTS} results at most."


class Invalid(ValueError):
    """What the rep typed cannot be saved; the message says why, in their words."""


Handler = Callable[[Request], dict]
ACTIONS: dict[str, Handler] = {}


def action(name: str):
    def register(handler: Handler) -> Handler:
        ACTIONS[name] = handler
        return handler
    return register


@bp.post("/<name>")
def dispatch(name: str):
    handler = ACTIONS.get(name)
    if handler is None:
        return jsonify(error=f"unknown action {name!r}"), 400
    return _run(handler)


@addon_endpoint("action")
def _run(req: Request, handler: Handler) -> dict:
    return handler(req)


# --- helpers ------------------------------------------------------------------------------

def load_contact(req: Request) -> Contact | None:
    try:
        return req.repo.get_contact(req.event.parameter("contact_id"))
    except NotFound:
        return None


def not_found() -> dict:
    return responses.update_card(error_cards.not_found_card("contact"), "Contact not found")


def show_contact(req: Request, contact: Contact, notification: str) -> dict:
    return responses.update_card(contact_card(person_of(req.repo, contact), req.viewer), notification)


def invalid(card: dict, message: str) -> dict:
    return responses.update_card(card, message)


def text(req: Request, name: str) -> str:
    return (req.event.input(name) or "").strip()


def bounded(value: str, label: str, limit: int) -> str:
    if len(value) > limit:
        raise Invalid(f"{label} is {len(value):,} characters; {limit:,} at most.")
    return value


def check_tag(raw: str) -> str:
    tag = " ".join(raw.split())
    if not tag:
        raise Invalid("Type a tag first.")
    if len(tag) > TAG_MAX_LENGTH:
        raise Invalid(f"A tag has at most {TAG_MAX_LENGTH} characters.")
    if not TAG_PATTERN.match(tag):
        raise Invalid("A tag may hold letters, digits, spaces, - and _ only.")
    return tag


def check_teammate(req: Request, raw: str) -> str:
    email = normalize_email(raw)
    if not is_valid_email(email):
        raise Invalid(f"{raw or 'An empty value'} is not an email address.")
    domains = (req.identity.tenant, *req.settings.internal_domains)
    if not any(domain_matches(email_domain(email), d) for d in domains):
        raise Invalid(f"The owner must be a teammate at {req.identity.tenant}.")
    return email


def check_phone(raw: str, locale: str | None) -> str:
    if not raw:
        return ""
    region = locale.replace("_", "-").split("-")[1].upper() if locale and "-" in locale.replace("_", "-") else None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise Invalid(f"{raw} is not a phone number; use the international form, e.g. +44 20 7946 0000.") from None
    if not phonenumbers.is_valid_number(number):
        raise Invalid(f"{raw} is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- forms and navigation -------------------------------------------------------------------

@action("form")
def open_form(req: Request) -> dict:
    form = req.event.parameter("form")
    if form == "add_contact":
        email = normalize_email(req.event.parameter("email"))
        first, middle, last = name_parts(req.event.parameters.get("name", ""), email)
        return responses.push_card(add_contact_form(email, first, middle, last, company_domain(email) or "",
                                                    req.viewer))
    contact = load_contact(req)
    if contact is None:
        return not_found()
    builders = {
        "note": lambda: activity_form(contact, ActivityKind.NOTE, req.viewer),
        "call": lambda: activity_form(contact, ActivityKind.CALL, req.viewer),
        "edit": lambda: edit_form(contact, req.viewer),
        "tags": lambda: tags_form(contact, req.viewer),
        "stage": lambda: stage_form(contact, req.viewer),
    }
    if form not in builders:
        raise BadEvent(f"unknown form {form!r}")
    return responses.push_card(builders[form]())


@action("open_contact")
def open_contact(req: Request) -> dict:
    contact = load_contact(req)
    if contact is None:
        return not_found()
    return responses.push_card(contact_card(person_of(req.repo, contact), req.viewer))


@action("open_company")
def open_company(req: Request) -> dict:
    domain = req.event.parameter("domain").lower()
    company = req.repo.get_company(domain)
    if company is None:
        return responses.push_card(error_cards.not_found_card("company"))
    contacts = req.repo.get_contacts(company.contact_ids)
    return responses.push_card(company_card(company, list(contacts.values()), req.viewer))


@action("show_more")
def show_more(req: Request) -> dict:
    contact = load_contact(req)
    if contact is None:
        return not_found()
    try:
        person = fill_timeline(req.repo, Person(contact.primary_email, contact=contact),
                               cursor=req.event.parameter("cursor"))
    except ValueError:
        raise BadEvent("invalid timeline cursor") from None
    card = timeline_card(contact, person.entries, person.next_cursor, req.viewer)
    return responses.update_card(card) if req.event.parameters.get("replace") else responses.push_card(card)


@action("refresh")
def refresh(req: Request) -> dict:
    """The Retry of an error card shown by a trigger: the trigger's card, as an update."""
    view = VIEWS.get(req.event.parameter("view"))
    if view is None:
        raise BadEvent("unknown view")
    return responses.update_card(view(req))


@action("search")
def search(req: Request) -> dict:
    """Exact address first (one get), then the prefix index (one read): contacts and companies."""
    query = " ".join(text(req, "query").split())
    if not SEARCH_MIN <= len(query) <= SEARCH_MAX:
        message = f"Type {SEARCH_MIN} to {SEARCH_MAX} characters to search."
        return invalid(results_card(query, [], req.viewer, error=message), message)
    hits: list[SearchHit] = []
    if "@" in query:
        found = req.repo.find_contact_by_email(query)
        if found:
            hits.append(SearchHit("contact", found.id, found.display_name, found.company_id or found.primary_email))
    hits += [hit for hit in req.repo.search(query, SEARCH_RESULTS) if hit not in hits]
    card = results_card(query, hits[:SEARCH_RESULTS], req.viewer, note=SEARCH_NOTE)
    return responses.update_card(card) if req.event.parameters.get("replace") else responses.push_card(card)


# --- writes -----------------------------------------------------------------------------------

@action("add_contact")
def add_contact(req: Request) -> dict:
    email = normalize_email(req.event.parameter("email"))
    first, middle, last, title = (text(req, n) for n in ("first_name", "middle_name", "last_name", "title"))
    domain = company_domain(email) or ""

    def again(message: str) -> dict:
        return invalid(add_contact_form(email, first, middle, last, domain, req.viewer, error=message, title=title),
                       message)

    try:
        if not is_valid_email(email):
            raise Invalid(f"{email} is not an email address.")
        for value, label in ((first, "First name"), (middle, "Middle name"), (last, "Last name")):
            bounded(value, label, NAME_MAX)
        bounded(title, "Title", TITLE_MAX)
    except Invalid as exc:
        return again(str(exc))
    if req.repo.find_contact_by_email(email) is not None:
        return again(f"{email} is already a contact.")
    contact = Contact(id=contact_id_for(email), emails=[email], first_name=first, middle_name=middle, last_name=last,
                      title=title, company_id=domain or None, owner=req.rep, source="gmail_card")
    if domain and req.repo.get_company(domain) is None:
        req.repo.save_company(Company(id=domain, name=_company_name(domain)))
    try:
        req.repo.create_contact(contact)
    except Conflict:
        return again(f"{email} is already a contact.")
    return show_contact(req, contact, f"{contact.display_name} added")


def _company_name(domain: str) -> str:
    """`acme-labs.co.uk` -> "Acme Labs": a starting point the rep can edit."""
    label = domain.split(".")[0]
    return " ".join(word.capitalize() for word in re.split(r"[-_]+", label) if word)


@action("edit_fields")
def edit_fields(req: Request) -> dict:
    contact = load_contact(req)
    if contact is None:
        return not_found()
    names = ("first_name", "middle_name", "last_name", "title", "phone")
    typed = {n: text(req, n) for n in names}
    custom_typed: dict[str, str] = {}
    try:
        for name in names[:3]:
            bounded(typed[name], name.replace("_", " ").capitalize(), NAME_MAX)
        bounded(typed["title"], "Title", TITLE_MAX)
        phone = check_phone(typed["phone"], req.event.locale)
        custom = typed_custom_fields(req, "contact", contact.custom, custom_typed)
    except (Invalid, ValueError) as exc:
        message = str(exc)
        return invalid(edit_form(contact, req.viewer, error=message, values={**typed, **custom_typed}), message)
    contact.first_name, contact.middle_name, contact.last_name = typed["first_name"], typed["middle_name"], \
        typed["last_name"]
    contact.title, contact.phone, contact.custom = typed["title"], phone, custom
    req.repo.save_contact(contact)
    return show_contact(req, contact, "Saved")


def typed_custom_fields(req: Request, applies_to: str, current: dict, typed: dict[str, str]) -> dict:
    """The record's custom values with the form's applied, each parsed by its definition.

    Raises ValueError saying what is wrong; `typed` collects what was typed, to
    show the form again as it was.
    """
    custom = dict(current)
    for definition in req.settings.custom_fields:
        if definition.applies_to != applies_to:
            continue
        key = "custom." + definition.key
        if definition.type == "date" and key in req.event.date_inputs:
            ms = req.event.date_inputs[key]
            value = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date().isoformat()
        else:
            raw = text(req, key)
            typed[key] = raw
            value = definition.parse(raw)
        if value is None:
            custom.pop(definition.key, None)
        else:
            custom[definition.key] = value
    return custom


@action("company_form")
def open_company_form(req: Request) -> dict:
    company = req.repo.get_company(req.event.parameter("domain").lower())
    if company is None:
        return responses.push_card(error_cards.not_found_card("company"))
    return responses.push_card(company_form(company, req.viewer))


@action("edit_company")
def edit_company(req: Request) -> dict:
    """The company's name and custom fields; a wrong type answers the form again and writes nothing."""
    company = req.repo.get_company(req.event.parameter("domain").lower())
    if company is None:
        return responses.update_card(error_cards.not_found_card("company"), "Company not found")
    name = " ".join(text(req, "name").split())
    typed: dict[str, str] = {"name": name}
    try:
        if not name:
            raise Invalid("A company needs a name.")
        bounded(name, "Company name", NAME_MAX)
        custom = typed_custom_fields(req, "company", company.custom, typed)
    except (Invalid, ValueError) as exc:
        return invalid(company_form(company, req.viewer, error=str(exc), values=typed), str(exc))
    company.name, company.custom = name, custom
    req.repo.save_company(company)
    contacts = req.repo.get_contacts(company.contact_ids)
    return responses.update_card(company_card(company, list(contacts.values()), req.viewer), "Saved")


# --- duplicates and job changes ---------------------------------------------------------------

def _pair(req: Request) -> tuple[Contact, Contact] | None:
    """The two contacts of a merge, as they stand (an alias is never offered as either side)."""
    try:
        kept = req.repo.get_contact(req.event.parameter("keep_id"), follow_alias=False)
        other = req.repo.get_contact(req.event.parameter("merge_id"), follow_alias=False)
    except NotFound:
        return None
    return kept, other


def _conflict_rows(req: Request, kept: Contact, other: Contact) -> list[tuple[str, object, object]]:
    """What the merge rule would set aside, computed on copies (nothing is written)."""
    rows = []
    for conflict in absorb(copy.deepcopy(kept), copy.deepcopy(other)):
        key = conflict.field.removeprefix("custom.")
        definition = req.settings.field_definition(key) if conflict.field.startswith("custom.") else None
        label = definition.label if definition else FIELD_LABELS.get(conflict.field, key)
        rows.append((label, conflict.kept, conflict.other))
    return rows


@action("merge_form")
def merge_form(req: Request) -> dict:
    pair = _pair(req)
    if pair is None:
        return not_found()
    kept, other = pair
    if kept.id == other.id or kept.merged_into or other.merged_into:
        return show_contact(req, req.repo.get_contact(kept.id), "Already merged")
    return responses.push_card(merge_card(kept, other, _conflict_rows(req, kept, other), req.viewer))


@action("merge_contacts")
def merge(req: Request) -> dict:
    """Run the journaled merge (models.merge); pressing Merge again after a failure finishes it."""
    pair = _pair(req)
    if pair is None:
        return not_found()
    kept, other = pair
    try:
        result = merge_contacts(req.repo, kept.id, other.id)
    except (Conflict, ValueError) as exc:
        return invalid(merge_card(kept, other, _conflict_rows(req, kept, other), req.viewer, error=str(exc)), str(exc))
    moved = f"{result.activities_moved} activities moved" if not result.already_done else "already merged"
    return show_contact(req, result.contact, f"Merged {other.display_name}: {moved}")


@action("job_change")
def moved(req: Request) -> dict:
    """"Moved to <company>": the person's current job, with all their history kept.

    The address sync saw at the new company is usually a contact of its own
    (sync creates it, then flags the older record). That contact is merged into
    this one (journaled, retry-safe: see models.merge) so the person has one
    record and one timeline; then the new company becomes current, the old one
    goes to `previous_companies`, the new address becomes the primary one, and
    the flag is cleared. Running it again after a failure finishes the job.
    """
    contact = load_contact(req)
    if contact is None:
        return not_found()
    change = contact.job_change or {}
    company = (change.get("company_id") or "").lower()
    if not company or company != req.event.parameter("company").lower():
        return show_contact(req, contact, "This job change was already handled")
    old_company, new_email = contact.company_id, normalize_email(change.get("email") or "")
    twin = req.repo.find_contact_by_email(new_email) if new_email else None
    if twin is not None and twin.id != contact.id:
        try:
            contact = merge_contacts(req.repo, contact.id, twin.id).contact
        except Conflict as exc:
            return show_contact(req, contact, str(exc))
    if req.repo.get_company(company) is None:
        req.repo.save_company(Company(id=company, name=_company_name(company)))
    previous = [c for c in contact.previous_companies if c != company]
    if old_company and old_company != company and old_company not in previous:
        previous.append(old_company)
    contact.company_id, contact.previous_companies, contact.job_change = company, previous, None
    if new_email in contact.emails:
        contact.emails = [new_email, *(e for e in contact.emails if e != new_email)]
    req.repo.save_contact(contact)
    return show_contact(req, contact, f"Moved to {company}")


@action("dismiss_job_change")
def dismiss_job_change(req: Request) -> dict:
    contact = load_contact(req)
    if contact is None:
        return not_found()
    contact.job_change = None
    req.repo.save_contact(contact)
    return show_contact(req, contact, "Kept at the current company")


@action("add_tag")
def add_tag(req: Request) -> dict:
    contact = load_contact(req)
    if contact is None:
        return not_found()
    typed = text(req, "tag")
    try:
        tag = check_tag(typed)
        if tag.lower() in (t.lower() for t in contact.tags):
            raise Invalid(f"{tag} is already a tag.")
        if len(contact.tags) >= TAGS_MAX:
            raise Invalid(f"A contact has at most {TAGS_MAX} tags.")
    except Invalid as exc:
        return invalid(tags_form(contact, req.viewer, error=str(exc), tag=typed), str(exc))
    contact.tags.append(tag)
    req.repo.save_contact(contact)
    return responses.update_card(tags_form(contact, req.viewer), f"Tagged {tag}")


@action("remove_tag")
def remove_tag(req: Request) -> dict:
    contact = load_contact(req)
    if contact is None:
        return not_found()
    tag = req.event.parameter("tag")
    if tag not in contact.tags:
        message = f"{tag} is not a tag of this contact."
        return invalid(tags_form(contact, req.viewer, error=message), message)
    contact.tags.remove(tag)
    req.repo.save_contact(contact)
    return responses.update_card(tags_form(contact, req.viewer), f"Removed {tag}")


@action("set_owner")
def set_owner(req: Request) -> dict:
    contact = load_contact(req)
    if contact is None:
        return not_found()
    raw = req.event.parameters.get("owner") or text(req, "owner")
    try:
        owner = check_teammate(req, raw)
    except Invalid as exc:
        return invalid(stage_form(contact, req.viewer, error=str(exc)), str(exc))
    contact.owner = owner
    req.repo.save_contact(contact)
    return show_contact(req, contact, f"Owner: {owner}")


@action("set_stage")
def set_stage(req: Request) -> dict:
    contact = load_contact(req)
    if contact is None:
        return not_found()
    try:
        stage = parse_lifecycle_stage(req.event.parameters.get("stage") or text(req, "stage"))
    except ValueError as exc:
        return invalid(stage_form(contact, req.viewer, error=str(exc)), "Unknown lifecycle stage")
    contact.lifecycle_stage = stage
    req.repo.save_contact(contact)
    return show_contact(req, contact, "Stage saved")


def _log(req: Request, kind: str) -> dict:
    contact = load_contact(req)
    if contact is None:
        return not_found()
    body = req.event.input("body") or ""
    try:
        if not body.strip():
            raise Invalid("Write something first.")
        bounded(body, "This text", NOTE_MAX)
    except Invalid as exc:
        return invalid(activity_form(contact, kind, req.viewer, error=str(exc), body=body), str(exc))
    activity = Activity(id=new_id("a"), kind=kind, at=utcnow(), body=body.strip(), author=req.rep,
                        contact_ids=[contact.id], company_ids=[contact.company_id] if contact.company_id else [])
    req.repo.add_activity(activity, rep=None)
    contact = req.repo.get_contact(contact.id)
    return show_contact(req, contact, "Note added" if kind == ActivityKind.NOTE else "Call logged")


@action("add_note")
def add_note(req: Request) -> dict:
    return _log(req, ActivityKind.NOTE)


@action("log_call")
def log_call(req: Request) -> dict:
    return _log(req, ActivityKind.CALL)
