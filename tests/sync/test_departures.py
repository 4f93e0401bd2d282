"""A rep who leaves (#15 acceptance 2): suspended in the Directory, no longer synced, history kept, "departed"."""

from __future__ import annotations

import threading

from cards.admin import admin_card
from cards.contact import also_in_touch, timeline_widgets
from cards.people import Viewer
from models.domain import MailboxState
from sync.__main__ import status_table, sync_pass
from sync.runner import status_rows
from tests.addon.conftest import valid_card
from tests.sync.conftest import SMALL_FETCH_GROUP


def one_pass(services) -> bool:
    return sync_pass(services, threading.Event(), tuning={"fetch_group": SMALL_FETCH_GROUP})


def held_by(repo, rep: str) -> set[str]:
    return {a.id for a in repo.activities_held_by(rep)}


def test_a_suspended_rep_is_not_synced_their_history_stays_and_they_show_as_departed(services, simulator,
                                                                                    tenant_repo):
    assert one_pass(services)
    leaver, stayer = simulator.reps[0], simulator.reps[1]
    history = held_by(tenant_repo, leaver)
    assert history

    simulator.suspend_user(leaver)
    simulator.add_message(leaver, sender='"Late Buyer" <late.buyer@latecomer-h4.test>', to=[leaver],
                          subject="Anyone there?")
    simulator.add_message(stayer, sender='"New Buyer" <new.buyer@newcomer-h4.test>', to=[stayer],
                          subject="Still here")
    assert one_pass(services)

    mailbox = tenant_repo.get_mailbox(leaver)
    assert mailbox.state == MailboxState.DEPARTED and mailbox.departed_at is not None
    assert held_by(tenant_repo, leaver) == history  # nothing new synced, nothing removed
    subjects = {a.subject for a in tenant_repo.get_activities(held_by(tenant_repo, stayer)).values()}
    assert "Still here" in subjects  # the others went on
    assert leaver in tenant_repo.get_settings().departed_reps
    # `python -m sync status` and the admin card say so
    table = status_table(status_rows(services.repository, [simulator.admin]))
    assert any(line.startswith(leaver) and " departed " in f" {line} " for line in table)
    viewer = Viewer(rep=simulator.admin, settings=tenant_repo.get_settings(), actions="https://x.test/addon/action/")
    card = valid_card(admin_card(viewer.settings, tenant_repo.list_mailboxes(), viewer))
    rows = [w["decoratedText"] for w in card["sections"][0]["widgets"] if "decoratedText" in w]
    row = next(r for r in rows if r["text"].startswith(leaver))
    assert "departed" in row["text"] and row["button"]["text"] == "Reassign contacts"


def test_their_history_on_a_customers_timeline_says_former_teammate(services, simulator, tenant_repo):
    assert one_pass(services)
    leaver = simulator.reps[0]
    simulator.suspend_user(leaver)
    assert one_pass(services)

    settings = tenant_repo.get_settings()
    viewer = Viewer(rep=simulator.reps[2], settings=settings, actions="https://x.test/addon/action/")
    rows = []
    for activity in tenant_repo.get_activities(held_by(tenant_repo, leaver)).values():
        for contact in tenant_repo.get_contacts(activity.contact_ids).values():
            rows = [e for e in tenant_repo.timeline(contact.id, limit=200).entries
                    if e.holders[:2] == [leaver] or (leaver in e.holders[:2] and viewer.rep not in e.holders)]
            if rows:
                break
        if rows:
            break
    assert rows

    shown = str(timeline_widgets(contact.id, rows, None, viewer))
    assert f"{leaver} (former teammate)" in shown
    assert f"{leaver} (former teammate)" in str(also_in_touch(contact, viewer))


def test_a_rep_reinstated_in_the_directory_is_synced_again(services, simulator, tenant_repo):
    assert one_pass(services)
    leaver = simulator.reps[0]
    simulator.suspend_user(leaver)
    assert one_pass(services)
    simulator.suspend_user(leaver, suspended=False)
    simulator.add_message(leaver, sender='"Back Buyer" <back.buyer@returner-h4.test>', to=[leaver],
                          subject="Welcome back")

    assert one_pass(services)

    assert tenant_repo.get_mailbox(leaver).state == MailboxState.OK
    assert leaver not in tenant_repo.get_settings().departed_reps
    subjects = {a.subject for a in tenant_repo.get_activities(held_by(tenant_repo, leaver)).values()}
    assert "Welcome back" in subjects
