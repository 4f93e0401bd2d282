"""The distributed sync on Cloud Pub/Sub (SPEC §7 "Scale"): topics, sync requests, the worker and the dispatcher.

- `Queue.setup()` (`python -m sync setup`) creates the topics and subscriptions,
  idempotently: sync requests, full backfills (their own topic and
  subscription, so a new mailbox's long backfill never starves fresh mail),
  and a dead-letter topic both subscriptions hand a request to after
  `max_deliveries` failed attempts.
- `Worker` (`python -m sync worker`) pulls requests under flow control
  (`worker_mailboxes` at once, one backfill), syncs each mailbox through the
  one unit of work, `SyncRun.sync_mailbox`, and acks only after the mailbox's
  commit; a failed sync is nacked, and Pub/Sub redelivers it with backoff (the
  subscription's retry policy). A mailbox another worker holds is marked dirty
  and acked: its holder goes again. A revoked mailbox is acked (no retry helps;
  its state says why). The dead-letter subscription's requests mark the mailbox
  failed with the reason.
- `Dispatcher` (`python -m sync dispatch`, one active instance by a leader
  lease) publishes on a jittered cadence the mailboxes that are due, new
  (to the backfill topic) or whose holder died (lease expired), and picks up
  new and departed users from the Directory, read every
  `DIRECTORY_REFRESH_SECONDS` rather than every cycle (a departed user is
  no longer published and their mailbox is marked `departed`; their history stays).

Both file a mailbox under its Workspace tenant, the primary domain for a rep on
a secondary domain or alias (`sync.directory`, read as SIDECAR_ADMIN_EMAIL: the
dispatcher every `DIRECTORY_REFRESH_SECONDS`, a worker whenever its caches start
over; a failed read keeps the last Workspace).

The requests are JSON, `{"mailbox": ..., "reason": ...}`, with the mailbox
also as an attribute for filtering and logs.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import json
import logging
import random
import threading
import time

from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.protobuf import duration_pb2

from config import Config, PubSubConfig
from models.addresses import email_domain
from models.domain import Mailbox, MailboxState, utcnow
from models.health import DEAD_LETTERED, HEALTH_REFRESH_SECONDS, QueueHealth, measure
from models.leases import Fenced, Leases, LeaseState
from models.repository import Repository
from sync.directory import Workspace, mark_departures
from sync.leasing import LEASE_TTL_SECONDS, new_owner
from sync.people import prime_send_as
from sync.push import GmailNotifications, Watches
from sync.runner import (
    MailboxResult,
    RepositoryFactory,
    ServiceFactory,
    SyncRun,
    configured_mailboxes,
    current_workspace,
)

log = logging.getLogger(__name__)

ACK_DEADLINE_SECONDS = 60  # the client library extends it while a sync runs (lease management)
RETRY_MIN_BACKOFF_SECONDS = 10  # a failed sync is retried no sooner than this...
RETRY_MAX_BACKOFF_SECONDS = 600  # ...and backs off up to Pub/Sub's maximum, 10 minutes
BACKFILLS_PER_WORKER = 1  # full backfills a worker runs at once, beside its incremental syncs
DISPATCH_TICKS_PER_INTERVAL = 10  # the dispatcher looks for due mailboxes ten times an interval
DISPATCH_TICK_MAX_SECONDS = 10.0  # ...and at least this often, which also renews its leader lease
DISPATCH_JITTER = 0.2  # a mailbox is due after 80-100% of the interval, so they spread out
LEADER_TTL_SECONDS = 30.0  # a dead dispatcher is replaced after this long
# The dispatcher reads the Directory (domains.list, domainAliases.list, users.list by pages of 500) at most
# this often, not every tick (10 s). 5 minutes: a new hire's mailbox starts syncing, and a suspended rep's
# stops being published, within minutes of the admin's change (the polling interval's own default), while
# a Workspace of 10,000 users costs 22 Directory calls a read: 6,300 a day instead of 190,000 at a read a
# tick, a small share of the Admin SDK's budget for the one admin every read acts as
# (quotas.QuotaProfile.directory_requests_per_user_minute), and no tick waits seconds on 20 pages of users.
DIRECTORY_REFRESH_SECONDS = 300
DISPATCHER = "dispatcher"
UNARY_PULL_TIMEOUT = 10.0  # seconds a unary pull call may take
UNARY_IDLE_SECONDS = 0.2  # a unary-pull worker's pause when nothing came...
UNARY_IDLE_MAX_SECONDS = 1.0  # ...doubled after each empty pull up to this (a quiet lane, e.g. dead letters)
ACK_FLUSH_SECONDS = 0.1  # a unary-pull worker's acks go out together, at most this long after their handler ended
ACK_IDS_MAX = 1000  # ack ids in one acknowledge call, at most (the Pub/Sub client library's own batch size)


@dataclasses.dataclass(frozen=True, order=True)
class SyncRequest:
    mailbox: str
    reason: str  # new, due, requeue, notification

    def encode(self) -> bytes:
        return json.dumps({"mailbox": self.mailbox, "reason": self.reason}).encode()

    @classmethod
    def decode(cls, data: bytes) -> SyncRequest:
        """The request in a message; ValueError when it is not one."""
        try:
            body = json.loads(data)
            mailbox, reason = str(body["mailbox"]).lower(), str(body.get("reason") or "")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError("not a sync request") from exc
        if "@" not in mailbox:
            raise ValueError(f"not a mailbox: {mailbox!r}")
        return cls(mailbox, reason)


class Queue:
    """The process's Pub/Sub clients and the paths of its topics and subscriptions."""

    def __init__(self, project: str, settings: PubSubConfig,
                 retry_backoff_seconds: tuple[int, int] = (RETRY_MIN_BACKOFF_SECONDS, RETRY_MAX_BACKOFF_SECONDS)):
        if not settings.distributed:
            raise ValueError("SIDECAR_SYNC_TOPIC is not set: the sync is not distributed")
        self.project = project
        self.settings = settings
        self.retry_backoff_seconds = retry_backoff_seconds  # (minimum, maximum) before a nacked request returns
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()

    def topic(self, name: str) -> str:
        return self.publisher.topic_path(self.project, name)

    def subscription(self, name: str) -> str:
        return self.subscriber.subscription_path(self.project, name)

    def setup(self) -> list[str]:
        """Create what is missing; returns what was created (nothing on a second run)."""
        s = self.settings
        created = []
        for topic in (s.sync_topic, s.backfill_topic, s.dead_letter_topic, *filter(None, [s.gmail_push_topic])):
            try:
                self.publisher.create_topic(name=self.topic(topic))
                created.append(self.topic(topic))
            except exceptions.AlreadyExists:
                pass
        least, most = self.retry_backoff_seconds
        retry = {"minimum_backoff": duration_pb2.Duration(seconds=least),
                 "maximum_backoff": duration_pb2.Duration(seconds=most)}
        dead_letter = {"dead_letter_topic": self.topic(s.dead_letter_topic), "max_delivery_attempts": s.max_deliveries}
        for subscription, topic, policies in (
                (s.sync_subscription, s.sync_topic, {"dead_letter_policy": dead_letter, "retry_policy": retry}),
                (s.backfill_subscription, s.backfill_topic, {"dead_letter_policy": dead_letter, "retry_policy": retry}),
                (s.dead_letter_subscription, s.dead_letter_topic, {}),
                *([(s.gmail_push_subscription, s.gmail_push_topic, {"retry_policy": retry})]
                  if s.gmail_push_topic else [])):
            try:
                self.subscriber.create_subscription(request={
                    "name": self.subscription(subscription), "topic": self.topic(topic),
                    "ack_deadline_seconds": ACK_DEADLINE_SECONDS, **policies})
                created.append(self.subscription(subscription))
            except exceptions.AlreadyExists:
                pass
        return created

    def publish(self, request: SyncRequest, backfill: bool = False):
        """Publish a request; returns the publish future (its result is the message id)."""
        topic = self.settings.backfill_topic if backfill else self.settings.sync_topic
        return self.publisher.publish(self.topic(topic), request.encode(), mailbox=request.mailbox,
                                      reason=request.reason)

    def request_sync(self, mailbox: str, reason: str = "push") -> None:
        """Publish a sync request for a mailbox and wait until Pub/Sub has it (push notifications)."""
        self.publish(SyncRequest(mailbox, reason)).result()

    def close(self) -> None:
        self.publisher.stop()
        self.subscriber.close()


