"""A contact's card actions: open it and its forms, add one, edit fields, tags, owner, stage, notes and calls.

A contact id always comes from our own card's parameters and is read through
the tenant's repository (`with_contact`), so an id of another tenant is simply
not found.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from addon.actions import Handler, action
from addon.actions.forms import (
    EXPIRED_REQUEST,
    Invalid,
    check_teammate,
    invalid,
    new_request_id,
    request_id_of,
    request_usable,
    text,
    typed_custom_fields,
)
from addon.context import Request
from addon.events import BadEvent
from addon.people import fill_timeline, person_of
from cards import errors as error_cards
from cards import responses
from cards.contact import (
    activity_form,
    add_contact_form,
    contact_card,
    edit_form,
    stage_form,
    tags_form,
    timeline_card,
)
from cards.people import Person
from models import rules
from models.addresses import company_domain, is_valid_email, name_parts, normalize_email
from models.domain import Activity, ActivityKind, Contact, parse_lifecycle_stage, utcnow
from models.repository import Conflict, NotFound, RequestExpired, contact_id_for, new_id, request_activity_id


def not_found() -> dict:
    return responses.update_card(error_cards.not_found_card("contact"), "Contact not found")


def show_contact(req: Request, contact: Contact, notification: str) -> dict:
    return responses.update_card(contact_card(person_of(req.repo, contact), req.viewer), notification)


def with_contact(handler: Callable[[Request, Contact], dict]) -> Handler:
    """Load the contact the card's `contact_id` names (aliases followed), or answer "Contact not found"."""
    @functools.wraps(handler)
    def loaded(req: Request) -> dict:
        try:
            contact = req.repo.get_contact(req.event.parameter("contact_id"))
        except NotFound:
            return not_found()
        return handler(req, contact)
    return loaded


# --- opening -------------------------------------------------------------------------------

@action("form")
def open_form(req: Request) -> dict:
    if req.event.parameter("form") == "add_contact":
        email = normalize_email(req.event.parameter("email"))
        # the name and company sync would give the person (sync.writer): one rule for both
        first, middle, last = name_parts(req.event.parameters.get("name", ""), email)
        domain = company_domain(email, req.settings.free_mail_domains) or ""
        return responses.push_card(add_contact_form(email, first, middle, last, domain, req.viewer,
                                                    request_id=new_request_id()))
    return _open_contact_form(req)


@with_contact
def _open_contact_form(req: Request, contact: Contact) -> dict:
    form = req.event.parameter("form")
    builders = {
        "note": lambda: activity_form(contact, ActivityKind.NOTE, req.viewer, request_id=new_request_id()),
        "call": lambda: activity_form(contact, ActivityKind.CALL, req.viewer, request_id=new_request_id()),
        "edit": lambda: edit_form(contact, req.viewer),
        "tags": lambda: tags_form(contact, req.viewer),
        "stage": lambda: stage_form(contact, req.viewer),
    }
    if form not in builders:
        raise BadEvent(f"unknown form {form!r}")
    return responses.push_card(builders[form]())


@action("open_contact")
@with_contact
def open_contact(req: Request, contact: Contact) -> dict:
    return responses.push_card(contact_card(person_of(req.repo, contact), req.viewer))


@action("show_more")
@with_contact
def show_more(req: Request, contact: Contact) -> dict:
    try:
        person = fill_timeline(req.repo, Person(contact.primary_email, contact=contact),
                               cursor=req.event.parameter("cursor"))
    except ValueError:
        raise BadEvent("invalid timeline cursor") from None
    card = timeline_card(contact, person.entries, person.next_cursor, req.viewer)
    return responses.update_card(card) if req.event.parameters.get("replace") else responses.push_card(card)


# --- writes ---------------------------------------------------------------------------------

@action("add_contact")
def add_contact(req: Request) -> dict:
    """Create the contact; the same click posted again (a Retry) answers as the first did, adding nothing.

    A click whose form is older than the request window is answered the form
    again, under a new request id, saying so (`forms.EXPIRED_REQUEST`).
    """
    email = normalize_email(req.event.parameter("email"))
    first, middle, last, title = (text(req, n) for n in ("first_name", "middle_name", "last_name", "title"))
    domain = company_domain(email, req.settings.free_mail_domains) or ""
    request_id = request_id_of(req)
    usable = request_usable(request_id)

    def again(message: str) -> dict:
        return invalid(add_contact_form(email, first, middle, last, domain, req.viewer, error=message, title=title,
                                        request_id=(request_id if usable else None) or new_request_id()), message)

    def exists() -> dict:
        if request_id is not None and req.repo.created_by_request(req.rep, request_id) == contact.id:
            return show_contact(req, req.repo.get_contact(contact.id), f"{contact.display_name} added")
        return again(f"{email} is already a contact.")

    try:
        if not is_valid_email(email):
            raise Invalid(f"{email} is not an email address.")
        rules.check_person(first, middle, last, title)
    except Invalid as exc:
        return again(str(exc))
    if not usable:
        return again(EXPIRED_REQUEST)
    contact = Contact(id=contact_id_for(email), emails=[email], first_name=first, middle_name=middle, last_name=last,
                      title=title, company_id=domain or None, owner=req.rep, source="gmail_card")
    try:
        if req.repo.find_contact_by_email(email) is not None:
            return exists()
        if domain and req.repo.get_company(domain) is None:
            req.repo.save_company(rules.new_company(domain))
        try:
            req.repo.create_contact(contact, request=(req.rep, request_id) if request_id else None)
        except Conflict:
            return exists()
    except RequestExpired:  # the window closed during this request
        usable = False
        return again(EXPIRED_REQUEST)
    return show_contact(req, contact, f"{contact.display_name} added")


