"""The loaders' JSON: orjson underneath, the standard library's text and values on top (a record's hash
must not depend on which encoder made it)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from panro.jsoncodec import canonical_json, parse_json


def stdlib_canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)  # beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)  # exponent range included
    | st.sampled_from([1e-05, 8e-07, 1e16, 1.5e300, -0.0, 0.1, 12345.678, 2.0**64])
    | st.text()  # any code point: Hangul, NUL, controls, lone surrogates
)
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
)


@settings(max_examples=2000)
@given(JSON_VALUES)
def test_canonical_text_is_the_standard_librarys(value):
    assert canonical_json(value) == stdlib_canonical(value)


@settings(max_examples=1000)
@given(JSON_VALUES)
def test_parsing_reads_what_the_standard_library_reads(value):
    text = json.dumps(value)
    try:
        text.encode()
    except UnicodeEncodeError:  # lone surrogates as raw characters: not a UTF-8 answer
        return
    assert stdlib_canonical(parse_json(text.encode())) == stdlib_canonical(json.loads(text))


def test_integers_beyond_64_bits_are_read_exactly():
    value = parse_json(b'{"annual_revenue_krw": 123456789012345678901234, "n": -9223372036854775809}')
    assert value == {"annual_revenue_krw": 123456789012345678901234, "n": -9223372036854775809}
    assert canonical_json(value) == '{"annual_revenue_krw":123456789012345678901234,"n":-9223372036854775809}'


@pytest.mark.parametrize(
    "text",
    [b'{"score": NaN}', b'{"score": Infinity}', b'{"name": "\\ud800"}', b'{"a": 1', b"\xff\xfe"],
)
def test_what_no_loader_can_store_is_not_json(text):
    with pytest.raises(ValueError):
        parse_json(text)