class Worker:
    """Syncs the mailboxes its subscriptions deliver (see module doc); `run()` until `stop` is set."""

    def __init__(self, repository: RepositoryFactory, google_service: ServiceFactory, config: Config, queue: Queue,
                 stop: threading.Event, tuning: dict | None = None):
        self.repository = repository
        self.google_service = google_service
        self.config = config
        self.queue = queue
        self.stop = stop
        self.tuning = dict(tuning or {})
        self.ttl_seconds = self.tuning.get("lease_ttl_seconds", LEASE_TTL_SECONDS)
        self._lock = threading.Lock()
        self._run: SyncRun | None = None
        self._born = 0.0

    def sync(self, mailbox: str) -> MailboxResult:
        """The one unit of work, as `once` runs it, except that a leased mailbox is marked dirty, not awaited."""
        run = self._checkout()
        result = run.sync_mailbox(mailbox)
        if not self.stop.is_set():
            run.link(run.tenant_of(mailbox))
        return result

    def tenant_of(self, mailbox: str) -> str:
        """The tenant the mailbox is filed under (`SyncRun.tenant_of`, with the Workspace the worker read)."""
        return self._checkout().tenant_of(mailbox)

    def sync_now(self, mailbox: str) -> None:
        """A Gmail notification's sync, on the notification's own lane: it never waits behind a pass's
        requests on the sync subscription (bench/scale.py measured p50 44 s when it did). A mailbox being
        synced is marked dirty (coalesced); one that fails goes to the sync topic, retried from there."""
        result = self.sync(mailbox)
        if not result.synced and result.state != MailboxState.REVOKED:
            self.queue.request_sync(mailbox)

    def _checkout(self) -> SyncRun:
        """The one `SyncRun` of the worker, so mailboxes synced at once share each tenant's `TenantState`
        (its lock, which makes reading and rewriting an activity atomic within the process, and its commits
        in flight), as a pass's mailboxes do; its caches start over once a sync interval (`SyncRun.refresh`)."""
        with self._lock:
            if self._run is None:
                workspace = current_workspace(self.config, self.google_service)
                self._run = SyncRun(self.repository, self.google_service, self.config, self.stop,
                                    wait_for_lease=False, workspace=workspace, **self.tuning)
                self._born = time.monotonic()
            elif time.monotonic() - self._born > self.config.sync_interval_seconds:
                self._run.workspace = current_workspace(self.config, self.google_service, self._run.workspace)
                self._run.refresh()
                self._born = time.monotonic()
            return self._run

    def prime(self) -> None:
        """Before pulling: the send-as aliases stored for the tenants of the mailboxes it may be sent
        (SIDECAR_USERS, else the Workspace's users), read once (`sync.people.prime_send_as`)."""
        try:
            run = self._checkout()
            mailboxes = list(self.config.users) or (list(run.workspace.active) if run.workspace is not None else [])
            prime_send_as(run, mailboxes)
        except Exception as exc:  # noqa: BLE001 - the first syncs read them instead, and meet the failure themselves
            log.warning("send-as aliases not read ahead error=%s", type(exc).__name__)

    def handle(self, message) -> None:
        """A sync request: ack once the mailbox's commit landed (or no retry can help), else nack."""
        try:
            request = SyncRequest.decode(message.data)
        except ValueError as exc:
            log.warning("sync request dropped message=%s reason=%s", message.message_id, exc)
            message.ack()
            return
        result = self.sync(request.mailbox)
        if result.synced or result.state == MailboxState.REVOKED:
            message.ack()
        else:
            log.info("sync request nacked mailbox=%s attempt=%s reason=%s", request.mailbox,
                     message.delivery_attempt, result.error)
            message.nack()

    def handle_dead_letter(self, message) -> None:
        """A request that failed `max_deliveries` times: the mailbox is marked failed with the reason."""
        try:
            request = SyncRequest.decode(message.data)
        except ValueError:
            message.ack()
            return
        if mark_failed(self.repository(self.tenant_of(request.mailbox)), request.mailbox, self.ttl_seconds,
                       self.queue.settings.max_deliveries):
            message.ack()
        else:
            message.nack()  # leased right now: its holder is syncing it; try again later

    def run(self, unary: bool = False) -> None:
        """Pull until `stop`: StreamingPull (the default), or unary pulls (`unary`, see `_run_unary`)."""
        self.prime()
        if unary:
            self._run_unary()
            return
        s = self.queue.settings
        subscriber = self.queue.subscriber
        futures = [
            subscriber.subscribe(self.queue.subscription(s.sync_subscription), self.handle,
                                 flow_control=pubsub_v1.types.FlowControl(max_messages=s.worker_mailboxes)),
            subscriber.subscribe(self.queue.subscription(s.backfill_subscription), self.handle,
                                 flow_control=pubsub_v1.types.FlowControl(max_messages=BACKFILLS_PER_WORKER)),
            subscriber.subscribe(self.queue.subscription(s.dead_letter_subscription), self.handle_dead_letter,
                                 flow_control=pubsub_v1.types.FlowControl(max_messages=1)),
        ]
        if s.gmail_push_topic:  # Gmail notifications pulled here become sync requests (sync.push)
            notifications = GmailNotifications(self.repository, self.sync_now, self.tenant_of)
            futures.append(subscriber.subscribe(self.queue.subscription(s.gmail_push_subscription),
                                                notifications.handle,
                                                flow_control=pubsub_v1.types.FlowControl(max_messages=10)))
        log.info("worker started subscription=%s mailboxes=%d", s.sync_subscription, s.worker_mailboxes)
        self.stop.wait()
        for future in futures:
            future.cancel()  # stops pulling; a sync in progress sees `stop`, commits what it has and nacks
        for future in futures:
            try:
                future.result(timeout=LEASE_TTL_SECONDS)
            except Exception as exc:  # noqa: BLE001 - a cancelled stream ends with its own error; log, go on
                log.debug("subscription closed error=%s", type(exc).__name__)
        log.info("worker stopped state=stopped")


    def _run_unary(self) -> None:
        """Unary `pull` calls instead of streams: what a worker killed with -9 leaves is only unacked messages,
        which Pub/Sub redelivers after their ack deadline (the emulator, 0.8.20, never releases a killed
        StreamingPull stream and keeps delivering to it). Deadlines of messages in progress are extended."""
        s = self.queue.settings
        subscriber, queue = self.queue.subscriber, self.queue
        lanes = [(queue.subscription(s.sync_subscription), self.handle, s.worker_mailboxes),
                 (queue.subscription(s.backfill_subscription), self.handle, BACKFILLS_PER_WORKER),
                 (queue.subscription(s.dead_letter_subscription), self.handle_dead_letter, 1)]
        if s.gmail_push_topic:
            notifications = GmailNotifications(self.repository, self.sync_now, self.tenant_of)
            lanes.append((queue.subscription(s.gmail_push_subscription), notifications.handle, 10))
        busy: dict[str, str] = {}  # ack id -> its subscription, for messages being handled
        lock = threading.Lock()
        acks = _Acks(subscriber)
        pool = concurrent.futures.ThreadPoolExecutor(sum(most for _, _, most in lanes), thread_name_prefix="pull")
        log.info("worker started subscription=%s mailboxes=%d pull=unary", s.sync_subscription, s.worker_mailboxes)

        def lane(path: str, handler, most: int) -> None:
            """One subscription's pulls, on a thread of its own: a pull that waits never delays another lane.

            A lane that keeps finding nothing pulls less often (its pause doubles up to
            `UNARY_IDLE_MAX_SECONDS`, and is back to `UNARY_IDLE_SECONDS` once something
            comes): a busy worker's quiet lanes (backfills, dead letters, notifications)
            were three of its pulls every 0.2 s (bench/scale.py), and a request or a
            notification waits at most a second more for a quiet lane to look again.
            """
            idle = UNARY_IDLE_SECONDS
            while not self.stop.is_set():
                with lock:
                    free = most - sum(1 for sub in busy.values() if sub == path)
                if free <= 0:
                    self.stop.wait(UNARY_IDLE_SECONDS)
                    continue
                try:
                    response = subscriber.pull(subscription=path, max_messages=free, timeout=UNARY_PULL_TIMEOUT,
                                               return_immediately=True)
                except exceptions.GoogleAPICallError as exc:
                    log.debug("pull failed error=%s", type(exc).__name__)
                    self.stop.wait(UNARY_IDLE_SECONDS)
                    continue
                for received in response.received_messages:
                    message = _Pulled(subscriber, path, received, acks)
                    with lock:
                        busy[received.ack_id] = path

                    def work(message=message):
                        try:
                            handler(message)
                        finally:
                            with lock:
                                busy.pop(message.ack_id, None)

                    pool.submit(work)
                if response.received_messages:
                    idle = UNARY_IDLE_SECONDS
                else:
                    self.stop.wait(idle)
                    idle = min(idle * 2, UNARY_IDLE_MAX_SECONDS)

        threads = [threading.Thread(target=lane, args=spec, name="lane", daemon=True) for spec in lanes]
        for thread in threads:
            thread.start()
        extended = time.monotonic()
        while not self.stop.wait(ACK_FLUSH_SECONDS):
            acks.flush()
            if time.monotonic() - extended < ACK_DEADLINE_SECONDS / 3:
                continue
            extended = time.monotonic()  # the deadlines of messages being handled
            held: dict[str, list[str]] = {}  # subscription -> ack ids: one call each
            with lock:
                for ack_id, path in busy.items():
                    held.setdefault(path, []).append(ack_id)
            for path, ack_ids in held.items():
                try:
                    subscriber.modify_ack_deadline(subscription=path, ack_ids=ack_ids,
                                                   ack_deadline_seconds=ACK_DEADLINE_SECONDS)
                except exceptions.GoogleAPICallError:
                    pass
        for thread in threads:
            thread.join(timeout=UNARY_PULL_TIMEOUT + 1)
        pool.shutdown(wait=True)
        acks.flush()  # what the last handlers acked
        log.info("worker stopped state=stopped")


