"""`python -m sync run | once [--user EMAIL]... | status` (SPEC §3).

- `run`: the daemon; APScheduler runs the jobs of `sync.schedule` until SIGTERM
  or SIGINT, then stops after the pass in progress has checkpointed.
- `once`: one pass, one line per mailbox; exit 0 when every mailbox synced, 1 otherwise.
- `status`: a table of the mailboxes: state, last success, cursor age, backfill progress, last error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import sys
import threading

from bootstrap import Services
from config import ConfigError
from models.domain import Mailbox, utcnow
from models.progress import import_percent
from sync import schedule
from sync.api import MailboxError
from sync.runner import SyncRun, configured_mailboxes, status_rows

log = logging.getLogger("sync")

LOG_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


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
              backfill_seconds: float | None = None) -> bool:
    """One pass over the mailboxes; True when every one synced (`backfill_seconds`: `SyncRun`)."""
    try:
        mailboxes = [u.lower() for u in users] if users else configured_mailboxes(services)
    except MailboxError as exc:
        log.error("no mailboxes state=failed reason=%s", exc.reason)
        return False
    results = SyncRun(services, stop, backfill_seconds).run(mailboxes)
    for result in results:
        _out(result.line())
    return all(r.state == "ok" and not r.error for r in results)


def once(services: Services, users: list[str]) -> int:
    stop = threading.Event()
    _on_signals(stop)
    return EXIT_OK if sync_pass(services, stop, users) else EXIT_FAILED


def run(services: Services) -> int:
    from apscheduler.schedulers.background import BackgroundScheduler

    stop = threading.Event()
    _on_signals(stop)
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    interval = services.config.sync_interval_seconds  # a backfill's slice a pass: one interval
    schedule.install(scheduler, schedule.jobs(lambda: sync_pass(services, stop, backfill_seconds=interval),
                                              services.config.sync_interval_seconds))
    scheduler.start()
    log.info("daemon started interval=%ds", services.config.sync_interval_seconds)
    while not stop.wait(1):
        pass
    scheduler.shutdown(wait=True)  # the pass in progress sees `stop`, commits what it has, and returns
    log.info("daemon stopped state=stopped")
    return EXIT_OK


def _age(at: dt.datetime | None) -> str:
    if at is None:
        return "-"
    seconds = int((utcnow() - at).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


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


def status_table(mailboxes: list[Mailbox]) -> list[str]:
    header = ("MAILBOX", "STATE", "LAST SUCCESS", "CURSOR AGE", "BACKFILL", "LAST ERROR")
    rows = [(m.email, m.state,
             m.last_success_at.strftime("%Y-%m-%d %H:%M:%SZ") if m.last_success_at else "-",
             _age(m.cursor_at), _backfill(m), m.last_error if m.last_error and m.state != "ok" else "-")
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
    for line in status_table(status_rows(services, mailboxes)):
        _out(line)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync", description="Sidecar's Gmail and Calendar sync")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="the daemon: sync every mailbox each interval")
    once_parser = commands.add_parser("once", help="one pass over all (or the named) mailboxes")
    once_parser.add_argument("--user", action="append", default=[], metavar="EMAIL")
    commands.add_parser("status", help="a table of mailboxes and their health")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    logging.getLogger("googleapiclient.discovery_cache").setLevel(logging.ERROR)
    services = Services()
    try:
        services.config  # noqa: B018 - read (and validate) the environment now, not mid-pass
        if args.command == "once":
            return once(services, args.user)
        if args.command == "run":
            return run(services)
        return status(services)
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return EXIT_CONFIG
    finally:
        services.close()


if __name__ == "__main__":
    sys.exit(main())
