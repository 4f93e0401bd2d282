"""Calling Google for one mailbox: pacing to its quota, retries, batches, and what a failure means.

Every Gmail or Calendar call sync makes goes through `MailboxApi.call` or
`MailboxApi.batch`, which:

- wait for room in the mailbox's own quota window (`QuotaWindow`: the same
  sliding minute Google meters, so a full sync runs close to the quota bound
  without provoking 429s);
- retry 429, rate-limit 403s, 5xx and dropped connections with exponential
  backoff and full jitter; inside a batch only the failed parts are re-queued;
- turn what no retry can fix into a `MailboxError` with a short reason
  (`revoked`: 401, invalid_grant, insufficient permissions; `failed`: the rest).

The clients themselves come from `sync.google_clients` (through bootstrap).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import random
import threading
import time
from collections.abc import Callable

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import HttpError

from sync import google_clients

log = logging.getLogger(__name__)

GMAIL_BATCH_MAX = 50  # Google: more than 50 calls a Gmail batch is not recommended (it rate-limits them)
QUOTA_WINDOW_SECONDS = 60.0  # Google meters per-user quota over a sliding minute
QUOTA_WINDOW_MARGIN_SECONDS = 1.0  # Google charges on arrival, a little after we count: stay clear of the edge
QUOTA_HEADROOM = 0.98  # spend at most this share of the budget, so a clock step never tips over it
CALENDAR_QUERIES_PER_MINUTE = 600  # Calendar's default per-user "queries per minute"
# Gmail's published per-method cost in quota units (developers.google.com/gmail/api/reference/quota).
GMAIL_UNITS = {"messages.list": 5, "messages.get": 5, "history.list": 2, "getProfile": 1, "settings.sendAs.list": 1}
RETRY_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 32.0
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded",
                                "dailyLimitExceeded", "backendError", "RESOURCE_EXHAUSTED"})
PERMISSION_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "forbidden",
                                "domainPolicy", "authError"})


class MailboxError(Exception):
    """This mailbox cannot sync now; `state` is what its Mailbox records (revoked or failed)."""

    def __init__(self, state: str, reason: str):
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
        return MailboxError("revoked", reason)
    if isinstance(exc, HttpError):
        status, reason = status_of(exc), error_reason(exc)
        if status == 401:
            return MailboxError("revoked", f"401 {reason or 'unauthorized'}")
        if status == 403 and reason in PERMISSION_REASONS:
            return MailboxError("revoked", f"403 {reason}")
        return MailboxError("failed", f"{status} {reason}".strip())
    return MailboxError("failed", type(exc).__name__)


class QuotaWindow:
    """A client-side copy of Google's sliding one-minute quota for one user and API (thread-safe:
    a mailbox's fetch workers share it)."""

    def __init__(self, units_per_minute: int, stop: threading.Event, clock=time.monotonic):
        self.budget = units_per_minute * QUOTA_HEADROOM
        self.window = QUOTA_WINDOW_SECONDS + QUOTA_WINDOW_MARGIN_SECONDS
        self.stop = stop
        self.clock = clock
        self.spent: collections.deque[tuple[float, int]] = collections.deque()
        self.total = 0
        self.waited = 0.0
        self._lock = threading.Lock()

    def acquire(self, units: int) -> None:
        """Wait until `units` fit in the window, then count them as spent."""
        units = min(units, int(self.budget))
        while True:
            with self._lock:
                now = self.clock()
                while self.spent and self.spent[0][0] <= now - self.window:
                    self.spent.popleft()
                used = sum(spent for _, spent in self.spent)
                if used + units <= self.budget:
                    self.spent.append((now, units))
                    self.total += units
                    return
                # wait until enough of the oldest spending leaves the window
                freed, wait = 0, 0.0
                for at, spent in self.spent:
                    freed += spent
                    wait = at + self.window - now
                    if used - freed + units <= self.budget:
                        break
                wait = max(wait, 0.01)
                self.waited += wait
            if self.stop.wait(wait):
                raise Stopped()


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


