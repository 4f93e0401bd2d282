"""Which mailbox syncs first does not decide a contact's name, owner or job-change flag (issue #12, point 3).

The same world, synced into separate projects one mailbox after the other in both orders and all at once,
gives the same contacts: the best name seen (a display name beats one made from the address) and the owner
with the earliest exchange, the flag on the less recently active record (`models.precedence`).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from gsim import Simulator
from sync.runner import SyncRun
from wiring import Services

WORLD = dict(seed=23, reps=2, companies=1, messages=6, events=1, days=60)
ORDERS = ("first then second", "second then first", "together", "two processes")
ROOT = Path(__file__).resolve().parents[2]
SUBPROCESS_TIMEOUT_SECONDS = 180


def add_lucas(sim: Simulator, now: dt.datetime) -> None:
    """One person two reps write to: the earlier by bare address, the later with a display name."""
    first, second = sim.reps
    sim.add_message(first, sender=first, to=["lsmith@smithco.io"], subject="Intro",
                    date=now - dt.timedelta(days=9), label_ids=["SENT"])
    sim.add_message(second, sender=second, to=["Lucas Smith <lsmith@smithco.io>"], subject="Follow-up",
                    date=now - dt.timedelta(days=2), label_ids=["SENT"])
    # one person at two companies: the second rep's address is the newer job
    sim.add_message(second, sender=second, to=["Jane Roe <jane@oldco.io>"], subject="Old job",
                    date=now - dt.timedelta(days=30), label_ids=["SENT"])
    sim.add_message(first, sender=first, to=["Jane Roe <jane.roe@newco.io>"], subject="New job",
                    date=now - dt.timedelta(days=1), label_ids=["SENT"])


@pytest.fixture
def worlds(firestore_emulator, tmp_path):
    """Three copies of one world, each with its own simulator and its own empty project."""
    made = []
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for n, order in enumerate(ORDERS):
        sim = Simulator(**WORLD).start()
        add_lucas(sim, now)
        config = {"google_cloud_project": f"sidecar-order-{uuid.uuid4().hex[:8]}",
                  "firestore_emulator_host": firestore_emulator.host, "google_api_root": sim.url,
                  "google_application_credentials": str(sim.write_service_account_key(tmp_path / f"sa{n}.json")),
                  "users": tuple(sim.reps)}
        services = Services(config)
        made.append((order, sim, services))
    yield made
    for _, sim, services in made:
        services.close()
        sim.stop()


def contacts(services: Services, domain: str) -> dict:
    repo = services.repository(domain)
    return {tuple(c.emails): (c.first_name, c.middle_name, c.last_name, c.owner, c.company_id,
                              c.last_activity_at, tuple(sorted(c.touches.items())),
                              (c.job_change or {}).get("email"), (c.job_change or {}).get("company_id"))
            for c in repo.all_contacts()}


def sync_in_two_processes(services: Services, sim: Simulator) -> None:
    """`python -m sync once --user A` and `--user B` started together against one project."""
    config = services.config
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GOOGLE_CLOUD_PROJECT": config.google_cloud_project,
           "FIRESTORE_EMULATOR_HOST": config.firestore_emulator_host, "SIDECAR_GOOGLE_API_ROOT": sim.url,
           "GOOGLE_APPLICATION_CREDENTIALS": config.google_application_credentials,
           "SIDECAR_USERS": ",".join(sim.reps)}
    processes = [subprocess.Popen([sys.executable, "-m", "sync", "once", "--user", rep], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rep in sim.reps]
    for process in processes:
        out, err = process.communicate(timeout=SUBPROCESS_TIMEOUT_SECONDS)
        assert process.returncode == 0, out + err


def test_the_same_world_synced_in_any_order_gives_the_same_contacts(worlds):
    results = {}
    for order, sim, services in worlds:
        first, second = sim.reps
        if order == "two processes":
            sync_in_two_processes(services, sim)
            results[order] = contacts(services, sim.domain)
            continue
        batches = {"first then second": [[first], [second]], "second then first": [[second], [first]],
                   "together": [[first, second]]}[order]
        for mailboxes in batches:
            run = SyncRun(services.repository, services.google_service, services.config)
            assert {r.state for r in run.run(mailboxes)} == {"ok"}
        results[order] = contacts(services, sim.domain)

    assert results["first then second"] == results["second then first"] == results["together"] \
        == results["two processes"]
    _, sim, _ = worlds[0]
    lucas = results["together"][("lsmith@smithco.io",)]
    assert lucas[:3] == ("Lucas", "", "Smith")  # the display name, whoever saw it first
    assert lucas[3] == sim.reps[0]  # the rep with the earliest exchange
    assert results["together"][("jane@oldco.io",)][-2:] == ("jane.roe@newco.io", "newco.io")  # the old job
    assert results["together"][("jane.roe@newco.io",)][-2:] == (None, None)
