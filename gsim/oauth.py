"""The OAuth 2.0 token endpoint for service accounts with domain-wide delegation.

google-auth's ``service_account.Credentials.with_subject(mailbox)`` POSTs a
JWT-bearer grant (RFC 7523) to the key file's ``token_uri``. Google checks the
RS256 signature against the key registered for ``iss``, that the assertion is
short-lived and addressed to the token endpoint, that the admin granted the
client the requested scopes, and that ``sub`` is an active user; we do the same
and answer with the same error codes, so a revoked rep fails in tests exactly
as in production (``invalid_grant``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from . import tokens

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCESS_TOKEN_LIFETIME = 3600  # Google: access tokens live one hour
ASSERTION_MAX_LIFETIME = 3600  # Google: "Token must be a short-lived token (60 minutes)"
CLOCK_SKEW = 300  # seconds of iat/exp skew tolerated

# The scopes Sidecar asks for; the simulated admin grants these by default.
DEFAULT_GRANTED_SCOPES = (
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.metadata",
    "https://www.googleapis.com/auth/gmail.modify",
    "https://mail.google.com/",
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/calendar.events.readonly",
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.domain.readonly",
)


class TokenError(Exception):
    """An OAuth error answered as ``{"error": ..., "error_description": ...}``."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


@dataclass
class ServiceAccount:
    client_email: str
    client_id: str
    key: tokens.KeyPair
    project_id: str
    granted_scopes: set[str] = field(default_factory=lambda: set(DEFAULT_GRANTED_SCOPES))


@dataclass
class Grant:
    """What an access token stands for."""

    client_email: str
    subject: str | None
    scopes: frozenset[str]
    expires_at: float


class OAuthServer:
    """Service-account registry, token issuance and access-token checks."""

    def __init__(self, is_active_user):
        self._is_active_user = is_active_user
        self._lock = threading.Lock()
        self.accounts: dict[str, ServiceAccount] = {}
        self.grants: dict[str, Grant] = {}
        self.revoked: set[str] = set()
        self.tokens_issued = 0

    def register(self, client_email: str, project_id: str) -> ServiceAccount:
        account = ServiceAccount(
            client_email=client_email,
            client_id=tokens.sub_for(client_email),
            key=tokens.KeyPair(common_name=client_email),
            project_id=project_id,
        )
        with self._lock:
            self.accounts[client_email] = account
        return account

    def key_file(self, account: ServiceAccount, token_uri: str, certs_base: str) -> dict:
        """The JSON of a service-account key, as the Cloud console downloads it."""
        quoted = urllib.parse.quote(account.client_email)
        return {
            "type": "service_account",
            "project_id": account.project_id,
            "private_key_id": account.key.kid,
            "private_key": account.key.private_pem(),
            "client_email": account.client_email,
            "client_id": account.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": certs_base + "oauth2/v1/certs",
            "client_x509_cert_url": certs_base + "robot/v1/metadata/x509/" + quoted,
            "universe_domain": "googleapis.com",
        }

    def revoke(self, subject: str) -> None:
        """Suspend a user: new grants fail and issued tokens stop working."""
        with self._lock:
            self.revoked.add(subject.lower())

    def restore(self, subject: str) -> None:
        with self._lock:
            self.revoked.discard(subject.lower())

    def grant_scopes(self, scopes, client_email: str | None = None) -> None:
        """Replace the scopes the admin granted (all accounts when no email)."""
        with self._lock:
            for account in self.accounts.values():
                if client_email is None or account.client_email == client_email:
                    account.granted_scopes = set(scopes)

    def exchange(self, form: dict[str, str], token_url: str) -> dict:
        """Handle ``POST /token``; returns the JSON body or raises TokenError."""
        if form.get("grant_type") != JWT_BEARER_GRANT:
            raise TokenError(400, "unsupported_grant_type", "Invalid grant_type: " + form.get("grant_type", ""))
        assertion = form.get("assertion", "")
        try:
            header, claims, signing_input, signature = tokens.decode_unverified(assertion)
        except tokens.JwtError as exc:
            raise TokenError(400, "invalid_grant", "Invalid JWT: Malformed.") from exc
        account = self.accounts.get(claims.get("iss", ""))
        if account is None or header.get("alg") != "RS256":
            raise TokenError(400, "invalid_grant", "Invalid JWT Signature.")
        if header.get("kid") not in (None, account.key.kid) or not account.key.verify(signature, signing_input):
            raise TokenError(400, "invalid_grant", "Invalid JWT Signature.")
        self._check_times(claims)
        if urllib.parse.urlsplit(str(claims.get("aud", ""))).path != urllib.parse.urlsplit(token_url).path:
            raise TokenError(400, "invalid_grant", "Invalid JWT: Failed audience check.")
        scopes = frozenset(str(claims.get("scope", "")).split())
        if not scopes:
            raise TokenError(400, "invalid_scope", "Empty or missing scope not allowed.")
        subject = claims.get("sub")
        if subject and subject != account.client_email:
            if not scopes <= account.granted_scopes:
                raise TokenError(
                    401,
                    "unauthorized_client",
                    "Client is unauthorized to retrieve access tokens using this method,"
                    " or client not authorized for any of the scopes requested.",
                )
            if subject.lower() in self.revoked or not self._is_active_user(subject):
                raise TokenError(400, "invalid_grant", "Invalid email or User ID")
        else:
            subject = None
        access_token = "ya29.gsim-" + secrets.token_urlsafe(32)
        with self._lock:
            self.grants[access_token] = Grant(
                account.client_email, subject, scopes, time.time() + ACCESS_TOKEN_LIFETIME
            )
            self.tokens_issued += 1
        return {"access_token": access_token, "expires_in": ACCESS_TOKEN_LIFETIME - 1, "token_type": "Bearer"}

    @staticmethod
    def _check_times(claims: dict) -> None:
        now = time.time()
        try:
            iat, exp = float(claims["iat"]), float(claims["exp"])
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenError(400, "invalid_grant", "Invalid JWT: Malformed.") from exc
        if exp - iat > ASSERTION_MAX_LIFETIME or exp < now - CLOCK_SKEW or iat > now + CLOCK_SKEW:
            raise TokenError(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable"
                " timeframe. Check your iat and exp values in the JWT claim.",
            )

    def lookup(self, access_token: str) -> Grant | None:
        """The live grant behind a bearer token, or None (unknown, expired, revoked)."""
        grant = self.grants.get(access_token)
        if grant is None or grant.expires_at < time.time():
            return None
        if grant.subject and grant.subject.lower() in self.revoked:
            return None
        return grant

    def expire_all(self) -> None:
        """Make every issued access token stale, as an hour passing would."""
        with self._lock:
            for grant in self.grants.values():
                grant.expires_at = 0


def parse_form(body: bytes) -> dict[str, str]:
    return {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}


def dumps(body: dict) -> bytes:
    return json.dumps(body).encode()
