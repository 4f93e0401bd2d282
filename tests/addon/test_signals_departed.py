"""#15 x #17: a teammate who left is named so in the Relationship block and "Also in touch" (no Firestore)."""

from __future__ import annotations

import datetime as dt

from cards.contact import also_in_touch
from cards.people import Viewer
from cards.relationship import relationship_widgets, strongest_text
from models.domain import Contact, Settings
from models.signals import EMAIL, MEETING, OURS, THEIRS, Exchange, compute, thread_key

NOW = dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC)
REP, LEFT = "rep@team.example", "ann@team.example"
ACTIONS = "https://x.test/addon/action/"


def contact_known_best_by_ann() -> Contact:
    at = NOW - dt.timedelta(days=3)
    exchanges = [Exchange(at, MEETING, "", (LEFT,)), Exchange(at, EMAIL, OURS, (LEFT,), thread_key("Renewal")),
                 Exchange(at + dt.timedelta(hours=2), EMAIL, THEIRS, (LEFT,), thread_key("Renewal")),
                 Exchange(NOW - dt.timedelta(days=90), EMAIL, OURS, (REP,), thread_key("Hello"))]
    return Contact(id="c1", emails=["buyer@client.example"], touches={LEFT: at, REP: NOW - dt.timedelta(days=90)},
                   exchanges={str(n): e.encode() for n, e in enumerate(exchanges)})


def test_the_strongest_connection_and_also_in_touch_say_the_teammate_left():
    contact = contact_known_best_by_ann()
    signals = compute(contact.exchanges, NOW)
    assert signals.strongest == LEFT
    present = Viewer(REP, Settings(rep_names={LEFT: "Ann Lee"}), ACTIONS)
    gone = Viewer(REP, Settings(rep_names={LEFT: "Ann Lee"}, departed_reps=[LEFT]), ACTIONS)
    unnamed = Viewer(REP, Settings(departed_reps=[LEFT]), ACTIONS)

    assert strongest_text(signals, present) == f"Ann Lee ({signals.strength_by_rep[LEFT]})"
    assert strongest_text(signals, gone) == f"Ann Lee · {LEFT} (former teammate) ({signals.strength_by_rep[LEFT]})"
    assert strongest_text(signals, unnamed).startswith(f"{LEFT} (former teammate) (")
    assert "Strongest connection: Ann Lee · ann@team.example (former teammate)" in str(
        relationship_widgets(contact, gone, NOW))

    row = also_in_touch(contact, present)[1]["decoratedText"]
    assert (row["text"], row["topLabel"]) == ("Ann Lee", LEFT)  # the name, the address above it
    row = also_in_touch(contact, gone)[1]["decoratedText"]
    assert row["text"] == f"Ann Lee · {LEFT} (former teammate)" and "topLabel" not in row
