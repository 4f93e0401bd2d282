"""Quota enforcement with Google's per-method units, injected faults, counters."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

from .helpers import error_body


def test_a_burst_over_the_users_quota_gets_429_with_googles_body(simulator, gmail, rep):
    simulator.set_quota(units_per_minute=20)  # four messages.list calls at 5 units each
    for _ in range(4):
        gmail.users().messages().list(userId="me", maxResults=1).execute()
    with pytest.raises(HttpError) as limited:
        gmail.users().messages().list(userId="me", maxResults=1).execute()
    assert limited.value.status_code == 429
    assert error_body(limited.value) == {
        "code": 429,
        "message": "Resource has been exhausted (e.g. check quota).",
        "errors": [
            {
                "message": "Resource has been exhausted (e.g. check quota).",
                "domain": "global",
                "reason": "rateLimitExceeded",
            }
        ],
        "status": "RESOURCE_EXHAUSTED",
    }
    counters = simulator.counters()
    listed = counters["by_mailbox"][rep]["gmail.users.messages.list"]
    assert listed == {"calls": 5, "units": 20, "errors": 0, "rate_limited": 1, "fault": 0}
    assert counters["by_method"]["gmail.users.messages.list"]["units"] == 20


def test_the_quota_is_per_user(simulator, gmail, key_file):
    import google_clients

    simulator.set_quota(units_per_minute=5)
    gmail.users().messages().list(userId="me", maxResults=1).execute()
    other = google_clients.build_service(
        "gmail",
        "v1",
        google_clients.delegated_credentials(key_file, simulator.reps[1], google_clients.GMAIL_SCOPES),
        simulator.url,
    )
    other.users().messages().list(userId="me", maxResults=1).execute()
    with pytest.raises(HttpError):
        gmail.users().getProfile(userId="me").execute()


def test_the_403_variant_says_user_rate_limit_exceeded(simulator, gmail):
    simulator.set_quota(units_per_minute=1, error_status=403)
    gmail.users().getProfile(userId="me").execute()
    with pytest.raises(HttpError) as limited:
        gmail.users().getProfile(userId="me").execute()
    assert limited.value.status_code == 403
    assert error_body(limited.value)["errors"][0]["reason"] == "userRateLimitExceeded"


def test_methods_cost_googles_units(simulator, gmail):
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    gmail.users().labels().list(userId="me").execute()
    gmail.users().history().list(userId="me", startHistoryId=start).execute()
    gmail.users().watch(userId="me", body={"topicName": "projects/p/topics/t"}).execute()
    units = {name: c["units"] for name, c in simulator.counters()["by_method"].items()}
    assert units == {
        "gmail.users.getProfile": 1,
        "gmail.users.labels.list": 1,
        "gmail.users.history.list": 2,
        "gmail.users.watch": 100,
    }
    simulator.reset_counters()
    assert simulator.counters()["total"]["calls"] == 0


def test_injected_faults_fail_calls_with_googles_5xx_bodies(simulator, gmail):
    simulator.fail_next(1, status=503)
    with pytest.raises(HttpError) as unavailable:
        gmail.users().getProfile(userId="me").execute()
    assert unavailable.value.status_code == 503
    assert error_body(unavailable.value)["errors"][0]["reason"] == "backendError"
    assert gmail.users().getProfile(userId="me").execute()["emailAddress"]

    simulator.set_faults(rate=1.0, statuses=(500,))
    with pytest.raises(HttpError) as internal:
        gmail.users().getProfile(userId="me").execute()
    assert internal.value.status_code == 500
    simulator.set_faults(rate=0.0)
    assert simulator.counters()["by_method"]["gmail.users.getProfile"]["fault"] == 2
