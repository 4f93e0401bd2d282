"""The home page: search, "my contacts" and recent activity; and the search results card."""

from __future__ import annotations

from typing import Any

from cards.contact import contact_row
from cards.people import Viewer
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
from models.domain import Contact, Segment
from models.search import SearchHit

RECENT_SHOWN = 10


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
    recent = sorted((c for c in mine if c.last_activity_at), key=lambda c: c.last_activity_at, reverse=True)
    recent_rows = [decorated_text(esc(c.display_name),
                                  top_label=f"Last activity {fmt_date(c.last_activity_at, viewer.tz)}",
                                  bottom_label=c.primary_email, icon="CLOCK",
                                  on_action=viewer.act("open_contact", contact_id=c.id))
                   for c in recent[:RECENT_SHOWN]] or [paragraph(muted("No recent activity."))]
    sections = [
        *import_notice(viewer.importing),
        section(search_widgets(viewer, error=error), header="Search"),
        section(my_rows, header="My contacts"),
        section(recent_rows, header="Recent activity"),
        section(segment_rows(segments or [], viewer), header="Segments"),
    ]
    if is_admin:
        sections.append(section([button_list(button("Open admin settings", viewer.act("admin")))], header="Admin"))
    return card("home", "Sidecar", sections, subtitle=viewer.rep)


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
