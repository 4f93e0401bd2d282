"""Scale bench for the distributed sync (issue 14 acceptance 1-3), every part in its own process.

    python -m bench.scale [--mailboxes 2000] [--latency-ms 100] [--workers 1,2,4] [--fresh 100]

Firestore and Pub/Sub emulators and the simulator (`python -m gsim`) each run
in a process group of their own; workers (`python -m sync worker --unary-pull`)
too. The simulated Workspace has `--mailboxes` small mailboxes. Phases:

1. Set-up, without latency: topics, one full `sync once` of every mailbox,
   Gmail watches on the push topic. Then every Google call waits
   `--latency-ms` (the simulator's injected latency).
2. No-op passes: for N = 1, 2, 4 worker processes, every mailbox is requested
   once; mailboxes/s until the last "sync done", the speedup over N = 1, and
   the CPU seconds per mailbox of the workers, Firestore, Pub/Sub and the
   simulator (their process groups' CPU time from /proc), and the rate this
   machine's cores could sustain at that cost (the CPU ceiling); also the
   Google API calls and OAuth tokens each mailbox cost (the simulator's
   counters: every worker meets every mailbox for the first time in a pass,
   so it asks for its tokens too). The clock starts once every worker has
   logged "worker started" (and at least `WORKER_SETTLE_SECONDS` after they
   were launched: before 2 December's change a fixed 3 s, which on a loaded
   machine let a late worker's imports and read-ahead count as the pass's
   CPU); it stops at the `time` of the last "sync done" line (it used to stop
   when a poll every 0.5 s saw that line, which added up to 0.5 s to a pass of
   20-30 s, and the idle CPU of that wait). Beside it, unless `--no-warm`: a
   second pass by the same workers, warm (connections kept, the tokens of the
   mailboxes each worker synced before cached, as a long-lived worker runs;
   a mailbox the first pass gave to another worker still costs its tokens),
   printed as a table of its own; the first table is unchanged in what it
   measures: new workers, cold.
3. Freshness, while a pass runs on the largest N: new messages delivered to
   random mailboxes, each timed from its delivery in the simulator to the
   moment `Repository.get_message` (what the Gmail card reads) finds it; p50
   and p95. The workers stay up until every message was seen (at most 600 s):
   they used to be stopped when the pass ended, and once a pass of 2,000
   mailboxes took less than the deliveries (100 at 5 a second), the last
   messages were never synced and the bench waited out the 600 s. Gmail
   notifications sent (gsim) and skipped as already synced (the watch
   documents), dirty re-runs (coalesced requests); overlapping syncs of one
   mailbox across all phases, from the workers' logged "sync start"/"sync
   done" intervals (JSON log lines).
4. Kill -9: in a project of its own, a worker starts the full sync of a
   mailbox with many messages; its process group is killed mid-sync; a
   second worker finishes it once the lease expired (the dispatcher's code
   requeues it); the final state is compared with a single-process
   `sync once` of the same mailbox into a third project: recovery time, lost
   and doubled items.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config import Config, PubSubConfig  # noqa: E402
from devtools.firestore_emulator import FirestoreEmulator  # noqa: E402
from devtools.pubsub_emulator import PubSubEmulator  # noqa: E402
from models.repository import Repository, connect  # noqa: E402
from sync.pubsub import Dispatcher, Queue, SyncRequest  # noqa: E402
from sync.push import Watches  # noqa: E402
from tests.sync.helpers import snapshot  # noqa: E402
from wiring import Services  # noqa: E402

DOMAIN = "scale.example"
PUSH_TOPIC = "sidecar-gmail-push"
SYNC_TOPIC = "sidecar-sync"
WORKER_MAILBOXES = 16  # sync requests a worker holds at once: they wait on I/O (the injected latency)
SETUP_CONCURRENCY = 16
KILL_EXTRA_MESSAGES = 600  # the victim's mailbox, so that its full sync lasts long enough to be killed
KILL_LEASE_TTL = 5  # seconds: a killed worker's lease outlives it this long
KILL_TUNING = ["--fetch-group", "5", "--chunk-writes", "40"]  # 120 groups: a full sync of many seconds
TICKS = os.sysconf("SC_CLK_TCK")
WORKER_SETTLE_SECONDS = 3  # the least wait between starting workers and the clock (the bench's first figure)
WORKER_START_TIMEOUT = 120  # a worker's imports and read-ahead on a loaded 2-core machine
DONE_POLL_SECONDS = 0.1  # how often the logs are read for "sync done": the CPU taken after the last one is idle


def _read_from(path: Path, offset: int) -> str:
    """The text of a log past `offset` bytes (a pass's own lines)."""
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by the live processes of a process group (user + system)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state ppid pgrp ...; utime stime at 11, 12
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / TICKS


def kill_group(process: subprocess.Popen, sig=signal.SIGTERM, wait: float = 30) -> None:
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=wait)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Bench:
    def __init__(self, args, tmp: Path):
        self.args = args
        self.tmp = tmp
        self.firestore = FirestoreEmulator(log_path=tmp / "firestore.log").start()
        self.pubsub = PubSubEmulator(log_path=tmp / "pubsub.log").start()
        os.environ["PUBSUB_EMULATOR_HOST"] = self.pubsub.host
        key = tmp / "sa.json"
        self.gsim = subprocess.Popen(
            [sys.executable, "-m", "gsim", "--port", "0", "--domain", DOMAIN, "--reps", str(args.mailboxes + 1),
             "--companies", "60", "--messages", str(args.messages), "--events", "1", "--days", "60",
             "--quota-units-per-minute", "0", "--key-file", str(key)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=open(tmp / "gsim.log", "w"), text=True,
            start_new_session=True, env={**os.environ, "PUBSUB_EMULATOR_HOST": self.pubsub.host})
        line = self.gsim.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"gsim did not start: {line!r}")
        self.gsim_url = line.split("listening on", 1)[1].strip()
        world = self.admin("GET", "world")
        reps = sorted(world["reps"])
        self.victim, self.reps = reps[0], reps[1:]
        self.key = str(key)
        self.project = f"scale-{uuid.uuid4().hex[:8]}"
        self.logs: list[Path] = []

    # --- plumbing ---------------------------------------------------------------------
    def admin(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.gsim_url + "_sim/" + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def env(self, project: str, users: list[str], **extra) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT), "GOOGLE_CLOUD_PROJECT": project,
                "FIRESTORE_EMULATOR_HOST": self.firestore.host, "SIDECAR_GOOGLE_API_ROOT": self.gsim_url,
                "GOOGLE_APPLICATION_CREDENTIALS": self.key, "SIDECAR_USERS": ",".join(users),
                "PUBSUB_EMULATOR_HOST": self.pubsub.host, "SIDECAR_SYNC_TOPIC": SYNC_TOPIC,
                "SIDECAR_WORKER_MAILBOXES": str(WORKER_MAILBOXES), "SIDECAR_LOG_FORMAT": "json", **extra}

    def services(self, project: str, users: list[str]) -> Services:
        return Services(Config.from_mapping({
            "google_cloud_project": project, "firestore_emulator_host": self.firestore.host,
            "google_api_root": self.gsim_url, "google_application_credentials": self.key, "users": tuple(users)}))

    def queue(self, project: str, push: bool = True) -> Queue:
        queue = Queue(project, PubSubConfig(emulator_host=self.pubsub.host, sync_topic=SYNC_TOPIC,
                                            gmail_push_topic=PUSH_TOPIC if push else None,
                                            worker_mailboxes=WORKER_MAILBOXES))
        queue.setup()
        return queue

    def worker(self, project: str, users: list[str], name: str, *extra: str) -> subprocess.Popen:
        log_path = self.tmp / f"{name}.log"
        self.logs.append(log_path)
        return subprocess.Popen([sys.executable, "-m", "sync", "worker", "--unary-pull", *extra], cwd=ROOT,
                                env=self.env(project, users, SIDECAR_GMAIL_PUSH_TOPIC=PUSH_TOPIC),
                                stdout=subprocess.DEVNULL, stderr=open(log_path, "w"), start_new_session=True)

    def groups(self, workers: list[subprocess.Popen]) -> dict[str, float]:
        return {"worker": sum(group_cpu(w.pid) for w in workers), "firestore": group_cpu(self.firestore.process.pid),
                "pubsub": group_cpu(self.pubsub.process.pid), "simulator": group_cpu(self.gsim.pid)}

    def done_lines(self, paths: list[Path], offsets: dict[Path, int]) -> int:
        """"sync done" lines in the workers' logs (past `offsets`, the log sizes a pass started at)."""
        return sum(_read_from(p, offsets.get(p, 0)).count('"sync done') for p in paths if p.exists())

    def last_done(self, paths: list[Path], offsets: dict[Path, int]) -> float:
        """The wall-clock time of the last "sync done" logged past `offsets` (the JSON lines' `time`)."""
        times = [dt.datetime.fromisoformat(json.loads(line)["time"]).timestamp()
                 for p in paths for line in _read_from(p, offsets.get(p, 0)).splitlines() if '"sync done' in line]
        return max(times)

    def wait_ready(self, paths: list[Path]) -> None:
        """Until every worker logged "worker started" (imports done, clients built, send-as aliases read
        ahead), and at least `WORKER_SETTLE_SECONDS`: its start-up is not a no-op pass's cost."""
        settle = time.monotonic() + WORKER_SETTLE_SECONDS
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while not all(p.exists() and '"worker started' in p.read_text() for p in paths):
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers not started in {WORKER_START_TIMEOUT} s: see {paths}")
            time.sleep(DONE_POLL_SECONDS)
        time.sleep(max(0.0, settle - time.monotonic()))

    # --- phases -------------------------------------------------------------------------
    def setup(self) -> None:
        started = time.monotonic()
        self.queue(self.project).close()
        once = subprocess.run([sys.executable, "-m", "sync", "once"], cwd=ROOT, capture_output=True, text=True,
                              env=self.env(self.project, self.reps, SIDECAR_SYNC_CONCURRENCY=str(SETUP_CONCURRENCY),
                                           SIDECAR_LOG_FORMAT="text"))
        if once.returncode:
            raise RuntimeError(f"sync once failed: {once.stderr[-2000:]}")
        services = self.services(self.project, self.reps)
        watches = Watches(services.repository, services.google_service, self.project,
                          PubSubConfig(sync_topic=SYNC_TOPIC, gmail_push_topic=PUSH_TOPIC))
        renewed = watches.renew(self.reps)
        services.close()
        print(f"set-up: {len(self.reps)} mailboxes fully synced and watched (gmail watches={renewed.gmail}, "
              f"failed={renewed.failed}) in {time.monotonic() - started:.0f} s, no latency")

    def noop_pass(self, count: int, queue: Queue, during=None, phase: str = "noop", warm: bool = False) -> dict:
        """A no-op pass of every mailbox by `count` new worker processes; with `warm`, then a second pass by
        the same workers, reported apart (`result["warm"]`)."""
        workers = [self.worker(self.project, self.reps, f"{phase}-n{count}-{i}") for i in range(count)]
        paths = self.logs[-count:]
        self.wait_ready(paths)
        result = self._timed_pass(count, workers, paths, queue, during)
        if during is not None:  # the workers stay up until every message delivered meanwhile was seen
            result["extra"] = result["extra"]()
        if warm:
            result["warm"] = self._timed_pass(count, workers, paths, queue, None)
        for worker in workers:
            kill_group(worker)
        return result

    def _timed_pass(self, count: int, workers: list[subprocess.Popen], paths: list[Path], queue: Queue,
                    during) -> dict:
        offsets = {p: p.stat().st_size for p in paths}
        self.admin("POST", "counters/reset", {})
        before = self.groups(workers)
        started, started_wall = time.monotonic(), time.time()
        futures = [queue.publish(SyncRequest(email, "due")) for email in self.reps]
        for future in futures:
            future.result()
        extra = during(started) if during else None
        while self.done_lines(paths, offsets) < len(self.reps):
            time.sleep(DONE_POLL_SECONDS)
        after = self.groups(workers)
        elapsed = self.last_done(paths, offsets) - started_wall
        counters = self.admin("GET", "counters")
        cpu = {name: (after[name] - before[name]) / len(self.reps) for name in before}
        google = {"calls": counters["total"]["calls"] / len(self.reps),  # API calls, then OAuth token requests
                  "tokens": counters["tokens_issued"] / len(self.reps)}
        return {"n": count, "seconds": elapsed, "rate": len(self.reps) / elapsed, "cpu": cpu, "extra": extra,
                "google": google}

    def freshness(self, services: Services, messages: int):
        """Deliver messages to random mailboxes (about 5 a second) and time each until the card can read it."""
        repo = services.repository(DOMAIN)
        rng = random.Random(7)
        results: list[float] = []
        pending: dict[tuple[str, str], float] = {}
        lock = threading.Lock()

        def deliver():
            for n in range(messages):
                mailbox = rng.choice(self.reps)
                sent = time.monotonic()
                answer = self.admin("POST", "messages", {"mailbox": mailbox, "subject": f"Fresh {n}",
                                                         "sender": "Pat Buyer <pat.buyer@acme.co.uk>"})
                with lock:
                    pending[(mailbox, answer["id"])] = sent
                time.sleep(0.2)

        thread = threading.Thread(target=deliver)
        thread.start()

        outcome: list = []

        def watch_until_done():  # polls from the first delivery on, while the pass runs
            deadline = time.monotonic() + 600
            while (thread.is_alive() or pending) and time.monotonic() < deadline:
                with lock:
                    waiting = list(pending.items())
                for (mailbox, message_id), sent in waiting:
                    if repo.get_message(mailbox, message_id) is not None:
                        results.append(time.monotonic() - sent)
                        with lock:
                            pending.pop((mailbox, message_id))
                time.sleep(0.1)
            thread.join()
            outcome.append((results, len(pending)))

        watcher = threading.Thread(target=watch_until_done)
        watcher.start()

        def finish():
            watcher.join()
            return outcome[0]

        return finish

    def overlaps(self) -> tuple[int, int, int]:
        """Overlapping syncs of one mailbox across every worker's log: (overlapping lease intervals, intervals,
        overlapping log-line intervals).

        A lease interval runs from the lease's acquisition commit to the commit that moved the cursors and
        released it, server times the "sync done" line carries (`lease_held=`; a sync whose release was
        refused has none, and counts by its log lines). The log lines alone ("sync start" written after the
        acquisition, "sync done" after the release) can overlap by milliseconds when another worker takes
        the mailbox the moment it is let go: printed apart, they are not two holders at once.
        """
        leased: dict[str, list[tuple[float, float]]] = {}
        logged: dict[str, list[tuple[float, float]]] = {}
        for path in self.logs:
            open_at: dict[str, float] = {}
            for line in path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                message, mailbox = entry.get("message", ""), entry.get("mailbox")
                if not mailbox:
                    continue
                at = dt.datetime.fromisoformat(entry["time"]).timestamp()
                if message.startswith("sync start"):
                    open_at[mailbox] = at
                elif message.startswith("sync done") and mailbox in open_at:
                    span = (open_at.pop(mailbox), at)
                    logged.setdefault(mailbox, []).append(span)
                    held = message.partition(" lease_held=")[2].split(" ", 1)[0]
                    leased.setdefault(mailbox, []).append(
                        tuple(float(t) for t in held.split("..")) if held else span)

        def count(intervals: dict[str, list[tuple[float, float]]]) -> int:
            overlaps = 0
            for spans in intervals.values():
                spans.sort()
                overlaps += sum(1 for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1])
            return overlaps

        return count(leased), sum(len(s) for s in leased.values()), count(logged)

    def kill(self) -> dict:
        """Kill -9 of a worker mid full sync; another finishes it; compared with one `sync once`."""
        for n in range(KILL_EXTRA_MESSAGES):
            self.admin("POST", "messages", {"mailbox": self.victim, "subject": f"Backlog {n}",
                                            "sender": f"Buyer {n % 40} <buyer{n % 40}@acme{n % 7}.co.uk>"})
        project, reference = f"kill-{uuid.uuid4().hex[:8]}", f"ref-{uuid.uuid4().hex[:8]}"
        queue = self.queue(project, push=False)
        users = [self.victim]
        tuning = [*KILL_TUNING, "--lease-ttl", str(KILL_LEASE_TTL)]
        victim_worker = self.worker(project, users, "kill-victim", *tuning)
        time.sleep(3)
        queue.publish(SyncRequest(self.victim, "new"), backfill=True).result()
        log_path = self.logs[-1]
        deadline = time.monotonic() + 120
        while '"sync start' not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(self.args.kill_after)
        if '"sync done' in log_path.read_text():
            kill_group(victim_worker)
            raise RuntimeError("the victim's full sync ended before the kill: lower --kill-after")
        os.killpg(victim_worker.pid, signal.SIGKILL)
        killed = time.monotonic()
        victim_worker.wait()
        rescuer = self.worker(project, users, "kill-rescuer", *tuning)
        services = self.services(project, users)
        dispatcher = Dispatcher(services.repository, services.google_service, services.config, queue,
                                services.leader_leases(), threading.Event())
        rescue_log = self.logs[-1]
        while '"sync done' not in rescue_log.read_text() and time.monotonic() < killed + 600:
            dispatcher.published.clear()  # the bench's clock is faster than a sync interval
            dispatcher.cycle()
            time.sleep(1)
        recovered = time.monotonic() - killed
        started = next(dt.datetime.fromisoformat(json.loads(line)["time"]).timestamp()
                       for line in rescue_log.read_text().splitlines() if '"sync start' in line)
        taken_over = started - (time.time() - (time.monotonic() - killed))
        kill_group(rescuer)
        queue.close()
        once = subprocess.run([sys.executable, "-m", "sync", "once", *KILL_TUNING], cwd=ROOT, capture_output=True,
                              text=True, env=self.env(reference, users, SIDECAR_LOG_FORMAT="text"))
        if once.returncode:
            raise RuntimeError(f"reference sync failed: {once.stderr[-2000:]}")
        client = connect(project, self.firestore.host)
        got = snapshot(Repository(client, DOMAIN))
        want = snapshot(Repository(connect(reference, self.firestore.host), DOMAIN))
        services.close()
        lost = sum(len(set(want[p]) - set(got[p])) for p in want)
        doubled = sum(len(set(got[p]) - set(want[p])) for p in want)
        differing = sum(1 for p in want for k in set(want[p]) & set(got[p]) if want[p][k] != got[p][k])
        return {"recovery": recovered, "taken_over": taken_over, "lost": lost, "doubled": doubled,
                "differing": differing, "equal": got == want, "activities": len(want["activities"])}

    def close(self) -> None:
        kill_group(self.gsim)
        self.pubsub.stop()
        self.firestore.stop()


