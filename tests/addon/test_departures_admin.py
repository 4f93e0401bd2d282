"""The admin card's departures (#15): a departed mailbox, reassigning its contacts, marking a rep gone or back."""

from __future__ import annotations

import pytest

from models.domain import Mailbox, MailboxState, Settings, utcnow
from tests.addon.conftest import card_of, notification, seed_contact, seed_emails, texts
from tests.conftest import TENANT

GONE = f"gone.rep@{TENANT}"


@pytest.fixture
def admin(repo, rep):
    repo.save_settings(Settings(admins=[rep]))
    return rep


@pytest.fixture
def departed_book(repo, admin, teammate):
    """A departed rep who owned 7 contacts and emailed one of them."""
    repo.save_mailbox(Mailbox(email=GONE, state=MailboxState.OK, last_success_at=utcnow()))
    repo.mark_departed(GONE, by=admin)
    contacts = [seed_contact(repo, f"buyer{n}@customer-h4.test", first=f"Buyer{n}", owner=GONE) for n in range(7)]
    seed_emails(repo, contacts[0], 2, holder=GONE, subject="Renewal terms")
    return contacts


def test_the_admin_card_shows_the_departed_mailbox_with_its_reassign_button(addon, departed_book):
    card = card_of(addon.action("admin"))
    row = next(w["decoratedText"] for w in card["sections"][0]["widgets"]
               if w.get("decoratedText", {}).get("text", "").startswith(GONE))
    assert "departed" in row["text"] and row["button"]["text"] == "Reassign contacts"


def test_the_admin_reassigns_a_departed_reps_contacts_over_two_teammates(addon, repo, admin, teammate,
                                                                           departed_book):
    form = card_of(addon.action("admin_reassign_form", params={"email": GONE}))
    assert form["name"] == "reassign" and "They are back" in texts(form)

    response = addon.action("admin_reassign", params={"email": GONE}, inputs={"reassign_to": f"{admin}, {teammate}"})

    report = card_of(response)
    assert report["name"] == "reassign_report"
    assert notification(response) == f"reassigned 7 contacts of {GONE} ({admin}: 4, {teammate}: 3)"
    owners = [repo.get_contact(c.id).owner for c in departed_book]
    assert sorted(owners) == sorted([admin] * 4 + [teammate] * 3)
    assert repo.owned_contact_ids(GONE) == []


@pytest.mark.parametrize(("to", "says"), [("", "Name at least one teammate"),
                                          (GONE, "cannot take over their own contacts"),
                                          ("someone@elsewhere.test", "must be a teammate")])
def test_a_bad_reassignment_is_refused_and_moves_nothing(addon, repo, departed_book, to, says):
    response = addon.action("admin_reassign", params={"email": GONE}, inputs={"reassign_to": to})

    assert says in texts(card_of(response))
    assert all(repo.get_contact(c.id).owner == GONE for c in departed_book)


def test_a_teammate_sees_the_departed_reps_history_marked_as_a_former_teammate(addon, teammate, departed_book):
    card = card_of(addon.action("open_contact", params={"contact_id": departed_book[0].id}, rep=teammate))

    assert f"{GONE} (former teammate)" in texts(card)
    assert "Renewal terms" in texts(card)  # their mail stays visible at the tenant's level (subject)


def test_an_admin_marks_a_rep_departed_and_back(addon, repo, admin, teammate):
    repo.save_mailbox(Mailbox(email=teammate, state=MailboxState.OK))

    assert "marked departed" in notification(addon.action("admin_departure", params={"email": teammate}))
    assert repo.get_mailbox(teammate).state == MailboxState.DEPARTED
    assert repo.get_settings().departed_reps == [teammate]

    assert "syncs again" in notification(addon.action("admin_departure", params={"email": teammate, "back": "1"}))
    assert repo.get_mailbox(teammate).state == MailboxState.NEW
    assert repo.get_settings().departed_reps == []


def test_departure_actions_are_for_admins_only(addon, repo, rep, teammate, departed_book):
    response = addon.action("admin_reassign", params={"email": GONE}, inputs={"reassign_to": rep}, rep=teammate)
    assert card_of(response)["name"] == "not_admin"
    assert all(repo.get_contact(c.id).owner == GONE for c in departed_book)
