"""The card renderer draws every widget Sidecar's cards can use, and flags any it does not know."""

from __future__ import annotations

import json
import time

import pytest
from google.apps import card_v1

from demo.preview import STATIC_DIR
from tests.demo.browser import start_browser, stop_browser
from tests.demo.sample_cards import EVERY_WIDGET_CARD, WIDGET_TYPES

LOAD_TIMEOUT_SECONDS = 10
HARNESS = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="{static}/preview.css"></head>
<body><div id="host" class="card-host"></div><script src="{static}/cards.js"></script>
<script>
window.clicks = [];
window.show = function (card) {{
  CardRenderer.state.unknown.length = 0;
  const host = document.getElementById("host");
  host.innerHTML = "";
  host.appendChild(CardRenderer.renderCard(card, {{ onClick: (c) => window.clicks.push(c) }}));
  return CardRenderer.state.unknown.slice();
}};
</script></body></html>"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    harness = tmp_path_factory.mktemp("renderer") / "harness.html"
    harness.write_text(HARNESS.format(static=STATIC_DIR.as_uri()))
    driver = start_browser()
    driver.get(harness.as_uri())
    deadline = time.monotonic() + LOAD_TIMEOUT_SECONDS
    while not driver.execute_script("return !!(window.CardRenderer && window.show);"):
        assert time.monotonic() < deadline, "cards.js did not load"
        time.sleep(0.1)
    yield driver
    stop_browser(driver)


def test_sample_card_is_a_valid_google_card():
    card_v1.Card.from_json(json.dumps(EVERY_WIDGET_CARD))


def test_every_widget_renders_without_an_unknown_marker(page):
    unknown = page.execute_script("return window.show(arguments[0]);", EVERY_WIDGET_CARD)
    assert unknown == []
    assert page.find_elements("css selector", ".unknown-widget") == []
    for widget in WIDGET_TYPES:
        assert page.find_elements("css selector", f".widget-{widget}"), f"{widget} was not drawn"
    assert page.find_element("css selector", ".card-title").text == "Jane Doe"
    assert page.find_element("css selector", ".fixed-footer .primary").text == "Save"


def test_collapsible_section_hides_the_rest_until_expanded(page):
    page.execute_script("window.show(arguments[0]);", EVERY_WIDGET_CARD)
    section = page.find_element("css selector", ".card-section.collapsible")
    assert "Wants a discount" not in section.text
    section.find_element("css selector", ".collapse-toggle").click()
    assert "Wants a discount" in section.text


def test_text_formatting_keeps_googles_tags_and_drops_the_rest(page):
    card = {"sections": [{"widgets": [{"textParagraph": {
        "text": "<b>bold</b> <script>alert(1)</script><img src=x onerror=alert(1)> "
                "<a href=\"javascript:x\">bad</a>"}}]}]}
    page.execute_script("window.show(arguments[0]);", card)
    paragraph = page.find_element("css selector", ".text-paragraph")
    assert paragraph.find_element("css selector", "b").text == "bold"
    assert page.find_elements("css selector", ".text-paragraph script, .text-paragraph img") == []
    assert paragraph.find_element("css selector", "a").get_attribute("href") is None


def test_unknown_widget_shows_a_visible_marker(page):
    card = {"sections": [{"widgets": [{"carousel": {}}, {"sparkleWidget": {"x": 1}}]}], "surprise": True}
    unknown = page.execute_script("return window.show(arguments[0]);", card)
    assert sorted(unknown) == ["card field:surprise", "widget:carousel", "widget:sparkleWidget"]
    markers = page.find_elements("css selector", ".unknown-widget")
    assert len(markers) == 3 and all(marker.is_displayed() for marker in markers)


def test_button_click_carries_its_action_and_inputs_are_googles_form_inputs(page):
    page.execute_script("window.show(arguments[0]); window.clicks.length = 0;", EVERY_WIDGET_CARD)
    page.find_element("css selector", "textarea[name=note]").send_keys("Called, wants a quote")
    next(b for b in page.find_elements("css selector", ".card-button") if b.text == "Add note").click()
    clicks = page.execute_script("return window.clicks;")
    assert clicks[-1]["action"]["parameters"] == [{"key": "step", "value": "note"}]
    inputs = page.execute_script("return CardRenderer.collectInputs(document.querySelector('.card'));")
    assert inputs["note"] == {"stringInputs": {"value": ["Called, wants a quote"]}}
    assert inputs["stage"] == {"stringInputs": {"value": ["customer"]}}
    assert inputs["tags"] == {"stringInputs": {"value": ["vip"]}}
    assert inputs["owner"] == {"stringInputs": {"value": ["me"]}}
    assert inputs["follow"] == {"stringInputs": {"value": ["yes"]}}
    assert inputs["follow_up"] == {"dateInput": {"msSinceEpoch": "1767225600000"}}
    assert "notify" not in inputs
