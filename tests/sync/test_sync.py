"""End to end: the seeded team's mailboxes synced from the simulator into the emulator."""

from __future__ import annotations

import datetime as dt

import pytest

from models.addresses import company_domain, is_free_mail
from models.domain import Contact, Settings
from models.repository import activity_from_doc, activity_id_for, contact_id_for
from sync.__main__ import main, status_table
from tests.sync.conftest import SMALL_BATCHES_ARGS, sync_run
from tests.sync.helpers import people_written_to_or_met, snapshot


def sync(services, sim):
    return sync_run(services).run(sim.reps)


def test_the_team_syncs_into_contacts_companies_and_one_activity_per_real_email(services, simulator, tenant_repo):
    excluded = sorted({p.email.split("@")[1] for e in simulator.world.events.values() for p in e.attendees
                       if not p.email.endswith(simulator.domain) and not is_free_mail(p.email.split("@")[1])})[0]
    tenant_repo.save_settings(Settings(exclusions=[company_domain("x@" + excluded)]))

    results = sync(services, simulator)

    assert [r.state for r in results] == ["ok"] * 3
    emails = {s.id: s.get("contact_id") for s in tenant_repo.root.collection("emails").stream()}
    contacts = tenant_repo.get_contacts(set(emails.values()))
    expected = {p for p in people_written_to_or_met(simulator, simulator.domain)
                if not p.endswith(company_domain("x@" + excluded))}
    assert expected <= set(emails), expected - set(emails)
    for email, contact_id in emails.items():
        contact = contacts[contact_id]
        assert not email.endswith("@" + simulator.domain)  # never the team
        assert not any(word in email for word in ("noreply", "no-reply", "newsletter", "digest", "notifications"))
        assert company_domain(excluded + "@x") is None or not email.endswith(company_domain("x@" + excluded))
        assert contact.company_id == company_domain(email)  # registrable domain, None for free mail
        if is_free_mail(email.split("@")[1]):
            assert contact.company_id is None
    assert any(contact.company_id is None for contact in contacts.values())  # the free-mail correspondents
    assert any(email.split("@")[1].startswith("mail.") for email in emails)  # subdomain senders...
    assert all(c.company_id is None or not c.company_id.startswith("mail.") for c in contacts.values())

    activities = [tenant_repo.get_activity(s.id) for s in tenant_repo.root.collection("activities").stream()]
    shared = [a for a in activities if a.kind == "email" and len(a.holders) == 2]
    assert shared, "the seeded threads two reps are both on"
    keys = [a.external_key for a in activities]
    assert len(keys) == len(set(keys))
    assert not any(excluded in " ".join(p.email for p in a.participants) for a in activities)

    for activity in shared:  # the Gmail card finds a synced message by either rep's Gmail id
        for rep, gmail_id in activity.holders.items():
            participants, subject = tenant_repo.get_message(rep, gmail_id)
            assert (subject, participants) == (activity.subject, activity.participants)

    busiest = max(contacts.values(), key=lambda c: len(c.timeline_months))
    page = tenant_repo.timeline(busiest.id, limit=1000)
    linked = [a for a in activities if busiest.id in a.contact_ids]
    assert {e.activity_id for e in page.entries} == {a.id for a in linked}
    assert [e.at for e in page.entries] == sorted((e.at for e in page.entries), reverse=True)
    assert busiest.last_activity_at == max(a.at for a in linked)


def test_a_known_person_at_a_new_corporate_domain_is_flagged_not_merged(services, simulator, tenant_repo):
    sync(services, simulator)

    flagged = [c for c in tenant_repo.get_contacts(s.id for s in tenant_repo.root.collection("contacts").stream())
               .values() if c.job_change]
    assert len(flagged) == 1
    new_contact = tenant_repo.find_contact_by_email(flagged[0].job_change["email"])
    assert new_contact is not None and new_contact.id != flagged[0].id
    assert (new_contact.first_name, new_contact.last_name) == (flagged[0].first_name, flagged[0].last_name)
    assert flagged[0].job_change["company_id"] == new_contact.company_id != flagged[0].company_id