class _Acks:
    """A unary-pull worker's acks, sent together: one `acknowledge` call per subscription every
    `ACK_FLUSH_SECONDS` (the worker's loop flushes them) instead of one per message.

    An ack was a call of its own for every mailbox synced, a share of a no-op
    sync's CPU in the worker and in Pub/Sub (bench/scale.py). Its handler has
    returned by the time the ack goes out, so its slot is free at once; the
    message is no longer being extended either, and its deadline
    (`ACK_DEADLINE_SECONDS`) is far longer than the wait. An ack lost with the
    process (killed within that tenth of a second) or refused is redelivered
    after its deadline, and the mailbox synced again: an unchanged one, a no-op
    (Pub/Sub delivers at least once all the same).
    """

    def __init__(self, subscriber):
        self._subscriber = subscriber
        self._pending: dict[str, list[str]] = {}  # subscription -> ack ids not sent yet
        self._lock = threading.Lock()

    def add(self, subscription: str, ack_id: str) -> None:
        with self._lock:
            self._pending.setdefault(subscription, []).append(ack_id)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for subscription, ack_ids in pending.items():
            for first in range(0, len(ack_ids), ACK_IDS_MAX):
                chunk = ack_ids[first:first + ACK_IDS_MAX]
                try:
                    self._subscriber.acknowledge(subscription=subscription, ack_ids=chunk)
                except exceptions.GoogleAPICallError as exc:  # redelivered after their deadline (class doc)
                    log.warning("acks not sent subscription=%s messages=%d error=%s", subscription, len(chunk),
                                type(exc).__name__)


