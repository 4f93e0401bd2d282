"""Cards that tell the rep something went wrong, and what they can do about it."""

from __future__ import annotations

from cards.widgets import action, button, button_list, card, error_text, paragraph, section


def error_card(message: str, retry_url: str | None = None, retry_parameters: dict | None = None) -> dict:
    """A backend fault: the message, and a button that runs the same thing again."""
    widgets = [error_text(message)]
    if retry_url:
        widgets.append(button_list(button("Retry", action(retry_url, retry_parameters), filled=True)))
    return card("error", "Sidecar", [section(widgets)], subtitle="Something went wrong")


def not_found_card(what: str) -> dict:
    return card("not_found", "Not found", [section([paragraph(f"This {what} does not exist or was removed.")])])
