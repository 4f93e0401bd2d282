"""Verification of every /addon/ request: Google's system ID token and the rep's user ID token (SPEC §5).

Google signs both with the keys published at SIDECAR_GOOGLE_CERTS_URL
(`{kid: x509 PEM}`); they are fetched once and kept for as long as the
response's Cache-Control max-age allows, and fetched again early only when a
token names a key id we have not seen (Google rotates keys), at most once per
`CERTS_REFETCH_MIN_SECONDS`.

The tenant is the user token's `hd` claim. A consumer account (no `hd`) is
refused with 401: Sidecar is a Workspace product and a tenant must be a
domain an admin controls; taking the domain of a gmail.com address would put
every consumer user in one shared tenant.

`hd` is the Workspace's primary domain, also for a user whose address is on a
secondary domain or a domain alias (SPEC §4). An address on `hd` itself is
accepted from the token alone; any other address must be on one of the
tenant's domains as sync last read them from the Directory
(`TenantDomains`: one `get` through the repository, cached per tenant for
`TENANT_DOMAINS_TTL_SECONDS`). That read cannot be avoided: nothing in
Google's token lists the Workspace's other domains. It is made only for
such users, and once per tenant and TTL, so the common request reads nothing.

Nothing here logs a token; failures are logged with a fixed reason only, never
a value read from the token (a key id or an audience could hold a newline and
forge a log line). Time claims must be numbers (`exp: null` is malformed) and
`nbf`, when present, is enforced with the same clock skew as `exp`.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable

import requests
from google.auth import exceptions as auth_exceptions
from google.auth import jwt

log = logging.getLogger(__name__)

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")  # Google: either form appears in `iss`
CLOCK_SKEW_SECONDS = 30  # tolerated difference between Google's clock and ours
CERTS_DEFAULT_MAX_AGE = 300  # when the certs response carries no usable Cache-Control
CERTS_REFETCH_MIN_SECONDS = 30  # an unknown key id refetches at most this often (no refetch storm on forged kids)
CERTS_HTTP_TIMEOUT_SECONDS = 5
TENANT_DOMAINS_TTL_SECONDS = 300  # a domain added to the Workspace is accepted within this, once sync read it
TENANT_DOMAINS_CACHED_MAX = 1000  # tenants whose domains a process keeps (forgotten oldest first)
_MAX_AGE = re.compile(r"max-age=(\d+)")
_KID = re.compile(r"[A-Za-z0-9_-]{1,128}")  # Google's key ids are 40 hex digits; never a list, never a newline
TIME_CLAIMS = ("iat", "exp", "nbf")  # RFC 7519 NumericDates; nbf is optional
REQUIRED_TIME_CLAIMS = ("iat", "exp")


class Unauthorized(Exception):
    """The request does not prove it comes from Google on behalf of a rep; answered with 401."""


class CertsUnavailable(Exception):
    """The signing certificates could not be fetched; nothing can be verified (503)."""


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who is asking, from the verified user ID token."""

    rep: str  # the rep's email, lower case
    tenant: str  # the Workspace domain (`hd`)


class CertCache:
    """Google's token-signing certificates, cached per the response's Cache-Control."""

    def __init__(self, url: str, session: requests.Session | None = None, clock=time.monotonic):
        self.url = url
        self._session = session or requests.Session()
        self._clock = clock
        self._certs: dict[str, str] = {}
        self._expires_at = 0.0
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def get(self, kid: str | None = None) -> dict[str, str]:
        """The current certificates; refetched when expired, or early for an unknown `kid`."""
        now = self._clock()
        with self._lock:
            stale = now >= self._expires_at
            unknown = kid is not None and kid not in self._certs
            may_refetch = self._fetched_at is None or now - self._fetched_at >= CERTS_REFETCH_MIN_SECONDS
            if stale or (unknown and may_refetch):
                self._fetch(now)
            return self._certs

    def _fetch(self, now: float) -> None:
        try:
            response = self._session.get(self.url, timeout=CERTS_HTTP_TIMEOUT_SECONDS)
            response.raise_for_status()
            certs = response.json()
        except (requests.RequestException, ValueError) as exc:
            if self._certs and now < self._expires_at:
                return  # an early refetch failed; the cached set is still valid
            raise CertsUnavailable(f"cannot fetch signing certificates: {type(exc).__name__}") from None
        if not isinstance(certs, dict):
            raise CertsUnavailable("signing certificates are not a JSON object")
        match = _MAX_AGE.search(response.headers.get("Cache-Control", ""))
        max_age = int(match.group(1)) if match else CERTS_DEFAULT_MAX_AGE
        self._certs = {str(k): str(v) for k, v in certs.items()}
        self._fetched_at = now
        self._expires_at = now + max_age
        self.fetches += 1


