"""The admin card (SPEC §1): mailboxes and their sync health, privacy, exclusions, auto-create,
custom field definitions and who the admins are. Reached from the home page by admins only;
every action it offers re-checks admin rights on the server (`addon.admin`)."""

from __future__ import annotations

from typing import Any

from cards.people import Viewer
from cards.timeline import fmt_datetime
from cards.widgets import (
    Widget,
    bold,
    button,
    button_list,
    card,
    checkboxes,
    decorated_text,
    error_text,
    esc,
    muted,
    paragraph,
    section,
    selection_input,
    text_input,
)
from models.domain import (
    AUTO_CREATE_POLICIES,
    CUSTOM_FIELD_TYPES,
    DEPARTED_BY_DIRECTORY,
    GMAIL_CATEGORIES,
    Mailbox,
    MailboxState,
    Segment,
    Settings,
)
from models.progress import import_label, tenant_import_label, time_left_label

PRIVACY_LABELS = {
    "metadata": "Metadata: teammates see who and when",
    "subject": "Subject: teammates also see the subject",
    "snippet": "Snippet: teammates also see Gmail's snippet",
}
AUTO_CREATE_LABELS = {
    "outbound": "People the team wrote to or met with",
    "all": "Also people who only wrote to the team",
    "none": "Nobody: contacts are added by hand",
}
CATEGORY_LABELS = {"promotions": "Promotions", "social": "Social", "forums": "Forums", "updates": "Updates"}
TYPE_LABELS = {"text": "Text", "number": "Number", "date": "Date", "select": "Single select"}
APPLIES_LABELS = {"contact": "Contacts", "company": "Companies"}


def mailbox_widgets(mailboxes: list[Mailbox], viewer: Viewer) -> list[Widget]:
    rows: list[Widget] = []
    for mailbox in sorted(mailboxes, key=lambda m: m.email):
        healthy = mailbox.state in (MailboxState.OK, MailboxState.SYNCING, MailboxState.NEW)
        state = esc(mailbox.state) if healthy else f'<font color="#B3261E"><b>{esc(mailbox.state)}</b></font>'
        bottom = f"Last success {fmt_datetime(mailbox.last_success_at, viewer.tz)}"
        if mailbox.last_error:
            bottom += f" · last error {mailbox.last_error[:120]} ({fmt_datetime(mailbox.last_error_at, viewer.tz)})"
        importing = import_label(mailbox)
        if importing:
            bottom = f"{importing.capitalize()}{time_left_label(mailbox)} · {bottom}"
        if mailbox.state == MailboxState.DEPARTED:
            bottom = f"Left {fmt_datetime(mailbox.departed_at, viewer.tz)}: history kept, no longer synced"
            act = button("Reassign contacts", viewer.act("admin_reassign_form", email=mailbox.email))
        else:
            act = button("Mark departed", viewer.act("admin_departure", email=mailbox.email))
        rows.append(decorated_text(f"{esc(mailbox.email)} · {state}", bottom_label=bottom, icon="EMAIL",
                                   button_=act))
    total = tenant_import_label(mailboxes)
    if total:
        rows.insert(0, paragraph(f"History import: {esc(total)}"))
    return rows or [paragraph(muted("No mailbox has synced yet. Run python -m sync once."))]


def reassign_form(rep: str, departed_by: str | None, segments: list[Segment], viewer: Viewer,
                  error: str | None = None, typed: dict[str, str] | None = None) -> dict[str, Any]:
    """Hand a departed rep's contacts to teammates: one, several (round-robin), or one segment's only."""
    typed = typed or {}
    widgets: list[Widget] = [error_text(error)] if error else []
    widgets += [
        paragraph(f"{esc(rep)} left. Their history stays on every timeline; choose who owns their contacts now."),
        text_input("reassign_to", "Teammates", typed.get("reassign_to", ""),
                   hint="One address, or several separated by commas: contacts are shared out in turn"),
        selection_input("segment_id", "Which contacts",
                        [("All their contacts", ""), *((f"Only segment: {s.name}", s.id) for s in segments)],
                        typed.get("segment_id", "")),
        button_list(button("Reassign", viewer.act("admin_reassign", email=rep), filled=True)),
    ]
    if departed_by not in (None, DEPARTED_BY_DIRECTORY):
        widgets.append(button_list(button("They are back: sync them again",
                                          viewer.act("admin_departure", email=rep, back="1"))))
    return card("reassign", "Reassign contacts", [section(widgets)], subtitle=rep)


def reassign_report_card(lines: list[str], moved: dict[str, int], viewer: Viewer) -> dict[str, Any]:
    widgets: list[Widget] = [paragraph(esc(line)) for line in lines]
    widgets += [decorated_text(esc(rep), bottom_label=f"{count} contacts now theirs", icon="PERSON")
                for rep, count in moved.items()]
    widgets.append(button_list(button("Back to admin", viewer.act("admin"))))
    return card("reassign_report", "Reassignment done", [section(widgets)])


def private_count_widgets(counts: dict[str, dict[str, int]]) -> list[Widget]:
    """Per rep, how many threads and people they keep private (counts only: never what)."""
    rows = [decorated_text(esc(rep), bottom_label=f"{n['threads']} threads · {n['people']} people kept private",
                           icon="PERSON")
            for rep, n in sorted(counts.items()) if n["threads"] or n["people"]]
    return rows or [paragraph(muted("No rep has made a thread or a person private."))]


