"""Contact and company search that never scans the tenant.

An inverted index keyed by the first two characters of every search token:

    tenants/{tenant}/search/{prefix}     {contacts: {contact_id: row}, companies: {domain: row}}

A contact's tokens are its folded name words (accent- and case-insensitive, so
"jose" finds "José"), its addresses and their local-part words, and its
company's domain; a company's are its domain and name words. A query reads the
one prefix document of its first word and keeps the rows whose tokens start
with every word. A row is a compact JSON string (see
`models.repository._entry_doc` for why) carrying what a result line shows, so a
search costs one read whatever the tenant's size. Free-mail domains and public suffixes are not indexed: they
would put most contacts behind "gm" or "co" and find nobody in particular.

Writes are field-level merges (`contacts.{id}`), so concurrent writers do not
clash and a rerun rewrites the same values; a contact's stale rows are deleted
from the prefixes it no longer has when it is saved.

The same hooks keep the owner index, which lists a rep's contacts for the home
page's "My contacts" without a query (the emulator scans a whole collection
for one: the owner query cost that page 245-338 ms at 10,000 contacts):

    tenants/{tenant}/owners/{rep}/shards/{0..15}     {contacts: {contact_id: folded name}}

A contact is in the shard its id hashes to, so the first shard alone holds a
sixteenth of a rep's contacts, enough for the page once a rep owns a few
hundred; a smaller book is read whole, in one batched read of small documents.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from google.cloud import firestore

from models.addresses import fold, is_free_mail, registrable_domain
from models.domain import Company, Contact
from models.writes import WriteSet

PREFIX_LENGTH = 2  # the index is keyed by this many folded characters of a token
MIN_QUERY_LENGTH = 2  # a shorter query would name nobody in particular
MAX_RESULTS = 20
OWNER_SHARDS = 16  # a rep's owned contacts are spread over this many documents (see the module doc)
_WORD = re.compile(r"[\w]+", re.UNICODE)


@dataclasses.dataclass
class SearchHit:
    kind: str  # "contact" or "company"
    id: str
    title: str
    subtitle: str = ""


def words(text: str) -> list[str]:
    """Folded words of a text: "José-María O'Neil" -> ["jose", "maria", "o", "neil"]."""
    return _WORD.findall(fold(text).replace("_", " "))


def _domain_tokens(domain: str | None) -> set[str]:
    if not domain or is_free_mail(domain):
        return set()
    registrable = registrable_domain(domain) or domain
    return {domain, registrable, registrable.split(".")[0]}


def contact_tokens(contact: Contact) -> set[str]:
    """Name words, addresses and their words, the company's domain (its name is on the company's row)."""
    tokens = set(words(contact.name))
    for email in contact.emails:
        local, _, domain = email.partition("@")
        tokens.add(email)
        tokens.update(words(local))
        tokens.update(_domain_tokens(domain))
    tokens.update(_domain_tokens(contact.company_id))
    return {t for t in tokens if len(t) >= MIN_QUERY_LENGTH}


def company_tokens(company: Company) -> set[str]:
    tokens = _domain_tokens(company.id) | set(words(company.name))
    return {t for t in tokens if len(t) >= MIN_QUERY_LENGTH}


def prefixes(tokens: Iterable[str]) -> set[str]:
    return {t[:PREFIX_LENGTH] for t in tokens}


def _row(title: str, subtitle: str, tokens: set[str]) -> str:
    return json.dumps({"n": title, "s": subtitle, "t": sorted(tokens)}, separators=(",", ":"), ensure_ascii=False)


class SearchIndex:
    """The search documents of one tenant; written through a `WriteSet` (`models.writes`).

    `rpc` holds the `retry=`/`timeout=` the repository passes to each call (its deadline).
    """

    def __init__(self, tenant_root, rpc: dict[str, Any] | None = None):
        self.collection = tenant_root.collection("search")
        self.owners = tenant_root.collection("owners")
        self._rpc = rpc or {}

    def _ref(self, prefix: str):
        return self.collection.document(quote(prefix, safe=""))

    def owner_shards(self, rep: str) -> list:
        """The documents of a rep's owner index, the first shard first."""
        return [self._owner_shard_ref(rep, n) for n in range(OWNER_SHARDS)]

    def _owner_shard_ref(self, rep: str, shard: int):
        return self.owners.document(quote(rep, safe="@")).collection("shards").document(str(shard))

    def _owner_shard(self, rep: str, contact_id: str):
        """The one shard a contact's row lives in (its id's hash), without building the other fifteen."""
        return self._owner_shard_ref(rep, int(hashlib.sha1(contact_id.encode()).hexdigest()[:8], 16) % OWNER_SHARDS)

    def index_contact(self, writer: WriteSet, contact: Contact, previous: Contact | None = None) -> None:
        """Write a contact's rows; with `previous`, drop the rows of prefixes (and the owner) it no longer has.

        A merged-away contact (an alias) has no rows: search finds the one it became.
        """
        alias = bool(contact.merged_into)
        self._index(writer, "contacts", contact.id, None if alias else contact_tokens(contact),
                    contact.display_name, contact.company_id or contact.primary_email,
                    contact_tokens(previous) if previous else set())
        owner = None if alias else contact.owner
        if owner:
            writer.set(self._owner_shard(owner, contact.id), {"contacts": {contact.id: fold(contact.display_name)}},
                       merge=True)
        if previous is not None and previous.owner and previous.owner != owner:
            self._drop_owned(writer, previous.owner, contact.id)

    def move_owner(self, writer: WriteSet, contact: Contact, new_owner: str) -> None:
        """Move a contact's owner index row from its owner to `new_owner` (its search rows do not change)."""
        writer.set(self._owner_shard(new_owner, contact.id), {"contacts": {contact.id: fold(contact.display_name)}},
                   merge=True)
        if contact.owner and contact.owner != new_owner:
            self._drop_owned(writer, contact.owner, contact.id)

    def remove_contact(self, writer: WriteSet, contact: Contact) -> None:
        self._index(writer, "contacts", contact.id, None, "", "", contact_tokens(contact))
        if contact.owner:
            self._drop_owned(writer, contact.owner, contact.id)

    def _drop_owned(self, writer: WriteSet, rep: str, contact_id: str) -> None:
        writer.set(self._owner_shard(rep, contact_id), {"contacts": {contact_id: firestore.DELETE_FIELD}}, merge=True)

    def remove_company(self, writer: WriteSet, company: Company) -> None:
        self._index(writer, "companies", company.id, None, "", "", company_tokens(company))

    def index_company(self, writer: WriteSet, company: Company, previous: Company | None = None) -> None:
        self._index(writer, "companies", company.id, company_tokens(company), company.name or company.id,
                    company.id, company_tokens(previous) if previous else set())

    def _index(self, writer: WriteSet, field: str, key: str, tokens: set[str] | None, title: str, subtitle: str,
               old_tokens: set[str]) -> None:
        tokens = tokens or set()
        row = _row(title, subtitle, tokens)
        for prefix in sorted(prefixes(tokens)):
            writer.set(self._ref(prefix), {field: {key: row}}, merge=True)
        for prefix in sorted(prefixes(old_tokens) - prefixes(tokens)):
            writer.set(self._ref(prefix), {field: {key: firestore.DELETE_FIELD}}, merge=True)

    def search(self, query: str, limit: int = MAX_RESULTS) -> list[SearchHit]:
        """Contacts and companies whose tokens start with every word of `query`, best first."""
        whole = fold(query.strip())
        if ("@" in whole or "." in whole) and not any(ch.isspace() for ch in whole):
            terms = [whole]  # an address or a domain is one token, not words
        else:
            terms = [t for t in words(query) if len(t) >= MIN_QUERY_LENGTH]
        if not terms:
            return []
        # every hit has a token under the first term's prefix, so that one document holds them all
        snapshot = self._ref(terms[0][:PREFIX_LENGTH]).get(**self._rpc)
        first = snapshot.to_dict() or {} if snapshot.exists else {}
        # a token that starts with a term shows in the row's JSON as a quote then the escaped term: rows
        # without every such needle are skipped unparsed (a needle found in the name is checked below)
        needles = ['"' + json.dumps(term, ensure_ascii=False)[1:-1] for term in terms]
        hits: list[tuple[int, SearchHit]] = []
        for field, kind in (("companies", "company"), ("contacts", "contact")):
            for key, raw in (first.get(field) or {}).items():
                if not all(needle in raw for needle in needles):
                    continue
                row = json.loads(raw)
                tokens = row["t"]
                if all(any(tok.startswith(term) for tok in tokens) for term in terms):
                    exact = sum(term in tokens for term in terms)
                    hits.append((-exact, SearchHit(kind, key, row["n"], row["s"])))
        hits.sort(key=lambda pair: (pair[0], pair[1].kind != "contact", fold(pair[1].title)))
        return [hit for _, hit in hits[:limit]]

