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


def test_a_name_guessed_from_the_address_is_replaced_by_a_display_name_with_its_indexes(repo):
    contact = synced(repo, "gl@acme-names.example", "Gl", "", NAME_FROM_ADDRESS)

    assert repo.settle_synced_contacts({contact.id: {"a@rep.example": (("Gl", "", ""), NAME_FROM_ADDRESS)}}) == 1
    assert repo.get_contact(contact.id).first_name == "Gl"  # a guess does not replace a guess
    assert repo.settle_synced_contacts({contact.id: {"b@rep.example": (("Gary", "", "Lee"), NAME_FROM_HEADER)}}) == 1

    stored = repo.get_contact(contact.id)
    assert (stored.first_name, stored.last_name, stored.name_source) == ("Gary", "Lee", NAME_FROM_HEADER)
    assert named(repo, "gary lee") == {"gary lee": [contact.id]}
    assert [hit.id for hit in repo.search("gary")] == [contact.id]
    # another display name: the better-ranked one wins, whichever rep's mail came first (models.precedence)
    repo.settle_synced_contacts({contact.id: {"a@rep.example": (("Gareth", "", "Lee"), NAME_FROM_HEADER)}})
    assert repo.get_contact(contact.id).first_name == "Gary"  # "Gary Lee" > "Gareth Lee", the text decides


@pytest.mark.parametrize("source", ["", NAME_FROM_HEADER])
def test_a_typed_or_written_name_is_never_renamed_by_a_guess(repo, source):
    contact = synced(repo, "ann@acme-names.example", "Ann", "Lowe", source)
    if source == "":
        contact.name_source = ""  # what a rep's edit saves
        repo.save_contact(contact)
    seen = {"a@rep.example": (("Someone", "", "Else") if source == "" else ("Ann", "", ""),
                              NAME_FROM_HEADER if source == "" else "address")}

    repo.settle_synced_contacts({contact.id: seen})
    assert repo.get_contact(contact.id).first_name == "Ann"
    assert named(repo, "someone else") == {"someone else": []}
    assert repo.settle_synced_contacts({contact_id_for("nobody@acme-names.example"): seen}) == 0


def test_send_as_list_is_priced_in_every_profile():
    assert {name: p.units("gmail.users.settings.sendAs.list") for name, p in PROFILES.items()} == \
        {name: 1 for name in PROFILES}
