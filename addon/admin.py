"""Admin actions: the admin card and every change it makes to the tenant's settings (SPEC §1, §9).

Who is an admin: a rep listed in `Settings.admins`, and always the operator's
`SIDECAR_ADMIN_EMAIL` (the Workspace admin sync already impersonates for the
Directory). That variable is the bootstrap: on a fresh tenant the list is empty
and only that person can open the admin card and add others; "the first rep to
open the card becomes admin" would hand a company's privacy settings to whoever
clicks first. An admin cannot remove themselves (no lock-out by a slip), and a
tenant whose operator set no SIDECAR_ADMIN_EMAIL has no admin until the list is
written (e.g. by `Repository.save_settings`) — a safe default: nothing changes.

Every handler here checks admin rights on the server before it reads a form
input, whatever card the request claims to come from; a non-admin gets the
"Admins only" card and nothing is written. Settings are read again right
before each change, so the change applies to what is stored, not to what the
card showed.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable

from addon.actions import Handler, action
from addon.actions.forms import Invalid, check_teammate, text
from addon.context import Request
from addon.push import pubsub_settings
from cards import admin as admin_cards
from cards import responses
from cards.admin import LISTS, MAILBOXES_SHOWN, admin_card, not_admin_card
from models import rules
from models.addresses import EMAIL_MAX_LENGTH, domain_matches, exclusion_entry, fold, registrable_domain
from models.domain import (
    AUTO_CREATE_POLICIES,
    CUSTOM_FIELD_TYPES,
    GMAIL_CATEGORIES,
    PRIVACY_LEVELS,
    CustomFieldDefinition,
    Mailbox,
    MailboxState,
    Settings,
)
from models.privacy import purge_exclusion
from models.reassign import reassign_contacts
from models.segments import list_segments

log = logging.getLogger(__name__)

FIELD_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
FIELD_LABEL_MAX = 50
FIELD_OPTION_MAX = 50  # characters in one select option
FIELD_OPTIONS_MAX = 50  # options of one select field
CUSTOM_FIELDS_MAX = 30  # per record type: the edit form lists them all in one section
EXCLUSIONS_MAX = 1000


def admin_only(handler: Callable[[Request], dict]) -> Handler:
    """Refuse non-admins before anything is read from the form or written."""
    @functools.wraps(handler)
    def checked(req: Request) -> dict:
        if not req.is_admin:
            log.warning("admin action refused rep=%s tenant=%s", req.rep, req.identity.tenant)
            return responses.update_card(not_admin_card(), "Admins only")
        return handler(req)
    return checked


def show(req: Request, notification: str | None = None, error: str | None = None,
         inputs: dict[str, str] | None = None, push: bool = False) -> dict:
    """The admin card: `admin_view` is one query bounded by what the card can show (one document per rep,
    never behind a rep's card) and one `get_all` (leases, watches, the queue's health); `private_counts` one more.

    Distributed or not is this process's SIDECAR_SYNC_TOPIC (the web service sets it for `/push/calendar`).
    """
    view = req.repo.admin_view(MAILBOXES_SHOWN)
    counts = req.repo.private_counts(view.emails())
    card = admin_card(req.settings, view.mailboxes, req.viewer, error=error, inputs=inputs, private_counts=counts,
                      sync=view, distributed=pubsub_settings().distributed)
    return responses.push_card(card, notification) if push else responses.update_card(card, notification or error)


def fresh(req: Request) -> Settings:
    """The stored settings now (the request's cached copy is refreshed too)."""
    req._settings = req.repo.get_settings()
    return req._settings


def save(req: Request, settings: Settings) -> None:
    req.repo.save_settings(settings)
    req._settings = settings


@action("admin")
@admin_only
def open_admin(req: Request) -> dict:
    return show(req, push=True)


@action("admin_policy")
@admin_only
def set_policy(req: Request) -> dict:
    level, policy = text(req, "privacy_level"), text(req, "auto_create")
    settings = fresh(req)
    if level not in PRIVACY_LEVELS:
        return show(req, error=f"Choose a privacy level: {', '.join(PRIVACY_LEVELS)}.")
    if policy not in AUTO_CREATE_POLICIES:
        return show(req, error=f"Choose an auto-create policy: {', '.join(AUTO_CREATE_POLICIES)}.")
    categories = req.event.inputs("skipped_categories")  # none checked: the input is absent, every tab imported
    if any(c not in GMAIL_CATEGORIES for c in categories):
        return show(req, error=f"Gmail tabs are {', '.join(GMAIL_CATEGORIES)}.")
    settings.privacy_level, settings.auto_create = level, policy
    settings.skipped_categories = [c for c in GMAIL_CATEGORIES if c in categories]
    save(req, settings)
    log.info("admin policy tenant=%s rep=%s privacy=%s auto_create=%s skipped=%s", req.identity.tenant, req.rep,
             level, policy, ",".join(settings.skipped_categories))
    return show(req, "Policy saved")


ATTENTION_LIMITS = {"waiting_on_us_days": (1, 30), "waiting_on_them_days": (1, 60),
                    "cold_after_days": (7, 365)}  # what a threshold may be; beyond, the signal means nothing


@action("admin_attention")
@admin_only
def set_attention(req: Request) -> dict:
    """The tenant's "Needs attention" thresholds (models.signals.Thresholds), each a whole number in its range."""
    typed = {name: text(req, name).strip() for name in ATTENTION_LIMITS}
    settings = fresh(req)
    for name, (low, high) in ATTENTION_LIMITS.items():
        if not typed[name].isdigit() or not low <= int(typed[name]) <= high:
            return show(req, error=f"Each threshold is a whole number: {name.replace('_', ' ')} from {low} to {high}.",
                        inputs=typed)
    for name in ATTENTION_LIMITS:
        setattr(settings, name, int(typed[name]))
    save(req, settings)
    log.info("admin attention tenant=%s rep=%s %s", req.identity.tenant, req.rep,
             " ".join(f"{k}={v}" for k, v in typed.items()))
    return show(req, "Thresholds saved")


@action("admin_lists")
@admin_only
def set_lists(req: Request) -> dict:
    """The team's other domains, its machine senders and its free-mail domains (cards.admin.LISTS).

    Sync reads them at the start of each pass; contacts and companies already made stay as they are.
    """
    typed = {name: text(req, name) for name, _, _ in LISTS}
    settings = fresh(req)
    try:
        internal = rules.check_entries(typed["internal_domains"], rules.check_domain, "The team's other domains")
        machines = rules.check_entries(typed["machine_addresses"], rules.check_machine_entry, "Machine senders")
        free_mail = rules.check_entries(typed["free_mail_domains"], rules.check_domain, "Free-mail domains")
    except Invalid as exc:
        return show(req, error=str(exc), inputs=typed)
    settings.internal_domains, settings.machine_addresses, settings.free_mail_domains = internal, machines, free_mail
    save(req, settings)
    log.info("admin lists tenant=%s rep=%s internal=%d machines=%d free_mail=%d", req.identity.tenant, req.rep,
             len(internal), len(machines), len(free_mail))
    return show(req, "Lists saved")


def check_exclusion(req: Request, raw: str) -> str:
    """An address or a registrable domain (or a subdomain of one), never the team's own."""
    if not raw.strip().lstrip("@"):
        raise Invalid("Type an address or a domain to exclude.")
    entry = exclusion_entry(raw)  # the form sync and the purge match on: case, plus tag, IDN, trailing dot
    if "@" in entry:
        local, _, domain = entry.rpartition("@")
        if not local or len(entry) > EMAIL_MAX_LENGTH or any(c.isspace() for c in local) \
                or not rules.DOMAIN_PATTERN.match(domain):
            raise Invalid(f"{raw} is not an email address.")
    else:
        if not rules.DOMAIN_PATTERN.match(entry) or registrable_domain(entry) is None:
            raise Invalid(f"{raw} is not a domain a company owns (e.g. lawfirm.com).")
        domain = entry
    for own in (req.identity.tenant, *req.settings.internal_domains):
        if domain_matches(own, domain) or (domain_matches(domain, own) and "@" not in entry):
            raise Invalid(f"{entry} is the team's own domain: internal mail is never stored anyway.")
    return entry


@action("admin_add_exclusion")
@admin_only
def add_exclusion(req: Request) -> dict:
    """Record the exclusion first (sync refuses matching mail from then on), then purge what is stored.

    Adding an entry that is already listed runs the purge again, which finishes
    an interrupted one (the purge is idempotent; see models.privacy).
    """
    typed = text(req, "exclusion")
    settings = fresh(req)
    try:
        entry = check_exclusion(req, typed)
        if entry not in settings.exclusions and len(settings.exclusions) >= EXCLUSIONS_MAX:
            raise Invalid(f"The exclusion list holds at most {EXCLUSIONS_MAX:,} entries.")
    except Invalid as exc:
        return show(req, error=str(exc), inputs={"exclusion": typed})
    if entry not in settings.exclusions:
        settings.exclusions.append(entry)
        save(req, settings)
    report = purge_exclusion(req.repo, entry)
    log.info("admin exclusion tenant=%s rep=%s activities=%d contacts=%d", req.identity.tenant, req.rep,
             report.activities, report.contacts)
    return show(req, f"Excluded {entry}: removed {report.activities} activities, {report.contacts} contacts")


@action("admin_remove_exclusion")
@admin_only
def remove_exclusion(req: Request) -> dict:
    """Sync stores matching mail again from its next pass; what was removed stays removed."""
    entry = req.event.parameter("entry").strip().lower()
    settings = fresh(req)
    if entry not in settings.exclusions:
        return show(req, error=f"{entry} is not on the exclusion list.")
    settings.exclusions.remove(entry)
    save(req, settings)
    return show(req, f"{entry} is no longer excluded")


def field_key_from(label: str) -> str:
    """"Renewal date" -> "renewal_date"; "2026 Budget" -> "f_2026_budget"."""
    key = "_".join(re.findall(r"[a-z0-9]+", fold(label)))[:40].strip("_")
    return key if key[:1].isalpha() else ("f_" + key)[:40].strip("_")


def check_field(settings: Settings, inputs: dict[str, str]) -> CustomFieldDefinition:
    label = " ".join(inputs["field_label"].split())
    if not label:
        raise Invalid("Give the field a label.")
    if len(label) > FIELD_LABEL_MAX:
        raise Invalid(f"A field label has at most {FIELD_LABEL_MAX} characters.")
    key = inputs["field_key"].strip() or field_key_from(label)
    if not FIELD_KEY_PATTERN.match(key):
        raise Invalid("A key starts with a letter and holds lower-case letters, digits and _ (40 at most).")
    kind, applies_to = inputs["field_type"] or "text", inputs["field_applies_to"] or "contact"
    if kind not in CUSTOM_FIELD_TYPES:
        raise Invalid(f"Choose a type: {', '.join(CUSTOM_FIELD_TYPES)}.")
    if applies_to not in ("contact", "company"):
        raise Invalid("A field applies to contacts or companies.")
    same_kind = [d for d in settings.custom_fields if d.applies_to == applies_to]
    if any(d.key == key for d in same_kind):
        raise Invalid(f"There is already a {applies_to} field with the key {key}.")
    if len(same_kind) >= CUSTOM_FIELDS_MAX:
        raise Invalid(f"At most {CUSTOM_FIELDS_MAX} custom fields per record type.")
    options: list[str] = []
    if kind == "select":
        for raw in inputs["field_options"].split(","):
            option = " ".join(raw.split())
            if not option:
                continue
            if len(option) > FIELD_OPTION_MAX:
                raise Invalid(f"An option has at most {FIELD_OPTION_MAX} characters.")
            if option.casefold() in (o.casefold() for o in options):
                raise Invalid(f"The option {option} is listed twice.")
            options.append(option)
        if not options:
            raise Invalid("A single select needs options, separated by commas.")
        if len(options) > FIELD_OPTIONS_MAX:
            raise Invalid(f"A single select has at most {FIELD_OPTIONS_MAX} options.")
    return CustomFieldDefinition(key=key, label=label, type=kind, options=options, applies_to=applies_to)


@action("admin_add_field")
@admin_only
def add_field(req: Request) -> dict:
    names = ("field_label", "field_key", "field_type", "field_options", "field_applies_to")
    inputs = {name: text(req, name) for name in names}
    settings = fresh(req)
    try:
        definition = check_field(settings, inputs)
    except Invalid as exc:
        return show(req, error=str(exc), inputs=inputs)
    settings.custom_fields.append(definition)
    save(req, settings)
    return show(req, f"Added the field {definition.label}")


@action("admin_remove_field")
@admin_only
def remove_field(req: Request) -> dict:
    """The definition goes; stored values stay on the records, hidden, and come back if the key is re-added."""
    key, applies_to = req.event.parameter("key"), req.event.parameter("applies_to")
    settings = fresh(req)
    definition = settings.field_definition(key, applies_to)
    if definition is None:
        return show(req, error=f"There is no {applies_to} field {key}.")
    settings.custom_fields.remove(definition)
    save(req, settings)
    return show(req, f"Removed the field {definition.label}")


@action("admin_add_admin")
@admin_only
def add_admin(req: Request) -> dict:
    typed = text(req, "admin_email")
    settings = fresh(req)
    try:
        email = check_teammate(req, typed)
        if email in settings.admins:
            raise Invalid(f"{email} is already an admin.")
    except Invalid as exc:
        return show(req, error=str(exc), inputs={"admin_email": typed})
    settings.admins.append(email)
    save(req, settings)
    return show(req, f"{email} is now an admin")


# --- departures and reassignment (#15) --------------------------------------------------------

def _mailbox_of(req: Request) -> Mailbox | None:
    email = req.event.parameter("email").strip().lower()
    return req.repo.get_mailbox(email) if email else None


@action("admin_departure")
@admin_only
def departure(req: Request) -> dict:
    """The admin marks a rep as gone (for teams that name mailboxes in SIDECAR_USERS rather than the Directory),
    or with `back=1` as back: synced again from the next pass."""
    mailbox = _mailbox_of(req)
    if mailbox is None:
        return show(req, error="There is no such mailbox.")
    if req.event.parameters.get("back") == "1":
        return mark_returned(req, mailbox)
    if mailbox.email == req.rep:
        return show(req, error="You cannot mark yourself departed; ask another admin.")
    req.repo.mark_departed(mailbox.email, by=req.rep)
    log.info("admin departed tenant=%s rep=%s mailbox=%s", req.identity.tenant, req.rep, mailbox.email)
    return show(fresh_request(req), f"{mailbox.email} is marked departed: no longer synced, history kept")


def mark_returned(req: Request, mailbox: Mailbox) -> dict:
    if mailbox.state != MailboxState.DEPARTED:
        return show(req, error="That mailbox is not departed.")
    req.repo.mark_returned(mailbox.email)
    return show(fresh_request(req), f"{mailbox.email} syncs again from the next pass")


@action("admin_reassign_form")
@admin_only
def reassign_form(req: Request) -> dict:
    mailbox = _mailbox_of(req)
    if mailbox is None:
        return show(req, error="There is no such mailbox.")
    return responses.push_card(admin_cards.reassign_form(mailbox.email, mailbox.departed_by,
                                                         list_segments(req.repo, req.rep), req.viewer))


@action("admin_reassign")
@admin_only
def reassign(req: Request) -> dict:
    """Run (or resume: the operation is journaled, `models.reassign`) a bulk reassignment, then its report."""
    mailbox = _mailbox_of(req)
    if mailbox is None:
        return show(req, error="There is no such mailbox.")
    typed = {"reassign_to": text(req, "reassign_to"), "segment_id": text(req, "segment_id")}
    segments = list_segments(req.repo, req.rep)
    try:
        teammates = [check_teammate(req, raw) for raw in typed["reassign_to"].split(",") if raw.strip()]
        if not teammates:
            raise Invalid("Name at least one teammate.")
        if mailbox.email in teammates:
            raise Invalid(f"{mailbox.email} cannot take over their own contacts.")
        gone = [t for t in teammates if t in req.settings.departed_reps]
        if gone:
            raise Invalid(f"{gone[0]} has left too; choose someone still on the team.")
        segment = next((s for s in segments if s.id == typed["segment_id"]), None)
        if typed["segment_id"] and segment is None:
            raise Invalid("That segment no longer exists.")
    except Invalid as exc:
        card = admin_cards.reassign_form(mailbox.email, mailbox.departed_by, segments, req.viewer, str(exc), typed)
        return responses.update_card(card, str(exc))
    report = reassign_contacts(req.repo, mailbox.email, teammates, segment=segment)
    log.info("admin reassigned tenant=%s rep=%s from=%s moved=%d skipped=%d", req.identity.tenant, req.rep,
             mailbox.email, report.total, len(report.skipped))
    moved = {rep: len(report.moved.get(rep, [])) for rep in report.to_reps}
    return responses.update_card(admin_cards.reassign_report_card(report.lines(), moved, req.viewer),
                                 report.lines()[0])


def fresh_request(req: Request) -> Request:
    """The request with its settings read again (a departure changes `departed_reps`)."""
    fresh(req)
    return req


@action("admin_remove_admin")
@admin_only
def remove_admin(req: Request) -> dict:
    email = req.event.parameter("email").lower()
    settings = fresh(req)
    if email == req.rep:
        return show(req, error="You cannot remove yourself; ask another admin.")
    if email not in settings.admins:
        return show(req, error=f"{email} is not an admin.")
    settings.admins.remove(email)
    save(req, settings)
    return show(req, f"{email} is no longer an admin")
