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
card reads, and are complete. Deletions go through `Batch` (500 writes a
commit); each activity's timeline rows and message records are written before
its document, so an interrupted purge leaves the document to be found again and
running it again (adding the same exclusion again does) finishes the job.
Counters on kept contacts (last activity, "also in touch") are not lowered.
"""

from __future__ import annotations

import dataclasses
import logging

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

from models.addresses import is_excluded, name_key
from models.domain import Activity, ActivityKind
from models.repository import Batch, Repository, month_of

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
        query = repo.root.collection("activities").where(filter=FieldFilter("addresses", "array_contains", entry))
        return [s.id for s in query.select(["addresses"]).stream()]
    found, last = [], None
    while True:
        q = repo.root.collection("activities").select(["addresses"]).order_by(FieldPath.document_id()) \
            .limit(SCAN_PAGE)
        if last is not None:
            q = q.start_after(last)
        snapshots = list(q.stream())
        for snapshot in snapshots:
            if any(is_excluded(a, [entry]) for a in snapshot.get("addresses") or []):
                found.append(snapshot.id)
        if len(snapshots) < SCAN_PAGE:
            return found
        last = snapshots[-1]


def remove_activity(repo: Repository, writer: Batch, activity: Activity) -> None:
    """An activity's timeline rows and message records, then the activity itself (module doc)."""
    for contact_id in activity.contact_ids:
        writer.set(repo.timeline_ref(contact_id, month_of(activity.at)),
                   {"entries": {activity.id: firestore.DELETE_FIELD}}, merge=True)
    for mailbox, held_id in activity.holders.items():
        writer.delete(repo.message_ref(mailbox, held_id))
        if activity.kind == ActivityKind.EMAIL:  # sync's bucketed Gmail id -> activity map
            writer.set(repo.message_index_ref(mailbox, held_id), {"ids": {held_id: firestore.DELETE_FIELD}},
                       merge=True)
    writer.delete(repo.activity_ref(activity.id))


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
                remove_activity(repo, writer, activity)
                report.activities += 1
    if is_domain_entry(entry):
        by_domain = repo.root.collection("emails").where(filter=FieldFilter("domain", "==", entry))
        for snapshot in by_domain.stream():
            touched_contacts.add(snapshot.get("contact_id"))
    index = repo.contact_ids_by_email(addresses)
    touched_contacts.update(index.values())
    with repo.batch() as writer:
        for address in sorted(addresses):
            writer.delete(repo.unlinked_ref(address))
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
        buckets = list(repo.get_all([repo.timeline_ref(contact.id, m) for m in contact.timeline_months]))
        if any(snapshot.get("entries") for snapshot in buckets):
            continue  # notes or calls a rep wrote are still there: keep the person
        with repo.batch() as writer:
            for snapshot in buckets:
                writer.delete(snapshot.reference)
            for email in contact.emails:
                writer.delete(repo.email_ref(email))
            repo.search_index.remove_contact(writer, contact)
            key = name_key(contact.first_name, contact.last_name)
            if key:
                writer.set(repo.name_ref(key), {"contact_ids": firestore.ArrayRemove([contact.id])}, merge=True)
            if contact.company_id:
                writer.set(repo.company_ref(contact.company_id),
                           {"contact_ids": firestore.ArrayRemove([contact.id])}, merge=True)
            writer.delete(repo.contact_ref(contact.id))
        removed += 1
    return removed


def _remove_empty_company(repo: Repository, domain: str) -> None:
    """The excluded domain's company record, once no contact is left in its sample (it named only them)."""
    company = repo.get_company(domain)
    if company is None or company.contact_ids:
        return
    with repo.batch() as writer:
        repo.search_index.remove_company(writer, company)
        writer.delete(repo.company_ref(domain))
