"""Faults and crashes: whatever happens on the way, the final state is the uninterrupted run's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from models.repository import Repository
from tests.sync.conftest import SMALL_BATCHES_ARGS, reference, sync_run
from tests.sync.helpers import snapshot

ROOT = Path(__file__).resolve().parents[2]
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
    assert snapshot(tenant_repo) == reference(twin)


def test_a_sync_killed_mid_run_and_run_again_leaves_the_uninterrupted_state(
        simulator, tenant_repo, sync_env, twin):
    env = {**os.environ, **sync_env, "PYTHONPATH": str(ROOT)}
    kill_sync_midway(simulator, tenant_repo, env)

    rerun = subprocess.run(SYNC_ONCE, cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=SUBPROCESS_TIMEOUT_SECONDS)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    got, want = snapshot(Repository(tenant_repo.client, simulator.domain)), reference(twin)
    assert got == want



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
    assert snapshot(tenant_repo) == reference(twin)
