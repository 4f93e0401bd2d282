"""Who the team is and who the people are, settled around a sync pass (issue #16).

Three things that cannot be decided message by message:

- **Send-as aliases** (`learn_send_as`, before any mailbox stores anything). Mail a rep sends
  from an alias (Gmail `users.settings.sendAs`) is the rep's, never an outsider's. Every
  configured mailbox's aliases are known before the first message is linked, so a rep's alias
  seen first in a teammate's mailbox is already internal: the answer never depends on which
  mailbox ran first. The list is fetched when a mailbox has none stored yet or is about to
  sync in full (a first sync, or a history id Gmail rejected), and kept on the mailbox
  document (`Mailbox.send_as`, written with the mailbox's own cursor commit, under its lease:
  nothing is written for a mailbox another process holds); the aliases of every mailbox of the
  tenant count, synced this pass or not. An incremental pass costs no call.

- **Names** are settled after each pass with the owners (`sync.writer.settle_contacts`,
  `Repository.settle_synced_contacts`, ranking `models.precedence.name_rank`): a name a rep
  typed or imported is never touched, a display name replaces a local-part guess
  (`gl@acme.com` -> "Gl" -> "Gary Lee"), and among several display names the best-ranked wins,
  whichever mailbox or process saw it first.

- **Job changes** (`settle_job_changes`, run by `sync.writer.settle_contacts` after every write
  of a pass, so a crash leaves it to the rerun and the last of two processes sees both's mail).
  The same name at another corporate domain is not enough: two "John Smith"s are common, and a
  notification may reuse a person's display name. A contact A has moved to the address B when:
    1. A and B share their folded first and last name (`models.addresses.name_key`) and both
       are at companies (free mail never counts), different ones;
    2. A went quiet before B started: A's latest activity is older than B's earliest;
    3. A and B corresponded with at least one same teammate (an internal participant of one
       of A's activities is one of B's), whichever mailbox holds the mail: the old address
       in one rep's mailbox and the new one in another's is a move when a teammate was on both.
  Overlapping activity means two people (or one person with two jobs): no flag. The flag goes on
  the less recently active record, A, pointing at B (rule 2 makes B the more recent; of several
  B, the current job `models.precedence.current_job`). Every record of each name the pass saw is
  judged again from what is stored, and `Repository.settle_job_changes` writes the result with
  conditional writes (a flag sync set that the evidence no longer supports is lifted; one an
  admin accepted or dismissed is left alone), so the result depends neither on the order the
  mailboxes ran in nor on how they were split between processes. The contact documents alone rule
  out most pairs (an old address still writing after the new one's first month, `_may_follow`);
  the rest read the newest `EVIDENCE_ACTIVITIES_MAX` activities of each candidate. Two people of
  one name at two companies who each wrote to the same rep, one after the other, do meet the
  rule: the flag asks a person to confirm, it never merges.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from models.addresses import name_key
from models.domain import ActivityKind, Contact, Mailbox
from models.precedence import current_job
from models.repository import Repository
from sync.api import MailboxApi, MailboxError, Stopped, classify
from sync.linking import Team

log = logging.getLogger(__name__)

EVIDENCE_ACTIVITIES_MAX = 200  # activities read per candidate for a job change's evidence (newest first)
SEND_AS_ACCEPTED = "accepted"  # Gmail SendAs.verificationStatus of an alias that can send
_READING = threading.Lock()  # one thread of the process reads stored aliases at a time (`learn_send_as`)


# --- send-as aliases ----------------------------------------------------------------------------

def send_as_addresses(api: MailboxApi) -> list[str]:
    """The addresses a mailbox can send as: its primary and every verified alias (`settings.sendAs.list`)."""
    request = api.gmail["users"].settings().sendAs().list(userId="me")
    response = api.call(request)  # priced by the quota profile: gmail.users.settings.sendAs.list
    return sorted({entry["sendAsEmail"].lower() for entry in response.get("sendAs") or ()
                   if entry.get("isPrimary") or entry.get("verificationStatus", SEND_AS_ACCEPTED) == SEND_AS_ACCEPTED})


def learn_send_as(run, mailboxes: list[str], known: Mapping[str, Mailbox | None] | None = None) -> None:
    """Give each tenant's Team every alias of its mailboxes before they link anything (see module doc).

    `run` is the `sync.runner.SyncRun`: a pass calls this for all its mailboxes before any syncs;
    a Pub/Sub worker, for each mailbox it has not met yet as it starts syncing it (an alias of a
    mailbox not met yet is the team's from that mailbox's first sync on). The stored aliases of
    a tenant's mailboxes are read once a run (`run.send_as_learned` remembers who is known: the
    tenant, and every mailbox that list showed with its aliases and a history id, so a worker
    meeting them later reads nothing more; only a mailbox stored since costs it one get, none when
    its caller has just read it and passes it in `known`, as the worker's lease does), by one
    thread of the process at a time (`_READING`: a worker's threads all start on new mailboxes at
    once, and bench/scale.py saw each of its 16 list every mailbox of the tenant); the lists
    missing are fetched in parallel (as many at once as the pass syncs mailboxes), outside that
    lock. A mailbox whose list cannot be fetched, or a tenant whose stored lists cannot be read, is
    logged and left to its own sync, which meets the same failure and records it.

    Aliases are fetched again only at a mailbox's full sync (a history id Gmail rejected): what
    a rep adds later is the team's from then on. Decided so because a no-op pass must cost no
    Google call beyond the two that look for changes, and aliases change rarely.
    """
    with _READING:
        wanted = sorted({m.lower() for m in mailboxes} - run.send_as_learned)
        if not wanted:
            return
        missing = _learn_stored(run, wanted, known or {})
    if not missing:
        return
    aliases: dict[str, set[str]] = collections.defaultdict(set)
    workers = max(1, min(run.config.sync_concurrency, len(missing)))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="send-as") as pool:
        for email, found in zip(missing, pool.map(lambda e: _fetch_send_as(run, e), missing), strict=True):
            if found is not None:  # stored by the mailbox's own sync, with its cursors, under its lease
                run.send_as_fetched[email] = found
                aliases[run.tenant_of(email)].update(found)
    for tenant, found in aliases.items():
        run.tenant(tenant).team.add_own_addresses(sorted(found))
    run.send_as_learned.update(missing)


def prime_send_as(run, mailboxes: list[str]) -> None:
    """Read the stored aliases of these mailboxes' tenants now: a worker does before it pulls its first
    request, so its first syncs wait on no list (in bench/scale.py they did, and so did the first new mail
    timed for freshness). A mailbox with none stored is still fetched at its own first sync, never here:
    every worker would fetch every new mailbox's."""
    with _READING:
        _learn_stored(run, sorted({m.lower() for m in mailboxes} - run.send_as_learned), {})


