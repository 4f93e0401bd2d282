"""A Gmail card offers "Add as contact" by the rules sync creates contacts by (issue #16): the tenant's
free-mail and machine lists, and relays ("Jane Doe via ...") never offered."""

from __future__ import annotations

from models.domain import Settings
from tests.addon.conftest import card_of, texts

GMAIL = "/addon/gmail/message"


def add_form_inputs(addon, email: str, name: str) -> tuple[dict, str]:
    form = card_of(addon.action("form", params={"form": "add_contact", "email": email, "name": name}))
    inputs = {w["textInput"]["name"]: w["textInput"].get("value") for w in form["sections"][0]["widgets"]
              if "textInput" in w}
    return inputs, texts(form)


def test_the_add_form_files_a_tenants_free_mail_domain_under_no_company(addon, repo):
    _, before = add_form_inputs(addon, "sam.reed@mailhost-h2.example", "Sam Reed")
    assert "mailhost-h2.example" in before  # a corporate domain until the admin lists it

    repo.save_settings(Settings(free_mail_domains=["mailhost-h2.example"]))
    inputs, after = add_form_inputs(addon, "sam.reed@mailhost-h2.example", "REED, SAM")

    assert "mailhost-h2.example" not in after.replace("sam.reed@mailhost-h2.example", "")
    assert (inputs["first_name"], inputs["last_name"]) == ("Sam", "Reed")  # sync's capitalisation rule


def test_machine_senders_and_relays_get_no_section(addon, google, rep, repo):
    repo.save_settings(Settings(machine_addresses=["*-bot@tools-h2.example"]))
    message = google.add_message(rep, sender='"Dana Lowe via Sales Leads" <sales-leads@groups-h2.example>',
                                 to=[rep, "crm-bot@tools-h2.example", '"Lee Park" <lee@customer-h2.example>'],
                                 subject="Intro")

    shown = texts(card_of(addon.post(GMAIL, gmail={"messageId": message.id, "accessToken": "x"},
                                     oauth_token=addon.gmail_access())))

    assert "lee@customer-h2.example" in shown
    assert "sales-leads@groups-h2.example" not in shown and "crm-bot@tools-h2.example" not in shown
