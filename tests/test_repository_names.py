"""The name index and a guessed name's improvement, as repository operations (issue #16), on the emulator."""

from __future__ import annotations

import pytest

from models.addresses import NAME_FROM_ADDRESS, NAME_FROM_HEADER
from models.domain import Contact
from models.repository import Repository, contact_id_for
from quotas import PROFILES


def named(repo: Repository, *keys: str) -> dict[str, list[str]]:
    found = repo.contact_ids_by_name(keys)
    return {key: found.get(key, []) for key in keys}


def synced(repo: Repository, email: str, first: str, last: str, source: str) -> Contact:
    contact = Contact(id=contact_id_for(email), emails=[email], first_name=first, last_name=last,
                      company_id="acme-names.example", source="sync", name_source=source)
    with repo.batch() as batch:
        repo.put_synced_contact(batch, contact, f"{first} {last}".lower())
    return contact


def test_a_contact_a_rep_creates_and_renames_moves_in_the_name_index(repo):
    contact = repo.create_contact(Contact(id=contact_id_for("jane@acme-names.example"),
                                          emails=["jane@acme-names.example"], first_name="Jane", last_name="Doe"))
    assert named(repo, "jane doe") == {"jane doe": [contact.id]}

    contact.first_name, contact.last_name = "Janet", "Doe-Smith"
    repo.save_contact(contact)

    assert named(repo, "jane doe", "janet doe-smith") == {"jane doe": [], "janet doe-smith": [contact.id]}
    repo.save_contact(contact)  # the same name again: the index is left as it is
    assert named(repo, "janet doe-smith") == {"janet doe-smith": [contact.id]}


def test_a_name_guessed_from_the_address_is_replaced_once_with_its_indexes(repo):
    contact = synced(repo, "gl@acme-names.example", "Gl", "", NAME_FROM_ADDRESS)

    assert repo.rename_from_address(contact.id, "Gary", "", "Lee") is True

    stored = repo.get_contact(contact.id)
    assert (stored.first_name, stored.last_name, stored.name_source) == ("Gary", "Lee", NAME_FROM_HEADER)
    assert named(repo, "gary lee") == {"gary lee": [contact.id]}
    assert [hit.id for hit in repo.search("gary")] == [contact.id]
    assert contact.id in {c.id for c in repo.contacts_pending_links()}  # the job-change review sees the new name
    assert repo.rename_from_address(contact.id, "Gareth", "", "Lee") is False  # now the person's own
    assert repo.get_contact(contact.id).first_name == "Gary"


@pytest.mark.parametrize("source", ["", NAME_FROM_HEADER])
def test_a_typed_or_written_name_is_never_renamed(repo, source):
    contact = synced(repo, "ann@acme-names.example", "Ann", "Lowe", source)

    assert repo.rename_from_address(contact.id, "Someone", "", "Else") is False
    assert repo.get_contact(contact.id).first_name == "Ann"
    assert named(repo, "someone else") == {"someone else": []}
    assert repo.rename_from_address(contact_id_for("nobody@acme-names.example"), "A", "", "B") is False


def test_send_as_list_is_priced_in_every_profile():
    assert {name: p.units("gmail.users.settings.sendAs.list") for name, p in PROFILES.items()} == \
        {name: 1 for name in PROFILES}
