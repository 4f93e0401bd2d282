"""Google's usage limits for Gmail and Calendar, as named profiles: the only place a unit cost is written.

Sync paces itself by the profile it is configured with (`SIDECAR_QUOTA_PROFILE`,
parsed in `config`), and the simulator (`gsim`) enforces the profile it is
started with, so both read every number from here. This module is data: it
imports nothing of Sidecar and may be imported from anywhere (config, gsim, sync).

Profiles:

- ``2026`` (the default): Cloud projects created on or after 1 May 2026. Gmail:
  6,000 quota units a minute per user, 1,200,000 a minute per project and an
  80,000,000-unit daily billing threshold per project; `messages.get` 20 units,
  `threads.get` 40, `messages.list` 5, `history.list` 2. Sources: Google's
  usage-limits page (developers.google.com/workspace/gmail/api/reference/quota,
  "As of May 1, 2026, the usage limits for this API were updated"), and the
  published guides of the new table (developer.nylas.com/docs/cookbook/email/gmail-api-quotas,
  cli.nylas.com/guides/gmail-api-quotas-2026). Calendar
  (developers.google.com/workspace/calendar/api/guides/quota): 600 requests a
  minute per user, 10,000 a minute per project, 1,000,000 a day per project.
- ``legacy``: projects that used the API between November 2025 and April 2026
  keep their old limits "for now". Gmail: 15,000 units a minute per user,
  1,200,000 a minute per project, no daily threshold, and the older per-method
  table (developers.google.com/gmail/api/reference/quota before May 2026:
  messages.get 5, messages.list 5, history.list 2, threads.get 10,
  threads.list 10, getProfile 1, labels 1, settings.sendAs.list 1, watch 100,
  stop 50). Calendar: the
  same per-minute limits (developers.google.com/calendar/quota) and 1,000,000
  queries a day.

What the new table leaves unsaid, and the choice made here (so the simulator
and sync agree): `threads.list` is 10 units in the legacy table and no figure
for 2026 has been published; it is priced like `threads.get` against
`messages.get` (twice a message list, as 10 was twice 5), i.e. 10 units. The
methods the guides do not list (getProfile, labels, settings.sendAs.list,
watch, stop, drafts, attachments) keep their legacy price.

Google answers a call over a limit with these errors (developers.google.com/
workspace/gmail/api/guides/handle-errors and .../calendar/api/guides/errors):
per user 403/429 `userRateLimitExceeded`/`rateLimitExceeded`, per project 403
`rateLimitExceeded` ("Rate Limit Exceeded"), daily 403 `dailyLimitExceeded`;
`gsim.errors` writes the bodies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

CALL = 1  # Calendar and Directory meter requests: every call costs one
DEFAULT_PROFILE = "2026"

# The legacy per-method table (Google's "Per-method quota usage", before 1 May 2026), by discovery method id.
LEGACY_GMAIL_UNITS = MappingProxyType({
    "gmail.users.getProfile": 1,
    "gmail.users.watch": 100,
    "gmail.users.stop": 50,
    "gmail.users.labels.list": 1,
    "gmail.users.labels.get": 1,
    "gmail.users.settings.sendAs.list": 1,  # the legacy table: "settings.sendAs.list 1"
    "gmail.users.messages.list": 5,
    "gmail.users.messages.get": 5,
    "gmail.users.messages.attachments.get": 5,
    "gmail.users.history.list": 2,
    "gmail.users.threads.list": 10,
    "gmail.users.threads.get": 10,
    "gmail.users.drafts.list": 5,
    "gmail.users.drafts.get": 5,
})
# Since 1 May 2026: reads of content cost four times as much; the rest keeps its price (module doc).
GMAIL_UNITS_2026 = MappingProxyType({
    **LEGACY_GMAIL_UNITS,
    "gmail.users.messages.get": 20,
    "gmail.users.threads.get": 40,
    "gmail.users.threads.list": 10,
})


WINDOW_SECONDS = 60.0  # Google meters per-minute budgets over a sliding minute


@dataclasses.dataclass(frozen=True)
class QuotaProfile:
    """One project's limits: per-method Gmail units, and per-user, per-project and daily budgets.

    Gmail budgets are in quota units; Calendar and Directory budgets in requests
    (every call costs `CALL`). A daily budget of 0 means no daily limit.
    """

    name: str
    gmail_units: Mapping[str, int]
    gmail_units_per_user_minute: int
    gmail_units_per_project_minute: int
    gmail_units_per_project_day: int
    calendar_requests_per_user_minute: int
    calendar_requests_per_project_minute: int
    calendar_requests_per_project_day: int
    directory_requests_per_user_minute: int = 2_400  # Admin SDK Directory: queries per minute per user
    window_seconds: float = WINDOW_SECONDS  # the sliding window the per-minute budgets are metered over

    def units(self, method_id: str) -> int:
        """What one call of a discovery method (`gmail.users.messages.get`) costs against its API's budget."""
        if method_id.startswith("gmail."):
            try:
                return self.gmail_units[method_id]
            except KeyError:
                raise KeyError(f"quota profile {self.name!r} has no price for {method_id}") from None
        return CALL

    def per_user_minute(self, api: str) -> int:
        return {"gmail": self.gmail_units_per_user_minute, "calendar": self.calendar_requests_per_user_minute,
                "directory": self.directory_requests_per_user_minute}[api]

    def per_project_minute(self, api: str) -> int:
        return {"gmail": self.gmail_units_per_project_minute,
                "calendar": self.calendar_requests_per_project_minute}.get(api, 0)

    def per_project_day(self, api: str) -> int:
        return {"gmail": self.gmail_units_per_project_day,
                "calendar": self.calendar_requests_per_project_day}.get(api, 0)

    def scaled(self, **budgets: float) -> QuotaProfile:
        """The same prices with other budgets or window (a project's raised quota, a scaled-down test or benchmark)."""
        return dataclasses.replace(self, **budgets)


PROFILES: Mapping[str, QuotaProfile] = MappingProxyType({
    "2026": QuotaProfile(
        name="2026",
        gmail_units=GMAIL_UNITS_2026,
        gmail_units_per_user_minute=6_000,
        gmail_units_per_project_minute=1_200_000,
        gmail_units_per_project_day=80_000_000,  # the daily billing threshold per project
        calendar_requests_per_user_minute=600,
        calendar_requests_per_project_minute=10_000,
        calendar_requests_per_project_day=1_000_000,
    ),
    "legacy": QuotaProfile(
        name="legacy",
        gmail_units=LEGACY_GMAIL_UNITS,
        gmail_units_per_user_minute=15_000,
        gmail_units_per_project_minute=1_200_000,
        gmail_units_per_project_day=0,  # no published daily limit for these projects
        calendar_requests_per_user_minute=600,
        calendar_requests_per_project_minute=10_000,
        calendar_requests_per_project_day=1_000_000,
    ),
})


def profile(name: str = DEFAULT_PROFILE) -> QuotaProfile:
    """The named profile; ValueError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown quota profile {name!r}; known: {', '.join(PROFILES)}") from None
