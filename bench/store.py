"""Benchmark the data layer against the real Firestore emulator (issue 2, SPEC §10).

Prints the emulator's raw batched-write rate, and the time to load one contact's
card data (contact by email + company + 20 newest timeline items) with 1,000 and
with 100,000 activities in the tenant: p50/p95/p99 over 200 loads.

    .venv/bin/python -m bench.store [--large 100000] [--loads 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time

from bench.common import fmt, percentiles
from devtools.firestore_emulator import FirestoreEmulator
from models.domain import Activity, Company, Contact, Participant
from models.repository import Repository, Touch, activity_id_for, connect, contact_id_for, contact_to_doc
from models.signals import EMAIL, OURS, THEIRS, Exchange, thread_key

log = logging.getLogger(__name__)
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
CONTACTS_PER_TENANT_SHARE = 50  # one contact per 50 activities, like a busy sales mailbox
TARGET_ACTIVITIES = 200  # the contact whose card is opened has a long history


def raw_write_rate(client, docs: int = 5000) -> float:
    """Plain 500-document batches of small documents: the ceiling for any bulk write."""
    collection = client.collection("rawwrites")
    start = time.perf_counter()
    for first in range(0, docs, 500):
        batch = client.batch()
        for n in range(first, min(first + 500, docs)):
            batch.set(collection.document(f"d{n}"), {"n": n, "at": T0, "text": "x" * 100})
        batch.commit()
    return docs / (time.perf_counter() - start)


TOUCH_COMMIT_CONTACTS = 20  # contacts' touches a commit: Firestore refuses a request over 4 MiB


def seed(repo: Repository, activities: int) -> str:
    """A tenant with `activities` emails over many contacts; returns the target contact's email."""
    contacts = max(2, activities // CONTACTS_PER_TENANT_SHARE)
    target = "target@acme.com"
    repo.save_company(Company(id="acme.com", name="Acme"))
    ids = [contact_id_for(target)] + [contact_id_for(f"p{n}@c{n % 97}.com") for n in range(1, contacts)]
    with repo.batch() as writer:
        for n, cid in enumerate(ids):
            email = target if n == 0 else f"p{n}@c{n % 97}.com"
            contact = Contact(id=cid, emails=[email], first_name=f"P{n}", company_id="acme.com" if n == 0 else None)
            writer.set(repo.contact_ref(cid), contact_to_doc(contact))
            writer.set(repo.email_ref(email), {"contact_id": cid, "domain": email.split("@")[1]})
        touches: dict[str, list[Touch]] = {}
        for n in range(activities):
            cid = ids[0] if n < TARGET_ACTIVITIES else ids[1 + n % (contacts - 1)]
            at = T0 + dt.timedelta(hours=n)
            repo.put_activity(writer, Activity(
                id=activity_id_for(f"<{n}@bench>"), kind="email", at=at,
                subject=f"Subject {n}", snippet="a snippet of the message " * 4, direction="inbound",
                participants=[Participant(email="rep@example.com", role="to")], contact_ids=[cid],
                holders={"rep@example.com": f"{n:016x}"}))
            # with what sync records of it (models.signals): the card computes the signals from these
            exchange = Exchange(at, EMAIL, THEIRS if n % 2 else OURS, ("rep@example.com",), thread_key(f"t{n // 4}"))
            touches.setdefault(cid, []).append(Touch(at, "email", "rep@example.com", activity_id_for(f"<{n}@bench>"),
                                                     exchange.encode()))
    items = list(touches.items())
    for start in range(0, len(items), TOUCH_COMMIT_CONTACTS):  # each carries its contact's exchanges: small commits
        with repo.batch() as writer:
            for cid, marks in items[start:start + TOUCH_COMMIT_CONTACTS]:
                repo.record_touches(writer, cid, marks)
    return target


def load_card_data(repo: Repository, email: str) -> None:
    contact = repo.find_contact_by_email(email)
    repo.get_company(contact.company_id)
    page = repo.timeline(contact.id, contact=contact)
    assert len(page.entries) == 20


def measure(repo: Repository, email: str, loads: int) -> dict[str, float]:
    for _ in range(10):  # warm the channel and the emulator's JIT
        load_card_data(repo, email)
    samples = []
    for _ in range(loads):
        start = time.perf_counter()
        load_card_data(repo, email)
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with FirestoreEmulator() as emulator:
        client = connect("bench-store", emulator.host)
        rate = raw_write_rate(client)
        print(f"emulator raw batched writes: {rate:.0f} docs/s")
        results = {}
        for size in (args.small, args.large):
            repo = Repository(client, f"t{size}.example.com")
            start = time.perf_counter()
            email = seed(repo, size)
            print(f"seeded {size} activities in {time.perf_counter() - start:.1f}s")
            results[size] = measure(repo, email, args.loads)
            print(f"card data load at {size} activities: {fmt(results[size])}")
        ratio = results[args.large]["p95"] / results[args.small]["p95"]
        print(f"p95 ratio {args.large}/{args.small}: {ratio:.2f}x (target <= 1.5x, p95 < 50 ms)")


if __name__ == "__main__":
    main()
