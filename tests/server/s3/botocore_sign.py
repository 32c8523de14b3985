#!/usr/bin/env python3
"""Signs requests with botocore, for sigv4_botocore_test.cc to compare against.

Reads a JSON list of requests on stdin; each is an object with
  method, url ("http://host[:port]/already/encoded/path"), query ([[k, v], ...],
  not encoded), headers ([[name, value], ...]), body_hex, region, service,
  access_key, secret_key, token (may be ""), timestamp ("YYYYMMDDTHHMMSSZ"),
  unsigned_payload (bool, S3 header signing only), presign_expires (int; 0
  means sign an Authorization header instead).
Prints a JSON list with one object per request: for header signing
  authorization, x-amz-date, x-amz-content-sha256, x-amz-security-token
  (absent headers as ""); for presigning, url (path and query, as botocore
  builds it). Exit status 3 means botocore is not installed.
"""
import datetime
import json
import sys
import types
import urllib.parse

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as e:  # CI installs python3-botocore; say so and let the test skip.
    print(f"botocore not importable: {e}", file=sys.stderr)
    sys.exit(3)

MAX_INPUT_BYTES = 1 << 20

_now = datetime.datetime(2000, 1, 1)


class _FixedDatetime(datetime.datetime):
    """datetime.datetime whose clock reads _now (botocore asks utcnow() or now())."""

    @classmethod
    def utcnow(cls):
        return _now

    @classmethod
    def now(cls, tz=None):
        return _now.replace(tzinfo=tz) if tz is not None else _now


def _pin_clock():
    # Older botocore calls botocore.auth.datetime.datetime.utcnow(); newer
    # calls botocore.auth.get_current_datetime(). Pin both.
    botocore.auth.datetime = types.SimpleNamespace(
        datetime=_FixedDatetime, timezone=datetime.timezone, timedelta=datetime.timedelta
    )
    if hasattr(botocore.auth, "get_current_datetime"):
        botocore.auth.get_current_datetime = lambda remove_tzinfo=True: _now


def _sign(spec):
    global _now
    _now = datetime.datetime.strptime(spec["timestamp"], "%Y%m%dT%H%M%SZ")
    credentials = Credentials(spec["access_key"], spec["secret_key"], spec["token"] or None)
    request = AWSRequest(
        method=spec["method"],
        url=spec["url"],
        data=bytes.fromhex(spec["body_hex"]),
        params=[tuple(pair) for pair in spec["query"]],
    )
    for name, value in spec["headers"]:
        request.headers[name] = value  # HTTPHeaders appends: duplicates stay
    expires = spec["presign_expires"]
    if expires:
        signer = botocore.auth.S3SigV4QueryAuth(
            credentials, spec["service"], spec["region"], expires=expires
        )
        signer.add_auth(request)
        url = urllib.parse.urlsplit(request.url)
        return {"url": url.path + "?" + url.query}
    if spec["unsigned_payload"]:
        request.context["client_config"] = types.SimpleNamespace(
            s3={"payload_signing_enabled": False}
        )
    signer_class = botocore.auth.S3SigV4Auth if spec["service"] == "s3" else botocore.auth.SigV4Auth
    signer_class(credentials, spec["service"], spec["region"]).add_auth(request)
    return {
        name: request.headers.get(name, "")
        for name in ("authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token")
    }


def main():
    raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    if len(raw) > MAX_INPUT_BYTES:
        print("input larger than 1 MiB", file=sys.stderr)
        return 2
    specs = json.loads(raw)
    _pin_clock()
    json.dump([_sign(spec) for spec in specs], sys.stdout, ensure_ascii=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
