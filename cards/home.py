"""The home page: search, "my contacts", recent activity, needs attention; and the search results card."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cards.contact import contact_row
from cards.people import Viewer
from cards.relationship import signals_for
from cards.segments import segment_rows
from cards.timeline import fmt_date
from cards.widgets import (
    bold,
    button,
    button_list,
    card,
    decorated_text,
    error_text,
    esc,
    import_notice,
    muted,
    paragraph,
    section,
    text_input,
)
from models.domain import Contact, Segment, utcnow
from models.search import SearchHit
from models.signals import Signals

RECENT_SHOWN = 10
ATTENTION_SHOWN = 10
ATTENTION_RANK = 100_000  # keeps waiting on us above waiting on them above going cold


def search_widgets(viewer: Viewer, query: str = "", error: str | None = None, replace: bool = False) -> list[dict]:
    widgets = [error_text(error)] if error else []
    widgets += [
        text_input("query", "Search contacts and companies", query, hint="Name, email, or company domain"),
        button_list(button("Search", viewer.act("search", replace="1" if replace else None), filled=True)),
    ]
    return widgets


def home_card(mine: list[Contact], viewer: Viewer, error: str | None = None, segments: list[Segment] | None = None,
              is_admin: bool = False) -> dict[str, Any]:
    """Search, saved segments (with cached counts), my contacts, recent activity; "Admin" for admins."""
    my_rows = [contact_row(c, viewer) for c in mine] or [paragraph(muted("You own no contacts yet."))]
    now = utcnow()
    signals = {c.id: signals_for(c, viewer, now) for c in mine}  # past only: an upcoming meeting is no activity
    recent = sorted((c for c in mine if signals[c.id].last_activity_at),
                    key=lambda c: signals[c.id].last_activity_at, reverse=True)
    recent_rows = [decorated_text(esc(c.display_name),
                                  top_label=f"Last activity {fmt_date(signals[c.id].last_activity_at, viewer.tz)}",
                                  bottom_label=c.primary_email, icon="CLOCK",
                                  on_action=viewer.act("open_contact", contact_id=c.id))
                   for c in recent[:RECENT_SHOWN]] or [paragraph(muted("No recent activity."))]
    sections = [
        *import_notice(viewer.importing),
        section(search_widgets(viewer, error=error), header="Search"),
        section(my_rows, header="My contacts"),
        section(recent_rows, header="Recent activity"),
        section(attention_rows(mine, signals, viewer, now), header="Needs attention"),
        section(segment_rows(segments or [], viewer), header="Segments"),
    ]
    if is_admin:
        sections.append(section([button_list(button("Open admin settings", viewer.act("admin")))], header="Admin"))
    return card("home", "Sidecar", sections, subtitle=viewer.rep)


def needs_attention(contacts: list[Contact], signals: dict[str, Signals],
                    now: dt.datetime) -> list[tuple[Contact, str, int]]:
    """(contact, why, urgency) for the rep's contacts to act on, most urgent first.

    The contacts are those the home page already read ("my contacts", from the
    owner index), so the section costs no read and no query; a rep owning more
    than `addon.triggers.MY_CONTACTS_SHOWN` finds the rest with a signal segment ("Waiting on us").

    Waiting on us comes first (the longest wait first), then waiting on them past
    the tenant's threshold, then going cold (the longest silence first). Urgency
    is the working days waited, or the days silent for going cold, plus a rank
    so the three kinds never interleave.
    """
    found = []
    for contact in contacts:
        s = signals[contact.id]
        if s.waiting_on_us:
            found.append((contact, f"Waiting on us · {s.waiting_on_us_days} working days",
                          ATTENTION_RANK * 3 + s.waiting_on_us_days))
        elif s.waiting_on_them:
            found.append((contact, f"Waiting on them · {s.waiting_on_them_days} working days",
                          ATTENTION_RANK * 2 + s.waiting_on_them_days))
        elif s.going_cold and s.last_two_way_at:
            days = (now - s.last_two_way_at).days
            found.append((contact, f"Going cold · {days} days since they last wrote or met", ATTENTION_RANK + days))
    return sorted(found, key=lambda row: (-row[2], row[0].display_name, row[0].id))


def attention_rows(contacts: list[Contact], signals: dict[str, Signals], viewer: Viewer,
                   now: dt.datetime) -> list[dict]:
    rows = [decorated_text(esc(contact.display_name), top_label=why, bottom_label=contact.primary_email,
                           icon="CLOCK", on_action=viewer.act("open_contact", contact_id=contact.id))
            for contact, why, _ in needs_attention(contacts, signals, now)[:ATTENTION_SHOWN]]
    return rows or [paragraph(muted("Nothing needs you right now."))]


def results_card(query: str, hits: list[SearchHit], viewer: Viewer, note: str | None = None,
                 error: str | None = None) -> dict[str, Any]:
    rows = []
    for hit in hits:
        if hit.kind == "company":
            rows.append(decorated_text(bold(hit.title), top_label="Company", bottom_label=hit.subtitle, icon="STORE",
                                       on_action=viewer.act("open_company", domain=hit.id)))
        else:
            rows.append(decorated_text(esc(hit.title), bottom_label=hit.subtitle, icon="PERSON",
                                       on_action=viewer.act("open_contact", contact_id=hit.id)))
    if not rows:
        rows = [paragraph(muted("Search by name, email or company domain.") if error
                          else f"Nothing matches {bold(query)}.")]
    if note:
        rows.append(paragraph(muted(note)))
    return card("results", "Search results", [section(search_widgets(viewer, query, error=error, replace=True)),
                                                    section(rows)],
                subtitle=query or None)
