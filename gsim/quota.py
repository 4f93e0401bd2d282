"""Google's usage limits as a quota profile enforces them, injected faults and call counters.

The simulator is started with a `quotas.QuotaProfile` (``2026`` by default,
``legacy`` for older projects; every unit cost comes from there) and meters
each call three ways, as Google does:

- per user and API, in a sliding one-minute window (Gmail in quota units,
  Calendar and Directory in requests): 429 ``rateLimitExceeded`` (or the 403
  ``userRateLimitExceeded`` variant when configured so);
- per project and API, in a sliding one-minute window: 429
  ``rateLimitExceeded`` "Quota exceeded for quota metric 'Queries' and limit
  'Queries per minute' ..." (403 "Rate Limit Exceeded" in the 403 variant);
- per project and API per day (Pacific time, when Google resets daily quotas):
  403 ``dailyLimitExceeded``.

A refused call spends nothing. `gsim.errors` cites the documented bodies.
"""

from __future__ import annotations

import collections
import datetime as dt
import random
import threading
import time
import zoneinfo

import quotas

from . import errors

QUOTA_WINDOW_SECONDS = quotas.WINDOW_SECONDS
QUOTA_DAY_TZ = zoneinfo.ZoneInfo("America/Los_Angeles")  # Google: daily quotas reset at midnight Pacific time
APIS = ("gmail", "calendar", "directory")
FETCH_METHODS = frozenset({"gmail.users.messages.get", "gmail.users.threads.get"})  # their ids are counted


class _Window:
    """Spending in a sliding window, with its running total."""

    def __init__(self):
        self.spent: collections.deque[tuple[float, int]] = collections.deque()
        self.total = 0

    def used(self, now: float, seconds: float) -> int:
        while self.spent and self.spent[0][0] <= now - seconds:
            self.total -= self.spent.popleft()[1]
        return self.total

    def add(self, now: float, units: int) -> None:
        self.spent.append((now, units))
        self.total += units


class Quota:
    """Per-user and per-project minute budgets and the per-project daily budget of a quota profile.

    A budget of 0 is not enforced. `charge` is atomic under one lock: concurrent
    calls never spend past a budget together.
    """

    def __init__(self, profile: quotas.QuotaProfile | str = quotas.DEFAULT_PROFILE, project_number: str = "0",
                 clock=time.monotonic, wall_clock=time.time, window_seconds: float = QUOTA_WINDOW_SECONDS):
        self.profile = quotas.profile(profile) if isinstance(profile, str) else profile
        self.budgets = {api: self.profile.per_user_minute(api) for api in APIS}
        self.project_budgets = {api: self.profile.per_project_minute(api) for api in APIS}
        self.daily_budgets = {api: self.profile.per_project_day(api) for api in APIS}
        self.project_number = project_number
        self.error_status = 429  # or 403 for the documented 403 variants
        self.clock = clock
        self.wall_clock = wall_clock
        self.window_seconds = window_seconds
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], _Window] = collections.defaultdict(_Window)
        self._project_windows: dict[str, _Window] = collections.defaultdict(_Window)
        self._days: dict[str, tuple[dt.date, int]] = {}

    def units(self, method_id: str) -> int:
        return self.profile.units(method_id)

    def set_budget(self, units_per_minute: int, api: str = "gmail") -> None:
        """Per-user budget a minute (Gmail units, or requests for Calendar and Directory)."""
        with self._lock:
            self.budgets[api] = units_per_minute

    def set_project_budget(self, per_minute: int | None = None, per_day: int | None = None,
                           api: str = "gmail") -> None:
        with self._lock:
            if per_minute is not None:
                self.project_budgets[api] = per_minute
            if per_day is not None:
                self.daily_budgets[api] = per_day

    def used_today(self, api: str = "gmail") -> int:
        with self._lock:
            day, used = self._days.get(api, (None, 0))
            return used if day == self._today() else 0

    def _today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.wall_clock(), QUOTA_DAY_TZ).date()

    def charge(self, api: str, user: str, units: int) -> None:
        """Spend units for a call or raise Google's error for the first budget it would cross (nothing spent)."""
        with self._lock:
            now, today = self.clock(), self._today()
            user_budget, project_budget = self.budgets.get(api), self.project_budgets.get(api)
            daily_budget = self.daily_budgets.get(api)
            user_window, project_window = self._windows[(api, user)], self._project_windows[api]
            day, used_today = self._days.get(api, (today, 0))
            if day != today:
                used_today = 0
            user_used = user_window.used(now, self.window_seconds)
            project_used = project_window.used(now, self.window_seconds)
            error = None
            if user_budget and user_used + units > user_budget:
                error = errors.user_rate_limit_exceeded() if self.error_status == 403 \
                    else errors.rate_limit_exceeded()
            elif project_budget and project_used + units > project_budget:
                error = errors.project_rate_limit_exceeded(api, self.project_number, self.error_status)
            elif daily_budget and used_today + units > daily_budget:
                error = errors.daily_limit_exceeded()
            if error is not None:
                raise error.for_calendar() if api == "calendar" else error
            user_window.add(now, units)
            project_window.add(now, units)
            self._days[api] = (today, used_today + units)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._project_windows.clear()
            self._days.clear()


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
            # mailbox -> get method -> the ids it answered, in order (what a sync fetched, and how often)
            self.fetched: dict[str, dict[str, list[str]]] = {}

    def record(self, method_id: str, mailbox: str, units: int, status: int, outcome: str | None = None,
               resource_id: str | None = None) -> None:
        """Count one call; ``outcome`` is ``rate_limited`` (quota) or ``fault`` (injected); the
        ``resource_id`` of an answered get of a message or thread (FETCH_METHODS) is kept."""
        with self._lock:
            if resource_id and status == 200 and method_id in FETCH_METHODS:
                self.fetched.setdefault(mailbox, {}).setdefault(method_id, []).append(resource_id)
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
                "fetched": {box: {k: list(v) for k, v in methods.items()} for box, methods in self.fetched.items()},
            }


def _zero() -> dict[str, int]:
    return {"calls": 0, "units": 0, "errors": 0, "rate_limited": 0, "fault": 0}
