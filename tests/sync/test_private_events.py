"""Private Calendar events (#15 acceptance 3): teammates see "a meeting" and its time; no title or names stored."""

from __future__ import annotations

import datetime as dt
import json

from cards.contact import timeline_widgets
from cards.people import Viewer
from gsim.world import Attendee
from models.domain import utcnow
from tests.sync.conftest import sync_run

ACTIONS = "https://x.test/addon/action/"


def private_meeting(simulator, rep: str):
    """A new meeting of the rep's with an outsider who has a display name, marked private."""
    start = (utcnow() - dt.timedelta(days=2)).replace(microsecond=0)
    event = simulator.add_event(rep, summary="Acquisition talks with Initech", start=start,
                                end=start + dt.timedelta(hours=1),
                                attendees=[Attendee("peter.gibbons@initech-h4.test", "Peter Gibbons", "accepted")])
    simulator.update_event(rep, event.id, visibility="private")
    return event


def stored_text(repo, activity_id: str, contact_id: str) -> str:
    activity = repo.activity_ref(activity_id).get().to_dict()
    rows = [s.to_dict() for s in repo.contact_ref(contact_id).collection("timeline").stream()]
    return json.dumps([activity, rows], default=str)


def test_a_private_event_shows_teammates_only_a_meeting_and_its_time(services, simulator, tenant_repo):
    rep, teammate = simulator.reps[0], simulator.reps[1]
    event = private_meeting(simulator, rep)

    assert all(r.error is None for r in sync_run(services).run(simulator.reps))

    activity = next(a for a in tenant_repo.activities_held_by(rep, [event.id]))
    assert activity.private and activity.subject == ""
    contact = tenant_repo.find_contact_by_email("peter.gibbons@initech-h4.test")
    text = stored_text(tenant_repo, activity.id, contact.id)
    assert "Acquisition" not in text and "Initech" not in text and "Peter Gibbons" not in text
    entries = [e for e in tenant_repo.timeline(contact.id).entries if e.activity_id == activity.id]
    settings = tenant_repo.get_settings()

    theirs = str(timeline_widgets(contact.id, entries, None, Viewer(teammate, settings, ACTIONS)))
    assert "A meeting" in theirs and "peter.gibbons" not in theirs
    assert activity.at.strftime("%-d %b %Y, %H:%M") in theirs  # its time
    mine = str(timeline_widgets(contact.id, entries, None, Viewer(rep, settings, ACTIONS)))
    assert "Private meeting" in mine


def test_an_event_made_private_after_it_was_synced_loses_its_title_and_names(services, simulator, tenant_repo):
    rep = simulator.reps[0]
    start = (utcnow() - dt.timedelta(days=1)).replace(microsecond=0)
    event = simulator.add_event(rep, summary="Board prep", start=start, end=start + dt.timedelta(hours=1),
                                attendees=[Attendee("sam.lumbergh@initrode-h4.test", "Sam Lumbergh", "accepted")])
    sync_run(services).run([rep])
    found = tenant_repo.activities_held_by(rep, [event.id])
    assert found and found[0].subject == "Board prep"

    simulator.update_event(rep, event.id, visibility="private")
    sync_run(services).run([rep])

    activity = tenant_repo.activities_held_by(rep, [event.id])[0]
    contact = tenant_repo.find_contact_by_email("sam.lumbergh@initrode-h4.test")
    assert activity.private and activity.subject == ""
    text = stored_text(tenant_repo, activity.id, contact.id)
    assert "Board prep" not in text and "Sam Lumbergh" not in text
