"""`python -m sync run | once [--user EMAIL]... | status | setup | worker | dispatch` (SPEC §3, §7 "Scale").

- `run`: the daemon; APScheduler runs the jobs of `sync.schedule` until SIGTERM
  or SIGINT, then stops after the pass in progress has checkpointed.
- `once`: one pass, one line per mailbox; exit 0 when every mailbox synced, 1 otherwise.
- `status`: a table of the mailboxes: state, last success, cursor age, who holds its lease, backfill progress,
  push watch expiry, last push, last error; then the queue's depth (`queue_lines`: the dispatcher's measurement
  per tenant, `models.health`), or "single process" when the sync is not distributed.
- `setup`, `worker`, `dispatch`: the distributed sync on Pub/Sub (`sync.pubsub`),
  on when SIDECAR_SYNC_TOPIC is set: create the topics and subscriptions, run a
  worker, run the dispatcher.

This is the sync process's entry point: it makes the process's one
`wiring.Services` and hands its repository and Google service factories to
`SyncRun` (`--fetch-group` and `--chunk-writes` tune it; the defaults are
the production sizes).

Bounded in time (issue #12): every Firestore call of sync carries a deadline
(`--firestore-deadline`, retries included: an unreachable Firestore fails the
mailbox with its reason instead of retrying for minutes), every Google call
an HTTP timeout (`google_clients`), and the work of `once`, `run`, `worker`
and `dispatch` runs beside the main thread, which only waits for it or for a
signal: after SIGTERM or SIGINT the work has `STOP_GRACE_SECONDS` to
checkpoint (a worker nacks what it has not finished, the dispatcher lets go
of its leader lease), then the process exits anyway. Exiting mid-pass is
safe: a crash at any point, rerun, leaves what an uninterrupted run leaves
(SPEC §7), and a mailbox's lease then expires within its ttl.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import logging
import os
import signal
import sys
import threading
import time

from config import ConfigError, PubSubConfig, log_format
from models.addresses import email_domain
from models.domain import Mailbox, MailboxState, utcnow
from models.health import age, lease_label, watch_label
from models.leases import LeaseState
from models.progress import import_percent
from models.watches import Watch
from sync import logs, schedule
from sync.api import MailboxError
from sync.directory import read_workspace
from sync.gmail import FETCH_GROUP
from sync.leasing import LEASE_TTL_SECONDS
from sync.runner import SyncRun, configured_mailboxes, current_workspace, lease_states, status_rows
from sync.writer import CHUNK_WRITES_MAX
from wiring import Services

log = logging.getLogger("sync")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
FIRESTORE_DEADLINE_SECONDS = 60  # one sync Firestore call and its retries; a 490-write commit takes ~1 s
STOP_GRACE_SECONDS = 5  # after SIGTERM, what a pass gets to checkpoint before the process exits anyway
WAIT_POLL_SECONDS = 0.2  # how often the main thread looks up from waiting (signals run between waits)


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _on_signals(stop: threading.Event) -> None:
    def handler(signum, _frame):
        log.info("stop requested signal=%s state=stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def sync_pass(services: Services, stop: threading.Event, users: list[str] | None = None,
              tuning: dict[str, float] | None = None) -> bool:
    """One pass over the mailboxes; True when every one synced. `tuning`: SyncRun's keyword parameters."""
    config = services.config
    workspace = read_workspace(config.admin_email, services.google_service) if config.admin_email else None
    try:
        if users:
            mailboxes = [u.lower() for u in users]
        elif workspace is not None and not config.users:
            mailboxes = list(workspace.active)
        else:
            mailboxes = configured_mailboxes(config, services.google_service)
    except MailboxError as exc:
        log.error("no mailboxes state=failed reason=%s", exc.reason)
        return False
    tuning = dict(tuning or {})
    repository = _repositories(services, tuning.pop("firestore_deadline", FIRESTORE_DEADLINE_SECONDS))
    run = SyncRun(repository, services.google_service, config, stop, workspace=workspace, **tuning)
    results = run.run(mailboxes)
    for result in results:
        _out(result.line())
    return all(r.synced for r in results)


