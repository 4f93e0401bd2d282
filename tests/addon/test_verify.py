"""Every /addon/ request proves it comes from Google, for a rep of the tenant it reads (SPEC §5, §9)."""

from __future__ import annotations

import logging
import time

import pytest

from gsim.tokens import IdTokenSigner
from tests.addon.conftest import CLIENT_ID, PUBLIC_URL, card_of, seed_contact, texts

HOME = "/addon/homepage"


def test_a_google_signed_request_gets_a_card(addon):
    card = card_of(addon.post(HOME))
    assert card["name"] == "home"


def test_a_forged_signature_is_refused(addon, google):
    forger = IdTokenSigner()  # a key Google never published, same kid-less shape
    forger.keys[0].kid = google.id_tokens.current.kid  # even claiming Google's key id
    forged = forger.sign(PUBLIC_URL + HOME, google.addon_service_account)
    response = addon.post(HOME, system_token=forged)
    assert response.status_code == 401
    assert response.get_json() == {"error": "unauthorized"}


def test_a_forged_user_token_is_refused(addon, google, rep):
    forged = IdTokenSigner().sign(CLIENT_ID, rep, hd="example.com")
    assert addon.post(HOME, user_token=forged).status_code == 401


def test_an_expired_token_is_refused(addon):
    expired = addon.system_token(HOME, expires_in=-600, issued_at=int(time.time()) - 4000)
    assert addon.post(HOME, system_token=expired).status_code == 401
    assert addon.post(HOME, user_token=addon.user_token(expires_in=-600,
                                                        issued_at=int(time.time()) - 4000)).status_code == 401


def test_a_token_for_another_endpoint_or_audience_is_refused(addon, google):
    assert addon.post(HOME, system_token=addon.system_token("/addon/gmail/message")).status_code == 401
    assert addon.post(HOME, system_token=google.sign_id_token("https://evil.example" + HOME)).status_code == 401
    wrong_client = google.sign_id_token("another-client.apps.googleusercontent.com", email=addon.rep,
                                        hd="example.com")
    assert addon.post(HOME, user_token=wrong_client).status_code == 401


def test_a_system_token_of_another_service_account_is_refused(addon, google):
    other = google.sign_id_token(PUBLIC_URL + HOME, email="someone@gcp-sa-gsuiteaddons.iam.gserviceaccount.com")
    assert addon.post(HOME, system_token=other).status_code == 401
    unverified = addon.system_token(HOME, email_verified=False)
    assert addon.post(HOME, system_token=unverified).status_code == 401


def test_a_token_from_another_issuer_is_refused(addon):
    assert addon.post(HOME, system_token=addon.system_token(HOME, iss="https://evil.example")).status_code == 401


def test_missing_tokens_are_refused(addon):
    body = addon.event()
    del body["authorizationEventObject"]
    assert addon.post(HOME, body=body).status_code == 401
    body = addon.event()
    del body["authorizationEventObject"]["userIdToken"]
    assert addon.post(HOME, body=body).status_code == 401
    response = addon.client.post(HOME, json=addon.event())  # no Authorization header
    assert response.status_code == 401


def test_a_consumer_account_without_a_domain_is_refused(addon):
    assert addon.post(HOME, user_token=addon.user_token(rep="someone@gmail.com", hd=None)).status_code == 401


def test_a_rep_of_another_tenant_cannot_read_this_tenants_contact(addon, repo):
    jane = seed_contact(repo, "jane@acme.com")
    outsider = addon.user_token(rep="mallory@other.test", hd="other.test")
    response = addon.action("open_contact", params={"contact_id": jane.id}, user_token=outsider)
    card = card_of(response)
    assert "jane@acme.com" not in texts(card) and "Jane" not in texts(card)
    assert card["name"] == "not_found"


def test_certificates_are_fetched_once_and_cached(addon, app):
    for _ in range(3):
        assert addon.post(HOME).status_code == 200
    assert app.extensions["sidecar_addon"]["verifier"].certs.fetches == 1


def test_a_rotated_google_key_is_picked_up(addon, google, app):
    assert addon.post(HOME).status_code == 200
    google.rotate_signing_key()
    cache = app.extensions["sidecar_addon"]["verifier"].certs
    cache._fetched_at -= 60  # the early-refetch guard has passed
    assert addon.post(HOME).status_code == 200
    assert cache.fetches == 2


@pytest.mark.parametrize("path", [HOME, "/addon/action/search", "/addon/gmail/message"])
def test_no_log_line_holds_a_token(addon, caplog, path, rep):
    caplog.set_level(logging.DEBUG)
    body = addon.event(params={"x": "1"}, inputs={"query": "ja"},
                       gmail={"messageId": "msg-f:1", "accessToken": "gmail-access-secret"},
                       oauth_token="ya29.secret-oauth-token")
    user_token = body["authorizationEventObject"]["userIdToken"]
    system_token = addon.system_token(path)
    addon.post(path, body=body, system_token=system_token)
    addon.post(path, body=body, system_token=system_token + "x")  # refused: logged with a reason
    logged = caplog.text
    assert caplog.records, "requests are logged"
    for secret in (user_token, system_token, "ya29.secret-oauth-token", "gmail-access-secret",
                   *user_token.split("."), *system_token.split("."), "authorizationEventObject"):
        assert secret not in logged
