"""Exclusions (SPEC §9): what an admin's new exclusion removes from what was already stored.

An exclusion is an address (`pat@lawfirm.com`) or a domain (`lawfirm.com`,
covering its subdomains). Sync's linking refuses matching mail from then on
(`sync.linking.Team.excludes`); `purge_exclusion` removes what is already there:

- every email and meeting involving a matching address: the activity document,
  its rows on every linked contact's timeline, the per-mailbox message records
  the add-on and sync keep for it (`mailboxes/{rep}/messages/{id}`, which hold
  participants and subject, and sync's `message_index` entries), and the
  `unlinked/{email}` entries of the matching addresses;
- contacts that exist only because of that mail: created by sync, every address
  excluded, and nothing left on their timeline once the mail is gone (their
  address index, search rows, name index and company sample entry with them),
  and the excluded domain's company once its sample is empty.
  A contact a rep created or imported on purpose is kept (its mail is removed):
  deleting a rep's deliberate record and notes is not the admin's to do silently.

Finding them: an address exclusion is one `array_contains_any` query on the
activities' `addresses` field; a domain exclusion cannot be a prefix query on
addresses (subdomains sort elsewhere), so it reads the activities collection in
pages of `SCAN_PAGE` projected to their addresses. Both are admin actions, not
card reads, and are complete. Deletions go through the repository's
`remove_activity` and `remove_contact` in its batches (500 writes a commit);
each activity's timeline rows and message records are written before its
document, so an interrupted purge leaves the document to be found again and
running it again (adding the same exclusion again does) finishes the job.
Counters on kept contacts (last activity, "also in touch") are not lowered.
"""

from __future__ import annotations

import dataclasses
import logging

from models.addresses import is_excluded, name_key
from models.repository import Repository

log = logging.getLogger(__name__)

SCAN_PAGE = 1000  # activity documents read per page of a domain scan (projected to `addresses`)


@dataclasses.dataclass
class PurgeReport:
    activities: int = 0
    contacts: int = 0


def is_domain_entry(entry: str) -> bool:
    return "@" not in entry.strip().lstrip("@")


def matching_activity_ids(repo: Repository, entry: str) -> list[str]:
    """Ids of every activity naming an address the exclusion covers (module doc)."""
    entry = entry.strip().lower()
    if not is_domain_entry(entry):
        return repo.activity_ids_naming(entry)
    return [activity_id for activity_id, addresses in repo.activity_addresses(SCAN_PAGE)
            if any(is_excluded(a, [entry]) for a in addresses)]


def purge_exclusion(repo: Repository, entry: str) -> PurgeReport:
    """Remove what is stored for an exclusion; idempotent, so a retry finishes an interrupted purge."""
    entry = entry.strip().lower()
    report = PurgeReport()
    ids = matching_activity_ids(repo, entry)
    addresses: set[str] = set() if is_domain_entry(entry) else {entry}
    touched_contacts: set[str] = set()
    for start in range(0, len(ids), SCAN_PAGE):
        activities = repo.get_activities(ids[start:start + SCAN_PAGE])
        with repo.batch() as writer:
            for activity in activities.values():
                addresses.update(p.email for p in activity.participants if is_excluded(p.email, [entry]))
                touched_contacts.update(activity.contact_ids)
                repo.remove_activity(writer, activity)
                report.activities += 1
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
    log.info("exclusion purged tenant=%s activities=%d contacts=%d", repo.tenant, report.activities,
             report.contacts)
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
