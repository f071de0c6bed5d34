"""Tests of chainproof.log.note: C2SP signed notes (Ed25519) and tlog checkpoints."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from chainproof.attest import keys
from chainproof.errors import FormatError, VerificationError
from chainproof.log import note
from chainproof.log.note import Checkpoint, NoteError, NoteSigner, NoteVerifier

# golang.org/x/mod/sumdb/note, note_test.go and example_test.go.
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"  # GenerateKey on a zero reader
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)
GO_NOTE = GO_TEXT + "\n" + PETER_SIG

ROOT = hashlib.sha256(b"some root").digest()
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _non_canonical(b64: str) -> str:
    """The same bytes with a spare bit of the last data symbol set: valid, but not canonical."""
    data = b64.rstrip("=")
    assert len(data) != len(b64), "only padded base64 has spare bits"
    variant = data[:-1] + _ALPHABET[_ALPHABET.index(data[-1]) | 1] + b64[len(data) :]
    assert variant != b64
    assert base64.b64decode(variant, validate=True) == base64.b64decode(b64)
    return variant


def _go_signer() -> NoteSigner:
    raw = base64.b64decode(GO_SIGNER_KEY.split("+", 4)[4])
    assert raw[0] == 0x01
    return NoteSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(raw[1:]))


@pytest.fixture(scope="module")
def signer() -> NoteSigner:
    return NoteSigner("example.com/log", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


# --- the Go known-answer vectors ------------------------------------------------------------------


def test_go_vector_opens() -> None:
    verifier = note.parse_vkey(PETER_VKEY)
    assert verifier.name == "PeterNeumann"
    assert verifier.key_hash.hex() == "c74f20a3"
    assert note.open_note(GO_NOTE, verifier) == GO_TEXT


def test_go_vector_signs_identically() -> None:
    """Ed25519 is deterministic: signing Go's text with Go's key gives Go's note, byte for byte."""
    signer = _go_signer()
    assert signer.verifier.vkey == PETER_VKEY
    assert signer.sign(GO_TEXT) == GO_NOTE


def test_go_doubly_signed_vector() -> None:
    zero_seed = NoteSigner("EnochRoot", Ed25519PrivateKey.from_private_bytes(bytes(32)))
    assert zero_seed.verifier.vkey == ENOCH_VKEY
    assert zero_seed.sign(GO_TEXT) == GO_TEXT + "\n" + ENOCH_SIG
    both = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert note.open_note(both, note.parse_vkey(PETER_VKEY)) == GO_TEXT
    assert note.open_note(both, note.parse_vkey(ENOCH_VKEY)) == GO_TEXT
    # Signed by the other signer only: rejected, and the error says whose signature is missing.
    with pytest.raises(NoteError, match="no signature by PeterNeumann"):
        note.open_note(GO_TEXT + "\n" + ENOCH_SIG, note.parse_vkey(PETER_VKEY))


# --- verifier keys --------------------------------------------------------------------------------


def test_vkey_format_and_key_hash(signer: NoteSigner) -> None:
    pub = keys.public_raw(signer.private_key.public_key())
    expected_hash = hashlib.sha256(b"example.com/log\n\x01" + pub).digest()[:4]
    assert note.key_hash("example.com/log", pub) == expected_hash
    name, hash_hex, b64 = signer.verifier.vkey.split("+", 2)
    assert name == "example.com/log"
    assert hash_hex == expected_hash.hex()
    assert len(hash_hex) == 8
    assert base64.b64decode(b64, validate=True) == b"\x01" + pub
    parsed = note.parse_vkey(signer.verifier.vkey)
    assert parsed.name == signer.name
    assert keys.public_raw(parsed.public_key) == pub
    assert parsed.vkey == signer.verifier.vkey


def test_vkey_hash_hex_is_case_insensitive() -> None:
    name, hash_hex, b64 = PETER_VKEY.split("+", 2)
    assert note.parse_vkey(f"{name}+{hash_hex.upper()}+{b64}").key_hash.hex() == hash_hex


_PETER_RAW = base64.b64decode(PETER_VKEY.split("+", 2)[2])
_NON_CANONICAL_34 = _non_canonical(base64.b64encode(_PETER_RAW + b"\x00").decode())


