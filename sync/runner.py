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

`SyncRun.sync_mailbox` is the one unit of work: `once`, `run` and a Pub/Sub
worker all sync a mailbox through it, under the mailbox's lease (`sync.leasing`,
`models.leases`): one holder at a time across processes, and the mailbox
document (its cursors) committed with the lease's fence check and release, so
a sync that lost its lease never moves a cursor.
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
from models.leases import Fenced, Lease, LeaseState
from models.repository import Repository
from quotas import QuotaProfile
from sync.api import MailboxApi, MailboxError, Stopped, classify
from sync.budget import ProjectBudget
from sync.calendar import CalendarSync
from sync.directory import Workspace, mark_departures, read_workspace, record_workspace
from sync.gmail import FETCH_GROUP, MESSAGES_PAGE_MAX, GmailSync
from sync.leasing import LEASE_TTL_SECONDS, Heartbeat, new_owner
from sync.linking import Team
from sync.people import learn_send_as
from sync.writer import CHUNK_WRITES_MAX, SyncWriter, TenantState, link_pending, refresh_signals, settle_contacts

log = logging.getLogger(__name__)

DIRECTORY_PAGE_MAX = 500  # Directory users.list maxResults maximum
DIRTY_RERUNS_MAX = 2  # syncs again of a mailbox marked dirty while it synced, per attempt
# A long-lived run (a Pub/Sub worker links after every mailbox) looks at most this often for what it did not
# leave itself: other processes' contacts still to link (an import's new addresses, a crash's leftovers) and
# meetings that passed; what it created or noted itself is linked at once. A pass links once, and looks.
LINK_SCAN_SECONDS = 60.0
LEASE_POLL_SECONDS = 1.0  # how often a pass waiting for a leased mailbox tries again (one get each)
LEASE_WRITES_A_SYNC = 2  # the acquisition, and the release that rides on the cursor commit
LEASED = "another sync holds its lease; it will go again"
LEASE_LOST = "lease lost: another sync took the mailbox over"

RepositoryFactory = Callable[[str], Repository]  # tenant -> its repository
# (api, version, user acted as, scopes) -> a googleapiclient Resource or what acts as one
# (`google_clients.Service`), e.g. wiring.Services.google_service
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
    firestore_writes: int = 0  # data and the mailbox document
    lease_writes: int = 0  # the lease's own bookkeeping (acquire, renewals, the release in the cursor commit)
    skipped: str | None = None  # why this attempt did not sync it (another attempt holds its lease)

    @property
    def synced(self) -> bool:
        """Synced, or left to the attempt that holds it: nothing for this process to report as failed."""
        return self.skipped is not None or (self.state in (MailboxState.OK, MailboxState.DEPARTED) and not self.error)

    def line(self) -> str:
        if self.skipped:
            return f"mailbox={self.email} state={self.state} skipped={self.skipped!r}"
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


def current_workspace(config: Config, google_service: ServiceFactory,
                      last: Workspace | None = None) -> Workspace | None:
    """The Workspace as SIDECAR_ADMIN_EMAIL's Directory lists it (None without an admin); when it cannot be
    read, `last`: a long-lived process (worker, dispatcher) never files a mailbox under another tenant
    for one failed read."""
    if not config.admin_email:
        return None
    return read_workspace(config.admin_email, google_service) or last


def without_departed(repo: Repository, workspace: Workspace, mailboxes: list[str]) -> list[str]:
    """The mailboxes to sync: not a departed rep's, whom this marks `departed` (`sync.directory.mark_departures`,
    `repo` being the Workspace's primary tenant's)."""
    departed = set(mark_departures(repo, workspace))
    return [m for m in mailboxes if m.lower() not in departed and (
        workspace.is_active(m) or workspace.tenant_of(m) != workspace.primary)]


