"""`python -m demo`: the whole product on this machine, stopped by one Ctrl-C.

Order of start (each step waits until the previous one answers):

1. the Firestore emulator and the Pub/Sub emulator (each its own process group,
   `devtools.firestore_emulator`, `devtools.pubsub_emulator`);
2. the Google API simulator with a seeded sales team, served from this process
   (a thread: it holds no child process, so nothing of it can outlive us); its
   Gmail watches publish to the Pub/Sub emulator (PUBSUB_EMULATOR_HOST, set in
   this process for the simulator's publisher);
3. `python -m sync once` for every rep: the first sync, so the cards have history;
   the team has a rep on a secondary domain (one tenant across the Workspace's
   domains) and a rep who then leaves (suspended in the Directory: a second,
   one-mailbox pass marks them departed, their history stays) — see `team_changes`;
   the first rep is made an admin, so the preview can open the admin card;
4. `python -m sync setup`: the sync's topics and subscriptions, Gmail's push topic included;
5. the web backend, `gunicorn 'demo.wsgi:build_app()'` (the add-on, its push endpoints and the preview);
6. the distributed sync: `python -m sync dispatch` and two `python -m sync worker`s. The
   dispatcher sets up every mailbox's Gmail watch (`users.watch` on the push topic) and
   Calendar channel (to the web backend's `/push/calendar`) at its first cycle; the demo
   waits until the simulator holds every Gmail watch. From then on, mail the preview's
   "Deliver a new email" has the simulator deliver is pushed to a worker and is on the
   card within seconds; polling every `--sync-interval` stays the safety net.

`--single-process` runs the small-team mode instead: no Pub/Sub, `python -m sync run`
(the daemon) in place of steps 4 and 6, new mail on the card at its next pass.

Every child runs in a new session (its own process group). SIGINT or SIGTERM, or any
child dying, stops every group (SIGTERM, then SIGKILL after a grace period) and waits
until no process of any group is left. Lines on stdout are the demo's user interface;
everything else goes to the log files in the run folder, printed at start.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools.firestore_emulator import EmulatorError, FirestoreEmulator, free_port, stop_group
from devtools.pubsub_emulator import PubSubEmulator

log = logging.getLogger("demo")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_PROJECT = "sidecar-demo"
# The add-on's OAuth client id in the demo: the audience of the user ID tokens the preview signs.
DEMO_OAUTH_CLIENT_ID = "000000000000-sidecar-demo.apps.googleusercontent.com"
DEFAULT_PORT = 8080
DEFAULT_SEED = 7
DEFAULT_REPS = 3
DEFAULT_MESSAGES = 300  # per rep: "a few hundred messages and meetings each"
DEFAULT_EVENTS = 120
# How often a mailbox is synced without push (the dispatcher's cadence; the daemon's with --single-process):
# pushed mail is on the card within seconds, anything else within a minute.
DEFAULT_SYNC_INTERVAL_SECONDS = 60
FIRST_SYNC_TIMEOUT_SECONDS = 600
READY_TIMEOUT_SECONDS = 60  # gunicorn boots in a couple of seconds; the rest is margin on a busy machine
STOP_GRACE_SECONDS = 10  # SIGTERM first (the daemon checkpoints), then SIGKILL
POLL_SECONDS = 0.2
PREVIEW_PATH = "/demo/"
SYNC_TOPIC = "sidecar-sync"  # distributed mode's topics (the other names are config's defaults)
GMAIL_PUSH_TOPIC = "sidecar-gmail-push"
WORKERS = 2  # `python -m sync worker` processes: the "two workers"
SETUP_TIMEOUT_SECONDS = 60  # `sync setup` creates a handful of topics and subscriptions
WATCH_TIMEOUT_SECONDS = 60  # the dispatcher's first cycle watches every mailbox: seconds, with margin


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and where its log is."""


