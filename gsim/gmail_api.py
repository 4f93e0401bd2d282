"""Gmail v1 handlers: profile, labels, messages, history, watch/stop.

Shapes follow the discovery document: ids are lowercase hex, ``historyId`` and
``internalDate`` are decimal strings (uint64/int64 travel as strings in JSON),
``sizeEstimate`` is an integer, ``format=metadata`` returns only the headers
asked for. Lists are newest first, as Gmail lists them.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import re
import shlex
import time

from . import errors
from .world import HIDDEN_SYSTEM_LABELS, SYSTEM_LABELS, Mailbox, Message

MESSAGES_LIST_DEFAULT = 100  # messages.list maxResults default
MESSAGES_LIST_MAX = 500  # messages.list maxResults maximum
HISTORY_LIST_DEFAULT = 100
HISTORY_LIST_MAX = 500
WATCH_LIFETIME_MS = 7 * 24 * 3600 * 1000  # Gmail: "call watch at least every 7 days"
GMAIL_QUERY_TZ = dt.timezone(dt.timedelta(hours=-8))  # Gmail: dates in q are midnight PST
HEX_ID = re.compile(r"^[0-9a-f]{1,20}$")
METADATA_SCOPE = "https://www.googleapis.com/auth/gmail.metadata"
FULL_READ_SCOPES = {
    "https://mail.google.com/",
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.modify",
}
HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")


def metadata_only(call) -> bool:
    """A token with only gmail.metadata may not search or read bodies."""
    return METADATA_SCOPE in call.scopes and not (FULL_READ_SCOPES & call.scopes)


def get_profile(call) -> dict:
    box = call.mailbox
    return {
        "emailAddress": box.address,
        "messagesTotal": len(box.messages),
        "threadsTotal": box.threads_total(),
        "historyId": str(box.history_id),
    }


def list_labels(call) -> dict:
    labels = []
    for label in SYSTEM_LABELS:
        item = {"id": label, "name": label, "type": "system"}
        if label not in HIDDEN_SYSTEM_LABELS and not label.startswith("CATEGORY_"):
            item.update(messageListVisibility="show", labelListVisibility="labelShow")
        labels.append(item)
    for label_id, name in sorted(call.mailbox.user_labels.items()):
        labels.append(
            {
                "id": label_id,
                "name": name,
                "type": "user",
                "messageListVisibility": "show",
                "labelListVisibility": "labelShow",
            }
        )
    return {"labels": labels}


def list_send_as(call) -> dict:
    """``users.settings.sendAs.list``: the primary address, then each alias (verified, treated as an alias)."""
    box = call.mailbox
    user = call.world.users.get(box.address)
    name = f"{user.given_name} {user.family_name}" if user else ""
    entries = [{"sendAsEmail": box.address, "displayName": name, "replyToAddress": "", "signature": "",
                "isPrimary": True, "isDefault": True}]
    for alias in user.send_as if user else ():
        entries.append({"sendAsEmail": alias, "displayName": name, "replyToAddress": "", "signature": "",
                        "isDefault": False, "treatAsAlias": True, "verificationStatus": "accepted"})
    return {"sendAs": entries}


# -- messages.list -----------------------------------------------------------
def _query_time(value: str) -> int:
    """A q date as ms: epoch seconds, or YYYY/MM/DD (also with dashes) at midnight PST."""
    if value.isdigit():
        return int(value) * 1000
    for fmt in ("%Y/%m/%d", "%Y-%m-%d", "%m/%d/%Y"):
        try:
            day = dt.datetime.strptime(value, fmt).replace(tzinfo=GMAIL_QUERY_TZ)
        except ValueError:
            continue
        return int(day.timestamp() * 1000)
    raise errors.bad_request("Invalid query", reason="invalidArgument")


def _relative(value: str) -> int:
    match = re.fullmatch(r"(\d+)([dmy])", value)
    if not match:
        raise errors.bad_request("Invalid query", reason="invalidArgument")
    days = int(match.group(1)) * {"d": 1, "m": 30, "y": 365}[match.group(2)]
    return int((time.time() - days * 86400) * 1000)


QUERY_LABEL_WORDS = {
    "unread": "UNREAD", "starred": "STARRED", "important": "IMPORTANT", "sent": "SENT", "inbox": "INBOX",
    "spam": "SPAM", "trash": "TRASH", "draft": "DRAFT", "drafts": "DRAFT", "chat": "CHAT", "chats": "CHAT",
}  # fmt: skip
QUERY_HEADERS = {"from": "From", "to": "To", "cc": "Cc", "subject": "Subject", "list": "List-Id"}


def _since(limit: int):
    return lambda m: m.internal_date >= limit


def _until(limit: int):
    return lambda m: m.internal_date < limit


def _has_label(label: str):
    return lambda m: label in m.label_ids


def _header_contains(header: str, text: str):
    return lambda m: text in (m.header(header) or "").lower()


def _text_contains(text: str):
    def test(m: Message) -> bool:
        return any(text in (value or "").lower() for value in (m.header("Subject"), m.header("From"), m.body))

    return test


def compile_query(q: str, box: Mailbox):
    """Gmail's search operators Sidecar may use; other words match subject, sender or text."""
    tests, explicit_labels = [], set()
    try:
        terms = shlex.split(q)
    except ValueError:
        terms = q.split()
    for raw in terms:
        negate = raw.startswith("-")
        term = raw.lstrip("-")
        key, _, value = term.partition(":")
        key = key.lower()
        if not value:
            test = _text_contains(term.lower())
        elif key in ("after", "newer"):
            test = _since(_query_time(value))
        elif key in ("before", "older"):
            test = _until(_query_time(value))
        elif key == "newer_than":
            test = _since(_relative(value))
        elif key == "older_than":
            test = _until(_relative(value))
        elif key == "category":  # category:promotions -> CATEGORY_PROMOTIONS (primary is PERSONAL)
            label = "CATEGORY_" + {"primary": "PERSONAL"}.get(value.lower(), value.upper())
            explicit_labels.add(label)
            test = _has_label(label)
        elif key in ("in", "label", "is"):
            label = QUERY_LABEL_WORDS.get(value.lower())
            if label is None:
                label = next((i for i, n in box.user_labels.items() if n.lower() == value.lower()), value.upper())
            explicit_labels.add(label)
            test = _has_label(label)
        elif key in QUERY_HEADERS:
            test = _header_contains(QUERY_HEADERS[key], value.lower())
        else:
            test = _text_contains(term.lower())
        tests.append((negate, test))
    return tests, explicit_labels


