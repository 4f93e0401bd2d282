"""Saved segments on cards: the home page's list with counts, the segment form and the paged list."""

from __future__ import annotations

from typing import Any

from cards.contact import contact_row
from cards.people import Viewer
from cards.timeline import fmt_date
from cards.widgets import (
    Widget,
    button,
    button_list,
    card,
    decorated_text,
    error_text,
    esc,
    muted,
    paragraph,
    section,
    selection_input,
    text_input,
)
from models.domain import LIFECYCLE_STAGES, SEGMENT_SIGNALS, Contact, Segment
from models.segments import describe

ANY = ""  # the dropdown value meaning "no filter on this"


def count_label(segment: Segment, viewer: Viewer) -> str:
    if segment.count is None:
        return "Not counted yet"
    noun = "contact" if segment.count == 1 else "contacts"
    return f"{segment.count:,} {noun} · counted {fmt_date(segment.counted_at, viewer.tz)}"


def segment_rows(segments: list[Segment], viewer: Viewer) -> list[Widget]:
    """The home page's section: each segment with its cached count (no query; see models.segments)."""
    rows: list[Widget] = [decorated_text(esc(s.name), top_label=count_label(s, viewer), bottom_label=describe(s),
                                         icon="BOOKMARK", on_action=viewer.act("open_segment", segment_id=s.id))
                          for s in segments]
    if not rows:
        rows.append(paragraph(muted("Save a filter (tag, stage, owner, company, last activity, custom field) "
                                    "to find it here.")))
    buttons = [button("New segment", viewer.act("segment_form"))]
    if segments:
        buttons.append(button("Refresh counts", viewer.act("refresh_counts")))
    rows.append(button_list(*buttons))
    return rows


def segment_form(viewer: Viewer, error: str | None = None, values: dict[str, str] | None = None, *,
                 request_id: str) -> dict[str, Any]:
    """`request_id` (made by whoever builds the form) rides on Save: one click saves one segment."""
    values = values or {}
    widgets: list[Widget] = [error_text(error)] if error else []
    widgets += [
        text_input("name", "Segment name", values.get("name", ""), hint="e.g. Customers gone quiet"),
        text_input("tag", "Tag", values.get("tag", "")),
        selection_input("stage", "Lifecycle stage", [("Any", ANY)] + [(label, key) for key, label in
                                                                       LIFECYCLE_STAGES.items()],
                        values.get("stage", ANY)),
        text_input("owner", "Owner", values.get("owner", ""), hint="A teammate's email, or me"),
        text_input("company", "Company domain", values.get("company", ""), hint="e.g. acme.com"),
        selection_input("activity_mode", "Last activity", [("Any time", ANY), ("No touch in the last…", "inactive"),
                                                           ("Touched in the last…", "active")],
                        values.get("activity_mode", ANY)),
        text_input("activity_days", "Days", values.get("activity_days", ""), hint="e.g. 30"),
        selection_input("signal", "Relationship", [("Any", ANY)] + [(label.capitalize() + ("…" if key == "strength"
                                                                                             else ""), key)
                                                                 for key, label in SEGMENT_SIGNALS.items()],
                        values.get("signal", ANY)),
        text_input("strength", "Strength (0-100)", values.get("strength", ""), hint="e.g. 60"),
    ]
    for definition in viewer.settings.custom_fields:
        if definition.applies_to != "contact":
            continue
        name = "custom." + definition.key
        if definition.type == "select":
            widgets.append(selection_input(name, definition.label, [("Any", ANY)] + [(o, o) for o in
                                                                                     definition.options],
                                           values.get(name, ANY)))
        else:
            hint = {"number": "A number", "date": "YYYY-MM-DD"}.get(definition.type, "Exact value")
            widgets.append(text_input(name, definition.label, values.get(name, ""), hint=hint))
    widgets.append(button_list(button("Save segment", viewer.act("save_segment", request_id=request_id), filled=True)))
    return card("segment_form", "New segment", [section(widgets)], subtitle="Every filter you set must match")


def segment_card(segment: Segment, contacts: list[Contact], next_cursor: str | None, viewer: Viewer,
                 page_number: int = 1) -> dict[str, Any]:
    rows: list[Widget] = [paragraph(muted(describe(segment))),
                          decorated_text(esc(count_label(segment, viewer)), icon="MULTIPLE_PEOPLE")]
    rows += [contact_row(c, viewer) for c in contacts]
    if not contacts:
        rows.append(paragraph(muted("No contact matches this segment.")))
    buttons = []
    if next_cursor:
        buttons.append(button("Next page", viewer.act("open_segment", segment_id=segment.id, cursor=next_cursor,
                                                      page=page_number + 1)))
    buttons.append(button("Delete segment", viewer.act("delete_segment", segment_id=segment.id)))
    rows.append(button_list(*buttons))
    return card("segment", segment.name, [section(rows)], subtitle=f"Page {page_number}")
