"""Issue #16 through a real pass: job changes on evidence, send-as aliases and secondary domains, better names."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from gsim import Simulator
from models.csv_io import export_contacts
from models.domain import Settings
from tests.sync.conftest import sync_run

DOMAIN = "people.example"
SECONDARY = "people-labs.example"
NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture
def simulator():
    """An empty Workspace: two synced reps (world.reps) and two teammates whose mail is not synced."""
    sim = Simulator(seed=5, domain=DOMAIN, reps=2, companies=1, messages=0, events=0).start()
    yield sim
    sim.stop()


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def teammates(sim) -> list[str]:
    return sorted(u for u in sim.world.users if u not in sim.reps and u != sim.admin)


def send(sim, holder: str, sender: str, to: str | list[str], when: dt.datetime, cc=(), subject="Hello") -> None:
    sim.add_message(holder, sender=sender, to=to, cc=list(cc), subject=subject, date=when)


def contacts_by_email(repo) -> dict:
    found = {}
    for contact in repo.all_contacts():
        for email in contact.emails:
            found[email] = contact
    return found


def test_a_move_across_two_reps_mailboxes_is_flagged_and_exported(services, simulator, tenant_repo):
    rep_a, rep_b = simulator.reps
    shared = teammates(simulator)[0]  # not synced: only the headers say they were on both threads
    for days in (200, 150, 120):
        send(simulator, rep_a, rep_a, "Dana Whitfield <dana.whitfield@oldco.example>", days_ago(days), cc=[shared])
    for days in (60, 30):
        send(simulator, rep_b, rep_b, "Dana Whitfield <dana@newco.example>", days_ago(days), cc=[shared])

    assert [r.state for r in sync_run(services).run(simulator.reps)] == ["ok", "ok"]

    people = contacts_by_email(tenant_repo)
    old, new = people["dana.whitfield@oldco.example"], people["dana@newco.example"]
    assert old.id != new.id  # flagged, never merged
    assert old.job_change["company_id"] == "newco.example" and old.job_change["email"] == "dana@newco.example"
    assert new.job_change is None
    out = io.StringIO()
    export_contacts(tenant_repo, out)
    rows = {r["Emails"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert (rows["dana.whitfield@oldco.example"]["Job Change"], rows["dana.whitfield@oldco.example"]["Moved To"],
            rows["dana.whitfield@oldco.example"]["Moved To Email"]) == ("flagged", "newco.example",
                                                                        "dana@newco.example")
    assert (rows["dana@newco.example"]["Job Change"], rows["dana@newco.example"]["Moved To"]) == ("", "")


def test_two_people_with_one_common_name_are_not_a_job_change(services, simulator, tenant_repo):
    rep_a, rep_b = simulator.reps
    # the same weeks, different reps, no teammate in common: two John Smiths
    for days in (90, 60, 30):
        send(simulator, rep_a, rep_a, "John Smith <john.smith@alpha.example>", days_ago(days))
        send(simulator, rep_b, rep_b, "John Smith <jsmith@beta.example>", days_ago(days - 1))
    # one after the other but never with the same teammate: still no evidence of a move
    send(simulator, rep_a, rep_a, "Ana Costa <ana@gamma.example>", days_ago(100))
    send(simulator, rep_b, rep_b, "Ana Costa <ana.costa@delta.example>", days_ago(20))
    # a notification that borrows a person's display name from a machine address
    send(simulator, rep_a, rep_a, "Mei Tan <mei@epsilon.example>", days_ago(80))
    send(simulator, rep_a, "Mei Tan <comments-noreply@docs.google.com>", rep_a, days_ago(10))

    sync_run(services).run(simulator.reps)

    people = contacts_by_email(tenant_repo)
    assert {"john.smith@alpha.example", "jsmith@beta.example", "ana@gamma.example", "ana.costa@delta.example",
            "mei@epsilon.example"} <= set(people)
    assert "comments-noreply@docs.google.com" not in people
    assert [c.emails for c in people.values() if c.job_change] == []


def test_mail_from_a_send_as_alias_or_a_secondary_domain_is_the_teams(services, simulator, tenant_repo):
    rep_a, rep_b = simulator.reps
    alias = "deals@rep-consulting.example"  # an external-domain alias of rep A (Gmail "Send mail as")
    simulator.world.users[rep_a].send_as.append(alias)
    tenant_repo.save_settings(Settings(internal_domains=[SECONDARY]))
    colleague = f"sam@{SECONDARY}"
    send(simulator, rep_b, f"Rep A <{alias}>", rep_b, days_ago(5), subject="Intro")  # alias seen in B's mailbox first
    send(simulator, rep_b, rep_b, [alias, colleague], days_ago(4))
    send(simulator, rep_b, colleague, rep_b, days_ago(3))
    send(simulator, rep_a, alias, "Lena Park <lena@customer.example>", days_ago(2))

    sync_run(services).run(simulator.reps)

    people = contacts_by_email(tenant_repo)
    assert set(people) == {"lena@customer.example"}  # the customer the alias wrote to, nobody on the team
    assert {c.id for c in tenant_repo.all_companies()} == {"customer.example"}
    assert tenant_repo.get_mailbox(rep_a).send_as == sorted([rep_a, alias])

    simulator.reset_counters()  # the next incremental pass does not ask again
    sync_run(services).run(simulator.reps)
    calls = simulator.counters()["by_mailbox"]
    assert all("gmail.users.settings.sendAs.list" not in calls.get(rep, {}) for rep in simulator.reps)


def test_a_worker_learns_each_mailboxs_aliases_as_it_first_syncs_it_and_keeps_them(services, simulator,
                                                                                     tenant_repo):
    rep_a, rep_b = simulator.reps
    alias = "deals@rep-consulting.example"
    simulator.world.users[rep_a].send_as.append(alias)
    send(simulator, rep_a, alias, "Lena Park <lena@customer.example>", days_ago(3))
    send(simulator, rep_b, f"Rep A <{alias}>", rep_b, days_ago(2))
    run = sync_run(services)  # as sync.pubsub's worker drives it: one mailbox at a time, no `run`

    run.sync_mailbox(rep_a)
    run.refresh()  # a worker's caches start over once an interval; the aliases stay known
    run.sync_mailbox(rep_b)

    assert set(contacts_by_email(tenant_repo)) == {"lena@customer.example"}
    assert tenant_repo.get_mailbox(rep_a).send_as == sorted([rep_a, alias])
    assert alias in run.tenant(DOMAIN).team.own_addresses


def test_a_name_guessed_from_the_address_improves_but_a_typed_one_stays(services, simulator, tenant_repo):
    rep_a, _ = simulator.reps
    send(simulator, rep_a, rep_a, "gl@acme-tools.example", days_ago(40))
    send(simulator, rep_a, rep_a, "kd@acme-tools.example", days_ago(40))
    sync_run(services).run(simulator.reps)
    people = contacts_by_email(tenant_repo)
    assert (people["gl@acme-tools.example"].name, people["kd@acme-tools.example"].name) == ("Gl", "Kd")
    typed = people["kd@acme-tools.example"]
    typed.first_name, typed.last_name, typed.name_source = "Kim", "Dahl", ""  # what the card's edit saves
    tenant_repo.save_contact(typed)

    send(simulator, rep_a, "Gary Lee <gl@acme-tools.example>", rep_a, days_ago(2))
    send(simulator, rep_a, "KD Robot <kd@acme-tools.example>", rep_a, days_ago(2))
    sync_run(services).run(simulator.reps)

    people = contacts_by_email(tenant_repo)
    assert (people["gl@acme-tools.example"].first_name, people["gl@acme-tools.example"].last_name) == ("Gary", "Lee")
    assert people["gl@acme-tools.example"].name_source == "header"
    assert people["kd@acme-tools.example"].name == "Kim Dahl"
    assert [c.id for c in tenant_repo.search("gary")] == [people["gl@acme-tools.example"].id]
