"""A lease per mailbox (SPEC §7 "Scale"): one holder at a time, a fence where cursors move, dirty marks coalesced."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from models.domain import Mailbox
from models.leases import ALONE, Fenced, _Acquisition, _Group, _Release
from models.repository import Repository, doc_id
from sync.runner import LEASE_LOST, LEASED, SyncRun
from tests.sync.conftest import SMALL_BATCHES_ARGS, reference, sync_run
from tests.sync.helpers import snapshot

ROOT = Path(__file__).resolve().parents[2]
SUBPROCESS_TIMEOUT_SECONDS = 180
SHORT_TTL_SECONDS = 1.0
HEARTBEAT_TTL_SECONDS = 1.5  # renewed every 0.5 s
REP = "rep@example.com"


def test_one_holder_at_a_time_and_each_acquisition_raises_the_fence(repo):
    first = repo.acquire_lease(REP, "attempt-1", 60)
    assert first is not None and first.fence == 1
    assert repo.acquire_lease(REP, "attempt-2", 60) is None

    repo.release_lease(first)
    second = repo.acquire_lease(REP, "attempt-2", 60)

    assert second is not None and second.fence == 2


def test_an_expired_lease_is_taken_over_and_its_old_holder_can_no_longer_move_a_cursor(repo):
    stale = repo.acquire_lease(REP, "attempt-1", SHORT_TTL_SECONDS)
    repo.commit_cursors(Mailbox(email=REP, history_id="100"), stale, release=False)
    time.sleep(SHORT_TTL_SECONDS + 0.5)  # its heartbeat stopped: the lease expires on the server's clock
    current = repo.acquire_lease(REP, "attempt-2", 60)
    assert current is not None and current.fence == stale.fence + 1

    with pytest.raises(Fenced):
        repo.commit_cursors(Mailbox(email=REP, history_id="999"), stale)
    with pytest.raises(Fenced):
        repo.renew_lease(stale)
    assert repo.get_mailbox(REP).history_id == "100"

    repo.commit_cursors(Mailbox(email=REP, history_id="200"), current)
    assert repo.get_mailbox(REP).history_id == "200"


def test_a_live_holder_keeps_its_lease_past_the_ttl_by_renewing_it(repo):
    lease = repo.acquire_lease(REP, "attempt-1", SHORT_TTL_SECONDS)
    for _ in range(4):
        time.sleep(SHORT_TTL_SECONDS / 3)
        repo.renew_lease(lease)
        assert repo.acquire_lease(REP, "attempt-2", SHORT_TTL_SECONDS) is None
    repo.commit_cursors(Mailbox(email=REP, history_id="7"), lease)
    assert repo.get_mailbox(REP).history_id == "7"


def test_two_sync_once_processes_started_together_leave_what_one_leaves(simulator, tenant_repo, sync_env, twin):
    """Each process syncs three mailboxes at once: whichever leases a mailbox first syncs it, the other waits
    for the release and finds nothing new; meanwhile the two sync *different* reps who share threads, so
    both write the same activities at once (field-level merges, issue 14 point 3): no holder is lost."""
    env = {**os.environ, **sync_env, "PYTHONPATH": str(ROOT), "SIDECAR_SYNC_CONCURRENCY": "3"}
    command = [sys.executable, "-m", "sync", "once", *SMALL_BATCHES_ARGS]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=SUBPROCESS_TIMEOUT_SECONDS) for p in processes]

    assert [p.returncode for p in processes] == [0, 0], outputs
    counters = simulator.counters()["by_mailbox"]
    assert all(counters[rep]["gmail.users.getProfile"]["calls"] == 1 for rep in simulator.reps)  # one full sync each
    got, want = snapshot(Repository(tenant_repo.client, simulator.domain)), reference(twin)
    differing = {part: {key: (got[part].get(key), want[part].get(key)) for key in set(got[part]) | set(want[part])
                        if got[part].get(key) != want[part].get(key)} for part in want}
    if any(differing.values()):
        print("differing:", differing)
    assert not any(differing.values())
    leases = tenant_repo.mailbox_leases()
    assert {lease.name for lease in leases} == set(simulator.reps)
    assert all(lease.owner is None for lease in leases)  # every lease released


def test_a_request_for_a_leased_mailbox_marks_it_dirty_and_its_holder_goes_again_once(services, simulator,
                                                                                     tenant_repo):
    rep = simulator.reps[0]
    simulator.set_latency(20)
    holder = threading.Thread(target=lambda: sync_run(services).run([rep]))
    holder.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(s.owner for s in tenant_repo.mailbox_leases()):
        time.sleep(0.02)
    worker = SyncRun(services.repository, services.google_service, services.config, wait_for_lease=False)

    skipped = [worker.sync_mailbox(rep) for _ in range(3)]  # three notifications while it syncs
    holder.join(timeout=120)
    simulator.set_latency(0)

    assert [r.skipped for r in skipped] == [LEASED] * 3
    calls = simulator.counters()["by_mailbox"][rep]
    assert calls["gmail.users.history.list"]["calls"] == 1  # the holder went again once, not three times
    assert calls["calendar.events.list"]["calls"] >= 2


def test_a_sync_longer_than_its_lease_keeps_it_by_heartbeat(services, simulator, tenant_repo):
    rep = simulator.reps[0]
    simulator.set_latency(400)  # the full sync outlasts its lease's ttl
    run = SyncRun(services.repository, services.google_service, services.config,
                  lease_ttl_seconds=HEARTBEAT_TTL_SECONDS)

    [result] = run.run([rep])
    simulator.set_latency(0)

    assert result.state == "ok" and not result.error
    assert result.seconds > HEARTBEAT_TTL_SECONDS and result.lease_writes > 2  # renewed along the way
    assert tenant_repo.get_mailbox(rep).history_id


def test_a_sync_whose_lease_is_taken_over_halts_and_never_moves_a_cursor(services, simulator, tenant_repo):
    rep = simulator.reps[0]
    simulator.set_latency(20)
    results = []
    holder = threading.Thread(target=lambda: results.extend(
        SyncRun(services.repository, services.google_service, services.config,
                lease_ttl_seconds=HEARTBEAT_TTL_SECONDS).run([rep])))
    holder.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(s.owner for s in tenant_repo.mailbox_leases()):
        time.sleep(0.02)
    # another holder's write to the lease document (what a takeover after an expiry does)
    tenant_repo.root.collection("leases").document(rep).update({"owner": "intruder", "fence": 99})
    holder.join(timeout=60)
    simulator.set_latency(0)

    assert [r.error for r in results] == [LEASE_LOST]
    assert tenant_repo.get_mailbox(rep) is None  # its cursors were never written


def test_a_pass_stopped_while_waiting_for_a_leased_mailbox_reports_it_stopped(services, simulator, tenant_repo):
    rep = simulator.reps[0]
    assert tenant_repo.acquire_lease(rep, "another-process", 600) is not None
    stop = threading.Event()
    threading.Timer(1.5, stop.set).start()

    [result] = SyncRun(services.repository, services.google_service, services.config, stop).run([rep])

    assert result.error == "stopped" and not result.synced
    assert tenant_repo.get_mailbox(rep) is None


def test_a_long_lived_run_starts_its_caches_over_but_keeps_its_lock_and_commits_in_flight(services, simulator):
    run = SyncRun(services.repository, services.google_service, services.config)
    old = run.tenant(simulator.domain)
    old.contacts["someone@acme.com"] = None  # "no such contact", as a pass learnt it
    landed, pending = concurrent.futures.Future(), concurrent.futures.Future()
    landed.set_result(None)
    old.in_flight.update({"landed": landed, "pending": pending})

    run.refresh()

    fresh = run.tenant(simulator.domain)
    assert fresh is not old and fresh.contacts == {}
    assert fresh.lock is old.lock and fresh.in_flight is old.in_flight
    assert fresh.in_flight == {"pending": pending}


def test_the_release_says_whether_the_mailbox_was_marked_dirty_while_it_was_held(repo):
    """The dirty check rides on the commit that releases the lease (models.leases): a mark that landed
    while the lease was held fails the first try of that commit, and the release says so; one from
    before the lease was taken was answered by the sync that followed, and goes with the release."""
    repo.mark_mailbox_dirty(REP)  # before any lease: the next sync answers it
    first = repo.acquire_lease(REP, "attempt-1", 60)
    assert repo.commit_cursors(Mailbox(email=REP, history_id="1"), first) is False

    second = repo.acquire_lease(REP, "attempt-2", 60)
    assert second.mark_seen is None  # the release took the answered mark with it
    repo.mark_mailbox_dirty(REP)
    repo.mark_mailbox_dirty(REP)  # coalesced with the first
    assert repo.commit_cursors(Mailbox(email=REP, history_id="2"), second) is True
    assert repo.get_mailbox(REP).history_id == "2"  # the cursors moved all the same

    third = repo.acquire_lease(REP, "attempt-3", 60)  # released by the second commit
    assert third is not None and third.mark_seen is not None  # the mark stays for the sync that follows
    repo.mark_mailbox_dirty(REP)  # a newer mark than the one the acquisition read
    assert repo.commit_cursors(Mailbox(email=REP, history_id="3"), third) is True

    fourth = repo.acquire_lease(REP, "attempt-4", 60)
    assert repo.commit_cursors(Mailbox(email=REP, history_id="4"), fourth, release=False) is False  # kept
    assert repo.commit_cursors(Mailbox(email=REP, history_id="5"), fourth) is False  # answered by this sync
    assert repo.get_mailbox(REP).history_id == "5"


def test_a_stale_holders_release_is_refused_even_when_the_mailbox_was_marked_dirty(repo):
    stale = repo.acquire_lease(REP, "attempt-1", SHORT_TTL_SECONDS)
    time.sleep(SHORT_TTL_SECONDS + 0.5)
    current = repo.acquire_lease(REP, "attempt-2", 60)
    repo.mark_mailbox_dirty(REP)

    with pytest.raises(Fenced):  # never taken for "marked" when the lease is what moved
        repo.commit_cursors(Mailbox(email=REP, history_id="999"), stale)
    assert repo.get_mailbox(REP) is None
    assert repo.commit_cursors(Mailbox(email=REP, history_id="1"), current) is True


def test_the_mailbox_is_read_with_its_lease_and_says_its_state_when_another_holds_it(repo):
    repo.save_mailbox(Mailbox(email=REP, history_id="42"))
    lease, stored = repo.acquire_mailbox(REP, "attempt-1", 60)
    assert lease is not None and stored.history_id == "42"

    other, seen = repo.acquire_mailbox(REP, "attempt-2", 60)

    assert other is None and seen.history_id == "42"
    assert repo.acquire_mailbox("new@example.com", "attempt-3", 60)[1] is None


def test_every_lease_a_process_holds_is_kept_by_its_one_renewal_thread(services, simulator):
    """Renewals of every lease held are one thread's (sync.leasing): syncs side by side, each longer than
    its lease's ttl, all keep theirs."""
    reps = simulator.reps[:2]
    simulator.set_latency(400)
    run = SyncRun(services.repository, services.google_service, services.config,
                  lease_ttl_seconds=HEARTBEAT_TTL_SECONDS)

    results = run.run(reps)
    simulator.set_latency(0)

    assert [(r.state, r.error) for r in results] == [("ok", None)] * len(reps)
    assert all(r.seconds > HEARTBEAT_TTL_SECONDS and r.lease_writes > 2 for r in results)


