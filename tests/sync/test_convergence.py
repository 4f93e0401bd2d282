"""Faults and crashes: whatever happens on the way, the final state is the uninterrupted run's."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from models.domain import ActivityKind, Participant, utcnow
from models.repository import Repository, activity_id_for, connect, contact_id_for
from sync.linking import Item, Team
from sync.writer import SyncWriter, TenantState
from tests.sync.conftest import SMALL_BATCHES_ARGS, reference, sync_run
from tests.sync.helpers import differences, snapshot

ROOT = Path(__file__).resolve().parents[2]
TENANT = "example.com"
ANN, BOB, PAT = "ann@example.com", "bob@example.com", "pat@acme.io"
KILL_AFTER_ACTIVITIES = 40  # mid-run: some chunks committed, most not
SUBPROCESS_TIMEOUT_SECONDS = 120
# `python -m sync once` with the tests' small groups and chunks (see conftest)
SYNC_ONCE = [sys.executable, "-m", "sync", "once", *SMALL_BATCHES_ARGS]


def kill_sync_midway(simulator, tenant_repo: Repository, env: dict) -> None:
    """Start `python -m sync once` and SIGKILL it once some of its chunks are committed (most are not)."""
    simulator.set_latency(20)  # slow enough to be caught in the middle
    process = subprocess.Popen(SYNC_ONCE, cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT_SECONDS
    activities = tenant_repo.root.collection("activities")
    while time.monotonic() < deadline and process.poll() is None:
        if sum(1 for _ in activities.select([]).stream()) >= KILL_AFTER_ACTIVITIES:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the sync finished before it could be killed; slow the simulator more"
    process.send_signal(signal.SIGKILL)
    process.wait()
    simulator.set_latency(0)


def test_injected_faults_leave_the_fault_free_state(services, simulator, tenant_repo, twin):
    simulator.set_faults(rate=0.10, statuses=(500, 503, 429))

    results = sync_run(services).run(simulator.reps)

    assert [r.state for r in results] == ["ok"] * 3
    assert sum(r.failed_calls for r in results) == 0
    counters = simulator.counters()["total"]
    assert counters["fault"] > 0
    got, want = snapshot(tenant_repo), reference(twin)
    assert got == want, differences(got, want)


def test_one_mailbox_at_a_time_in_reverse_leaves_the_state_of_all_at_once(services, simulator, tenant_repo, twin):
    """Which mailbox is first is what faults change: here the last rep's calendar, with an upcoming meeting,
    meets a person before the rep who wrote to them (the seeded world's Liam Jensen) does."""
    for rep in reversed(simulator.reps):
        assert [r.state for r in sync_run(services).run([rep])] == ["ok"]

    got, want = snapshot(tenant_repo), reference(twin)
    assert got == want, differences(got, want)


def test_a_sync_killed_mid_run_and_run_again_leaves_the_uninterrupted_state(
        simulator, tenant_repo, sync_env, twin):
    env = {**os.environ, **sync_env, "PYTHONPATH": str(ROOT)}
    kill_sync_midway(simulator, tenant_repo, env)

    rerun = subprocess.run(SYNC_ONCE, cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=SUBPROCESS_TIMEOUT_SECONDS)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    got, want = snapshot(Repository(tenant_repo.client, simulator.domain)), reference(twin)
    assert got == want, differences(got, want)



def test_a_sync_stopped_mid_run_and_run_again_leaves_the_uninterrupted_state(services, simulator, tenant_repo,
                                                                             twin):
    """SIGTERM's path: the fetcher stops, what it fetched is stored, commits in flight land, cursors stay."""
    simulator.set_latency(20)
    stop = threading.Event()
    activities = tenant_repo.root.collection("activities")

    def stop_mid_run():
        while not stop.is_set():
            if sum(1 for _ in activities.select([]).stream()) >= KILL_AFTER_ACTIVITIES:
                stop.set()
            time.sleep(0.05)

    watcher = threading.Thread(target=stop_mid_run, daemon=True)
    watcher.start()
    stopped = sync_run(services, stop).run(simulator.reps)
    stop.set()
    watcher.join()
    simulator.set_latency(0)
    assert "stopped" in {r.error for r in stopped}, "the sync finished before it could be stopped"

    results = sync_run(services).run(simulator.reps)

    assert [r.state for r in results] == ["ok"] * 3
    got, want = snapshot(tenant_repo), reference(twin)
    assert got == want, differences(got, want)


def pat_items(now: dt.datetime) -> dict[str, list[Item]]:
    """Pat in Ann's calendar (a meeting last month, one next week) and in Bob's sent mail (ten days ago)."""
    meetings = []
    for days in (-30, 7):
        key = f"pat-meeting-{days}@google.com|{(now + dt.timedelta(days=days)).isoformat()}"
        meetings.append(Item(external_key=key, activity_id=activity_id_for(key), kind=ActivityKind.MEETING,
                             held_id=f"event{days}", at=now + dt.timedelta(days=days), subject="Review",
                             participants=[Participant(ANN, "Ann", "organizer"),
                                           Participant(PAT, "Pat Lee", "attendee")]))
    key = "<pat-mail@example.com>"
    mail = Item(external_key=key, activity_id=activity_id_for(key), kind=ActivityKind.EMAIL, held_id="m1",
                at=now - dt.timedelta(days=10), subject="Proposal",
                participants=[Participant(BOB, "Bob", "from"), Participant(PAT, "Pat Lee", "to")])
    return {ANN: meetings, BOB: [mail]}


def test_which_rep_meets_a_person_first_does_not_decide_their_last_activity(firestore_emulator):
    """Ann's calendar (with next week's meeting) before Bob's mail, and after: the same last activity, the
    latest that has happened. It used to be next week's meeting when the calendar created the contact, the
    rare difference `test_injected_faults_leave_the_fault_free_state` met when faults delayed a mailbox."""
    now = utcnow().replace(microsecond=0)
    last = {}
    for order in ((ANN, BOB), (BOB, ANN)):
        client = connect(f"sidecar-test-{uuid.uuid4().hex[:12]}", emulator_host=firestore_emulator.host)
        repo = Repository(client, TENANT)
        state = TenantState(repo, Team(TENANT, repo.get_settings()))  # one run: the mailboxes share it
        items = pat_items(now)
        for rep in order:
            writer = SyncWriter(state, rep)
            writer.store(items[rep])
            writer.flush()
            writer.close()
        last[order] = repo.get_contact(contact_id_for(PAT)).last_activity_at
        client.close()

    assert last[(ANN, BOB)] == last[(BOB, ANN)] == now - dt.timedelta(days=10)