def _repositories(services: Services, deadline: float):
    """The tenants' repositories of sync: each Firestore call under `deadline` seconds, retries included."""
    return functools.partial(services.repository, deadline=deadline)


def _until_stopped(stop: threading.Event, work) -> int:
    """Run `work` (-> exit code) beside the main thread; after a stop, wait `STOP_GRACE_SECONDS`, then exit.

    The main thread only waits, so a signal is handled at once whatever the
    pass is blocked on; a pass that has not returned within the grace period
    is abandoned with the process (`os._exit`: its worker threads would
    otherwise hold the interpreter's exit).
    """
    outcome: list[int] = []

    def target() -> None:
        try:
            outcome.append(work())
        except Exception:
            log.exception("pass failed state=failed")
            outcome.append(EXIT_FAILED)

    worker = threading.Thread(target=target, name="pass", daemon=True)
    worker.start()
    while worker.is_alive() and not stop.wait(WAIT_POLL_SECONDS):
        pass
    worker.join(STOP_GRACE_SECONDS if stop.is_set() else None)
    if worker.is_alive():
        log.error("stopped before the pass checkpointed state=stopped reason='still waiting after %ss'",
                  STOP_GRACE_SECONDS)
        logging.shutdown()
        sys.stdout.flush()
        os._exit(EXIT_FAILED)
    return outcome[0]


def once(services: Services, users: list[str], tuning: dict[str, float] | None = None) -> int:
    stop = threading.Event()
    _on_signals(stop)
    return _until_stopped(stop, lambda: EXIT_OK if sync_pass(services, stop, users, tuning) else EXIT_FAILED)


def run(services: Services, tuning: dict[str, float] | None = None) -> int:
    from apscheduler.schedulers.background import BackgroundScheduler

    stop = threading.Event()
    _on_signals(stop)
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    # a backfill's slice a pass: one interval (it resumes in the next pass)
    tuning = {**(tuning or {}), "backfill_seconds": services.config.sync_interval_seconds}
    schedule.install(scheduler, schedule.jobs(lambda: sync_pass(services, stop, tuning=tuning),
                                              services.config.sync_interval_seconds))
    scheduler.start()
    log.info("daemon started interval=%ds", services.config.sync_interval_seconds)
    while not stop.wait(1):
        pass
    # the pass in progress sees `stop`, commits what it has, and returns (within the grace period)
    _until_stopped(stop, lambda: scheduler.shutdown(wait=True) or EXIT_OK)
    log.info("daemon stopped state=stopped")
    return EXIT_OK


def distributed(services: Services, command: str, tuning: dict | None = None) -> int:
    """`setup`, `worker` or `dispatch`, with the Pub/Sub settings read (and validated) now."""
    from sync.pubsub import Dispatcher, Queue, Worker

    settings = PubSubConfig.from_env()
    if not settings.distributed:
        log.error("configuration error: SIDECAR_SYNC_TOPIC is required for `%s`", command)
        return EXIT_CONFIG
    queue = Queue(services.config.google_cloud_project, settings)
    try:
        if command == "setup":
            for path in queue.setup():
                _out(f"created {path}")
            return EXIT_OK
        tuning = dict(tuning or {})
        repository = _repositories(services, tuning.pop("firestore_deadline", FIRESTORE_DEADLINE_SECONDS))
        stop = threading.Event()
        _on_signals(stop)
        if command == "worker":
            unary = tuning.pop("unary_pull", False)
            worker = Worker(repository, services.google_service, services.config, queue, stop, tuning)
            work = functools.partial(worker.run, unary)
        else:
            work = Dispatcher(repository, services.google_service, services.config, queue,
                              services.leader_leases(), stop).run
        return _until_stopped(stop, lambda: work() or EXIT_OK)
    finally:
        queue.close()


