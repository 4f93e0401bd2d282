"""The simulator enforces the quota profile it is started with: per user, per project, per day."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

import google_clients
import quotas
from gsim import Simulator
from gsim.quota import Quota

from .conftest import ANCHOR
from .helpers import error_body


def gmail_for(simulator, key_file, mailbox):
    credentials = google_clients.delegated_credentials(key_file, mailbox, google_clients.GMAIL_SCOPES)
    return google_clients.build_service("gmail", "v1", credentials, simulator.url)


@pytest.mark.parametrize("quota_profile", ["2026"])
def test_the_2026_profile_prices_a_message_get_at_20_and_a_thread_get_at_40(simulator, gmail):
    message = gmail.users().messages().list(userId="me", maxResults=1).execute()["messages"][0]
    gmail.users().messages().get(userId="me", id=message["id"], format="minimal").execute()
    gmail.users().threads().list(userId="me", maxResults=1).execute()
    gmail.users().threads().get(userId="me", id=message["threadId"], format="minimal").execute()
    units = {name: c["units"] for name, c in simulator.counters()["by_method"].items()}
    assert units == {"gmail.users.messages.list": 5, "gmail.users.messages.get": 20,
                     "gmail.users.threads.list": 10, "gmail.users.threads.get": 40}


def test_the_legacy_profile_prices_a_message_get_at_5(simulator, gmail):
    message = gmail.users().messages().list(userId="me", maxResults=1).execute()["messages"][0]
    gmail.users().messages().get(userId="me", id=message["id"], format="minimal").execute()
    assert simulator.counters()["by_method"]["gmail.users.messages.get"]["units"] == 5


def test_every_unit_cost_comes_from_the_profile():
    assert Quota("2026").budgets["gmail"] == 6_000
    assert Quota("legacy").budgets["gmail"] == 15_000
    assert Quota("2026").project_budgets["gmail"] == 1_200_000
    assert Quota("2026").daily_budgets == {"gmail": 80_000_000, "calendar": 1_000_000, "directory": 0}
    assert Quota("legacy").units("gmail.users.messages.get") == quotas.profile("legacy").units(
        "gmail.users.messages.get") == 5
    assert Quota("2026").units("calendar.events.list") == 1
    with pytest.raises(ValueError, match="2026, legacy"):
        quotas.profile("2025")


def test_over_the_users_budget_answers_429_and_other_users_go_on(simulator, gmail, key_file):
    simulator.set_quota(units_per_minute=10)  # two messages.list at 5 units
    for _ in range(2):
        gmail.users().messages().list(userId="me", maxResults=1).execute()
    with pytest.raises(HttpError) as limited:
        gmail.users().messages().list(userId="me", maxResults=1).execute()
    assert limited.value.status_code == 429
    assert error_body(limited.value)["errors"][0]["reason"] == "rateLimitExceeded"
    gmail_for(simulator, key_file, simulator.reps[1]).users().messages().list(userId="me", maxResults=1).execute()


def test_over_the_projects_budget_every_user_is_refused_with_the_project_message(simulator, gmail, key_file):
    simulator.set_quota(per_project_minute=10)  # the whole project: two messages.list
    other = gmail_for(simulator, key_file, simulator.reps[1])
    gmail.users().messages().list(userId="me", maxResults=1).execute()
    other.users().messages().list(userId="me", maxResults=1).execute()
    with pytest.raises(HttpError) as limited:
        other.users().messages().list(userId="me", maxResults=1).execute()
    assert limited.value.status_code == 429
    body = error_body(limited.value)
    assert body["errors"][0] == {"message": body["message"], "domain": "usageLimits", "reason": "rateLimitExceeded"}
    assert body["message"].startswith("Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' "
                                      "of service 'gmail.googleapis.com' for consumer 'project_number:")
    assert body["status"] == "RESOURCE_EXHAUSTED"
    assert simulator.counters()["by_method"]["gmail.users.messages.list"]["rate_limited"] == 1


def test_the_403_variant_of_the_project_limit_says_rate_limit_exceeded(simulator, gmail):
    simulator.set_quota(per_project_minute=5, error_status=403)
    gmail.users().messages().list(userId="me", maxResults=1).execute()
    with pytest.raises(HttpError) as limited:
        gmail.users().messages().list(userId="me", maxResults=1).execute()
    assert limited.value.status_code == 403
    assert error_body(limited.value) == {
        "code": 403, "message": "Rate Limit Exceeded", "status": "PERMISSION_DENIED",
        "errors": [{"message": "Rate Limit Exceeded", "domain": "usageLimits", "reason": "rateLimitExceeded"}]}


def test_over_the_daily_threshold_answers_403_daily_limit_exceeded(simulator, gmail, key_file):
    simulator.set_quota(per_day=11)  # getProfile 1 + two messages.list at 5
    gmail.users().getProfile(userId="me").execute()
    gmail.users().messages().list(userId="me", maxResults=1).execute()
    gmail_for(simulator, key_file, simulator.reps[2]).users().messages().list(userId="me", maxResults=1).execute()
    with pytest.raises(HttpError) as limited:
        gmail.users().getProfile(userId="me").execute()
    assert limited.value.status_code == 403
    assert error_body(limited.value) == {
        "code": 403, "message": "Daily Limit Exceeded", "status": "PERMISSION_DENIED",
        "errors": [{"message": "Daily Limit Exceeded", "domain": "usageLimits", "reason": "dailyLimitExceeded"}]}
    assert simulator.quota.used_today("gmail") == 11


def test_the_daily_count_starts_again_at_midnight_pacific():
    now = [1_700_000_000.0]  # 2023-11-14 14:13 PST
    quota = Quota(quotas.profile("2026").scaled(gmail_units_per_project_day=20), wall_clock=lambda: now[0])
    quota.charge("gmail", "a@example.com", 20)
    with pytest.raises(Exception, match="Daily Limit Exceeded"):
        quota.charge("gmail", "b@example.com", 1)
    now[0] += 12 * 3600  # past midnight in California
    quota.charge("gmail", "b@example.com", 20)


def test_calendar_is_metered_in_requests_per_user_and_per_project(simulator, calendar):
    simulator.set_quota(units_per_minute=2, api="calendar")
    for _ in range(2):
        calendar.events().list(calendarId="primary", maxResults=1).execute()
    with pytest.raises(HttpError) as limited:
        calendar.events().list(calendarId="primary", maxResults=1).execute()
    assert limited.value.status_code == 429
    assert "status" not in error_body(limited.value)  # Calendar's front end writes no status

    simulator.set_quota(units_per_minute=600, per_project_minute=1, api="calendar")
    calendar.events().list(calendarId="primary", maxResults=1).execute()
    with pytest.raises(HttpError) as project:
        calendar.events().list(calendarId="primary", maxResults=1).execute()
    assert "calendar-json.googleapis.com" in error_body(project.value)["message"]


def test_a_shorter_window_lets_a_test_see_the_budget_come_back():
    clock = [0.0]
    quota = Quota("2026", clock=lambda: clock[0], window_seconds=2.0)
    quota.set_budget(20)
    quota.charge("gmail", "a@example.com", 20)
    with pytest.raises(Exception, match="exhausted"):
        quota.charge("gmail", "a@example.com", 20)
    clock[0] = 2.0
    quota.charge("gmail", "a@example.com", 20)


def test_the_simulator_starts_with_the_profile_it_is_given():
    with Simulator(seed=1, reps=1, companies=1, messages=5, events=1, now=ANCHOR, quota_profile="legacy",
                   quota_units_per_minute=900) as sim:
        assert sim.quota.profile.name == "legacy"
        assert sim.quota.budgets["gmail"] == 900
        assert sim.quota.units("gmail.users.messages.get") == 5
