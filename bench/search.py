"""Benchmark search and segments at 10,000 contacts against the emulator (issue 7, acceptance 5).

Seeds `--contacts` contacts (realistic, partly accented names at a few hundred
companies, some on free mail) through the repository's documents and the
search index, in 500-write batches with the index rows folded per prefix
document, as `models.csv_io` writes an import. Then prints:

- `repo.search` p50/p95/p99 per kind of query (name prefix, accent-free
  spelling of an accented name, full address, company name, company domain)
  and over all of them, with the largest prefix document's size;
- the home page through the full Flask stack (real RS256 tokens) for a rep
  with 5 saved segments: p50/p95/p99, and the cost of what it does not do
  (counting the 5 segments live), of opening one segment (page + count) and
  of "Refresh counts".

    .venv/bin/python -m bench.search [--contacts 10000] [--loads 300]

Measured at 10,000 contacts on a shared 2-core machine: search p95 28-29 ms
over 1,500 queries (largest prefix document 281 KiB); home page with 5
segments p50 37-51 ms, p95 54-59 ms (one batched get for settings and segments,
one get of the owner index's first shard, one batched get of the contacts shown;
no query); counting the 5 segments live as well would cost p50 1.4-1.6 s more;
opening a segment p50 289-437 ms; "Refresh counts" p50 1.1-1.5 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable

from app import create_app
from bench.common import fmt, peak_rss_mb, percentiles
from devtools.firestore_emulator import FirestoreEmulator
from gsim import Simulator
from models import segments
from models.addresses import fold
from models.domain import Company, Contact, Segment
from models.repository import FIRESTORE_BATCH_MAX, Repository, connect, contact_id_for, contact_to_doc
from models.search import SearchIndex

PUBLIC_URL = "https://sidecar.bench.test"
CLIENT_ID = "bench-client.apps.googleusercontent.com"
TENANT = "bench.example.com"
REP = "viewer@" + TENANT
COMPANIES = 300
FREE_MAIL_SHARE = 0.1  # contacts on gmail.com and the like: no company
OWNED_SHARE = 0.2  # contacts the benchmarked rep owns
NEVER_TOUCHED_SHARE = 0.3  # imported and never emailed
ACTIVITY_SPAN_DAYS = 200  # the others' last activity, spread over this many days
WARMUP = 20
FIRST = ["José", "María", "Zoë", "Jürgen", "François", "Søren", "Ana", "John", "Jane", "Robert", "Mary", "Michael",
         "Linda", "David", "Sarah", "James", "Emma", "Oliver", "Chloé", "Lucía", "Mateo", "Noah", "Liam", "Ava",
         "Mia", "Ethan", "Amelia", "Hiroshi", "Priya", "Wei", "Fatima", "Olga", "Ivan", "Björn", "Ines", "Raúl"]
LAST = ["Núñez", "García", "Müller", "Smith", "Johnson", "Brown", "Dubois", "Jørgensen", "Rossi", "Kowalski",
        "O'Neil", "Lee", "Nguyen", "Patel", "Tanaka", "Silva", "Schmidt", "Martin", "Lopez", "Anderson", "Taylor",
        "Moore", "Clark", "Lewis", "Walker", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams"]
WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Soylent", "Cyberdyne",
         "Tyrell", "Vandelay", "Massive", "Dynamic", "Aperture", "Black Mesa", "Gringotts", "Oscorp", "Nakatomi"]
STAGES = ["lead", "customer", "opportunity", "subscriber"]
TAGS = ["vip", "renewal", "champion", "event-2026", ""]


class FoldedWriter:
    """Collects a batch's search-index rows so each prefix document is written once per batch."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[object, dict]] = {}

    def set(self, ref, data: dict, merge: bool = False) -> None:
        _, folded = self.docs.setdefault(ref.path, (ref, {}))
        for field, rows in data.items():
            folded.setdefault(field, {}).update(rows)


def seed(repo: Repository, count: int, rng: random.Random) -> list[Contact]:
    companies = [Company(id=f"{fold(WORDS[n % len(WORDS)]).replace(' ', '')}-{n}.com",
                         name=f"{WORDS[n % len(WORDS)]} {n}") for n in range(COMPANIES)]
    contacts = []
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{fold(first)}.{fold(last).replace(chr(39), '')}{n}"
        company = None if rng.random() < FREE_MAIL_SHARE else rng.choice(companies)
        email = f"{local}@{company.id if company else 'gmail.com'}"
        tag = rng.choice(TAGS)
        touched = None if rng.random() < NEVER_TOUCHED_SHARE else \
            dt.datetime.now(dt.UTC) - dt.timedelta(days=rng.uniform(0, ACTIVITY_SPAN_DAYS))
        contacts.append(Contact(id=contact_id_for(email), emails=[email], first_name=first, last_name=last,
                                company_id=company.id if company else None, tags=[tag] if tag else [],
                                lifecycle_stage=rng.choice(STAGES), source="import", last_activity_at=touched,
                                owner=REP if rng.random() < OWNED_SHARE else f"other{n % 7}@{TENANT}"))
    index = SearchIndex(repo.root)
    members: dict[str, list[str]] = {}
    for contact in contacts:
        if contact.company_id:
            members.setdefault(contact.company_id, []).append(contact.id)
    per_batch = FIRESTORE_BATCH_MAX // 4  # contact, address, and room for the folded prefix documents
    units = [("company", c) for c in companies] + [("contact", c) for c in contacts]
    for start in range(0, len(units), per_batch):
        batch, folded = repo.client.batch(), FoldedWriter()
        for kind, item in units[start:start + per_batch]:
            if kind == "company":
                batch.set(repo.company_ref(item.id), {"name": item.name, "custom": {},
                                                      "contact_ids": members.get(item.id, [])[:25]})
                index.index_company(folded, item)
            else:
                batch.set(repo.contact_ref(item.id), contact_to_doc(item))
                batch.set(repo.email_ref(item.primary_email), {"contact_id": item.id,
                                                               "domain": item.primary_email.split("@")[1]})
                index.index_contact(folded, item)
        for ref, data in folded.docs.values():
            batch.set(ref, data, merge=True)
        batch.commit()
    return contacts


