"""The CSV import files people by the same address rules as sync (issue #16): free mail, IDN, guessed names."""

from __future__ import annotations

from models.csv_io import import_contacts
from models.domain import Settings


def test_an_import_files_free_mail_and_idn_addresses_as_sync_does(repo):
    repo.save_settings(Settings(free_mail_domains=["familia-post.example"]))
    data = ("Email,First Name\nrosa@familia-post.example,Rosa\nseo@daum.net,Seo\n"
            "joerg@XN--MLLER-BAU-Q9A.DE,Jörg\ngl@glen.example,\n").encode()
    report = import_contacts(repo, data)
    assert report.rejected == []
    companies = {email: repo.find_contact_by_email(email).company_id
                 for email in ("rosa@familia-post.example", "seo@daum.net", "joerg@müller-bau.de")}
    assert companies == {"rosa@familia-post.example": None, "seo@daum.net": None,
                         "joerg@müller-bau.de": "müller-bau.de"}
    guessed = repo.find_contact_by_email("gl@glen.example")
    assert (guessed.first_name, guessed.name_source) == ("Gl", "address")  # sync may improve a guess
    assert repo.find_contact_by_email("rosa@familia-post.example").name_source == ""  # never a typed name
