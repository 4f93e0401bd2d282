"""Fixtures for sync's tests: a small seeded team in the simulator, and Services wired to it and the emulator."""

from __future__ import annotations

import threading
import uuid

import pytest

from config import PubSubConfig
from gsim import Simulator
from models.repository import Repository
from sync.pubsub import Queue
from sync.runner import SyncRun
from tests.sync.helpers import snapshot
from wiring import Services

TEAM_SIZE = dict(seed=7, reps=3, companies=6, messages=60, events=12, days=300, thread_mix="classic")
# The seeded mailboxes are small: groups and chunks scaled down with them, so every test runs the
# fetch-ahead thread over several groups and several chunk commits in flight, as a full-size sync does.
SMALL_FETCH_GROUP = 16
SMALL_CHUNK_WRITES = 40
# A process killed mid-sync holds its mailboxes' leases this long: a rerun waits it out.
SHORT_LEASE_TTL_SECONDS = 6
SMALL_BATCHES_ARGS = ["--fetch-group", str(SMALL_FETCH_GROUP), "--chunk-writes", str(SMALL_CHUNK_WRITES),
                      "--lease-ttl", str(SHORT_LEASE_TTL_SECONDS)]


def sync_run(services: Services, stop: threading.Event | None = None) -> SyncRun:
    """A pass wired from `services` as `python -m sync` wires it, with the small groups and chunks."""
    return SyncRun(services.repository, services.google_service, services.config, stop,
                   fetch_group=SMALL_FETCH_GROUP, chunk_writes_max=SMALL_CHUNK_WRITES,
                   lease_ttl_seconds=SHORT_LEASE_TTL_SECONDS)


@pytest.fixture
def simulator():
    """A fresh seeded Workspace per test (its knobs and mutations never leak)."""
    sim = Simulator(**TEAM_SIZE).start()
    yield sim
    sim.stop()


@pytest.fixture
def key_file(simulator, tmp_path):
    return str(simulator.write_service_account_key(tmp_path / "sa.json"))


@pytest.fixture
def sync_config(simulator, key_file, firestore_emulator, project_id) -> dict:
    return {
        "google_cloud_project": project_id,
        "firestore_emulator_host": firestore_emulator.host,
        "google_api_root": simulator.url,
        "google_application_credentials": key_file,
        "users": tuple(simulator.reps),
        "admin_email": simulator.admin,
    }


@pytest.fixture
def services(sync_config):
    services = Services(sync_config)
    yield services
    services.close()


@pytest.fixture
def tenant_repo(services, simulator) -> Repository:
    return services.repository(simulator.domain)


@pytest.fixture
def sync_env(sync_config) -> dict[str, str]:
    """The same wiring as environment variables, for `python -m sync` in a subprocess."""
    return {
        "GOOGLE_CLOUD_PROJECT": sync_config["google_cloud_project"],
        "FIRESTORE_EMULATOR_HOST": sync_config["firestore_emulator_host"],
        "SIDECAR_GOOGLE_API_ROOT": sync_config["google_api_root"],
        "GOOGLE_APPLICATION_CREDENTIALS": sync_config["google_application_credentials"],
        "SIDECAR_USERS": ",".join(sync_config["users"]),
    }


@pytest.fixture
def twin(firestore_emulator, tmp_path):
    """The same seeded world in a second simulator and an empty second project: the fault-free reference."""
    sim = Simulator(**TEAM_SIZE).start()
    config = {"google_cloud_project": f"sidecar-twin-{uuid.uuid4().hex[:8]}",
              "firestore_emulator_host": firestore_emulator.host, "google_api_root": sim.url,
              "google_application_credentials": str(sim.write_service_account_key(tmp_path / "twin.json")),
              "users": tuple(sim.reps)}
    services = Services(config)
    yield sim, services
    services.close()
    sim.stop()


def reference(twin) -> dict:
    sim, services = twin
    sync_run(services).run(sim.reps)
    return snapshot(services.repository(sim.domain))


@pytest.fixture
def queue(pubsub_emulator, project_id, monkeypatch):
    """The sync topic and its subscriptions on the Pub/Sub emulator, default settings (a module may override)."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    queue = Queue(project_id, PubSubConfig(emulator_host=pubsub_emulator.host, sync_topic="sidecar-sync"))
    queue.setup()
    yield queue
    queue.close()
