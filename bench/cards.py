"""Benchmark the Gmail message card through the full Flask stack (issue 5, SPEC §10), and under a burst (#12.12).

Each request carries a Google-shaped event with real RS256 system and user ID
tokens (gsim signs them and serves the certificates; the app caches them per
Cache-Control, as in production), is verified, reads the open message, the
sender's contact, company and 20 newest timeline rows from the emulator, and
renders the card. Prints p50/p95/p99 over `--loads` requests with 1,000 and
with `--large` activities in the tenant, and the ratio of the two p95s.

Then the burst: a real gunicorn (`gunicorn.conf.py`, or each `--models`
"WORKERSxTHREADS" given) on loopback gets `--bursts` bursts of `--burst`
concurrent requests for the 1,000-activity tenant, each a new connection as
Google's front end makes it, after a warm-up; prints p50/p95/p99 per worker
model, named. The client is bounded: one thread per request of a burst, and
every request must answer 200 with the card.

    .venv/bin/python -m bench.cards [--large 100000] [--loads 300] [--burst 200] [--models 2x8,2x32]
    .venv/bin/python -m bench.cards --burst-only --bursts 2   # the burst section alone, briefly
    .venv/bin/python -m bench.cards --no-burst                # the single-request section alone

Seeding 100,000 activities takes a few minutes at ~1,600 writes/s; pass a
smaller `--large` (e.g. 20000) for a quicker run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import http.client
import json
import logging
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

from app import create_app
from bench.common import fmt, peak_rss_mb, percentiles
from bench.store import seed
from devtools.firestore_emulator import FirestoreEmulator, free_port
from gsim import Simulator
from models.domain import Participant

PUBLIC_URL = "https://sidecar.bench.test"
CLIENT_ID = "bench-client.apps.googleusercontent.com"
PATH = "/addon/gmail/message"
MESSAGE_ID = "18c0ffee0000beef"
WARMUP = 20  # requests before timing: gRPC channel, certificate fetch, emulator JIT
REPO_ROOT = Path(__file__).resolve().parent.parent
BURST = 200  # concurrent Gmail cards in one burst (issue #12.12)
BURSTS = 3
BURST_WARMUP = 2  # untimed bursts first: every worker thread's gRPC channel and certificates
SERVER_START_SECONDS = 60  # gunicorn imports the app in each worker; generous on a busy machine
REQUEST_TIMEOUT_SECONDS = 60  # the client gives up on one request after this (never reached when healthy)


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


def server_env(emulator: FirestoreEmulator, google: Simulator, project: str) -> dict[str, str]:
    """The web process's variables for this bench (and nothing of the caller's SIDECAR_* or credentials)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SIDECAR_") and k not in ("GOOGLE_APPLICATION_CREDENTIALS", "FIRESTORE_EMULATOR_HOST")}
    env.update({"GOOGLE_CLOUD_PROJECT": project, "FIRESTORE_EMULATOR_HOST": emulator.host,
                "SIDECAR_PUBLIC_URL": PUBLIC_URL, "SIDECAR_ADDON_SERVICE_ACCOUNT": google.addon_service_account,
                "SIDECAR_OAUTH_CLIENT_ID": CLIENT_ID, "SIDECAR_GOOGLE_CERTS_URL": google.certs_url,
                "SIDECAR_GOOGLE_API_ROOT": google.url})
    return env


def configured_model() -> tuple[int, int]:
    """(workers, threads) as gunicorn.conf.py sets them for production."""
    conf = runpy.run_path(str(REPO_ROOT / "gunicorn.conf.py"))
    return conf["workers"], conf["threads"]


@contextlib.contextmanager
def gunicorn(env: dict[str, str], workers: int, threads: int, log_path: Path):
    """`gunicorn app:app` with gunicorn.conf.py and this worker model on a free loopback port: (process, port)."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", str(REPO_ROOT / "gunicorn.conf.py"),
               "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread", "--workers", str(workers),
               "--threads", str(threads), "app:app"]
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=log_file,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start (log: {log_path})") from None
                time.sleep(0.2)
        yield process, port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def burst(port: int, data: bytes, headers: dict, size: int) -> list[float]:
    """`size` requests released at once, each on its own new connection; latency of each in ms."""
    release = threading.Barrier(size)

    def one(_: int) -> float:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_SECONDS)
        release.wait()
        start = time.perf_counter()
        try:
            connection.request("POST", PATH, body=data, headers=headers)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == 200 and b'"name":"message"' in body, (response.status, body[:300])
        return (time.perf_counter() - start) * 1000

    with concurrent.futures.ThreadPoolExecutor(size) as pool:
        return list(pool.map(one, range(size)))


def measure_burst(env: dict, body: dict, headers: dict, model: tuple[int, int], size: int, bursts: int,
                  log_path: Path) -> dict[str, float]:
    workers, threads = model
    data = json.dumps(body).encode()
    send = {**headers, "Content-Type": "application/json"}
    with gunicorn(env, workers, threads, log_path) as (server, port):
        for _ in range(BURST_WARMUP):
            burst(port, data, send, min(size, workers * threads * 2))
        samples: list[float] = []
        for _ in range(bursts):
            samples += burst(port, data, send, size)
        stats = percentiles(samples)
        worker_rss = [child.memory_info().rss for child in psutil.Process(server.pid).children()]
    stats["worker RSS MB"] = max(worker_rss) / 2**20
    return stats


def parse_models(text: str) -> list[tuple[int, int]]:
    if not text:
        return [configured_model()]
    return [(int(w), int(t)) for w, t in (part.split("x") for part in text.split(","))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=300)
    parser.add_argument("--burst", type=int, default=BURST, help="concurrent requests in one burst")
    parser.add_argument("--bursts", type=int, default=BURSTS)
    parser.add_argument("--models", default="", help='"WORKERSxTHREADS,..." (default: gunicorn.conf.py\'s)')
    parser.add_argument("--burst-only", action="store_true", help="skip the single-request section")
    parser.add_argument("--no-burst", action="store_true",
                        help="skip the burst section (comparing single-request figures, e.g. with an older checkout)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with FirestoreEmulator() as emulator, Simulator(reps=1, companies=1, messages=1, events=1) as google:
        results = {}
        sizes = (args.small,) if args.burst_only else (args.small, args.large)
        project = "bench-cards"
        for size in sizes:
            tenant = f"t{size}.example.com"
            app = create_app({
                "google_cloud_project": project, "firestore_emulator_host": emulator.host,
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
            if not args.burst_only:
                results[size] = measure(app.test_client(), body, headers, args.loads)
                print(f"gmail message card at {size} activities: {fmt(results[size])}")
            app.extensions["sidecar"].close()
        if not args.burst_only:
            ratio = results[args.large]["p95"] / results[args.small]["p95"]
            print(f"p95 ratio {args.large}/{args.small}: {ratio:.2f}x (target <= 1.5x, p95 < 100 ms); "
                  f"peak RSS {peak_rss_mb():.0f} MB")
        if args.no_burst:
            return
        body, headers = event(google, f"t{args.small}.example.com")
        env = server_env(emulator, google, project)
        log_path = Path(tempfile.gettempdir()) / "bench-cards-gunicorn.log"
        for workers, threads in parse_models(args.models):
            stats = measure_burst(env, body, headers, (workers, threads), args.burst, args.bursts, log_path)
            rss = stats.pop("worker RSS MB")
            print(f"burst of {args.burst} concurrent gmail cards x{args.bursts} on loopback, gunicorn gthread "
                  f"workers={workers} threads={threads}: {fmt(stats)}; largest worker RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
