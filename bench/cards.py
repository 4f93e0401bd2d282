"""Benchmark the Gmail message card through the full Flask stack (issue 5, SPEC §10).

Each request carries a Google-shaped event with real RS256 system and user ID
tokens (gsim signs them and serves the certificates; the app caches them per
Cache-Control, as in production), is verified, reads the open message, the
sender's contact, company and 20 newest timeline rows from the emulator, and
renders the card. Prints p50/p95/p99 over `--loads` requests with 1,000 and
with `--large` activities in the tenant, and the ratio of the two p95s.

    .venv/bin/python -m bench.cards [--large 100000] [--loads 300]

Seeding 100,000 activities takes a few minutes at ~1,600 writes/s; pass a
smaller `--large` (e.g. 20000) for a quicker run.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from app import create_app
from bench.common import fmt, peak_rss_mb, percentiles
from bench.store import seed
from devtools.firestore_emulator import FirestoreEmulator
from gsim import Simulator
from models.domain import Participant

PUBLIC_URL = "https://sidecar.bench.test"
CLIENT_ID = "bench-client.apps.googleusercontent.com"
PATH = "/addon/gmail/message"
MESSAGE_ID = "18c0ffee0000beef"
WARMUP = 20  # requests before timing: gRPC channel, certificate fetch, emulator JIT


def rep_of(tenant: str) -> str:
    """The rep opening the card: a teammate of the seeded mailbox, so privacy rules apply to every row."""
    return "viewer@" + tenant


def event(google: Simulator, tenant: str) -> tuple[dict, dict]:
    body = {
        "commonEventObject": {"hostApp": "GMAIL", "platform": "WEB", "userLocale": "en",
                              "timeZone": {"id": "UTC", "offset": 0}},
        "authorizationEventObject": {"userOAuthToken": "ya29.unused", "userIdToken":
                                     google.sign_id_token(CLIENT_ID, email=rep_of(tenant), hd=tenant)},
        "gmail": {"messageId": MESSAGE_ID, "accessToken": "unused"},
    }
    headers = {"Authorization": "Bearer " + google.sign_id_token(PUBLIC_URL + PATH)}
    return body, headers


def measure(client, body: dict, headers: dict, loads: int) -> dict[str, float]:
    data = json.dumps(body)
    for _ in range(WARMUP):
        response = client.post(PATH, data=data, headers=headers, content_type="application/json")
        assert response.status_code == 200, response.get_data(as_text=True)
        card = response.get_json()["action"]["navigations"][0]["pushCard"]
        assert card["name"] == "message" and len(card["sections"][0]["widgets"]) > 20, card
    samples = []
    for _ in range(loads):
        start = time.perf_counter()
        response = client.post(PATH, data=data, headers=headers, content_type="application/json")
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with FirestoreEmulator() as emulator, Simulator(reps=1, companies=1, messages=1, events=1) as google:
        results = {}
        for size in (args.small, args.large):
            tenant = f"t{size}.example.com"
            app = create_app({
                "google_cloud_project": "bench-cards", "firestore_emulator_host": emulator.host,
                "public_url": PUBLIC_URL, "addon_service_account": google.addon_service_account,
                "oauth_client_id": CLIENT_ID, "google_certs_url": google.certs_url,
                "google_api_root": google.url, "firestore_deadline_seconds": 8,
            })
            repo = app.extensions["sidecar"].repository(tenant)
            started = time.perf_counter()
            target = seed(repo, size)
            repo.record_message(rep_of(tenant), MESSAGE_ID, subject="Re: pricing",
                                participants=[Participant(target, "Target Person", "from"),
                                              Participant(rep_of(tenant), "", "to")])
            print(f"seeded {size} activities in {time.perf_counter() - started:.1f}s")
            body, headers = event(google, tenant)
            results[size] = measure(app.test_client(), body, headers, args.loads)
            print(f"gmail message card at {size} activities: {fmt(results[size])}")
            app.extensions["sidecar"].close()
        ratio = results[args.large]["p95"] / results[args.small]["p95"]
        print(f"p95 ratio {args.large}/{args.small}: {ratio:.2f}x (target <= 1.5x, p95 < 100 ms); "
              f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
