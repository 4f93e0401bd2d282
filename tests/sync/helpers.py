"""What the sync tests read back: the simulator's ground truth and a comparable snapshot of Firestore."""

from __future__ import annotations

from email.utils import getaddresses

from models.addresses import is_role_address, normalize_email
from models.repository import Repository

ROLE_OR_BULK_HEADERS = ("list-id", "list-unsubscribe", "precedence", "auto-submitted")


def people_written_to_or_met(sim, domain: str) -> set[str]:
    """External, non-role people a rep sent mail to or met with (the default auto-create policy)."""
    people = set()
    for rep in sim.reps:
        for message in sim.world.mailboxes[rep].messages.values():
            if {"SPAM", "TRASH", "DRAFT", "CHAT"} & set(message.label_ids):
                continue
            if any(message.header(h) for h in ROLE_OR_BULK_HEADERS):
                continue
            sender = normalize_email(message.header("From") or "")
            if not sender.endswith("@" + domain):
                continue
            for header in ("To", "Cc"):
                for _, address in getaddresses([message.header(header) or ""]):
                    people.add(normalize_email(address))
        for event_id in sim.world.calendars[rep].event_ids:
            event = sim.world.events[event_id]
            if event.status == "cancelled":
                continue
            for person in [event.organizer, *event.attendees]:
                if person.response_status != "declined":
                    people.add(person.email.lower())
    return {p for p in people if not p.endswith("@" + domain) and not is_role_address(p)}


def snapshot(repo: Repository) -> dict:
    """Everything sync decides, minus what is only a wall-clock stamp or a race's winner."""
    activities = {}
    for s in repo.root.collection("activities").stream():
        data = s.to_dict()
        activities[s.id] = (tuple(sorted(data["holders"].items())), tuple(sorted(data["contact_ids"])),
                            data["subject"], data["direction"], tuple(sorted(p["email"] for p in data["participants"])))
    contacts = {}
    for s in repo.root.collection("contacts").stream():
        data = s.to_dict()
        contacts[s.id] = (tuple(data["emails"]), data.get("company_id"), data.get("last_activity_at"),
                          tuple(sorted((data.get("touches") or {}).items())),
                          (data.get("job_change") or {}).get("email"), tuple(sorted(data.get("timeline_months") or [])))
    timelines = {}
    for contact_id in contacts:
        for s in repo.contact_ref(contact_id).collection("timeline").stream():
            timelines[(contact_id, s.id)] = tuple(sorted((s.to_dict().get("entries") or {}).keys()))
    companies = {s.id: s.to_dict().get("last_activity_at") for s in repo.root.collection("companies").stream()}
    message_index = {}
    for mailbox in repo.root.collection("mailboxes").list_documents():
        for s in mailbox.collection("message_index").stream():
            message_index.update({(mailbox.id, gmail_id): activity_id
                                  for gmail_id, activity_id in (s.to_dict().get("ids") or {}).items()})
    return {"activities": activities, "contacts": contacts, "timelines": timelines, "companies": companies,
            "message_index": message_index}


CONTACT_FIELDS = ("emails", "company_id", "last_activity_at", "touches", "job_change", "timeline_months")


def differences(got: dict, want: dict) -> list[str]:
    """Where two snapshots part, one line a document (a contact's by field name): what a failed convergence
    assertion shows in full, where pytest's diff of the whole dicts is cut short."""
    lines = []
    for section in sorted(set(got) | set(want)):
        mine, theirs = got.get(section, {}), want.get(section, {})
        for key in sorted(set(mine) | set(theirs), key=repr):
            a, b = mine.get(key, "<missing>"), theirs.get(key, "<missing>")
            if a == b:
                continue
            if section == "contacts" and isinstance(a, tuple) and isinstance(b, tuple):
                parted = {name: (x, y) for name, x, y in zip(CONTACT_FIELDS, a, b, strict=True) if x != y}
                lines.append(f"contacts[{key}] emails={a[0]} {parted} (got, want)")
            else:
                lines.append(f"{section}[{key!r}]: got {a!r} want {b!r}")
    return lines
