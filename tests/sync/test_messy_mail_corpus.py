"""Issue #16, acceptance 1: the labelled corpus through `python -m sync once` and `python -m models export`.

Every case of corpus_messy_mail.txt is one message or meeting in rep A's mailbox; the test asserts
each create/skip decision, each name and each company against its label, that the punycode spelling
of a domain lands on the same contact, that nothing unlabelled became a contact or a company, and
prints the accuracy per family (run with -s to see it on success).
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import pytest

from gsim import Simulator
from models.domain import Settings
from tests.sync.messy_mail_corpus import load_cases, seed

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "corpus.example"
SETTINGS = Settings(auto_create="all", internal_domains=["corpus-labs.example"],
                    machine_addresses=["*-bot@*", "crm-drop@ledger-tools.example", "autotrack.example"],
                    free_mail_domains=["familia-post.example"])
ALIAS = "a.desk@rep-desk.example"  # rep A's send-as alias
COMPANY_NAMES = {"müller-bau.de": "Müller Bau", "acme-store.myshopify.com": "Acme Store",
                 "foxcorp.onmicrosoft.com": "Foxcorp", "hart-group.co.uk": "Hart Group",
                 "bjørnøya-fisk.no": "Bjørnøya Fisk", "пример-завод.рф": "Пример Завод"}
SUBPROCESS_TIMEOUT_SECONDS = 300


@pytest.fixture
def simulator():
    """Two synced reps and two teammates who are not synced; no generated mail, only the corpus."""
    sim = Simulator(seed=16, domain=DOMAIN, reps=2, companies=1, messages=0, events=0)
    sim.world.users[sim.reps[0]].send_as.append(ALIAS)
    for event_id in list(sim.world.events):  # the generator's welcome meeting with a seeded company
        for calendar in sim.world.calendars_of(sim.world.events.pop(event_id)):
            calendar.event_ids.discard(event_id)
    sim.start()
    yield sim
    sim.stop()


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=SUBPROCESS_TIMEOUT_SECONDS)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_every_labelled_case_is_decided_named_and_filed_as_labelled(simulator, tenant_repo, sync_env):
    cases = load_cases()
    rep = simulator.reps[0]
    teammate = sorted(u for u in simulator.world.users if u not in simulator.reps and u != simulator.admin)[0]
    made = seed(simulator, cases, rep, teammate, dt.datetime.now(dt.timezone.utc))
    assert len(cases) >= 300 and made >= 300
    tenant_repo.save_settings(SETTINGS)

    run(["sync", "once"], sync_env)
    contacts = list(csv.DictReader(io.StringIO(run(["models", "export", "contacts", "--tenant", DOMAIN], sync_env))))
    companies = {row["Company Domain Name"]: row["Company Name"] for row in csv.DictReader(
        io.StringIO(run(["models", "export", "companies", "--tenant", DOMAIN], sync_env)))}

    by_email = {email: row for row in contacts for email in row["Emails"].split("; ")}
    results: dict[str, list[bool]] = collections.defaultdict(list)
    wrong = []
    for case in cases:
        row = by_email.get(case.address)
        if case.expected is None:
            got, want = (row is not None and "contact"), False
        else:
            want = (case.expected.first, case.expected.middle, case.expected.last, case.expected.company or "")
            got = row and (row["First Name"], row["Middle Name"], row["Last Name"], row["Company Domain"])
        results[case.family].append(got == want)
        if got != want:
            wrong.append(f"line {case.line} [{case.family}] {case.headers[0]!r}: got {got!r}, want {want!r}")

    for family, marks in results.items():
        print(f"corpus family={family} right={sum(marks)}/{len(marks)} accuracy={sum(marks) / len(marks):.0%}")
    total = [m for marks in results.values() for m in marks]
    print(f"corpus all right={sum(total)}/{len(total)} accuracy={sum(total) / len(total):.0%}")
    assert not wrong, "\n".join(wrong)

    labelled = {c.address for c in cases if c.expected is not None}
    assert set(by_email) == labelled  # nothing unlabelled became a contact, and no punycode twin
    assert set(companies) == {c.expected.company for c in cases if c.expected and c.expected.company}
    assert {d: companies[d] for d in COMPANY_NAMES} == COMPANY_NAMES
    flagged = [(row["Emails"], row["Moved To Email"]) for row in contacts if row["Job Change"]]
    assert flagged == []  # every name in the corpus is one person's
