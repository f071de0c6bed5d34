"""Our JCS fast path writes exactly what the `rfc8785` reference writes, or refuses as it does."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from chainproof.attest import jcs

# Every kind of character that JCS treats specially: controls, quotes, backslashes, DEL, the line
# separators JavaScript escapes elsewhere, astral characters (surrogate pairs in UTF-16 key order),
# and lone surrogates (which have no UTF-8 form).
special = ["\x00", "\x1f", '"', "\\", "\x7f", "\u2028", "\ue000", "😀"]
chars = st.characters(codec=None) | st.sampled_from(special)
texts = st.text(chars, max_size=8)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


def reference(value: Any) -> bytes | None:
    try:
        result: bytes = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return None
    return result


@settings(max_examples=500)
@given(values)
def test_the_fast_path_is_rfc8785(value: Any) -> None:
    expected = reference(value)
    if expected is None:
        with pytest.raises((rfc8785.CanonicalizationError, UnicodeEncodeError)):
            jcs.dumps(value)
    else:
        assert jcs.dumps(value) == expected


def test_known_answers() -> None:
    assert (
        jcs.dumps({"b": [1, True, None], "a": "é\n\x01"}) == b'{"a":"\xc3\xa9\\n\\u0001","b":[1,true,null]}'
    )
    assert jcs.dumps({"\ue000": 1, "😀": 2}) == rfc8785.dumps({"\ue000": 1, "😀": 2})  # UTF-16 order
    assert jcs.dumps({"x": 1e21}) == b'{"x":1e+21}'
    with pytest.raises(rfc8785.CanonicalizationError):
        jcs.dumps({"x": 2**53})
