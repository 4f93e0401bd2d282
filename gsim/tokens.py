"""RSA keys, RS256 JWTs and Google-format certificates.

Two uses: verifying the service-account assertions that google-auth sends to
the token endpoint, and minting the system and user ID tokens Google attaches
to add-on events (served with their certificates at the certs URL, in the
``https://www.googleapis.com/oauth2/v1/certs`` format: ``{kid: x509 PEM}``).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import secrets
import time

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

RSA_KEY_BITS = 2048  # Google's service-account and token-signing keys are RSA-2048
RSA_PUBLIC_EXPONENT = 65537
GOOGLE_ISSUER = "https://accounts.google.com"
CERT_VALIDITY = datetime.timedelta(days=14)  # Google rotates its signing certs about every two weeks


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class KeyPair:
    """An RSA key with its id, a self-signed certificate and PEM forms."""

    def __init__(self, kid: str | None = None, common_name: str = "gsim"):
        self.private_key = rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=RSA_KEY_BITS)
        self.public_key = self.private_key.public_key()
        self.kid = kid or secrets.token_hex(20)
        self.common_name = common_name
        self._cert_pem: str | None = None

    def private_pem(self) -> str:
        """PKCS#8 PEM, the form in a service-account key file's ``private_key``."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    def certificate_pem(self) -> str:
        if self._cert_pem is None:
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.common_name)])
            now = datetime.datetime.now(datetime.UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(self.public_key)
                .serial_number(int.from_bytes(hashlib.sha1(self.kid.encode()).digest()[:8], "big"))
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + CERT_VALIDITY)
                .sign(self.private_key, hashes.SHA256())
            )
            self._cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        return self._cert_pem

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True


def encode_jwt(key: KeyPair, claims: dict) -> str:
    header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    return signing_input + "." + b64url(key.sign(signing_input.encode("ascii")))


class JwtError(ValueError):
    """A JWT that cannot be parsed or whose signature does not verify."""


def decode_unverified(token: str) -> tuple[dict, dict, bytes, bytes]:
    """Split a JWT into (header, claims, signing input, signature)."""
    try:
        header_b64, claims_b64, sig_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
        signature = b64url_decode(sig_b64)
    except (ValueError, TypeError) as exc:
        raise JwtError("malformed JWT") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("malformed JWT")
    return header, claims, f"{header_b64}.{claims_b64}".encode("ascii"), signature


class IdTokenSigner:
    """Google's ID-token issuer: a rotating set of signing keys and their certs."""

    def __init__(self):
        self.keys: list[KeyPair] = [KeyPair(common_name="accounts.google.com")]

    @property
    def current(self) -> KeyPair:
        return self.keys[-1]

    def rotate(self, keep: int = 2) -> str:
        """Add a new signing key (Google keeps the previous one published too)."""
        self.keys.append(KeyPair(common_name="accounts.google.com"))
        self.keys = self.keys[-keep:]
        return self.current.kid

    def certs(self) -> dict[str, str]:
        return {key.kid: key.certificate_pem() for key in self.keys}

    def sign(
        self,
        audience: str,
        email: str,
        hd: str | None = None,
        expires_in: int = 3600,
        issued_at: int | None = None,
        sub: str | None = None,
        **claims,
    ) -> str:
        """An ID token shaped like Google's; ``hd`` makes it a user token."""
        now = int(time.time()) if issued_at is None else issued_at
        payload = {
            "aud": audience,
            "azp": claims.pop("azp", sub_for(email)),
            "email": email,
            "email_verified": True,
            "exp": now + expires_in,
        }
        if hd:
            payload["hd"] = hd
        payload.update({"iat": now, "iss": claims.pop("iss", GOOGLE_ISSUER), "sub": sub or sub_for(email)})
        payload.update(claims)
        return encode_jwt(self.current, payload)


def sub_for(email: str) -> str:
    """A stable 21-digit Google account id for an address."""
    digest = hashlib.sha256(email.lower().encode()).digest()
    return "1" + str(int.from_bytes(digest[:9], "big")).zfill(20)[:20]
