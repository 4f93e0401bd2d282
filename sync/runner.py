"""One sync pass over every mailbox: a bounded pool, each mailbox's failure caught and recorded.

`SyncRun` is given what it uses, never a locator: a repository factory (tenant
-> `Repository`), a Google service factory (`ServiceFactory`: api, version,
the user to act as, scopes -> a googleapiclient Resource), the `Config`, and
its tuning (`fetch_group`, `chunk_writes_max`; tests scale them down with the
seeded mailboxes). The process's entry point (`sync.__main__`) takes both
factories from its `wiring.Services`.

A mailbox is synced in its own worker thread with its own credentials and
HTTP connections (httplib2 is not thread-safe); mailboxes of one tenant share
a `TenantState` (see `sync.writer`). A mailbox that fails is marked with its
state and reason and the others go on; the mailbox document is written once,
at the end, after every write its cursors cover.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from config import Config
from google_clients import DIRECTORY_SCOPES
from models.addresses import email_domain
from models.domain import Mailbox, MailboxState, utcnow
from models.repository import Repository
from quotas import QuotaProfile
from sync.api import MailboxApi, MailboxError, Stopped, classify
from sync.calendar import CalendarSync
from sync.gmail import FETCH_GROUP, GmailSync
from sync.linking import Team
from sync.people import job_change_review, learn_send_as
from sync.writer import CHUNK_WRITES_MAX, SyncWriter, TenantState, link_pending

log = logging.getLogger(__name__)

DIRECTORY_PAGE_MAX = 500  # Directory users.list maxResults maximum

RepositoryFactory = Callable[[str], Repository]  # tenant -> its repository
# (api, version, user acted as, scopes) -> a googleapiclient Resource, e.g. wiring.Services.google_service
ServiceFactory = Callable[[str, str, str | None, Sequence[str]], Any]


@dataclasses.dataclass
class MailboxResult:
    email: str
    state: MailboxState
    messages: int = 0
    events: int = 0
    contacts_created: int = 0
    error: str | None = None
    seconds: float = 0.0
    api_calls: int = 0
    failed_calls: int = 0  # calls that still failed after every retry
    firestore_writes: int = 0

    def line(self) -> str:
        text = (f"mailbox={self.email} state={self.state} messages={self.messages} events={self.events} "
                f"contacts_created={self.contacts_created} seconds={self.seconds:.1f}")
        return text + (f" error={self.error!r}" if self.error else "")


def configured_mailboxes(config: Config, google_service: ServiceFactory) -> list[str]:
    """SIDECAR_USERS, else the Directory's active users, listed as SIDECAR_ADMIN_EMAIL."""
    if config.users:
        return list(config.users)
    if not config.admin_email:
        raise MailboxError(MailboxState.FAILED, "set SIDECAR_USERS or SIDECAR_ADMIN_EMAIL to choose the mailboxes")
    users = google_service("admin", "directory_v1", config.admin_email, DIRECTORY_SCOPES).users()
    found, page_token = [], None
    while True:
        response = users.list(customer="my_customer", maxResults=DIRECTORY_PAGE_MAX, pageToken=page_token,
                              orderBy="email").execute()
        found.extend(u["primaryEmail"].lower() for u in response.get("users") or () if not u.get("suspended"))
        page_token = response.get("nextPageToken")
        if not page_token:
            return found