class SyncRun:
    """One pass: `run(mailboxes)` returns a result per mailbox (see the module doc for what it is given).

    `backfill_seconds` bounds each mailbox's backfill slice in this pass (the
    daemon passes its interval, so a long backfill resumes in the next pass and
    holds up no other mailbox); None runs every backfill to its end.
    """

    def __init__(self, repository: RepositoryFactory, google_service: ServiceFactory, config: Config,
                 stop: threading.Event | None = None, *, fetch_group: int = FETCH_GROUP,
                 chunk_writes_max: int = CHUNK_WRITES_MAX, quota: QuotaProfile | None = None,
                 lease_ttl_seconds: float = LEASE_TTL_SECONDS, wait_for_lease: bool = True,
                 workspace: Workspace | None = None, backfill_seconds: float | None = None,
                 list_page: int = MESSAGES_PAGE_MAX, project_budget: ProjectBudget | None = None):
        self.repository = repository
        self.google_service = google_service
        self.config = config
        self.stop = stop or threading.Event()
        self.fetch_group = fetch_group
        self.chunk_writes_max = chunk_writes_max
        self.quota = quota or config.quota  # the configured profile; a test or benchmark may scale it
        self.lease_ttl_seconds = lease_ttl_seconds
        self.wait_for_lease = wait_for_lease
        self.workspace = workspace  # the Directory's domains and users (sync.directory), when it was read
        self.backfill_seconds = backfill_seconds
        self.list_page = list_page  # Gmail's messages.list page size (a test lists a small mailbox in pages)
        self._tenants: dict[str, TenantState] = {}
        self.send_as_learned: set[str] = set()  # mailboxes and tenants whose send-as aliases are known (sync.people)
        self.send_as_fetched: dict[str, list[str]] = {}  # mailbox -> aliases fetched, stored by its own sync
        self.project_budget = project_budget  # the project's budgets across processes (sync.budget); built on first use
        self.link_writes = 0  # Firestore writes of the closing link pass (the benchmarks count them)
        self._scanned: dict[str, tuple[float, int]] = {}  # tenant -> when `link` last looked, contacts created then
        self._lock = threading.Lock()

    def tenant(self, tenant: str) -> TenantState:
        with self._lock:
            if tenant not in self._tenants:
                repo = self.repository(tenant)
                settings = repo.get_settings()
                if self.workspace is not None and tenant == self.workspace.primary \
                        and record_workspace(repo, self.workspace, settings.internal_domains):
                    settings = repo.get_settings()  # its domains are internal from this pass on
                self._tenants[tenant] = TenantState(repo, Team(tenant, settings))
            return self._tenants[tenant]

    def budget(self, repo) -> ProjectBudget:
        """The process's share of the project's budgets (`sync.budget`), one for every mailbox of this run."""
        with self._lock:
            if self.project_budget is None:
                self.project_budget = ProjectBudget(repo.client, self.quota)
            return self.project_budget

    def tenant_of(self, email: str) -> str:
        """The tenant a mailbox is filed under: its Workspace's primary domain (SPEC §4), else its own domain."""
        return self.workspace.tenant_of(email) if self.workspace is not None else email_domain(email)

    def run(self, mailboxes: list[str]) -> list[MailboxResult]:
        if self.workspace is not None:  # departed reps are not synced; their mailboxes say so (sync.directory)
            mailboxes = without_departed(self.tenant(self.workspace.primary).repo, self.workspace, mailboxes)
        workers = max(1, min(self.config.sync_concurrency, len(mailboxes)))
        learn_send_as(self, mailboxes)  # every alias is the team's before any mailbox links a message
        with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="sync") as pool:
            results = list(pool.map(self.sync_mailbox, mailboxes))
        for tenant in list(self._tenants):
            if self.stop.is_set() or not any(r.state == MailboxState.OK for r in results):
                break  # stopped, or nothing synced (an unreachable store would only make each call wait)
            self.link(tenant)
        if self.project_budget is not None:
            self.project_budget.close()  # what the grants left unspent goes back to the project's day
        return results

    def refresh(self) -> None:
        """Start each tenant's caches over, keeping its lock and its commits in flight (a long-lived worker).

        Syncs in progress keep the state they started with; the next ones look
        up again what other processes created since. Both share the lock and
        `in_flight` (pruned of the commits that landed), so an activity is
        still read and rewritten by one of them at a time, and what `link`
        takes up (the names seen, the addresses noted unlinked).
        """
        with self._lock:
            for tenant, old in self._tenants.items():
                fresh = TenantState(old.repo, Team(tenant, old.repo.get_settings()))
                fresh.team.add_own_addresses(sorted(old.team.own_addresses))  # send-as aliases stay known
                with old.lock:  # the writers touch `in_flight` under it; landed commits need no waiting
                    for activity_id in [a for a, commit in old.in_flight.items() if commit.done()]:
                        del old.in_flight[activity_id]
                # the names seen and the contacts touched are shared too: a sync of the old state still adds
                # to what `link` settles and refreshes
                fresh.lock, fresh.in_flight, fresh.names_seen = old.lock, old.in_flight, old.names_seen
                fresh.noted = old.noted
                fresh.touched = old.touched
                self._tenants[tenant] = fresh

    def link(self, tenant: str) -> None:
        """Link contacts this run created to what other mailboxes stored before they existed, settle the
        names and owners of the contacts its syncs saw by `models.precedence`, whatever their order, then
        refresh the signals' moments of the contacts whose exchanges changed (issue 17: what segments query).

        The settle step moves no cursor and needs no lease: each contact is
        rewritten with a conditional write on the version it read (another
        process settling the same people retries on the newer one), so two
        processes settling at once converge on the same result.

        Signals come last: they are computed from a contact's `exchanges`,
        which linking adds to (a contact created this run gets the exchanges
        other mailboxes stored before it existed). Settling reads and writes
        none of what signals read, but both rewrite contacts conditionally on
        the version they read: run last, the refresh plans on versions no
        later step of this pass changes, so neither has to plan again.

        What others left (contacts pending links, meetings passed) is looked
        for by two queries, at most every `LINK_SCAN_SECONDS` in a long-lived
        run, and at once when this run created contacts since it last looked
        (they are pending links too); the first link of a run always looks.
        An unchanged mailbox's link in a worker then costs no round trip.
        """
        state = self.tenant(tenant)
        with state.lock:
            now, created = time.monotonic(), len(state.created)
            last = self._scanned.get(tenant)
            scan = last is None or now - last[0] >= LINK_SCAN_SECONDS or created != last[1]
            noted = set(state.noted)
            if scan or noted:  # a noted address is looked up again (`link_pending`)
                self.link_writes += link_pending(state.repo, noted)
            state.noted -= noted
        settle_contacts(state)
        with state.lock:
            self.link_writes += refresh_signals(state, passed_meetings=scan)
        if scan:  # once it looked without failing
            with self._lock:
                self._scanned[tenant] = (now, created)

    def sync_mailbox(self, email: str) -> MailboxResult:
        """Sync one mailbox under its lease: the one unit of work of `once`, `run` and a Pub/Sub worker.

        When another attempt holds the lease, a pass (`wait_for_lease`, the
        `once` and `run` modes) waits until it is released or expires (a
        holder killed mid-sync holds it for its ttl at most), then syncs; a
        worker instead marks the mailbox dirty and skips it, and the holder
        goes again when it lets go. The lease is tried once more after the
        mark, so a holder that let go in between is never left unaware. A
        mailbox marked dirty while this attempt held it (the commit that
        releases the lease tells: `models.leases`) is synced again, at most
        `DIRTY_RERUNS_MAX` times (the dispatcher's cadence is the net under
        that).

        Firestore round trips of an unchanged mailbox: three. One `get_all`
        reads the lease, its dirty mark and the mailbox; one conditional write
        takes the lease; one commit writes the mailbox, checks the fence and
        the mark and releases the lease.
        """
        email = email.lower()
        try:
            return self._sync_mailbox(email)
        except Exception as exc:  # the store itself failed (unreachable): there is nowhere to record it
            failure = classify(exc)
            log.error("sync failed mailbox=%s state=failed reason=%s", email, failure.reason)
            return MailboxResult(email, failure.state, error=failure.reason)

    def _sync_mailbox(self, email: str) -> MailboxResult:
        repo = self.tenant(self.tenant_of(email)).repo
        for _ in range(1 + DIRTY_RERUNS_MAX):
            lease, stored = self._acquire(repo, email)
            if lease is None:
                state = stored.state if stored else MailboxState.NEW
                if self.stop.is_set():  # stopped while waiting for the lease
                    return MailboxResult(email, state, error="stopped")
                log.info("sync skipped mailbox=%s reason=leased", email)
                return MailboxResult(email, state, skipped=LEASED)
            result, dirty = self._sync_leased(email, lease, stored)
            if result.error or not dirty:
                return result
            log.info("sync again mailbox=%s reason=dirty", email)
        return result

    def _acquire(self, repo: Repository, email: str) -> tuple[Lease | None, Mailbox | None]:
        """The mailbox's lease (None when another attempt holds it) and the stored mailbox, read together."""
        lease, stored = repo.acquire_mailbox(email, new_owner(), self.lease_ttl_seconds)
        if lease is not None:
            return lease, stored
        if not self.wait_for_lease:
            repo.mark_mailbox_dirty(email)
            return repo.acquire_mailbox(email, new_owner(), self.lease_ttl_seconds)
        log.info("sync waiting mailbox=%s reason=leased", email)
        while not self.stop.wait(LEASE_POLL_SECONDS):
            lease, stored = repo.acquire_mailbox(email, new_owner(), self.lease_ttl_seconds)
            if lease is not None:
                return lease, stored
        return None, stored

    def _sync_leased(self, email: str, lease: Lease, stored: Mailbox | None) -> tuple[MailboxResult, bool]:
        """Sync the mailbox under `lease` (`stored`: as read with it); the result, and whether it was marked
        dirty meanwhile (the commit that releases the lease says so: `Repository.commit_cursors`)."""
        started = time.monotonic()
        # a pass knows every mailbox's already; a worker, from each one's first sync (its stored aliases as read)
        learn_send_as(self, [email], known={email: stored})
        state = self.tenant(self.tenant_of(email))
        repo = state.repo
        mailbox = stored or Mailbox(email=email)
        if mailbox.state == MailboxState.DEPARTED:  # the rep left (sync.directory): history kept, nothing synced
            repo.release_lease(lease)  # at once, not at its expiry: nothing is synced
            return MailboxResult(email, MailboxState.DEPARTED), False
        fetched = self.send_as_fetched.pop(email, None)
        mailbox.send_as = mailbox.send_as if fetched is None else fetched
        config = self.config
        with Heartbeat(repo, lease, self.stop) as heartbeat:
            api = MailboxApi(email, self.google_service, config.google_api_root,
                             self.quota, heartbeat.halt, budget=self.budget(repo))
            writer = SyncWriter(state, email, chunk_writes_max=self.chunk_writes_max)
            gmail = GmailSync(api, writer, config.backfill_days, fetch_group=self.fetch_group,
                              checkpoint=heartbeat.checkpoint, list_page=self.list_page)
            calendar = CalendarSync(api, writer, config.backfill_days)
            result = MailboxResult(email, MailboxState.OK)
            mailbox.last_attempt_at = utcnow()
            log.info("sync start mailbox=%s state=%s fence=%d", email, mailbox.state, lease.fence)
            try:
                deadline = None if self.backfill_seconds is None else started + self.backfill_seconds
                history_id = gmail.run(mailbox, deadline)
                mailbox.history_id = history_id
                sync_token = calendar.run(mailbox)
                mailbox.sync_token = sync_token or mailbox.sync_token
                mailbox.cursor_at = utcnow()
            except Stopped:
                result.state, result.error = mailbox.state, LEASE_LOST if heartbeat.lost else "stopped"
            except Fenced:  # a backfill checkpoint refused: another attempt holds the mailbox now
                log.warning("cursor commit refused mailbox=%s fence=%d reason=lease lost", email, lease.fence)
                result.state, result.error = mailbox.state, LEASE_LOST
            except Exception as exc:  # classified below; the other mailboxes go on
                failure = exc if isinstance(exc, MailboxError) else classify(exc)
                result.state, result.error = failure.state, failure.reason
                if failure.state == MailboxState.FAILED and not isinstance(exc, MailboxError):
                    log.exception("sync failed mailbox=%s state=failed reason=%s", email, failure.reason)
            writer.close()  # chunk commits still in flight after a failure or a stop land (or are logged)
            result.messages, result.events = gmail.messages, calendar.events
            result.contacts_created = writer.counts.contacts_created
            if result.error not in ("stopped", LEASE_LOST):
                mailbox.state = result.state
                if result.error:
                    mailbox.last_error, mailbox.last_error_at = result.error, utcnow()
                else:
                    mailbox.last_success_at = mailbox.last_attempt_at
                mailbox.counts = {"messages": result.messages, "events": result.events,
                                  "contacts_created": result.contacts_created, "removed": writer.counts.removed,
                                  "skipped": writer.counts.skipped}
            dirty, held = False, ""
            try:
                writer.flush()  # everything the cursors cover lands before them
                dirty = heartbeat.commit(mailbox)
                # the lease's own interval, from its acquisition and release commits (server times): what
                # `bench.scale` checks for overlaps, as this line is written after the release
                held = f" lease_held={lease.acquired_at.timestamp():.6f}..{lease.written_at.timestamp():.6f}"
                result.firestore_writes = 1 + heartbeat.checkpoints  # the mailbox document, each time
            except Fenced:
                log.warning("cursor commit refused mailbox=%s fence=%d reason=lease lost", email, lease.fence)
                result.state, result.error = mailbox.state, LEASE_LOST
            except Exception as exc:  # the store failed as well: nothing more can be recorded
                return self._unrecorded(result, exc, started), False
        result.seconds = time.monotonic() - started
        result.api_calls = api.stats.calls
        result.failed_calls = api.stats.failed
        result.firestore_writes += writer.writes
        result.lease_writes = LEASE_WRITES_A_SYNC + heartbeat.renewals + heartbeat.checkpoints
        log.info("sync done mailbox=%s state=%s messages=%d events=%d contacts_created=%d seconds=%.1f%s%s",
                 email, result.state, result.messages, result.events, result.contacts_created, result.seconds,
                 f" reason={result.error!r}" if result.error else "", held)
        return result, dirty


    @staticmethod
    def _unrecorded(result: MailboxResult, exc: Exception, started: float) -> MailboxResult:
        """A mailbox whose outcome could not be stored (Firestore failed): its reason, logged and returned."""
        if not result.error or result.state == MailboxState.OK:
            failure = classify(exc)
            result.state, result.error = failure.state, failure.reason
        result.seconds = time.monotonic() - started
        log.error("sync failed mailbox=%s state=%s reason=%s (not recorded)", result.email, result.state,
                  result.error)
        return result


def status_rows(repository: RepositoryFactory, mailboxes: list[str],
                tenant_of: Callable[[str], str] = email_domain) -> list[Mailbox]:
    """The stored Mailbox of each tenant the configured mailboxes belong to (`tenant_of`: `SyncRun.tenant_of`)."""
    tenants = sorted({tenant_of(m) for m in mailboxes})
    rows = []
    for tenant in tenants:
        rows.extend(repository(tenant).list_mailboxes())
    return sorted(rows, key=lambda m: m.email)


def lease_states(repository: RepositoryFactory, mailboxes: list[Mailbox],
                 tenant_of: Callable[[str], str] = email_domain) -> dict[str, LeaseState]:
    """The lease of each listed mailbox that has one (held, expired or released), by address."""
    found = {}
    for tenant in sorted({tenant_of(m.email) for m in mailboxes}):
        found.update({lease.name: lease for lease in repository(tenant).mailbox_leases()})
    return found
