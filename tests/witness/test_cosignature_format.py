"""The C2SP tlog-cosignature and tlog-witness formats: published examples, reference vectors,
round trips and tampering."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainproof.attest import keys
from chainproof.errors import FormatError
from chainproof.log.note import NoteSigner, open_note
from chainproof.witness import cosignature as cs
from chainproof.witness import protocol

# From the C2SP tlog-cosignature specification (c2sp.org/tlog-cosignature, v1.0.0): its example
# checkpoint with a log signature and a witness cosignature, and its example signed message.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_LOG_LINE = (
    "\u2014 example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8="
)
SPEC_WITNESS_LINE = (
    "\u2014 witness.example.com/w1 "
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)
SPEC_MESSAGE = (
    "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)

# From the C2SP tlog-witness specification (c2sp.org/tlog-witness): its example request body.
SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n" + SPEC_BODY + "\n" + SPEC_LOG_LINE + "\n"
    "\u2014 example.com/behind-the-sofa "
    "opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
)

# From transparency-dev/formats, note/note_cosigv1_test.go (TestCoSigV1NewVerifier and
# TestCoSigV1Timestamp): a native cosignature/v1 verifier key, a cosignature whose timestamp is
# 1727964367, and a plain Ed25519 note signature, which is no cosignature.
TD_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
TD_COSIG = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA=="
)
TD_NOT_COSIG = "eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY="
TD_BAD_VKEYS = [
    "bananas.sigstore.dev+12344556",  # wrong number of parts
    "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!",  # invalid base64
    "rekor.sigstore.dev+12345678+AwEB",  # invalid algorithm
    "remora.n621.de+00000000+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",  # incorrect key hash
]


def test_spec_signed_message_is_byte_exact() -> None:
    assert cs.signed_message(SPEC_BODY, 1679315147) == SPEC_MESSAGE.encode()


def test_spec_cosignature_line_parses() -> None:
    body, lines = cs.split_note(SPEC_BODY + "\n" + SPEC_LOG_LINE + "\n" + SPEC_WITNESS_LINE + "\n")
    assert body == SPEC_BODY
    log_line, witness_line = lines
    assert log_line.name == "example.com/behind-the-sofa"
    cosig = cs.from_blob(witness_line.name, witness_line.blob)
    assert cosig.name == "witness.example.com/w1"
    assert cosig.timestamp == 1679315147  # the time of the spec's example message
    assert cosig.line() == SPEC_WITNESS_LINE + "\n"
    with pytest.raises(FormatError):  # the log's line is 68 bytes: no timestamp, no cosignature
        cs.from_blob(log_line.name, log_line.blob)


def test_transparency_dev_vkey() -> None:
    verifier = cs.parse_cosigner_vkey(TD_VKEY)
    assert verifier.name == "remora.n621.de"
    assert verifier.key_hash.hex() == "da77ade7"
    assert verifier.vkey == TD_VKEY


@pytest.mark.parametrize("vkey", TD_BAD_VKEYS)
def test_transparency_dev_bad_vkeys(vkey: str) -> None:
    with pytest.raises(FormatError):
        cs.parse_cosigner_vkey(vkey)


def test_a_log_key_is_no_witness_key() -> None:
    log_vkey = NoteSigner("log.example", keys.generate()).verifier.vkey
    with pytest.raises(FormatError, match="type 0x01"):
        cs.parse_cosigner_vkey(log_vkey)


def test_transparency_dev_timestamps() -> None:
    assert cs.from_blob("w", base64.b64decode(TD_COSIG)).timestamp == 1727964367
    with pytest.raises(FormatError):
        cs.from_blob("w", base64.b64decode(TD_NOT_COSIG))


def test_spec_request_parses_and_formats_back() -> None:
    request = protocol.parse_add_checkpoint(SPEC_REQUEST.encode())
    assert request.old_size == 20852014
    assert len(request.proof) == 4
    assert request.note.startswith(SPEC_BODY + "\n")
    assert request.to_body() == SPEC_REQUEST.encode()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 1\n",
        b"new 1\n\nx\n",
        b"old 01\n\nx\n",
        b"old -1\n\nx\n",
        b"old 1\nnot base64!\n\nx\n",
        b"old 1\nAAAA\n\nx\n",  # a hash of 3 bytes
        b"old 1\n" + (b"A" * 43 + b"=\n") * 64 + b"\nx\n",  # 64 proof lines
        b"\xff\n\n",
    ],
)
def test_bad_requests(body: bytes) -> None:
    with pytest.raises(protocol.BadRequest):
        protocol.parse_add_checkpoint(body)


def test_conflict_body_round_trip() -> None:
    assert protocol.parse_conflict_body(protocol.conflict_body(42)) == 42
    with pytest.raises(FormatError):
        protocol.parse_conflict_body(b"042\n")


def _signer(name: str = "witness.test/w1") -> cs.CosignatureSigner:
    return cs.CosignatureSigner(name, keys.generate())


def test_round_trip_and_vkey() -> None:
    signer = _signer()
    verifier = cs.parse_cosigner_vkey(signer.verifier.vkey)
    cosig = signer.cosign(SPEC_BODY, 1700000000)
    line = cs.parse_line(cosig.line().rstrip("\n"))
    assert cs.from_blob(line.name, line.blob) == cosig
    verifier.verify(cosig, SPEC_BODY)


def test_cosigned_note_still_opens_for_the_log() -> None:
    log = NoteSigner("log.test", keys.generate())
    note = log.sign(SPEC_BODY.replace("example.com/behind-the-sofa", "log.test"))
    body = note.split("\n\n")[0] + "\n"
    cosigned = cs.with_lines(note, [_signer().cosign(body, 1).line()])
    assert open_note(cosigned, log.verifier) == body
    assert cs.with_lines(cosigned, [cosigned.splitlines()[-1]]) == cosigned  # no duplicate lines


@given(st.integers(min_value=0, max_value=(1 << 63) - 1), st.sampled_from([0, 5, 20, 40, 75]))
def test_tampering_is_caught(timestamp: int, position: int) -> None:
    signer = _signer()
    cosig = signer.cosign(SPEC_BODY, timestamp)
    signer.verifier.verify(cosig, SPEC_BODY)
    with pytest.raises(cs.CosignatureError):
        signer.verifier.verify(cosig, SPEC_BODY.replace("20852163", "20852164"))
    blob = bytearray(cosig.blob())
    blob[position] ^= 1
    try:
        tampered = cs.from_blob(cosig.name, bytes(blob))
    except FormatError:
        return  # a timestamp past 2**63
    with pytest.raises(cs.CosignatureError):
        signer.verifier.verify(tampered, SPEC_BODY)


def test_a_key_serves_one_name() -> None:
    key = keys.generate()
    cosig = cs.CosignatureSigner("w1.test", key).cosign(SPEC_BODY, 7)
    other = cs.CosignatureVerifier("w2.test", key.public_key())
    with pytest.raises(cs.CosignatureError):
        other.verify(cosig, SPEC_BODY)


def test_cosignatures_by_picks_listed_witnesses() -> None:
    a, b, stranger = _signer("a.test"), _signer("b.test"), _signer("c.test")
    lines = [s.cosign(SPEC_BODY, 10).line().rstrip("\n") for s in (a, stranger)]
    lines.append(a.cosign(SPEC_BODY, 20).line().rstrip("\n"))
    found = cs.cosignatures_by([cs.parse_line(x) for x in lines], SPEC_BODY, [a.verifier, b.verifier])
    assert [(v.name, c.timestamp) for v, c in found] == [("a.test", 20)]
    forged = cs.Cosignature("b.test", b.verifier.key_hash, 10, bytes(64))
    with pytest.raises(cs.CosignatureError):
        cs.cosignatures_by([cs.parse_line(forged.line().rstrip("\n"))], SPEC_BODY, [b.verifier])


def test_a_note_carries_at_most_100_signatures() -> None:
    line = _signer().cosign(SPEC_BODY, 1).line()
    cs.split_note(SPEC_BODY + "\n" + line * 100)
    with pytest.raises(FormatError, match="at most 100"):
        cs.split_note(SPEC_BODY + "\n" + line * 101)
