"""Push (issue 14 point 5): watches the dispatcher keeps alive, and notifications that become sync requests.

- `Watches.renew` (the dispatcher, every cycle): Gmail's `users.watch` on the
  push topic for every synced mailbox, renewed daily (Gmail: at least every 7
  days, daily recommended), and a Calendar `events.watch` channel per mailbox,
  replaced by a new one (a new id and a new per-channel secret) a day before it
  expires, the old one stopped. What was set up is stored per mailbox through
  the repository (`models.watches.Watch`). Hourly polling stays the safety net
  (the dispatcher's cadence).
- `GmailNotifications.handle` (the worker, on the push subscription): a
  notification `{"emailAddress", "historyId"}` becomes a sync, unless the
  mailbox's stored history id is already past it (it is then only counted).
  The worker syncs it at once on the notification's own lane (`Worker.sync_now`),
  never behind a pass's requests; a mailbox being synced is marked dirty
  (coalesced by its lease); the web app's `/push/gmail` publishes a request.
- `calendar_notification` (the web app's `/push/calendar`): a channel
  notification whose channel id and secret token match the stored ones becomes
  a sync request; anything else is refused.

A mailbox's watch is stored under its tenant, the Workspace's primary domain
for a rep on a secondary domain or alias (`tenant_of`: `SyncRun.tenant_of`).
A channel's token names the tenant too (`{tenant}:{mailbox}:{secret}`), since
the web app has no Directory to ask; the secret is what is checked, so a
token naming another tenant finds no matching channel there. The web app's
`/push/gmail` has only the address: it finds a mailbox under its own domain
(a deployment with secondary domains pulls Gmail notifications in the worker,
which reads the Workspace).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import json
import logging
import secrets
from collections.abc import Callable

from config import PubSubConfig
from google_clients.credentials import SYNC_SCOPES
from models.addresses import email_domain
from models.domain import utcnow
from models.watches import Watch
from sync.runner import RepositoryFactory, ServiceFactory

log = logging.getLogger(__name__)

GMAIL_WATCH_RENEW_AFTER = dt.timedelta(days=1)  # users.watch again once a day
CHANNEL_RENEW_BEFORE = dt.timedelta(days=1)  # a Calendar channel is replaced a day before it expires
CHANNEL_LIFETIME = dt.timedelta(days=7)  # what a channel asks for (Calendar's longest)
TOKEN_SEPARATOR = ":"  # a channel token is "{tenant}:{mailbox}:{secret}": the endpoint's tenant (module doc)


@dataclasses.dataclass
class Renewed:
    gmail: int = 0
    calendar: int = 0
    failed: int = 0


class Watches:
    """Sets up and renews the push watches of mailboxes (module doc)."""

    def __init__(self, repository: RepositoryFactory, google_service: ServiceFactory, project: str,
                 settings: PubSubConfig, tenant_of: Callable[[str], str] = email_domain):
        self.repository = repository
        self.tenant_of = tenant_of  # mailbox -> its tenant (module doc); the dispatcher's follows the Directory
        self.google_service = google_service
        self.project = project
        self.settings = settings

    @property
    def enabled(self) -> bool:
        return bool(self.settings.gmail_push_topic or self.settings.calendar_push_url)

    def renew(self, emails: list[str], now: dt.datetime | None = None) -> Renewed:
        """Watch every mailbox whose watch is missing or due; the counts of what was renewed."""
        now = now or utcnow()
        done = Renewed()
        for tenant in sorted({self.tenant_of(e) for e in emails}):
            repo = self.repository(tenant)
            stored = repo.list_watches()
            for email in (e for e in emails if self.tenant_of(e) == tenant):
                watch = stored.get(email) or Watch(mailbox=email)
                try:
                    done.gmail += self._gmail(repo, watch, now)
                    done.calendar += self._calendar(repo, watch, now, tenant)
                except Exception as exc:  # noqa: BLE001 - one mailbox's refusal never stops the others
                    done.failed += 1
                    log.warning("watch failed mailbox=%s error=%s", email, type(exc).__name__)
        if done.gmail or done.calendar:
            log.info("watches renewed gmail=%d calendar=%d failed=%d", done.gmail, done.calendar, done.failed)
        return done

    def _gmail(self, repo, watch: Watch, now: dt.datetime) -> int:
        topic = self.settings.gmail_push_topic
        if not topic:
            return 0
        watched_at = watch.gmail_watched_at
        if watched_at is not None and now - watched_at < GMAIL_WATCH_RENEW_AFTER and \
                watch.gmail_expires_at is not None and watch.gmail_expires_at > now:
            return 0
        gmail = self.google_service("gmail", "v1", watch.mailbox, SYNC_SCOPES)
        answer = gmail.users().watch(userId="me", body={
            "topicName": f"projects/{self.project}/topics/{topic}"}).execute()  # no label filter: every change
        watch.gmail_watched_at = now
        watch.gmail_expires_at = _from_ms(answer["expiration"])
        repo.save_watch(watch, ("gmail_watched_at", "gmail_expires_at"))
        return 1

    def _calendar(self, repo, watch: Watch, now: dt.datetime, tenant: str) -> int:
        address = self.settings.calendar_push_url
        if not address:
            return 0
        if watch.channel_expires_at is not None and watch.channel_expires_at - now > CHANNEL_RENEW_BEFORE:
            return 0
        calendar = self.google_service("calendar", "v3", watch.mailbox, SYNC_SCOPES)
        secret = secrets.token_urlsafe(24)
        answer = calendar.events().watch(calendarId="primary", body={
            "id": "sidecar-" + secrets.token_hex(12), "type": "web_hook", "address": address,
            "token": TOKEN_SEPARATOR.join((tenant, watch.mailbox, secret)),
            "expiration": str(int((now + CHANNEL_LIFETIME).timestamp() * 1000))}).execute()
        old = (watch.channel_id, watch.channel_resource_id)
        watch.channel_id, watch.channel_resource_id = answer["id"], answer["resourceId"]
        watch.channel_token, watch.channel_expires_at = secret, _from_ms(answer["expiration"])
        repo.save_watch(watch, ("channel_id", "channel_resource_id", "channel_token", "channel_expires_at"))
        if old[0]:  # stopped once the new one is stored: from now on only the new one's notifications count
            try:
                calendar.channels().stop(body={"id": old[0], "resourceId": old[1]}).execute()
            except Exception as exc:  # noqa: BLE001 - it expires by itself within a day
                log.info("old channel not stopped mailbox=%s error=%s", watch.mailbox, type(exc).__name__)
        return 1


def _from_ms(value) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(value) / 1000, tz=dt.UTC)


def gmail_notification(data: bytes) -> tuple[str, int]:
    """(mailbox, history id) of a Gmail notification's data; ValueError when it is not one."""
    try:
        body = json.loads(data)
        mailbox, history_id = str(body["emailAddress"]).lower(), int(body["historyId"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("not a Gmail notification") from exc
    if "@" not in mailbox:
        raise ValueError("not a mailbox")
    return mailbox, history_id


class GmailNotifications:
    """Turns Gmail notifications into sync requests (module doc); `publish(mailbox)` sends one."""

    def __init__(self, repository: RepositoryFactory, publish, tenant_of: Callable[[str], str] = email_domain):
        self.repository = repository
        self.publish = publish
        self.tenant_of = tenant_of  # mailbox -> its tenant (module doc)

    def notify(self, mailbox: str, history_id: int) -> bool:
        """True when a sync request was published; False when the stored history id is already past it."""
        repo = self.repository(self.tenant_of(mailbox))
        stored = repo.get_mailbox(mailbox)
        if stored is None:
            log.info("notification for an unknown mailbox dropped mailbox=%s", mailbox)
            return False
        if stored.history_id and int(stored.history_id) >= history_id:
            repo.record_push(mailbox, history_id, skipped=True)
            return False
        repo.record_push(mailbox, history_id)
        self.publish(mailbox)
        return True

    def handle(self, message) -> None:
        """A pulled notification: acked once handled, nacked if the request could not be published."""
        try:
            mailbox, history_id = gmail_notification(message.data)
        except ValueError:
            message.ack()
            return
        try:
            self.notify(mailbox, history_id)
        except Exception as exc:  # noqa: BLE001 - Pub/Sub redelivers it
            log.warning("notification failed mailbox=%s error=%s", mailbox, type(exc).__name__)
            message.nack()
            return
        message.ack()


class Refused(Exception):
    """A Calendar notification that does not match its channel."""


def calendar_notification(repository: RepositoryFactory, headers, publish) -> bool:
    """Check a channel notification against the stored channel; True when a sync request was published.

    Raises `Refused` when the token is missing, malformed, or not the
    channel's secret, or the channel is not the mailbox's current one.
    """
    token = headers.get("X-Goog-Channel-Token") or ""
    named, _, secret = token.rpartition(TOKEN_SEPARATOR)
    tenant, _, mailbox = named.rpartition(TOKEN_SEPARATOR)
    mailbox = mailbox.lower()
    if "@" not in mailbox or not secret:
        raise Refused("no channel token")
    repo = repository(tenant.lower() or email_domain(mailbox))  # a token without a tenant: set up before #15
    watch = repo.get_watch(mailbox)
    if watch is None or not watch.channel_token or \
            not hmac.compare_digest(watch.channel_token.encode(), secret.encode()) or \
            watch.channel_id != headers.get("X-Goog-Channel-ID"):
        raise Refused("not the channel's token")
    if headers.get("X-Goog-Resource-State") == "sync":
        return False  # the channel's first message: nothing changed yet
    repo.record_push(mailbox)
    publish(mailbox)
    return True
