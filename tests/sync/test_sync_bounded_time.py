"""A Firestore that does not answer (issue #12, point 10): `python -m sync once` fails the mailbox with a clear
reason within its deadline, and SIGTERM stops it within seconds whatever it is blocked on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 3  # long enough for the pass to be inside its first Firestore call
STOP_WITHIN_SECONDS = 10  # the process's grace period (5 s) and an interpreter's exit, with room
DEADLINE_SECONDS = 2  # what the test gives each Firestore call instead of the production 60 s
FAIL_WITHIN_SECONDS = 45  # a few calls at the deadline each, an interpreter's start, a loaded machine


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable_env(sync_env, closed_port) -> dict[str, str]:
    return {**os.environ, **sync_env, "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{closed_port}",
            "PYTHONPATH": str(ROOT)}


def test_sigterm_stops_a_pass_blocked_on_an_unreachable_firestore_within_seconds(unreachable_env):
    process = subprocess.Popen([sys.executable, "-m", "sync", "once"], cwd=ROOT, env=unreachable_env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(STARTUP_SECONDS)
        assert process.poll() is None  # still retrying its first call (the deadline is 60 s)
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, stderr = process.communicate(timeout=STOP_WITHIN_SECONDS + 5)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert took < STOP_WITHIN_SECONDS
    assert process.returncode == 1
    assert "stop requested signal=SIGTERM" in stderr
    assert "stopped before the pass checkpointed" in stderr
    assert "Traceback" not in stderr


def test_an_unreachable_firestore_fails_each_mailbox_with_its_reason_within_the_deadline(unreachable_env, simulator):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "sync", "once", "--firestore-deadline", str(DEADLINE_SECONDS)],
                          cwd=ROOT, env=unreachable_env, capture_output=True, text=True,
                          timeout=FAIL_WITHIN_SECONDS + 30)

    assert time.monotonic() - started < FAIL_WITHIN_SECONDS
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(simulator.reps)
    for rep, line in zip(sorted(simulator.reps), sorted(lines), strict=True):
        assert line.startswith(f"mailbox={rep} state=failed")
        assert "error='Firestore unreachable" in line
    assert "Traceback" not in done.stderr
