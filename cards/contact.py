"""Contact cards: one section per person on the Gmail message, the contact card, its forms and timeline.

Every builder takes `actions`, the action base URL (public URL + "/addon/action/"),
and the viewing rep, so nothing here reads configuration or the request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cards.people import Person, Viewer
from cards.relationship import relationship_widgets, signals_for
from cards.timeline import fmt_date, timeline_row
from cards.widgets import (
    Widget,
    bold,
    button,
    button_list,
    card,
    date_input,
    decorated_text,
    divider,
    error_text,
    esc,
    import_notice,
    muted,
    paragraph,
    section,
    selection_input,
    text_input,
)
from models.domain import (
    LIFECYCLE_STAGES,
    ActivityKind,
    Company,
    Contact,
    CustomFieldDefinition,
    Settings,
    TimelineEntry,
)
from models.rep_privacy import hidden_from, thread_is_private, thread_key
from models.rules import PHONE_EXAMPLE, TAG_MAX_LENGTH

ALSO_IN_TOUCH_MAX = 10  # reps listed under "Also in touch"
RECENT_TOUCH_DAYS = 14  # issue 7: warn when another rep touched the person this recently
RECENT_TOUCH_NAMED = 3  # reps named in that warning
WARNING_COLOR = "#B06000"  # Material's amber 900: a caution, not an error
DUPLICATE_REASONS = {"same_address": "Same email address", "similar_name": "Similar name at the same company"}
MERGE_RULE = ("The contact you keep wins every field it has a value for; an empty field takes the other's value. "
              "Emails, tags, custom fields and the whole timeline are combined. Every value of the other contact "
              "that lost goes into a \u201cPrevious values\u201d note on the timeline, and the other contact "
              "becomes an alias of the one you keep.")
CUSTOM_FIELDS_SHOWN = 10  # key custom fields on a contact section
HEADER_WIDGETS = 3  # what a collapsed section still shows: who, emails, owner


def person_section(person: Person, viewer: Viewer, collapsed: bool = False) -> dict[str, Any]:
    if person.contact is None:
        return unknown_section(person, viewer)
    widgets = contact_widgets(person, viewer)
    title = person.contact.display_name
    shown = HEADER_WIDGETS + (1 if touch_warning(person.contact, viewer) else 0)
    return section(widgets, header=title, collapsible=collapsed, uncollapsible=shown if collapsed else None)


def unknown_section(person: Person, viewer: Viewer) -> dict[str, Any]:
    widgets = [
        decorated_text(bold(person.display_name or person.email), top_label="Not in Sidecar yet",
                       bottom_label=person.email, icon="PERSON"),
        button_list(button("Add as contact", viewer.act("form", form="add_contact", email=person.email,
                                                        name=person.display_name), filled=True)),
    ]
    return section(widgets, header=person.display_name or person.email)


def contact_widgets(person: Person, viewer: Viewer) -> list[Widget]:
    contact = person.contact
    assert contact is not None
    company = person.company.name if person.company and person.company.name else (contact.company_id or "")
    widgets: list[Widget] = [
        decorated_text(bold(contact.display_name), top_label=contact.title or None, bottom_label=company or None,
                       icon="PERSON", button_=button("Open", viewer.act("open_contact", contact_id=contact.id))),
        decorated_text(esc(", ".join(contact.emails)), icon="EMAIL"),
        decorated_text(esc(viewer.teammate(contact.owner) if contact.owner else "Unassigned"), top_label="Owner",
                       bottom_label=contact.owner if contact.owner and contact.owner not in viewer.teammate(
                           contact.owner) else None, icon="MULTIPLE_PEOPLE"),
        decorated_text(esc(LIFECYCLE_STAGES.get(contact.lifecycle_stage, contact.lifecycle_stage)),
                       top_label="Lifecycle stage", icon="STAR"),
        decorated_text(esc(", ".join(contact.tags)) or muted("No tags"), top_label="Tags", icon="BOOKMARK"),
    ]
    warning = touch_warning(contact, viewer)
    if warning:
        widgets.insert(1, warning)  # second, so a collapsed section still shows it
    if contact.phone:
        widgets.append(decorated_text(esc(contact.phone), top_label="Phone", icon="PHONE"))
    widgets.extend(custom_field_widgets(contact, viewer.settings))
    if contact.job_change:
        widgets.extend(job_change_widgets(contact, viewer))
    widgets.append(button_list(
        button("Add note", viewer.act("form", form="note", contact_id=contact.id)),
        button("Log call", viewer.act("form", form="call", contact_id=contact.id)),
        button("Edit", viewer.act("form", form="edit", contact_id=contact.id)),
    ))
    quick = [button("Tags", viewer.act("form", form="tags", contact_id=contact.id)),
             button("Stage", viewer.act("form", form="stage", contact_id=contact.id))]
    if contact.owner != viewer.rep:
        quick.append(button("Assign to me", viewer.act("set_owner", contact_id=contact.id, owner=viewer.rep)))
    if contact.company_id:
        quick.append(button("Company", viewer.act("open_company", domain=contact.company_id)))
    widgets.append(button_list(*quick))
    widgets.extend(duplicate_widgets(contact, person.duplicates, viewer))
    widgets.extend(relationship_widgets(contact, viewer))
    widgets.extend(also_in_touch(contact, viewer))
    widgets.append(divider())
    widgets.append(privacy_buttons(contact, viewer))
    widgets.extend(timeline_widgets(contact.id, person.entries, person.next_cursor, viewer, contact=contact))
    return widgets


def privacy_buttons(contact: Contact, viewer: Viewer) -> Widget:
    """Keep everything the rep has with this person to who and when for teammates, or undo it."""
    mine = viewer.rep in contact.private_reps
    label = "Share my emails with them again" if mine else "Keep my emails with them private"
    return button_list(button(label, viewer.act("rep_privacy", contact_id=contact.id, share="1" if mine else None)))


def thread_privacy_widgets(contacts: list[Contact], thread: str, private: bool, viewer: Viewer) -> list[Widget]:
    label = "Share this thread again" if private else "Make this thread private"
    hint = ("Teammates see only who and when of this conversation." if private
            else "Teammates would see only who and when of this conversation; you still see everything.")
    return [divider(), paragraph(muted(hint)), button_list(button(label, viewer.act(
        "rep_privacy", contact_id=contacts[0].id, contact_ids=",".join(c.id for c in contacts[1:]) or None,
        thread=thread, share="1" if private else None)))]


def touch_warning(contact: Contact, viewer: Viewer, now: dt.datetime | None = None) -> Widget | None:
    """"Heads up" when another rep emailed or met this person in the last RECENT_TOUCH_DAYS days."""
    now = now or dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(days=RECENT_TOUCH_DAYS)
    recent = sorted(((at, rep) for rep, at in contact.touches.items() if rep != viewer.rep and at and at >= since),
                    reverse=True)
    if not recent:
        return None
    named = ", ".join(f"{viewer.teammate(rep)} ({_ago(at, now)})" for at, rep in recent[:RECENT_TOUCH_NAMED])
    more = f" and {len(recent) - RECENT_TOUCH_NAMED} more" if len(recent) > RECENT_TOUCH_NAMED else ""
    text = f'<font color="{WARNING_COLOR}"><b>Heads up:</b> {esc(named)}{more}</font>'
    return decorated_text(text, top_label=f"A teammate was in touch in the last {RECENT_TOUCH_DAYS} days",
                          icon="MULTIPLE_PEOPLE")


def _ago(at: dt.datetime, now: dt.datetime) -> str:
    days = (now - at).days
    return "today" if days <= 0 else "yesterday" if days == 1 else f"{days} days ago"


def job_change_widgets(contact: Contact, viewer: Viewer) -> list[Widget]:
    """The banner sync's job-change flag raises, with "Moved to <company>" and "Not a move"."""
    change = contact.job_change or {}
    company = str(change.get("company_id") or "")
    if not company:
        return []
    seen = f" as {change['email']}" if change.get("email") else ""
    return [
        error_text(f"Likely job change: now seen at {company}{seen}"),
        button_list(button(f"Moved to {company}", viewer.act("job_change", contact_id=contact.id, company=company),
                           filled=True),
                    button("Not a move", viewer.act("dismiss_job_change", contact_id=contact.id))),
    ]


