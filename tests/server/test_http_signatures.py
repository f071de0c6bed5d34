"""Tests of chainproof.attest.http_signatures: RFC 9421 request signatures over RFC 9530 digests.

The interop tests build the RFC 9421 section 2.5 signature base by hand, independently of the
library the module uses, and sign or verify it with `cryptography` directly.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import http_sf
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from chainproof.attest import http_signatures as hs
from chainproof.attest import keys
from chainproof.errors import UsageError, VerificationError

NOW = 1_700_000_000
URL = "https://log.example:8443/v1/entries?after=3&name=a%20b"
BODY = b'{"hello": "world"}'
# RFC 9530 section 2 (and appendix B): the digests of this very body.
RFC9530_SHA256 = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
RFC9530_SHA512 = (
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
)
CODES = {
    "unsigned",
    "bad-signature-input",
    "bad-content-digest",
    "unknown-key",
    "bad-signature",
    "expired",
    "not-yet-valid",
    "replayed",
}

# A seed fixed so that a failure reproduces with the same key ids.
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
KEYID = keys.keyid(KEY.public_key())
OTHER_KEYID = keys.keyid(OTHER.public_key())
KNOWN = {KEYID: KEY.public_key(), OTHER_KEYID: OTHER.public_key()}


def lookup(keyid: str) -> Ed25519PublicKey | None:
    return KNOWN.get(keyid)


def signed(method: str = "POST", url: str = URL, body: bytes = BODY, nonce: str = "n-1") -> dict[str, str]:
    """The headers of a request signed by KEY at NOW."""
    headers = {"Content-Type": "application/json"}
    return headers | hs.sign_request(method, url, headers, body, KEY, now=NOW, nonce=nonce)


def rejected(
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    url: str = URL,
    body: bytes = BODY,
    now: float = NOW,
    window: int = hs.DEFAULT_WINDOW,
) -> hs.SignatureRejected:
    with pytest.raises(hs.SignatureRejected) as caught:
        hs.verify_request(method, url, headers, body, lookup, now=now, window=window)
    message = str(caught.value)
    assert message
    assert "\n" not in message
    assert "\r" not in message
    assert caught.value.code in CODES
    return caught.value


# -- the signature base, by hand (RFC 9421 section 2.5) ----------------------------------------


def content_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """RFC 9530: an RFC 8941 dictionary of the algorithm and a byte sequence of the digest."""
    digest = hashlib.new(algorithm.replace("-", ""), body).digest()
    return f"{algorithm}=:{base64.b64encode(digest).decode()}:"


def signature_base(method: str, target_uri: str, digest: str, signature_params: str) -> bytes:
    """One line per covered component, `"name": value`, then `"@signature-params": ...`, joined
    by LF with none after the last."""
    lines = [
        f'"@method": {method}',
        f'"@target-uri": {target_uri}',
        f'"content-digest": {digest}',
        f'"@signature-params": {signature_params}',
    ]
    return "\n".join(lines).encode("ascii")


def hand_signed(
    params: str = 'created={NOW};keyid="{KEYID}";alg="ed25519";nonce="hand"',
    *,
    method: str = "POST",
    url: str = URL,
    body: bytes = BODY,
    key: Ed25519PrivateKey = KEY,
    algorithm: str = "sha-256",
) -> dict[str, str]:
    """Headers of a request signed without the module or its library."""
    signature_params = '("@method" "@target-uri" "content-digest");' + params.format(NOW=NOW, KEYID=KEYID)
    digest = content_digest(body, algorithm)
    signature = key.sign(signature_base(method, url, digest, signature_params))
    return {
        "content-digest": digest,
        "signature-input": f"{hs.LABEL}={signature_params}",
        "signature": f"{hs.LABEL}=:{base64.b64encode(signature).decode()}:",
    }


# -- round trips and the headers' form -------------------------------------------------------------


def test_an_httpx_request_signed_then_verified() -> None:
    request = httpx.Request("post", URL, content=BODY, headers={"content-type": "application/json"})
    request.headers.update(
        hs.sign_request(request.method, str(request.url), request.headers, request.content, KEY, now=NOW)
    )
    verified = hs.verify_request(
        request.method, str(request.url), request.headers, request.content, lookup, now=NOW
    )
    assert verified.keyid == KEYID
    assert verified.created == NOW
    assert len(verified.nonce) == 22  # 128 bits in base64url, unpadded
    assert len(base64.urlsafe_b64decode(verified.nonce + "==")) == 16


def test_header_names_are_case_insensitive_on_both_sides() -> None:
    lower = {name.lower(): value for name, value in signed().items()}
    upper = {name.upper(): value for name, value in signed().items()}
    assert hs.verify_request("POST", URL, lower, BODY, lookup, now=NOW).nonce == "n-1"
    assert hs.verify_request("POST", URL, upper, BODY, lookup, now=NOW).nonce == "n-1"


def test_starlette_headers_as_the_server_sees_them() -> None:
    raw = [(name.lower().encode(), value.encode()) for name, value in signed().items()]
    headers = Headers(raw=raw)
    assert hs.verify_request("POST", URL, headers, BODY, lookup, now=NOW).keyid == KEYID


def test_the_headers_are_structurally_rfc_9421() -> None:
    headers = signed(nonce="abc")
    inputs = http_sf.parse(headers["Signature-Input"].encode(), tltype="dictionary")
    assert isinstance(inputs, dict)
    assert list(inputs) == [hs.LABEL]
    components, params = inputs[hs.LABEL]
    assert [(name, p) for name, p in components] == [(c, {}) for c in hs.COVERED]
    assert params == {"created": NOW, "keyid": KEYID, "alg": "ed25519", "nonce": "abc"}
    signatures = http_sf.parse(headers["Signature"].encode(), tltype="dictionary")
    assert isinstance(signatures, dict)
    assert list(signatures) == [hs.LABEL]
    signature, _ = signatures[hs.LABEL]
    assert isinstance(signature, bytes)
    assert len(signature) == 64
    digest = http_sf.parse(headers["Content-Digest"].encode(), tltype="dictionary")
    assert digest == {"sha-256": (hashlib.sha256(BODY).digest(), {})}


def test_the_content_digest_is_rfc_9530s_example() -> None:
    assert signed()["Content-Digest"] == RFC9530_SHA256


def test_a_content_digest_given_is_replaced_by_the_bodys() -> None:
    stale = {"Content-Digest": content_digest(b"other")}
    headers = hs.sign_request("POST", URL, stale, BODY, KEY, now=NOW)
    assert headers["Content-Digest"] == RFC9530_SHA256


def test_default_nonces_differ() -> None:
    first = hs.sign_request("POST", URL, {}, BODY, KEY, now=NOW)
    second = hs.sign_request("POST", URL, {}, BODY, KEY, now=NOW)
    assert first["Signature-Input"] != second["Signature-Input"]


@pytest.mark.parametrize(
    "url",
    [
        "https://log.example/",
        "https://log.example",
        "http://127.0.0.1:8000/v1/entries/12",
        "https://log.example/v1/entries?after=3&after=4&q=%2F",
        "https://log.example/v1/a%20b?",
    ],
)
def test_the_same_url_string_verifies(url: str) -> None:
    headers = signed(url=url)
    assert hs.verify_request("POST", url, headers, BODY, lookup, now=NOW).keyid == KEYID


def test_an_empty_body_is_signed_and_verified() -> None:
    headers = signed(method="GET", body=b"")
    assert headers["Content-Digest"] == content_digest(b"")
    assert hs.verify_request("GET", URL, headers, b"", lookup, now=NOW).keyid == KEYID


# -- interop with a signature base built by hand ---------------------------------------------------


def test_a_hand_built_signature_is_accepted() -> None:
    verified = hs.verify_request("POST", URL, hand_signed(), BODY, lookup, now=NOW)
    assert verified == hs.Verified(KEYID, NOW, "hand")


def test_a_hand_built_signature_with_its_parameters_in_another_order_is_accepted() -> None:
    params = 'nonce="other-order";alg="ed25519";keyid="{KEYID}";created={NOW}'
    assert hs.verify_request("POST", URL, hand_signed(params), BODY, lookup, now=NOW).nonce == "other-order"


def test_a_sha_512_content_digest_is_accepted() -> None:
    headers = hand_signed(algorithm="sha-512")
    assert headers["content-digest"] == RFC9530_SHA512
    assert hs.verify_request("POST", URL, headers, BODY, lookup, now=NOW).keyid == KEYID


def test_the_signature_made_is_over_the_hand_built_base() -> None:
    headers = signed(nonce="xyz")
    signature_params = headers["Signature-Input"].removeprefix(f"{hs.LABEL}=")
    expected = (
        f'("@method" "@target-uri" "content-digest");created={NOW};keyid="{KEYID}";alg="ed25519";nonce="xyz"'
    )
    assert signature_params == expected
    signature = base64.b64decode(headers["Signature"].removeprefix(f"{hs.LABEL}=:").removesuffix(":"))
    base = signature_base("POST", URL, RFC9530_SHA256, signature_params)
    KEY.public_key().verify(signature, base)  # raises InvalidSignature if the bases differ


def test_a_signature_with_an_expires_time_is_held_to_it() -> None:
    params = 'created={NOW};keyid="{KEYID}";alg="ed25519";expires=' + str(NOW + 10) + ';nonce="e"'
    headers = hand_signed(params)
    assert hs.verify_request("POST", URL, headers, BODY, lookup, now=NOW + 10).nonce == "e"
    assert rejected(headers, now=NOW + 11).code == "expired"


def test_another_label_beside_ours_is_left_alone() -> None:
    headers = signed()
    headers["Signature-Input"] = 'proxy=("@method");created=1;keyid="p", ' + headers["Signature-Input"]
    headers["Signature"] = "proxy=:AAAA:, " + headers["Signature"]
    assert hs.verify_request("POST", URL, headers, BODY, lookup, now=NOW).keyid == KEYID


# -- what is refused, and with which code ----------------------------------------------------------


def test_no_signature_headers_is_unsigned() -> None:
    assert rejected({"Content-Type": "application/json"}).code == "unsigned"
    assert rejected({}).code == "unsigned"


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ({"method": "PUT"}, "bad-signature"),
        ({"url": URL.replace("/v1/entries", "/v1/entrie")}, "bad-signature"),
        ({"url": URL.replace("after=3", "after=4")}, "bad-signature"),
        ({"url": URL.split("?", maxsplit=1)[0]}, "bad-signature"),
        ({"url": URL.replace("https:", "http:")}, "bad-signature"),
        ({"url": URL.replace(":8443", ":8444")}, "bad-signature"),
        ({"body": BODY + b" "}, "bad-content-digest"),
        ({"body": b""}, "bad-content-digest"),
    ],
)
def test_a_changed_request_is_refused(request_: dict[str, Any], code: str) -> None:
    assert rejected(signed(), **request_).code == code


def test_a_new_body_with_its_own_digest_is_refused() -> None:
    headers = signed() | {"Content-Digest": content_digest(b"forged")}
    assert rejected(headers, body=b"forged").code == "bad-signature"


def test_a_digest_of_another_algorithm_is_refused() -> None:
    headers = signed() | {"Content-Digest": content_digest(BODY, "sha-512")}
    assert rejected(headers).code == "bad-signature"


@pytest.mark.parametrize(
    "digest",
    [
        None,
        "",
        "sha-256=:AAAA:",
        "md5=:AAAAAAAAAAAAAAAAAAAAAA==:",
        f"sha-256={hashlib.sha256(BODY).hexdigest()}",
        RFC9530_SHA256 + ", " + content_digest(b"other", "sha-512"),
        RFC9530_SHA256 + ", " + RFC9530_SHA256,
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPÉ=:",
    ],
)
def test_a_bad_content_digest_is_refused(digest: str | None) -> None:
    headers = signed()
    del headers["Content-Digest"]
    if digest is not None:
        headers["content-digest"] = digest
    assert rejected(headers).code == "bad-content-digest"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (f"created={NOW}", f"created={NOW + 1}"),
        ('nonce="n-1"', 'nonce="n-2"'),
        (KEYID, OTHER_KEYID),
        ('"@method" "@target-uri" "content-digest"', '"@target-uri" "@method" "content-digest"'),
        ('"content-digest")', '"content-digest" "content-type")'),
        ("alg=", 'tag="x";alg='),
    ],
)
def test_a_changed_signature_input_is_refused(old: str, new: str) -> None:
    headers = signed()
    assert old in headers["Signature-Input"]
    headers["Signature-Input"] = headers["Signature-Input"].replace(old, new)
    assert rejected(headers).code == "bad-signature"


@pytest.mark.parametrize("index", [0, 31, 32, 63])
def test_a_changed_signature_byte_is_refused(index: int) -> None:
    headers = signed()
    signature = bytearray(base64.b64decode(headers["Signature"].split(":")[1]))
    signature[index] ^= 0x01
    headers["Signature"] = f"{hs.LABEL}=:{base64.b64encode(bytes(signature)).decode()}:"
    assert rejected(headers).code == "bad-signature"


@pytest.mark.parametrize(
    "signature", [f"{hs.LABEL}=:AAAA:", f"{hs.LABEL}=:{base64.b64encode(bytes(64)).decode()}:"]
)
def test_a_signature_of_the_wrong_length_or_value_is_refused(signature: str) -> None:
    assert rejected(signed() | {"Signature": signature}).code == "bad-signature"


def test_a_signature_by_another_key_is_refused() -> None:
    headers = hand_signed(key=OTHER)  # names KEY, signed by OTHER
    assert rejected(headers).code == "bad-signature"


def test_an_unknown_key_is_refused() -> None:
    stranger = Ed25519PrivateKey.from_private_bytes(bytes(32))
    headers = hs.sign_request("POST", URL, {}, BODY, stranger, now=NOW)
    assert rejected(headers).code == "unknown-key"
    headers = signed()
    headers["Signature-Input"] = headers["Signature-Input"].replace(KEYID, "0" * 64)
    assert rejected(headers).code == "unknown-key"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('alg="ed25519"', 'alg="rsa-pss-sha512"'),
        ('alg="ed25519"', "alg=ed25519"),  # a Token, not a String
        (';alg="ed25519"', ""),
        (';nonce="n-1"', ""),
        ('nonce="n-1"', 'nonce=""'),
        ('nonce="n-1"', "nonce=1"),
        (f"created={NOW}", f'created="{NOW}"'),
        (f"created={NOW}", f"created={NOW}.0"),
        (f"created={NOW};", ""),
        (f'keyid="{KEYID}"', f"keyid=k{KEYID}"),  # a Token, not a String
        (f'keyid="{KEYID}"', f'keyid="{"a" * (hs.MAX_PARAMETER_LENGTH + 1)}"'),
        (f'keyid="{KEYID}";', ""),
        ('"@target-uri" ', ""),
        ('"@method" ', ""),
        (' "content-digest"', ""),
        ('"content-digest"', '"content-digest";sf'),
        ('"@target-uri"', '"@path"'),
        ("alg=", "extra=1;alg="),
        ("alg=", "expires=1.5;alg="),
        (f"{hs.LABEL}=", "other="),
        (f"{hs.LABEL}=(", f"{hs.LABEL}=:AAAA:, {hs.LABEL}=("),
        (f"{hs.LABEL}=(", f"{hs.LABEL}=1, {hs.LABEL}=("),
        ('nonce="n-1"', 'nonce="n-1";nonce="n-2"'),
        (f"{hs.LABEL}=(", f"{hs.LABEL}=?1;x=("),
        (")", ""),
    ],
)
def test_a_malformed_signature_input_is_refused(old: str, new: str) -> None:
    headers = signed()
    assert old in headers["Signature-Input"]
    headers["Signature-Input"] = headers["Signature-Input"].replace(old, new, 1)
    assert rejected(headers).code == "bad-signature-input"


@pytest.mark.parametrize(
    "signature", ["", f"{hs.LABEL}=abc", f"{hs.LABEL}=(:AAAA:)", f"{hs.LABEL}=:AAAA", "other=:AAAA:", "é"]
)
def test_a_malformed_signature_is_refused(signature: str) -> None:
    assert rejected(signed() | {"Signature": signature}).code == "bad-signature-input"


@pytest.mark.parametrize("missing", ["Signature", "Signature-Input"])
def test_half_a_signature_is_refused(missing: str) -> None:
    headers = signed()
    del headers[missing]
    assert rejected(headers).code == "bad-signature-input"


def test_the_checks_come_in_order() -> None:
    """A request wrong in several ways is refused for the first, in the documented order."""
    headers = signed()
    late = NOW + hs.DEFAULT_WINDOW + 1
    assert rejected(headers, body=b"x", now=late).code == "bad-content-digest"
    bad_signature = headers | {"Signature": f"{hs.LABEL}=:{base64.b64encode(bytes(64)).decode()}:"}
    assert rejected(bad_signature, now=late).code == "bad-signature"
    stranger = hs.sign_request(
        "POST", URL, {}, BODY, Ed25519PrivateKey.from_private_bytes(bytes(32)), now=NOW
    )
    assert rejected(stranger | {"Content-Digest": "sha-256=:AAAA:"}).code == "bad-content-digest"
    assert rejected(stranger, now=late).code == "unknown-key"
    half = {"Signature": headers["Signature"], "Content-Digest": "garbage"}
    assert rejected(half).code == "bad-signature-input"


# -- the clock -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("window", [hs.DEFAULT_WINDOW, 10, 0])
def test_the_window_edges(window: int) -> None:
    headers = signed()
    for now in (NOW - window, NOW, NOW + window, NOW + window + 0.5):
        assert hs.verify_request("POST", URL, headers, BODY, lookup, now=now, window=window).created == NOW
    assert rejected(headers, now=NOW + window + 1, window=window).code == "expired"
    assert rejected(headers, now=NOW - window - 1, window=window).code == "not-yet-valid"
    assert rejected(headers, now=NOW - window - 0.5, window=window).code == "not-yet-valid"


def test_created_is_the_signers_now_in_whole_seconds() -> None:
    headers = hs.sign_request("POST", URL, {}, BODY, KEY, now=NOW + 0.9)
    assert f"created={NOW};" in headers["Signature-Input"]


def test_the_clock_defaults_to_now() -> None:
    assert (
        hs.verify_request("POST", URL, hs.sign_request("POST", URL, {}, BODY, KEY), BODY, lookup).keyid
        == KEYID
    )
    with pytest.raises(hs.SignatureRejected) as caught:  # NOW is long past by the real clock
        hs.verify_request("POST", URL, signed(), BODY, lookup)
    assert caught.value.code == "expired"


# -- signing errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/v1/entries", "log.example/v1", "https://log.example/a b", "https://ü.example/"]
)
def test_an_unsignable_url_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError):
        hs.sign_request("POST", url, {}, BODY, KEY, now=NOW)


@pytest.mark.parametrize("nonce", ["", "é", "a\nb", "x" * (hs.MAX_PARAMETER_LENGTH + 1)])
def test_an_unsignable_nonce_is_a_usage_error(nonce: str) -> None:
    with pytest.raises(UsageError):
        hs.sign_request("POST", URL, {}, BODY, KEY, now=NOW, nonce=nonce)


def test_a_rejection_is_a_verification_error() -> None:
    assert issubclass(hs.SignatureRejected, VerificationError)


# -- hostile input -------------------------------------------------------------------------------------


def _verify_or_reject(method: str, url: str, headers: Mapping[str, str], body: bytes) -> None:
    """Anything but a Verified or a SignatureRejected fails the test."""
    refused: hs.SignatureRejected | None = None
    try:
        hs.verify_request(method, url, headers, body, lookup, now=NOW)
    except hs.SignatureRejected as e:
        refused = e
    if refused is not None:
        assert refused.code in CODES
        assert "\n" not in str(refused)


_names = st.sampled_from(["Signature-Input", "signature", "SIGNATURE-INPUT", "Signature", "content-digest"])


@settings(max_examples=300, deadline=None)
@given(
    fields=st.lists(st.tuples(_names, st.text(max_size=200)), max_size=5),
    method=st.sampled_from(["POST", "get", "", "P\nOST"]) | st.text(max_size=10),
    url=st.sampled_from([URL, "", "/x", "https://[::1", "https://h/%zz"]) | st.text(max_size=40),
)
def test_garbage_headers_are_only_ever_refused(fields: list[tuple[str, str]], method: str, url: str) -> None:
    _verify_or_reject(method, url, _Lines(fields), BODY)


def _mutate(text: str, edits: list[tuple[int, int, str]]) -> str:
    for kind, position, char in edits:
        i = position % (len(text) + 1)
        if kind == 0:
            text = text[:i] + char + text[i:]
        elif kind == 1:
            text = text[:i] + text[i + 1 :]
        else:
            text = text[:i] + char + text[i + 1 :]
    return text


_edits = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.integers(0, 10_000),
        st.sampled_from(list('"();=:,* \t?é\x00\r\n1a@-')) | st.text(min_size=1, max_size=1),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(which=st.sampled_from(["Signature-Input", "Signature", "Content-Digest"]), edits=_edits)
def test_mutated_headers_are_only_ever_refused(which: str, edits: list[tuple[int, int, str]]) -> None:
    headers = signed()
    headers[which] = _mutate(headers[which], edits)
    _verify_or_reject("POST", URL, headers, BODY)


class _Lines(Mapping[str, str]):
    """A header mapping that, like Starlette's, repeats a name in `items()` once per field line."""

    def __init__(self, lines: list[tuple[str, str]]) -> None:
        self._lines = lines

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return list(self._lines)

    def __getitem__(self, name: str) -> str:
        return ", ".join(v for n, v in self._lines if n.lower() == name.lower())

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(n for n, _ in self._lines))

    def __len__(self) -> int:
        return len(self._lines)


def test_repeated_field_lines_are_combined() -> None:
    headers = signed()
    inputs = headers.pop("Signature-Input")
    lines = [
        *headers.items(),
        ("signature-input", 'proxy=("@method");created=1;keyid="p"'),
        ("Signature-Input", inputs),
    ]
    lines.append(("signature", "proxy=:AAAA:"))
    assert hs.verify_request("POST", URL, _Lines(lines), BODY, lookup, now=NOW).keyid == KEYID
    twice = [*headers.items(), ("Signature-Input", inputs), ("Signature-Input", inputs)]
    assert rejected(_Lines(twice)).code == "bad-signature-input"


def test_lookup_is_called_with_the_signed_keyid_only_once_checks_pass() -> None:
    asked: list[str] = []

    def recording(keyid: str) -> Ed25519PublicKey | None:
        asked.append(keyid)
        return lookup(keyid)

    hs.verify_request("POST", URL, signed(), BODY, recording, now=NOW)
    assert asked == [KEYID]
    with pytest.raises(hs.SignatureRejected):
        hs.verify_request("POST", URL, signed(), b"other", recording, now=NOW)
    assert asked == [KEYID]
