"""Accepting a job change: the card's "Moved to <company>", over the repository and the merge."""

from __future__ import annotations

from models.addresses import normalize_email
from models.domain import Contact
from models.merge import merge_contacts
from models.repository import Conflict, Repository
from models.rules import apply_job_change, new_company


def accept_job_change(repo: Repository, contact: Contact, company: str) -> tuple[Contact, str]:
    """"Moved to <company>": the contact as saved and what to tell the rep.

    The address sync saw at the new company is usually a contact of its own
    (sync creates it, then flags the older record). That contact is merged into
    this one (journaled, retry-safe: see models.merge) so the person has one
    record and one timeline; then `apply_job_change`. Running it again after a
    failure finishes the job; a flag already handled (or for another company)
    changes nothing.
    """
    change = contact.job_change or {}
    company_id = (change.get("company_id") or "").lower()
    if not company_id or company_id != company.lower():
        return contact, "This job change was already handled"
    new_email = normalize_email(change.get("email") or "")
    twin = repo.find_contact_by_email(new_email) if new_email else None
    if twin is not None and twin.id != contact.id:
        try:
            contact = merge_contacts(repo, contact.id, twin.id).contact
        except Conflict as exc:
            return contact, str(exc)
    if repo.get_company(company_id) is None:
        repo.save_company(new_company(company_id))
    apply_job_change(contact, company_id, new_email)
    repo.save_contact(contact)
    return contact, f"Moved to {company_id}"
