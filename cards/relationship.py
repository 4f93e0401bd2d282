"""Where the relationship stands: the "Relationship" block of the Gmail and contact cards, and its words.

Signals come from `models.signals` (computed when the card is built, from what
the contact document already holds: no read of its own). None carries a
subject or a snippet, only who and when, so they follow any privacy level as
they are, and an email a rep made private (models.rep_privacy: kept to who and
when) counts in them like any other; teammates are shown as `Viewer.teammate`
names them (by name, a departed one as a former teammate).
"""

from __future__ import annotations

import datetime as dt

from cards.people import Viewer
from cards.timeline import fmt_date, fmt_datetime
from cards.widgets import Widget, bold, decorated_text, esc, muted, paragraph
from models.domain import Contact, utcnow
from models.signals import Signals, of_contact, thresholds_of

WARNING_COLOR = "#B06000"  # Material's amber 900, as the contact card's other cautions


def signals_for(contact: Contact, viewer: Viewer, now: dt.datetime | None = None) -> Signals:
    return of_contact(contact, now or utcnow(), thresholds_of(viewer.settings))


def fmt_duration(delay: dt.timedelta | None) -> str:
    """"~40 min", "~5 h", "~2 days": a reply time as a rep reads it."""
    if delay is None:
        return "n/a"
    minutes = delay.total_seconds() / 60
    if minutes < 90:
        return f"~{max(1, round(minutes))} min"
    if minutes < 36 * 60:
        return f"~{round(minutes / 60)} h"
    return f"~{round(minutes / 1440)} days"


def response_text(signals: Signals) -> str:
    """"Replied to 4 of 6" (the counts behind the rate, so a rep can judge it)."""
    if not signals.emails_asked:
        return "Nothing to judge yet"  # none of our emails of the window is answered or a week old
    return f"Replied to {signals.emails_answered} of {signals.emails_asked}"


def waiting_text(signals: Signals) -> str | None:
    if signals.waiting_on_us:
        return f"Waiting on us · {signals.waiting_on_us_days} working days"
    if signals.waiting_on_them:
        return f"Waiting on them · {signals.waiting_on_them_days} working days"
    return None


def strongest_text(signals: Signals, viewer: Viewer) -> str:
    if not signals.strongest:
        return "Nobody yet"
    who = "you" if signals.strongest == viewer.rep else viewer.teammate(signals.strongest)  # a departed one says so
    return f"{who} ({signals.strength_by_rep[signals.strongest]})"


def relationship_widgets(contact: Contact, viewer: Viewer, now: dt.datetime | None = None) -> list[Widget]:
    """The compact block: strength, response rate and reply times, waiting on, meetings, best time."""
    signals = signals_for(contact, viewer, now)
    widgets: list[Widget] = [paragraph(bold("Relationship"))]
    waiting = waiting_text(signals)
    if waiting:
        widgets.append(decorated_text(f'<font color="{WARNING_COLOR}"><b>{esc(waiting)}</b></font>',
                                      top_label="Follow-up", icon="CLOCK"))
    if signals.going_cold:
        widgets.append(decorated_text(f'<font color="{WARNING_COLOR}">Going cold</font>',
                                      top_label=f"Last two-way exchange {fmt_date(signals.last_two_way_at, viewer.tz)}",
                                      icon="CLOCK"))
    widgets += [
        decorated_text(f"{signals.strength} / 100", top_label="Strength",
                       bottom_label=f"Strongest connection: {esc(strongest_text(signals, viewer))}", icon="STAR"),
        decorated_text(esc(response_text(signals)), top_label="Response rate, last 180 days",
                       bottom_label=(f"They reply {fmt_duration(signals.their_reply_median)} · "
                                     f"we reply {fmt_duration(signals.our_reply_median)}"), icon="EMAIL"),
        decorated_text(esc(fmt_datetime(signals.next_meeting_at, viewer.tz)) if signals.next_meeting_at
                       else muted("None planned"), top_label="Next meeting",
                       bottom_label=f"Last meeting {fmt_date(signals.last_meeting_at, viewer.tz)} · "
                                    f"last email {fmt_date(signals.last_email_at, viewer.tz)}", icon="INVITE"),
    ]
    if signals.best_hours:
        start, end = signals.best_hours
        widgets.append(decorated_text(f"{start:02d}:00–{end:02d}:00 their time", top_label="Best time to reach",
                                      icon="CLOCK"))
    return widgets
