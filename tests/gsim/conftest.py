"""Fixtures for the simulator's own tests: a small seeded Workspace on a free port."""

from __future__ import annotations

import datetime as dt

import pytest

import google_clients
from gsim import Simulator

ANCHOR = dt.datetime(2025, 3, 3, tzinfo=dt.UTC)  # a fixed "today": same seed, same data


@pytest.fixture
def quota_profile() -> str:
    """The prices the first tests were written against; a test of another profile parametrizes this."""
    return "legacy"


@pytest.fixture
def simulator(quota_profile):
    """A fresh simulator per test (mutations and knobs never leak between tests)."""
    sim = Simulator(seed=11, reps=3, companies=6, messages=120, events=20, now=ANCHOR,
                    quota_profile=quota_profile).start()
    yield sim
    sim.stop()


@pytest.fixture
def key_file(simulator, tmp_path):
    return str(simulator.write_service_account_key(tmp_path / "sa.json"))


@pytest.fixture
def rep(simulator) -> str:
    return simulator.reps[0]


@pytest.fixture
def gmail(simulator, key_file, rep):
    credentials = google_clients.delegated_credentials(key_file, rep, google_clients.GMAIL_SCOPES)
    return google_clients.build_service("gmail", "v1", credentials, simulator.url)


@pytest.fixture
def calendar(simulator, key_file, rep):
    credentials = google_clients.delegated_credentials(key_file, rep, google_clients.CALENDAR_SCOPES)
    return google_clients.build_service("calendar", "v3", credentials, simulator.url)


@pytest.fixture
def directory(simulator, key_file):
    credentials = google_clients.delegated_credentials(key_file, simulator.admin, google_clients.DIRECTORY_SCOPES)
    return google_clients.build_service("admin", "directory_v1", credentials, simulator.url)
