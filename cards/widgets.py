"""Small builders for google.apps.card.v1 widgets (proto JSON, lowerCamelCase).

Text that comes from people (names, subjects, notes) goes through `esc`; only
Google's documented formatting tags are produced here (<b>, <i>, <font color>,
<a href>, <br>).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

MAX_SECTIONS = 100  # Google: a card holds at most 100 sections
MAX_WIDGETS = 100  # Google: a section holds at most 100 widgets
ERROR_COLOR = "#B3261E"  # Material's error red, readable on light and dark themes
MUTED_COLOR = "#5F6368"

Widget = dict[str, Any]


def esc(text: object) -> str:
    """User text, safe inside Google's HTML subset."""
    return html.escape(str(text or ""), quote=True)


def bold(text: object) -> str:
    return f"<b>{esc(text)}</b>"


def muted(text: object) -> str:
    return f'<font color="{MUTED_COLOR}">{esc(text)}</font>'


def action(url: str, parameters: Mapping[str, object] | None = None) -> dict[str, Any]:
    """An onClick action posting to `url` (our /addon/action/<name>) with string parameters."""
    result: dict[str, Any] = {"function": url}
    params = [{"key": k, "value": str(v)} for k, v in (parameters or {}).items() if v is not None]
    if params:
        result["parameters"] = params
    return result


def button(text: str, on_action: dict | None = None, url: str | None = None, filled: bool = False) -> Widget:
    result: dict[str, Any] = {"text": text}
    if on_action is not None:
        result["onClick"] = {"action": on_action}
    elif url is not None:
        result["onClick"] = {"openLink": {"url": url}}
    if filled:
        result["type"] = "FILLED"
    return result


def button_list(*buttons: Widget) -> Widget:
    return {"buttonList": {"buttons": [b for b in buttons if b]}}


def paragraph(text: str) -> Widget:
    """`text` is already formatted (escape user parts first)."""
    return {"textParagraph": {"text": text}}


def decorated_text(text: str, top_label: str | None = None, bottom_label: str | None = None,
                   icon: str | None = None, button_: Widget | None = None, on_action: dict | None = None,
                   wrap: bool = True) -> Widget:
    """`text` is already formatted; labels are plain and escaped here."""
    result: dict[str, Any] = {"text": text or " ", "wrapText": wrap}
    if top_label:
        result["topLabel"] = esc(top_label)
    if bottom_label:
        result["bottomLabel"] = esc(bottom_label)
    if icon:
        result["startIcon"] = {"knownIcon": icon}
    if button_:
        result["button"] = button_
    elif on_action:
        result["onClick"] = {"action": on_action}
    return {"decoratedText": result}


def text_input(name: str, label: str, value: str = "", multiline: bool = False, hint: str = "") -> Widget:
    result: dict[str, Any] = {"name": name, "label": label, "type": "MULTIPLE_LINE" if multiline else "SINGLE_LINE"}
    if value:
        result["value"] = value
    if hint:
        result["hintText"] = hint
    return {"textInput": result}


def selection_input(name: str, label: str, options: Iterable[tuple[str, str]], selected: str | None = None) -> Widget:
    items = [{"text": text, "value": value, "selected": value == selected} for text, value in options]
    return {"selectionInput": {"name": name, "label": label, "type": "DROPDOWN", "items": items}}


def checkboxes(name: str, label: str, options: Iterable[tuple[str, str]], selected: Iterable[str]) -> Widget:
    """Several choices at once; the form input holds every value checked."""
    chosen = set(selected)
    items = [{"text": text, "value": value, "selected": value in chosen} for text, value in options]
    return {"selectionInput": {"name": name, "label": label, "type": "CHECK_BOX", "items": items}}


def date_input(name: str, label: str, value_ms: int | None = None) -> Widget:
    result: dict[str, Any] = {"name": name, "label": label, "type": "DATE_ONLY"}
    if value_ms is not None:
        result["valueMsEpoch"] = str(value_ms)
    return {"dateTimePicker": result}


def divider() -> Widget:
    return {"divider": {}}


def error_text(message: str) -> Widget:
    return paragraph(f'<font color="{ERROR_COLOR}"><b>{esc(message)}</b></font>')


def section(widgets: list[Widget], header: str | None = None, collapsible: bool = False,
            uncollapsible: int | None = None) -> dict[str, Any]:
    """A section, cut to Google's widget limit (builders keep well under it; this is the backstop)."""
    result: dict[str, Any] = {}
    if header:
        result["header"] = esc(header)
    result["widgets"] = widgets[:MAX_WIDGETS]
    if collapsible and uncollapsible is not None and uncollapsible < len(result["widgets"]):
        result["collapsible"] = True
        result["uncollapsibleWidgetsCount"] = uncollapsible
    return result


def card(name: str, title: str, sections: list[dict], subtitle: str | None = None,
         footer: Widget | None = None) -> dict[str, Any]:
    """A card; `name` identifies it in the navigation stack (unique per kind of card)."""
    header: dict[str, Any] = {"title": esc(title)}
    if subtitle:
        header["subtitle"] = esc(subtitle)
    result: dict[str, Any] = {"name": name, "header": header, "sections": sections[:MAX_SECTIONS]}
    if footer:
        result["fixedFooter"] = {"primaryButton": footer}
    return result


def import_notice(percent: int | None) -> list[dict[str, Any]]:
    """A one-line section while the rep's own history is still importing (none once it is done)."""
    if percent is None:
        return []
    return [section([paragraph(muted(f"Your history is still importing ({percent}%): older emails and meetings "
                                     "will appear as it goes."))])]
