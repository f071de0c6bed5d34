"""Entry bundles: the stored form of 256 entries, and what a damaged one looks like."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainproof.log import bundles
from chainproof.log.bundles import Bundle, BundleError

ENTRIES = st.lists(st.binary(max_size=300), min_size=1, max_size=bundles.WIDTH)
LARGE = b"L" * bundles.LARGE


@given(ENTRIES)
def test_a_bundle_decodes_to_the_entries_it_was_encoded_from(entries: list[bytes]) -> None:
    bundle = bundles.encode(entries)
    assert bundle.body == b"".join(entries)
    assert len(bundle.ends) == 4 * len(entries)
    assert bundle.outside == b""
    assert bundles.decode(bundle, len(entries)) == entries


def test_the_offsets_are_big_endian_32_bit_ends() -> None:
    assert bundles.encode([b"ab", b"", b"cde"]) == Bundle(
        bytes.fromhex("00000002 00000002 00000005"), b"abcde", b""
    )


@given(
    st.lists(st.sampled_from([b"", b"small", LARGE[:-1], LARGE, None]), min_size=1, max_size=bundles.WIDTH)
)
def test_large_entries_and_those_already_outside_take_no_bytes_in_the_body(
    entries: list[bytes | None],
) -> None:
    bundle = bundles.encode(entries)
    outside = [p for p, e in enumerate(entries) if e is None or len(e) >= bundles.LARGE]
    assert list(bundle.outside) == outside
    assert bundle.body == b"".join(e for p, e in enumerate(entries) if p not in outside and e is not None)
    assert bundles.decode(bundle, len(entries)) == [
        None if p in outside else e for p, e in enumerate(entries)
    ]
    assert len(bundle.body) < bundles.LARGE * bundles.WIDTH


def test_a_bundle_holds_at_most_256_entries() -> None:
    with pytest.raises(ValueError, match="at most 256"):
        bundles.encode([b"x"] * (bundles.WIDTH + 1))


@given(ENTRIES, st.data())
def test_a_body_of_another_length_is_damage(entries: list[bytes], data: st.DataObject) -> None:
    bundle = bundles.encode(entries)
    other = data.draw(st.binary(max_size=len(bundle.body) + 5).filter(lambda b: len(b) != len(bundle.body)))
    with pytest.raises(BundleError, match="its entries end at byte"):
        bundles.decode(bundle._replace(body=other), len(entries))


@given(ENTRIES, st.integers(-3, 3).filter(bool))
def test_a_width_that_disagrees_with_the_offsets_is_damage(entries: list[bytes], delta: int) -> None:
    bundle = bundles.encode(entries)
    with pytest.raises(BundleError, match="bytes of offsets for"):
        bundles.decode(bundle, len(entries) + delta)
    with pytest.raises(BundleError, match="bytes of offsets for"):
        bundles.decode(bundle._replace(ends=bundle.ends[:-1]), len(entries))


def test_offsets_that_go_backwards_are_damage() -> None:
    with pytest.raises(BundleError, match="go backwards"):
        bundles.decode(Bundle(struct.pack(">3I", 4, 2, 5), b"abcde", b""), 3)


@pytest.mark.parametrize(
    ("outside", "message"),
    [
        (b"\x01\x01", "out of order"),
        (b"\x02\x01", "out of order"),
        (b"\x03", "out of order or past 3"),
        (b"\x00", "entry 0 is kept outside but has bytes in the body"),
    ],
)
def test_positions_kept_outside_that_do_not_fit_are_damage(outside: bytes, message: str) -> None:
    bundle = bundles.encode([b"a", None, None])
    with pytest.raises(BundleError, match=message):
        bundles.decode(bundle._replace(outside=outside), 3)


def test_an_empty_bundle_is_damage() -> None:
    with pytest.raises(BundleError):
        bundles.decode(Bundle(b"", b"", b""), 0)
