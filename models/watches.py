"""A mailbox's push watches (SPEC §7 "Scale", issue 14 point 5): what the dispatcher renews, what push checks.

One document per mailbox, `watches/{mailbox}`, built by the repository's
`# --- watches` section: the Gmail watch's expiry, the Calendar channel (its
id, Google's resource id, its per-channel secret and expiry) and the last push
seen. Kept apart from the mailbox document, whose writes are fenced by the
mailbox's lease: the dispatcher and the push endpoints write here without one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass
class Watch:
    mailbox: str
    gmail_watched_at: dt.datetime | None = None
    gmail_expires_at: dt.datetime | None = None
    channel_id: str | None = None
    channel_resource_id: str | None = None
    channel_token: str | None = None  # the secret every notification of the channel must carry
    channel_expires_at: dt.datetime | None = None
    last_push_at: dt.datetime | None = None
    last_push_history_id: int | None = None  # the newest Gmail notification's history id
    pushes: int = 0  # notifications seen (Gmail and Calendar)
    skipped_pushes: int = 0  # Gmail notifications already covered by the stored history id
