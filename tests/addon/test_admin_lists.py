"""The admin card's lists sync reads (issue #16): the team's other domains, machine senders, free-mail domains."""

from __future__ import annotations

import pytest

from models.domain import Settings
from tests.addon.conftest import card_of, notification, texts


@pytest.fixture
def admin(repo, rep):
    repo.save_settings(Settings(admins=[rep]))
    return rep


def test_an_admin_saves_the_three_lists_checked_and_in_canonical_form(addon, repo, admin):
    response = addon.action("admin_lists", inputs={
        "internal_domains": "acme-labs.com\nXN--MLLER-BAU-Q9A.DE, acme-labs.com",
        "machine_addresses": "*-bot@*\nCRM-Drop@Ledger.example\nautotrack.example",
        "free_mail_domains": "familia-post.pt"})
    assert notification(response) == "Lists saved"
    settings = repo.get_settings()
    assert settings.internal_domains == ["acme-labs.com", "müller-bau.de"]
    assert settings.machine_addresses == ["*-bot@*", "crm-drop@ledger.example", "autotrack.example"]
    assert settings.free_mail_domains == ["familia-post.pt"]
    assert "crm-drop@ledger.example" in texts(card_of(response))  # the card shows what is stored


@pytest.mark.parametrize(("inputs", "says"), [
    ({"internal_domains": "not a domain"}, "not a domain"),
    ({"machine_addresses": "*@*"}, "too wide a pattern"),
    ({"machine_addresses": "bad@@x"}, "not an email address"),
    ({"free_mail_domains": "localhost"}, "not a domain"),
])
def test_a_bad_entry_is_refused_with_what_was_typed_and_nothing_is_written(addon, repo, admin, inputs, says):
    before = repo.get_settings()
    typed = {"internal_domains": "", "machine_addresses": "", "free_mail_domains": "", **inputs}
    card = card_of(addon.action("admin_lists", inputs=typed))
    assert says in texts(card)
    assert repo.get_settings() == before


def test_a_teammate_who_is_not_an_admin_cannot_change_the_lists(addon, repo, admin, teammate):
    response = addon.action("admin_lists", inputs={"internal_domains": "evil.example"}, rep=teammate)
    assert notification(response) == "Admins only"
    assert repo.get_settings().internal_domains == []
