"""Exclusions (SPEC §9): what an admin's new exclusion removes from what was already stored.

An exclusion is an address (`pat@lawfirm.com`) or a domain (`lawfirm.com`,
covering its subdomains). Sync's linking refuses matching mail from then on
(`sync.linking.Team.excludes`); `purge_exclusion` removes what is already there:

- every email and meeting involving a matching address: the activity document,
  its rows on every linked contact's timeline, the per-mailbox message records
  the add-on and sync keep for it (`mailboxes/{rep}/messages/{id}`, which hold
  participants and subject, and sync's `message_index` entries), and the
  `unlinked/{email}` entries of the matching addresses;
- the add-on's records of messages sync never stored (bulk, spam, not synced
  yet: `mailboxes/{rep}/messages/{id}`, with subject and participants);
- contacts that exist only because of that mail: created by sync, every address
  excluded, and nothing left on their timeline once the mail is gone (their
  address index, search rows, name index and company sample entry with them),
  and the excluded domain's company once its sample is empty.
  A contact a rep created or imported on purpose is kept (its mail is removed):
  deleting a rep's deliberate record and notes is not the admin's to do silently.

Finding them (no scan of the tenant): every activity and every add-on message
record carries `exclusion_keys`, the canonical forms an exclusion can match of
each address it names (`models.addresses.exclusion_terms`: the address without
case, plus tag, IDN spelling or trailing dot, its domain and each parent
domain), written when it is stored. So an address or a domain exclusion is one
`array_contains` query on activities and one on the add-on's records (a
collection-group query scoped to the tenant), each costing what matches, not
the tenant's size. Both are admin actions, not card reads, and are complete.
Deletions go through the repository's `remove_activity`, `forget_message` and
`remove_contact` in its batches (500 writes a commit); each activity's
timeline rows and message records are written before its document, so an
interrupted purge leaves the document to be found again and running it again
(adding the same exclusion again does) finishes the job.
Counters on kept contacts (last activity, "also in touch") are not lowered.
"""

from __future__ import annotations

import dataclasses
import logging

from models.addresses import exclusion_entry, is_excluded, name_key
from models.repository import Repository

log = logging.getLogger(__name__)

ACTIVITIES_PER_BATCH = 1000  # activities read (one get_all) and removed per commit loop of a purge


@dataclasses.dataclass
class PurgeReport:
    activities: int = 0
    contacts: int = 0
    records: int = 0  # the add-on's message records removed (with or without an activity)


def is_domain_entry(entry: str) -> bool:
    return "@" not in entry.strip().lstrip("@")


def purge_exclusion(repo: Repository, entry: str) -> PurgeReport:
    """Remove what is stored for an exclusion; idempotent, so a retry finishes an interrupted purge."""
    entry = exclusion_entry(entry)
    report = PurgeReport()
    ids = repo.activity_ids_excluded_by(entry)
    addresses: set[str] = set() if is_domain_entry(entry) else {entry}
    touched_contacts: set[str] = set()
    for start in range(0, len(ids), ACTIVITIES_PER_BATCH):
        activities = repo.get_activities(ids[start:start + ACTIVITIES_PER_BATCH])
        with repo.batch() as writer:
            for activity in activities.values():
                addresses.update(p.email for p in activity.participants if is_excluded(p.email, [entry]))
                touched_contacts.update(activity.contact_ids)
                repo.remove_activity(writer, activity)
                report.activities += 1
    records = repo.message_records_excluded_by(entry)
    with repo.batch() as writer:
        for mailbox, message_id in records:
            repo.forget_message(writer, mailbox, message_id)
    report.records = len(records)
    if is_domain_entry(entry):
        touched_contacts.update(repo.contact_ids_at_domain(entry))
    index = repo.contact_ids_by_email(addresses)
    touched_contacts.update(index.values())
    with repo.batch() as writer:
        for address in sorted(addresses):
            repo.forget_unlinked(writer, address)
    report.contacts = _remove_mail_only_contacts(repo, touched_contacts, entry)
    if is_domain_entry(entry):
        _remove_empty_company(repo, entry)
    log.info("exclusion purged tenant=%s activities=%d records=%d contacts=%d", repo.tenant, report.activities,
             report.records, report.contacts)
    return report


def _remove_mail_only_contacts(repo: Repository, contact_ids: set[str], entry: str) -> int:
    removed = 0
    contacts = repo.get_contacts(contact_ids)
    for contact in contacts.values():
        if contact.source != "sync" or contact.merged_into or not contact.emails:
            continue
        if not all(is_excluded(email, [entry]) for email in contact.emails):
            continue
        if not repo.timeline_is_empty(contact):
            continue  # notes or calls a rep wrote are still there: keep the person
        with repo.batch() as writer:
            repo.remove_contact(writer, contact, name_key(contact.first_name, contact.last_name))
        removed += 1
    return removed


def _remove_empty_company(repo: Repository, domain: str) -> None:
    """The excluded domain's company record, once no contact is left in its sample (it named only them)."""
    company = repo.get_company(domain)
    if company is None or company.contact_ids:
        return
    with repo.batch() as writer:
        repo.remove_company(writer, company)