def message_filter(call):
    """What a list call's labelIds, q and includeSpamTrash keep, as a test of one message."""
    params, box = call.params, call.mailbox
    label_ids = set(params.list("labelIds"))
    q = params.str("q")
    if q and metadata_only(call):
        raise errors.ApiError(403, "Metadata scope does not support 'q' parameter", "forbidden")
    tests, explicit = compile_query(q, box) if q else ([], set())
    hidden = set() if params.bool("includeSpamTrash") else {"SPAM", "TRASH"} - label_ids - explicit

    def matches(message: Message) -> bool:
        labels = message.label_ids
        if hidden and hidden.intersection(labels):
            return False
        if label_ids and not label_ids.issubset(labels):
            return False
        return all(test(message) != negate for negate, test in tests)

    return matches


def list_messages(call) -> dict:
    params, box = call.params, call.mailbox
    max_results = params.int("maxResults", MESSAGES_LIST_DEFAULT, MESSAGES_LIST_MAX) or MESSAGES_LIST_DEFAULT
    matches = message_filter(call)
    start = len(box.order)
    token = params.str("pageToken")
    if token:
        start = _decode_page_token(token, box)
    page, total, index = [], 0, start
    with call.world.lock:
        for index in range(start - 1, -1, -1):
            message = box.messages[box.order[index][1]]
            if matches(message):
                if len(page) < max_results:
                    page.append(message)
                    last_index = index
                total += 1
        body: dict = {}
        if page:
            body["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
            if total > len(page):
                body["nextPageToken"] = _encode_page_token(box.order[last_index])
    body["resultSizeEstimate"] = total
    return body


def _encode_page_token(key: tuple[int, str]) -> str:
    """Opaque decimal token like Gmail's: the position after which the next page starts."""
    return f"{key[0]:013d}{int(key[1], 16):020d}"


def _decode_page_token(token: str, box: Mailbox) -> int:
    if not token.isdigit() or len(token) <= 20:
        raise errors.bad_request("Invalid pageToken", reason="invalidArgument")
    key = (int(token[:-20]), format(int(token[-20:]), "x"))
    return bisect.bisect_left(box.order, key)


# -- threads.list ----------------------------------------------------------------
THREADS_LIST_DEFAULT = 100  # threads.list maxResults default
THREADS_LIST_MAX = 500  # threads.list maxResults maximum


def list_threads(call) -> dict:
    """Threads with at least one message the query keeps, newest such message first (as Gmail
    lists conversations); each once, at its newest kept message, across pages."""
    params, box = call.params, call.mailbox
    max_results = params.int("maxResults", THREADS_LIST_DEFAULT, THREADS_LIST_MAX) or THREADS_LIST_DEFAULT
    matches = message_filter(call)
    start = len(box.order)
    token = params.str("pageToken")
    if token:
        start = _decode_page_token(token, box)
    with call.world.lock:
        boundary = box.order[start] if start < len(box.order) else None

        def listed_before(message: Message) -> bool:  # on an earlier page: a newer kept message past the token
            return boundary is not None and any(
                key >= boundary and matches(box.messages[key[1]]) for key in box.threads[message.thread_id])

        page: list[tuple[Message, int]] = []
        seen: set[str] = set()
        total = 0
        for index in range(start - 1, -1, -1):
            message = box.messages[box.order[index][1]]
            if message.thread_id in seen or not matches(message):
                continue
            seen.add(message.thread_id)
            if token and listed_before(message):
                continue
            if len(page) < max_results:
                page.append((message, index))
            total += 1
        body: dict = {}
        if page:
            body["threads"] = [_thread_summary(box, newest.thread_id) for newest, _ in page]
            if total > len(page):
                body["nextPageToken"] = _encode_page_token(box.order[page[-1][1]])
    body["resultSizeEstimate"] = total
    return body


def _thread_summary(box: Mailbox, thread_id: str) -> dict:
    messages = box.thread_messages(thread_id)
    return {"id": thread_id, "snippet": messages[-1].snippet,
            "historyId": str(max(m.history_id for m in messages))}


# -- threads.get -------------------------------------------------------------------
def get_thread(call) -> dict:
    """Every message of the thread, oldest first, each rendered as messages.get renders it."""
    thread_id = call.path["id"]
    if not HEX_ID.match(thread_id):
        raise errors.bad_request("Invalid id value", reason="invalidArgument")
    fmt = call.params.str("format", "full")
    if fmt == "full" and metadata_only(call):
        raise errors.ApiError(403, "Metadata scope doesn't allow format FULL", "forbidden")
    headers = call.params.list("metadataHeaders")
    with call.world.lock:
        messages = call.mailbox.thread_messages(thread_id)
        if not messages:
            raise errors.not_found()
        return {"id": thread_id, "historyId": str(max(m.history_id for m in messages)),
                "messages": [render_message(m, fmt, headers) for m in messages]}


# -- messages.get --------------------------------------------------------------
def get_message(call) -> dict:
    message_id = call.path["id"]
    if not HEX_ID.match(message_id):
        raise errors.bad_request("Invalid id value", reason="invalidArgument")
    message = call.mailbox.messages.get(message_id)
    if message is None:
        raise errors.not_found()
    fmt = call.params.str("format", "full")
    if fmt in ("full", "raw") and metadata_only(call):
        raise errors.ApiError(403, f"Metadata scope doesn't allow format {fmt.upper()}", "forbidden")
    return render_message(message, fmt, call.params.list("metadataHeaders"))


def render_message(message: Message, fmt: str, metadata_headers: list[str] = ()) -> dict:
    body = {
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": list(message.label_ids),
        "snippet": message.snippet,
        "sizeEstimate": message.size_estimate,
        "historyId": str(message.history_id),
        "internalDate": str(message.internal_date),
    }
    if not message.label_ids:
        del body["labelIds"]
    if fmt == "metadata":
        wanted = {h.lower() for h in metadata_headers}
        headers = [h for h in message.headers if not wanted or h[0].lower() in wanted]
        body["payload"] = {
            "mimeType": "text/plain",
            "headers": [{"name": name, "value": value} for name, value in headers],
        }
    elif fmt == "full":
        data = message.body.encode("utf-8")
        body["payload"] = {
            "partId": "",
            "mimeType": "text/plain",
            "filename": "",
            "headers": [{"name": name, "value": value} for name, value in message.headers],
            "body": {"size": len(data), "data": base64.urlsafe_b64encode(data).decode("ascii")},
        }
    elif fmt == "raw":
        body["raw"] = base64.urlsafe_b64encode(message.raw()).decode("ascii")
    return body


# -- history.list ----------------------------------------------------------------
def list_history(call) -> dict:
    params, box = call.params, call.mailbox
    raw_start = params.str("startHistoryId")
    if raw_start is None:
        raise errors.bad_request("Missing required field: startHistoryId", reason="invalidArgument")
    if not raw_start.isdigit():
        raise errors.invalid_parameter("start_history_id", raw_start, "TYPE_UINT64")
    start = int(raw_start)
    if start < box.oldest_history_id:
        raise errors.not_found()
    max_results = params.int("maxResults", HISTORY_LIST_DEFAULT, HISTORY_LIST_MAX) or HISTORY_LIST_DEFAULT
    types = set(params.list("historyTypes")) or set(HISTORY_TYPES)
    label_id = params.str("labelId")
    token = params.str("pageToken")
    if token is not None:
        if not token.isdigit():
            raise errors.bad_request("Invalid pageToken", reason="invalidArgument")
        start = max(start, int(token))
    records = []
    next_token = None
    with call.world.lock:
        first = bisect.bisect_right(box.history, start, key=lambda r: r.id)
        for record in box.history[first:]:
            if record.kind not in types or (label_id and label_id not in record.label_ids):
                continue
            if len(records) == max_results:
                next_token = str(records[-1]["id"])
                break
            records.append(_render_record(record))
        body: dict = {}
        if records:
            body["history"] = records
        if next_token:
            body["nextPageToken"] = next_token
        body["historyId"] = str(box.history_id)
    return body


def _render_record(record) -> dict:
    ref = {"id": record.message_id, "threadId": record.thread_id}
    with_labels = dict(ref, labelIds=list(record.label_ids)) if record.label_ids else dict(ref)
    item = {"id": str(record.id), "messages": [ref]}
    if record.kind == "messageAdded":
        item["messagesAdded"] = [{"message": with_labels}]
    elif record.kind == "messageDeleted":
        item["messagesDeleted"] = [{"message": with_labels}]
    elif record.kind == "labelAdded":
        item["labelsAdded"] = [{"message": with_labels, "labelIds": list(record.changed_labels)}]
    else:
        item["labelsRemoved"] = [{"message": with_labels, "labelIds": list(record.changed_labels)}]
    return item


# -- watch / stop -------------------------------------------------------------------
TOPIC_NAME = re.compile(r"^projects/[^/]+/topics/[^/]+$")


def watch(call) -> dict:
    topic = (call.json or {}).get("topicName", "")
    if not TOPIC_NAME.match(topic):
        raise errors.bad_request(
            "Invalid topicName does not match projects/SOME-ANDROID-PROJECT/topics/*", reason="invalidArgument"
        )
    box = call.mailbox
    box.watch_expiration = int(time.time() * 1000) + WATCH_LIFETIME_MS
    if call.world.push is not None:
        call.world.push.watch_gmail(box.address, topic)
    return {"historyId": str(box.history_id), "expiration": str(box.watch_expiration)}


def stop(call) -> None:
    call.mailbox.watch_expiration = None
    if call.world.push is not None:
        call.world.push.stop_gmail(call.mailbox.address)
    return None


HANDLERS = {
    "gmail.users.getProfile": get_profile,
    "gmail.users.labels.list": list_labels,
    "gmail.users.settings.sendAs.list": list_send_as,
    "gmail.users.messages.list": list_messages,
    "gmail.users.messages.get": get_message,
    "gmail.users.history.list": list_history,
    "gmail.users.threads.list": list_threads,
    "gmail.users.threads.get": get_thread,
    "gmail.users.watch": watch,
    "gmail.users.stop": stop,
}
