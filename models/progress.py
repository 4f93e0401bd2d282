"""How far a rep's history import has got, as a card says it (pure: reads a Mailbox, nothing else)."""

from __future__ import annotations

from models.domain import Mailbox

IMPORT_PERCENT_MAX = 99  # a running import never says 100%: that is for when it is done


def import_percent(mailbox: Mailbox | None) -> int | None:
    """Percent of the Gmail backfill done, or None when there is none to show (done, or never run
    because the mailbox predates backfill records).

    Counted as listed messages done against all it lists; before anything is
    listed, by the dates reached instead (how far back of the backfill window). A
    mailbox not synced yet is at 0%.
    """
    if mailbox is None:
        return None
    if not mailbox.backfilling:
        return 0 if mailbox.backfill_since is None and not mailbox.history_id else None
    if 0 < mailbox.backfill_listed < mailbox.backfill_total:
        share = mailbox.backfill_listed / mailbox.backfill_total
    elif mailbox.backfill_reached and mailbox.backfill_started_at and mailbox.backfill_since:
        window = (mailbox.backfill_started_at - mailbox.backfill_since).total_seconds()
        share = (mailbox.backfill_started_at - mailbox.backfill_reached).total_seconds() / window if window > 0 else 0
    else:
        share = 0.0
    return max(0, min(IMPORT_PERCENT_MAX, int(share * 100)))


def import_label(mailbox: Mailbox | None) -> str | None:
    """"importing 40%" while the rep's history is still importing, None when it is done."""
    percent = import_percent(mailbox)
    return None if percent is None else f"importing {percent}%"


def time_left_label(mailbox: Mailbox) -> str:
    """", about 12 min left" at the mailbox's quota pace, when sync has estimated it."""
    seconds = mailbox.backfill_seconds_left
    if seconds is None or not mailbox.backfilling:
        return ""
    minutes = max(1, round(seconds / 60))
    return f", about {minutes} min left" if minutes < 120 else f", about {round(minutes / 60)} h left"


def tenant_import_label(mailboxes: list[Mailbox]) -> str | None:
    """The whole tenant's import ("2 of 5 mailboxes importing: 12,400 of 30,000 messages, 41%"), None when done.

    Counted over the mailboxes still importing, as listed messages done against all they list.
    """
    running = [m for m in mailboxes if import_percent(m) is not None]
    if not running:
        return None
    done, total = sum(m.backfill_listed for m in running), sum(m.backfill_total for m in running)
    share = f": {done:,} of {total:,} messages, {min(IMPORT_PERCENT_MAX, done * 100 // total)}%" if total else ""
    return f"{len(running)} of {len(mailboxes)} mailboxes importing{share}"