def test_an_unchanged_rerun_costs_one_history_and_one_events_call_and_one_write_per_mailbox(
        services, simulator, tenant_repo):
    sync(services, simulator)
    before = snapshot(tenant_repo)
    simulator.reset_counters()

    run = sync_run(services)
    results = run.run(simulator.reps)

    counters = simulator.counters()["by_mailbox"]
    for rep in simulator.reps:
        assert {m: v["calls"] for m, v in counters[rep].items()} == {
            "calendar.events.list": 1, "gmail.users.history.list": 1}
    assert [r.firestore_writes for r in results] == [1, 1, 1]  # the mailbox document
    assert run.link_writes == 0
    assert snapshot(tenant_repo) == before


def test_the_next_run_picks_up_exactly_what_changed(services, simulator, tenant_repo):
    sync(services, simulator)
    rep, other = simulator.reps[0], simulator.reps[1]
    new = simulator.add_message(rep, sender=rep, to=["Dana Buyer <dana.buyer@newco.io>"], subject="Hello Dana")
    box = simulator.world.mailboxes[rep]
    stored = {a.holders.get(rep): a for a in tenant_repo.activities_held_by(rep)}
    doomed = next(m for m in box.messages.values() if m.id in stored and m.id != new.id)
    simulator.delete_message(rep, doomed.id)
    meeting = next(a for a in tenant_repo.activities_held_by(other)
                   if a.kind == "meeting" and len(a.holders) == 1 and "_" not in a.holders[other])
    simulator.cancel_event(other, meeting.holders[other])
    count = sum(1 for _ in tenant_repo.root.collection("activities").stream())

    results = sync(services, simulator)

    assert [r.state for r in results] == ["ok"] * 3
    dana = tenant_repo.find_contact_by_email("dana.buyer@newco.io")
    assert dana is not None and dana.company_id == "newco.io"
    assert [e.subject for e in tenant_repo.timeline(dana.id).entries] == ["Hello Dana"]
    after = {s.id for s in tenant_repo.root.collection("activities").stream()}
    doomed_activity = stored[doomed.id]
    assert (doomed_activity.id in after) == (len(doomed_activity.holders) > 1)
    assert meeting.id not in after
    assert len(after) == count + 1 - 1 - (0 if doomed_activity.id in after else 1)
    for contact_id in meeting.contact_ids:
        assert meeting.id not in {e.activity_id for e in tenant_repo.timeline(contact_id, limit=1000).entries}


def test_a_new_email_in_two_reps_mailboxes_is_one_activity_held_by_both_after_the_next_run(
        services, simulator, tenant_repo):
    sync(services, simulator)
    rep, other = simulator.reps[0], simulator.reps[1]
    header = "<terms-2041@example.com>"
    for mailbox in (rep, other):  # the sent copy and the received one: one Message-ID, two Gmail ids
        simulator.add_message(mailbox, sender=rep, to=["Dana Buyer <dana.buyer@newco.io>", other],
                              subject="Terms", message_id_header=header)

    results = sync(services, simulator)

    assert [r.state for r in results] == ["ok"] * 3
    matching = [s.id for s in tenant_repo.root.collection("activities").stream()
                if s.get("external_key") == header]
    assert matching == [activity_id_for(header)]
    activity = tenant_repo.get_activity(matching[0])
    assert set(activity.holders) == {rep, other}
    dana = tenant_repo.find_contact_by_email("dana.buyer@newco.io")
    assert activity.contact_ids == [dana.id] and activity.company_ids == ["newco.io"]
    [entry] = tenant_repo.timeline(dana.id).entries
    assert entry.activity_id == activity.id and entry.holders == sorted([rep, other])
    assert set(dana.touches) == {rep, other}


def test_a_company_keeps_its_latest_activity(services, simulator, tenant_repo):
    sync(services, simulator)

    latest: dict[str, dt.datetime] = {}
    for document in tenant_repo.root.collection("activities").stream():
        activity = activity_from_doc(document)
        for company_id in activity.company_ids:
            latest[company_id] = max(latest.get(company_id, activity.at), activity.at)
    assert len(latest) > 3
    companies = tenant_repo.get_companies(latest)
    for company_id, at in latest.items():
        assert companies[company_id].last_activity_at.timestamp() == pytest.approx(at.timestamp())