def duplicate_widgets(contact: Contact, duplicates: list[tuple[Contact, str, float]], viewer: Viewer) -> list[Widget]:
    if not duplicates:
        return []
    widgets = [paragraph(bold("Possible duplicates"))]
    for other, reason, _score in duplicates[:ALSO_IN_TOUCH_MAX]:
        widgets.append(decorated_text(esc(other.display_name), top_label=DUPLICATE_REASONS.get(reason, reason),
                                      bottom_label=", ".join(other.emails) or None, icon="PERSON",
                                      button_=button("Merge", viewer.act("merge_form", keep_id=contact.id,
                                                                         merge_id=other.id))))
    return widgets


def merge_card(kept: Contact, other: Contact, conflicts: list[tuple[str, Any, Any]], viewer: Viewer,
               error: str | None = None) -> dict[str, Any]:
    """Confirm a merge: who is kept, the rule, and each field where the other's value will be set aside."""
    widgets: list[Widget] = [error_text(error)] if error else []
    widgets += [
        decorated_text(bold(kept.display_name), top_label="Keep", bottom_label=", ".join(kept.emails) or None,
                       icon="PERSON"),
        decorated_text(esc(other.display_name), top_label="Merge into it, then remove",
                       bottom_label=", ".join(other.emails) or None, icon="PERSON"),
        paragraph(esc(MERGE_RULE)),
    ]
    if conflicts:
        widgets.append(paragraph(bold("Kept / moved to \u201cPrevious values\u201d")))
        for label, mine, theirs in conflicts:
            widgets.append(decorated_text(f"{esc(mine)} {muted('/ ' + str(theirs))}", top_label=label))
    else:
        widgets.append(paragraph(muted("No field conflicts: nothing goes to a Previous values note.")))
    widgets.append(button_list(
        button("Merge", viewer.act("merge_contacts", keep_id=kept.id, merge_id=other.id), filled=True),
        button(f"Keep {other.display_name} instead", viewer.act("merge_form", keep_id=other.id, merge_id=kept.id)),
    ))
    return card("merge", "Merge contacts", [section(widgets)],
                subtitle=f"{other.display_name} into {kept.display_name}")


