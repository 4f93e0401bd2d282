"""Calling Google for one mailbox: pacing to its quota, retries, batches, and what a failure means.

Every Gmail or Calendar call sync makes goes through `MailboxApi.call` or
`MailboxApi.batch`, which:

- price each call by the configured quota profile (`quotas.QuotaProfile`, from
  `SIDECAR_QUOTA_PROFILE`: the request's own discovery method id names its
  price, so no cost is written here) and wait for room in the mailbox's own
  quota window and in the process's project window (`QuotaWindow`: the same
  sliding minute Google meters, so a full sync runs close to the quota bound
  without provoking 429s), or, given a `sync.budget.ProjectBudget`, in the
  project's budgets shared by every process through Firestore;
- fetch metadata in batches of messages.get, or of threads.get for the
  threads where one call costs less than their listed messages one by one
  (`get_messages`, `order_by_thread`);
- retry 429, rate-limit 403s, 5xx and dropped connections with exponential
  backoff and full jitter; inside a batch only the failed parts are re-queued;
- turn what no retry can fix into a `MailboxError` with a short reason
  (`revoked`: 401, invalid_grant, insufficient permissions; `failed`: the rest).

The clients themselves come from `google_clients`, through the factory `SyncRun` is given.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping

import httplib2
from google.api_core import exceptions as core_exceptions
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import HttpError

import google_clients
from models.domain import MailboxState
from quotas import WINDOW_SECONDS, QuotaProfile

log = logging.getLogger(__name__)

GMAIL_BATCH_MAX = 50  # Google: more than 50 calls a Gmail batch is not recommended (it rate-limits them)
THREAD_PART = "thread-"  # request ids of threads.get parts in a batch (the others are message ids)
QUOTA_WINDOW_MARGIN_SECONDS = 1.0  # Google charges on arrival, a little after we count: stay clear of the edge
PRIORITY_POLL_SECONDS = 0.02  # a waiter behind a more urgent one looks again this often
PRIORITY_ACTIVE_SECONDS = 2.0  # a waiter that spent this recently is between two batches: keep room for it
QUOTA_HEADROOM = 0.98  # spend at most this share of the budget, so a clock step never tips over it
RETRY_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 32.0
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded",
                                "dailyLimitExceeded", "backendError", "RESOURCE_EXHAUSTED"})
PERMISSION_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "forbidden",
                                "domainPolicy", "authError"})


class MailboxError(Exception):
    """This mailbox cannot sync now; `state` is what its Mailbox records (revoked or failed)."""

    def __init__(self, state: MailboxState, reason: str):
        super().__init__(reason)
        self.state = state
        self.reason = reason


class Stopped(Exception):
    """The process was asked to stop; what is committed stays, the rest waits for the next run."""


def error_reason(exc: HttpError) -> str:
    """Google's `error.errors[0].reason` (or `error.status`), '' when the body has none."""
    try:
        error = json.loads(exc.content.decode("utf-8", "replace"))["error"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""
    details = error.get("errors") or [{}]
    return details[0].get("reason") or error.get("status") or ""


def status_of(exc: HttpError) -> int:
    return int(exc.resp.status)


def is_retryable(exc: Exception) -> bool:
    if isinstance(exc, HttpError):
        status = status_of(exc)
        return status == 429 or status >= 500 or (status == 403 and error_reason(exc) in RATE_LIMIT_REASONS)
    return isinstance(exc, (TransportError, httplib2.HttpLib2Error, OSError))


def classify(exc: Exception) -> MailboxError | None:
    """The mailbox-level meaning of an error no retry fixes, or None when the caller handles it."""
    if isinstance(exc, RefreshError):
        text = str(exc)
        reason = "invalid_grant" if "invalid_grant" in text else "unauthorized_client" \
            if "unauthorized_client" in text else "token refresh failed"
        return MailboxError(MailboxState.REVOKED, reason)
    if isinstance(exc, HttpError):
        status, reason = status_of(exc), error_reason(exc)
        if status == 401:
            return MailboxError(MailboxState.REVOKED, f"401 {reason or 'unauthorized'}")
        if status == 403 and reason in PERMISSION_REASONS:
            return MailboxError(MailboxState.REVOKED, f"403 {reason}")
        return MailboxError(MailboxState.FAILED, f"{status} {reason}".strip())
    if isinstance(exc, (core_exceptions.RetryError, core_exceptions.ServiceUnavailable,
                        core_exceptions.DeadlineExceeded)):  # Firestore, after the repository's deadline
        return MailboxError(MailboxState.FAILED, f"Firestore unreachable ({type(exc).__name__})")
    return MailboxError(MailboxState.FAILED, type(exc).__name__)


class QuotaWindow:
    """A client-side copy of Google's sliding one-minute quota for one user and API (thread-safe:
    a mailbox's fetch workers share it).

    Waiters are served by `priority` (lower first): while one of a lower number
    waits, the others wait too, and while one has spent within
    `PRIORITY_ACTIVE_SECONDS` (it is between two batches: a round trip, a parse)
    the others leave room for another batch like its last. Sync's incremental
    calls wait at 0 and a backfill's groups at their index, so new mail goes
    first, and when the quota is what limits, an older group's fetch does not
    share it with the next group's (the newest mail is stored first); when it
    is not, they run side by side.
    """

    def __init__(self, units_per_minute: int, window_seconds: float = WINDOW_SECONDS,
                 stop: threading.Event | None = None, clock=time.monotonic):
        self.budget = units_per_minute * QUOTA_HEADROOM
        self.window = window_seconds + QUOTA_WINDOW_MARGIN_SECONDS
        self.stop = stop or threading.Event()
        self.clock = clock
        self.spent: collections.deque[tuple[float, int]] = collections.deque()
        self.total = 0
        self.waited = 0.0
        self._lock = threading.Lock()
        self._waiting: collections.Counter[int] = collections.Counter()  # priority -> waiters
        self._last: dict[int, tuple[float, int]] = {}  # priority -> when it last spent, and how much

    def _used(self, now: float) -> int:
        while self.spent and self.spent[0][0] <= now - self.window:
            self.spent.popleft()
        return sum(spent for _, spent in self.spent)

    def available(self) -> int:
        """Units that fit in the window now."""
        with self._lock:
            return max(int(self.budget) - self._used(self.clock()), 0)

    def acquire(self, units: int, stop: threading.Event | None = None, priority: int = 0) -> None:
        """Wait until `units` fit in the window and no waiter of a lower priority number is left, then
        count them as spent; `stop` (default: the window's own) ends the wait with `Stopped`."""
        stop = stop or self.stop
        units = min(units, int(self.budget))
        with self._lock:
            self._waiting[priority] += 1
        try:
            while True:
                with self._lock:
                    now = self.clock()
                    used = self._used(now)
                    first = min(p for p, n in self._waiting.items() if n)
                    reserved = sum(spent for p, (at, spent) in self._last.items()
                                   if p < priority and now - at < PRIORITY_ACTIVE_SECONDS)
                    if used + units + reserved <= self.budget and priority <= first:
                        self.spent.append((now, units))
                        self.total += units
                        self._last[priority] = (now, units)
                        return
                    # wait until enough of the oldest spending leaves the window
                    freed, wait = 0, 0.0
                    for at, spent in self.spent:
                        freed += spent
                        wait = at + self.window - now
                        if used - freed + units <= self.budget:
                            break
                    wait = max(wait, 0.01)
                    if priority > first or reserved:  # behind one that goes first: look again soon
                        wait = min(wait, PRIORITY_POLL_SECONDS)
                    self.waited += wait
                if stop.wait(wait):
                    raise Stopped()
        finally:
            with self._lock:
                self._waiting[priority] -= 1


_project_windows: dict[tuple[str, int, float], QuotaWindow] = {}
_project_windows_lock = threading.Lock()


def project_window(api: str, units_per_minute: int, window_seconds: float = WINDOW_SECONDS) -> QuotaWindow | None:
    """The process-wide window of the project's per-minute budget for an API (every mailbox synced
    in this process spends from it; None when the profile sets no project budget)."""
    if not units_per_minute:
        return None
    with _project_windows_lock:
        key = (api, units_per_minute, window_seconds)
        window = _project_windows.get(key)
        if window is None:
            window = _project_windows[key] = QuotaWindow(units_per_minute, window_seconds)
        return window


@dataclasses.dataclass
class CallStats:
    calls: int = 0
    retries: int = 0
    failed: int = 0  # calls that still failed after every retry
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, calls: int = 0, retries: int = 0, failed: int = 0) -> None:
        with self.lock:
            self.calls += calls
            self.retries += retries
            self.failed += failed


