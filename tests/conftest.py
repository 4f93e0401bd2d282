"""Shared fixtures: the real Firestore emulator for the whole session, a clean project per test."""

from __future__ import annotations

import uuid

import pytest

from devtools.firestore_emulator import FirestoreEmulator, group_alive
from devtools.pubsub_emulator import PubSubEmulator
from models.repository import Repository, connect

TENANT = "example.com"


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory):
    """One emulator for the run, in its own process group; the group must be gone afterwards."""
    emulator = FirestoreEmulator(log_path=tmp_path_factory.mktemp("firestore") / "emulator.log").start()
    pgid = emulator.process.pid
    try:
        yield emulator
    finally:
        emulator.stop()
        assert not group_alive(pgid), f"the emulator's process group {pgid} is still running"


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory):
    """The Pub/Sub emulator, started for the first test that asks for it; its group must be gone afterwards."""
    emulator = PubSubEmulator(log_path=tmp_path_factory.mktemp("pubsub") / "emulator.log").start()
    pgid = emulator.process.pid
    try:
        yield emulator
    finally:
        emulator.stop()
        assert not group_alive(pgid), f"the Pub/Sub emulator's process group {pgid} is still running"


@pytest.fixture
def project_id() -> str:
    """A fresh project per test: the emulator keeps projects apart, so each test starts empty."""
    return f"sidecar-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def firestore_client(firestore_emulator, project_id):
    client = connect(project_id, emulator_host=firestore_emulator.host)
    yield client
    client.close()


@pytest.fixture
def repo(firestore_client) -> Repository:
    return Repository(firestore_client, TENANT)


@pytest.fixture(autouse=True)
def _no_ambient_google_credentials(monkeypatch):
    """Tests never pick up a developer's own Google credentials by accident."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