def contact_row(contact: Contact, viewer: Viewer) -> Widget:
    """One clickable line for a contact in a list (home page, segments), with its last activity (past only)."""
    bottom = contact.primary_email
    last = signals_for(contact, viewer).last_activity_at
    if last:
        bottom += f" · {fmt_date(last, viewer.tz)}"
    return decorated_text(esc(contact.display_name), top_label=contact.title or contact.company_id or None,
                          bottom_label=bottom, icon="PERSON",
                          on_action=viewer.act("open_contact", contact_id=contact.id))


def custom_field_widgets(contact: Contact, settings: Settings) -> list[Widget]:
    widgets = []
    for definition in settings.custom_fields:
        if definition.applies_to != "contact" or contact.custom.get(definition.key) in (None, ""):
            continue
        widgets.append(decorated_text(esc(format_custom(definition, contact.custom[definition.key])),
                                      top_label=definition.label))
        if len(widgets) == CUSTOM_FIELDS_SHOWN:
            break
    return widgets


def format_custom(definition: CustomFieldDefinition, value: Any) -> str:
    if definition.type == "number" and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def also_in_touch(contact: Contact, viewer: Viewer) -> list[Widget]:
    others = sorted(((at, rep) for rep, at in contact.touches.items() if rep != viewer.rep and at),
                    reverse=True)[:ALSO_IN_TOUCH_MAX]
    if not others:
        return []
    widgets = [paragraph(bold("Also in touch"))]
    for at, rep in others:
        shown = viewer.teammate(rep)  # its address under a name (a departed rep's says it already)
        widgets.append(decorated_text(esc(shown), top_label=rep if rep not in shown else None,
                                      bottom_label=f"Last touch {fmt_date(at, viewer.tz)}", icon="MULTIPLE_PEOPLE"))
    return widgets


def timeline_widgets(contact_id: str, entries: list[TimelineEntry], next_cursor: str | None,
                     viewer: Viewer, replace: bool = False, contact: Contact | None = None,
                     now: dt.datetime | None = None) -> list[Widget]:
    """"Upcoming" (soonest first) above the past rows (newest first), and "Show more" (which opens the
    timeline card, then pages inside it). What is upcoming is decided now, so a meeting that passes
    moves down without a sync.

    `contact` carries what reps made private with this person (models.rep_privacy)."""
    now = now or dt.datetime.now(dt.UTC)
    level = viewer.settings.privacy_level

    def row(entry: TimelineEntry) -> Widget:
        return timeline_row(entry, viewer.rep, level, viewer.tz, viewer.teammate,
                            private=hidden_from(entry, contact, viewer.rep))

    upcoming = sorted((e for e in entries if e.at > now), key=lambda e: (e.at, e.activity_id))
    past = [e for e in entries if e.at <= now]
    widgets: list[Widget] = []
    if upcoming:
        widgets.append(paragraph(bold("Upcoming")))
        widgets.extend(row(entry) for entry in upcoming)
    widgets.append(paragraph(bold("Team timeline")))
    if not past:
        widgets.append(paragraph(muted("Nothing yet.")))
    widgets.extend(row(entry) for entry in past)
    if next_cursor:
        more = viewer.act("show_more", contact_id=contact_id, cursor=next_cursor, replace="1" if replace else None)
        widgets.append(button_list(button("Show more", more)))
    return widgets