def test_calls_made_while_one_is_in_flight_go_out_together_as_the_next():
    """`models.leases._Group`: the first call goes at once, alone; those arriving meanwhile are one call."""
    sent: list[list[str]] = []
    first_in_flight, let_it_finish = threading.Event(), threading.Event()

    def send(items: list[str]) -> list[str]:
        sent.append(list(items))
        if len(sent) == 1:
            first_in_flight.set()
            let_it_finish.wait(10)
        return [item.upper() for item in items]

    group = _Group(send)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        first = pool.submit(group.run, "a")
        assert first_in_flight.wait(10)
        later = [pool.submit(group.run, name) for name in "bcdef"]
        deadline = time.monotonic() + 10
        while len(group._waiting) < 5 and time.monotonic() < deadline:  # all five queued behind the first
            time.sleep(0.01)
        let_it_finish.set()
        answers = [first.result(10), *(future.result(10) for future in later)]

    assert answers == list("ABCDEF")  # each caller gets its own answer
    assert sent[0] == ["a"] and sorted(sent[1]) == list("bcdef") and len(sent) == 2


def test_a_group_of_acquisitions_takes_the_free_leases_in_one_commit_and_leaves_the_held_ones(repo):
    free, released, held = "free@example.com", "released@example.com", "held@example.com"
    repo.release_lease(repo.acquire_lease(released, "earlier", 60))
    other = repo.acquire_lease(held, "another-worker", 60)
    leases = repo._leases

    answers = leases._acquire_together([_Acquisition(doc_id(free), "a", 60, ()),
                                        _Acquisition(doc_id(released), "b", 60, ()),
                                        _Acquisition(doc_id(held), "c", 60, ())])

    taken = [answer[0] for answer in answers]
    assert [(lease.owner, lease.fence) for lease in taken[:2]] == [("a", 1), ("b", 2)]
    assert taken[2] is None and answers[2][1].to_dict()["owner"] == "another-worker"
    assert repo.acquire_lease(free, "late", 60) is None and repo.acquire_lease(released, "late", 60) is None
    repo.release_lease(other)
    assert repo.acquire_lease(held, "next", 60).fence == other.fence + 1


