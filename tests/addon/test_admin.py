"""The admin card and its actions: who may use them, policy, custom field definitions, exclusions.

Exclusions are tested end to end: mail is synced from the simulator, the admin
excludes a domain through the add-on, what was stored is gone, and a later
sync of new mail from that domain stores none of it.
"""

from __future__ import annotations

import functools

import pytest

from app import create_app
from models.domain import Activity, CustomFieldDefinition, Mailbox, Settings, utcnow
from models.repository import new_id
from sync.runner import SyncRun
from tests.addon.conftest import AddonClient, app_config, card_of, notification, seed_contact, seed_emails, texts
from wiring import Services

HOME = "/addon/homepage"


@pytest.fixture
def admin(repo, rep):
    repo.save_settings(Settings(admins=[rep]))
    return rep


def stored_addresses(repo) -> set[str]:
    return {a for s in repo.root.collection("activities").stream() for a in s.get("addresses") or []}


def test_only_admins_see_the_admin_button_and_card(addon, repo, rep, teammate, admin):
    assert "Open admin settings" in texts(card_of(addon.post(HOME)))
    assert "Open admin settings" not in texts(card_of(addon.post(HOME, rep=teammate)))
    card = card_of(addon.action("admin"))
    assert card["name"] == "admin"
    assert [s.get("header") for s in card["sections"]] == ["Mailboxes and sync health", "Privacy and auto-create",
                                                           "Exclusions", "Custom fields", "Admins"]
    assert card_of(addon.action("admin", rep=teammate))["name"] == "not_admin"


def test_sidecar_admin_email_is_the_bootstrap_admin_of_an_empty_list(project_id, firestore_emulator, google, repo,
                                                                      teammate):
    app = create_app(app_config(project_id, firestore_emulator.host, google, admin_email=teammate))
    client = AddonClient(app.test_client(), google, teammate)
    assert card_of(client.action("admin"))["name"] == "admin"
    response = client.action("admin_add_admin", inputs={"admin_email": google.reps[2]})
    assert notification(response) == f"{google.reps[2]} is now an admin"
    assert repo.get_settings().admins == [google.reps[2]]
    assert card_of(client.action("admin"))["name"] == "admin"  # the operator's admin stays one
    app.extensions["sidecar"].close()


def test_mailboxes_show_their_sync_health(addon, repo, admin, teammate):
    repo.save_mailbox(Mailbox(email=admin, state="ok", last_success_at=utcnow()))
    repo.save_mailbox(Mailbox(email=teammate, state="revoked", last_error="invalid_grant: access revoked",
                              last_error_at=utcnow()))
    section = card_of(addon.action("admin"))["sections"][0]
    assert admin in texts(section) and "revoked" in texts(section) and "invalid_grant" in texts(section)


@pytest.mark.parametrize(("name", "params", "inputs"), [
    ("admin_policy", {}, {"privacy_level": "snippet", "auto_create": "all"}),
    ("admin_add_exclusion", {}, {"exclusion": "lawfirm.com"}),
    ("admin_remove_exclusion", {"entry": "keep.com"}, {}),
    ("admin_add_field", {}, {"field_label": "Region", "field_type": "text", "field_applies_to": "contact"}),
    ("admin_remove_field", {"key": "tier", "applies_to": "contact"}, {}),
    ("admin_add_admin", {}, {"admin_email": "x@example.com"}),
    ("admin_remove_admin", {"email": "boss@example.com"}, {}),
])
def test_non_admins_get_an_error_card_and_nothing_is_written(addon, repo, teammate, name, params, inputs):
    before = Settings(admins=["boss@example.com"], exclusions=["keep.com"],
                      custom_fields=[CustomFieldDefinition("tier", "Tier")])
    repo.save_settings(before)
    jane = seed_contact(repo, "jane@lawfirm.com")
    seed_emails(repo, jane, 2, holder=teammate)
    response = addon.action(name, params=params, inputs=inputs, rep=teammate)
    assert card_of(response)["name"] == "not_admin" and notification(response) == "Admins only"
    assert repo.get_settings() == before
    assert len(repo.timeline(jane.id).entries) == 2


def test_policy_is_saved_and_bad_values_are_refused(addon, repo, admin):
    response = addon.action("admin_policy", inputs={"privacy_level": "metadata", "auto_create": "none"})
    assert notification(response) == "Policy saved"
    assert (repo.get_settings().privacy_level, repo.get_settings().auto_create) == ("metadata", "none")
    card = card_of(addon.action("admin_policy", inputs={"privacy_level": "everything", "auto_create": "none"}))
    assert "Choose a privacy level" in texts(card) and repo.get_settings().privacy_level == "metadata"