def _learn_stored(run, wanted: list[str], known: Mapping[str, Mailbox | None]) -> list[str]:
    """The stored aliases of the tenants of `wanted` (or of these mailboxes, where the tenant's are known)
    made the teams'; returns the mailboxes of `wanted` that have none stored (to fetch). Under `_READING`."""
    missing, learned = [], []
    for tenant in sorted({run.tenant_of(m) for m in wanted}):
        mine = [e for e in wanted if run.tenant_of(e) == tenant]
        try:
            repo = run.tenant(tenant).repo
            if tenant in run.send_as_learned:  # the tenant's stored aliases are known: only these mailboxes'
                stored = {e: m for e in mine if (m := known[e] if e in known else repo.get_mailbox(e))}
            else:
                stored = repo.mailbox_send_as()
        except Exception as exc:  # the store failed (unreachable): each mailbox's own sync meets and records it
            log.warning("send-as aliases unread tenant=%s reason=%s", tenant, classify(exc).reason)
            continue
        run.tenant(tenant).team.add_own_addresses(sorted({a for m in stored.values() for a in (m.send_as or ())}))
        covered = {e for e, m in stored.items() if m.send_as is not None and m.history_id}
        missing += [e for e in mine if e not in covered]
        learned += [tenant, *covered]
    run.send_as_learned.update(learned)
    return missing


def _fetch_send_as(run, email: str) -> list[str] | None:
    """The mailbox's send-as list, paid from the project's budget shared by every process (`sync.budget`), like
    every other Gmail call of the run (`run.budget`); a budget that refuses it (the day spent) leaves it to the
    mailbox's own sync, as any failure does."""
    try:
        budget = run.budget(run.tenant(run.tenant_of(email)).repo)
        api = MailboxApi(email, run.google_service, run.config.google_api_root, run.quota, run.stop, budget=budget)
        return send_as_addresses(api)
    except Stopped:
        return None
    except Exception as exc:  # classified: the mailbox's own sync records the failure
        failure = exc if isinstance(exc, MailboxError) else classify(exc)
        log.warning("send-as list failed mailbox=%s state=%s reason=%s", email, failure.state, failure.reason)
        return None


