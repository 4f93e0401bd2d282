"""Search by name prefix, address or company, without scanning the tenant."""

from __future__ import annotations

from models.domain import Company, Contact
from models.repository import Repository, contact_id_for


def add(repo: Repository, email: str, first: str = "", last: str = "", company: str | None = None) -> Contact:
    return repo.create_contact(Contact(id=contact_id_for(email), emails=[email], first_name=first, last_name=last,
                                       company_id=company))


def found(repo: Repository, query: str) -> list[str]:
    return [hit.id for hit in repo.search(query)]


def test_a_name_prefix_finds_the_contact_whatever_the_case_and_accents(repo):
    jose = add(repo, "jose@acme.com", "José", "Núñez", "acme.com")
    add(repo, "joan@other.com", "Joan", "Smith", "other.com")
    assert found(repo, "jose") == [jose.id]
    assert found(repo, "JOS") == [jose.id]
    assert found(repo, "nunez") == [jose.id]
    assert found(repo, "José Nú") == [jose.id]
    assert sorted(found(repo, "jo")) == sorted([jose.id, contact_id_for("joan@other.com")])


def test_an_address_or_its_domain_finds_the_contact(repo):
    jane = add(repo, "jane.doe@mail.acme.co.uk", "Jane", "Doe", "acme.co.uk")
    assert found(repo, "jane.doe@mail.acme.co.uk") == [jane.id]
    assert found(repo, "Jane.Doe@Mail.Acme.co.uk") == [jane.id]
    assert found(repo, "acme.co.uk") == [jane.id]
    assert found(repo, "acme") == [jane.id]


def test_a_company_is_found_by_name_and_domain(repo):
    repo.save_company(Company(id="globex.com", name="Globex Corporation"))
    hits = repo.search("corpor")
    assert [(h.kind, h.id, h.title) for h in hits] == [("company", "globex.com", "Globex Corporation")]
    assert [h.kind for h in repo.search("globex")] == ["company"]


def test_free_mail_domains_are_not_search_terms(repo):
    add(repo, "sam.lee@gmail.com", "Sam", "Lee")
    assert found(repo, "gmail") == []
    assert found(repo, "sam") == [contact_id_for("sam.lee@gmail.com")]


def test_an_edit_removes_what_no_longer_matches(repo):
    contact = add(repo, "bob@acme.com", "Bob", "Stone", "acme.com")
    contact.first_name, contact.last_name = "Robert", "Stone"
    contact.emails = ["robert@acme.com"]
    repo.save_contact(contact)
    assert found(repo, "bob") == []
    assert found(repo, "robert") == [contact.id]
    assert found(repo, "stone") == [contact.id]


def test_too_short_or_empty_queries_find_nothing(repo):
    add(repo, "ann@acme.com", "Ann", "Lee", "acme.com")
    assert found(repo, "a") == []
    assert found(repo, "  ") == []
    assert found(repo, "%$#") == []


def test_search_stays_inside_the_tenant(firestore_client):
    ours, theirs = Repository(firestore_client, "example.com"), Repository(firestore_client, "rival.com")
    add(ours, "zed@acme.com", "Zed", "Ray", "acme.com")
    assert found(theirs, "zed") == []


def test_contacts_and_companies_created_by_sync_are_searchable(repo):
    contact = Contact(id=contact_id_for("gavin@hooli.com"), emails=["gavin@hooli.com"], first_name="Gavin",
                      last_name="Belson", company_id="hooli.com", source="sync", owner="rep@example.com")
    with repo.batch() as writer:
        repo.put_synced_contact(writer, contact, new_company=Company(id="hooli.com", name="Hooli"))
    assert [(h.kind, h.id) for h in repo.search("hooli")] == [("contact", contact.id), ("company", "hooli.com")]
    assert found(repo, "belson") == [contact.id]
    assert owned(repo, "rep@example.com") == ["Gavin Belson"]


def test_a_removed_company_is_no_longer_found(repo):
    company = repo.save_company(Company(id="lawfirm.com", name="Lawfirm Partners"))
    with repo.batch() as writer:
        repo.search_index.remove_company(writer, company)
    assert repo.search("lawfirm") == [] and repo.search("partners") == []


def owned(repo: Repository, rep: str, limit: int = 20) -> list[str]:
    return [c.display_name for c in repo.contacts_owned_by(rep, limit)]


def test_a_reps_contacts_are_listed_by_name_without_a_query(repo):
    for n in range(45):
        repo.create_contact(Contact(id=contact_id_for(f"p{n}@acme.com"), emails=[f"p{n}@acme.com"],
                                    first_name=f"Person{n:02d}", owner="ann@example.com"))
    add(repo, "zed@acme.com", "Zed")  # nobody's
    names = owned(repo, "ann@example.com", limit=20)
    assert len(names) == 20 and names == sorted(names) and len(set(names)) == 20
    assert set(owned(repo, "ann@example.com", limit=100)) == {f"Person{n:02d}" for n in range(45)}
    assert owned(repo, "bob@example.com") == []


def test_a_contact_given_to_another_rep_moves_to_their_list(repo):
    contact = repo.create_contact(Contact(id=contact_id_for("jo@acme.com"), emails=["jo@acme.com"],
                                          first_name="Jo", owner="ann@example.com"))
    contact.owner = "bob@example.com"
    repo.save_contact(contact)
    assert owned(repo, "ann@example.com") == []
    assert owned(repo, "bob@example.com") == ["Jo"]
    contact.owner = None
    repo.save_contact(contact)
    assert owned(repo, "bob@example.com") == []


def test_a_removed_contact_leaves_its_owners_list(repo):
    contact = repo.create_contact(Contact(id=contact_id_for("jo@acme.com"), emails=["jo@acme.com"],
                                          first_name="Jo", owner="ann@example.com"))
    with repo.batch() as writer:
        repo.search_index.remove_contact(writer, contact)
    assert owned(repo, "ann@example.com") == []