@pytest.mark.parametrize(
    ("vkey", "match"),
    [
        ("PeterNeumann", "NAME\\+HASH\\+BASE64"),
        ("PeterNeumann+c74f20a3", "NAME\\+HASH\\+BASE64"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "non-empty"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "without spaces"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "hash does not match"),
        ("PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "hash does not match"),
        ("PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "type 0x01"),
        ("PeterNeumann+c74f20a3+" + base64.b64encode(_PETER_RAW[1:]).decode(), "type 0x01"),
        ("PeterNeumann+c74f20a3+" + base64.b64encode(_PETER_RAW + b"\x00").decode(), "type 0x01"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX", "hash does not match"),
        ("PeterNeumann+c74f20a3+" + _NON_CANONICAL_34, "canonical base64"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "not valid base64"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T!", "not valid base64"),
    ],
)
def test_parse_vkey_rejects(vkey: str, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        note.parse_vkey(vkey)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "new\nline"])
def test_signer_rejects_bad_names(name: str) -> None:
    with pytest.raises(FormatError, match="note key name"):
        NoteSigner(name, Ed25519PrivateKey.generate())


# --- sign and open ------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    lines=st.lists(st.text(st.characters(min_codepoint=0x20, max_codepoint=0xD7FF), max_size=40), max_size=6)
)
def test_sign_open_round_trip(lines: list[str]) -> None:
    signer = NoteSigner("rt", Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32))
    body = "".join(line + "\n" for line in lines) or "x\n"
    signed = signer.sign(body)
    assert signed.startswith(body + "\n— rt ")
    assert signed.endswith("\n")
    assert note.open_note(signed, signer.verifier) == body


def test_sign_rejects_bodies_that_cannot_be_notes(signer: NoteSigner) -> None:
    with pytest.raises(FormatError, match="end with a newline"):
        signer.sign("no newline")
    with pytest.raises(FormatError, match="control characters"):
        signer.sign("a\tb\n")


def test_open_rejects_a_wrong_key_with_the_same_name(signer: NoteSigner) -> None:
    signed = signer.sign("hello\n")
    impostor = NoteVerifier(signer.name, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(NoteError, match=r"no signature by example\.com/log"):
        note.open_note(signed, impostor)


def test_open_rejects_a_bad_signature_with_the_right_key_hash(signer: NoteSigner) -> None:
    signed = signer.sign("hello\n")
    body, _, line = signed[:-1].rpartition("\n")
    blob = bytearray(base64.b64decode(line.rsplit(" ", 1)[1]))
    blob[10] ^= 0x01  # inside the Ed25519 signature, after the 4-byte key hash
    forged = f"{body}\n— {signer.name} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(NoteError, match="does not verify"):
        note.open_note(forged, signer.verifier)


def test_open_rejects_a_signature_for_another_text(signer: NoteSigner) -> None:
    signed = signer.sign("hello\n")
    with pytest.raises(NoteError, match="does not verify"):
        note.open_note("hellp\n" + signed[len("hello\n") :], signer.verifier)


def test_every_single_bit_flip_anywhere_in_a_note_is_rejected(signer: NoteSigner) -> None:
    signed = signer.sign("o\n1\nAA==\n").encode("utf-8")
    assert note.open_note(signed.decode(), signer.verifier) == "o\n1\nAA==\n"
    for position in range(len(signed)):
        for bit in range(8):
            tampered = bytearray(signed)
            tampered[position] ^= 1 << bit
            # As the CLI reads notes: undecodable bytes become U+FFFD.
            text = bytes(tampered).decode("utf-8", errors="replace")
            with pytest.raises(VerificationError):
                note.open_note(text, signer.verifier)


def test_open_rejects_non_canonical_signature_base64(signer: NoteSigner) -> None:
    signed = signer.sign("hello\n")
    b64 = signed[:-1].rsplit(" ", 1)[1]
    variant = _non_canonical(b64)  # 68 bytes: the last symbol has 2 spare bits
    with pytest.raises(NoteError, match="canonical base64"):
        note.open_note(signed.replace(b64, variant), signer.verifier)
    with pytest.raises(NoteError, match="not valid base64"):
        note.open_note(signed.replace(b64, b64.rstrip("=")), signer.verifier)


def test_open_rejects_a_missing_blank_line(signer: NoteSigner) -> None:
    signed = signer.sign("hello\n")
    with pytest.raises(NoteError, match="no blank line"):
        note.open_note(signed.replace("\n\n", "\n"), signer.verifier)


def test_open_rejects_a_missing_final_newline(signer: NoteSigner) -> None:
    signed = signer.sign("hello\n")
    with pytest.raises(NoteError, match="must end with a newline"):
        note.open_note(signed[:-1], signer.verifier)


def test_open_rejects_malformed_signature_lines(signer: NoteSigner) -> None:
    signed = signer.sign("hello\n")
    sig_line = signed.split("\n\n", 1)[1]
    foreign = base64.b64encode(bytes(68)).decode()
    # A name with a space or a '+' is malformed even for a key the verifier does not know.
    bad_lines = ["- example.com/log AAAA\n", "— \n", "— nameonly\n", "— AAAAAAAA\n"]
    bad_lines += [f"— other+log {foreign}\n", f"—  other {foreign}\n"]
    with pytest.raises(NoteError, match="not valid base64"):  # read as name "other", then "log ..."
        note.open_note("hello\n\n" + sig_line + f"— other log {foreign}\n", signer.verifier)
    for bad in bad_lines:
        with pytest.raises(NoteError, match="malformed signature line"):
            note.open_note("hello\n\n" + sig_line + bad, signer.verifier)
    with pytest.raises(NoteError, match="too short"):
        note.open_note("hello\n\n" + sig_line + "— other AAAA\n", signer.verifier)


def test_open_ignores_unknown_signers(signer: NoteSigner) -> None:
    signed = signer.sign("hello\n")
    other = NoteSigner("other", Ed25519PrivateKey.generate()).sign("hello\n").split("\n\n", 1)[1]
    assert note.open_note(signed + other, signer.verifier) == "hello\n"
    assert note.open_note("hello\n\n" + other + signed.split("\n\n", 1)[1], signer.verifier) == "hello\n"
    with pytest.raises(NoteError, match=r"no signature by example\.com/log"):
        note.open_note("hello\n\n" + other, signer.verifier)


def test_open_limits_the_number_of_signatures(signer: NoteSigner) -> None:
    signed = signer.sign("hello\n")
    own = signed.split("\n\n", 1)[1]
    foreign = "— other " + base64.b64encode(bytes(68)).decode() + "\n"
    assert note.open_note("hello\n\n" + foreign * 99 + own, signer.verifier) == "hello\n"
    with pytest.raises(NoteError, match="more than 100 signatures"):
        note.open_note("hello\n\n" + foreign * 100 + own, signer.verifier)


def test_open_rejects_control_characters_in_the_body(signer: NoteSigner) -> None:
    signed = signer.sign("hello\n")
    with pytest.raises(FormatError, match="control characters"):
        note.open_note("hel\rlo\n" + signed[len("hello\n") :], signer.verifier)
    foreign = "— oth\x00er " + base64.b64encode(bytes(68)).decode() + "\n"
    with pytest.raises(NoteError, match="control characters"):
        note.open_note(signed + foreign, signer.verifier)


def test_every_signature_by_the_key_must_verify(signer: NoteSigner) -> None:
    """The spec says a client should reject a note when a signature from a known key fails."""
    signed = signer.sign("hello\n")
    own = signed.split("\n\n", 1)[1]
    blob = bytearray(base64.b64decode(own.split()[-1]))
    blob[-1] ^= 0x01
    forged = f"— {signer.name} {base64.b64encode(bytes(blob)).decode()}\n"
    assert note.open_note(signed + own, signer.verifier) == "hello\n"
    for text in (signed + forged, "hello\n\n" + forged + own):
        with pytest.raises(NoteError, match="does not verify"):
            note.open_note(text, signer.verifier)


# --- checkpoints ----------------------------------------------------------------------------------


def test_checkpoint_body_format() -> None:
    cp = Checkpoint("example.com/log", 42, ROOT)
    assert cp.body() == f"example.com/log\n42\n{base64.b64encode(ROOT).decode()}\n"
    with_ext = Checkpoint("o", 0, ROOT, ("ext one", "ext two"))
    assert with_ext.body() == f"o\n0\n{base64.b64encode(ROOT).decode()}\next one\next two\n"


@given(
    origin=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30),
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1), max_size=3
    ),
)
def test_checkpoint_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    cp = Checkpoint(origin, size, root, tuple(extensions))
    assert note.parse_checkpoint(cp.body()) == cp