# --- job changes -----------------------------------------------------------------------------

@dataclasses.dataclass
class Evidence:
    """What one address's activities show: when it was first and last seen, and with which teammates."""

    first: dt.datetime
    last: dt.datetime
    teammates: frozenset[str]


def settle_job_changes(repo: Repository, team: Team, contact_ids: Iterable[str]) -> int:
    """Judge every record sharing a name with `contact_ids` (the rule: module doc) and write the flags."""
    fresh = {cid: c for cid, c in repo.get_contacts(list(contact_ids)).items() if _at_company(c)}
    keys = {k for c in fresh.values() if (k := name_key(c.first_name, c.last_name))}
    if not keys:
        return 0
    named = repo.contact_ids_by_name(keys)
    others = {cid for ids in named.values() for cid in ids} - set(fresh)
    people = {**fresh, **repo.get_contacts(list(others))}
    evidence: dict[str, Evidence | None] = {}
    wanted: dict[str, dict[str, Any] | None] = {}
    for key in sorted(keys):
        group = sorted((people[cid] for cid in dict.fromkeys(named.get(key, [])) if cid in people
                        and _at_company(people[cid]) and name_key(people[cid].first_name,
                                                                  people[cid].last_name) == key),
                       key=lambda c: c.id)
        if len({c.company_id for c in group}) < 2:
            continue
        for old in group:
            moved_to: dict[str, Evidence] = {}  # new contact id -> what its activities show
            for new in group:
                if old.company_id == new.company_id or not _may_follow(old, new):
                    continue
                before, after = _evidence(repo, team, old, evidence), _evidence(repo, team, new, evidence)
                if before and after and before.last < after.first and before.teammates & after.teammates:
                    moved_to[new.id] = after
            if not moved_to:
                wanted[old.id] = None
                continue
            current = current_job({cid: seen.last.timestamp() for cid, seen in moved_to.items()})
            new = people[current]
            wanted[old.id] = {"company_id": new.company_id, "email": new.primary_email,
                              "seen_at": moved_to[current].first}
    return repo.settle_job_changes(wanted) if wanted else 0


def _at_company(contact: Contact) -> bool:
    return bool(contact.company_id) and not contact.merged_into


def _month_after(month: str) -> dt.datetime:
    year, number = (int(part) for part in month.split("-"))
    return dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=dt.timezone.utc)


def _month_start(month: str) -> dt.datetime:
    year, number = (int(part) for part in month.split("-"))
    return dt.datetime(year, number, 1, tzinfo=dt.timezone.utc)


def _may_follow(old: Contact, new: Contact) -> bool:
    """The contact documents alone: False when `old` was certainly still writing after `new` started.

    `new` started within its earliest timeline month; an `old` email or meeting after that month
    rules the move out without reading a timeline (most same-name pairs end here).
    """
    old_last = max((t for t in (old.last_email_at, old.last_meeting_at) if t), default=None)
    if old_last is None or not new.timeline_months:
        return False
    return old_last < _month_after(min(new.timeline_months))


def _evidence(repo: Repository, team: Team, contact: Contact, cache: dict[str, Evidence | None]) -> Evidence | None:
    if contact.id not in cache:
        page = repo.timeline(contact.id, limit=EVIDENCE_ACTIVITIES_MAX, contact=contact)
        entries = [e for e in page.entries if e.kind in (ActivityKind.EMAIL, ActivityKind.MEETING)]
        if not entries:
            cache[contact.id] = None
        else:
            activities = repo.get_activities([e.activity_id for e in entries])
            teammates = frozenset(p.email for a in activities.values() for p in a.participants
                                  if team.is_internal(p.email))
            # the newest page holds the latest activity; the earliest, only when it is the whole timeline
            # (else the start of the earliest month: a bound that can only make a move less likely)
            first = (min(e.at for e in entries) if page.next_cursor is None
                     else _month_start(min(contact.timeline_months)))
            cache[contact.id] = Evidence(first, max(e.at for e in entries), teammates)
    return cache[contact.id]
