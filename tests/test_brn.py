"""Business registration number (사업자등록번호) and corporate number check digits."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from panro.brn import (
    brn_check_digit,
    corporate_no_check_digit,
    format_brn,
    is_valid_brn,
    is_valid_corporate_no,
    make_brn,
    make_corporate_no,
    normalize_brn,
)

VALID = ["1208147521", "1168200276", "1348672683", "1078153660"]


@pytest.mark.parametrize("brn", VALID)
def test_published_vectors_are_valid(brn: str) -> None:
    assert is_valid_brn(brn)
    assert brn_check_digit(brn[:9]) == int(brn[9])


def test_wrong_check_digit_is_invalid() -> None:
    assert not is_valid_brn("1208147522")
    assert brn_check_digit("120814752") == 1


@pytest.mark.parametrize(
    "raw",
    [
        "120-81-47521",
        "1208147521",
        "120 81 47521",
        " 120-81-47521 ",
        "120.81.47521",
        "120 - 81 - 47521",
        "120\u201381\u201347521",
        "120\u00a081\u00a047521",
        "\t1208147521\n",
    ],
)
def test_normalize_accepts_the_typed_forms(raw: str) -> None:
    assert normalize_brn(raw) == "1208147521"
    assert is_valid_brn(raw)
    assert format_brn(raw) == "120-81-47521"


@pytest.mark.parametrize(
    "raw", [None, "", "120-81-4752", "120-81-475211", "12O8147521", "120/81/47521", "١٢٠٨١٤٧٥٢١", 1208147521]
)
def test_normalize_rejects_anything_but_ten_digits(raw) -> None:
    assert normalize_brn(raw) is None
    assert not is_valid_brn(raw)


def test_format_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        format_brn("12-34")


def test_check_digit_needs_nine_digits() -> None:
    with pytest.raises(ValueError):
        brn_check_digit("12345678")
    with pytest.raises(ValueError):
        brn_check_digit("12345678a")


@given(st.integers(min_value=0, max_value=2**63), st.booleans())
def test_make_brn_is_always_valid_and_in_range(seed: int, individual: bool) -> None:
    brn = make_brn(random.Random(seed), individual)
    assert len(brn) == 10 and brn.isdigit()
    assert is_valid_brn(brn)
    assert 101 <= int(brn[:3]) <= 999
    kind = int(brn[3:5])
    if individual:
        assert 1 <= kind <= 79
    else:
        assert brn[3:5] in {"81", "86", "87", "88"}
    assert 1 <= int(brn[5:9]) <= 9999


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_exactly_one_check_digit_fits(first9: str) -> None:
    fits = [c for c in range(10) if is_valid_brn(f"{first9}{c}")]
    assert fits == [brn_check_digit(first9)]


def test_corporate_number_vector() -> None:
    assert is_valid_corporate_no("1301110006246")
    assert is_valid_corporate_no("130111-0006246")
    assert corporate_no_check_digit("130111000624") == 6
    assert not is_valid_corporate_no("1301110006247")
    assert not is_valid_corporate_no(None)


@given(st.integers(min_value=0, max_value=2**63))
def test_make_corporate_no_is_valid(seed: int) -> None:
    number = make_corporate_no(random.Random(seed))
    assert len(number) == 13 and number.isdigit()
    assert is_valid_corporate_no(number)
