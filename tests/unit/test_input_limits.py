"""Limits on untrusted input: duplicate JSON keys, integers too long, the size of an entry, and
statements the log would refuse."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from chainproof._internal import config, untrusted_json
from chainproof.attest import dsse, keys, statement
from chainproof.attest.statement import Statement, Subject
from chainproof.errors import FormatError, UsageError

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
KEYID = keys.keyid(KEY.public_key())
STATEMENT = Statement((Subject("m", {"sha256": "ab" * 32}),), "https://example.com/p/v1", {"n": 1})


def envelope(payload: bytes = STATEMENT.canonical()) -> dsse.Envelope:
    return dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, payload, KEY, KEYID)


def line(env: dsse.Envelope) -> bytes:
    return env.canonical() + b"\n"


# -- duplicate keys and long integers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"a": 1, "a": 2}', "a"),
        ('{"a": {"b": 1, "c": 2, "b": 3}}', "b"),
        ('[{"x": 1}, {"y": 1, "y": 1}]', "y"),
        ('{"é": 1, "\\u00e9": 2}', "é"),  # the same key, escaped once
    ],
)
def test_a_key_twice_in_one_object_is_refused_and_named(text: str, key: str) -> None:
    with pytest.raises(untrusted_json.JsonInputError, match=f"the key {key!r} appears twice"):
        untrusted_json.loads(text)
    assert untrusted_json.loads(text, unique_keys=False) == json.loads(text)


def test_keys_that_only_look_alike_are_different_keys() -> None:
    assert untrusted_json.loads('{"a": 1, "A": 2, "a ": 3}') == {"a": 1, "A": 2, "a ": 3}


@pytest.mark.parametrize("sign", ["", "-"])
def test_integers_up_to_pythons_limit_are_read_and_longer_ones_get_our_message(sign: str) -> None:
    longest = sign + "7" * untrusted_json.MAX_INT_DIGITS
    assert untrusted_json.loads(f'{{"n": {longest}}}') == {"n": int(longest)}
    with pytest.raises(ValueError, match="an integer of 4,301 digits") as caught:
        untrusted_json.loads(f"[{sign}{'7' * 4301}]", unique_keys=False)
    assert "set_int_max_str_digits" not in str(caught.value)
    assert isinstance(caught.value, untrusted_json.JsonInputError)


def test_an_envelope_with_a_key_twice_is_refused() -> None:
    text = line(envelope()).decode()
    twice = text.replace('"payloadType":', '"payloadType":"text/plain","payloadType":', 1)
    with pytest.raises(FormatError, match="the key 'payloadType' appears twice"):
        dsse.parse(twice.encode())
    with pytest.raises(FormatError, match=r"in\.jsonl:2: the key 'sig' appears twice"):
        dsse.parse_documents((text + text.replace('"sig":', '"sig":"AAAA","sig":')).encode(), "in.jsonl")
    with pytest.raises(FormatError, match=r"^in\.json: the key 'payloadType' appears twice"):
        dsse.parse_documents(twice.encode(), "in.json")


def test_a_statement_with_a_key_twice_is_refused() -> None:
    payload = STATEMENT.canonical().replace(b'"n":1', b'"n":1,"n":2')
    with pytest.raises(FormatError, match="the key 'n' appears twice"):
        statement.parse(payload)
    with pytest.raises(FormatError, match="the key 'predicateType' appears twice"):
        statement.parse(
            STATEMENT.canonical().replace(b'"predicateType":', b'"predicateType":"x","predicateType":')
        )


def test_an_empty_predicate_type_is_refused_when_the_statement_is_made() -> None:
    with pytest.raises(FormatError, match="predicateType must be a non-empty string"):
        Statement(STATEMENT.subjects, "", {})


# -- the size of an entry -------------------------------------------------------------------


@given(
    st.binary(max_size=300), st.text(min_size=1, max_size=20), st.lists(st.binary(max_size=80), max_size=3)
)
def test_canonical_size_is_the_length_of_the_canonical_form(
    payload: bytes, kind: str, sigs: list[bytes]
) -> None:
    env = dsse.Envelope(kind, payload, tuple(dsse.Signature(f"k{i}é", s) for i, s in enumerate(sigs)))
    try:
        canonical = env.canonical()
    except FormatError:  # a lone surrogate in the type: no canonical form
        return
    assert env.canonical_size() == len(canonical)


def test_an_envelope_too_large_is_refused_before_its_payload_is_decoded() -> None:
    obj: dict[str, Any] = envelope().to_json_obj()
    obj["payload"] = "!" * 5000  # not base64 at all: decoding would say so
    with pytest.raises(
        FormatError, match="the envelope is 5,000 bytes; the log takes entries of at most 4,000"
    ):
        dsse.from_json_obj(obj, max_bytes=4000)
    with pytest.raises(FormatError, match="not valid base64"):
        dsse.from_json_obj(obj, max_bytes=6000)


def test_an_envelope_just_over_the_limit_is_refused_and_one_at_it_is_read() -> None:
    env = envelope()
    size = len(env.canonical())
    assert dsse.parse_documents(line(env), "in", max_bytes=size) == [("in", env)]
    with pytest.raises(FormatError, match=f"^in: the envelope is {size:,} bytes"):
        dsse.parse_documents(line(env), "in", max_bytes=size - 1)


class Counted(io.BytesIO):
    """A stream that counts what was read from it."""

    taken = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.taken += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data = super().readline(size)
        self.taken += len(data)
        return data


LIMIT = 2000
BOUND = dsse.text_bound(LIMIT)


def many(count: int) -> list[dsse.Envelope]:
    return [
        envelope(Statement(STATEMENT.subjects, STATEMENT.predicate_type, {"n": n}).canonical())
        for n in range(count)
    ]


def test_a_small_input_is_read_whole_in_any_of_its_forms() -> None:
    envs = many(3)
    array = json.dumps([e.to_json_obj() for e in envs], indent=2).encode()
    for data in (b"".join(map(line, envs)), array):
        assert [e for _, e in dsse.read_documents(io.BytesIO(data), "in", LIMIT)] == envs


def test_a_large_input_of_json_lines_is_read_a_line_at_a_time() -> None:
    envs = many(400)
    data = b"\n".join(e.canonical() for e in envs)  # no line feed at the end
    assert len(data) > 3 * BOUND
    found = dsse.read_documents(io.BytesIO(data), "in", LIMIT)
    assert [e for _, e in found] == envs
    assert found[-1][0] == "in:400"


def test_a_large_line_is_refused_having_read_little_more_than_the_bound() -> None:
    huge = envelope(b"x" * 10_000_000)
    stream = Counted(line(envelope()) + line(huge) + line(envelope()))
    with pytest.raises(FormatError, match=f"in:2: more than {BOUND:,} bytes on one line; the log takes"):
        dsse.read_documents(stream, "in", LIMIT)
    assert stream.taken <= 2 * BOUND + 2


def test_a_large_input_that_is_not_json_lines_says_so() -> None:
    array = json.dumps([e.to_json_obj() for e in many(200)], indent=2).encode()
    assert len(array) > BOUND
    with pytest.raises(FormatError, match=r"^in: more than .* bytes, and not JSON Lines"):
        dsse.read_documents(io.BytesIO(array), "in", LIMIT)
    one_line_array = json.dumps([e.to_json_obj() for e in many(200)]).encode()
    with pytest.raises(FormatError, match=r"^in:1: more than .* bytes on one line"):
        dsse.read_documents(io.BytesIO(one_line_array), "in", LIMIT)


def test_a_bad_line_in_a_large_input_is_named() -> None:
    data = b"".join(map(line, many(200))) + b"{nope\n"
    assert len(data) > BOUND
    with pytest.raises(FormatError, match=r"^in:201: not JSON"):
        dsse.read_documents(io.BytesIO(data), "in", LIMIT)


# -- configuration --------------------------------------------------------------------------


def test_the_entry_limit_is_8_mib_unless_set() -> None:
    assert config.max_entry_bytes({}) == config.DEFAULT_MAX_ENTRY_BYTES == 8 << 20
    assert config.max_entry_bytes({config.MAX_ENTRY_BYTES_ENV: " 123 "}) == 123


@pytest.mark.parametrize("raw", ["0", "-5", "abc", "1e6", "²", "9" * 5000, "1000000000"])
def test_a_bad_entry_limit_is_a_usage_error(raw: str) -> None:
    with pytest.raises(UsageError, match=config.MAX_ENTRY_BYTES_ENV):
        config.max_entry_bytes({config.MAX_ENTRY_BYTES_ENV: raw})


def test_b64_of_the_canonical_form_is_what_the_size_counts() -> None:
    env = envelope(b"\xff" * 7)
    assert env.canonical_size() == len(env.canonical())
    assert base64.b64encode(b"\xff" * 7).decode() in env.canonical().decode()
