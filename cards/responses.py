"""The envelopes Google expects around cards; kept apart from the card bodies (SPEC §5)."""

from __future__ import annotations

from typing import Any


def trigger(card: dict) -> dict[str, Any]:
    """A homepage or contextual trigger's answer: the card pushed on the add-on's stack."""
    return {"action": {"navigations": [{"pushCard": card}]}}


def update_card(card: dict, notification: str | None = None) -> dict[str, Any]:
    """A card action replacing the card the rep is looking at."""
    return _render({"navigations": [{"updateCard": card}]}, notification)


def push_card(card: dict, notification: str | None = None) -> dict[str, Any]:
    """A card action opening a new card on top (the rep comes back with the arrow)."""
    return _render({"navigations": [{"pushCard": card}]}, notification)


def notify(text: str) -> dict[str, Any]:
    return _render({}, text)


def _render(action: dict[str, Any], notification: str | None) -> dict[str, Any]:
    if notification:
        action["notification"] = {"text": notification}
    return {"renderActions": {"action": action}}