class Stop(Exception):  # noqa: N818 - a request to stop, not an error
    """SIGINT or SIGTERM arrived."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def say(line: str) -> None:
    """The demo's user interface: one line on stdout, flushed at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Child:
    """One child command in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path,
                 stdout_path: Path | None = None):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.stdout_path = stdout_path  # a command's report, kept apart from its log when it has one
        self.process: subprocess.Popen | None = None

    def start(self) -> Child:
        with open(self.log_path, "ab") as output, open(self.stdout_path or os.devnull, "ab") as report:
            self.process = subprocess.Popen(
                self.argv, cwd=REPO_ROOT, env=self.env, stdin=subprocess.DEVNULL,
                stdout=report if self.stdout_path else output, stderr=output, start_new_session=True)
        log.info("started name=%s pid=%s", self.name, self.process.pid)
        return self

    @property
    def pgid(self) -> int | None:
        return self.process.pid if self.process else None

    def exited(self) -> int | None:
        return self.process.poll() if self.process else None

    def wait(self, timeout: float) -> int:
        """Wait for the child to exit (it stays interruptible by our signal handlers)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.exited()
            if code is not None:
                return code
            time.sleep(POLL_SECONDS)
        raise DemoError(f"{self.name} did not finish in {timeout:.0f}s (log: {self.log_path})")

    def stop(self) -> None:
        """SIGTERM the whole group, SIGKILL what is left after the grace period, reap."""
        if self.process is None:
            return
        pgid = self.process.pid
        if not stop_group(self.process, STOP_GRACE_SECONDS):
            log.error("process group still alive name=%s pgid=%s", self.name, pgid)
        else:
            log.info("stopped name=%s", self.name)
        self.process = None


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Demo:
    """Starts and stops everything; `run()` blocks until a signal or a child's death."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.port = args.port or free_port()
        self.public_url = f"http://127.0.0.1:{self.port}"
        self.run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="sidecar-demo-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.emulator: FirestoreEmulator | None = None
        self.pubsub: PubSubEmulator | None = None
        self.distributed = not args.single_process
        self.simulator = None
        self.secondary_rep = ""
        self.children: list[Child] = []

    # -- steps ---------------------------------------------------------------------------
    def start(self) -> None:
        began = time.monotonic()
        say(f"Sidecar demo: logs in {self.run_dir}")
        self._check_port()

        step = time.monotonic()
        # Assigned before start(): a Ctrl-C while the JVM boots must still stop its group.
        self.emulator = FirestoreEmulator(log_path=self.run_dir / "firestore-emulator.log")
        self.emulator.start()
        say(f"  Firestore emulator        {self.emulator.host}  ({time.monotonic() - step:.1f}s)")
        if self.distributed:
            step = time.monotonic()
            self.pubsub = PubSubEmulator(log_path=self.run_dir / "pubsub-emulator.log")
            self.pubsub.start()
            # the simulator's Gmail watches publish from this process, with the client library, which reads it
            os.environ["PUBSUB_EMULATOR_HOST"] = self.pubsub.host
            say(f"  Pub/Sub emulator          {self.pubsub.host}  ({time.monotonic() - step:.1f}s)")

        step = time.monotonic()
        self.simulator = self._start_simulator()
        counts = self.simulator.describe()["mailboxes"]
        total_messages = sum(box["messages"] for box in counts.values())
        total_events = sum(box["events"] for box in counts.values())
        say(f"  Google API simulator      {self.simulator.url}  {len(counts)} reps at {self.simulator.domain}, "
            f"{total_messages} messages, {total_events} events  ({time.monotonic() - step:.1f}s)")

        self.secondary_rep, leaver = team_changes(self.simulator)
        say(f"  team changes              {self.secondary_rep} on a secondary domain; {leaver} leaves after the "
            "first sync")
        env = self._child_env()
        step = time.monotonic()
        say("  first sync                python -m sync once ...")
        printed = self.run_dir / "sync-once.out"
        code = self._run_to_end("sync-once", [sys.executable, "-m", "sync", "once"],
                                {**env, "SIDECAR_USERS": env["SIDECAR_USERS"] + "," + leaver},
                                FIRST_SYNC_TIMEOUT_SECONDS, stdout_path=printed)
        for line in printed.read_text(errors="replace").splitlines():
            say(f"      {line}")
        if code != 0:
            say(f"  first sync exited with {code}; the cards may be missing history "
                f"(log: {self.run_dir / 'sync-once.log'})")
        else:
            say(f"  first sync done  ({time.monotonic() - step:.1f}s)")
        self.simulator.suspend_user(leaver)
        self._run_to_end("sync-departure", [sys.executable, "-m", "sync", "once", "--user", self.simulator.reps[0]],
                         env, FIRST_SYNC_TIMEOUT_SECONDS)
        say(f"  {leaver} suspended in the Directory: marked departed, history kept")
        make_admin(env, self.simulator.domain, self.simulator.reps[0])
        say(f"  admin card                {self.simulator.reps[0]} is an admin (home page: Open admin settings)")
        if self.distributed:
            code = self._run_to_end("sync-setup", [sys.executable, "-m", "sync", "setup"], env, SETUP_TIMEOUT_SECONDS)
            if code != 0:
                raise DemoError(f"python -m sync setup exited with {code} (log: {self.run_dir / 'sync-setup.log'})")
            say(f"  Pub/Sub topics            python -m sync setup: {SYNC_TOPIC}, {GMAIL_PUSH_TOPIC}, backfill, "
                "dead letters")

        step = time.monotonic()
        web = self._spawn("web", [
            sys.executable, "-m", "gunicorn", "-c", str(REPO_ROOT / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.args.workers),
            "--access-logfile", "-", "demo.wsgi:build_app()"], env)
        self._wait_http(web, self.public_url + "/healthz")
        self._wait_http(web, self.public_url + PREVIEW_PATH)
        say(f"  web backend (gunicorn)    {self.public_url}  ({time.monotonic() - step:.1f}s)")

        if self.distributed:
            step = time.monotonic()
            self._spawn("sync-dispatch", [sys.executable, "-m", "sync", "dispatch"], env)
            for n in range(1, WORKERS + 1):
                self._spawn(f"sync-worker-{n}", [sys.executable, "-m", "sync", "worker"], env)
            say(f"  sync on Pub/Sub           python -m sync dispatch (each mailbox every {self.args.sync_interval}s "
                f"as the safety net) and {WORKERS} x python -m sync worker")
            watched = self._wait_watches()
            say(f"  push                      Gmail watches of {watched} mailboxes on {GMAIL_PUSH_TOPIC}, Calendar "
                f"channels to {self.public_url}/push/calendar  ({time.monotonic() - step:.1f}s)")
        else:
            self._spawn("sync-daemon", [sys.executable, "-m", "sync", "run"], env)
            say(f"  sync daemon               python -m sync run, every {self.args.sync_interval}s")
        say("")
        say(f"Preview ready in {time.monotonic() - began:.0f}s: {self.public_url}{PREVIEW_PATH}")
        say("Press Ctrl-C to stop everything.")

    def watch(self) -> None:
        """Block until a signal (raised as Stop) or a child's unexpected exit."""
        while True:
            for child in self.children:
                code = child.exited()
                if code is not None:
                    raise DemoError(f"{child.name} exited with {code} (log: {child.log_path})")
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        """Stop children newest first (the daemon checkpoints before Firestore goes), then the rest."""
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None
        if self.pubsub is not None:
            self.pubsub.stop()
            self.pubsub = None
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None

    # -- helpers ---------------------------------------------------------------------------
    def _check_port(self) -> None:
        if http_ok(f"http://127.0.0.1:{self.port}/healthz") or not _port_free(self.port):
            raise DemoError(f"port {self.port} is in use; stop what runs there or pass --port N (0 picks a free one)")

    def _start_simulator(self):
        import gsim  # imported here: the simulator's world is built only when the demo runs

        sim = gsim.Simulator(seed=self.args.seed, reps=self.args.reps, messages=self.args.messages,
                             events=self.args.events, project_id=DEMO_PROJECT)
        sim.start(port=self.args.simulator_port)
        sim.write_service_account_key(self.run_dir / "service-account.json")
        return sim

    def _child_env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("SIDECAR_", "GOOGLE_"))}
        env.update({
            "GOOGLE_CLOUD_PROJECT": DEMO_PROJECT,
            "FIRESTORE_EMULATOR_HOST": self.emulator.host,
            "GOOGLE_APPLICATION_CREDENTIALS": str(self.run_dir / "service-account.json"),
            "SIDECAR_GOOGLE_API_ROOT": self.simulator.url,
            "SIDECAR_GOOGLE_CERTS_URL": self.simulator.certs_url,
            "SIDECAR_USERS": ",".join([*self.simulator.reps, self.secondary_rep]),
            "SIDECAR_ADMIN_EMAIL": self.simulator.admin,
            "SIDECAR_PUBLIC_URL": self.public_url,
            "SIDECAR_ADDON_SERVICE_ACCOUNT": self.simulator.addon_service_account,
            "SIDECAR_OAUTH_CLIENT_ID": DEMO_OAUTH_CLIENT_ID,
            "SIDECAR_SYNC_INTERVAL_SECONDS": str(self.args.sync_interval),
            "SIDECAR_DEMO": "1",
            "PYTHONUNBUFFERED": "1",
        })
        if self.distributed:
            env.update({
                "PUBSUB_EMULATOR_HOST": self.pubsub.host,
                "SIDECAR_SYNC_TOPIC": SYNC_TOPIC,
                "SIDECAR_GMAIL_PUSH_TOPIC": GMAIL_PUSH_TOPIC,
                "SIDECAR_CALENDAR_PUSH_URL": self.public_url + "/push/calendar",
                "SIDECAR_LOG_FORMAT": "text",  # the log files are for people here; Cloud Logging reads json
            })
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], stdout_path: Path | None = None) -> Child:
        child = Child(name, argv, env, self.run_dir / f"{name}.log", stdout_path)
        self.children.append(child)
        return child.start()

    def _run_to_end(self, name: str, argv: list[str], env: dict[str, str], timeout: float,
                    stdout_path: Path | None = None) -> int:
        """A command that finishes (a pass, the setup): its exit code, once its whole group is gone."""
        child = self._spawn(name, argv, env, stdout_path)
        code = child.wait(timeout)
        child.stop()  # reaps it, and anything it left in its group
        self.children.remove(child)
        return code

    def _wait_watches(self) -> int:
        """Wait until the simulator holds a Gmail watch of every synced mailbox (the dispatcher's first cycle)."""
        wanted = {*self.simulator.reps, self.secondary_rep}
        deadline = time.monotonic() + WATCH_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            for child in self.children:
                if child.exited() is not None:
                    raise DemoError(f"{child.name} exited with {child.exited()} (log: {child.log_path})")
            with self.simulator.push.lock:
                watched = wanted & set(self.simulator.push.gmail_topics)
            if watched == wanted:
                return len(watched)
            time.sleep(POLL_SECONDS)
        raise DemoError(f"the dispatcher did not watch every mailbox in {WATCH_TIMEOUT_SECONDS}s "
                        f"(log: {self.run_dir / 'sync-dispatch.log'})")

    @staticmethod
    def _wait_http(child: Child, url: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            code = child.exited()
            if code is not None:
                raise DemoError(f"{child.name} exited with {code} before answering (log: {child.log_path})")
            if http_ok(url):
                return
            time.sleep(POLL_SECONDS)
        raise DemoError(f"{url} did not answer in {READY_TIMEOUT_SECONDS}s (log: {child.log_path})")


SECONDARY_DOMAIN_PREFIX = "emea-"  # the demo Workspace's secondary domain: emea-<primary>
TEAM_CHANGE_MESSAGES = 8  # messages each of the two extra reps exchanged with the team's customers


def team_changes(sim) -> tuple[str, str]:
    """Add a rep on a secondary domain and a rep who will leave, each with mail to the team's customers.

    Their correspondents are the first rep's, so a customer's timeline shows the
    whole team: the secondary-domain rep's mail beside the others', and the
    leaver's marked as from a former teammate once they are suspended.
    """
    from gsim.world import User  # the simulator's own types, only when the demo runs

    secondary = SECONDARY_DOMAIN_PREFIX + sim.domain
    sim.add_domain(secondary)
    newcomer, leaver = f"lena.fischer@{secondary}", f"ian.walker@{sim.domain}"
    with sim.world.lock:
        sim.world.add_user(User(newcomer, "Lena", "Fischer", title="Account Executive, EMEA"))
        sim.world.add_user(User(leaver, "Ian", "Walker", title="Account Executive"))
        customers = []
        for message in sorted(sim.world.mailboxes[sim.reps[0]].messages.values(), key=lambda m: -m.internal_date):
            sender = (message.header("From") or "").rpartition("<")[2].rstrip(">").strip().lower()
            domain = sender.rpartition("@")[2]
            if domain and domain not in (sim.domain, secondary) and sender not in customers \
                    and not message.header("List-Unsubscribe") and not message.header("List-Id"):
                customers.append(sender)
    now = dt.datetime.now(dt.UTC)
    for n, customer in enumerate(customers[:TEAM_CHANGE_MESSAGES]):
        for rep, days in ((newcomer, 2 + n), (leaver, 30 + n)):
            sim.add_message(rep, sender=rep, to=[customer], subject=f"Following up ({rep.split('.')[0].title()})",
                            body="Checking in.", date=now - dt.timedelta(days=days, hours=n))
    return newcomer, leaver


def make_admin(env: dict[str, str], tenant: str, rep: str) -> None:
    """Add `rep` to the tenant's admins (`Settings.admins`), so the preview's first rep can open the admin card
    (the operator's SIDECAR_ADMIN_EMAIL, the Directory admin, is not one of the preview's reps)."""
    from models.repository import Repository, connect  # only when the demo runs

    client = connect(env["GOOGLE_CLOUD_PROJECT"], env["FIRESTORE_EMULATOR_HOST"])
    try:
        repo = Repository(client, tenant)
        settings = repo.get_settings()
        if rep not in settings.admins:
            settings.admins.append(rep)
            repo.save_settings(settings)
    finally:
        client.close()


def _port_free(port: int) -> bool:
    """Free to listen on, as gunicorn binds (SO_REUSEADDR: connections closing in TIME_WAIT don't count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="web backend port (0: a free one)")
    parser.add_argument("--simulator-port", type=int, default=0, help="simulator port (default: a free one)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the simulated team's seed")
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS)
    parser.add_argument("--messages", type=int, default=DEFAULT_MESSAGES, help="messages per rep")
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="calendar events per rep")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--sync-interval", type=int, default=DEFAULT_SYNC_INTERVAL_SECONDS,
                        help="seconds between two syncs of a mailbox without push (the safety net)")
    parser.add_argument("--single-process", action="store_true",
                        help="the small-team mode: python -m sync run, no Pub/Sub, no push")
    parser.add_argument("--run-dir", help="where logs and the simulator's key file go (default: a temp folder)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the run folder after a clean stop")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    def on_signal(signum, _frame):
        raise Stop(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    demo = Demo(args)
    status = 0
    try:
        demo.start()
        demo.watch()
    except Stop as stop:
        say(f"\n{stop} received: stopping")
    except (DemoError, EmulatorError) as exc:
        say(f"demo failed: {exc}")
        status = 1
    finally:
        # A second Ctrl-C must not cut the cleanup short: it is bounded by the grace periods.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.stop()
    if status == 0 and not args.keep_logs and not args.run_dir:
        shutil.rmtree(demo.run_dir, ignore_errors=True)
    say("Stopped; nothing left running." if status == 0 else f"Stopped; logs kept in {demo.run_dir}")
    return status


if __name__ == "__main__":
    sys.exit(main())
