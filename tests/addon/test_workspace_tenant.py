"""One tenant across a Workspace's domains (#15 acceptance 1): primary, secondary domain and alias.

The simulator serves a customer whose primary domain is acme-hq.test, with a
secondary domain (acme-emea.test) and an alias of the primary (acme-brand.test).
The real sync reads the Directory's domains as the admin and files every
mailbox under the primary domain; a rep on the secondary domain then opens a
card through HTTP (user token `hd` = the primary domain) and sees the history
a primary-domain rep has with a customer.
"""

from __future__ import annotations

import threading

import pytest

from addon.verify import TenantDomains
from app import create_app
from gsim import Simulator
from gsim.world import User
from sync.__main__ import sync_pass
from sync.directory import read_workspace
from tests.addon.conftest import AddonClient, app_config, card_of, texts
from wiring import Services

PRIMARY, SECONDARY, ALIAS = "acme-hq.test", "acme-emea.test", "acme-brand.test"
EMEA_REP = f"sam.emea@{SECONDARY}"
BUYER = "bea.buyer@customer-h4.test"
GMAIL = "/addon/gmail/message"


@pytest.fixture
def workspace_sim():
    sim = Simulator(seed=15, domain=PRIMARY, reps=2, companies=2, messages=6, events=1).start()
    sim.add_domain(SECONDARY)
    sim.add_domain(ALIAS, alias_of=PRIMARY)
    sim.world.add_user(User(EMEA_REP, "Sam", "Emea", title="Account Executive"))
    yield sim
    sim.stop()


@pytest.fixture
def services(workspace_sim, firestore_emulator, project_id, tmp_path):
    services = Services({
        "google_cloud_project": project_id,
        "firestore_emulator_host": firestore_emulator.host,
        "google_api_root": workspace_sim.url,
        "google_application_credentials": str(workspace_sim.write_service_account_key(tmp_path / "sa.json")),
        "admin_email": workspace_sim.admin,
    })
    yield services
    services.close()


@pytest.fixture
def synced(workspace_sim, services):
    """The HQ rep wrote to the buyer (and to colleagues on the other domains); the buyer wrote to Sam."""
    hq_rep = workspace_sim.reps[0]
    workspace_sim.add_message(hq_rep, sender=hq_rep, to=[f'"Bea Buyer" <{BUYER}>', EMEA_REP],
                              cc=[f"lee@{ALIAS}"], subject="Pricing for Customer H4")
    inbound = workspace_sim.add_message(EMEA_REP, sender=f'"Bea Buyer" <{BUYER}>', to=[EMEA_REP],
                                        subject="Question for the EMEA team")
    workspace_sim.add_message(EMEA_REP, sender=EMEA_REP, to=[f"ops@{PRIMARY}", f"desk@{ALIAS}"],
                              subject="Internal handover")
    assert sync_pass(services, threading.Event(), users=[hq_rep, EMEA_REP])
    return hq_rep, inbound


def test_the_directory_serves_the_domains_and_aliases_in_the_discovery_shapes(workspace_sim, services):
    workspace = read_workspace(workspace_sim.admin, services.google_service)

    assert workspace is not None and workspace.primary == PRIMARY
    assert set(workspace.domains) == {PRIMARY, SECONDARY, ALIAS}
    assert workspace.tenant_of(EMEA_REP) == PRIMARY and workspace.tenant_of(f"x@{ALIAS}") == PRIMARY
    assert workspace.tenant_of(BUYER) == "customer-h4.test"
    assert workspace.is_active(EMEA_REP)


def test_sync_files_every_mailbox_under_the_one_tenant(services, synced):
    hq_rep, _ = synced
    tenant = services.repository(PRIMARY)

    assert {m.email for m in tenant.list_mailboxes()} >= {hq_rep, EMEA_REP}
    assert services.repository(SECONDARY).list_mailboxes() == []
    assert {SECONDARY, ALIAS} <= set(tenant.get_settings().internal_domains)
    assert set(tenant.workspace_domains()) == {PRIMARY, SECONDARY, ALIAS}


def test_no_contact_or_company_is_made_for_any_of_the_tenants_own_domains(services, synced):
    tenant = services.repository(PRIMARY)
    own = (PRIMARY, SECONDARY, ALIAS)

    contacts = [c for c in tenant.all_contacts() if not c.merged_into]
    assert any(BUYER in c.emails for c in contacts)
    assert not [e for c in contacts for e in c.emails if e.endswith(own)]
    assert not [c for c in tenant.all_companies() if c.id in own]


def test_a_rep_on_the_secondary_domain_sees_the_teams_history_with_a_customer(
        workspace_sim, services, synced, project_id, firestore_emulator):
    hq_rep, inbound = synced
    app = create_app(app_config(project_id, firestore_emulator.host, workspace_sim))
    try:
        client = AddonClient(app.test_client(), workspace_sim, EMEA_REP)

        card = card_of(client.post(GMAIL, hd=PRIMARY, gmail={"messageId": inbound.id, "accessToken": "unused"},
                                   oauth_token="ya29.unused"))

        assert "Bea Buyer" in texts(card)
        assert "Pricing for Customer H4" in texts(card)  # the HQ rep's email, at the tenant's `subject` level
        assert "Question for the EMEA team" in texts(card)
    finally:
        app.extensions["sidecar"].close()


def test_an_address_on_no_domain_of_the_tenant_is_refused(workspace_sim, services, synced, project_id,
                                                          firestore_emulator):
    app = create_app(app_config(project_id, firestore_emulator.host, workspace_sim))
    try:
        client = AddonClient(app.test_client(), workspace_sim, "mallory@elsewhere-h4.test")
        response = client.post("/addon/homepage", hd=PRIMARY)
        assert response.status_code == 401
        ok = AddonClient(app.test_client(), workspace_sim, f"lee@{ALIAS}").post("/addon/homepage", hd=PRIMARY)
        assert ok.status_code == 200
    finally:
        app.extensions["sidecar"].close()


def test_the_tenants_domains_are_read_once_a_ttl_and_only_for_addresses_off_hd():
    now = [0.0]
    reads: list[str] = []

    def read(tenant: str) -> list[str]:
        reads.append(tenant)
        return [tenant, SECONDARY]

    domains = TenantDomains(read, clock=lambda: now[0], ttl=300)
    assert SECONDARY in domains(PRIMARY) and SECONDARY in domains(PRIMARY)
    assert reads == [PRIMARY]
    now[0] = 301
    domains(PRIMARY)
    assert reads == [PRIMARY, PRIMARY]
