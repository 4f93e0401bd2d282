"""The sync's health as the admin sees it (issue 14 point 6): the queue, recorded by the dispatcher.

Queue depth, decided. Cloud Pub/Sub reports a subscription's backlog only
through Cloud Monitoring (`num_undelivered_messages`): the emulator has no
Monitoring API, and the web process would pay a second API's latency on
every admin card. A peek (pull, then nack) is no measure either: every
pull counts as a delivery attempt, so looking would push requests towards
the dead-letter topic. And publish/ack counters kept by every process drift
for good once one process dies between its ack and its count.

So the dispatcher measures it from state it reads anyway. Every cycle (at
most `DISPATCH_TICK_MAX_SECONDS` apart) it reads each tenant's mailboxes and
leases to decide what to publish; it also knows when it last published each
mailbox and on which lane (sync or backfill). A request is *waiting* when the
dispatcher published it after the mailbox's last sync attempt started
(`Mailbox.last_attempt_at`) and no worker holds the mailbox's lease now: it
sits in the subscription, or its worker has not started it yet. `measure`
counts those per lane, with the oldest one's publish time (the lag a new
request would see); the leases held now; and the mailboxes that the
dead-letter subscription marked failed (`DEAD_LETTERED`: what the dead-letter
topic received and a worker turned into a state). The dispatcher stores the
result per tenant (`Repository.record_queue_health`) when it changed, or at
least every `HEALTH_REFRESH_SECONDS` so a reader can tell a live dispatcher
from a dead one (`stale`).

What it does not count, said so on the README: requests published by someone
else (the web app's `/push/calendar`, a notification whose sync failed and
went to the sync topic) until the dispatcher publishes the same mailbox; a
nacked request waiting for its redelivery (its mailbox shows `failed` with the
reason meanwhile); and a mailbox is one request however many messages name it
(duplicates coalesce on its lease anyway). The worker's clock stamps
`last_attempt_at`, the dispatcher's the publish: a skew of a few seconds can
show a request that just started as waiting until the next cycle. On real
Pub/Sub `python -m sync status` also prints Monitoring's own backlog.

Only the leading dispatcher writes the document, whole: two leaders
overlapping for one cycle during a handover each write a complete, consistent
measurement, and the later one stands.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping

from models.domain import Mailbox, MailboxState
from models.leases import LeaseState
from models.watches import Watch

DEAD_LETTERED = "sync request dead-lettered"  # how `sync.pubsub.mark_failed` starts a mailbox's last error
HEALTH_REFRESH_SECONDS = 60  # an unchanged measurement is written again this often, so readers see it is live
HEALTH_STALE_SECONDS = 3 * HEALTH_REFRESH_SECONDS  # three refreshes missed: the dispatcher is not running
ATTENTION_MAX = 20  # failed or revoked mailboxes the record names, so the admin card shows them first


@dataclasses.dataclass
class QueueHealth:
    """One tenant's share of the distributed sync's queue, as the dispatcher last measured it."""

    recorded_at: dt.datetime
    waiting: int = 0  # sync requests published, not started (module doc)
    backfills_waiting: int = 0  # full backfills published, not started
    oldest_waiting_at: dt.datetime | None = None  # when the oldest of those was published
    leases_held: int = 0  # mailboxes a worker is syncing right now
    dead_lettered: int = 0  # mailboxes the dead-letter subscription marked failed
    mailboxes: int = 0  # mailboxes the dispatcher publishes for this tenant
    attention: list[str] = dataclasses.field(default_factory=list)  # failed or revoked, at most ATTENTION_MAX

    def same_as(self, other: QueueHealth | None) -> bool:
        """The same measurement, whenever taken."""
        return other is not None and dataclasses.replace(other, recorded_at=self.recorded_at) == self

    def stale(self, now: dt.datetime) -> bool:
        return (now - self.recorded_at).total_seconds() > HEALTH_STALE_SECONDS

    def summary(self, now: dt.datetime) -> str:
        """One line for `sync status` and the admin card."""
        oldest = f" (oldest {age(self.oldest_waiting_at, now)})" if self.oldest_waiting_at else ""
        line = (f"{counted(self.waiting, 'sync')} and {counted(self.backfills_waiting, 'backfill')} waiting for "
                f"a worker{oldest}, {self.dead_lettered} dead-lettered, {counted(self.leases_held, 'lease')} held; "
                f"measured by the dispatcher {age(self.recorded_at, now)} ago")
        if self.stale(now):
            line += " (stale: is python -m sync dispatch running?)"
        return line


@dataclasses.dataclass
class SyncHealth:
    """What the admin card shows of sync (`Repository.admin_view`): mailboxes (failed ones first), their
    leases and push watches by address, and the queue's last measurement."""

    mailboxes: list[Mailbox]
    more: bool = False  # the tenant has more mailboxes than the view lists
    leases: dict[str, LeaseState] = dataclasses.field(default_factory=dict)
    watches: dict[str, Watch] = dataclasses.field(default_factory=dict)
    queue: QueueHealth | None = None

    def emails(self) -> set[str]:
        return {m.email for m in self.mailboxes}

    def leases_held(self, now: dt.datetime) -> int:
        return sum(1 for lease in self.leases.values() if held(lease, now))