class MailboxApi:
    """Gmail and Calendar for one mailbox, built in one worker thread.

    Only `get_messages` may run in several threads at once (the fetch workers
    of `sync.gmail`): each thread then sends its batches over its own HTTP
    connection (httplib2 is not thread-safe) with the mailbox's credentials,
    and the quota window and counters are shared under locks.
    """

    def __init__(self, mailbox: str, service_factory: Callable, api_root: str | None, gmail_units_per_minute: int,
                 stop: threading.Event | None = None, rng: random.Random | None = None):
        self.mailbox = mailbox
        self.api_root = api_root
        self.stop = stop or threading.Event()
        self.rng = rng or random.Random()
        self._factory = service_factory
        self._gmail = self._calendar = None
        self.gmail_quota = QuotaWindow(gmail_units_per_minute, self.stop)
        self._owner = threading.get_ident()
        self._local = threading.local()  # a fetch worker's own Gmail HTTP connection
        self.calendar_quota = QuotaWindow(CALENDAR_QUERIES_PER_MINUTE, self.stop)
        self.stats = CallStats()

    @property
    def gmail(self):
        """`users()` of Gmail; resources are built once (building them costs more than a call)."""
        if self._gmail is None:
            service = self._factory("gmail", "v1", self.mailbox, google_clients.GMAIL_SCOPES)
            self._gmail_http = service._http
            self._owner = threading.get_ident()
            users = service.users()
            self._gmail = {"users": users, "messages": users.messages(), "history": users.history()}
        return self._gmail

    @property
    def events(self):
        if self._calendar is None:
            service = self._factory("calendar", "v3", self.mailbox, google_clients.CALENDAR_SCOPES)
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

    def call(self, request, units: int, api: str = "gmail") -> dict:
        """Execute one request, paced and retried; HttpErrors no retry fixes propagate."""
        quota = self.gmail_quota if api == "gmail" else self.calendar_quota
        for attempt in range(RETRY_ATTEMPTS):
            if self.stop.is_set():
                raise Stopped()
            quota.acquire(units)
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

    def get_messages(self, ids: list[str], headers: list[str]) -> dict[str, dict | None]:
        """messages.get(format=metadata) for many ids through batches of at most 50.

        Returns id -> message, or None for a message gone meanwhile (404).
        Failed parts that a retry can fix go into a later batch.
        """
        messages = self.gmail["messages"]
        http = self._http()
        results: dict[str, dict | None] = {}
        queue = collections.deque(ids)
        attempts: dict[str, int] = collections.Counter()
        round_ = 0
        while queue:
            if self.stop.is_set():
                raise Stopped()
            chunk = [queue.popleft() for _ in range(min(GMAIL_BATCH_MAX, len(queue)))]
            retry: list[str] = []
            fatal: list[Exception] = []

            def on_response(request_id, response, exception, _chunk=chunk, _retry=retry, _fatal=fatal):
                message_id = request_id
                if exception is None:
                    results[message_id] = response
                elif isinstance(exception, HttpError) and status_of(exception) == 404:
                    results[message_id] = None
                elif is_retryable(exception) and attempts[message_id] < RETRY_ATTEMPTS - 1:
                    attempts[message_id] += 1
                    _retry.append(message_id)
                else:
                    if is_retryable(exception):
                        self.stats.add(failed=1)
                    _fatal.append(exception)

            batch = google_clients.new_batch("gmail", self.api_root, on_response)
            for message_id in chunk:
                batch.add(messages.get(userId="me", id=message_id, format="metadata", metadataHeaders=headers),
                          request_id=message_id)
            self.gmail_quota.acquire(GMAIL_UNITS["messages.get"] * len(chunk))
            self.stats.add(calls=len(chunk))
            try:
                batch.execute(http=http)
            except RefreshError:
                raise
            except Exception as exc:  # the whole batch failed: every part goes again
                if not is_retryable(exc) or round_ >= RETRY_ATTEMPTS:
                    raise
                retry[:] = [m for m in chunk if m not in results]
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


def _short(exc: Exception) -> str:
    if isinstance(exc, HttpError):
        return f"{status_of(exc)}:{error_reason(exc)}"
    return type(exc).__name__