class SyncRun:
    """One pass: `run(mailboxes)` returns a result per mailbox (see the module doc for what it is given)."""

    def __init__(self, repository: RepositoryFactory, google_service: ServiceFactory, config: Config,
                 stop: threading.Event | None = None, *, fetch_group: int = FETCH_GROUP,
                 chunk_writes_max: int = CHUNK_WRITES_MAX, quota: QuotaProfile | None = None):
        self.repository = repository
        self.google_service = google_service
        self.config = config
        self.stop = stop or threading.Event()
        self.fetch_group = fetch_group
        self.chunk_writes_max = chunk_writes_max
        self.quota = quota or config.quota  # the configured profile; a test or benchmark may scale it
        self._tenants: dict[str, TenantState] = {}
        self.link_writes = 0  # Firestore writes of the closing link pass (the benchmarks count them)
        self._lock = threading.Lock()

    def tenant(self, tenant: str) -> TenantState:
        with self._lock:
            if tenant not in self._tenants:
                repo = self.repository(tenant)
                self._tenants[tenant] = TenantState(repo, Team(tenant, repo.get_settings()))
            return self._tenants[tenant]

    def run(self, mailboxes: list[str]) -> list[MailboxResult]:
        workers = max(1, min(self.config.sync_concurrency, len(mailboxes)))
        learn_send_as(self, mailboxes)  # every alias is the team's before any mailbox links a message
        with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="sync") as pool:
            results = list(pool.map(self.sync_mailbox, mailboxes))
        for state in self._tenants.values():
            if self.stop.is_set():
                break
            with state.lock:
                self.link_writes += link_pending(state.repo, job_change_review(state.repo, state.team))
        return results

    def sync_mailbox(self, email: str) -> MailboxResult:
        started = time.monotonic()
        email = email.lower()
        state = self.tenant(email_domain(email))
        repo = state.repo
        mailbox = repo.get_mailbox(email) or Mailbox(email=email)
        config = self.config
        api = MailboxApi(email, self.google_service, config.google_api_root,
                         self.quota, self.stop)
        writer = SyncWriter(state, email, chunk_writes_max=self.chunk_writes_max)
        gmail = GmailSync(api, writer, config.backfill_days, fetch_group=self.fetch_group)
        calendar = CalendarSync(api, writer, config.backfill_days)
        result = MailboxResult(email, MailboxState.OK)
        mailbox.last_attempt_at = utcnow()
        log.info("sync start mailbox=%s state=%s", email, mailbox.state)
        try:
            history_id = gmail.run(mailbox)
            mailbox.history_id = history_id
            sync_token = calendar.run(mailbox)
            mailbox.sync_token = sync_token or mailbox.sync_token
            mailbox.cursor_at = utcnow()
        except Stopped:
            result.state, result.error = mailbox.state, "stopped"
        except Exception as exc:  # classified below; the other mailboxes go on
            failure = exc if isinstance(exc, MailboxError) else classify(exc)
            result.state, result.error = failure.state, failure.reason
            if failure.state == MailboxState.FAILED and not isinstance(exc, MailboxError):
                log.exception("sync failed mailbox=%s state=failed reason=%s", email, failure.reason)
        writer.close()  # chunk commits still in flight after a failure or a stop land (or are logged)
        writer.flush()
        result.messages, result.events = gmail.messages, calendar.events
        result.contacts_created = writer.counts.contacts_created
        if result.error != "stopped":
            mailbox.state = result.state
            if result.error:
                mailbox.last_error, mailbox.last_error_at = result.error, utcnow()
            else:
                mailbox.last_success_at = mailbox.last_attempt_at
            mailbox.counts = {"messages": result.messages, "events": result.events,
                              "contacts_created": result.contacts_created, "removed": writer.counts.removed}
        repo.save_mailbox(mailbox, writer.batch)
        writer.flush()
        result.seconds = time.monotonic() - started
        result.api_calls = api.stats.calls
        result.failed_calls = api.stats.failed
        result.firestore_writes = writer.writes
        log.info("sync done mailbox=%s state=%s messages=%d events=%d contacts_created=%d seconds=%.1f%s",
                 email, result.state, result.messages, result.events, result.contacts_created, result.seconds,
                 f" reason={result.error!r}" if result.error else "")
        return result


def status_rows(repository: RepositoryFactory, mailboxes: list[str]) -> list[Mailbox]:
    """The stored Mailbox of each tenant the configured mailboxes belong to."""
    tenants = sorted({email_domain(m) for m in mailboxes})
    rows = []
    for tenant in tenants:
        rows.extend(repository(tenant).list_mailboxes())
    return sorted(rows, key=lambda m: m.email)
