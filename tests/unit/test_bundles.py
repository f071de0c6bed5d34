"""Entry bundles: the stored form of 256 entries, and what a damaged one looks like."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainproof.log import bundles
from chainproof.log.bundles import BundleError

ENTRIES = st.lists(st.binary(max_size=300), min_size=1, max_size=bundles.WIDTH)


@given(ENTRIES)
def test_a_bundle_decodes_to_the_entries_it_was_encoded_from(entries: list[bytes]) -> None:
    ends, body = bundles.encode(entries)
    assert body == b"".join(entries)
    assert len(ends) == 4 * len(entries)
    assert bundles.decode(ends, body, len(entries)) == entries


def test_the_offsets_are_big_endian_32_bit_ends() -> None:
    ends, body = bundles.encode([b"ab", b"", b"cde"])
    assert ends == bytes.fromhex("00000002 00000002 00000005")
    assert body == b"abcde"


def test_a_bundle_holds_at_most_256_entries() -> None:
    with pytest.raises(ValueError, match="at most 256"):
        bundles.encode([b"x"] * (bundles.WIDTH + 1))


@given(ENTRIES, st.data())
def test_a_body_of_another_length_is_damage(entries: list[bytes], data: st.DataObject) -> None:
    ends, body = bundles.encode(entries)
    other = data.draw(st.binary(max_size=len(body) + 5).filter(lambda b: len(b) != len(body)))
    with pytest.raises(BundleError, match="its entries end at byte"):
        bundles.decode(ends, other, len(entries))


@given(ENTRIES, st.integers(-3, 3).filter(bool))
def test_a_width_that_disagrees_with_the_offsets_is_damage(entries: list[bytes], delta: int) -> None:
    ends, body = bundles.encode(entries)
    with pytest.raises(BundleError, match="bytes of offsets for"):
        bundles.decode(ends, body, len(entries) + delta)
    with pytest.raises(BundleError, match="bytes of offsets for"):
        bundles.decode(ends[:-1], body, len(entries))


def test_offsets_that_go_backwards_are_damage() -> None:
    ends = struct.pack(">3I", 4, 2, 5)
    with pytest.raises(BundleError, match="go backwards"):
        bundles.decode(ends, b"abcde", 3)


def test_an_empty_bundle_is_damage() -> None:
    with pytest.raises(BundleError):
        bundles.decode(b"", b"", 0)
