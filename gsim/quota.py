"""Per-user quota with Google's per-method costs, injected faults and call counters.

Gmail meters each user in quota units per minute, and each method has a
published cost (https://developers.google.com/gmail/api/reference/quota).
Calendar and Directory meter queries (one unit a call). Sidecar paces itself to
these budgets, so the simulator enforces them with a sliding one-minute window
and answers as Google does when a user goes over: 429 ``rateLimitExceeded``
(or the 403 ``userRateLimitExceeded`` variant when configured so).
"""

from __future__ import annotations

import collections
import random
import threading
import time

from . import errors

# Gmail API quota units per method (Google's "Per-method quota usage" table).
GMAIL_METHOD_UNITS = {
    "gmail.users.getProfile": 1,
    "gmail.users.watch": 100,
    "gmail.users.stop": 50,
    "gmail.users.labels.list": 1,
    "gmail.users.labels.get": 1,
    "gmail.users.messages.list": 5,
    "gmail.users.messages.get": 5,
    "gmail.users.messages.attachments.get": 5,
    "gmail.users.history.list": 2,
    "gmail.users.threads.list": 10,
    "gmail.users.threads.get": 10,
    "gmail.users.drafts.list": 5,
    "gmail.users.drafts.get": 5,
}
DEFAULT_METHOD_UNITS = 1  # Calendar and Directory count queries, one per call
# SPEC §7: 6,000 units a minute per user by default. (Google's console today
# shows 15,000 per user per minute for Gmail; the budget is configurable.)
DEFAULT_GMAIL_UNITS_PER_MINUTE = 6_000
DEFAULT_CALENDAR_QUERIES_PER_MINUTE = 600  # Calendar's default "Queries per minute per user"
DEFAULT_DIRECTORY_QUERIES_PER_MINUTE = 2_400  # Admin SDK Directory: queries per minute per user
QUOTA_WINDOW_SECONDS = 60.0


def method_units(method_id: str) -> int:
    return GMAIL_METHOD_UNITS.get(method_id, DEFAULT_METHOD_UNITS)


class Quota:
    """Sliding-window per-(API, user) budget."""

    def __init__(self, gmail_units_per_minute: int = DEFAULT_GMAIL_UNITS_PER_MINUTE, clock=time.monotonic):
        self.budgets = {
            "gmail": gmail_units_per_minute,
            "calendar": DEFAULT_CALENDAR_QUERIES_PER_MINUTE,
            "directory": DEFAULT_DIRECTORY_QUERIES_PER_MINUTE,
        }
        self.error_status = 429  # or 403 for the userRateLimitExceeded variant
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], collections.deque] = collections.defaultdict(collections.deque)

    def set_budget(self, units_per_minute: int, api: str = "gmail") -> None:
        with self._lock:
            self.budgets[api] = units_per_minute

    def charge(self, api: str, user: str, units: int) -> None:
        """Spend units for a call or raise Google's rate-limit error (nothing spent then)."""
        budget = self.budgets.get(api)
        if not budget:
            return
        with self._lock:
            now = self.clock()
            window = self._windows[(api, user)]
            while window and window[0][0] <= now - QUOTA_WINDOW_SECONDS:
                window.popleft()
            used = sum(spent for _, spent in window)
            if used + units > budget:
                error = errors.user_rate_limit_exceeded() if self.error_status == 403 else errors.rate_limit_exceeded()
                raise error.for_calendar() if api == "calendar" else error
            window.append((now, units))

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()


class Faults:
    """Knobs for failures Google produces now and then: 5xx, 429, latency."""

    def __init__(self, seed: int = 0):
        self.rate = 0.0
        self.statuses: tuple[int, ...] = (500, 503, 429)
        self.latency_ms = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._scheduled: collections.deque[int] = collections.deque()

    def set(self, rate: float = 0.0, statuses=(500, 503, 429)) -> None:
        self.rate, self.statuses = rate, tuple(statuses)

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """Fail exactly the next ``count`` API calls (deterministic tests)."""
        with self._lock:
            self._scheduled.extend([status] * count)

    def draw(self) -> errors.ApiError | None:
        with self._lock:
            if self._scheduled:
                return errors.backend_error(self._scheduled.popleft())
            if self.rate and self._rng.random() < self.rate:
                return errors.backend_error(self._rng.choice(self.statuses))
        return None

    def delay(self) -> None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)


class Counters:
    """Calls, units and failures per method and per mailbox (read by /_sim/counters)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self.by_method: dict[str, dict[str, int]] = {}
            self.by_mailbox: dict[str, dict[str, dict[str, int]]] = {}
            self.batches = 0
            self.batch_parts = 0
            self.http_requests = 0
            self.tokens_issued = 0
            self.token_errors = 0

    def record(self, method_id: str, mailbox: str, units: int, status: int, outcome: str | None = None) -> None:
        """Count one call; ``outcome`` is ``rate_limited`` (quota) or ``fault`` (injected)."""
        with self._lock:
            for bucket in (
                self.by_method.setdefault(method_id, _zero()),
                self.by_mailbox.setdefault(mailbox, {}).setdefault(method_id, _zero()),
            ):
                bucket["calls"] += 1
                bucket["units"] += units
                if outcome:
                    bucket[outcome] += 1
                elif status >= 400:
                    bucket["errors"] += 1

    def bump(self, name: str, by: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + by)

    def snapshot(self) -> dict:
        with self._lock:
            totals = _zero()
            for bucket in self.by_method.values():
                for key in totals:
                    totals[key] += bucket[key]
            return {
                "total": totals,
                "by_method": {k: dict(v) for k, v in sorted(self.by_method.items())},
                "by_mailbox": {
                    box: {k: dict(v) for k, v in sorted(methods.items())}
                    for box, methods in sorted(self.by_mailbox.items())
                },
                "batches": self.batches,
                "batch_parts": self.batch_parts,
                "http_requests": self.http_requests,
                "tokens_issued": self.tokens_issued,
                "token_errors": self.token_errors,
            }


def _zero() -> dict[str, int]:
    return {"calls": 0, "units": 0, "errors": 0, "rate_limited": 0, "fault": 0}
