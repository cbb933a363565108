"""X-Twilio-Signature: vectors computed by the documented algorithm (PROTOCOLS.md §7.4) with
the fake's independent signer, plus a vector from Twilio's own documentation."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from tests.fakes.twilio.signing import body_sha256, twilio_signature
from twilio_adapter.signature import (
    compute_signature,
    url_variants,
    valid_form_request,
    valid_json_request,
)

TOKEN = "12345"
FORM_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
FORM_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]


def test_published_vectors() -> None:
    # Twilio's request-validator test vectors (the same in its PHP, C# and Python libraries).
    assert compute_signature(TOKEN, FORM_URL, FORM_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"),
                ("Digits", "1234"), ("Digits", "1234")]  # fmt: skip
    assert compute_signature(TOKEN, FORM_URL, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    body = b'{"property": "value", "boolean": true}'
    body_hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    assert body_sha256(body) == body_hash
    url = f"{FORM_URL}&bodySHA256={body_hash}"
    assert valid_json_request(TOKEN, url, body, "a9nBmqA0ju/hNViExpshrM61xv4=")


def test_form_signature_by_the_algorithm() -> None:
    # URL (with its query) + sorted name+value pairs, HMAC-SHA1 with the token, base64.
    message = FORM_URL + "".join(n + v for n, v in sorted(FORM_PARAMS))
    expected = base64.b64encode(hmac.new(b"12345", message.encode(), hashlib.sha1).digest())
    assert compute_signature(TOKEN, FORM_URL, reversed(FORM_PARAMS)) == expected.decode()
    assert valid_form_request(TOKEN, FORM_URL, FORM_PARAMS, expected.decode())


def test_repeated_names_sort_by_value() -> None:
    params = [("StatusCallbackEvent", "ringing"), ("StatusCallbackEvent", "answered"),
              ("StatusCallbackEvent", "ringing")]  # fmt: skip
    url = "https://example.com/twilio/status?call_id=1"
    signature = twilio_signature("tok", url, params)
    assert signature == compute_signature("tok", url, params[::-1])
    assert valid_form_request("tok", url, params, signature)


def test_url_query_is_part_of_the_signed_string() -> None:
    signature = twilio_signature(TOKEN, FORM_URL, FORM_PARAMS)
    assert valid_form_request(TOKEN, FORM_URL, FORM_PARAMS, signature)
    assert not valid_form_request(TOKEN, FORM_URL.replace("foo=1", "foo=2"), FORM_PARAMS,
                                  signature)  # fmt: skip
    assert not valid_form_request(TOKEN, "https://mycompany.com/myapp.php", FORM_PARAMS, signature)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: [*p[:-1], ("To", "+18005551213")],  # altered value
        lambda p: [*p, ("Extra", "1")],  # added parameter
        lambda p: p[1:],  # dropped parameter
    ],
)
def test_tampered_params_fail(change: object) -> None:
    signature = twilio_signature(TOKEN, FORM_URL, FORM_PARAMS)
    assert not valid_form_request(TOKEN, FORM_URL, change(FORM_PARAMS), signature)  # type: ignore[operator]


def test_wrong_token_missing_or_garbage_signature_fail() -> None:
    signature = twilio_signature(TOKEN, FORM_URL, FORM_PARAMS)
    assert not valid_form_request("54321", FORM_URL, FORM_PARAMS, signature)
    assert not valid_form_request(TOKEN, FORM_URL, FORM_PARAMS, None)
    assert not valid_form_request(TOKEN, FORM_URL, FORM_PARAMS, "")
    assert not valid_form_request(TOKEN, FORM_URL, FORM_PARAMS, "not base64 at all ✓")


def test_port_quirk_both_variants_accepted() -> None:
    params = [("CallSid", "CA1")]
    with_port = "https://example.com:443/twilio/voice?x=1"
    without = "https://example.com/twilio/voice?x=1"
    assert url_variants(without) == (without, with_port)
    # Twilio may have signed either form; we know only one of them.
    assert valid_form_request("t", without, params, twilio_signature("t", with_port, params))
    assert valid_form_request("t", with_port, params, twilio_signature("t", without, params))
    other_port = "https://example.com:8443/twilio/voice?x=1"
    assert not valid_form_request("t", without, params, twilio_signature("t", other_port, params))


def test_json_body_variant() -> None:
    body = b'{"CallSid":"CA1","CallStatus":"completed"}'
    url = f"https://example.com/twilio/status?call_id=7&bodySHA256={body_sha256(body)}"
    signature = twilio_signature(TOKEN, url)  # the URL alone, no params appended
    assert valid_json_request(TOKEN, url, body, signature)
    assert not valid_json_request(TOKEN, url, body + b" ", signature)  # body changed
    bare = "https://example.com/twilio/status?call_id=7"
    assert not valid_json_request(TOKEN, bare, body, twilio_signature(TOKEN, bare))  # no hash
    forged = url.replace(body_sha256(body), body_sha256(b"{}"))
    assert not valid_json_request(TOKEN, forged, b"{}", signature)  # hash swapped, sig stale
    assert not valid_json_request(TOKEN, url, body, None)