def message_card(people: list[Person], viewer: Viewer, subject: str = "", hidden: int = 0) -> dict[str, Any]:
    """The Gmail contextual card: the sender first, then the other external participants; last, the rep's
    choice to keep this thread private (models.rep_privacy) when the message has a subject and known people."""
    if not people:
        body = [section([paragraph("No external people on this message: nothing to show.")]),
                *import_notice(viewer.importing)]
        return card("message", "Sidecar", body, subtitle=subject or None)
    sections = [person_section(p, viewer, collapsed=n > 0) for n, p in enumerate(people)]
    if hidden:
        sections.append(section([paragraph(muted(f"{hidden} more participants are not shown."))]))
    contacts = [p.contact for p in people if p.contact is not None]
    thread = thread_key(subject)
    if contacts and thread:  # in the first section: the card's sections are its people
        sections[0]["widgets"].extend(thread_privacy_widgets(
            contacts, thread, thread_is_private(contacts, subject, viewer.rep), viewer))
    sections += import_notice(viewer.importing)
    return card("message", people[0].contact.display_name if people[0].contact else (people[0].display_name
                or people[0].email), sections, subtitle=subject or None)


def contact_card(person: Person, viewer: Viewer, error: str | None = None) -> dict[str, Any]:
    widgets = contact_widgets(person, viewer)
    if error:
        widgets.insert(0, error_text(error))
    assert person.contact is not None
    return card("contact", person.contact.display_name, [section(widgets)],
                subtitle=person.contact.title or person.contact.company_id or None)


def timeline_card(contact: Contact, entries: list[TimelineEntry], next_cursor: str | None,
                  viewer: Viewer) -> dict[str, Any]:
    widgets = timeline_widgets(contact.id, entries, next_cursor, viewer, replace=True, contact=contact)
    return card("timeline", contact.display_name, [section(widgets)], subtitle="Team timeline")


# --- forms -------------------------------------------------------------------------------

def add_contact_form(email: str, first: str, middle: str, last: str, company: str, viewer: Viewer,
                     error: str | None = None, title: str = "", *, request_id: str) -> dict[str, Any]:
    """`request_id` (made by whoever builds the form) rides on the button: one click adds one contact."""
    widgets: list[Widget] = [error_text(error)] if error else []
    widgets += [
        decorated_text(esc(email), top_label="Email", icon="EMAIL"),
        text_input("first_name", "First name", first),
        text_input("middle_name", "Middle name", middle),
        text_input("last_name", "Last name", last),
        text_input("title", "Title", title),
        decorated_text(esc(company) or muted("Free mail: no company"), top_label="Company"),
        button_list(button("Add contact", viewer.act("add_contact", email=email, request_id=request_id),
                           filled=True)),
    ]
    return card("add_contact", "Add as contact", [section(widgets)], subtitle=email)


def edit_form(contact: Contact, viewer: Viewer, error: str | None = None,
              values: dict[str, str] | None = None) -> dict[str, Any]:
    """Standard fields and the tenant's custom fields, each input typed by its definition."""
    values = values or {}

    def value(name: str, current: object) -> str:
        return values.get(name, "" if current is None else str(current))

    widgets: list[Widget] = [error_text(error)] if error else []
    widgets += [
        text_input("first_name", "First name", value("first_name", contact.first_name)),
        text_input("middle_name", "Middle name", value("middle_name", contact.middle_name)),
        text_input("last_name", "Last name", value("last_name", contact.last_name)),
        text_input("title", "Title", value("title", contact.title)),
        text_input("phone", "Phone", value("phone", contact.phone), hint=f"International format, e.g. {PHONE_EXAMPLE}"),
    ]
    for definition in viewer.settings.custom_fields:
        if definition.applies_to == "contact":
            widgets.append(custom_input(definition, contact.custom.get(definition.key), values))
    widgets.append(button_list(button("Save", viewer.act("edit_fields", contact_id=contact.id), filled=True)))
    return card("edit", f"Edit {contact.display_name}", [section(widgets)])


