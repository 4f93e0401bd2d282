"""Small helpers the gsim tests share."""

from __future__ import annotations

import json

from googleapiclient.errors import HttpError


def error_body(exc: HttpError) -> dict:
    return json.loads(exc.content)["error"]


def list_all(method, **kwargs) -> list[dict]:
    """Follow nextPageToken to the end; returns every page's body."""
    pages, token = [], None
    while True:
        page = method(**kwargs, pageToken=token).execute() if token else method(**kwargs).execute()
        pages.append(page)
        token = page.get("nextPageToken")
        if not token:
            return pages
