"""Sidecar's configuration: read once, from the environment, in this one module.

Every value is parsed by a typed parser that refuses bad input; a missing or
invalid value raises `ConfigError` naming the variable, so a process stops at
start with a message an operator can act on (SPEC §4). Nothing here runs at
import: callers ask for `Config.from_env()` (or build a `Config` directly in
tests) when they start.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from urllib.parse import urlparse

import quotas

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"  # Google's x509 certs for ID tokens
GOOGLE_API_ROOT = "https://www.googleapis.com/"  # root of Gmail, Calendar and Directory REST paths
DEFAULT_SYNC_INTERVAL_SECONDS = 300
DEFAULT_BACKFILL_DAYS = 365
DEFAULT_SYNC_CONCURRENCY = 4  # mailboxes synced at once; each is paced to its own quota
# Google gives an add-on about 30 s to answer; a Firestore call of the web process gives up
# well before that so the rep gets an error card with a retry button, not a timeout.
WEB_FIRESTORE_DEADLINE_SECONDS = 8
# The whole of a trigger (verification, Firestore, the Gmail/Calendar fallback, the card) gets this long
# before the rep is answered an error card with Retry: Google waits about 30 s, minus its own network time.
DEFAULT_TRIGGER_BUDGET_SECONDS = 20


class ConfigError(ValueError):
    """A configuration variable is missing or invalid; the message names it."""


def _text(env: Mapping[str, str], name: str, default: str | None = None, required: bool = False) -> str | None:
    value = env.get(name, "").strip()
    if value:
        return value
    if required:
        raise ConfigError(f"{name} is required but not set")
    return default


def _int(env: Mapping[str, str], name: str, default: int | None, minimum: int = 1) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _url(env: Mapping[str, str], name: str, default: str | None = None, required: bool = False,
         https_only: bool = False) -> str | None:
    """An http(s) URL; `https_only` still lets a loopback host use http (the local demo)."""
    value = _text(env, name, default, required)
    if value is None:
        return None
    parsed = urlparse(value)
    loopback = parsed.hostname in LOOPBACK_HOSTS
    schemes = ("https",) if https_only and not loopback else ("http", "https")
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ConfigError(f"{name} must be an {' or '.join(schemes)} URL, got {value!r}")
    return value


def _root(url: str | None) -> str | None:
    """API roots are joined with relative paths, so they always end in '/'."""
    if url is None:
        return None
    return url if url.endswith("/") else url + "/"


def _emails(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "")
    emails = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    for email in emails:
        local, _, domain = email.partition("@")
        if not local or "." not in domain:
            raise ConfigError(f"{name} holds an invalid email address: {email!r}")
    return emails


def _email(env: Mapping[str, str], name: str, required: bool = False) -> str | None:
    value = _text(env, name, required=required)
    if value is None:
        return None
    emails = _emails({name: value}, name)
    if len(emails) != 1:
        raise ConfigError(f"{name} must be one email address, got {value!r}")
    return emails[0]


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything Sidecar reads from its environment, already parsed."""

    google_cloud_project: str
    firestore_emulator_host: str | None = None
    public_url: str | None = None
    addon_service_account: str | None = None
    oauth_client_id: str | None = None
    google_certs_url: str = GOOGLE_CERTS_URL
    google_api_root: str = GOOGLE_API_ROOT
    google_application_credentials: str | None = None
    users: tuple[str, ...] = ()
    admin_email: str | None = None
    sync_interval_seconds: int = DEFAULT_SYNC_INTERVAL_SECONDS
    backfill_days: int = DEFAULT_BACKFILL_DAYS
    quota_profile: str = quotas.DEFAULT_PROFILE  # Google's limits for this project (see `quotas`)
    gmail_units_per_minute: int | None = None  # a raised per-user Gmail budget; None: the profile's
    sync_concurrency: int = DEFAULT_SYNC_CONCURRENCY
    demo: bool = False
    firestore_deadline_seconds: int | None = None  # caps every Firestore RPC, retries included (web)
    trigger_budget_seconds: float = DEFAULT_TRIGGER_BUDGET_SECONDS  # a trigger's whole answer (web)

    def __post_init__(self):
        if self.quota_profile not in quotas.PROFILES:
            raise ConfigError(f"quota_profile (SIDECAR_QUOTA_PROFILE) must be one of {', '.join(quotas.PROFILES)}, "
                              f"got {self.quota_profile!r}")

    @property
    def quota(self) -> quotas.QuotaProfile:
        """The configured profile, with SIDECAR_GMAIL_UNITS_PER_MINUTE as its per-user Gmail budget when set."""
        chosen = quotas.profile(self.quota_profile)
        if self.gmail_units_per_minute:
            chosen = chosen.scaled(gmail_units_per_user_minute=self.gmail_units_per_minute)
        return chosen

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, web: bool = False) -> Config:
        """Parse the environment; `web=True` also requires what the add-on backend needs."""
        env = os.environ if env is None else env
        project = _text(env, "GOOGLE_CLOUD_PROJECT", required=True)
        public_url = _url(env, "SIDECAR_PUBLIC_URL", required=web, https_only=True)
        return cls(
            google_cloud_project=project,
            firestore_emulator_host=_text(env, "FIRESTORE_EMULATOR_HOST"),
            public_url=public_url.rstrip("/") if public_url else None,
            addon_service_account=_email(env, "SIDECAR_ADDON_SERVICE_ACCOUNT", required=web),
            oauth_client_id=_text(env, "SIDECAR_OAUTH_CLIENT_ID", required=web),
            google_certs_url=_url(env, "SIDECAR_GOOGLE_CERTS_URL", GOOGLE_CERTS_URL),
            google_api_root=_root(_url(env, "SIDECAR_GOOGLE_API_ROOT", GOOGLE_API_ROOT)),
            google_application_credentials=_existing_file(env, "GOOGLE_APPLICATION_CREDENTIALS"),
            users=_emails(env, "SIDECAR_USERS"),
            admin_email=_email(env, "SIDECAR_ADMIN_EMAIL"),
            sync_interval_seconds=_int(env, "SIDECAR_SYNC_INTERVAL_SECONDS", DEFAULT_SYNC_INTERVAL_SECONDS),
            backfill_days=_int(env, "SIDECAR_BACKFILL_DAYS", DEFAULT_BACKFILL_DAYS),
            quota_profile=_choice(env, "SIDECAR_QUOTA_PROFILE", quotas.PROFILES, quotas.DEFAULT_PROFILE),
            gmail_units_per_minute=_int(env, "SIDECAR_GMAIL_UNITS_PER_MINUTE", None),
            sync_concurrency=_int(env, "SIDECAR_SYNC_CONCURRENCY", DEFAULT_SYNC_CONCURRENCY),
            demo=_flag(env, "SIDECAR_DEMO"),
            firestore_deadline_seconds=_int(env, "SIDECAR_FIRESTORE_DEADLINE_SECONDS",
                                            WEB_FIRESTORE_DEADLINE_SECONDS) if web else None,
            trigger_budget_seconds=_int(env, "SIDECAR_TRIGGER_BUDGET_SECONDS", DEFAULT_TRIGGER_BUDGET_SECONDS),
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Config:
        """Build from an explicit mapping (tests, `create_app({...})`), refusing unknown keys."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ConfigError(f"unknown configuration keys: {', '.join(unknown)}")
        if not values.get("google_cloud_project"):
            raise ConfigError("google_cloud_project is required")
        return cls(**values)

    def require_web(self) -> None:
        """The add-on backend cannot verify a single request without these."""
        for name, env_name in (("public_url", "SIDECAR_PUBLIC_URL"),
                               ("addon_service_account", "SIDECAR_ADDON_SERVICE_ACCOUNT"),
                               ("oauth_client_id", "SIDECAR_OAUTH_CLIENT_ID")):
            if not getattr(self, name):
                raise ConfigError(f"{env_name} is required for the web process")


def _existing_file(env: Mapping[str, str], name: str) -> str | None:
    value = _text(env, name)
    if value is not None and not os.path.isfile(value):
        raise ConfigError(f"{name} points to {value!r}, which is not a readable file")
    return value


def _choice(env: Mapping[str, str], name: str, choices: Mapping[str, object], default: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        return default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ConfigError(f"{name} must be 1/true/yes or 0/false/no, got {raw!r}")


# --- distributed sync on Pub/Sub (issue 14): its own settings, read beside `Config` ----------------

PUBSUB_NAME = re.compile(r"^(?!goog)[A-Za-z][A-Za-z0-9._~+%-]{2,254}$")  # Google's topic/subscription ids
DEFAULT_SYNC_SUBSCRIPTION = "sidecar-sync-workers"
DEFAULT_BACKFILL_TOPIC = "sidecar-backfill"
DEFAULT_BACKFILL_SUBSCRIPTION = "sidecar-backfill-workers"
DEFAULT_DEAD_LETTER_TOPIC = "sidecar-sync-dead-letter"
DEFAULT_DEAD_LETTER_SUBSCRIPTION = "sidecar-sync-dead-letter"
DEFAULT_GMAIL_PUSH_SUBSCRIPTION = "sidecar-gmail-push"
# Pub/Sub: a dead-letter policy takes 5 to 100 delivery attempts
DEFAULT_MAX_DELIVERIES, MIN_MAX_DELIVERIES, MAX_MAX_DELIVERIES = 5, 5, 100
DEFAULT_WORKER_MAILBOXES = 4  # sync requests a worker holds at once (its flow control)


@dataclasses.dataclass(frozen=True)
class PubSubConfig:
    """Topics and subscriptions of the distributed sync; distributed mode is on when `sync_topic` is set."""

    emulator_host: str | None = None  # PUBSUB_EMULATOR_HOST, which the client library reads itself
    sync_topic: str | None = None
    sync_subscription: str = DEFAULT_SYNC_SUBSCRIPTION
    backfill_topic: str = DEFAULT_BACKFILL_TOPIC
    backfill_subscription: str = DEFAULT_BACKFILL_SUBSCRIPTION
    dead_letter_topic: str = DEFAULT_DEAD_LETTER_TOPIC
    dead_letter_subscription: str = DEFAULT_DEAD_LETTER_SUBSCRIPTION
    max_deliveries: int = DEFAULT_MAX_DELIVERIES
    worker_mailboxes: int = DEFAULT_WORKER_MAILBOXES
    # push (issue 14 point 5): Gmail's users.watch publishes to this topic (Gmail needs publish rights on it),
    # pulled from this subscription; Calendar channels post to this HTTPS URL (the web app's /push/calendar)
    gmail_push_topic: str | None = None
    gmail_push_subscription: str = DEFAULT_GMAIL_PUSH_SUBSCRIPTION
    calendar_push_url: str | None = None
    push_service_account: str | None = None  # who signs Pub/Sub push requests to /push/gmail (OIDC), if pushed

    @property
    def distributed(self) -> bool:
        return self.sync_topic is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PubSubConfig:
        env = os.environ if env is None else env
        max_deliveries = _int(env, "SIDECAR_SYNC_MAX_DELIVERIES", DEFAULT_MAX_DELIVERIES, MIN_MAX_DELIVERIES)
        if max_deliveries > MAX_MAX_DELIVERIES:
            raise ConfigError(f"SIDECAR_SYNC_MAX_DELIVERIES must be at most {MAX_MAX_DELIVERIES}, got {max_deliveries}")
        _push_needs_the_sync_topic(env)
        return cls(
            emulator_host=_text(env, "PUBSUB_EMULATOR_HOST"),
            sync_topic=_pubsub_name(env, "SIDECAR_SYNC_TOPIC", None),
            sync_subscription=_pubsub_name(env, "SIDECAR_SYNC_SUBSCRIPTION", DEFAULT_SYNC_SUBSCRIPTION),
            backfill_topic=_pubsub_name(env, "SIDECAR_BACKFILL_TOPIC", DEFAULT_BACKFILL_TOPIC),
            backfill_subscription=_pubsub_name(env, "SIDECAR_BACKFILL_SUBSCRIPTION", DEFAULT_BACKFILL_SUBSCRIPTION),
            dead_letter_topic=_pubsub_name(env, "SIDECAR_DEAD_LETTER_TOPIC", DEFAULT_DEAD_LETTER_TOPIC),
            dead_letter_subscription=_pubsub_name(env, "SIDECAR_DEAD_LETTER_SUBSCRIPTION",
                                                  DEFAULT_DEAD_LETTER_SUBSCRIPTION),
            max_deliveries=max_deliveries,
            worker_mailboxes=_int(env, "SIDECAR_WORKER_MAILBOXES", DEFAULT_WORKER_MAILBOXES),
            gmail_push_topic=_pubsub_name(env, "SIDECAR_GMAIL_PUSH_TOPIC", None),
            gmail_push_subscription=_pubsub_name(env, "SIDECAR_GMAIL_PUSH_SUBSCRIPTION",
                                                 DEFAULT_GMAIL_PUSH_SUBSCRIPTION),
            calendar_push_url=_url(env, "SIDECAR_CALENDAR_PUSH_URL", https_only=True),
            push_service_account=_email(env, "SIDECAR_PUSH_SERVICE_ACCOUNT"),
        )


PUSH_SETTINGS = ("SIDECAR_GMAIL_PUSH_TOPIC", "SIDECAR_CALENDAR_PUSH_URL", "SIDECAR_PUSH_SERVICE_ACCOUNT")


def _push_needs_the_sync_topic(env: Mapping[str, str]) -> None:
    """Push turns notifications into requests on the sync topic: a push setting without it is a deployment
    half configured (a web service whose /push endpoints could publish nowhere), refused at start."""
    if _text(env, "SIDECAR_SYNC_TOPIC"):
        return
    for name in PUSH_SETTINGS:
        if _text(env, name):
            raise ConfigError(f"{name} is set but SIDECAR_SYNC_TOPIC is not: push needs the distributed sync's "
                              "topic (set it to the same value on the web and sync services)")


def _pubsub_name(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    value = _text(env, name, default)
    if value is not None and not PUBSUB_NAME.match(value):
        raise ConfigError(f"{name} must be a Pub/Sub id (3-255 letters, digits, ._~+%-, starting with a letter, "
                          f"not 'goog'), got {value!r}")
    return value


LOG_FORMATS = ("text", "json")


def log_format(env: Mapping[str, str] | None = None) -> str:
    """SIDECAR_LOG_FORMAT: `text` key=value lines, or `json` for Cloud Logging; json when the sync is distributed."""
    env = os.environ if env is None else env
    value = _text(env, "SIDECAR_LOG_FORMAT", "json" if _text(env, "SIDECAR_SYNC_TOPIC") else "text").lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"SIDECAR_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {value!r}")
    return value