def custom_input(definition: CustomFieldDefinition, current: Any, values: dict[str, str]) -> Widget:
    name = "custom." + definition.key
    if definition.type == "select":
        options = [("—", "")] + [(option, option) for option in definition.options]
        return selection_input(name, definition.label, options, values.get(name, current or ""))
    if definition.type == "date":
        ms = None
        if isinstance(current, str) and current:
            try:
                ms = int(dt.datetime.fromisoformat(current).replace(tzinfo=dt.UTC).timestamp() * 1000)
            except ValueError:
                ms = None
        return date_input(name, definition.label, ms)
    shown = values.get(name, "" if current is None else format_custom(definition, current))
    hint = "A number" if definition.type == "number" else ""
    return text_input(name, definition.label, shown, hint=hint)


def activity_form(contact: Contact, kind: str, viewer: Viewer, error: str | None = None,
                  body: str = "", *, request_id: str) -> dict[str, Any]:
    """`request_id` (made by whoever builds the form) rides on Save: one click stores one note or call."""
    label = "Note" if kind == ActivityKind.NOTE else "Call summary"
    name = "add_note" if kind == ActivityKind.NOTE else "log_call"
    widgets: list[Widget] = [error_text(error)] if error else []
    widgets += [text_input("body", label, body, multiline=True),
                button_list(button("Save", viewer.act(name, contact_id=contact.id, request_id=request_id),
                                   filled=True))]
    title = "Add note" if kind == ActivityKind.NOTE else "Log call"
    return card(name, title, [section(widgets)], subtitle=contact.display_name)


def tags_form(contact: Contact, viewer: Viewer, error: str | None = None, tag: str = "") -> dict[str, Any]:
    widgets: list[Widget] = [error_text(error)] if error else []
    for existing in contact.tags:
        widgets.append(decorated_text(esc(existing), icon="BOOKMARK", button_=button(
            "Remove", viewer.act("remove_tag", contact_id=contact.id, tag=existing))))
    widgets += [text_input("tag", "New tag", tag, hint=f"Letters, digits, space, - and _ ({TAG_MAX_LENGTH} at most)"),
                button_list(button("Add tag", viewer.act("add_tag", contact_id=contact.id), filled=True))]
    return card("tags", "Tags", [section(widgets)], subtitle=contact.display_name)


def stage_form(contact: Contact, viewer: Viewer, error: str | None = None) -> dict[str, Any]:
    widgets: list[Widget] = [error_text(error)] if error else []
    widgets += [
        selection_input("stage", "Lifecycle stage", [(label, key) for key, label in LIFECYCLE_STAGES.items()],
                        contact.lifecycle_stage),
        text_input("owner", "Owner (a teammate's email)", contact.owner or ""),
        button_list(button("Save stage", viewer.act("set_stage", contact_id=contact.id), filled=True),
                    button("Save owner", viewer.act("set_owner", contact_id=contact.id))),
    ]
    return card("stage", "Stage and owner", [section(widgets)], subtitle=contact.display_name)


def company_card(company: Company, contacts: list[Contact], viewer: Viewer) -> dict[str, Any]:
    widgets: list[Widget] = [decorated_text(bold(company.name or company.id), top_label="Company",
                                            bottom_label=company.id)]
    for definition in viewer.settings.custom_fields:
        if definition.applies_to == "company" and company.custom.get(definition.key) not in (None, ""):
            widgets.append(decorated_text(esc(format_custom(definition, company.custom[definition.key])),
                                          top_label=definition.label))
    widgets.append(decorated_text(esc(fmt_date(company.last_activity_at, viewer.tz)), top_label="Last activity"))
    widgets.append(paragraph(bold("People")))
    for contact in contacts:
        widgets.append(decorated_text(esc(contact.display_name), top_label=contact.title or None,
                                      bottom_label=contact.primary_email, icon="PERSON",
                                      on_action=viewer.act("open_contact", contact_id=contact.id)))
    if not contacts:
        widgets.append(paragraph(muted("No contacts yet.")))
    widgets.append(button_list(button("Edit", viewer.act("company_form", domain=company.id))))
    return card("company", company.name or company.id, [section(widgets)], subtitle=company.id)


def company_form(company: Company, viewer: Viewer, error: str | None = None,
                 values: dict[str, str] | None = None) -> dict[str, Any]:
    """The company's name and the tenant's company custom fields, each input typed by its definition."""
    values = values or {}
    widgets: list[Widget] = [error_text(error)] if error else []
    widgets.append(text_input("name", "Company name", values.get("name", company.name)))
    for definition in viewer.settings.custom_fields:
        if definition.applies_to == "company":
            widgets.append(custom_input(definition, company.custom.get(definition.key), values))
    widgets.append(button_list(button("Save", viewer.act("edit_company", domain=company.id), filled=True)))
    return card("company_edit", f"Edit {company.name or company.id}", [section(widgets)], subtitle=company.id)
