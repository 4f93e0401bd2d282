"""The admin card (SPEC §1): mailboxes and their sync health, privacy, exclusions, auto-create,
custom field definitions and who the admins are. Reached from the home page by admins only;
every action it offers re-checks admin rights on the server (`addon.admin`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cards.people import Viewer
from cards.timeline import fmt_datetime
from cards.widgets import (
    MAX_WIDGETS,
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
    utcnow,
)
from models.health import ATTENTION_MAX, SyncHealth, age, counted, held, lease_label, watch_label
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
# The tenant's lists sync reads (issue #16): Settings field, label, hint.
LISTS = (
    ("internal_domains", "The team's other domains", "Secondary domains and domain aliases: mail there is internal"),
    ("machine_addresses", "Machine senders, never contacts", "An address, a domain, or a pattern such as *-bot@*"),
    ("free_mail_domains", "Free-mail domains, never companies", "e.g. a regional provider: familia-post.pt"),
)
SYNC_SUMMARY_WIDGETS = 3  # the queue line, the tenant's import and "the first N mailboxes"
# Rows the sync section lists: Google's widgets a section, less the summary lines and the failed mailboxes the
# dispatcher names (listed too when they are not among the first ones: `Repository.admin_view`).
MAILBOXES_SHOWN = MAX_WIDGETS - SYNC_SUMMARY_WIDGETS - ATTENTION_MAX
TYPE_LABELS = {"text": "Text", "number": "Number", "date": "Date", "select": "Single select"}
APPLIES_LABELS = {"contact": "Contacts", "company": "Companies"}


def mailbox_widgets(mailboxes: list[Mailbox], viewer: Viewer, sync: SyncHealth | None = None,
                    distributed: bool = False, now: dt.datetime | None = None) -> list[Widget]:
    """One row a mailbox; with `sync` (`Repository.admin_view`), the queue's line first and each row's lease,
    push watch and last push (its mailboxes keep their order: failed ones first)."""
    now = now or utcnow()
    rows: list[Widget] = []
    listed = sync.mailboxes if sync is not None else sorted(mailboxes, key=lambda m: m.email)
    for mailbox in listed:
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
            if sync is not None:
                bottom = " · ".join([bottom, *sync_labels(sync, mailbox.email, now)])
        rows.append(decorated_text(f"{esc(mailbox.email)} · {state}", bottom_label=bottom, icon="EMAIL",
                                   button_=act))
    total = tenant_import_label(listed)
    if total:
        rows.insert(0, paragraph(f"History import: {esc(total)}"))
    if not rows:
        rows = [paragraph(muted("No mailbox has synced yet. Run python -m sync once."))]
    if sync is not None:
        rows.insert(0, paragraph(queue_line(sync, distributed, now)))
        if sync.more:
            rows.append(paragraph(muted(f"The first {MAILBOXES_SHOWN} mailboxes, failed ones first; "
                                        "python -m sync status lists every one.")))
    return rows


def queue_line(sync: SyncHealth, distributed: bool, now: dt.datetime) -> str:
    """The queue's depth as the dispatcher measured it (`models.health`), or "single process" without one."""
    queue = sync.queue
    if queue is not None and (distributed or not queue.stale(now)):  # a stale one outside distributed mode:
        return f"{bold('Sync queue')} {esc(queue.summary(now))}"  # left by a deployment that has moved on
    if distributed:
        return f"{bold('Sync queue')} {esc('no measurement yet: is python -m sync dispatch running?')}"
    return (f"{bold('Sync')} {esc('single process (python -m sync run): no queue')}; "
            f"{counted(sync.leases_held(now), 'lease')} held")


def sync_labels(sync: SyncHealth, email: str, now: dt.datetime) -> list[str]:
    """A row's lease (who syncs it now, for how long yet), push watch expiry and last push, where there are any."""
    labels = []
    lease = sync.leases.get(email)
    if lease is not None and lease.owner:
        labels.append(f"syncing now ({lease_label(lease, now)} left)" if held(lease, now)
                      else f"lease {lease_label(lease, now)}")
    watch = sync.watches.get(email)
    if watch is not None:
        watching = watch_label(watch, now)
        if watching != "-":
            labels.append(f"watch {watching}")
        if watch.last_push_at is not None:
            labels.append(f"last push {age(watch.last_push_at, now)} ago")
    return labels


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
               private_counts: dict[str, dict[str, int]] | None = None, sync: SyncHealth | None = None,
               distributed: bool = False, now: dt.datetime | None = None) -> dict[str, Any]:
    """`inputs` carries what the admin typed back into the form when it was refused; `private_counts`
    what each rep made private (`Repository.private_counts`); `sync` the mailboxes with their leases, watches
    and the queue (`Repository.admin_view`, which then replaces `mailboxes`), `distributed` whether this
    deployment runs the sync on Pub/Sub (SIDECAR_SYNC_TOPIC)."""
    typed = inputs or {}
    top: list[Widget] = [error_text(error)] if error else []
    sections = []
    if top:
        sections.append(section(top))
    sections.append(section(mailbox_widgets(mailboxes, viewer, sync, distributed, now),
                            header="Mailboxes and sync health"))

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
        paragraph(muted("Who sync counts as the team, as a machine or as free mail, one entry a line.")),
        *(text_input(name, label, typed.get(name, "\n".join(getattr(settings, name))), multiline=True, hint=hint)
          for name, label, hint in LISTS),
        button_list(button("Save lists", viewer.act("admin_lists"))),
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
