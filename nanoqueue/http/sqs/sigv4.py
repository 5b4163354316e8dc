"""AWS Signature Version 4: reading the credential scope and checking signatures.

Both forms SQS accepts are checked: the `Authorization` header and a
presigned query string (`X-Amz-Signature` and its companions).
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from nanoqueue.http.sqs.errors import (
    IncompleteSignature,
    InvalidClientTokenId,
    InvalidSecurity,
    MissingAuthenticationToken,
    RequestExpired,
    SignatureDoesNotMatch,
)

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "sqs"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

# AWS rejects a request whose signing time is more than 15 minutes away from
# its own clock, in either direction.
MAX_CLOCK_SKEW_S = 15 * 60
MAX_PRESIGN_EXPIRES_S = 7 * 24 * 3600


@dataclass(frozen=True)
class CredentialScope:
    """The `Credential=` part of a signature: key id, date, region, service."""

    access_key_id: str
    date: str
    region: str
    service: str

    @property
    def text(self) -> str:
        """Return the scope as it appears in the string to sign."""
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an HTTP request that a signature covers."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, Sequence[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def query_pairs(self) -> list[tuple[str, str]]:
        """Return the decoded query parameters in their order of appearance."""
        pairs = []
        for part in self.raw_query.split("&"):
            if not part:
                continue
            key, _, value = part.partition("=")
            pairs.append((unquote(key), unquote(value)))
        return pairs


@dataclass(frozen=True)
class _Signature:
    scope: CredentialScope
    signed_headers: list[str]
    signature: str
    amz_date: str
    expires_s: int | None


def credential_scope(request: SignedRequest) -> CredentialScope | None:
    """Return the credential scope the request is signed with, unchecked.

    Returns None for an unsigned request. Raises IncompleteSignature when a
    signature is present but malformed, and InvalidSecurity when it uses an
    algorithm other than SigV4.
    """
    signature = _read_signature(request)
    return signature.scope if signature is not None else None


class SigV4Verifier:
    """Checks SigV4 signatures against a fixed set of access keys."""

    def __init__(
        self,
        secrets: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secrets = dict(secrets)
        self.clock = clock

    def verify(self, request: SignedRequest) -> CredentialScope:
        """Check the request's signature and return its credential scope.

        Raises MissingAuthenticationToken for an unsigned request,
        InvalidSecurity for one signed with another algorithm,
        IncompleteSignature for a malformed one, InvalidClientTokenId for an
        unknown access key, RequestExpired outside the allowed time window
        and SignatureDoesNotMatch when the signature differs.
        """
        signature = _read_signature(request)
        if signature is None:
            raise MissingAuthenticationToken(
                "the request must be signed with AWS Signature Version 4 "
                "using one of the configured access keys"
            )

        secret = self.secrets.get(signature.scope.access_key_id)
        if secret is None:
            raise InvalidClientTokenId(
                "The security token included in the request is invalid."
            )

        self._check_time(signature)
        _check_scope(signature)

        expected = compute_signature(request, signature, secret)
        if not hmac.compare_digest(expected, signature.signature):
            raise SignatureDoesNotMatch(
                "The request signature we calculated does not match the "
                "signature you provided. Check your AWS Secret Access Key and "
                "signing method."
            )
        return signature.scope

    def _check_time(self, signature: _Signature) -> None:
        signed_at = _parse_amz_date(signature.amz_date)
        now = self.clock()
        if signature.expires_s is not None:
            if now > signed_at + signature.expires_s:
                raise RequestExpired(
                    f"Request has expired: it was signed at {signature.amz_date} "
                    f"and was valid for {signature.expires_s} seconds"
                )
            if signed_at - now > MAX_CLOCK_SKEW_S:
                raise RequestExpired(
                    f"Request is not yet valid: it is signed for {signature.amz_date}"
                )
            return

        if abs(now - signed_at) > MAX_CLOCK_SKEW_S:
            server_time = time.strftime(AMZ_DATE_FORMAT, time.gmtime(now))
            raise RequestExpired(
                f"Signature expired: {signature.amz_date} is more than 15 minutes "
                f"away from the server time {server_time}; check the client clock"
            )


def _check_scope(signature: _Signature) -> None:
    if signature.scope.date != signature.amz_date[:8]:
        raise SignatureDoesNotMatch(
            f"Date in Credential scope {signature.scope.date} does not match the "
            f"date {signature.amz_date[:8]} of X-Amz-Date; sign with one timestamp"
        )
    if signature.scope.service != SERVICE:
        raise SignatureDoesNotMatch(
            f"Credential should be scoped to the service {SERVICE!r}, not "
            f"{signature.scope.service!r}"
        )


def compute_signature(
    request: SignedRequest, signature: _Signature, secret: str
) -> str:
    """Return the hex signature of `request` under the scope in `signature`."""
    canonical = canonical_request(
        request, signature.signed_headers, presigned=signature.expires_s is not None
    )
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            signature.amz_date,
            signature.scope.text,
            hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        ]
    )
    key = signing_key(secret, signature.scope)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def signing_key(secret: str, scope: CredentialScope) -> bytes:
    """Derive the signing key for one date, region and service."""
    key = ("AWS4" + secret).encode("utf-8")
    for part in (scope.date, scope.region, scope.service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def canonical_request(
    request: SignedRequest, signed_headers: list[str], *, presigned: bool
) -> str:
    """Build the SigV4 canonical request text."""
    pairs = request.query_pairs()
    if presigned:
        pairs = [(key, value) for key, value in pairs if key != "X-Amz-Signature"]
    encoded = sorted((_uri_encode(key), _uri_encode(value)) for key, value in pairs)
    query = "&".join(f"{key}={value}" for key, value in encoded)

    header_lines = []
    for name in signed_headers:
        values = request.headers.get(name, [])
        joined = ",".join(" ".join(value.split()) for value in values)
        header_lines.append(f"{name}:{joined}\n")

    payload_hash = request.header("x-amz-content-sha256")
    if payload_hash is None:
        payload_hash = hashlib.sha256(request.body).hexdigest()

    return "\n".join(
        [
            request.method.upper(),
            _canonical_path(request.raw_path),
            query,
            "".join(header_lines),
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def _read_signature(request: SignedRequest) -> _Signature | None:
    authorization = request.header("authorization")
    if authorization is not None:
        return _parse_authorization(authorization, request)

    query = dict(request.query_pairs())
    if "X-Amz-Signature" in query or "X-Amz-Credential" in query:
        return _parse_presigned(query)
    return None


def _parse_authorization(value: str, request: SignedRequest) -> _Signature:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise InvalidSecurity(
            f"unsupported authorization algorithm {algorithm!r}; "
            f"sign requests with {ALGORITHM}"
        )

    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, _, field_value = part.strip().partition("=")
        fields[key] = field_value
    missing = [
        key for key in ("Credential", "SignedHeaders", "Signature") if key not in fields
    ]
    if missing:
        raise IncompleteSignature(
            f"Authorization header is missing {', '.join(missing)}; "
            "expected Credential=, SignedHeaders= and Signature="
        )

    amz_date = request.header("x-amz-date")
    if amz_date is None:
        raise IncompleteSignature(
            "a signed request must carry an X-Amz-Date header (YYYYMMDDTHHMMSSZ)"
        )
    return _Signature(
        scope=_parse_credential(fields["Credential"]),
        signed_headers=_parse_signed_headers(fields["SignedHeaders"]),
        signature=fields["Signature"],
        amz_date=amz_date,
        expires_s=None,
    )


def _parse_presigned(query: dict[str, str]) -> _Signature:
    required = (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    )
    missing = [key for key in required if key not in query]
    if missing:
        raise IncompleteSignature(f"presigned request is missing {', '.join(missing)}")
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise InvalidSecurity(
            f"unsupported X-Amz-Algorithm {query['X-Amz-Algorithm']!r}; use {ALGORITHM}"
        )

    expires_text = query.get("X-Amz-Expires", str(MAX_PRESIGN_EXPIRES_S))
    if (
        not expires_text.isdigit()
        or not 1 <= int(expires_text) <= MAX_PRESIGN_EXPIRES_S
    ):
        raise IncompleteSignature(
            f"X-Amz-Expires is {expires_text!r}; it must be a whole number of "
            f"seconds from 1 to {MAX_PRESIGN_EXPIRES_S}"
        )
    return _Signature(
        scope=_parse_credential(query["X-Amz-Credential"]),
        signed_headers=_parse_signed_headers(query["X-Amz-SignedHeaders"]),
        signature=query["X-Amz-Signature"],
        amz_date=query["X-Amz-Date"],
        expires_s=int(expires_text),
    )


def _parse_credential(value: str) -> CredentialScope:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise IncompleteSignature(
            f"Credential {value!r} is malformed; expected "
            "ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request"
        )
    return CredentialScope(
        access_key_id=parts[0], date=parts[1], region=parts[2], service=parts[3]
    )


def _parse_signed_headers(value: str) -> list[str]:
    names = [name.strip().lower() for name in value.split(";") if name.strip()]
    if "host" not in names:
        raise IncompleteSignature(f"SignedHeaders {value!r} must include host")
    return sorted(set(names))


def _parse_amz_date(value: str) -> float:
    try:
        parsed = datetime.strptime(value, AMZ_DATE_FORMAT)
    except ValueError as exc:
        raise IncompleteSignature(
            f"X-Amz-Date {value!r} is invalid; expected YYYYMMDDTHHMMSSZ"
        ) from exc
    return parsed.replace(tzinfo=UTC).timestamp()


def _canonical_path(raw_path: str) -> str:
    # Clients sign the path as sent, percent-encoded once more, after
    # removing dot segments (S3 alone differs, and is not served here).
    path = raw_path or "/"
    normalized = posixpath.normpath(path)
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    return quote(normalized, safe="/~")


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")
