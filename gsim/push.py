"""Push notifications, as Google sends them: Gmail's to a Pub/Sub topic, Calendar's to a web hook.

- Gmail (`users.watch`): while a mailbox is watched, each change to its history
  publishes `{"emailAddress", "historyId"}` (JSON, which the client library
  base64-encodes into the message's `data`, as Gmail's do) to the watch's
  topic, at most one a second per user: changes within the second are
  coalesced into one notification carrying the newest history id, sent when
  the second is up. The topic is on whatever Pub/Sub `PUBSUB_EMULATOR_HOST`
  names (the client library reads it).
- Calendar (`events.watch`): a channel per `(calendar, channel id)` posts to
  its address on every change to the calendar, with the headers Google sends
  (`X-Goog-Channel-ID`, `X-Goog-Channel-Token`, `X-Goog-Channel-Expiration`,
  `X-Goog-Resource-ID`, `X-Goog-Resource-URI`, `X-Goog-Resource-State`: `sync`
  once when the channel opens, then `exists`; `X-Goog-Message-Number`). Google
  only posts to HTTPS; the simulator also posts to plain HTTP (local tests).

Deliveries run on one background thread, so a slow subscriber never slows
the API calls or world mutations that caused them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
import threading
import time
import urllib.request
import uuid

log = logging.getLogger(__name__)

GMAIL_MIN_INTERVAL_SECONDS = 1.0  # Gmail: at most one notification a second per user
POST_TIMEOUT_SECONDS = 5.0


@dataclasses.dataclass
class Channel:
    id: str
    calendar: str  # the calendar owner's address
    address: str
    token: str | None
    resource_id: str
    expiration_ms: int
    number: int = 0

    @property
    def resource_uri(self) -> str:
        return f"https://www.googleapis.com/calendar/v3/calendars/{self.calendar}/events?alt=json"


class Push:
    """Watches and their deliveries (module doc); `notifications` counts what was sent, per mailbox."""

    def __init__(self, min_interval: float = GMAIL_MIN_INTERVAL_SECONDS):
        self.min_interval = min_interval
        self.lock = threading.Lock()
        self.gmail_topics: dict[str, str] = {}  # mailbox -> topic path
        self.channels: dict[str, Channel] = {}  # channel id -> channel
        self.sent_at: dict[str, float] = {}  # mailbox -> when its last Gmail notification went
        self.pending: dict[str, int] = {}  # mailbox -> newest history id not yet notified
        self.notifications: dict[str, int] = {}  # mailbox -> Gmail notifications published
        self.posts: dict[str, int] = {}  # calendar owner -> channel notifications posted
        self._queue: queue.Queue = queue.Queue()
        self._publisher = None
        self._thread: threading.Thread | None = None

    # --- watches ----------------------------------------------------------------------
    def watch_gmail(self, mailbox: str, topic: str) -> None:
        with self.lock:
            self.gmail_topics[mailbox] = topic

    def stop_gmail(self, mailbox: str) -> None:
        with self.lock:
            self.gmail_topics.pop(mailbox, None)
            self.pending.pop(mailbox, None)

    def watch_calendar(self, calendar: str, channel_id: str, address: str, token: str | None,
                       expiration_ms: int) -> Channel:
        channel = Channel(channel_id, calendar, address, token, uuid.uuid4().hex, expiration_ms)
        with self.lock:
            self.channels[channel_id] = channel
        self._start()
        self._queue.put(("post", channel, "sync"))
        return channel

    def stop_channel(self, channel_id: str, resource_id: str | None) -> bool:
        with self.lock:
            channel = self.channels.get(channel_id)
            if channel is None or (resource_id and channel.resource_id != resource_id):
                return False
            del self.channels[channel_id]
            return True

    # --- changes --------------------------------------------------------------------------
    def mail_changed(self, mailbox: str, history_id: int) -> None:
        """A change to a mailbox's history: notify now, or once its second is up (coalesced)."""
        with self.lock:
            if mailbox not in self.gmail_topics:
                return
            first = mailbox not in self.pending
            self.pending[mailbox] = max(history_id, self.pending.get(mailbox, 0))
        if first:
            self._start()
            self._queue.put(("gmail", mailbox, None))

    def calendar_changed(self, calendars) -> None:
        now_ms = int(time.time() * 1000)
        with self.lock:
            wanted = [c for c in self.channels.values() if c.calendar in set(calendars) and c.expiration_ms > now_ms]
        if wanted:
            self._start()
        for channel in wanted:
            self._queue.put(("post", channel, "exists"))

    # --- delivery -----------------------------------------------------------------------
    def _start(self) -> None:
        with self.lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._deliver, name="gsim-push", daemon=True)
                self._thread.start()

    def _deliver(self) -> None:
        while True:
            kind, what, state = self._queue.get()
            try:
                if kind == "gmail":
                    self._gmail(what)
                else:
                    self._post(what, state)
            except Exception as exc:  # noqa: BLE001 - a subscriber's failure never stops the simulator
                log.warning("push failed kind=%s error=%s", kind, exc)

    def _gmail(self, mailbox: str) -> None:
        wait = self.sent_at.get(mailbox, 0.0) + self.min_interval - time.monotonic()
        if wait > 0:  # within the second: the notification goes when it is up, with the newest id
            threading.Timer(wait, self._queue.put, args=(("gmail", mailbox, None),)).start()
            return
        with self.lock:
            history_id = self.pending.pop(mailbox, None)
            topic = self.gmail_topics.get(mailbox)
        if history_id is None or topic is None:
            return
        self.sent_at[mailbox] = time.monotonic()
        if self._publisher is None:
            from google.cloud import pubsub_v1  # only a simulator that pushes needs the client

            self._publisher = pubsub_v1.PublisherClient()
        data = json.dumps({"emailAddress": mailbox, "historyId": history_id}).encode()
        self._publisher.publish(topic, data).result(timeout=POST_TIMEOUT_SECONDS)
        self.notifications[mailbox] = self.notifications.get(mailbox, 0) + 1

    def _post(self, channel: Channel, state: str) -> None:
        channel.number += 1
        headers = {"X-Goog-Channel-ID": channel.id, "X-Goog-Resource-ID": channel.resource_id,
                   "X-Goog-Resource-URI": channel.resource_uri, "X-Goog-Resource-State": state,
                   "X-Goog-Message-Number": str(channel.number),
                   "X-Goog-Channel-Expiration": time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                              time.gmtime(channel.expiration_ms / 1000))}
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        request = urllib.request.Request(channel.address, data=b"", method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=POST_TIMEOUT_SECONDS) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        self.posts[channel.calendar] = self.posts.get(channel.calendar, 0) + 1
        log.debug("channel notification channel=%s state=%s status=%s", channel.id, state, status)
