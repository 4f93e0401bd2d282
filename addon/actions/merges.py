"""Duplicates and job changes: the merge card, the journaled merge, and accepting or dismissing a job change."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

from addon.actions import Handler, action
from addon.actions.contacts import not_found, show_contact, with_contact
from addon.actions.forms import invalid
from addon.context import Request
from cards import responses
from cards.contact import merge_card
from models.domain import Contact
from models.job_changes import accept_job_change
from models.merge import FIELD_LABELS, absorb, merge_contacts
from models.repository import Conflict, NotFound


def with_pair(handler: Callable[[Request, Contact, Contact], dict]) -> Handler:
    """Load the two contacts of a merge as they stand (an alias is never offered as either side)."""
    @functools.wraps(handler)
    def loaded(req: Request) -> dict:
        try:
            kept = req.repo.get_contact(req.event.parameter("keep_id"), follow_alias=False)
            other = req.repo.get_contact(req.event.parameter("merge_id"), follow_alias=False)
        except NotFound:
            return not_found()
        return handler(req, kept, other)
    return loaded


def _conflict_rows(req: Request, kept: Contact, other: Contact) -> list[tuple[str, object, object]]:
    """What the merge rule would set aside, computed on copies (nothing is written)."""
    rows = []
    for conflict in absorb(copy.deepcopy(kept), copy.deepcopy(other)):
        key = conflict.field.removeprefix("custom.")
        definition = req.settings.field_definition(key) if conflict.field.startswith("custom.") else None
        label = definition.label if definition else FIELD_LABELS.get(conflict.field, key)
        rows.append((label, conflict.kept, conflict.other))
    return rows


@action("merge_form")
@with_pair
def merge_form(req: Request, kept: Contact, other: Contact) -> dict:
    if kept.id == other.id or kept.merged_into or other.merged_into:
        return show_contact(req, req.repo.get_contact(kept.id), "Already merged")
    return responses.push_card(merge_card(kept, other, _conflict_rows(req, kept, other), req.viewer))


@action("merge_contacts")
@with_pair
def merge(req: Request, kept: Contact, other: Contact) -> dict:
    """Run the journaled merge (models.merge); pressing Merge again after a failure finishes it."""
    try:
        result = merge_contacts(req.repo, kept.id, other.id)
    except (Conflict, ValueError) as exc:
        return invalid(merge_card(kept, other, _conflict_rows(req, kept, other), req.viewer, error=str(exc)), str(exc))
    moved = f"{result.activities_moved} activities moved" if not result.already_done else "already merged"
    return show_contact(req, result.contact, f"Merged {other.display_name}: {moved}")


@action("job_change")
@with_contact
def moved(req: Request, contact: Contact) -> dict:
    """"Moved to <company>": `models.job_changes.accept_job_change`, with all the person's history kept."""
    contact, message = accept_job_change(req.repo, contact, req.event.parameter("company"))
    return show_contact(req, contact, message)


@action("dismiss_job_change")
@with_contact
def dismiss_job_change(req: Request, contact: Contact) -> dict:
    contact.job_change = None
    req.repo.save_contact(contact)
    return show_contact(req, contact, "Kept at the current company")