class TenantDomains:
    """Each tenant's domains (`tenant -> [domains]`, e.g. `Repository.workspace_domains`), cached for a while."""

    def __init__(self, read: Callable[[str], Iterable[str]], clock=time.monotonic,
                 ttl: float = TENANT_DOMAINS_TTL_SECONDS):
        self._read = read
        self._clock = clock
        self._ttl = ttl
        self._known: collections.OrderedDict[str, tuple[float, frozenset[str]]] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.reads = 0

    def __call__(self, tenant: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            cached = self._known.get(tenant)
            if cached is not None and now < cached[0]:
                return cached[1]
        domains = frozenset(d.lower() for d in self._read(tenant))  # outside the lock: a Firestore get
        with self._lock:
            self.reads += 1
            self._known[tenant] = (now + self._ttl, domains)
            self._known.move_to_end(tenant)
            while len(self._known) > TENANT_DOMAINS_CACHED_MAX:
                self._known.popitem(last=False)
        return domains


class Verifier:
    """Checks Google's ID tokens for one deployment (public URL, service account, OAuth client).

    `tenant_domains(tenant)` names the tenant's domains for a user whose address is not on `hd`
    (see the module doc); without it only addresses on `hd` are accepted.
    """

    def __init__(self, certs: CertCache, public_url: str, service_account: str, oauth_client_id: str,
                 tenant_domains: Callable[[str], Iterable[str]] | None = None):
        self.certs = certs
        self.public_url = public_url.rstrip("/")
        self.service_account = service_account.lower()
        self.oauth_client_id = oauth_client_id
        self.tenant_domains = tenant_domains

    def system_token(self, authorization_header: str | None, path: str) -> None:
        """The `Authorization: Bearer` system ID token, addressed to this exact endpoint."""
        scheme, _, token = (authorization_header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("missing system ID token")
        claims = self._decode(token.strip(), audience=self.public_url + path, what="system")
        if str(claims.get("email", "")).lower() != self.service_account:
            raise Unauthorized("system ID token is not from the add-on's service account")

    def user_token(self, token: object) -> Identity:
        """`authorizationEventObject.userIdToken`: the rep (email) and the tenant (hd)."""
        if not isinstance(token, str) or not token:
            raise Unauthorized("missing user ID token")
        claims = self._decode(token, audience=self.oauth_client_id, what="user")
        email = str(claims.get("email", "")).lower()
        tenant = str(claims.get("hd", "")).lower()
        if not tenant:
            raise Unauthorized("not a Google Workspace account")
        if not email.endswith("@" + tenant) and not self._on_other_domain(email, tenant):
            raise Unauthorized("user ID token email is outside its domain")
        return Identity(rep=email, tenant=tenant)

    def _on_other_domain(self, email: str, tenant: str) -> bool:
        """Whether `email` is on a secondary domain or an alias of the tenant (module doc)."""
        _, at, domain = email.rpartition("@")
        return bool(at) and self.tenant_domains is not None and domain in self.tenant_domains(tenant)

    def _decode(self, token: str, audience: str, what: str) -> dict:
        """Shape first (header, key id, time claims), then the signature, then the claims.

        Every refusal carries a fixed reason: nothing from the token (a key id,
        an audience) is ever copied into the exception, so no log line can hold
        a value the sender chose.
        """
        header, unverified = _unverified(token, what)
        kid = header.get("kid")
        if kid is not None and not (isinstance(kid, str) and _KID.fullmatch(kid)):
            raise Unauthorized(f"malformed {what} ID token key id")
        if header.get("alg") != "RS256":
            raise Unauthorized(f"{what} ID token is not RS256")
        for claim in TIME_CLAIMS:
            value = unverified.get(claim)
            if (value is not None or claim in REQUIRED_TIME_CLAIMS) and not _is_time(value):
                raise Unauthorized(f"{what} ID token has no valid {claim}")
        certs = self.certs.get(kid=kid)
        try:
            claims = jwt.decode(token, certs=certs, clock_skew_in_seconds=CLOCK_SKEW_SECONDS)
        except (ValueError, auth_exceptions.GoogleAuthError) as exc:
            raise Unauthorized(f"invalid {what} ID token: {_reason(exc)}") from None
        if claims.get("aud") != audience:
            raise Unauthorized(f"{what} ID token is for another audience")
        if claims.get("nbf") is not None and time.time() < claims["nbf"] - CLOCK_SKEW_SECONDS:
            raise Unauthorized(f"{what} ID token is not valid yet")
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise Unauthorized(f"{what} ID token is not issued by Google")
        if claims.get("email_verified") is not True:
            raise Unauthorized(f"{what} ID token email is not verified")
        return claims


def _unverified(token: str, what: str) -> tuple[dict, dict]:
    """The header and claims, parsed but not trusted; anything unparseable is a malformed token."""
    try:
        return jwt.decode_header(token), jwt.decode(token, verify=False)
    except (ValueError, RecursionError, auth_exceptions.GoogleAuthError):
        raise Unauthorized(f"malformed {what} ID token") from None


def _is_time(value: object) -> bool:
    """A NumericDate (RFC 7519): a finite number of seconds; `null`, a string or a boolean is not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


# google-auth's messages quote the key id or the audience; only these fixed reasons are logged.
_REASONS = (
    ("Token expired", "expired"),
    ("Token used too early", "issued in the future"),
    ("Could not verify token signature", "bad signature"),
    ("Certificate for key id", "unknown key id"),
    ("Unsupported signature algorithm", "unsupported algorithm"),
)


def _reason(exc: Exception) -> str:
    text = str(exc)
    return next((reason for prefix, reason in _REASONS if text.startswith(prefix)), "rejected")