def test_custom_fields_are_defined_validated_and_removed(addon, repo, admin):
    addon.action("admin_add_field", inputs={"field_label": "Renewal date", "field_type": "date",
                                            "field_applies_to": "contact"})
    addon.action("admin_add_field", inputs={"field_label": "Tier", "field_type": "select",
                                            "field_options": "Gold, Silver ,, Bronze", "field_applies_to": "company"})
    fields = repo.get_settings().custom_fields
    assert [(f.key, f.label, f.type, f.options, f.applies_to) for f in fields] == [
        ("renewal_date", "Renewal date", "date", [], "contact"),
        ("tier", "Tier", "select", ["Gold", "Silver", "Bronze"], "company")]
    for inputs, says in [({"field_label": "Tier", "field_type": "select", "field_applies_to": "company",
                           "field_options": "A"}, "already a company field"),
                         ({"field_label": "Size", "field_type": "select"}, "needs options"),
                         ({"field_label": "X", "field_key": "Bad Key", "field_type": "text"}, "A key starts"),
                         ({"field_label": "", "field_type": "text"}, "label"),
                         ({"field_label": "Y", "field_type": "colour"}, "Choose a type"),
                         ({"field_label": "Z", "field_type": "select", "field_options": "a, A"}, "listed twice")]:
        response = addon.action("admin_add_field", inputs=inputs)
        assert says in texts(card_of(response)) and notification(response)
    assert len(repo.get_settings().custom_fields) == 2
    addon.action("admin_remove_field", params={"key": "tier", "applies_to": "company"})
    assert [f.key for f in repo.get_settings().custom_fields] == ["renewal_date"]


@pytest.mark.parametrize(("typed", "says"), [("example.com", "own domain"), ("mail.example.com", "own domain"),
                                             ("bob@example.com", "own domain"), ("co.uk", "not a domain"),
                                             ("not an address@", "not an email"), ("", "Type an address")])
def test_bad_exclusions_are_refused(addon, repo, admin, typed, says):
    response = addon.action("admin_add_exclusion", inputs={"exclusion": typed})
    assert says in texts(card_of(response))
    assert repo.get_settings().exclusions == []


def test_excluding_an_address_removes_its_mail_but_keeps_a_contact_a_rep_made(addon, repo, admin, teammate):
    pat = seed_contact(repo, "pat@lawfirm.com", first="Pat", company="lawfirm.com", source="gmail_card")
    other = seed_contact(repo, "kim@lawfirm.com", first="Kim", company="lawfirm.com")
    mail = seed_emails(repo, pat, 3, holder=teammate)
    seed_emails(repo, other, 2, holder=teammate)
    repo.add_activity(Activity(id=new_id("a"), kind="note", at=utcnow(), body="call back", author=admin,
                               contact_ids=[pat.id]))
    repo.record_message(teammate, "2", activity_id=mail[2].id)  # Gmail id "2" in the teammate's mailbox

    response = addon.action("admin_add_exclusion", inputs={"exclusion": " PAT@LawFirm.com "})

    assert notification(response) == "Excluded pat@lawfirm.com: removed 3 activities, 0 contacts"
    assert repo.get_settings().exclusions == ["pat@lawfirm.com"]
    assert [e.kind for e in repo.timeline(pat.id).entries] == ["note"]  # the rep's note stays
    assert repo.get_contact(pat.id).first_name == "Pat"
    assert len(repo.timeline(other.id).entries) == 2
    assert "pat@lawfirm.com" not in stored_addresses(repo)
    assert not repo.message_ref(teammate, "2").get().exists
    again = addon.action("admin_add_exclusion", inputs={"exclusion": "pat@lawfirm.com"})  # a retry: nothing left
    assert notification(again) == "Excluded pat@lawfirm.com: removed 0 activities, 0 contacts"
    assert repo.get_settings().exclusions == ["pat@lawfirm.com"]
    addon.action("admin_remove_exclusion", params={"entry": "pat@lawfirm.com"})
    assert repo.get_settings().exclusions == []


