"""The Calendar event card: a short meeting brief for each external attendee (SPEC §1)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from cards.people import Person, Viewer
from cards.relationship import WARNING_COLOR, signals_for, strongest_text, waiting_text
from cards.timeline import A_MEETING, HIDDEN_SUBJECT, fmt_date, fmt_datetime, visible_text, whose
from cards.widgets import bold, button, button_list, card, decorated_text, esc, muted, paragraph, section
from models.domain import INBOUND, OUTBOUND, ActivityKind, utcnow
from models.rep_privacy import hidden_from

BRIEF_WINDOW_DAYS = 90  # "emails in/out in the last 90 days" (SPEC §1)
KNOWERS_SHOWN = 5


@dataclasses.dataclass
class Brief:
    person: Person
    emails_in: int = 0
    emails_out: int = 0

    @classmethod
    def of(cls, person: Person) -> Brief:
        """Counts from the person's timeline entries of the window (already fetched with `since`)."""
        emails = [e for e in person.entries if e.kind == ActivityKind.EMAIL and e.at <= utcnow()]
        return cls(person, sum(e.direction == INBOUND for e in emails), sum(e.direction == OUTBOUND for e in emails))


def brief_section(brief: Brief, viewer: Viewer, now: dt.datetime | None = None) -> dict[str, Any]:
    person, contact = brief.person, brief.person.contact
    if contact is None:
        widgets = [
            decorated_text(bold(person.display_name or person.email), top_label="Not in Sidecar yet",
                           bottom_label=person.email, icon="PERSON"),
            button_list(button("Add as contact", viewer.act("form", form="add_contact", email=person.email,
                                                            name=person.display_name))),
        ]
        return section(widgets, header=person.display_name or person.email)
    company = person.company.name if person.company and person.company.name else (contact.company_id or "")
    knowers = sorted(((at, rep) for rep, at in contact.touches.items() if at), reverse=True)[:KNOWERS_SHOWN]
    known_by = ", ".join("you" if rep == viewer.rep else viewer.teammate(rep) for _, rep in knowers)
    signals = signals_for(contact, viewer, now)
    widgets = [
        decorated_text(bold(contact.display_name), top_label=contact.title or None, bottom_label=company or None,
                       icon="PERSON", button_=button("Open", viewer.act("open_contact", contact_id=contact.id))),
        decorated_text(esc(fmt_datetime(signals.next_meeting_at, viewer.tz)) if signals.next_meeting_at
                       else muted("None planned"), top_label="Next meeting", icon="INVITE"),
        decorated_text(esc(fmt_date(signals.last_meeting_at, viewer.tz)), top_label="Last meeting with the team",
                       icon="INVITE"),
        decorated_text(esc(fmt_date(signals.last_email_at, viewer.tz)), top_label="Last email with the team",
                       icon="EMAIL"),
    ]
    waiting = waiting_text(signals)
    if waiting:
        widgets.append(decorated_text(f'<font color="{WARNING_COLOR}"><b>{esc(waiting)}</b></font>',
                                      top_label="Follow-up", icon="CLOCK"))
    latest = latest_exchange(person, viewer, now)
    if latest is not None:
        widgets.append(latest)
    widgets += [
        decorated_text(f"{brief.emails_in} in · {brief.emails_out} out",
                       top_label=f"Emails, last {BRIEF_WINDOW_DAYS} days", icon="CLOCK"),
        decorated_text(esc(strongest_text(signals, viewer)), top_label="Strongest connection on the team",
                       icon="STAR"),
        decorated_text(esc(known_by) or muted("Nobody yet"), top_label="Who on the team knows them",
                       icon="MULTIPLE_PEOPLE"),
    ]
    return section(widgets, header=contact.display_name)


def latest_exchange(person: Person, viewer: Viewer, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """The newest email or meeting that has happened, shown as the privacy level lets this rep see it: an
    email a teammate made private (models.rep_privacy) shows who and when only, a private meeting no title."""
    now = now or utcnow()
    entry = max((e for e in person.entries if e.at <= now and e.kind in (ActivityKind.EMAIL, ActivityKind.MEETING)),
                key=lambda e: (e.at, e.activity_id), default=None)
    if entry is None:
        return None
    private = hidden_from(entry, person.contact, viewer.rep)
    subject, snippet = visible_text(entry, viewer.rep, "metadata" if private else viewer.settings.privacy_level)
    if entry.private:  # a private Calendar event: its title was never stored
        subject, snippet = "", ""
    text = esc(subject) if subject else muted(HIDDEN_SUBJECT if entry.kind == ActivityKind.EMAIL else A_MEETING)
    who = whose(entry, viewer.rep, viewer.teammate)
    return decorated_text(text, top_label=f"Latest exchange · {fmt_date(entry.at, viewer.tz)} · {who}",
                          bottom_label=snippet[:120] or None, icon="EMAIL")


def event_card(briefs: list[Brief], viewer: Viewer, hidden: int = 0) -> dict[str, Any]:
    if not briefs:
        return card("event", "Meeting brief", [section([paragraph("No external attendees on this event.")])])
    sections = [brief_section(b, viewer) for b in briefs]
    if hidden:
        sections.append(section([paragraph(muted(f"{hidden} more attendees are not shown."))]))
    return card("event", "Meeting brief", sections, subtitle=f"{len(briefs) + hidden} external attendees")
