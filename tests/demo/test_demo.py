"""The README's demo, for real: `python -m demo` as a subprocess, driven in headless Chromium, then Ctrl-C.

One demo serves the module (starting it is the slow part): the browser walks the
rep's path through the preview, saving the screenshots the README shows; a new
email delivered through the preview reaches the open card by push (the
simulator's Gmail watch, the Pub/Sub emulator, the demo's sync workers); then
the last test sends SIGINT and checks that not one process of the demo's tree
is left, and that a second run on the same port starts cleanly.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest

from devtools.firestore_emulator import free_port, group_alive
from tests.demo.browser import start_browser, stop_browser

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SIDECAR_SCREENSHOT_DIR", REPO_ROOT / "docs" / "screenshots"))
# Small enough to start fast, big enough that every card has a history.
DEMO_ARGS = ("--reps", "2", "--messages", "80", "--events", "30", "--sync-interval", "300", "--workers", "2")
READY = re.compile(r"Preview ready in \d+s: (\S+)")
PREVIEW_PATH = "/demo/"
START_TIMEOUT_SECONDS = 180  # acceptance: the preview answers within 3 minutes
STOP_TIMEOUT_SECONDS = 60
UI_TIMEOUT_SECONDS = 30
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.co.uk", "icloud.com", "proton.me")
ROLE_WORDS = ("noreply", "no-reply", "newsletter", "digest", "notifications", "winner", "alert", "sales-leaders")
SCREENSHOT_MAX_HEIGHT = 2000
# Generous, never a measure of speed: the notification, a worker's sync and the card on a busy 2-core machine.
DELIVERY_TIMEOUT_SECONDS = 120
CANDIDATE_MESSAGES = 8  # customer messages tried for one whose contact card has a timeline


class DemoRun:
    """`python -m demo` in its own session, its stdout collected line by line."""

    def __init__(self, port: int, command: tuple[str, ...] = (sys.executable, "-m", "demo")):
        self.port = port
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            [*command, "--port", str(port), *DEMO_ARGS], cwd=REPO_ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
            env={k: v for k, v in os.environ.items() if not k.startswith(("SIDECAR_", "GOOGLE_", "FIRESTORE_"))})
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self._wait_ready()
        self.started = time.monotonic()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            self._queue.put(line)
        self._queue.put(None)

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail("python -m demo exited before the preview was ready:\n" + self.output)
            found = READY.search(line)
            if found:
                return found.group(1)
        self.kill()
        pytest.fail(f"the preview was not ready in {START_TIMEOUT_SECONDS}s:\n" + self.output)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def tree(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to the command itself, as a terminal delivers it."""
        os.kill(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def kill(self) -> None:
        """Last resort for a failed test: the demo's own session, not just its pid."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture(scope="module")
def demo():
    run = DemoRun(free_port())
    yield run
    if run.process.poll() is None:
        run.interrupt()


@pytest.fixture(scope="module")
def browser():
    driver = start_browser()
    yield driver
    stop_browser(driver)


# -- driving the page -------------------------------------------------------------------------
def wait(driver, predicate, what: str, timeout: float = UI_TIMEOUT_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; errors={page_errors(driver)}")


def page_errors(driver) -> list[str]:
    return driver.execute_script("return window.previewState ? window.previewState.errors : ['no page'];")


def idle_panel(driver):
    """Wait for the add-on panel's answer, then check it: no backend error, no unknown widget."""
    wait(driver, lambda: driver.execute_script(
        "return document.getElementById('addon-panel').dataset.busy === 'false';"), "the add-on panel")
    errors = page_errors(driver)
    assert errors == [], f"the backend answered an error: {errors}\n" + card_text(driver)
    unknown = driver.execute_script("return CardRenderer.state.unknown;")
    assert unknown == [], f"the card holds widgets the preview cannot draw: {unknown}"
    assert not driver.find_elements("css selector", ".unknown-widget, .backend-error")


def card_text(driver) -> str:
    return driver.find_element("id", "card-host").text


def requests_done(driver) -> int:
    return driver.execute_script("return window.previewState.requests;")


def click_and_wait(driver, element) -> None:
    before = requests_done(driver)
    element.click()
    wait(driver, lambda: requests_done(driver) > before, "the click to reach the backend")
    idle_panel(driver)


def card_button(driver, pattern: str):
    regex = re.compile(pattern, re.IGNORECASE)
    for button in driver.find_elements("css selector", "#card-host .card-button"):
        if regex.search(button.text.strip()) and button.is_enabled():
            return button
    return None


def screenshot(driver, name: str) -> Path:
    """The whole window, its viewport made tall enough that the add-on panel's card shows in full."""
    needed = driver.execute_script(
        "const h = document.getElementById('card-host'); return h.scrollHeight - h.clientHeight;")
    width, height = driver.execute_script("return [window.innerWidth, window.innerHeight];")
    tall = min(height + max(needed, 0), SCREENSHOT_MAX_HEIGHT)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": tall, "deviceScaleFactor": 1, "mobile": False})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    try:
        wait(driver, lambda: driver.execute_script("return window.innerHeight;") == tall, "the tall viewport")
        assert driver.save_screenshot(str(path)), f"could not save {path}"
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path


def is_customer(sender: str, rep_domain: str) -> bool:
    """Someone at a customer company: not the team, not free mail, not a robot."""
    local, _, domain = sender.lower().partition("@")
    return not (domain == rep_domain or domain in FREE_MAIL or any(word in local for word in ROLE_WORDS))


def customer_rows(driver, rep_domain: str):
    """Messages from people at customer companies: not the team, not free mail, not robots."""
    return [row for row in driver.find_elements("css selector", ".msg-row")
            if is_customer(row.get_attribute("data-from") or "", rep_domain)]


def mentioned(email: str, name: str, text: str) -> bool:
    """The card names this attendee: by address, calendar name, or the name the address spells.

    Contacts carry the name from their mail headers ("Noah Novak" for noah.novak6@...,
    "Chloe Kowalski" for ckowalski@...), which the calendar entry may not have.
    """
    if email.lower() in text or (name and name.lower() in text):
        return True
    words = [w for w in re.split(r"[^a-z]+", email.partition("@")[0].lower()) if len(w) >= 3]
    return any(w in text or w[1:] in text for w in words)


def pgid(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except ProcessLookupError:
        return None


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# -- the tests ----------------------------------------------------------------------------------
def test_home_page_renders(demo, browser):
    browser.get(demo.url)
    wait(browser, lambda: browser.execute_script("return document.body.dataset.ready === 'true';"), "the preview")
    wait(browser, lambda: browser.find_elements("css selector", "#card-host .card"), "the home page card")
    idle_panel(browser)
    wait(browser, lambda: browser.find_elements("css selector", ".msg-row"), "the message list")
    screenshot(browser, "home.png")


def test_message_from_a_customer_shows_the_contact_card_and_a_new_note_lands_on_its_timeline(demo, browser):
    rep = browser.execute_script("return window.previewState.rep;")
    rows = customer_rows(browser, rep.partition("@")[2])
    assert rows, "the demo mailbox shows no message from a customer"
    for row in rows[:6]:
        click_and_wait(browser, row)
        if card_button(browser, r"^add note$") and "timeline" in card_text(browser).lower():
            break
    else:
        pytest.fail("no customer message opened a contact card with a timeline and an Add note button:\n"
                    + card_text(browser))
    screenshot(browser, "gmail-contact-card.png")

    click_and_wait(browser, card_button(browser, r"^add note$"))
    field = wait(browser, lambda: browser.find_elements("css selector", "#card-host textarea, #card-host input.input"),
                 "the note form")[0]
    note = f"Demo note {uuid.uuid4().hex[:8]}: asked for the enterprise quote"
    field.send_keys(note)
    save = card_button(browser, r"^(save|add|add note|save note)$")
    assert save is not None, "the note form has no Save button:\n" + card_text(browser)
    click_and_wait(browser, save)
    wait(browser, lambda: note in card_text(browser), "the note on the timeline")
    screenshot(browser, "gmail-note-added.png")


def test_calendar_event_shows_a_brief_for_each_external_attendee(demo, browser):
    click_and_wait(browser, browser.find_element("id", "tab-calendar"))
    rows = wait(browser, lambda: [row for row in browser.find_elements("css selector", ".event-row")
                                  if int(row.get_attribute("data-external") or 0) > 0], "a meeting with customers")
    row = rows[0]
    emails = row.find_element("css selector", ".snippet").text.split(", ")
    names = json.loads(row.get_attribute("data-external-names"))
    click_and_wait(browser, row)
    text = card_text(browser).lower()
    missing = [email for email, name in zip(emails, names, strict=True) if not mentioned(email, name, text)]
    assert missing == [], f"no brief for {missing}:\n{card_text(browser)}"
    screenshot(browser, "calendar-event-card.png")


def preview_api(demo, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(demo.url + path, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=UI_TIMEOUT_SECONDS) as response:
        return json.loads(response.read())


def test_a_secondary_domain_rep_sees_the_team_history_and_a_departed_rep_is_named_so(demo):
    assert "marked departed, history kept" in demo.output
    leaver = re.search(r"(\S+) leaves after the first sync", demo.output).group(1)
    newcomer = next(rep for rep in preview_api(demo, "api/reps")["reps"] if rep.startswith("lena.fischer@emea-"))
    sent = preview_api(demo, "api/messages?rep=" + urllib.parse.quote(newcomer))["messages"]
    assert sent

    answer = preview_api(demo, "api/send", {"rep": newcomer, "hostApp": "GMAIL", "trigger": "gmail",
                                            "context": {"messageId": sent[0]["id"]}})

    assert answer["status"] == 200  # the user token's hd is the primary domain; her address is on the secondary
    card = json.dumps(answer["body"])
    assert f"{leaver} (former teammate)" in card


def open_message(demo, rep: str, message_id: str) -> dict:
    """The Gmail card of one of the rep's messages, as the preview gets it from the backend."""
    answer = preview_api(demo, "api/send", {"rep": rep, "hostApp": "GMAIL", "trigger": "gmail",
                                            "context": {"messageId": message_id}})
    assert answer["status"] == 200, answer
    return answer["body"]


def contact_card(answer: dict) -> bool:
    """A known contact's card: its timeline and its Add note button (an unknown sender's offers Add as contact)."""
    text = json.dumps(answer)
    return '"Add note"' in text and "timeline" in text.lower()


def test_a_new_email_delivered_through_the_preview_reaches_the_open_card_by_push(demo):
    """The demo's own pieces: the preview asks the simulator to deliver, its Gmail watch publishes to the Pub/Sub
    emulator, a `python -m sync worker` syncs the mailbox, and the open card, asked again, shows the email."""
    assert re.search(r"Gmail watches of \d+ mailboxes", demo.output), demo.output
    rep = preview_api(demo, "api/reps")["reps"][0]
    messages = preview_api(demo, "api/messages?rep=" + urllib.parse.quote(rep))["messages"]
    customers = [m for m in messages if is_customer(m["fromAddress"], rep.partition("@")[2])]
    opened, card = next(((m, card) for m in customers[:CANDIDATE_MESSAGES]
                         if contact_card(card := open_message(demo, rep, m["id"]))), (None, None))
    assert opened is not None, "no customer message opened a contact card with a timeline"

    made = preview_api(demo, "api/deliver", {"rep": rep, "from": opened["fromAddress"], "name": opened["from"]})

    assert made["from"] == opened["fromAddress"].lower() and made["subject"] not in json.dumps(card)
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    while made["subject"] not in json.dumps(card):
        assert time.monotonic() < deadline, f"{made['subject']!r} not on the card in {DELIVERY_TIMEOUT_SECONDS}s"
        time.sleep(1)
        card = open_message(demo, rep, opened["id"])
    assert made["id"] in {m["id"] for m in preview_api(
        demo, "api/messages?rep=" + urllib.parse.quote(rep))["messages"]}  # and in the rep's mailbox

    # the admin card (the first rep is an admin in the demo) shows the queue, the lease and the push just seen
    base = demo.url.rsplit(PREVIEW_PATH, 1)[0]
    admin = preview_api(demo, "api/send", {"rep": rep, "hostApp": "GMAIL", "trigger": "action",
                                           "function": base + "/addon/action/admin"})
    text = json.dumps(admin["body"])
    assert admin["status"] == 200 and "Sync queue" in text and "measured by the dispatcher" in text, text
    assert "last push " in text and "watch gmail " in text


def test_the_preview_button_delivers_a_new_email_and_refreshes_the_open_card_until_it_shows(demo, browser):
    click_and_wait(browser, browser.find_element("id", "tab-mail"))
    wait(browser, lambda: browser.find_elements("css selector", ".msg-row"), "the message list")
    rep = browser.execute_script("return window.previewState.rep;")
    for row in customer_rows(browser, rep.partition("@")[2])[:CANDIDATE_MESSAGES]:
        click_and_wait(browser, row)
        if "timeline" in card_text(browser).lower():
            break
    else:
        pytest.fail("no customer message opened a contact card with a timeline:\n" + card_text(browser))

    browser.find_element("id", "deliver").click()

    delivered = wait(browser, lambda: browser.execute_script(
        "const d = window.previewState.delivered; return d && d.onCardMs !== null ? d : null;"),
        "the delivered email on the open card", timeout=DELIVERY_TIMEOUT_SECONDS)
    assert delivered["subject"] in card_text(browser)
    idle_panel(browser)


def test_ctrl_c_stops_every_process_and_a_second_run_starts_cleanly(demo):
    """The second run is the README's own command (scripts/demo execs python -m demo: same pid)."""
    for run in (demo, None):
        # The same port: nothing of the first run may still hold it.
        run = run or DemoRun(demo.port, command=("bash", str(REPO_ROOT / "scripts" / "demo")))
        tree = run.tree()
        assert len(tree) >= 3, f"expected the emulator, gunicorn and the daemon, found {tree}"
        groups = {group for group in map(pgid, tree) if group is not None}
        assert run.interrupt() == 0, run.output
        left = [p for p in tree if alive(p)]
        assert left == [], f"processes left behind: {left}"
        assert not [g for g in groups if group_alive(g)], "a process group of the demo is still alive"
        assert "nothing left running" in run.output
