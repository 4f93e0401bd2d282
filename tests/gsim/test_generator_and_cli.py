"""The seeded Workspace: determinism, the messy cases, size; and the standalone server."""

from __future__ import annotations

import collections
import email.header
import email.utils
import os
import signal
import subprocess
import sys

import requests

from gsim.generator import Spec, generate

from .conftest import ANCHOR


def all_headers(world, name):
    return [m.header(name) for box in world.mailboxes.values() for m in box.messages.values() if m.header(name)]


def snapshot(world):
    mail = {
        a: sorted((m.id, m.thread_id, tuple(m.headers), m.body) for m in b.messages.values())
        for a, b in world.mailboxes.items()
    }
    return mail, sorted((e.id, e.summary, str(e.start)) for e in world.events.values())


def test_the_same_seed_builds_the_same_world():
    spec = dict(reps=2, messages=80, events=15, now=ANCHOR)
    assert snapshot(generate(Spec(seed=5, **spec))) == snapshot(generate(Spec(seed=5, **spec)))
    assert snapshot(generate(Spec(seed=5, **spec))) != snapshot(generate(Spec(seed=6, **spec)))


def test_the_world_has_the_messy_cases_real_mail_has():
    world = generate(Spec(seed=3, reps=3, messages=150, events=25, now=ANCHOR))
    senders = all_headers(world, "From")
    assert any(s.startswith('"') and ", " in s.split("<")[0] for s in senders)  # "Doe, Jane"
    assert any("=?UTF-8?" in s for s in senders)  # RFC 2047 encoded words
    decoded = {str(email.header.make_header(email.header.decode_header(s))) for s in senders if "=?" in s}
    assert any(any(ord(ch) > 127 for ch in s) for s in decoded)
    assert any("@gmail.com" in s or "@yahoo.com" in s or "@outlook.com" in s for s in senders)
    assert any("@mail." in s for s in senders)  # subdomain senders such as mail.acme.co.uk
    assert all_headers(world, "List-Unsubscribe") and all_headers(world, "List-Id")
    assert any("no-reply@" in s or "noreply@" in s for s in senders)
    labels = collections.Counter(
        label for b in world.mailboxes.values() for m in b.messages.values() for label in m.label_ids
    )
    assert labels["SPAM"] and labels["DRAFT"] and labels["SENT"]

    holders = collections.defaultdict(set)
    for address, box in world.mailboxes.items():
        for message in box.messages.values():
            holders[message.header("Message-ID")].add(address)
    assert any(len(boxes) == 2 for boxes in holders.values())  # one email, two reps' mailboxes

    by_name = collections.defaultdict(set)
    for sender in senders:
        name, address = email.utils.parseaddr(str(email.header.make_header(email.header.decode_header(sender))))
        if name and not address.endswith("@example.com"):
            by_name[name].add(address.split("@")[1])
    corporate = {n: d for n, d in by_name.items() if len(d - {"gmail.com", "yahoo.com", "outlook.com"}) >= 2}
    assert corporate, "someone changed jobs: same name at two corporate domains"
    assert any("gmail.com" in d and len(d) > 1 for d in by_name.values()), "a contact replied from a personal address"

    events = list(world.events.values())
    assert any(e.recurrence for e in events) and any(e.status == "cancelled" for e in events)
    assert any(not a.email.endswith("@example.com") for e in events for a in e.attendees)
    assert any(len(e.participants() & set(world.reps)) == 2 for e in events)  # a meeting in two calendars


def test_a_10000_message_mailbox_builds():
    world = generate(Spec(seed=1, reps=1, messages=10_000, events=50, now=ANCHOR))
    assert len(world.mailboxes[world.reps[0]].messages) == 10_000


def test_the_cli_serves_and_is_driven_over_the_admin_endpoints(tmp_path):
    key_file = tmp_path / "key.json"
    command = [sys.executable, "-m", "gsim", "--port", "0", "--seed", "4", "--messages", "60", "--events", "10",
               "--key-file", str(key_file)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        assert line.startswith("gsim listening on http://")
        url = line.split()[-1]
        assert requests.get(url + "_sim/health", timeout=5).json()["ok"] is True
        world = requests.get(url + "_sim/world", timeout=5).json()
        rep = world["reps"][0]
        added = requests.post(url + "_sim/messages", json={"mailbox": rep, "subject": "Hi"}, timeout=5).json()
        assert int(added["historyId"]) > int(world["mailboxes"][rep]["historyId"])
        assert requests.post(url + "_sim/revoke", json={"mailbox": rep}, timeout=5).ok
        assert requests.post(url + "_sim/quota", json={"units_per_minute": 100}, timeout=5).ok
        assert requests.get(url + "_sim/counters", timeout=5).json()["total"]["calls"] == 0
        assert key_file.exists()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