def admin_card(settings: Settings, mailboxes: list[Mailbox], viewer: Viewer, error: str | None = None,
               inputs: dict[str, str] | None = None,
               private_counts: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """`inputs` carries what the admin typed back into the form when it was refused; `private_counts`
    what each rep made private (`Repository.private_counts`)."""
    typed = inputs or {}
    top: list[Widget] = [error_text(error)] if error else []
    sections = []
    if top:
        sections.append(section(top))
    sections.append(section(mailbox_widgets(mailboxes, viewer), header="Mailboxes and sync health"))

    sections.append(section([
        selection_input("privacy_level", "What teammates see of another rep's email",
                        [(label, key) for key, label in PRIVACY_LABELS.items()], settings.privacy_level),
        selection_input("auto_create", "Who becomes a contact automatically",
                        [(AUTO_CREATE_LABELS[p], p) for p in AUTO_CREATE_POLICIES], settings.auto_create),
        checkboxes("skipped_categories", "Gmail tabs never imported (fewer quota units; mostly bulk mail)",
                   [(CATEGORY_LABELS[c], c) for c in GMAIL_CATEGORIES], settings.skipped_categories),
        button_list(button("Save policy", viewer.act("admin_policy"), filled=True)),
        paragraph(muted("The level is a ceiling: a rep can keep a thread, or everything with one person, to "
                        "who and when; private calendar events show teammates only a meeting and its time.")),
        *private_count_widgets(private_counts or {}),
        # in this section, whose header list the admin card keeps: the thresholds are policy too
        paragraph(bold("Needs attention") + " " + muted("when a contact shows there and in signal segments")),
        text_input("waiting_on_us_days", "Waiting on us after (working days)",
                   typed.get("waiting_on_us_days", str(settings.waiting_on_us_days))),
        text_input("waiting_on_them_days", "Waiting on them after (working days)",
                   typed.get("waiting_on_them_days", str(settings.waiting_on_them_days))),
        text_input("cold_after_days", "Going cold after at least (days)",
                   typed.get("cold_after_days", str(settings.cold_after_days))),
        button_list(button("Save thresholds", viewer.act("admin_attention"), filled=True)),
    ], header="Privacy and auto-create"))

    exclusions: list[Widget] = [
        paragraph(muted("Mail with these addresses or domains (and their subdomains) is never stored; "
                        "adding one removes what is already stored.")),
    ]
    for entry in settings.exclusions:
        exclusions.append(decorated_text(esc(entry), icon="DESCRIPTION",
                                         button_=button("Remove", viewer.act("admin_remove_exclusion", entry=entry))))
    exclusions += [text_input("exclusion", "Address or domain to exclude", typed.get("exclusion", ""),
                              hint="pat@lawfirm.com or lawfirm.com"),
                   button_list(button("Exclude and remove stored mail", viewer.act("admin_add_exclusion")))]
    sections.append(section(exclusions, header="Exclusions"))

    fields: list[Widget] = []
    for definition in settings.custom_fields:
        detail = f"{TYPE_LABELS.get(definition.type, definition.type)} · {APPLIES_LABELS[definition.applies_to]}"
        if definition.options:
            detail += " · " + ", ".join(definition.options)
        fields.append(decorated_text(bold(definition.label), top_label=definition.key, bottom_label=detail,
                                     button_=button("Remove", viewer.act("admin_remove_field", key=definition.key,
                                                                         applies_to=definition.applies_to))))
    if not settings.custom_fields:
        fields.append(paragraph(muted("No custom fields yet.")))
    fields += [
        text_input("field_label", "New field label", typed.get("field_label", ""), hint="e.g. Renewal date"),
        text_input("field_key", "Key (optional)", typed.get("field_key", ""),
                   hint="lower case, digits and _; made from the label when empty"),
        selection_input("field_type", "Type", [(TYPE_LABELS[t], t) for t in CUSTOM_FIELD_TYPES],
                        typed.get("field_type", "text")),
        text_input("field_options", "Options (single select)", typed.get("field_options", ""),
                   hint="Comma-separated, e.g. EMEA, APAC, Americas"),
        selection_input("field_applies_to", "Applies to", [(label, key) for key, label in APPLIES_LABELS.items()],
                        typed.get("field_applies_to", "contact")),
        button_list(button("Add field", viewer.act("admin_add_field"))),
    ]
    sections.append(section(fields, header="Custom fields"))

    admins: list[Widget] = [paragraph(muted("The operator's SIDECAR_ADMIN_EMAIL is always an admin."))]
    for email in settings.admins:
        remove = None if email == viewer.rep else button("Remove", viewer.act("admin_remove_admin", email=email))
        admins.append(decorated_text(esc(email), icon="PERSON", button_=remove))
    admins += [text_input("admin_email", "Teammate to make admin", typed.get("admin_email", "")),
               button_list(button("Add admin", viewer.act("admin_add_admin")))]
    sections.append(section(admins, header="Admins"))
    return card("admin", "Sidecar admin", sections, subtitle=viewer.rep)


def not_admin_card() -> dict[str, Any]:
    return card("not_admin", "Admins only",
                [section([error_text("Only a Sidecar admin of your workspace can do this."),
                          paragraph("Ask an admin to add you on the admin card.")])])