class _Pulled:
    """A message from a unary pull, with the streaming client's `ack`/`nack` face (acks sent together: `_Acks`)."""

    def __init__(self, subscriber, subscription: str, received, acks: _Acks):
        self._subscriber, self._subscription, self._acks = subscriber, subscription, acks
        self.ack_id = received.ack_id
        self.data = received.message.data
        self.message_id = received.message.message_id
        self.delivery_attempt = received.delivery_attempt or None

    def ack(self) -> None:
        self._acks.add(self._subscription, self.ack_id)

    def nack(self) -> None:
        self._subscriber.modify_ack_deadline(subscription=self._subscription, ack_ids=[self.ack_id],
                                             ack_deadline_seconds=0)


def mark_failed(repo: Repository, email: str, ttl_seconds: float, attempts: int) -> bool:
    """Mark a dead-lettered mailbox failed (in `repo`, its tenant's), with its last error, under its lease;
    False while it is leased."""
    lease = repo.acquire_lease(email, new_owner(), ttl_seconds)
    if lease is None:
        return False
    mailbox = repo.get_mailbox(email) or Mailbox(email=email)
    last = f"; last error: {mailbox.last_error}" if mailbox.last_error else ""
    mailbox.state = MailboxState.FAILED
    mailbox.last_error, mailbox.last_error_at = f"{DEAD_LETTERED} after {attempts} attempts{last}", utcnow()
    try:
        repo.commit_cursors(mailbox, lease)
    except Fenced:
        return False
    log.warning("mailbox failed mailbox=%s state=failed reason=%r", email, mailbox.last_error)
    return True


