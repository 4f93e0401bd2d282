"""Every action on a contact or company that is not there (removed, or another tenant's id) answers "not found"."""

from __future__ import annotations

import pytest

from tests.addon.conftest import card_of, notification

NOBODY, NONE = "c" + "0" * 20, "c" + "1" * 20  # well-formed contact ids that no contact has

CONTACT_ACTIONS = ["open_contact", "show_more", "edit_fields", "add_tag", "remove_tag", "set_owner", "set_stage",
                   "add_note", "log_call", "job_change", "dismiss_job_change"]


@pytest.mark.parametrize("name", CONTACT_ACTIONS)
def test_a_contact_action_on_an_unknown_contact_answers_not_found(addon, name):
    response = addon.action(name, params={"contact_id": NOBODY, "form": "note", "cursor": "x", "tag": "vip",
                                          "company": "globex.com"}, inputs={"tag": "vip", "body": "hi"})
    assert (card_of(response)["name"], notification(response)) == ("not_found", "Contact not found")


def test_a_form_on_an_unknown_contact_and_a_merge_with_one_answer_not_found(addon):
    assert card_of(addon.action("form", params={"form": "note", "contact_id": NOBODY}))["name"] == "not_found"
    response = addon.action("merge_form", params={"keep_id": NOBODY, "merge_id": NONE})
    assert notification(response) == "Contact not found"


@pytest.mark.parametrize(("name", "says"), [("open_company", None), ("company_form", None),
                                            ("edit_company", "Company not found")])
def test_a_company_action_on_an_unknown_company_answers_not_found(addon, repo, name, says):
    response = addon.action(name, params={"domain": "nowhere.test"}, inputs={"name": "Nowhere"})
    assert (card_of(response)["name"], notification(response)) == ("not_found", says)
    assert repo.get_company("nowhere.test") is None
