"""SigV4 checking against requests that botocore signs."""

from __future__ import annotations

import time

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from nanoqueue.http.sqs.errors import (
    IncompleteSignature,
    InvalidClientTokenId,
    MissingAuthenticationToken,
    RequestExpired,
    SignatureDoesNotMatch,
)
from nanoqueue.http.sqs.sigv4 import SignedRequest, SigV4Verifier, credential_scope

KEY_ID = "AKIDEXAMPLE"
SECRET = "secret-example"


def signed(
    url: str = "http://127.0.0.1:8484/000000000000/jobs?Action=ListQueues",
    body: bytes = b"Action=SendMessage&MessageBody=a%20b%2Bc",
    *,
    secret: str = SECRET,
    region: str = "eu-west-1",
    presign: bool = False,
) -> SignedRequest:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    credentials = Credentials(KEY_ID, secret)
    if presign:
        SigV4QueryAuth(credentials, "sqs", region, expires=60).add_auth(request)
    else:
        SigV4Auth(credentials, "sqs", region).add_auth(request)
    prepared = request.prepare()
    path, _, query = prepared.url.split("/", 3)[3].partition("?")
    headers: dict[str, list[str]] = {}
    for name, value in prepared.headers.items():
        headers.setdefault(name.lower(), []).append(value)
    headers["host"] = [prepared.url.split("/")[2]]
    return SignedRequest(
        method="POST",
        raw_path="/" + path,
        raw_query=query,
        headers=headers,
        body=prepared.body or b"",
    )


def test_verify_accepts_botocore_signature() -> None:
    scope = SigV4Verifier({KEY_ID: SECRET}).verify(signed())

    assert scope.access_key_id == KEY_ID
    assert scope.region == "eu-west-1"


def test_verify_accepts_presigned_url() -> None:
    request = signed(body=b"", presign=True)

    assert "X-Amz-Signature=" in request.raw_query
    assert SigV4Verifier({KEY_ID: SECRET}).verify(request).region == "eu-west-1"


def test_verify_rejects_wrong_secret() -> None:
    with pytest.raises(SignatureDoesNotMatch):
        SigV4Verifier({KEY_ID: SECRET}).verify(signed(secret="other"))


def test_verify_rejects_changed_body() -> None:
    request = signed()
    tampered = SignedRequest(
        request.method,
        request.raw_path,
        request.raw_query,
        request.headers,
        b"Action=X",
    )

    with pytest.raises(SignatureDoesNotMatch):
        SigV4Verifier({KEY_ID: SECRET}).verify(tampered)


def test_verify_rejects_unknown_key() -> None:
    with pytest.raises(InvalidClientTokenId):
        SigV4Verifier({"AKIDOTHER": SECRET}).verify(signed())


def test_verify_rejects_unsigned_request() -> None:
    request = SignedRequest("POST", "/", "", {"host": ["127.0.0.1"]}, b"")

    with pytest.raises(MissingAuthenticationToken):
        SigV4Verifier({KEY_ID: SECRET}).verify(request)


def test_verify_rejects_old_signature() -> None:
    verifier = SigV4Verifier({KEY_ID: SECRET}, clock=lambda: time.time() + 16 * 60)

    with pytest.raises(RequestExpired, match="Signature expired"):
        verifier.verify(signed())


def test_verify_rejects_expired_presigned_url() -> None:
    verifier = SigV4Verifier({KEY_ID: SECRET}, clock=lambda: time.time() + 61)

    with pytest.raises(RequestExpired, match="Request has expired"):
        verifier.verify(signed(body=b"", presign=True))


def test_credential_scope_reads_region() -> None:
    scope = credential_scope(signed(region="ap-south-1"))

    assert scope is not None
    assert scope.region == "ap-south-1"


def test_credential_scope_none_when_unsigned() -> None:
    assert credential_scope(SignedRequest("GET", "/", "", {}, b"")) is None


def test_credential_scope_rejects_malformed_header() -> None:
    request = SignedRequest(
        "GET", "/", "", {"authorization": ["AWS4-HMAC-SHA256 Credential=x"]}, b""
    )

    with pytest.raises(IncompleteSignature):
        credential_scope(request)
