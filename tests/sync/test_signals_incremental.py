"""Issue 17, acceptance 2: signals sync keeps up incrementally equal the same computed from scratch.

After a full sync, incremental syncs that add and delete messages and cancel
a meeting, a merge of two contacts, and a sync killed mid-run and run again,
every contact's `exchanges` (what the cards compute signals from) equal those
computed from scratch over the activities linked to it, and so do the signals.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess

from models.domain import utcnow
from models.merge import merge_contacts
from models.repository import Repository
from models.signals import compute, exchanges_from_activities, is_internal_to, rebuild_signals
from tests.sync.conftest import sync_run
from tests.sync.test_convergence import ROOT, SUBPROCESS_TIMEOUT_SECONDS, SYNC_ONCE, kill_sync_midway


def assert_incremental_equals_scratch(repo: Repository) -> int:
    """Compares every contact; returns how many carry exchanges (so a test knows it compared something)."""
    now = utcnow()
    internal = is_internal_to([repo.tenant, *repo.get_settings().internal_domains])
    compared = 0
    for contact in repo.all_contacts():
        if contact.merged_into:
            continue
        scratch = exchanges_from_activities(repo.activities_of_contact(contact.id), contact.id, contact.emails,
                                            internal, now)
        assert contact.exchanges == scratch, contact.emails
        assert compute(contact.exchanges, now) == compute(scratch, now)
        compared += bool(scratch)
    return compared


def test_signals_kept_by_sync_equal_the_signals_from_scratch(services, simulator, tenant_repo):
    reps = simulator.reps
    assert all(r.state == "ok" for r in sync_run(services).run(reps))
    assert assert_incremental_equals_scratch(tenant_repo) > 10

    # incremental: a reply from a known person, a new thread to a new one, a deletion, a cancelled meeting
    rep, other = reps[0], reps[1]
    known = next(a for a in tenant_repo.activities_held_by(rep) if a.kind == "email" and a.direction == "outbound")
    person = next(p for p in known.participants if p.role == "to")
    simulator.add_message(rep, sender=person.email, to=[rep], subject=f"Re: {known.subject}",
                          date=utcnow() - dt.timedelta(hours=2))
    simulator.add_message(rep, sender=rep, to=["Dana Buyer <dana.buyer@newco.io>"], subject="Hello Dana")
    box = simulator.world.mailboxes[rep]
    held = {a.holders[rep]: a for a in tenant_repo.activities_held_by(rep) if a.kind == "email"}
    doomed = next(m for m in box.messages.values() if m.id in held and len(held[m.id].holders) == 1
                  and held[m.id].contact_ids)
    simulator.delete_message(rep, doomed.id)
    meeting = next(a for a in tenant_repo.activities_held_by(other)
                   if a.kind == "meeting" and len(a.holders) == 1 and "_" not in a.holders[other] and a.contact_ids)
    simulator.cancel_event(other, meeting.holders[other])
    assert all(r.state == "ok" for r in sync_run(services).run(reps))
    assert held[doomed.id].id not in tenant_repo.get_activities([held[doomed.id].id])
    assert assert_incremental_equals_scratch(tenant_repo) > 10

    # a merge of two contacts of one company, then a sync that names the merged address again
    by_company: dict[str, list] = {}
    for contact in tenant_repo.all_contacts():
        if contact.company_id and contact.exchanges and not contact.merged_into:
            by_company.setdefault(contact.company_id, []).append(contact)
    keep, gone = next(group for group in by_company.values() if len(group) >= 2)[:2]
    merge_contacts(tenant_repo, keep.id, gone.id)
    simulator.add_message(rep, sender=gone.primary_email, to=[rep], subject="After the merge",
                          date=utcnow() - dt.timedelta(hours=1))
    assert all(r.state == "ok" for r in sync_run(services).run(reps))
    merged = tenant_repo.get_contact(keep.id)
    assert set(gone.exchanges) <= set(merged.exchanges)
    assert assert_incremental_equals_scratch(tenant_repo) > 10


def test_signals_after_a_sync_killed_mid_run_and_run_again_equal_the_signals_from_scratch(
        simulator, tenant_repo, sync_env):
    env = {**os.environ, **sync_env, "PYTHONPATH": str(ROOT)}
    kill_sync_midway(simulator, tenant_repo, env)

    rerun = subprocess.run(SYNC_ONCE, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=SUBPROCESS_TIMEOUT_SECONDS)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert assert_incremental_equals_scratch(Repository(tenant_repo.client, simulator.domain)) > 10


def test_signals_rebuilt_from_the_activities_equal_what_sync_keeps(services, simulator, tenant_repo):
    """`python -m models signals`: the repair after an upgrade gives what sync would have kept."""
    assert all(r.state == "ok" for r in sync_run(services).run(simulator.reps))
    kept = {c.id: (c.exchanges, c.id) for c in tenant_repo.all_contacts()}
    some = [cid for cid, (exchanges, _) in kept.items() if exchanges][:5]
    for contact_id in some:  # as stored before sync kept exchanges
        tenant_repo.rebuild_exchanges(contact_id, {})
    assert rebuild_signals(tenant_repo) == sum(1 for c in tenant_repo.all_contacts() if not c.merged_into)
    assert {c.id: (c.exchanges, c.id) for c in tenant_repo.all_contacts()} == kept
    assert assert_incremental_equals_scratch(tenant_repo) > 10