def test_a_name_asked_twice_in_one_group_goes_to_one_asker_only(repo):
    leases = repo._leases
    asks = [_Acquisition(doc_id(REP), "first", 60, ()), _Acquisition(doc_id(REP), "second", 60, ())]

    [won, alone] = leases._acquire_together(asks)

    assert won[0].owner == "first" and alone[0] is ALONE
    assert leases._take(doc_id(REP), alone[1], "second", 60) is None  # alone, from what it read: taken since


def test_a_group_of_releases_is_one_commit_unless_a_check_fails_then_each_releases_alone(repo):
    names = ["a@example.com", "b@example.com", "c@example.com"]
    leases = [repo.acquire_lease(name, f"attempt-{name}", 60) for name in names]
    releases = [_Release(lease, ((repo.mailbox_ref(name), {"email": name, "history_id": "7"}),))
                for name, lease in zip(names, leases, strict=True)]

    assert repo._leases._release_together(releases) == [False, False, False]
    assert [repo.get_mailbox(name).history_id for name in names] == ["7", "7", "7"]
    again = [repo.acquire_lease(name, f"again-{name}", 60) for name in names]  # released
    assert [lease.fence for lease in again] == [2, 2, 2]

    repo.mark_mailbox_dirty(names[1])
    marked = [_Release(lease, ((repo.mailbox_ref(name), {"email": name, "history_id": "8"}),))
              for name, lease in zip(names, again, strict=True)]
    assert repo._leases._release_together(marked) == [ALONE, ALONE, ALONE]  # nothing of the group landed
    assert [repo.get_mailbox(name).history_id for name in names] == ["7", "7", "7"]
    dirty = [repo.commit_cursors(Mailbox(email=name, history_id="8"), lease)
             for name, lease in zip(names, again, strict=True)]
    assert dirty == [False, True, False]  # alone, each says what it says alone
    assert [repo.get_mailbox(name).history_id for name in names] == ["8", "8", "8"]


def test_a_fenced_holder_in_a_group_of_releases_moves_no_cursor_and_the_others_land(repo):
    stale = repo.acquire_lease(REP, "stale", SHORT_TTL_SECONDS)
    time.sleep(SHORT_TTL_SECONDS + 0.5)
    current = repo.acquire_lease(REP, "current", 60)
    other = repo.acquire_lease("other@example.com", "other", 60)
    group = [_Release(stale, ((repo.mailbox_ref(REP), {"email": REP, "history_id": "999"}),)),
             _Release(other, ((repo.mailbox_ref("other@example.com"),
                               {"email": "other@example.com", "history_id": "5"}),))]

    assert repo._leases._release_together(group) == [ALONE, ALONE]
    with pytest.raises(Fenced):
        repo.commit_cursors(Mailbox(email=REP, history_id="999"), stale)
    assert repo.commit_cursors(Mailbox(email="other@example.com", history_id="5"), other) is False
    assert repo.get_mailbox(REP) is None and repo.get_mailbox("other@example.com").history_id == "5"
    assert repo.commit_cursors(Mailbox(email=REP, history_id="6"), current) is False
