"""Operations: JSON log lines Cloud Logging reads as structured entries, and `sync status` showing leases."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from models.domain import Mailbox
from models.leases import LeaseState
from sync.__main__ import status_table
from sync.logs import CloudLoggingFormatter
from tests.sync.conftest import SMALL_BATCHES_ARGS

ROOT = Path(__file__).resolve().parents[2]


def record(level: int, message: str, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("sync.runner", level, __file__, 1, message, args, exc_info)


def test_a_json_line_carries_severity_message_mailbox_and_tenant():
    line = CloudLoggingFormatter().format(record(logging.WARNING, "sync done mailbox=%s state=%s", "a@acme.com", "ok"))

    entry = json.loads(line)
    assert (entry["severity"], entry["message"]) == ("WARNING", "sync done mailbox=a@acme.com state=ok")
    assert (entry["mailbox"], entry["tenant"], entry["logger"]) == ("a@acme.com", "acme.com", "sync.runner")


def test_a_json_line_keeps_the_traceback_in_its_message():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        line = CloudLoggingFormatter().format(record(logging.ERROR, "linked tenant=%s", "acme.com",
                                                     exc_info=sys.exc_info()))
    entry = json.loads(line)
    assert entry["severity"] == "ERROR" and entry["tenant"] == "acme.com" and "mailbox" not in entry
    assert "Traceback" in entry["message"] and "RuntimeError: boom" in entry["message"]


def test_sync_once_logs_only_json_lines_when_asked(simulator, sync_env):
    env = {**os.environ, **sync_env, "PYTHONPATH": str(ROOT), "SIDECAR_LOG_FORMAT": "json"}
    done = subprocess.run([sys.executable, "-m", "sync", "once", *SMALL_BATCHES_ARGS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)

    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    finished = [e for e in entries if e["message"].startswith("sync done")]
    assert sorted(e["mailbox"] for e in finished) == sorted(simulator.reps)
    assert {e["tenant"] for e in finished} == {simulator.domain}
    assert {e["severity"] for e in finished} == {"INFO"}
    for entry in finished:  # the lease's interval, acquisition to release (what bench.scale checks for overlaps)
        acquired, released = map(float, entry["message"].split(" lease_held=")[1].split("..", 1))
        assert acquired <= released


def test_status_shows_who_holds_a_lease_and_for_how_long():
    now = dt.datetime.now(dt.UTC)
    boxes = [Mailbox("a@example.com", state="ok"), Mailbox("b@example.com", state="ok"),
             Mailbox("c@example.com", state="ok")]
    leases = {"a@example.com": LeaseState("a@example.com", "worker-1/4242/0123456789ab", 3,
                                          now + dt.timedelta(seconds=45)),
              "b@example.com": LeaseState("b@example.com", "worker-2/77/ba9876543210", 2,
                                          now - dt.timedelta(seconds=5))}

    header, a, b, c = status_table(boxes, leases)

    assert "LEASE" in header.split()
    assert "worker-1/4242 4" in a  # 44 or 45 s left
    assert "expired (worker-2/77)" in b
    assert c.split()[4] == "-"


def test_status_shows_how_long_the_push_watches_last_and_the_last_push():
    from models.watches import Watch

    now = dt.datetime.now(dt.UTC)
    boxes = [Mailbox("a@example.com", state="ok"), Mailbox("b@example.com", state="ok")]
    watches = {"a@example.com": Watch("a@example.com", gmail_expires_at=now + dt.timedelta(days=6, hours=1),
                                      channel_expires_at=now - dt.timedelta(minutes=1),
                                      last_push_at=now - dt.timedelta(seconds=30))}

    header, a, b = status_table(boxes, {}, watches)

    assert "WATCH" in header and "LAST PUSH" in header
    assert "gmail 6d cal expired" in a and " 30s " in f" {a} ".replace("  ", " ")
    assert b.split()[4:7] == ["-", "-", "-"]