def test_an_activity_goes_to_the_stored_company_of_each_linked_contact(services, simulator, tenant_repo):
    """A personal address on a contact placed at a company, and an address at a subdomain, both link
    the activity to the contact's company: on the first run and on later incremental ones."""
    rep = simulator.reps[0]
    personal = "jane.roe.home@gmail.com"
    tenant_repo.create_contact(Contact(id=contact_id_for(personal), emails=[personal], first_name="Jane",
                                       last_name="Roe", company_id="newco.io"))
    simulator.add_message(rep, sender=rep, to=[f"Jane Roe <{personal}>", "Sam Poe <sam.poe@mail.newco.io>"],
                          subject="Proposal")
    sync(services, simulator)
    simulator.add_message(rep, sender=rep, to=[f"Jane Roe <{personal}>"], subject="Follow-up")
    simulator.add_message(rep, sender=rep, to=["Sam Poe <sam.poe@mail.newco.io>"], subject="Agenda")

    results = sync(services, simulator)

    assert [r.state for r in results] == ["ok"] * 3
    sam = tenant_repo.find_contact_by_email("sam.poe@mail.newco.io")
    assert sam.company_id == "newco.io"
    mine = {a.subject: a for a in tenant_repo.activities_held_by(rep)
            if a.subject in ("Proposal", "Follow-up", "Agenda")}
    assert {subject: a.company_ids for subject, a in mine.items()} == {
        "Proposal": ["newco.io"], "Follow-up": ["newco.io"], "Agenda": ["newco.io"]}
    assert tenant_repo.get_company("newco.io").last_activity_at.timestamp() == pytest.approx(
        max(a.at for a in mine.values()).timestamp())


def test_expired_history_and_invalidated_sync_token_resync_without_duplicates(services, simulator, tenant_repo):
    sync(services, simulator)
    before = snapshot(tenant_repo)
    for rep in simulator.reps:
        simulator.add_message(rep, sender="Pat Buyer <pat.buyer@acme.co.uk>", subject=f"For {rep}")
        simulator.expire_history(rep)  # the stored history id is now older than Gmail keeps: 404
        simulator.invalidate_sync_token(rep)  # 410
    simulator.reset_counters()

    results = sync(services, simulator)

    assert [r.state for r in results] == ["ok"] * 3
    calls = simulator.counters()["by_method"]
    assert calls["gmail.users.messages.list"]["calls"] == 3 and calls["calendar.events.list"]["calls"] == 6
    after = snapshot(tenant_repo)
    new = set(after["activities"]) - set(before["activities"])
    assert len(new) == 3  # the three new messages, nothing twice
    assert {k: v for k, v in after["activities"].items() if k not in new} == before["activities"]


def test_a_revoked_mailbox_is_marked_and_the_others_finish(services, simulator, tenant_repo, sync_config,
                                                           monkeypatch, capsys):
    revoked = simulator.reps[1]
    simulator.revoke(revoked)
    for name, value in {"GOOGLE_CLOUD_PROJECT": sync_config["google_cloud_project"],
                        "FIRESTORE_EMULATOR_HOST": sync_config["firestore_emulator_host"],
                        "SIDECAR_GOOGLE_API_ROOT": sync_config["google_api_root"],
                        "GOOGLE_APPLICATION_CREDENTIALS": sync_config["google_application_credentials"],
                        "SIDECAR_USERS": ",".join(simulator.reps)}.items():
        monkeypatch.setenv(name, value)

    assert main(["once", *SMALL_BATCHES_ARGS]) == 1

    lines = capsys.readouterr().out.splitlines()
    assert sum("state=ok" in line for line in lines) == 2
    assert any(f"mailbox={revoked} state=revoked" in line and "invalid_grant" in line for line in lines)
    mailbox = tenant_repo.get_mailbox(revoked)
    assert (mailbox.state, mailbox.last_error) == ("revoked", "invalid_grant")
    assert main(["status"]) == 0
    table = capsys.readouterr().out
    assert revoked in table and "revoked" in table and "invalid_grant" in table
    assert table.splitlines()[0].split()[:2] == ["MAILBOX", "STATE"]


def test_status_table_shows_cursor_age():
    from models.domain import Mailbox
    now = dt.datetime.now(dt.UTC)
    lines = status_table([Mailbox("a@example.com", state="ok", last_success_at=now,
                                  cursor_at=now - dt.timedelta(minutes=5))])
    assert "5m" in lines[1] and "a@example.com" in lines[1]