def queries(contacts: list[Contact], rng: random.Random) -> dict[str, list[str]]:
    sample = rng.sample(contacts, 60)
    with_company = [c for c in sample if c.company_id]
    return {
        "name prefix": [c.first_name[:3] for c in sample] + [f"{c.first_name} {c.last_name[:2]}" for c in sample],
        "accent-free": [fold(c.last_name)[:5] for c in sample if fold(c.last_name) != c.last_name.lower()]
                       or ["nunez", "muller", "jose"],
        "email": [c.primary_email for c in sample],
        "company name": [f"{WORDS[int(c.company_id.split('-')[-1].split('.')[0]) % len(WORDS)]}"
                         for c in with_company],
        "domain": [c.company_id for c in with_company],
    }


def timed(fn: Callable[[], object], loads: int) -> dict[str, float]:
    samples = []
    for _ in range(loads):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples) if len(samples) > 1 else {"once": samples[0]}


def bench_search(repo: Repository, contacts: list[Contact], loads: int, rng: random.Random) -> None:
    kinds = queries(contacts, rng)
    for words in kinds.values():
        for text in words[:WARMUP]:
            assert repo.search(text), text
    everything = []
    for kind, words in kinds.items():
        samples = []
        for n in range(loads):
            text = words[n % len(words)]
            start = time.perf_counter()
            hits = repo.search(text)
            samples.append((time.perf_counter() - start) * 1000)
            assert hits, text
        everything += samples
        print(f"search {kind:13s} {fmt(percentiles(samples))}")
    print(f"search all           {fmt(percentiles(everything))} over {len(everything)} queries")
    sizes = [len(json.dumps(s.to_dict(), ensure_ascii=False).encode()) for s in
             repo.root.collection("search").stream()]
    print(f"search index: {len(sizes)} prefix documents, largest {max(sizes) / 1024:.0f} KiB "
          f"(Firestore's limit is 1 MiB)")


def bench_home(emulator, google, project: str, loads: int) -> None:
    app = create_app({"google_cloud_project": project, "firestore_emulator_host": emulator.host,
                      "public_url": PUBLIC_URL, "addon_service_account": google.addon_service_account,
                      "oauth_client_id": CLIENT_ID, "google_certs_url": google.certs_url,
                      "google_api_root": google.url, "firestore_deadline_seconds": 8})
    repo = app.extensions["sidecar"].repository(TENANT)
    saved = [Segment(id=f"s{n}", name=name, **filters) for n, (name, filters) in enumerate([
        ("VIPs", {"tag": "vip"}), ("My customers", {"owner": REP, "lifecycle_stage": "customer"}),
        ("Quiet 30 days", {"activity_mode": "inactive", "activity_days": 30}),
        ("Renewals", {"tag": "renewal", "lifecycle_stage": "customer"}),
        ("Champions active", {"tag": "champion", "activity_mode": "active", "activity_days": 90})])]
    for segment in saved:
        segments.save_segment(repo, REP, segment)
    client = app.test_client()

    def post(path: str, params: dict | None = None) -> dict:
        common = {"hostApp": "GMAIL", "platform": "WEB", "timeZone": {"id": "UTC", "offset": 0}}
        if params:
            common["parameters"] = params
        body = {"commonEventObject": common, "authorizationEventObject": {
            "userIdToken": google.sign_id_token(CLIENT_ID, email=REP, hd=TENANT)}}
        headers = {"Authorization": "Bearer " + google.sign_id_token(PUBLIC_URL + path)}
        response = client.post(path, data=json.dumps(body), headers=headers, content_type="application/json")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    refresh = timed(lambda: post("/addon/action/refresh_counts"), 3)
    counts = {s.name: s.count for s in segments.list_segments(repo, REP)}
    for _ in range(WARMUP):
        post("/addon/homepage")
    home = timed(lambda: post("/addon/homepage"), loads)
    live = timed(lambda: [segments.count(repo, s) for s in saved], 5)
    opened = timed(lambda: post("/addon/action/open_segment", {"segment_id": "s0"}), 20)
    print(f"segment counts: {counts}")
    print(f"home page with 5 segments (cached counts): {fmt(home)}")
    print(f"  not done on the home page, counting the 5 live: {fmt(live)}")
    print(f"open a segment (first page + fresh count, in parallel): {fmt(opened)}")
    print(f"refresh counts (5 count() aggregations, 4 at a time): {fmt(refresh)}")
    app.extensions["sidecar"].close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(7)
    project = "bench-search"
    with FirestoreEmulator() as emulator, Simulator(reps=1, companies=1, messages=1, events=1) as google:
        client = connect(project, emulator.host)
        repo = Repository(client, TENANT)
        started = time.perf_counter()
        contacts = seed(repo, args.contacts, rng)
        print(f"seeded {args.contacts} contacts and {COMPANIES} companies in {time.perf_counter() - started:.1f}s")
        bench_search(repo, contacts, args.loads, rng)
        bench_home(emulator, google, project, args.loads)
        client.close()
        print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