def test_signed_checkpoint_round_trip(signer: NoteSigner) -> None:
    cp = Checkpoint("example.com/log", 7, ROOT)
    assert note.verify_checkpoint(signer.sign(cp.body()), signer.verifier) == cp


_R = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (f"o\n1\n{_R}", "own line"),
        ("o\n1\n", "own line"),
        (f"\n1\n{_R}\n", "origin is empty"),
        (f"o\n01\n{_R}\n", "not a decimal"),
        (f"o\n00\n{_R}\n", "not a decimal"),
        (f"o\n+1\n{_R}\n", "not a decimal"),
        (f"o\n-1\n{_R}\n", "not a decimal"),
        (f"o\n 1\n{_R}\n", "not a decimal"),
        (f"o\n1.0\n{_R}\n", "not a decimal"),
        (f"o\n\n{_R}\n", "not a decimal"),
        (f"o\n\u0661\n{_R}\n", "not a decimal"),  # ARABIC-INDIC DIGIT ONE
        (f"o\n{2**64}\n{_R}\n", "not below 2"),  # sizes are 64-bit
        (f"o\n{'9' * 5_000}\n{_R}\n", "not below 2"),  # more digits than Python reads
        (f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n", "31 bytes"),
        (f"o\n1\n{base64.b64encode(ROOT + b'x').decode()}\n", "33 bytes"),
        (f"o\n1\n{ROOT.hex()}\n", "root hash"),
        (f"o\n1\n{_R.rstrip('=')}\n", "not valid base64"),
        (f"o\n1\n{_R}\n\n", "extension line is empty"),
        (f"o\n1\n{_R}\next\n\n", "extension line is empty"),
    ],
)
def test_parse_checkpoint_rejects(body: str, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        note.parse_checkpoint(body)


def test_parse_checkpoint_rejects_a_non_canonical_root() -> None:
    variant = _non_canonical(_R)  # 32 bytes -> 43 symbols + "=": 2 spare bits
    with pytest.raises(FormatError, match="canonical base64"):
        note.parse_checkpoint(f"o\n1\n{variant}\n")


def test_parse_checkpoint_keeps_extension_lines() -> None:
    cp = note.parse_checkpoint(f"o\n0\n{_R}\n— not a signature\nx\n")
    assert cp == Checkpoint("o", 0, ROOT, ("— not a signature", "x"))
    assert note.parse_checkpoint(f"o\n18446744073709551615\n{_R}\n").size == 2**64 - 1
