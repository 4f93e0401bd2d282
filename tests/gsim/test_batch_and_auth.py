"""Batches, the token endpoint, ID tokens and the Directory, with the real libraries."""

from __future__ import annotations

import json

import google.auth.transport.requests
import pytest
import requests
from google.auth.exceptions import RefreshError
from google.oauth2 import id_token
from googleapiclient.errors import HttpError

import google_clients
from gsim import tokens

from .helpers import error_body, list_all


def message_ids(gmail, count):
    ids = [m["id"] for m in gmail.users().messages().list(userId="me", maxResults=500).execute()["messages"]]
    return (ids * (count // len(ids) + 1))[:count]


def test_a_50_call_batch_returns_50_parts(simulator, gmail):
    results = {}
    batch = google_clients.new_batch(
        "gmail", simulator.url, callback=lambda rid, resp, exc: results.update({rid: (resp, exc)})
    )
    ids = message_ids(gmail, 50)
    for message_id in ids:
        batch.add(gmail.users().messages().get(userId="me", id=message_id, format="metadata", metadataHeaders=["From"]))
    batch.execute()
    assert len(results) == 50
    assert [results[str(i + 1)][0]["id"] for i in range(50)] == ids
    assert simulator.counters()["batches"] == 1
    assert simulator.counters()["by_method"]["gmail.users.messages.get"]["units"] == 250


def test_a_batch_reports_failures_part_by_part(simulator, gmail):
    results = {}
    batch = google_clients.new_batch("gmail", simulator.url, callback=lambda rid, resp, exc: results.update({rid: exc}))
    batch.add(gmail.users().messages().get(userId="me", id=message_ids(gmail, 1)[0]))
    batch.add(gmail.users().messages().get(userId="me", id="18c0000000000000"))
    batch.execute()
    assert results["1"] is None
    assert results["2"].status_code == 404
    assert error_body(results["2"])["errors"][0]["reason"] == "notFound"


def test_a_101_call_batch_is_refused(simulator, gmail):
    batch = google_clients.new_batch("gmail", simulator.url)
    for message_id in message_ids(gmail, 101):
        batch.add(gmail.users().messages().get(userId="me", id=message_id))
    with pytest.raises(HttpError) as refused:
        batch.execute()
    assert refused.value.status_code == 400
    assert "Received: 101, Limit: 100" in error_body(refused.value)["message"]


def test_calendar_batches_go_to_the_calendar_batch_path(simulator, calendar):
    found = []
    batch = google_clients.new_batch("calendar", simulator.url, callback=lambda rid, resp, exc: found.append(resp))
    batch.add(calendar.events().list(calendarId="primary", maxResults=5))
    batch.add(calendar.events().list(calendarId="primary", maxResults=5, singleEvents=True))
    batch.execute()
    assert [len(page["items"]) for page in found] == [5, 5]


def test_a_revoked_user_gets_invalid_grant(simulator, key_file, rep, gmail):
    gmail.users().getProfile(userId="me").execute()
    simulator.revoke(rep)
    with pytest.raises(RefreshError) as refused:  # the old token gets 401, the refresh is refused
        gmail.users().getProfile(userId="me").execute()
    assert "invalid_grant" in str(refused.value)
    stranger = google_clients.delegated_credentials(key_file, "nobody@example.com", google_clients.GMAIL_SCOPES)
    with pytest.raises(RefreshError, match="invalid_grant"):
        stranger.refresh(google.auth.transport.requests.Request())


def test_scopes_the_admin_did_not_grant_are_refused(simulator, key_file, rep):
    simulator.grant_scopes(google_clients.CALENDAR_SCOPES)
    credentials = google_clients.delegated_credentials(key_file, rep, google_clients.GMAIL_SCOPES)
    with pytest.raises(RefreshError, match="unauthorized_client"):
        credentials.refresh(google.auth.transport.requests.Request())


def test_a_forged_key_is_refused(simulator, key_file, rep, tmp_path):
    info = json.loads(open(key_file).read())
    info["private_key"] = tokens.KeyPair().private_pem()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(info))
    credentials = google_clients.delegated_credentials(str(forged), rep, google_clients.GMAIL_SCOPES)
    with pytest.raises(RefreshError, match="invalid_grant"):
        credentials.refresh(google.auth.transport.requests.Request())


def test_a_token_without_the_method_scope_gets_403(simulator, key_file, rep):
    credentials = google_clients.delegated_credentials(key_file, rep, google_clients.CALENDAR_SCOPES)
    gmail = google_clients.build_service("gmail", "v1", credentials, simulator.url)
    with pytest.raises(HttpError) as refused:
        gmail.users().getProfile(userId="me").execute()
    assert refused.value.status_code == 403
    assert error_body(refused.value)["errors"][0]["reason"] == "insufficientPermissions"


def test_id_tokens_verify_against_the_served_certs(simulator):
    request = google.auth.transport.requests.Request()
    audience = "https://sidecar.example.com/addon/homepage"
    system = simulator.sign_id_token(audience=audience)
    claims = id_token.verify_token(system, request, audience=audience, certs_url=simulator.certs_url)
    assert claims["iss"] == "https://accounts.google.com" and claims["email_verified"] is True
    assert claims["email"] == simulator.addon_service_account
    user = simulator.sign_id_token(
        audience="client-id.apps.googleusercontent.com", email=simulator.reps[0], hd="example.com"
    )
    claims = id_token.verify_token(
        user, request, audience="client-id.apps.googleusercontent.com", certs_url=simulator.certs_url
    )
    assert claims["hd"] == "example.com" and claims["email"] == simulator.reps[0]
    certs = requests.get(simulator.certs_url, timeout=5)
    assert "max-age=" in certs.headers["Cache-Control"]
    assert all(pem.startswith("-----BEGIN CERTIFICATE-----") for pem in certs.json().values())
    expired = simulator.sign_id_token(audience=audience, expires_in=-600)
    with pytest.raises(ValueError, match="expired|Token used too late"):
        id_token.verify_token(
            expired, request, audience=audience, certs_url=simulator.certs_url, clock_skew_in_seconds=0
        )


def test_directory_lists_users_by_customer_or_domain_in_pages(simulator, directory, key_file):
    pages = list_all(directory.users().list, customer="my_customer", maxResults=2)
    emails = [u["primaryEmail"] for page in pages for u in page["users"]]
    assert len(pages) > 1 and set(simulator.reps) | {simulator.admin} <= set(emails)
    by_domain = directory.users().list(domain="example.com", maxResults=500).execute()
    assert [u["primaryEmail"] for u in by_domain["users"]] == emails
    rep_credentials = google_clients.delegated_credentials(key_file, simulator.reps[0], google_clients.DIRECTORY_SCOPES)
    not_admin = google_clients.build_service("admin", "directory_v1", rep_credentials, simulator.url)
    with pytest.raises(HttpError) as refused:
        not_admin.users().list(customer="my_customer").execute()
    assert refused.value.status_code == 403