def _backfill(m: Mailbox) -> str:
    """"done", or how far it got: percent, oldest date reached, messages stored, time left at the quota."""
    if m.backfill_since is None:
        return "-"
    if not m.backfilling:
        return f"done {m.backfill_stored} stored"
    reached = m.backfill_reached.strftime("%Y-%m-%d") if m.backfill_reached else "-"
    left = "?" if m.backfill_seconds_left is None else _duration(int(m.backfill_seconds_left))
    return (f"{import_percent(m)}% back to {reached} (of {m.backfill_since:%Y-%m-%d}) "
            f"{m.backfill_stored} stored, ~{left} left")


def _duration(seconds: int) -> str:
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m" if seconds >= 60 else f"{seconds}s"


def status_table(mailboxes: list[Mailbox], leases: dict[str, LeaseState] | None = None,
                 watches: dict[str, Watch] | None = None) -> list[str]:
    now = utcnow()
    leases, watches = leases or {}, watches or {}
    header = ("MAILBOX", "STATE", "LAST SUCCESS", "CURSOR AGE", "LEASE", "BACKFILL", "WATCH", "LAST PUSH",
              "LAST ERROR")
    rows = [(m.email, m.state,
             m.last_success_at.strftime("%Y-%m-%d %H:%M:%SZ") if m.last_success_at else "-",
             age(m.cursor_at, now), lease_label(leases.get(m.email), now), _backfill(m),
             watch_label(watches.get(m.email), now),
             age(watches[m.email].last_push_at, now) if m.email in watches else "-",
             m.last_error if m.last_error and m.state != MailboxState.OK else "-")
            for m in mailboxes]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]]


def status(services: Services) -> int:
    config = services.config
    mailboxes = list(config.users) or ([config.admin_email] if config.admin_email else [])
    if not mailboxes:
        log.error("set SIDECAR_USERS or SIDECAR_ADMIN_EMAIL to name the tenant")
        return EXIT_CONFIG
    workspace = current_workspace(config, services.google_service)  # the tenant of a rep on another domain
    tenant_of = workspace.tenant_of if workspace is not None else email_domain
    rows = status_rows(services.repository, mailboxes, tenant_of)
    watches = {}
    tenants = sorted({tenant_of(m) for m in mailboxes} | {tenant_of(m.email) for m in rows})
    for tenant in tenants:
        watches.update(services.repository(tenant).list_watches())
    for line in status_table(rows, lease_states(services.repository, rows, tenant_of), watches):
        _out(line)
    for line in queue_lines(services, PubSubConfig.from_env(), tenants):
        _out(line)
    return EXIT_OK


def queue_lines(services: Services, settings: PubSubConfig, tenants: list[str]) -> list[str]:
    """The queue's depth: per tenant as the dispatcher measured it (`models.health`), and on real Pub/Sub
    Cloud Monitoring's backlog of the subscriptions; "single process" when the sync is not distributed."""
    if not settings.distributed:
        return ["queue: single process (python -m sync run syncs every mailbox itself; no Pub/Sub queue)"]
    now = utcnow()
    lines = []
    for tenant in tenants:
        health = services.repository(tenant).queue_health()
        lines.append(f"queue {tenant}: " + (health.summary(now) if health else
                                             "no measurement yet (is python -m sync dispatch running?)"))
    if not settings.emulator_host:  # the emulator has no Monitoring API
        lines.append(monitoring_backlog(services, settings))
    return lines


