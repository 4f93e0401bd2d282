"""Timeline rows and dates as a rep sees them, with the tenant's privacy level applied (SPEC §9).

A teammate's email (or meeting) shows who and when under `metadata`, adds the
subject under `subject` (the default) and the snippet under `snippet`. A rep
always sees all of their own: an entry is theirs when their mailbox holds it.
Notes and logged calls are written for the team and always shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cards.widgets import Widget, decorated_text, esc, muted
from models.domain import DEFAULT_PRIVACY_LEVEL, INBOUND, OUTBOUND, ActivityKind, TimelineEntry

KIND_ICONS = {ActivityKind.EMAIL: "EMAIL", ActivityKind.MEETING: "INVITE", ActivityKind.NOTE: "DESCRIPTION",
              ActivityKind.CALL: "PHONE"}
KIND_LABELS = {ActivityKind.EMAIL: "Email", ActivityKind.MEETING: "Meeting", ActivityKind.NOTE: "Note",
               ActivityKind.CALL: "Call"}
HIDDEN_SUBJECT = "(subject hidden)"
FORMER_TEAMMATE = "(former teammate)"  # after a departed rep's name (Settings.departed_reps)
A_MEETING = "A meeting"  # what teammates see of a private Calendar event, with its time
PRIVATE_MEETING = "Private meeting"  # what its holders see (its title was never stored)


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


def whose(entry: TimelineEntry, viewer: str, named: Callable[[str], str] = str) -> str:
    """Whose row it is: "you", or the teammates holding it as `named` shows a rep (`Viewer.teammate`: by name
    when sync learnt it, a rep who left as a former teammate; their history stays visible)."""
    if entry.kind in (ActivityKind.NOTE, ActivityKind.CALL):
        return "you" if entry.author == viewer else (named(entry.author) if entry.author else "a teammate")
    if viewer in entry.holders:
        return "you"
    return ", ".join(named(rep) for rep in entry.holders[:2]) or "the team"


def timeline_row(entry: TimelineEntry, viewer: str, level: str | None, tz: dt.tzinfo,
                 named: Callable[[str], str] = str, private: bool = False) -> Widget:
    """`private`: a rep made this email private (models.rep_privacy): who and when only, whatever `level`."""
    subject, snippet = visible_text(entry, viewer, "metadata" if private else level)
    arrow = {INBOUND: "from", OUTBOUND: "to"}.get(entry.direction or "", "with")
    top = (f"{KIND_LABELS.get(entry.kind, entry.kind)} · {fmt_datetime(entry.at, tz)} · "
           f"{whose(entry, viewer, named)}")
    if entry.kind in (ActivityKind.NOTE, ActivityKind.CALL):
        text = esc(snippet) or muted("(empty)")
        snippet = ""
    else:
        shown = subject if subject else (HIDDEN_SUBJECT if entry.subject or entry.kind == ActivityKind.EMAIL else "")
        who = f" {arrow} {entry.counterpart}" if entry.counterpart else ""
        if entry.private:  # a private Calendar event: no title was stored; teammates see that it happened
            shown, who = (PRIVATE_MEETING, who) if viewer in entry.holders else (A_MEETING, "")
        text = (esc(shown) if subject else muted(shown or KIND_LABELS.get(entry.kind, ""))) + muted(who)
    return decorated_text(text, top_label=top, bottom_label=snippet[:120] or None,
                          icon=KIND_ICONS.get(entry.kind, "DESCRIPTION"))