class Dispatcher:
    """Publishes what is due (see module doc); `cycle()` is one look, `run()` leads until `stop` is set."""

    def __init__(self, repository: RepositoryFactory, google_service: ServiceFactory, config: Config, queue: Queue,
                 leaders: Leases, stop: threading.Event, rng: random.Random | None = None):
        self.repository = repository
        self.google_service = google_service
        self.config = config
        self.queue = queue
        self.leaders = leaders  # the process-wide leader leases (`Services.leader_leases`)
        self.stop = stop
        self.rng = rng or random.Random()
        self.interval = dt.timedelta(seconds=config.sync_interval_seconds)
        self.published: dict[str, dt.datetime] = {}  # mailbox -> when this dispatcher last published it
        self.backfills: set[str] = set()  # mailboxes last published to the backfill topic
        self.health: dict[str, QueueHealth] = {}  # tenant -> the queue's health as last recorded (models.health)
        self._stored: dict[str, Mailbox] = {}  # the stored mailboxes of the current cycle
        self.workspace: Workspace | None = None  # as the Directory listed it last (module doc)
        self.directory_read_at: dt.datetime | None = None  # when the Directory was last read (`mailboxes`)
        self._listed: list[str] = []  # the mailboxes that read gave, when there is no Workspace
        self.watches = Watches(repository, google_service, config.google_cloud_project, queue.settings,
                               self.tenant_of)

    def tenant_of(self, email: str) -> str:
        """The tenant a mailbox is filed under (`SyncRun.tenant_of`), by the Workspace read last."""
        return self.workspace.tenant_of(email) if self.workspace is not None else email_domain(email)

    def mailboxes(self, now: dt.datetime | None = None) -> list[str]:
        """The mailboxes to publish: SIDECAR_USERS, else the Workspace's active users, without departed reps
        (the Directory's departures are marked `departed` on the way: `sync.directory.mark_departures`).

        The Directory is read when the last read is `DIRECTORY_REFRESH_SECONDS` old (or there was none:
        a dispatcher reads it at its first cycle); in between, the Workspace it
        gave is reused. A read that fails keeps the last Workspace (`current_workspace`) and is tried
        again an interval later, not every tick. The departures are marked every cycle from that
        Workspace and the stored mailboxes (Firestore only), so one an admin marked on the admin card
        stops being published at the next tick.
        """
        now = now or utcnow()
        if self.directory_read_at is None or \
                (now - self.directory_read_at).total_seconds() >= DIRECTORY_REFRESH_SECONDS:
            self.workspace = current_workspace(self.config, self.google_service, self.workspace)
            if self.workspace is None:  # no admin to read it as, or domains unreadable: users only
                self._listed = configured_mailboxes(self.config, self.google_service)
            self.directory_read_at = now
        workspace = self.workspace
        if workspace is None:
            return list(self._listed)
        emails = list(self.config.users) or list(workspace.active)
        departed = set(mark_departures(self.repository(workspace.primary), workspace)) | set(workspace.departed)
        return [e for e in emails if e.lower() not in departed]

    def cycle(self, now: dt.datetime | None = None) -> list[SyncRequest]:
        """Publish every mailbox that is new, due or orphaned by a dead holder; returns what was published."""
        now = now or utcnow()
        emails = self.mailboxes(now)
        self._stored = {}
        wanted: list[tuple[SyncRequest, bool]] = []
        seen = {}  # tenant -> what this cycle read of it, for the queue's health
        for tenant in sorted({self.tenant_of(e) for e in emails}):
            repo = self.repository(tenant)
            stored = {m.email: m for m in repo.list_mailboxes()}
            self._stored.update(stored)
            leases = {lease.name: lease for lease in repo.mailbox_leases()}
            mine = [e for e in emails if self.tenant_of(e) == tenant]
            seen[tenant] = (mine, stored, leases)
            for email in mine:
                lease, mailbox = leases.get(email), stored.get(email)
                if lease is not None and lease.owner:
                    if lease.expires_at > now:
                        continue  # in progress
                    wanted.append((SyncRequest(email, "requeue"), mailbox is None or not mailbox.history_id))
                elif mailbox is None or not mailbox.history_id:
                    wanted.append((SyncRequest(email, "new"), True))
                elif self._due(mailbox, now):
                    wanted.append((SyncRequest(email, "due"), False))
        published = []
        futures = []
        for request, backfill in wanted:
            last = self.published.get(request.mailbox)
            if last is not None and now - last < self.interval:
                continue  # already queued this interval
            futures.append(self.queue.publish(request, backfill))
            self.published[request.mailbox] = now
            (self.backfills.add if backfill else self.backfills.discard)(request.mailbox)
            published.append(request)
        for future in futures:
            future.result()
        for tenant, (mine, stored, leases) in seen.items():
            self.record_health(tenant, mine, stored, leases, now)
        if self.watches.enabled:  # push watches of the mailboxes synced so far (a new one is watched once it is)
            synced = {e for e, mailbox in self._stored.items() if mailbox.history_id}
            self.watches.renew([e for e in emails if e in synced], now)
        if published:
            log.info("dispatched mailboxes=%d new=%d due=%d requeued=%d", len(published),
                     *(sum(r.reason == k for r in published) for k in ("new", "due", "requeue")))
        return published

    def record_health(self, tenant: str, emails: list[str], stored: dict[str, Mailbox],
                      leases: dict[str, LeaseState], now: dt.datetime) -> None:
        """Store the tenant's queue health when it changed or its record is due a refresh (models.health).

        A failed write is logged and tried again next cycle: the measurement never holds up dispatching.
        """
        health = measure(emails, stored, leases, self.published, self.backfills, now)
        last = self.health.get(tenant)
        if health.same_as(last) and (now - last.recorded_at).total_seconds() < HEALTH_REFRESH_SECONDS:
            return
        try:
            self.repository(tenant).record_queue_health(health)
        except exceptions.GoogleAPIError as exc:
            log.warning("queue health not recorded tenant=%s error=%s", tenant, type(exc).__name__)
            return
        self.health[tenant] = health

    def _due(self, mailbox: Mailbox, now: dt.datetime) -> bool:
        if mailbox.last_attempt_at is None:
            return True
        return now - mailbox.last_attempt_at >= self.interval * (1 - self.rng.uniform(0, DISPATCH_JITTER))

    def run(self) -> None:
        leaders = self.leaders
        tick = min(DISPATCH_TICK_MAX_SECONDS, self.interval.total_seconds() / DISPATCH_TICKS_PER_INTERVAL)
        while not self.stop.is_set():
            lease = leaders.acquire(DISPATCHER, new_owner(), LEADER_TTL_SECONDS)
            if lease is None:
                self.stop.wait(tick)
                continue
            log.info("dispatcher leading fence=%d", lease.fence)
            try:
                while not self.stop.is_set():
                    self.cycle()
                    leaders.renew(lease)
                    self.stop.wait(tick * self.rng.uniform(1 - DISPATCH_JITTER, 1))
            except Fenced:
                log.warning("dispatcher lost its leader lease fence=%d", lease.fence)
                continue
            leaders.release(lease)
        log.info("dispatcher stopped state=stopped")