def test_excluding_a_domain_purges_stored_mail_and_a_later_sync_stores_none(
        addon, repo, admin, google, project_id, firestore_emulator, tmp_path):
    rep = google.reps[0]
    repo.save_settings(Settings(admins=[rep]))
    for n, person in enumerate(["pat@lawfirm.com", "ann@mail.lawfirm.com", "kim@keepme.com"]):
        google.add_message(rep, sender=rep, to=[person], subject=f"Proposal {n}")
    google.add_message(rep, sender="Ann <ann@mail.lawfirm.com>", to=[rep], cc=["kim@keepme.com"], subject="Both")
    services = Services({"google_cloud_project": project_id, "firestore_emulator_host": firestore_emulator.host,
                         "google_api_root": google.url, "users": tuple(google.reps),
                         "google_application_credentials": str(google.write_service_account_key(tmp_path / "k.json"))})
    new_run = functools.partial(SyncRun, services.repository, services.google_service, services.config)
    try:
        assert {r.state for r in new_run().run([rep])} == {"ok"}
        assert {"pat@lawfirm.com", "ann@mail.lawfirm.com"} <= stored_addresses(repo)
        kim = repo.find_contact_by_email("kim@keepme.com")
        kim_rows = len(repo.timeline(kim.id).entries)

        response = addon.action("admin_add_exclusion", inputs={"exclusion": "lawfirm.com"})

        assert "removed 3 activities, 2 contacts" in notification(response)
        assert not any(a.endswith("lawfirm.com") for a in stored_addresses(repo))
        assert repo.find_contact_by_email("pat@lawfirm.com") is None
        assert repo.find_contact_by_email("ann@mail.lawfirm.com") is None
        assert [h.id for h in repo.search("pat")] == []
        assert len(repo.timeline(kim.id).entries) == kim_rows - 1  # the mail Ann was on is gone from Kim's too
        assert not repo.unlinked_ref("ann@mail.lawfirm.com").get().exists
        indexed = {aid for s in repo.mailbox_ref(rep).collection("message_index").stream()
                   for aid in ((s.to_dict() or {}).get("ids") or {}).values()}
        assert indexed <= {s.id for s in repo.root.collection("activities").stream()}  # no pointer to purged mail

        google.add_message(rep, sender=rep, to=["pat@lawfirm.com"], subject="After the exclusion")
        google.add_message(rep, sender="Bo <bo@eu.lawfirm.com>", to=[rep], subject="Subdomain")
        assert {r.state for r in new_run().run([rep])} == {"ok"}
        assert not any(a.endswith("lawfirm.com") for a in stored_addresses(repo))
        assert repo.find_contact_by_email("pat@lawfirm.com") is None
    finally:
        services.close()


@pytest.mark.parametrize(("level", "subject", "snippet"), [("metadata", False, False), ("subject", True, False),
                                                           ("snippet", True, True)])
def test_the_level_an_admin_sets_is_what_a_teammate_sees(addon, repo, admin, teammate, level, subject, snippet):
    jane = seed_contact(repo, "jane@acme.com")
    seed_emails(repo, jane, 1, holder=admin, subject="Admin pricing", snippet="admin discount")
    addon.action("admin_policy", inputs={"privacy_level": level, "auto_create": "outbound"})
    shown = texts(card_of(addon.action("open_contact", params={"contact_id": jane.id}, rep=teammate)))
    assert ("Admin pricing" in shown) is subject and ("admin discount" in shown) is snippet
    mine = texts(card_of(addon.action("open_contact", params={"contact_id": jane.id})))
    assert "Admin pricing" in mine and "admin discount" in mine  # a rep always sees all of their own


def test_the_admin_chooses_which_gmail_tabs_are_never_imported(addon, repo, admin):
    card = card_of(addon.action("admin"))
    boxes = [w["selectionInput"] for s in card["sections"] for w in s["widgets"]
             if w.get("selectionInput", {}).get("name") == "skipped_categories"]
    assert [i["value"] for i in boxes[0]["items"] if i["selected"]] == ["promotions", "social", "forums"]
    policy = {"privacy_level": "subject", "auto_create": "outbound"}
    addon.action("admin_policy", inputs={**policy, "skipped_categories": {"stringInputs": {"value": ["social"]}}})
    assert repo.get_settings().skipped_categories == ["social"]
    addon.action("admin_policy", inputs=policy)  # nothing checked: Google sends no input, every tab is imported
    assert repo.get_settings().skipped_categories == []
    spam = {"stringInputs": {"value": ["spam"]}}
    refused = addon.action("admin_policy", inputs={**policy, "skipped_categories": spam})
    assert "Gmail tabs are promotions, social, forums, updates." in texts(card_of(refused))
    assert repo.get_settings().skipped_categories == []
