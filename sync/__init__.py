"""The sync daemon: pulls every rep's Gmail and Calendar into Firestore and links it to contacts.

`python -m sync run | once | status` (see `sync.__main__`). Layout: `api`
(pacing, retries, batches, failure classes), `gmail` and `calendar` (what to
fetch), `linking` (SPEC §7's rules), `writer` (how it lands in Firestore),
`runner` (one pass over the mailboxes), `schedule` (the daemon's jobs).
"""
