"""A rep's own privacy marks (models.rep_privacy): a thread, or everything with one person; undoable.

`rep_privacy` marks (or with `share=1` undoes) for one person (`contact_id`),
or with `thread` for that conversation with the message's people
(`contact_ids`, besides `contact_id`). Marking twice or undoing what is not
marked changes nothing (the marks are transforms).
"""

from __future__ import annotations

import logging
import re

from addon.actions import action
from addon.context import Request
from addon.events import CONTACT_ID, BadEvent
from cards import responses
from models.repository import NotFound

log = logging.getLogger(__name__)

THREAD_KEY = re.compile(r"[0-9a-f]{16}")  # models.rep_privacy.thread_key
THREAD_CONTACTS_MAX = 25  # contacts a thread's mark names: the people a message card shows, and then some


@action("rep_privacy")
def rep_privacy(req: Request) -> dict:
    private = req.event.parameters.get("share") != "1"
    contact_id = req.event.parameter("contact_id")
    thread = req.event.parameters.get("thread")
    if thread is None:
        try:
            contact = req.repo.get_contact(contact_id)
        except NotFound:
            return responses.notify("That contact no longer exists.")
        req.repo.set_person_private(req.rep, contact.id, private)
        done = (f"Teammates now see only who and when of your emails with {contact.display_name}." if private
                else f"Your emails with {contact.display_name} are shared with the team again.")
    else:
        listed = (req.event.parameters.get("contact_ids") or "").split(",")
        ids = [cid for cid in dict.fromkeys([contact_id, *listed]) if cid]
        if not THREAD_KEY.fullmatch(thread) or len(ids) > THREAD_CONTACTS_MAX \
                or not all(CONTACT_ID.fullmatch(cid) for cid in ids):
            raise BadEvent("invalid thread privacy parameters")
        known = req.repo.get_contacts(ids)
        if not known:
            return responses.notify("Those contacts no longer exist.")
        req.repo.set_thread_private(req.rep, known, thread, private)
        done = ("Teammates now see only who and when of this thread." if private
                else "This thread is shared with the team again.")
    log.info("rep privacy tenant=%s rep=%s scope=%s private=%s", req.identity.tenant, req.rep,
             "thread" if thread is not None else "person", private)
    return responses.notify(done)