def monitoring_backlog(services: Services, settings: PubSubConfig) -> str:
    """The sync subscriptions' backlog, from Cloud Monitoring's num_undelivered_messages (real Pub/Sub only)."""
    try:
        from google.cloud import monitoring_v3
    except ImportError:
        return "queue backlog: install google-cloud-monitoring to read it (or see the subscriptions in the console)"
    project = services.config.google_cloud_project
    client = monitoring_v3.MetricServiceClient()
    now = time.time()
    interval = monitoring_v3.TimeInterval(end_time={"seconds": int(now)}, start_time={"seconds": int(now) - 300})
    depths = []
    for name in (settings.sync_subscription, settings.backfill_subscription, settings.dead_letter_subscription):
        series = client.list_time_series(request={
            "name": f"projects/{project}", "interval": interval,
            "filter": 'metric.type="pubsub.googleapis.com/subscription/num_undelivered_messages" AND '
                      f'resource.labels.subscription_id="{name}"'})
        points = [p.value.int64_value for s in series for p in s.points[:1]]
        depths.append(f"{name}={points[0] if points else '?'}")
    return "queue backlog (Cloud Monitoring): " + " ".join(depths)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync", description="Sidecar's Gmail and Calendar sync")
    bounded = argparse.ArgumentParser(add_help=False)
    bounded.add_argument("--firestore-deadline", type=_positive, default=FIRESTORE_DEADLINE_SECONDS, metavar="S",
                         help="seconds a Firestore call may take, retries included "
                              f"(default {FIRESTORE_DEADLINE_SECONDS})")
    tuning = argparse.ArgumentParser(add_help=False, parents=[bounded])
    tuning.add_argument("--fetch-group", type=_positive, default=FETCH_GROUP, metavar="N",
                        help=f"messages fetched and stored as one group (default {FETCH_GROUP})")
    tuning.add_argument("--chunk-writes", type=_positive, default=CHUNK_WRITES_MAX, metavar="N",
                        help=f"writes of one atomic chunk commit, at most (default {CHUNK_WRITES_MAX})")
    tuning.add_argument("--lease-ttl", type=_positive, default=int(LEASE_TTL_SECONDS), metavar="SECONDS",
                        help="how long a mailbox's lease outlives its last heartbeat "
                             f"(default {int(LEASE_TTL_SECONDS)})")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", parents=[tuning], help="the daemon: sync every mailbox each interval")
    once_parser = commands.add_parser("once", parents=[tuning], help="one pass over all (or the named) mailboxes")
    once_parser.add_argument("--user", action="append", default=[], metavar="EMAIL")
    commands.add_parser("status", help="a table of mailboxes and their health")
    commands.add_parser("setup", help="create the Pub/Sub topics and subscriptions (idempotent)")
    worker_parser = commands.add_parser("worker", parents=[tuning],
                                        help="sync the mailboxes the sync subscriptions deliver")
    worker_parser.add_argument("--unary-pull", action="store_true",
                               help="pull with unary calls instead of streams (what a kill -9 leaves is redelivered)")
    commands.add_parser("dispatch", parents=[bounded],
                        help="publish due, new and orphaned mailboxes (one active instance)")
    args = parser.parse_args(argv)
    try:
        logs.configure(log_format())
    except ConfigError as exc:
        logs.configure("text")
        log.error("configuration error: %s", exc)
        return EXIT_CONFIG
    logging.getLogger("googleapiclient.discovery_cache").setLevel(logging.ERROR)
    services = Services()
    try:
        services.config  # noqa: B018 - read (and validate) the environment now, not mid-pass
        if args.command == "status":
            return status(services)
        if args.command == "setup":
            return distributed(services, args.command)
        if args.command == "dispatch":
            return distributed(services, args.command, {"firestore_deadline": args.firestore_deadline})
        tuned = {"fetch_group": args.fetch_group, "chunk_writes_max": args.chunk_writes,
                 "lease_ttl_seconds": float(args.lease_ttl), "firestore_deadline": args.firestore_deadline}
        if args.command == "worker":
            return distributed(services, args.command, {**tuned, "unary_pull": args.unary_pull})
        return once(services, args.user, tuned) if args.command == "once" else run(services, tuned)
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return EXIT_CONFIG
    finally:
        services.close()


if __name__ == "__main__":
    sys.exit(main())
