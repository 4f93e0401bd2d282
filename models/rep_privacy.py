"""Privacy a rep controls (SPEC §9, #15): a thread, or everything with one person, kept to who and when.

The tenant's level (`Settings.privacy_level`: metadata, subject or snippet) is
the ceiling of what teammates see of another rep's email; a rep can only lower
it, never raise it:

- a thread: the rep's emails with the people of an open message under the same
  subject once "Re:"/"Fwd:" prefixes are dropped (what Gmail groups into a
  conversation, replies written later included), marked on each of those
  contacts as `private_threads[thread_key(subject)]`;
- a person: everything the rep has with one contact (`private_reps`).

A teammate then sees such an email as `metadata` does (who and when) whatever
the tenant's level; the rep, and anyone else who holds the same email in their
own mailbox, sees all of it. When several reps hold one email and one of them
made it private, it is private to those who hold none of it (the stricter
choice wins). Marks are transforms on the contact (`Repository.set_person_private`,
`set_thread_private`), so marking twice or undoing twice is harmless and a
card needs no extra read to apply them. Notes and logged calls are written for
the team and stay shared.

Private Calendar events (`visibility: private` or `confidential`) are stored
without their title and attendees' names (`sync.calendar`), for everyone:
teammates see "a meeting" and its time; the rep has the title in Calendar.
"""

from __future__ import annotations

import hashlib
import re

from models.domain import ActivityKind, Contact, TimelineEntry

REPLY_PREFIXES = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|sv|vs|wg|tr|antw)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
THREAD_KEY_LENGTH = 16  # hex digits of the normalised subject's SHA-256: a map key on the contact


def thread_subject(subject: str) -> str:
    """"Re: Fwd: Pricing  for Q3" -> "pricing for q3": the subject a conversation keeps."""
    return " ".join(REPLY_PREFIXES.sub("", subject or "").split()).casefold()


def thread_key(subject: str) -> str | None:
    """The key of an email's thread, the same in every teammate's mailbox (Gmail thread ids are not); None
    for an email without a subject. What a rep marks private and what `models.signals` groups replies by."""
    normalised = thread_subject(subject)
    return hashlib.sha256(normalised.encode()).hexdigest()[:THREAD_KEY_LENGTH] if normalised else None


def hidden_from(entry: TimelineEntry, contact: Contact | None, viewer: str) -> bool:
    """Whether a rep made this email private and `viewer` holds none of it (module doc)."""
    if contact is None or entry.kind != ActivityKind.EMAIL or viewer in entry.holders:
        return False
    if any(rep in contact.private_reps for rep in entry.holders):
        return True
    key = thread_key(entry.subject)
    return key is not None and any(rep in entry.holders for rep in contact.private_threads.get(key, ()))


def thread_is_private(contacts: list[Contact], subject: str, rep: str) -> bool:
    key = thread_key(subject)
    return key is not None and any(rep in c.private_threads.get(key, ()) for c in contacts)
