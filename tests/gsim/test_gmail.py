"""Gmail through the real googleapiclient: listing, gets, history, errors."""

from __future__ import annotations

import pytest
import requests
from googleapiclient.errors import HttpError

from .helpers import error_body, list_all

SYNC_HEADERS = ["From", "To", "Cc", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe"]


def test_full_listing_pages_through_every_message_newest_first(simulator, gmail, rep):
    pages = list_all(gmail.users().messages().list, userId="me", maxResults=50, includeSpamTrash=True)
    ids = [m["id"] for page in pages for m in page.get("messages", [])]
    assert len(pages) == 3
    assert "nextPageToken" not in pages[-1]
    assert len(ids) == len(set(ids)) == gmail.users().getProfile(userId="me").execute()["messagesTotal"]
    dates = [simulator.world.mailbox(rep).messages[i].internal_date for i in ids]
    assert dates == sorted(dates, reverse=True)


def test_spam_and_trash_are_left_out_unless_asked_for(simulator, gmail, rep):
    default = {
        m["id"] for p in list_all(gmail.users().messages().list, userId="me", maxResults=500) for m in p["messages"]
    }
    spam = gmail.users().messages().list(userId="me", labelIds=["SPAM"]).execute().get("messages", [])
    assert spam, "the generator files some mail as SPAM"
    assert not default & {m["id"] for m in spam}


def test_metadata_get_returns_only_the_requested_headers(gmail):
    first = gmail.users().messages().list(userId="me", maxResults=1).execute()["messages"][0]
    message = (
        gmail.users().messages().get(userId="me", id=first["id"], format="metadata", metadataHeaders=SYNC_HEADERS)
    ).execute()
    names = {h["name"] for h in message["payload"]["headers"]}
    assert names <= set(SYNC_HEADERS) and {"From", "Subject", "Message-ID"} <= names
    assert isinstance(message["historyId"], str) and message["historyId"].isdigit()
    assert isinstance(message["internalDate"], str) and isinstance(message["sizeEstimate"], int)
    minimal = gmail.users().messages().get(userId="me", id=first["id"], format="minimal").execute()
    assert "payload" not in minimal and minimal["snippet"] == message["snippet"]


def test_query_after_and_before_select_by_internal_date(simulator, gmail, rep):
    box = simulator.world.mailbox(rep)
    dates = sorted(m.internal_date for m in box.messages.values() if "SPAM" not in m.label_ids)
    middle = dates[len(dates) // 2] // 1000
    after = list_all(gmail.users().messages().list, userId="me", q=f"after:{middle}", maxResults=500)
    before = list_all(gmail.users().messages().list, userId="me", q=f"before:{middle}", maxResults=500)
    after_ids = [m["id"] for p in after for m in p.get("messages", [])]
    before_ids = [m["id"] for p in before for m in p.get("messages", [])]
    assert all(box.messages[i].internal_date >= middle * 1000 for i in after_ids)
    assert all(box.messages[i].internal_date < middle * 1000 for i in before_ids)
    assert len(after_ids) + len(before_ids) == len(dates)


def test_a_new_message_is_exactly_what_history_list_returns(simulator, gmail, rep):
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    added = simulator.add_message(rep, sender="Jane Doe <jane@acme.co.uk>", to=[rep], subject="Fresh")
    history = gmail.users().history().list(userId="me", startHistoryId=start).execute()
    assert [m["message"]["id"] for h in history["history"] for m in h.get("messagesAdded", [])] == [added.id]
    assert int(history["historyId"]) > int(start)

    simulator.delete_message(rep, added.id)
    again = (
        gmail.users()
        .history()
        .list(userId="me", startHistoryId=history["historyId"], historyTypes=["messageDeleted"])
        .execute()
    )
    assert [m["message"]["id"] for h in again["history"] for m in h["messagesDeleted"]] == [added.id]
    with pytest.raises(HttpError) as gone:
        gmail.users().messages().get(userId="me", id=added.id).execute()
    assert gone.value.status_code == 404


def test_history_pages_and_reports_nothing_when_nothing_changed(simulator, gmail, rep):
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    quiet = gmail.users().history().list(userId="me", startHistoryId=start).execute()
    assert "history" not in quiet and quiet["historyId"] == start
    ids = [simulator.add_message(rep, subject=f"n{i}").id for i in range(5)]
    pages = list_all(gmail.users().history().list, userId="me", startHistoryId=start, maxResults=2)
    assert len(pages) == 3
    assert [m["message"]["id"] for p in pages for h in p["history"] for m in h["messagesAdded"]] == ids


def test_an_expired_history_id_answers_404_as_google_does(simulator, gmail, rep):
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    simulator.add_message(rep, subject="after start")
    simulator.expire_history(rep)
    with pytest.raises(HttpError) as expired:
        gmail.users().history().list(userId="me", startHistoryId=start).execute()
    assert expired.value.status_code == 404
    assert error_body(expired.value) == {
        "code": 404,
        "message": "Requested entity was not found.",
        "errors": [{"message": "Requested entity was not found.", "domain": "global", "reason": "notFound"}],
        "status": "NOT_FOUND",
    }


def test_unknown_ids_and_other_users_are_refused(simulator, gmail):
    with pytest.raises(HttpError) as missing:
        gmail.users().messages().get(userId="me", id="18c0000000000000").execute()
    assert missing.value.status_code == 404
    with pytest.raises(HttpError) as other:
        gmail.users().getProfile(userId=simulator.reps[1]).execute()
    assert other.value.status_code == 403


def test_calls_without_a_valid_token_get_401(simulator, rep):
    url = simulator.url + "gmail/v1/users/me/profile"
    missing = requests.get(url, timeout=5)
    assert missing.status_code == 401 and missing.json()["error"]["errors"][0]["reason"] == "required"
    forged = requests.get(url, headers={"Authorization": "Bearer ya29.forged"}, timeout=5)
    assert forged.status_code == 401 and forged.json()["error"]["status"] == "UNAUTHENTICATED"


def test_parameters_the_method_does_not_declare_are_refused(simulator, gmail):
    request = gmail.users().messages().list(userId="me")
    request.uri += "&labelId=INBOX"  # the history.list spelling, wrong here
    with pytest.raises(HttpError) as bad:
        request.execute()
    assert bad.value.status_code == 400 and "labelId" in error_body(bad.value)["message"]


def test_watch_and_stop(gmail):
    with pytest.raises(HttpError):
        gmail.users().watch(userId="me", body={"topicName": "not-a-topic"}).execute()
    watch = gmail.users().watch(userId="me", body={"topicName": "projects/p/topics/gmail"}).execute()
    assert watch["historyId"].isdigit() and watch["expiration"].isdigit()
    assert gmail.users().stop(userId="me").execute() == ""