@action("edit_fields")
@with_contact
def edit_fields(req: Request, contact: Contact) -> dict:
    names = ("first_name", "middle_name", "last_name", "title", "phone")
    typed = {n: text(req, n) for n in names}
    custom_typed: dict[str, str] = {}
    try:
        rules.check_person(typed["first_name"], typed["middle_name"], typed["last_name"], typed["title"])
        phone = rules.parse_phone(typed["phone"], rules.region_of_locale(req.event.locale))
        custom = typed_custom_fields(req, "contact", contact.custom, custom_typed)
    except Invalid as exc:
        message = str(exc)
        return invalid(edit_form(contact, req.viewer, error=message, values={**typed, **custom_typed}), message)
    named = (typed["first_name"], typed["middle_name"], typed["last_name"])
    if named != (contact.first_name, contact.middle_name, contact.last_name):
        contact.name_source = ""  # typed by a rep: sync never renames it (sync.people)
    contact.first_name, contact.middle_name, contact.last_name = named
    contact.title, contact.phone, contact.custom = typed["title"], phone, custom
    req.repo.save_contact(contact)
    return show_contact(req, contact, "Saved")


@action("add_tag")
@with_contact
def add_tag(req: Request, contact: Contact) -> dict:
    typed = text(req, "tag")
    try:
        tag = rules.add_tag(contact.tags, typed)
    except Invalid as exc:
        return invalid(tags_form(contact, req.viewer, error=str(exc), tag=typed), str(exc))
    req.repo.save_contact(contact)
    return responses.update_card(tags_form(contact, req.viewer), f"Tagged {tag}")


@action("remove_tag")
@with_contact
def remove_tag(req: Request, contact: Contact) -> dict:
    tag = req.event.parameter("tag")
    if tag not in contact.tags:
        message = f"{tag} is not a tag of this contact."
        return invalid(tags_form(contact, req.viewer, error=message), message)
    contact.tags.remove(tag)
    req.repo.save_contact(contact)
    return responses.update_card(tags_form(contact, req.viewer), f"Removed {tag}")


@action("set_owner")
@with_contact
def set_owner(req: Request, contact: Contact) -> dict:
    raw = req.event.parameters.get("owner") or text(req, "owner")
    try:
        owner = check_teammate(req, raw)
    except Invalid as exc:
        return invalid(stage_form(contact, req.viewer, error=str(exc)), str(exc))
    contact.owner = owner
    req.repo.save_contact(contact)
    return show_contact(req, contact, f"Owner: {owner}")


@action("set_stage")
@with_contact
def set_stage(req: Request, contact: Contact) -> dict:
    try:
        stage = parse_lifecycle_stage(req.event.parameters.get("stage") or text(req, "stage"))
    except ValueError as exc:
        return invalid(stage_form(contact, req.viewer, error=str(exc)), "Unknown lifecycle stage")
    contact.lifecycle_stage = stage
    req.repo.save_contact(contact)
    return show_contact(req, contact, "Stage saved")


def _log(req: Request, contact: Contact, kind: ActivityKind) -> dict:
    """Store the note or call once per click: its id and a conditional create follow the card's request id.

    A click whose form is older than the request window is answered the form
    again, under a new request id, saying so (`forms.EXPIRED_REQUEST`).
    """
    body = req.event.input("body") or ""
    request_id = request_id_of(req)
    usable = request_usable(request_id)

    def again(message: str) -> dict:
        form = activity_form(contact, kind, req.viewer, error=message, body=body,
                             request_id=(request_id if usable else None) or new_request_id())
        return invalid(form, message)

    try:
        note = rules.check_note(body)
    except Invalid as exc:
        return again(str(exc))
    if not usable:
        return again(EXPIRED_REQUEST)
    activity_id = request_activity_id(req.rep, request_id) if request_id else new_id("a")
    activity = Activity(id=activity_id, kind=kind, at=utcnow(), body=note, author=req.rep,
                        contact_ids=[contact.id], company_ids=[contact.company_id] if contact.company_id else [])
    if request_id is None:  # a form built before request ids: nothing to recognise a retry by
        req.repo.add_activity(activity, rep=None)
    else:
        try:
            req.repo.add_activity_once(activity, req.rep, request_id)  # False: this click's note is stored already
        except RequestExpired:  # the window closed during this request: nothing was written
            usable = False
            return again(EXPIRED_REQUEST)
    contact = req.repo.get_contact(contact.id)
    return show_contact(req, contact, "Note added" if kind == ActivityKind.NOTE else "Call logged")


@action("add_note")
@with_contact
def add_note(req: Request, contact: Contact) -> dict:
    return _log(req, contact, ActivityKind.NOTE)


@action("log_call")
@with_contact
def log_call(req: Request, contact: Contact) -> dict:
    return _log(req, contact, ActivityKind.CALL)