class GmailResources(dict):
    """Gmail's `users()` and its resources (`messages`, `history`, `threads`), each built on first use."""

    def __missing__(self, name: str):
        resource = self[name] = getattr(self["users"], name)()
        return resource


class MailboxApi:
    """Gmail and Calendar for one mailbox, built in one worker thread.

    Only `get_messages` may run in several threads at once (the fetch workers
    of `sync.gmail`): each thread then sends its batches over its own HTTP
    connection (httplib2 is not thread-safe) with the mailbox's credentials,
    and the quota window and counters are shared under locks.
    """

    def __init__(self, mailbox: str, service_factory: Callable, api_root: str | None, quota: QuotaProfile,
                 stop: threading.Event | None = None, rng: random.Random | None = None, budget=None):
        self.mailbox = mailbox
        self.api_root = api_root
        self.stop = stop or threading.Event()
        self.rng = rng or random.Random()
        self._factory = service_factory
        self._gmail = self._calendar = None
        self.quota = quota
        self.gmail_quota = QuotaWindow(quota.per_user_minute("gmail"), quota.window_seconds, self.stop)
        self._owner = threading.get_ident()
        self._local = threading.local()  # a fetch worker's own Gmail HTTP connection
        self.calendar_quota = QuotaWindow(quota.per_user_minute("calendar"), quota.window_seconds, self.stop)
        self.budget = budget  # a sync.budget.ProjectBudget: the project's budgets across processes
        self._project = {api: None if budget is not None else
                         project_window(api, quota.per_project_minute(api), quota.window_seconds)
                         for api in ("gmail", "calendar")}
        self.stats = CallStats()

    @property
    def gmail(self):
        """`users()` of Gmail and its resources by name, each built once and only when first used (building
        one costs more than a call: a no-op sync needs `history` alone)."""
        if self._gmail is None:
            service = self._factory("gmail", "v1", self.mailbox, google_clients.SYNC_SCOPES)
            self._gmail_http = service._http
            self._owner = threading.get_ident()
            self._gmail = GmailResources(users=service.users())
        return self._gmail

    @property
    def events(self):
        if self._calendar is None:
            service = self._factory("calendar", "v3", self.mailbox, google_clients.SYNC_SCOPES)
            self._calendar = service.events()
        return self._calendar

    def _http(self):
        """The Gmail connection of the calling thread (see the class doc)."""
        if threading.get_ident() == self._owner:
            return self._gmail_http
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = google_clients.twin_http(self._gmail_http)
        return http

    def _backoff(self, attempt: int) -> None:
        delay = self.rng.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** attempt))
        if self.stop.wait(delay):
            raise Stopped()

    def _spend(self, api: str, units: int, priority: int = 0) -> None:
        """Wait for room in the mailbox's window (`QuotaWindow` priorities), then in the project's (raising
        `sync.budget.BackfillPaused` or `DailyBudgetSpent` past the day's shares)."""
        (self.gmail_quota if api == "gmail" else self.calendar_quota).acquire(units, priority=priority)
        project = self._project[api]
        if project is not None:
            project.acquire(units, self.stop)
        if self.budget is not None:
            self.budget.spend(api, units, priority, self.stop)
            if self.stop.is_set():
                raise Stopped()

    def open_for_backfill(self) -> bool:
        """Whether a backfill group may start now (below the day's backfill share of the project budget)."""
        return self.budget is None or self.budget.open_for_backfill("gmail")

    def call(self, request, units: int | None = None, api: str | None = None) -> dict:
        """Execute one request, paced and retried; HttpErrors no retry fixes propagate.

        Its price and API come from the request's discovery method id and the quota profile.
        """
        api = api or request.methodId.split(".")[0]
        units = self.quota.units(request.methodId) if units is None else units
        for attempt in range(RETRY_ATTEMPTS):
            if self.stop.is_set():
                raise Stopped()
            self._spend(api, units)
            self.stats.add(calls=1)
            try:
                return request.execute()
            except RefreshError:
                raise
            except Exception as exc:
                if not is_retryable(exc) or attempt == RETRY_ATTEMPTS - 1:
                    if is_retryable(exc):
                        self.stats.add(failed=1)
                    raise
                self.stats.add(retries=1)
                log.info("retrying mailbox=%s api=%s attempt=%d error=%s", self.mailbox, api, attempt + 1,
                         _short(exc))
                self._backoff(attempt)
        raise AssertionError("unreachable")

    def fetch_by_thread(self, listed: int) -> bool:
        """Whether one threads.get costs less than `listed` messages.get (module doc of sync.gmail)."""
        return self.quota.units("gmail.users.threads.get") < listed * self.quota.units("gmail.users.messages.get")

    def get_messages(self, ids: list[str], headers: list[str], thread_of: Mapping[str, str] | None = None,
                     priority: int = 0) -> dict[str, dict | None]:
        """The messages of `ids` in format=metadata, through batches of at most 50 calls.

        With `thread_of` (message id -> thread id, from the listing), the ids of a
        thread that are cheaper to fetch together come from one threads.get
        (format=metadata, the same headers), keeping only the messages asked for;
        the others from messages.get. Returns id -> message, or None for a message
        gone meanwhile (404, or no longer in its thread). Failed parts that a retry
        can fix go into a later batch. A batch holds at most what fits in the
        quota window when it is built (at least one part), so a nearly full
        window is filled rather than waited out; `priority`: `QuotaWindow`.
        """
        gmail = self.gmail
        http = self._http()
        prices = {"message": self.quota.units("gmail.users.messages.get"),
                  "thread": self.quota.units("gmail.users.threads.get")}
        parts: dict[str, tuple[str, list[str]]] = {}  # request id -> (kind, the message ids it brings)
        by_thread: dict[str, list[str]] = {}
        for message_id in ids:
            by_thread.setdefault((thread_of or {}).get(message_id) or "", []).append(message_id)
        for thread_id, members in by_thread.items():
            if thread_id and self.fetch_by_thread(len(members)):
                parts[THREAD_PART + thread_id] = ("thread", members)
            else:
                parts.update((m, ("message", [m])) for m in members)
        budget = int(self.gmail_quota.budget)
        results: dict[str, dict | None] = {}
        queue = collections.deque(parts)
        attempts: dict[str, int] = collections.Counter()
        round_ = 0
        while queue:
            if self.stop.is_set():
                raise Stopped()
            # a batch never costs more than the window holds: a small budget gets smaller batches, not 429s
            room = max(self.gmail_quota.available(), 1)
            chunk = [queue.popleft()]
            units = prices[parts[chunk[0]][0]]
            while (queue and len(chunk) < GMAIL_BATCH_MAX
                   and units + prices[parts[queue[0]][0]] <= min(budget, room)):
                units += prices[parts[queue[0]][0]]
                chunk.append(queue.popleft())
            retry: list[str] = []
            fatal: list[Exception] = []
            done: set[str] = set()

            def on_response(request_id, response, exception, _retry=retry, _fatal=fatal, _done=done):
                kind, members = parts[request_id]
                if exception is None:
                    _done.add(request_id)
                    if kind == "message":
                        results[request_id] = response
                    else:
                        found = {m["id"]: m for m in response.get("messages") or ()}
                        results.update((m, found.get(m)) for m in members)
                elif isinstance(exception, HttpError) and status_of(exception) == 404:
                    _done.add(request_id)
                    results.update((m, None) for m in members)
                elif is_retryable(exception) and attempts[request_id] < RETRY_ATTEMPTS - 1:
                    attempts[request_id] += 1
                    _retry.append(request_id)
                else:
                    if is_retryable(exception):
                        self.stats.add(failed=1)
                    _fatal.append(exception)

            batch = google_clients.new_batch("gmail", self.api_root, on_response)
            for request_id in chunk:
                kind, members = parts[request_id]
                if kind == "message":
                    request = gmail["messages"].get(userId="me", id=request_id, format="metadata",
                                                    metadataHeaders=headers)
                else:
                    request = gmail["threads"].get(userId="me", id=request_id[len(THREAD_PART):],
                                                   format="metadata", metadataHeaders=headers)
                batch.add(request, request_id=request_id)
            self._spend("gmail", units, priority)
            self.stats.add(calls=len(chunk))
            try:
                batch.execute(http=http)
            except RefreshError:
                raise
            except Exception as exc:  # the whole batch failed: every part goes again
                if not is_retryable(exc) or round_ >= RETRY_ATTEMPTS:
                    raise
                retry[:] = [r for r in chunk if r not in done]
            if fatal:
                raise fatal[0]
            if retry:
                self.stats.add(retries=len(retry))
                log.info("requeued mailbox=%s parts=%d", self.mailbox, len(retry))
                queue.extendleft(reversed(retry))
                self._backoff(round_)
                round_ += 1
            else:
                round_ = 0
        return results


def order_by_thread(ids: list[str], thread_of: Mapping[str, str]) -> list[str]:
    """`ids` with each thread's messages brought together at the place of its first (newest listed) one,
    so that a fetch group holds whole threads."""
    threads: dict[str, list[str]] = {}
    for message_id in ids:
        threads.setdefault(thread_of.get(message_id) or message_id, []).append(message_id)
    return [message_id for members in threads.values() for message_id in members]


def _short(exc: Exception) -> str:
    if isinstance(exc, HttpError):
        return f"{status_of(exc)}:{error_reason(exc)}"
    return type(exc).__name__