def held(lease: LeaseState | None, now: dt.datetime) -> bool:
    """A worker (or a pass) is syncing the mailbox now: its lease has an owner and has not expired."""
    return lease is not None and bool(lease.owner) and lease.expires_at is not None and lease.expires_at > now


def measure(emails: Iterable[str], stored: Mapping[str, Mailbox], leases: Mapping[str, LeaseState],
            published: Mapping[str, dt.datetime], backfills: set[str], now: dt.datetime) -> QueueHealth:
    """The queue's health for one tenant's mailboxes (module doc).

    `stored` and `leases` are what the dispatcher read this cycle, by address;
    `published` when it last published each mailbox, `backfills` those it
    published to the backfill topic.
    """
    emails = list(emails)
    health = QueueHealth(recorded_at=now, mailboxes=len(emails))
    oldest = None
    for email in emails:
        lease, mailbox = leases.get(email), stored.get(email)
        syncing = held(lease, now)
        health.leases_held += syncing
        if mailbox is not None and mailbox.state == MailboxState.FAILED and \
                (mailbox.last_error or "").startswith(DEAD_LETTERED):
            health.dead_lettered += 1
        if mailbox is not None and mailbox.state in (MailboxState.FAILED, MailboxState.REVOKED) and \
                len(health.attention) < ATTENTION_MAX:
            health.attention.append(email)
        at = published.get(email)
        started = mailbox.last_attempt_at if mailbox is not None else None
        if at is None or syncing or (started is not None and started >= at):
            continue
        if email in backfills:
            health.backfills_waiting += 1
        else:
            health.waiting += 1
        oldest = at if oldest is None else min(oldest, at)
    health.oldest_waiting_at = oldest
    return health


def age(at: dt.datetime | None, now: dt.datetime) -> str:
    """`42s`, `5m`, `3h`, `2d`: how long ago (or, for a time ahead, how long yet); `-` for none."""
    if at is None:
        return "-"
    seconds = abs(int((now - at).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def lease_label(lease: LeaseState | None, now: dt.datetime) -> str:
    """Who holds the mailbox's lease and for how long yet: `host/pid 42s`, `expired (host/pid)`, or `-`."""
    if lease is None or not lease.owner or lease.expires_at is None:
        return "-"
    holder = lease.owner.rsplit("/", 1)[0]  # the owner's last part is the attempt's own id
    if lease.expires_at <= now:
        return f"expired ({holder})"
    return f"{holder} {int((lease.expires_at - now).total_seconds())}s"


def watch_label(watch: Watch | None, now: dt.datetime) -> str:
    """How long the mailbox's push watches last yet: `gmail 6d cal 5d`, `gmail expired`, `-` without any."""
    if watch is None:
        return "-"
    parts = [f"{name} {'expired' if at <= now else age(at, now)}"
             for name, at in (("gmail", watch.gmail_expires_at), ("cal", watch.channel_expires_at)) if at]
    return " ".join(parts) or "-"


def counted(count: int, noun: str) -> str:
    """`1 lease`, `2 leases`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
