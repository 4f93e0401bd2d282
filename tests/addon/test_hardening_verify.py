"""Hostile tokens are refused with 401, before any signature check, and never reach the log (issue #12.6)."""

from __future__ import annotations

import logging
import time

import pytest

from tests.addon.conftest import card_of
from tests.addon.hostile import claims_of, signed_with_header, tracebacks

HOME = "/addon/homepage"
FORGED_LINE = "addon ok path=/addon/admin rep=ceo@example.com"


@pytest.mark.parametrize("kid", [[], {}, 7, "", "k" * 200, "abc\n" + FORGED_LINE])
@pytest.mark.parametrize("which", ["system", "user"])
def test_a_crafted_key_id_is_a_401_without_a_traceback_or_a_forged_line(addon, google, caplog, kid, which):
    caplog.set_level(logging.DEBUG)
    good = addon.system_token(HOME) if which == "system" else addon.user_token()
    hostile = signed_with_header(google, {"alg": "RS256", "kid": kid, "typ": "JWT"}, claims_of(good))
    sent = {"system_token": hostile} if which == "system" else {"user_token": hostile}
    response = addon.post(HOME, **sent)
    assert response.status_code == 401
    assert response.get_json() == {"error": "unauthorized"}
    assert tracebacks(caplog.records) == []
    assert all("\n" not in r.getMessage() and "ceo@" not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("claim", ["exp", "iat"])
@pytest.mark.parametrize("value", [None, "soon", True, [1], {"n": 1}])
def test_a_time_claim_that_is_not_a_number_is_a_401(addon, caplog, claim, value):
    caplog.set_level(logging.DEBUG)
    assert addon.post(HOME, user_token=addon.user_token(**{claim: value})).status_code == 401
    assert addon.post(HOME, system_token=addon.system_token(HOME, **{claim: value})).status_code == 401
    assert tracebacks(caplog.records) == []


def test_a_token_not_valid_yet_is_refused(addon):
    later = int(time.time()) + 600
    assert addon.post(HOME, user_token=addon.user_token(nbf=later)).status_code == 401
    assert addon.post(HOME, system_token=addon.system_token(HOME, nbf=later)).status_code == 401


def test_nbf_allows_the_same_clock_skew_as_exp(addon):
    nearly = int(time.time()) + 10
    card_of(addon.post(HOME, user_token=addon.user_token(nbf=nearly),
                       system_token=addon.system_token(HOME, nbf=nearly - 5)))


def test_an_audience_holding_a_newline_is_refused_without_logging_it(addon, caplog):
    caplog.set_level(logging.DEBUG)
    response = addon.post(HOME, system_token=addon.system_token(HOME, aud="x\n" + FORGED_LINE))
    assert response.status_code == 401
    assert all("ceo@" not in r.getMessage() for r in caplog.records)
