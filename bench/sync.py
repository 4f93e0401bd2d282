"""Benchmark sync against the simulator and the Firestore emulator (issue 4, SPEC §10).

1. Full sync of one 10,000-message, 1,000-event mailbox, quota not enforced:
   messages/s, API calls and quota units per message, Firestore writes per
   message (every fan-out and counter included), peak RSS, and the emulator's
   raw batched-write rate measured in the same run; then an unchanged rerun's
   API calls and writes.
2. Five 2,000-message mailboxes at once under the simulator's quota
   enforcement: wall time against the quota-bound minimum, and the calls that
   failed after retries.

The simulator runs in its own process (`python -m gsim`), as Google would.

    .venv/bin/python -m bench.sync [--messages 10000] [--events 1000] [--mailboxes 5]
        [--mailbox-messages 2000] [--units-per-minute 6000]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import peak_rss_mb
from bench.store import raw_write_rate
from bootstrap import Services
from devtools.firestore_emulator import FirestoreEmulator
from sync.runner import SyncRun

log = logging.getLogger(__name__)
GMAIL_METHOD_PREFIX = "gmail."
SIM_START_TIMEOUT_SECONDS = 300  # generating 10,000 messages takes a while


class SimProcess:
    """`python -m gsim` on a free port, with a key file; stopped on exit."""

    def __init__(self, key_file: Path, **options):
        self.key_file = key_file
        self.args = [sys.executable, "-m", "gsim", "--port", "0", "--key-file", str(key_file)]
        for name, value in options.items():
            self.args += [f"--{name.replace('_', '-')}", str(value)]
        self.process: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> SimProcess:
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True,
                                        cwd=Path(__file__).resolve().parent.parent)
        deadline = time.monotonic() + SIM_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("gsim listening on "):
                self.url = line.split()[-1]
                return self
            if not line and self.process.poll() is not None:
                break
        raise RuntimeError("the simulator did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def admin(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + "_sim/" + path, data=data, method="POST" if data else "GET",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())


def services_for(project: str, emulator: FirestoreEmulator, sim: SimProcess, reps: list[str], units: int,
                 concurrency: int) -> Services:
    return Services({"google_cloud_project": project, "firestore_emulator_host": emulator.host,
                     "google_api_root": sim.url, "google_application_credentials": str(sim.key_file),
                     "users": tuple(reps), "gmail_units_per_minute": units, "sync_concurrency": concurrency})


def gmail_units(counters: dict, mailbox: str | None = None) -> int:
    methods = counters["by_mailbox"].get(mailbox, {}) if mailbox else counters["by_method"]
    return sum(v["units"] for k, v in methods.items() if k.startswith(GMAIL_METHOD_PREFIX))


def single_mailbox(emulator: FirestoreEmulator, workdir: Path, messages: int, events: int) -> None:
    with SimProcess(workdir / "sa1.json", reps=1, messages=messages, events=events, companies=40,
                    quota_units_per_minute=0) as sim:
        reps = sim.admin("world")["reps"]
        services = services_for("bench-sync-one", emulator, sim, reps, units=10**9, concurrency=1)
        rate = raw_write_rate(services.firestore)
        start = time.perf_counter()
        run = SyncRun(services)
        [result] = run.run(reps)
        seconds = time.perf_counter() - start
        counters = sim.admin("counters")
        calls = counters["total"]["calls"]
        writes = result.firestore_writes + run.link_writes
        print(f"full sync: {result.line()}")
        print(f"  messages/s: {messages / seconds:.0f} ({messages} messages, {events} events in {seconds:.1f}s)")
        print(f"  API calls per message: {calls / messages:.3f} ({calls} calls, {counters['batches']} batches)")
        print(f"  Gmail quota units per message: {gmail_units(counters) / messages:.2f}")
        print(f"  Firestore writes per message: {writes / messages:.2f} ({writes} writes, "
              f"{run.link_writes} by the link pass)")
        print(f"  peak RSS: {peak_rss_mb():.0f} MB")
        print(f"  emulator raw batched writes: {rate:.0f} docs/s "
              f"(sync wrote {writes / seconds:.0f} docs/s)")
        sim.admin("counters/reset", {})
        run = SyncRun(services)
        [result] = run.run(reps)
        counters = sim.admin("counters")
        by_method = {k: v["calls"] for k, v in counters["by_method"].items()}
        print(f"unchanged rerun: API calls {by_method}, Firestore writes {result.firestore_writes + run.link_writes}")
        services.close()


def several_mailboxes(emulator: FirestoreEmulator, workdir: Path, mailboxes: int, messages: int,
                      units: int) -> None:
    with SimProcess(workdir / "sa5.json", reps=mailboxes, messages=messages, events=50, companies=20,
                    quota_units_per_minute=units) as sim:
        reps = sim.admin("world")["reps"]
        services = services_for("bench-sync-quota", emulator, sim, reps, units=units, concurrency=mailboxes)
        start = time.perf_counter()
        run = SyncRun(services)
        results = run.run(reps)
        seconds = time.perf_counter() - start
        counters = sim.admin("counters")
        worst = max(gmail_units(counters, rep) for rep in reps)
        bound = 60 * (math.ceil(worst / units) - 1)  # Google's sliding minute lets a full budget go at once
        rate_limited = counters["total"]["rate_limited"]
        states = {r.email: r.state for r in results}
        failed = sum(1 for r in results if r.state != "ok")
        print(f"{mailboxes} mailboxes x {messages} messages at {units} Gmail units/min per user:")
        print(f"  wall time {seconds:.1f}s, quota-bound minimum {bound}s (busiest mailbox spent {worst} units): "
              f"ratio {seconds / bound if bound else float('nan'):.2f}x")
        print(f"  429s from the simulator: {rate_limited}; calls failed after retries: "
              f"{sum(r.failed_calls for r in results)}; mailboxes not ok: {failed} {states if failed else ''}")
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--mailboxes", type=int, default=5)
    parser.add_argument("--mailbox-messages", type=int, default=2_000)
    parser.add_argument("--units-per-minute", type=int, default=6_000)
    parser.add_argument("--skip", choices=("single", "quota"), action="append", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("SIDECAR_BACKFILL_DAYS", "365")
    with tempfile.TemporaryDirectory() as tmp, FirestoreEmulator() as emulator:
        if "single" not in args.skip:
            single_mailbox(emulator, Path(tmp), args.messages, args.events)
        if "quota" not in args.skip:
            several_mailboxes(emulator, Path(tmp), args.mailboxes, args.mailbox_messages, args.units_per_minute)


if __name__ == "__main__":
    main()