def print_table(results: list[dict], base: float, cores: int) -> None:
    print(f"{'N':>3} {'mbx/s':>7} {'speedup':>8} {'cpu ms/mailbox: worker':>24} {'firestore':>10} "
          f"{'pubsub':>7} {'gsim':>6} {'total':>6} {'ceiling mbx/s':>14}")
    for r in results:
        cpu = r["cpu"]
        total = sum(cpu.values())
        print(f"{r['n']:>3} {r['rate']:>7.1f} {r['rate'] / base:>7.2f}x {cpu['worker'] * 1000:>24.1f} "
              f"{cpu['firestore'] * 1000:>10.1f} {cpu['pubsub'] * 1000:>7.1f} {cpu['simulator'] * 1000:>6.1f} "
              f"{total * 1000:>6.1f} {cores / total if total else 0:>14.0f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mailboxes", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=4, help="per simulated mailbox")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--fresh", type=int, default=100, help="messages timed for freshness")
    parser.add_argument("--kill-after", type=float, default=2.0, help="seconds into the victim's full sync")
    parser.add_argument("--skip-noop", action="store_true", help="no no-op passes: freshness and kill only")
    parser.add_argument("--skip-kill", action="store_true", help="no kill -9 phase")
    parser.add_argument("--no-warm", action="store_true",
                        help="no second pass by the same (warm) workers after each no-op pass")
    parser.add_argument("--keep", action="store_true", help="keep the processes' logs (their directory is printed)")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        if args.keep:
            tmp = tempfile.mkdtemp(prefix="scale-")
            print(f"logs kept in {tmp}")
        bench = Bench(args, Path(tmp))
        try:
            bench.setup()
            bench.admin("POST", "latency", {"ms": args.latency_ms})
            queue = bench.queue(bench.project)
            results = []
            for count in [] if args.skip_noop else counts:
                results.append(bench.noop_pass(count, queue, warm=not args.no_warm))
                for label, r in [("", results[-1]), (" warm", results[-1].get("warm"))]:
                    if r is not None:
                        print(f"N={count}{label}: {r['rate']:.1f} mailboxes/s ({r['seconds']:.1f} s for "
                              f"{len(bench.reps)}); per mailbox: {r['google']['calls']:.2f} Google API calls, "
                              f"{r['google']['tokens']:.2f} OAuth tokens issued")
            base = results[0]["rate"] if results else 1
            cores = os.cpu_count()
            print(f"\nno-op pass, {len(bench.reps)} mailboxes, {args.latency_ms} ms per Google call:")
            print_table(results, base, cores)
            warm = [r["warm"] for r in results if "warm" in r]
            if warm:
                print(f"\nthe same workers' second pass (warm: tokens cached, connections kept), speedup over "
                      f"N={warm[0]['n']}'s second pass:")
                print_table(warm, warm[0]["rate"], cores)
            services = bench.services(bench.project, bench.reps)
            fresh = bench.noop_pass(counts[-1], queue, during=lambda _: bench.freshness(services, args.fresh),
                                   phase="fresh")
            times, missing = fresh["extra"]
            cuts = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else [0] * 99
            print(f"\nfreshness during a pass (N={counts[-1]}): {len(times)} messages, p50 {cuts[49]:.2f} s, "
                  f"p95 {cuts[94]:.2f} s, max {max(times, default=0):.2f} s, never seen {missing}")
            pushed = bench.admin("GET", "push")["notifications"]
            watches = services.repository(DOMAIN).list_watches().values()
            skipped = sum(w.skipped_pushes for w in watches)
            dirty = sum(p.read_text().count("reason=dirty") for p in bench.logs)
            print(f"push: {sum(pushed.values())} Gmail notifications for {args.fresh} messages, {skipped} skipped as "
                  f"already synced, {dirty} syncs again for requests coalesced while the mailbox was leased")
            services.close()
            queue.close()
            killed = None if args.skip_kill else bench.kill()
            overlaps, intervals, by_lines = bench.overlaps()
            print(f"overlapping syncs of one mailbox: {overlaps} among {intervals} logged lease intervals "
                  f"(by the log lines' own times: {by_lines}, see Bench.overlaps)")
            if killed is None:
                return 0
            print(f"kill -9 {args.kill_after:.0f} s into a full sync ({killed['activities']} activities): taken over "
                  f"after {killed['taken_over']:.1f} s (lease ttl {KILL_LEASE_TTL} s), finished "
                  f"{killed['recovery']:.1f} s after the kill, lost {killed['lost']}, doubled "
                  f"{killed['doubled']}, differing {killed['differing']}, equal to one `sync once`: {killed['equal']}")
        finally:
            bench.close()
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
