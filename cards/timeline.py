"""Timeline rows and dates as a rep sees them, with the tenant's privacy level applied (SPEC §9).

A teammate's email (or meeting) shows who and when under `metadata`, adds the
subject under `subject` (the default) and the snippet under `snippet`. A rep
always sees all of their own: an entry is theirs when their mailbox holds it.
Notes and logged calls are written for the team and always shown.
"""

from __future__ import annotations

import datetime as dt

from cards.widgets import Widget, decorated_text, esc, muted
from models.domain import DEFAULT_PRIVACY_LEVEL, INBOUND, OUTBOUND, ActivityKind, TimelineEntry

KIND_ICONS = {ActivityKind.EMAIL: "EMAIL", ActivityKind.MEETING: "INVITE", ActivityKind.NOTE: "DESCRIPTION",
              ActivityKind.CALL: "PHONE"}
KIND_LABELS = {ActivityKind.EMAIL: "Email", ActivityKind.MEETING: "Meeting", ActivityKind.NOTE: "Note",
               ActivityKind.CALL: "Call"}
HIDDEN_SUBJECT = "(subject hidden)"


def fmt_date(at: dt.datetime | None, tz: dt.tzinfo = dt.UTC) -> str:
    return at.astimezone(tz).strftime("%-d %b %Y") if at else "never"


def fmt_datetime(at: dt.datetime | None, tz: dt.tzinfo = dt.UTC) -> str:
    return at.astimezone(tz).strftime("%-d %b %Y, %H:%M") if at else "never"


def visible_text(entry: TimelineEntry, viewer: str, level: str | None) -> tuple[str, str]:
    """(subject, snippet) this viewer may read of the entry."""
    if entry.kind in (ActivityKind.NOTE, ActivityKind.CALL) or viewer in entry.holders:
        return entry.subject, entry.snippet
    level = level or DEFAULT_PRIVACY_LEVEL
    if level == "snippet":
        return entry.subject, entry.snippet
    if level == "subject":
        return entry.subject, ""
    return "", ""


def whose(entry: TimelineEntry, viewer: str) -> str:
    if entry.kind in (ActivityKind.NOTE, ActivityKind.CALL):
        return "you" if entry.author == viewer else (entry.author or "a teammate")
    if viewer in entry.holders:
        return "you"
    return ", ".join(entry.holders[:2]) or "the team"


def timeline_row(entry: TimelineEntry, viewer: str, level: str | None, tz: dt.tzinfo) -> Widget:
    subject, snippet = visible_text(entry, viewer, level)
    arrow = {INBOUND: "from", OUTBOUND: "to"}.get(entry.direction or "", "with")
    top = f"{KIND_LABELS.get(entry.kind, entry.kind)} · {fmt_datetime(entry.at, tz)} · {whose(entry, viewer)}"
    if entry.kind in (ActivityKind.NOTE, ActivityKind.CALL):
        text = esc(snippet) or muted("(empty)")
        snippet = ""
    else:
        shown = subject if subject else (HIDDEN_SUBJECT if entry.subject or entry.kind == ActivityKind.EMAIL else "")
        who = f" {arrow} {entry.counterpart}" if entry.counterpart else ""
        text = (esc(shown) if subject else muted(shown or KIND_LABELS.get(entry.kind, ""))) + muted(who)
    return decorated_text(text, top_label=top, bottom_label=snippet[:120] or None,
                          icon=KIND_ICONS.get(entry.kind, "DESCRIPTION"))
