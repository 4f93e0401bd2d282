"""The Workspace as the Directory describes it: its domains, who is in it, and who has left (SPEC §4, #15).

A tenant is the Workspace customer keyed by its primary domain: a rep on a
secondary domain (`emea.example.com`) or writing from a domain alias
(`example.io`) is filed under the primary domain, so one company is one
tenant whose reps see each other's history. `read_workspace` reads Directory
`domains.list` (each domain with its aliases, `isPrimary` marking the
primary), `domainAliases.list` (aliases listed on their own, for customers
whose domains.list omits them) and `users.list`, acting as the admin
(`SIDECAR_ADMIN_EMAIL`) by delegation. It needs the
`admin.directory.domain.readonly` scope on top of `admin.directory.user.readonly`;
without it the domains cannot be read and every mailbox falls back to its own
email domain (logged as a warning once a pass).

`record_workspace` stores the domains on the tenant (`Repository.record_workspace`):
every one of them is internal from then on (no contact or company for them,
and the add-on accepts a user whose address is on any of them). A domain
removed from the Workspace stays internal: mail with it is the team's own.

A rep suspended, archived or deleted in the Directory has departed: they are
not synced any more, their stored history stays, and their mailbox is marked
`departed` (`mark_departures`). A rep reinstated in the Directory is synced
again at the next pass, which sets its state from that run.

Who reads it how often: a pass (`python -m sync once|run`) at its start; a
Pub/Sub worker when its caches start over (once a sync interval); the
dispatcher every `sync.pubsub.DIRECTORY_REFRESH_SECONDS` (5 minutes), not
every tick, so a departure is acted on within that, and a Workspace of
thousands of users costs the Directory tens of calls every few minutes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError

from models.addresses import email_domain
from models.domain import DEPARTED_BY_DIRECTORY, MailboxState
from models.repository import Repository

log = logging.getLogger(__name__)

DOMAIN_SCOPES = ("https://www.googleapis.com/auth/admin.directory.domain.readonly",)
USER_SCOPES = ("https://www.googleapis.com/auth/admin.directory.user.readonly",)
DIRECTORY_PAGE_MAX = 500  # Directory users.list maxResults maximum
MY_CUSTOMER = "my_customer"  # Directory: the customer of the admin the call acts as

# (api, version, user acted as, scopes) -> a googleapiclient Resource (see sync.runner.ServiceFactory)
ServiceFactory = Callable[[str, str, str | None, Sequence[str]], Any]


@dataclasses.dataclass(frozen=True)
class Workspace:
    """One customer's domains and users, read from the Directory at the start of a pass."""

    primary: str
    domains: tuple[str, ...]  # the primary first, then secondary domains and aliases
    active: tuple[str, ...] = ()  # users neither suspended nor archived, by primary address
    departed: tuple[str, ...] = ()  # users suspended or archived

    def tenant_of(self, email: str) -> str:
        """The tenant a mailbox is filed under: the primary domain for any of the Workspace's domains."""
        domain = email_domain(email)
        return self.primary if domain in self.domains else domain

    def is_active(self, email: str) -> bool:
        return email.lower() in self.active


def read_workspace(admin_email: str, google_service: ServiceFactory) -> Workspace | None:
    """The admin's Workspace: its domains and users; None when the domains cannot be read (see module doc)."""
    try:
        directory = google_service("admin", "directory_v1", admin_email, DOMAIN_SCOPES)
        listed = directory.domains().list(customer=MY_CUSTOMER).execute()
        aliases = directory.domainAliases().list(customer=MY_CUSTOMER).execute()
    except (HttpError, RefreshError) as exc:
        status = exc.resp.status if isinstance(exc, HttpError) else "token refused"
        log.warning("directory domains unreadable admin_domain=%s status=%s: each mailbox is filed under its "
                    "own domain", email_domain(admin_email), status)
        return None
    primary = next((d["domainName"].lower() for d in listed.get("domains") or () if d.get("isPrimary")),
                   email_domain(admin_email))
    names = [primary]
    for domain in listed.get("domains") or ():
        names.append(domain["domainName"].lower())
        names.extend(a["domainAliasName"].lower() for a in domain.get("domainAliases") or ())
    names.extend(a["domainAliasName"].lower() for a in aliases.get("domainAliases") or ())
    try:
        active, departed = _users(admin_email, google_service)
    except (HttpError, RefreshError) as exc:
        log.warning("directory users unreadable admin_domain=%s error=%s", email_domain(admin_email),
                    type(exc).__name__)
        return None
    return Workspace(primary, tuple(dict.fromkeys(names)), tuple(active), tuple(departed))


def _users(admin_email: str, google_service: ServiceFactory) -> tuple[list[str], list[str]]:
    users = google_service("admin", "directory_v1", admin_email, USER_SCOPES).users()
    active, departed, page_token = [], [], None
    while True:
        response = users.list(customer=MY_CUSTOMER, maxResults=DIRECTORY_PAGE_MAX, pageToken=page_token,
                              orderBy="email").execute()
        for user in response.get("users") or ():
            gone = user.get("suspended") or user.get("archived")
            (departed if gone else active).append(user["primaryEmail"].lower())
        page_token = response.get("nextPageToken")
        if not page_token:
            return active, departed


def record_workspace(repo: Repository, workspace: Workspace, internal_domains: Iterable[str]) -> bool:
    """Store the Workspace's domains on its tenant when they are not all there yet; True when written.

    `internal_domains` is what the tenant's settings already list (read by the
    pass anyway); with the stored Workspace record (one get) it makes an
    unchanged Workspace cost no write.
    """
    domains = set(workspace.domains)
    if domains <= {repo.tenant, *internal_domains} and domains <= set(repo.workspace_domains()):
        return False
    repo.record_workspace(workspace.primary, list(workspace.domains))
    log.info("workspace domains recorded tenant=%s domains=%d", repo.tenant, len(workspace.domains))
    return True


def mark_departures(repo: Repository, workspace: Workspace) -> list[str]:
    """Mark `departed` every stored mailbox of the tenant whose rep is no longer an active user; the reps
    departed.

    A mailbox of another customer's domain is not this Directory's to judge. A
    rep the Directory departed and lists as active again has returned; one an
    admin marked departed stays so until an admin says otherwise. Idempotent:
    a mailbox already in its state is not written again.
    """
    departed = []
    for mailbox in repo.list_mailboxes():
        if workspace.tenant_of(mailbox.email) != repo.tenant:
            continue
        gone = mailbox.state == MailboxState.DEPARTED
        if workspace.is_active(mailbox.email):
            if gone and mailbox.departed_by == DEPARTED_BY_DIRECTORY:
                repo.mark_returned(mailbox.email)
                log.info("mailbox returned tenant=%s mailbox=%s", repo.tenant, mailbox.email)
            elif gone:
                departed.append(mailbox.email)
            continue
        if not gone:
            repo.mark_departed(mailbox.email)
            log.info("mailbox departed tenant=%s mailbox=%s", repo.tenant, mailbox.email)
        departed.append(mailbox.email)
    return departed
